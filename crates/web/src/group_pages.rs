//! Pages to start a working group and, for its moderators, to change its
//! settings, appoint moderators and ban people; and the admins' page for
//! accounts (approve, suspend) and blocked nodes. Forms only, no JavaScript.

use crate::auth::CheckedForm;
use crate::{
    AppState,
    auth::{self, MaybeSession, Viewer},
    error::{ApiError, PageError, PageResult},
    group_moderation,
    pages::render,
    thread_pages::signed_in,
};
use askama::Template;
use axum::{
    Router,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::cookie::CookieJar;
use healthcommons_core::{ErrorKind, text};
use healthcommons_db::{entities::group_settings, queries};
use healthcommons_service::{
    accounts::{self, Account, Role},
    groups, node,
};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/groups/new", get(new_group_form))
        .route("/groups", post(create_group))
        .route("/g/{name}/settings", get(settings_page).post(save_settings))
        .route("/g/{name}/settings/moderators", post(change_moderators))
        .route("/g/{name}/settings/bans", post(change_bans))
        .route("/admin/accounts", get(accounts_page))
        .route("/admin/accounts/{name}", post(change_account))
        .route("/admin/nodes", post(change_node_block))
}

/// The group form as submitted, and as shown again.
#[derive(Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    topics: String,
    #[serde(default)]
    posting_policy: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    manually_approves_followers: Option<String>,
    #[serde(default)]
    announce_replies: Option<String>,
    #[serde(default)]
    list_followers: Option<String>,
    #[serde(default)]
    rules: String,
    #[serde(default)]
    place_name: String,
    #[serde(default)]
    place_address: String,
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
    #[serde(default)]
    icon_url: String,
}

/// What the form's fields show.
struct FormView {
    name: String,
    display_name: String,
    summary: String,
    topics: String,
    posting_policy: String,
    visibility: String,
    manually_approves_followers: bool,
    announce_replies: bool,
    list_followers: bool,
    rules: String,
    place_name: String,
    place_address: String,
    latitude: String,
    longitude: String,
    icon_url: String,
}

impl From<&GroupForm> for FormView {
    fn from(form: &GroupForm) -> Self {
        FormView {
            name: form.name.clone(),
            display_name: form.display_name.clone(),
            summary: form.summary.clone(),
            topics: form.topics.clone(),
            posting_policy: form.posting_policy.clone(),
            visibility: form.visibility.clone(),
            manually_approves_followers: form.manually_approves_followers.is_some(),
            announce_replies: form.announce_replies.is_some(),
            list_followers: form.list_followers.is_some(),
            rules: form.rules.clone(),
            place_name: form.place_name.clone(),
            place_address: form.place_address.clone(),
            latitude: form.latitude.clone(),
            longitude: form.longitude.clone(),
            icon_url: form.icon_url.clone(),
        }
    }
}

impl FormView {
    fn of_settings(settings: &group_settings::Model) -> Self {
        let number = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
        FormView {
            name: String::new(),
            display_name: String::new(),
            summary: String::new(),
            topics: groups::topics(settings).join(" "),
            posting_policy: settings.posting_policy.as_str().to_owned(),
            visibility: settings.visibility.as_str().to_owned(),
            manually_approves_followers: false,
            announce_replies: settings.announce_replies,
            list_followers: settings.list_followers,
            // Rules are kept as HTML; their text is what the form edits.
            rules: settings
                .rules_html
                .as_deref()
                .map(text::html_to_text)
                .unwrap_or_default(),
            place_name: settings.place_name.clone().unwrap_or_default(),
            place_address: settings.place_address.clone().unwrap_or_default(),
            latitude: number(settings.latitude),
            longitude: number(settings.longitude),
            icon_url: settings.icon_url.clone().unwrap_or_default(),
        }
    }
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Validation, message)
}

/// A latitude or longitude typed into a form; empty means none.
pub(crate) fn coordinate(raw: &str, what: &str) -> Result<Option<f64>, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| validation(format!("{what} is a number, e.g. 52.37")))
}

impl GroupForm {
    fn settings(&self) -> Result<groups::Settings<'_>, ApiError> {
        let topics = self
            .topics
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(groups::Settings {
            posting_policy: Some(self.posting_policy.as_str()).filter(|p| !p.is_empty()),
            visibility: Some(self.visibility.as_str()).filter(|v| !v.is_empty()),
            announce_replies: Some(self.announce_replies.is_some()),
            list_followers: Some(self.list_followers.is_some()),
            rules: Some(&self.rules),
            topics: Some(topics),
            place: Some(node::Place {
                name: self.place_name.clone(),
                address: Some(self.place_address.clone()),
                latitude: coordinate(&self.latitude, "latitude")?,
                longitude: coordinate(&self.longitude, "longitude")?,
            }),
            icon_url: Some(&self.icon_url),
        })
    }
}

#[derive(Template)]
#[template(path = "group_new.html")]
struct NewGroupPage {
    viewer: Option<Viewer>,
    csrf: String,
    form: FormView,
    error: String,
}

async fn new_group_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    signed_in(&session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let form = FormView::of_settings(&groups::default_settings(0));
    let page = render(NewGroupPage {
        viewer: session.viewer(),
        csrf,
        form,
        error: String::new(),
    })?;
    Ok((jar, page).into_response())
}

async fn create_group(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<GroupForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let created = match form.settings() {
        Ok(settings) => state
            .processor
            .groups()
            .create(
                &account,
                groups::NewGroup {
                    name: &form.name,
                    display_name: &form.display_name,
                    summary: &form.summary,
                    manually_approves_followers: form.manually_approves_followers.is_some(),
                    settings,
                },
            )
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match created {
        Ok(group) => Ok(Redirect::to(&format!("/g/{}", group.username)).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::Conflict) => {
            let page = render(NewGroupPage {
                viewer: session.viewer(),
                csrf: form.csrf.clone(),
                form: FormView::from(&form),
                error: err.message,
            })?;
            Ok(page.into_response())
        }
        Err(err) => Err(err.into()),
    }
}

struct BanLine {
    person: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "group_settings.html")]
struct SettingsPage {
    viewer: Option<Viewer>,
    csrf: String,
    name: String,
    display_name: String,
    form: FormView,
    moderators: Vec<String>,
    bans: Vec<BanLine>,
    notice: String,
    error: String,
}

/// What the settings page shows besides what is stored: the outcome of the
/// last action, and after a refused change the form as it was sent.
#[derive(Default)]
struct Shown {
    notice: String,
    error: String,
    posted: Option<FormView>,
}

async fn render_settings(
    state: &AppState,
    session: &MaybeSession,
    account: &Account,
    csrf: String,
    name: &str,
    shown: Shown,
) -> PageResult<Response> {
    let Shown {
        notice,
        error,
        posted,
    } = shown;
    let group = state.processor.groups().moderated(account, name).await?;
    let view = state.processor.groups().view_of(group.clone()).await?;
    let bans = state.processor.groups().bans(&group).await?;
    // After a refused change, the form shows what was sent, not what is stored.
    let form = posted.unwrap_or_else(|| {
        let settings = view
            .settings
            .clone()
            .unwrap_or_else(|| groups::default_settings(group.id));
        FormView {
            display_name: group.display_name.clone().unwrap_or_default(),
            summary: group
                .summary_html
                .as_deref()
                .map(text::html_to_text)
                .unwrap_or_default(),
            ..FormView::of_settings(&settings)
        }
    });
    let page = render(SettingsPage {
        viewer: session.viewer(),
        csrf,
        display_name: group
            .display_name
            .clone()
            .unwrap_or_else(|| group.username.clone()),
        name: group.username.clone(),
        form,
        moderators: view
            .moderators
            .iter()
            .map(healthcommons_db::entities::actor::Model::handle)
            .collect(),
        bans: bans
            .iter()
            .map(|(ban, person)| BanLine {
                person: person.handle(),
                reason: ban.reason.clone().unwrap_or_default(),
            })
            .collect(),
        notice,
        error,
    })?;
    Ok(page.into_response())
}

async fn settings_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(name): Path<String>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render_settings(&state, &session, &account, csrf, &name, Shown::default()).await?;
    Ok((jar, page).into_response())
}

/// Show the settings page again with what an action came to; refused
/// changes keep what was `posted`.
async fn after_action(
    state: &AppState,
    session: &MaybeSession,
    account: &Account,
    csrf: String,
    name: &str,
    done: Result<&str, ApiError>,
    posted: Option<FormView>,
) -> PageResult<Response> {
    match done {
        Ok(notice) => {
            match render_settings(
                state,
                session,
                account,
                csrf,
                name,
                Shown {
                    notice: notice.into(),
                    ..Shown::default()
                },
            )
            .await
            {
                // Someone who just stopped moderating goes back to the group.
                Err(PageError(err)) if err.kind == ErrorKind::Forbidden => {
                    Ok(Redirect::to(&format!("/g/{name}")).into_response())
                }
                page => page,
            }
        }
        Err(err)
            if matches!(
                err.kind,
                ErrorKind::Validation | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Federation
            ) =>
        {
            render_settings(
                state,
                session,
                account,
                csrf,
                name,
                Shown {
                    error: err.message,
                    posted,
                    ..Shown::default()
                },
            )
            .await
        }
        Err(err) => Err(PageError(err)),
    }
}

async fn save_settings(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<GroupForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let done = match form.settings() {
        Ok(settings) => {
            let changes = groups::GroupChanges {
                display_name: Some(&form.display_name),
                summary: Some(&form.summary),
                settings,
            };
            state
                .processor
                .groups()
                .update(&account, &name, &changes)
                .await
                .map(|_| "Settings saved.")
                .map_err(ApiError::from)
        }
        Err(err) => Err(err),
    };
    let posted = Some(FormView::from(&form));
    after_action(&state, &session, &account, form.csrf.clone(), &name, done, posted).await
}

#[derive(Deserialize)]
struct PersonForm {
    csrf: String,
    person: String,
    #[serde(default)]
    reason: String,
    /// `add`/`remove` for moderators, `ban`/`lift` for bans.
    action: String,
}

async fn change_moderators(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<PersonForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let done = match form.action.as_str() {
        "add" => group_moderation::set_moderator(&state, &account, &name, &form.person, true)
            .await
            .map(|_| "Moderator added."),
        "remove" => group_moderation::set_moderator(&state, &account, &name, &form.person, false)
            .await
            .map(|_| "Moderator removed."),
        _ => Err(ApiError::new(ErrorKind::Validation, "unknown action")),
    };
    after_action(&state, &session, &account, form.csrf.clone(), &name, done, None).await
}

async fn change_bans(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<PersonForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let reason = Some(form.reason.as_str()).filter(|r| !r.trim().is_empty());
    let done = match form.action.as_str() {
        "ban" => group_moderation::set_ban(&state, &account, &name, &form.person, true, reason)
            .await
            .map(|_| "Banned."),
        "lift" => group_moderation::set_ban(&state, &account, &name, &form.person, false, None)
            .await
            .map(|_| "Ban lifted."),
        _ => Err(ApiError::new(ErrorKind::Validation, "unknown action")),
    };
    after_action(&state, &session, &account, form.csrf.clone(), &name, done, None).await
}

struct AccountLine {
    username: String,
    role: String,
    state: String,
}

#[derive(Template)]
#[template(path = "admin_accounts.html")]
struct AccountsPage {
    viewer: Option<Viewer>,
    csrf: String,
    accounts: Vec<AccountLine>,
    blocked: Vec<String>,
    error: String,
}

pub(crate) fn admin(session: &MaybeSession) -> PageResult<Account> {
    let account = signed_in(session)?;
    if account.role() != Role::Admin {
        return Err(PageError(ApiError::new(
            ErrorKind::Forbidden,
            "only admins may do this",
        )));
    }
    Ok(account)
}

async fn render_accounts(
    state: &AppState,
    session: &MaybeSession,
    csrf: String,
    error: String,
) -> PageResult<Response> {
    let accounts = queries::users::all(state.db())
        .await?
        .iter()
        .map(|user| AccountLine {
            username: user.username.clone(),
            role: user.role.to_string(),
            state: accounts::standing(user).to_owned(),
        })
        .collect();
    let blocked = queries::peers::all(state.db())
        .await?
        .into_iter()
        .filter(|p| p.blocked)
        .map(|p| p.host)
        .collect();
    Ok(render(AccountsPage {
        viewer: session.viewer(),
        csrf,
        accounts,
        blocked,
        error,
    })?
    .into_response())
}

async fn accounts_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    admin(&session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render_accounts(&state, &session, csrf, String::new()).await?;
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    action: String,
    #[serde(default)]
    host: String,
}

async fn change_account(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<ActionForm>,
) -> PageResult<Response> {
    let account = admin(&session)?;
    let done = match form.action.as_str() {
        "approve" => accounts::approve(state.db(), &name).await,
        "suspend" => accounts::set_suspended(state.db(), &account, &name, true).await,
        "unsuspend" => accounts::set_suspended(state.db(), &account, &name, false).await,
        _ => Err(healthcommons_service::ServiceError::validation("unknown action")),
    };
    match done.map_err(ApiError::from) {
        Ok(()) => Ok(Redirect::to("/admin/accounts").into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::NotFound) => {
            render_accounts(&state, &session, form.csrf, err.message).await
        }
        Err(err) => Err(PageError(err)),
    }
}

async fn change_node_block(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<ActionForm>,
) -> PageResult<Response> {
    admin(&session)?;
    let done = match form.action.as_str() {
        "block" => crate::api::set_node_blocked(&state, &form.host, true).await,
        "unblock" => crate::api::set_node_blocked(&state, &form.host, false).await,
        _ => Err(ApiError::new(ErrorKind::Validation, "unknown action")),
    };
    match done {
        Ok(()) => Ok(Redirect::to("/admin/accounts").into_response()),
        Err(err) if err.kind == ErrorKind::Validation => {
            render_accounts(&state, &session, form.csrf, err.message).await
        }
        Err(err) => Err(PageError(err)),
    }
}
