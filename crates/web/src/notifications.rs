//! Notifications: the page (`/notifications`), the choices page
//! (`/settings/notifications`) and the API (`/api/v1/notifications…`, in
//! Mastodon's shape where it fits). What is listed, and what is still
//! visible, is the service's `notifications()` to decide.

use crate::auth::CheckedForm;
use crate::{
    AppState,
    api::ApiJson,
    auth::{self, ApiAccount, MaybeSession, Viewer},
    error::{ApiError, ApiResult, ErrorBody, PageResult},
    pages::{CsrfForm, render},
    thread_pages::signed_in,
};
use askama::Template;
use axum::{
    Form, Json, Router,
    extract::{Path, Query, RawQuery, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::cookie::CookieJar;
use healthcommons_core::ErrorKind;
use healthcommons_db::entities::{NotificationChoice, NotificationKind, actor};
use healthcommons_service::notifications::{ListQuery, NotificationGroup, NotificationView};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(notifications_page))
        .route("/notifications/read", post(read_all_from_page))
        .route("/notifications/{id}/read", post(read_one_from_page))
        .route("/settings/notifications", get(settings_page).post(save_settings))
        .route("/api/v1/notifications", get(list))
        .route("/api/v1/notifications/unread_count", get(unread_count))
        .route("/api/v1/notifications/read", post(mark_read))
        .route(
            "/api/v1/notifications/preferences",
            get(get_preferences).put(put_preferences),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(list, unread_count, mark_read, get_preferences, put_preferences),
    components(schemas(NotificationDto, AccountDto, SubjectDto, ReadRequest, UnreadCount))
)]
pub struct NotificationsDoc;

/// Every kind, with its word and how the choices page names it.
const KINDS: [(NotificationKind, &str); 13] = [
    (NotificationKind::Reply, "Replies to my posts"),
    (NotificationKind::Mention, "Mentions of me"),
    (
        NotificationKind::JoinRequest,
        "Requests to join a group I moderate",
    ),
    (NotificationKind::JoinAnswer, "Answers to my requests to join"),
    (
        NotificationKind::ParticipationAnswer,
        "Answers to my requests to take part in an event",
    ),
    (NotificationKind::EventChanged, "Changes to events I take part in"),
    (
        NotificationKind::EventReminder,
        "A reminder the day before an event I take part in",
    ),
    (
        NotificationKind::QuestionClosed,
        "Agenda questions I asked or voted on closing",
    ),
    (NotificationKind::PledgeBacked, "People counting on my pledges"),
    (NotificationKind::PledgeChanged, "Changes to pledges I count on"),
    (NotificationKind::GardenFork, "Forks of my garden items"),
    (NotificationKind::GardenAdoption, "Adoptions of my garden items"),
    (NotificationKind::Report, "Reports to moderate"),
];

/// Every choice, with its word and how the choices page names it.
const CHOICES: [(NotificationChoice, &str); 4] = [
    (NotificationChoice::OnNode, "On the node"),
    (NotificationChoice::EmailNow, "Email at once"),
    (NotificationChoice::EmailDigest, "Email daily digest"),
    (NotificationChoice::Off, "Not at all"),
];

/// What happened, after who did it.
fn what_happened(view: &NotificationView) -> String {
    let detail = view.detail.as_deref().unwrap_or_default();
    match view.kind {
        NotificationKind::Reply => "replied to your post".into(),
        NotificationKind::Mention => "mentioned you in".into(),
        NotificationKind::JoinRequest => "asked to join".into(),
        NotificationKind::JoinAnswer if detail == "accepted" => "accepted your request to join".into(),
        NotificationKind::JoinAnswer => "turned down your request to join".into(),
        NotificationKind::ParticipationAnswer if detail == "accepted" => "accepted you at the event".into(),
        NotificationKind::ParticipationAnswer => "could not take you at the event".into(),
        NotificationKind::EventChanged => match detail {
            "time" => "changed the time of the event".into(),
            "place" => "changed the place of the event".into(),
            "cancelled" => "cancelled the event".into(),
            "deleted" => "took down the event".into(),
            _ => "changed the event".into(),
        },
        NotificationKind::EventReminder => "Reminder: starting within a day,".into(),
        NotificationKind::QuestionClosed => "The agenda question closed:".into(),
        NotificationKind::PledgeBacked => "counts on your pledge to".into(),
        NotificationKind::PledgeChanged => format!("marked as {detail} the pledge you count on:"),
        NotificationKind::GardenFork => "forked your garden item".into(),
        NotificationKind::GardenAdoption => "adopted your garden item".into(),
        NotificationKind::Report => "filed a report".into(),
    }
}

/// How an actor is named on a page: a local name, or `name@host`.
fn name_of(actor: &actor::Model) -> String {
    actor
        .display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| actor.username.clone())
}

/// "ana", "ana and ben", "ana, ben and 3 others".
fn who(group: &NotificationGroup) -> String {
    let names: Vec<String> = group.causes.iter().map(name_of).collect();
    match names.as_slice() {
        // What the clock brings (a reminder) names nobody.
        [] => String::new(),
        [one] => one.clone(),
        [first, second] => format!("{first} and {second}"),
        [first, second, rest @ ..] => {
            let others = rest.len();
            let noun = if others == 1 { "other" } else { "others" };
            format!("{first}, {second} and {others} {noun}")
        }
    }
}

struct NotificationLine {
    id: i64,
    unread: bool,
    who: String,
    what: String,
    title: String,
    link: String,
    place: String,
    count: usize,
    when: String,
    /// The ids of unread notifications in the group, for "mark read".
    unread_ids: Vec<i64>,
}

fn line_of(group: &NotificationGroup, items: &[NotificationView]) -> NotificationLine {
    let latest = &group.latest;
    NotificationLine {
        id: latest.id,
        unread: group.unread,
        who: who(group),
        what: what_happened(latest),
        title: latest.subject.title.clone(),
        link: latest.subject.link.clone(),
        place: latest
            .group
            .as_ref()
            .filter(|_| latest.subject.kind != "group")
            .map(|g| format!("in {}", name_of(g)))
            .unwrap_or_default(),
        count: group.count,
        when: latest.created_at.format("%Y-%m-%d %H:%M").to_string(),
        unread_ids: items
            .iter()
            .filter(|n| n.group_key == latest.group_key && !n.read)
            .map(|n| n.id)
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    viewer: Option<Viewer>,
    csrf: String,
    lines: Vec<NotificationLine>,
    older: String,
    any_unread: bool,
}

#[derive(Deserialize)]
struct PageQuery {
    max_id: Option<i64>,
}

async fn notifications_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Query(query): Query<PageQuery>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = state
        .processor
        .notifications()
        .list(
            &account,
            ListQuery {
                max_id: query.max_id,
                ..ListQuery::default()
            },
        )
        .await?;
    let lines: Vec<NotificationLine> = page
        .grouped()
        .iter()
        .map(|group| line_of(group, &page.items))
        .collect();
    let html = render(NotificationsPage {
        viewer: session.viewer(),
        csrf,
        any_unread: lines.iter().any(|l| l.unread),
        lines,
        older: page
            .next_max_id
            .map(|id| format!("/notifications?max_id={id}"))
            .unwrap_or_default(),
    })?;
    Ok((jar, html).into_response())
}

#[derive(Deserialize)]
struct ReadForm {
    /// The other unread notifications shown with this one, comma-separated.
    #[serde(default)]
    also: String,
}

async fn read_one_from_page(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<ReadForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let notifications = state.processor.notifications();
    notifications.mark_read(&account, id).await?;
    // A group of notifications shown as one is read as one.
    for other in form.also.split(',').filter_map(|s| s.trim().parse::<i64>().ok()) {
        notifications.mark_read(&account, other).await?;
    }
    Ok(Redirect::to("/notifications").into_response())
}

async fn read_all_from_page(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    state.processor.notifications().mark_all_read(&account).await?;
    Ok(Redirect::to("/notifications").into_response())
}

struct PreferenceLine {
    kind: &'static str,
    label: &'static str,
    /// (word, label, chosen)
    choices: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "notification_settings.html")]
struct SettingsPage {
    viewer: Option<Viewer>,
    csrf: String,
    lines: Vec<PreferenceLine>,
    choice_labels: Vec<&'static str>,
    saved: bool,
}

async fn settings(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    saved: bool,
) -> PageResult<Response> {
    let account = signed_in(session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let chosen: HashMap<NotificationKind, NotificationChoice> = state
        .processor
        .notifications()
        .preferences(&account)
        .await?
        .into_iter()
        .collect();
    let lines = KINDS
        .iter()
        .map(|(kind, label)| PreferenceLine {
            kind: kind.as_str(),
            label,
            choices: CHOICES
                .iter()
                .map(|(choice, choice_label)| {
                    (choice.as_str(), *choice_label, chosen.get(kind) == Some(choice))
                })
                .collect(),
        })
        .collect();
    let html = render(SettingsPage {
        viewer: session.viewer(),
        csrf,
        lines,
        choice_labels: CHOICES.iter().map(|(_, label)| *label).collect(),
        saved,
    })?;
    Ok((jar, html).into_response())
}

async fn settings_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    settings(&state, jar, &session, false).await
}

async fn save_settings(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Form(form): Form<BTreeMap<String, String>>,
) -> PageResult<Response> {
    auth::check_csrf(&jar, form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let account = signed_in(&session)?;
    let choices = parse_choices(form.iter().filter(|(key, _)| key.as_str() != "csrf"))?;
    state
        .processor
        .notifications()
        .set_preferences(&account, &choices)
        .await?;
    settings(&state, jar, &session, true).await
}

/// `kind → choice` pairs in our words; an unknown word is refused.
fn parse_choices<'a>(
    pairs: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<(NotificationKind, NotificationChoice)>, ApiError> {
    pairs
        .map(|(kind, choice)| {
            let kind = NotificationKind::parse(kind).ok_or_else(|| {
                ApiError::new(ErrorKind::Validation, format!("no notification type {kind:?}"))
            })?;
            let choice = NotificationChoice::parse(choice).ok_or_else(|| {
                ApiError::new(
                    ErrorKind::Validation,
                    "a choice is one of on_node, email_now, email_digest, off",
                )
            })?;
            Ok((kind, choice))
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct AccountDto {
    /// The actor's ActivityPub id.
    pub id: String,
    pub username: String,
    /// `name@host`.
    pub acct: String,
    pub display_name: String,
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct SubjectDto {
    /// `post`, `event`, `question`, `pledge`, `garden_item`, `group` or `report`.
    pub kind: String,
    pub id: i64,
    pub ap_id: Option<String>,
    pub title: String,
    /// Its page on this node.
    pub url: String,
}

/// One notification, in Mastodon's shape where it fits.
#[derive(Serialize, ToSchema)]
pub struct NotificationDto {
    /// A string, as Mastodon's ids are.
    pub id: String,
    /// `reply`, `mention`, `join_request`, `join_answer`, `participation_answer`,
    /// `event_changed`, `event_reminder`, `question_closed`, `pledge_backed`,
    /// `pledge_changed`, `garden_fork`, `garden_adoption` or `report`.
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    pub read: bool,
    /// Notifications with the same key are one in a grouped list.
    pub group_key: String,
    /// `accepted`, `rejected`, `time`, `place`, `cancelled`, a pledge's status…
    pub detail: Option<String>,
    /// Who caused it.
    pub account: Option<AccountDto>,
    pub subject: SubjectDto,
    /// The working group it happened in (`@name@host`).
    pub group: Option<String>,
}

fn account_dto(actor: &actor::Model) -> AccountDto {
    AccountDto {
        id: actor.ap_id.clone(),
        username: actor.username.clone(),
        acct: format!("{}@{}", actor.username, actor.host),
        display_name: actor.display_name.clone().unwrap_or_default(),
        url: actor.url.clone().unwrap_or_else(|| actor.ap_id.clone()),
    }
}

fn dto(state: &AppState, view: &NotificationView) -> NotificationDto {
    let base = state.context().node.urls.base();
    NotificationDto {
        id: view.id.to_string(),
        kind: view.kind.as_str().to_owned(),
        created_at: view.created_at.to_rfc3339(),
        read: view.read,
        group_key: view.group_key.clone(),
        detail: view.detail.clone(),
        account: view.cause.as_ref().map(account_dto),
        subject: SubjectDto {
            kind: view.subject.kind.to_owned(),
            id: view.subject.id,
            ap_id: view.subject.ap_id.clone(),
            title: view.subject.title.clone(),
            url: if view.subject.link.starts_with('/') {
                format!("{base}{}", view.subject.link)
            } else {
                view.subject.link.clone()
            },
        },
        group: view.group.as_ref().map(actor::Model::handle),
    }
}

/// `types[]=…` (or `types=a,b`), `max_id` and `limit`, as Mastodon takes them.
fn list_query(raw: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery::default();
    let number = |key: &str, value: &str| {
        value
            .parse::<i64>()
            .map_err(|_| ApiError::new(ErrorKind::Validation, format!("{key} is a number")))
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "types[]" | "types" => {
                for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    let kind = NotificationKind::parse(word).ok_or_else(|| {
                        ApiError::new(ErrorKind::Validation, format!("no notification type {word:?}"))
                    })?;
                    query.kinds.push(kind);
                }
            }
            "max_id" => query.max_id = Some(number("max_id", &value)?),
            "limit" => query.limit = Some(number("limit", &value)?.max(1).unsigned_abs()),
            _ => {}
        }
    }
    Ok(query)
}

/// The caller's notifications, newest first, only those whose subject they
/// may still see. A `Link` header names the next page.
#[utoipa::path(get, path = "/api/v1/notifications",
    params(
        ("types[]" = Option<Vec<String>>, Query, description = "only these types"),
        ("max_id" = Option<i64>, Query, description = "older than this id"),
        ("limit" = Option<u64>, Query, description = "at most this many (40 unless said, 80 at most)")
    ),
    security(("bearer" = [])),
    responses((status = 200, body = [NotificationDto]), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let query = list_query(raw.as_deref())?;
    let kinds: Vec<&str> = query.kinds.iter().map(|k| k.as_str()).collect();
    let limit = query.limit;
    let page = state.processor.notifications().list(&account, query).await?;
    let body: Vec<NotificationDto> = page.items.iter().map(|n| dto(&state, n)).collect();
    let mut response = Json(body).into_response();
    if let Some(next) = page.next_max_id {
        let mut link = format!(
            "{}/api/v1/notifications?max_id={next}",
            state.context().node.urls.base()
        );
        if let Some(limit) = limit {
            link.push_str(&format!("&limit={limit}"));
        }
        for kind in kinds {
            link.push_str(&format!("&types[]={kind}"));
        }
        if let Ok(value) = header::HeaderValue::from_str(&format!("<{link}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

#[derive(Serialize, ToSchema)]
pub struct UnreadCount {
    /// Unread notifications the caller may see (counted up to 100).
    pub count: u64,
}

/// How many unread notifications the caller has.
#[utoipa::path(get, path = "/api/v1/notifications/unread_count", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 401, body = ErrorBody)))]
async fn unread_count(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
) -> ApiResult<Json<UnreadCount>> {
    let count = state.processor.notifications().unread_count(&account).await?;
    Ok(Json(UnreadCount { count }))
}

#[derive(Deserialize, ToSchema)]
pub struct ReadRequest {
    /// One notification to mark read.
    pub id: Option<String>,
    /// Mark all of them read.
    #[serde(default)]
    pub all: bool,
}

/// Mark one notification (`{"id": "12"}`) or all of them (`{"all": true}`) read.
#[utoipa::path(post, path = "/api/v1/notifications/read", request_body = ReadRequest,
    security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<ReadRequest>,
) -> ApiResult<Json<UnreadCount>> {
    let notifications = state.processor.notifications();
    match (body.id, body.all) {
        (Some(id), false) => {
            let id = id
                .trim()
                .parse::<i64>()
                .map_err(|_| ApiError::new(ErrorKind::NotFound, "no such notification"))?;
            notifications.mark_read(&account, id).await?;
        }
        (None, true) => {
            notifications.mark_all_read(&account).await?;
        }
        _ => {
            return Err(ApiError::new(
                ErrorKind::Validation,
                "send either an id or \"all\": true",
            ));
        }
    }
    Ok(Json(UnreadCount {
        count: notifications.unread_count(&account).await?,
    }))
}

/// The caller's choice per type: `on_node`, `email_now`, `email_digest` or `off`.
#[utoipa::path(get, path = "/api/v1/notifications/preferences", security(("bearer" = [])),
    responses((status = 200, body = BTreeMap<String, String>), (status = 401, body = ErrorBody)))]
async fn get_preferences(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
) -> ApiResult<Json<BTreeMap<String, String>>> {
    preferences_of(&state, &account).await.map(Json)
}

async fn preferences_of(
    state: &AppState,
    account: &healthcommons_service::accounts::Account,
) -> ApiResult<BTreeMap<String, String>> {
    Ok(state
        .processor
        .notifications()
        .preferences(account)
        .await?
        .into_iter()
        .map(|(kind, choice)| (kind.as_str().to_owned(), choice.as_str().to_owned()))
        .collect())
}

/// Change the caller's choices for the types given (`{"reply": "off"}`);
/// answers with all of them.
#[utoipa::path(put, path = "/api/v1/notifications/preferences", request_body = BTreeMap<String, String>,
    security(("bearer" = [])),
    responses((status = 200, body = BTreeMap<String, String>), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn put_preferences(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<BTreeMap<String, String>>,
) -> ApiResult<Json<BTreeMap<String, String>>> {
    let choices = parse_choices(body.iter())?;
    state
        .processor
        .notifications()
        .set_preferences(&account, &choices)
        .await?;
    preferences_of(&state, &account).await.map(Json)
}
