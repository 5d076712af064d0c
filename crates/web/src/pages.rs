//! Server-rendered pages. They work without JavaScript; forms carry a CSRF
//! token that must match the browser's cookie.

use crate::auth::CheckedForm;
use crate::{
    AppState,
    auth::{self, MaybeSession, Viewer},
    error::{ApiError, PageError, PageResult},
};
use askama::Template;
use axum::{
    Form, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use healthcommons_core::ErrorKind;
use healthcommons_db::entities::{GroupVisibility, InboxState, PostingPolicy};
use healthcommons_db::{entities::actor, queries};
use healthcommons_service::{
    accounts::{self, Registration, RegistrationOutcome, Role},
    groups, policy,
};
use serde::Deserialize;

const STYLE: &str = include_str!("../templates/style.css");
const MAP_SCRIPT: &str = include_str!("../static/map.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/style.css", get(style))
        .route("/static/map.js", get(map_script))
        .route("/register", get(register_form).post(register))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/g/{name}/join", post(join_group))
        .route("/g/{name}/leave", post(leave_group))
        .route("/admin/deliveries", get(admin_deliveries))
}

pub(crate) fn render(template: impl Template) -> PageResult<Html<String>> {
    template
        .render()
        .map(Html)
        .map_err(|e| PageError(ApiError::new(ErrorKind::Internal, format!("template: {e}"))))
}

async fn style() -> Response {
    ([(http::header::CONTENT_TYPE, "text/css")], STYLE).into_response()
}

async fn map_script() -> Response {
    (
        [(http::header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        MAP_SCRIPT,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    viewer: Option<Viewer>,
}

pub fn not_found(session: MaybeSession) -> Response {
    let page = NotFoundPage {
        viewer: session.viewer(),
    };
    match page.render() {
        Ok(html) => (StatusCode::NOT_FOUND, Html(html)).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

struct GroupItem {
    name: String,
    display_name: String,
    members: u64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    viewer: Option<Viewer>,
    csrf: String,
    initiative_name: String,
    description: String,
    domain: String,
    groups: Vec<GroupItem>,
}

async fn home(State(state): State<AppState>, jar: CookieJar, session: MaybeSession) -> PageResult<Response> {
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let db = state.db();
    let profile = state.processor.node_admin().profile().await?;
    let mut groups = Vec::new();
    for group in queries::actors::local_groups(db).await? {
        groups.push(GroupItem {
            members: queries::follows::count_followers(db, group.id).await?,
            display_name: group
                .display_name
                .clone()
                .unwrap_or_else(|| group.username.clone()),
            name: group.username,
        });
    }
    let page = render(HomePage {
        viewer: session.viewer(),
        csrf,
        initiative_name: profile.initiative_name,
        description: profile.description,
        domain: state.context().node.domain.clone(),
        groups,
    })?;
    Ok((jar, page).into_response())
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    viewer: Option<Viewer>,
    csrf: String,
    mode: String,
    error: Option<String>,
    username: String,
}

async fn register_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let mode = state
        .processor
        .node_admin()
        .registration_mode()
        .await?
        .as_str()
        .to_owned();
    let page = render(RegisterPage {
        viewer: session.viewer(),
        csrf,
        mode,
        error: None,
        username: String::new(),
    })?;
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
struct RegisterForm {
    csrf: String,
    username: String,
    password: String,
    #[serde(default)]
    email: String,
}

#[derive(Template)]
#[template(path = "awaiting_approval.html")]
struct AwaitingApprovalPage {
    viewer: Option<Viewer>,
    username: String,
}

async fn register(
    State(state): State<AppState>,
    jar: CookieJar,
    CheckedForm(form): CheckedForm<RegisterForm>,
) -> PageResult<Response> {
    let result = accounts::register(
        state.db(),
        &state.context().node,
        Registration {
            username: &form.username,
            password: &form.password,
            email: Some(form.email.as_str()),
        },
    )
    .await;
    match result {
        Ok((account, RegistrationOutcome::Active)) => {
            let to = format!("/u/{}", account.user.username);
            sign_in(&state, jar, &account, &to).await
        }
        Ok((account, RegistrationOutcome::AwaitingApproval)) => {
            let page = render(AwaitingApprovalPage {
                viewer: None,
                username: account.user.username,
            })?;
            Ok(page.into_response())
        }
        Err(err) if matches!(err.kind(), ErrorKind::Validation | ErrorKind::Conflict) => {
            let mode = state
                .processor
                .node_admin()
                .registration_mode()
                .await?
                .as_str()
                .to_owned();
            let page = render(RegisterPage {
                viewer: None,
                csrf: form.csrf,
                mode,
                error: Some(err.public_message()),
                username: form.username,
            })?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

/// Open a session for `account` and send the browser on to `to`.
async fn sign_in(
    state: &AppState,
    jar: CookieJar,
    account: &accounts::Account,
    to: &str,
) -> PageResult<Response> {
    let token = accounts::open_session(state.db(), account).await?;
    let jar = jar.add(auth::session_cookie(token, state.secure_cookies));
    Ok((jar, Redirect::to(to)).into_response())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    viewer: Option<Viewer>,
    csrf: String,
    error: Option<String>,
    username: String,
}

async fn login_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(LoginPage {
        viewer: session.viewer(),
        csrf,
        error: None,
        username: String::new(),
    })?;
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    username: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    CheckedForm(form): CheckedForm<LoginForm>,
) -> PageResult<Response> {
    match accounts::authenticate(state.db(), &form.username, &form.password).await {
        Ok(account) => sign_in(&state, jar, &account, "/").await,
        Err(err) if matches!(err.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden) => {
            let page = render(LoginPage {
                viewer: None,
                csrf: form.csrf,
                error: Some(err.public_message()),
                username: form.username,
            })?;
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    pub csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> PageResult<Response> {
    if let Some(cookie) = jar.get(auth::SESSION_COOKIE) {
        accounts::close_session(state.db(), cookie.value()).await?;
    }
    let jar = jar.remove(Cookie::build(auth::SESSION_COOKIE).path("/").build());
    Ok((jar, Redirect::to("/")).into_response())
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    viewer: Option<Viewer>,
    display_name: String,
    handle: String,
    summary_html: String,
    followers: u64,
    following: u64,
    /// The signed-in person looks at their own page.
    own_page: bool,
}

pub async fn person_page(state: &AppState, session: MaybeSession, row: actor::Model) -> PageResult<Response> {
    let db = state.db();
    let page = PersonPage {
        own_page: session.0.as_ref().is_some_and(|a| a.person.id == row.id),
        viewer: session.viewer(),
        followers: queries::follows::count_followers(db, row.id).await?,
        following: queries::follows::count_following(db, row.id).await?,
        display_name: row.display_name.clone().unwrap_or_else(|| row.username.clone()),
        handle: row.handle(),
        summary_html: row.summary_html.clone().unwrap_or_default(),
    };
    Ok(render(page)?.into_response())
}

/// A thread being written on the group page: what was typed, its preview,
/// and why it was refused, if it was.
pub struct Draft {
    pub title: String,
    pub content: String,
    pub summary: String,
    /// `public`, `unlisted` or `followers`.
    pub visibility: String,
    pub preview_html: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    viewer: Option<Viewer>,
    csrf: String,
    threads: Vec<crate::thread_pages::PostItem>,
    draft: Option<Draft>,
    topics: Vec<String>,
    rules_html: String,
    place: String,
    posting_policy: String,
    members_only: bool,
    moderators: Vec<String>,
    name: String,
    display_name: String,
    handle: String,
    summary_html: String,
    members: u64,
    approval_needed: bool,
    /// The viewer's membership: none, pending or accepted.
    membership: String,
    /// The viewer moderates the group: link to its settings.
    can_moderate: bool,
    icon_url: String,
}

pub async fn group_page(
    state: &AppState,
    session: MaybeSession,
    row: actor::Model,
    headers: &HeaderMap,
) -> PageResult<Response> {
    group_page_with_draft(state, session, row, headers, None).await
}

pub async fn group_page_with_draft(
    state: &AppState,
    session: MaybeSession,
    row: actor::Model,
    headers: &HeaderMap,
    draft: Option<Draft>,
) -> PageResult<Response> {
    let db = state.read_db();
    let view = state.processor.groups().view_of(row.clone()).await?;
    // The viewer's standing, read once: the moderator list came with the view.
    let listed_moderator = session
        .0
        .as_ref()
        .is_some_and(|account| view.moderators.iter().any(|m| m.id == account.person.id));
    let (membership, can_moderate) = match &session.0 {
        Some(account) => (
            queries::follows::between(db, account.person.id, row.id)
                .await?
                .map_or("none", |f| f.state.as_str())
                .to_owned(),
            policy::staff_moderates(account.into(), &row, listed_moderator),
        ),
        None => ("none".into(), false),
    };
    let threads = state
        .processor
        .posts()
        .group_threads(
            session.0.as_ref().into(),
            &row,
            queries::posts::Page { number: 1, size: 50 },
        )
        .await?;
    let threads = crate::thread_pages::items_for(state, session.0.as_ref(), &threads).await?;
    let settings = view.settings.clone();
    let jar = CookieJar::from_headers(headers);
    let (jar, csrf) = auth::csrf_token_if_signed_in(jar, &session, state.secure_cookies);
    let page = GroupPage {
        can_moderate,
        icon_url: settings
            .as_ref()
            .and_then(|s| s.icon_url.clone())
            .unwrap_or_default(),
        viewer: session.viewer(),
        csrf,
        threads,
        draft,
        topics: settings.as_ref().map(groups::topics).unwrap_or_default(),
        rules_html: settings
            .as_ref()
            .and_then(|s| s.rules_html.clone())
            .unwrap_or_default(),
        place: settings
            .as_ref()
            .map(|s| {
                [s.place_name.clone(), s.place_address.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        posting_policy: settings
            .as_ref()
            .map_or(PostingPolicy::Open, |s| s.posting_policy)
            .to_string(),
        members_only: settings
            .as_ref()
            .is_some_and(|s| s.visibility == GroupVisibility::Members),
        moderators: view.moderators.iter().map(|m| m.handle()).collect(),
        members: view.followers_count,
        display_name: row.display_name.clone().unwrap_or_else(|| row.username.clone()),
        handle: row.handle(),
        summary_html: row.summary_html.clone().unwrap_or_default(),
        approval_needed: row.manually_approves_followers,
        membership,
        name: row.username,
    };
    Ok((jar, render(page)?).into_response())
}

fn signed_in(session: MaybeSession) -> PageResult<accounts::Account> {
    session.0.ok_or_else(|| {
        PageError(ApiError::new(
            ErrorKind::Unauthorized,
            "sign in to join working groups",
        ))
    })
}

/// Join or leave: who is asking, the group, and the CSRF check, in one place.
async fn membership_request(
    state: &AppState,
    jar: &CookieJar,
    session: MaybeSession,
    name: &str,
    csrf: &str,
) -> PageResult<(accounts::Account, actor::Model)> {
    auth::check_csrf(jar, csrf)?;
    let account = signed_in(session)?;
    let group = state.processor.groups().local(name).await?;
    Ok((account, group))
}

async fn join_group(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult<Response> {
    let (account, group) = membership_request(&state, &jar, session, &name, &form.csrf).await?;
    state.processor.follows().follow(&account.person, &group).await?;
    Ok(Redirect::to(&format!("/g/{name}")).into_response())
}

async fn leave_group(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult<Response> {
    let (account, group) = membership_request(&state, &jar, session, &name, &form.csrf).await?;
    state
        .processor
        .follows()
        .unfollow(&account.person, &group)
        .await?;
    Ok(Redirect::to(&format!("/g/{name}")).into_response())
}

struct QueueLine {
    peer: String,
    state: String,
    count: i64,
}

struct PeerLine {
    host: String,
    status: String,
    failures: i32,
    last_success: String,
    /// The peer's last 401 or 403, while it keeps refusing our signatures.
    refusal: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_deliveries.html")]
struct AdminDeliveriesPage {
    viewer: Option<Viewer>,
    queue: Vec<QueueLine>,
    peers: Vec<PeerLine>,
    refused: Vec<crate::api::InboxRow>,
}

async fn admin_deliveries(State(state): State<AppState>, session: MaybeSession) -> PageResult<Html<String>> {
    let account = session
        .0
        .clone()
        .ok_or_else(|| PageError(ApiError::new(ErrorKind::Unauthorized, "sign in as an admin")))?;
    if account.role() != Role::Admin {
        return Err(PageError(ApiError::new(
            ErrorKind::Forbidden,
            "only admins may see the delivery queue",
        )));
    }
    let snapshot = crate::api::queue_snapshot(&state).await?;
    let refused = crate::api::recent_inbox(&state, InboxState::Failed.as_str()).await?;
    render(AdminDeliveriesPage {
        viewer: session.viewer(),
        refused,
        queue: snapshot
            .queue
            .into_iter()
            .map(|q| QueueLine {
                peer: q.peer,
                state: q.state,
                count: q.count,
            })
            .collect(),
        peers: snapshot
            .peers
            .into_iter()
            .map(|p| PeerLine {
                status: if p.blocked {
                    "blocked".into()
                } else if let Some(since) = &p.refusing_since {
                    format!("refuses our signatures since {since}")
                } else if p.unreachable {
                    "unreachable".into()
                } else if p.consecutive_failures > 0 {
                    "failing".into()
                } else {
                    "ok".into()
                },
                failures: p.consecutive_failures,
                last_success: p.last_success_at.unwrap_or_else(|| "never".into()),
                refusal: p.last_refusal,
                host: p.host,
            })
            .collect(),
    })
}
