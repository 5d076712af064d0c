//! Pledges: the API (`/api/v1/pledges…`, `/api/v1/groups/{name}/pledges`),
//! pledges at their ActivityPub ids (`/pl/{token}`), and the pages: who has
//! pledged what in a working group, one pledge with its status and who
//! counts on it, and the form to pledge. Forms only, no JavaScript.

use crate::activitypub::{LocalObject, serve_object};
use crate::auth::CheckedForm;
use crate::{
    AppState,
    api::ApiJson,
    auth::{self, ApiAccount, MaybeApiAccount, MaybeSession, SignedFetcher, Viewer},
    error::{ApiError, ApiResult, ErrorBody, PageResult},
    pages::render,
    thread_pages::signed_in,
};
use crate::{error::PageError, pages};
use askama::Template;
use axum::{
    Form, Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post, put},
};
use axum_extra::extract::cookie::CookieJar;
use chrono::NaiveDate;
use healthcommons_core::{
    ErrorKind,
    pledge::{PledgeStatus, PledgeTarget},
};
use healthcommons_db::{entities::actor, queries, queries::pledges::Listing};
use healthcommons_federation::FederationError;
use healthcommons_federation::objects::pledge::pledge_json;
use healthcommons_service::{
    ServiceError,
    accounts::Account,
    pledges::{Offer, PledgeView, TargetRef},
    policy::{self, Subject},
};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/pledges", get(list_pledges).post(make_pledge))
        .route("/api/v1/pledges/{id}", get(get_pledge))
        .route("/api/v1/pledges/{id}/status", put(change_status))
        .route(
            "/api/v1/pledges/{id}/backers",
            post(count_on).delete(stop_counting),
        )
        .route("/api/v1/groups/{name}/pledges", get(group_pledges))
        .route("/pl/{token}", get(pledge_object))
        .route("/pledges/new", get(new_form))
        .route("/pledges", post(create_from_form))
        .route("/pledges/{id}", get(pledge_page))
        .route("/pledges/{id}/status", post(status_from_page))
        .route("/pledges/{id}/count-on", post(count_on_from_page))
        .route("/pledges/{id}/stop-counting", post(stop_counting_from_page))
        .route("/g/{name}/pledges", get(group_page))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_pledges,
        make_pledge,
        get_pledge,
        change_status,
        count_on,
        stop_counting,
        group_pledges
    ),
    components(schemas(NewPledge, PledgeDto, TargetDto, StatusChange))
)]
pub struct PledgesDoc;

#[derive(Deserialize, ToSchema)]
pub struct NewPledge {
    /// What it is attached to: `event`, `question` or `garden_item`.
    pub on: String,
    /// The id of that event, question or garden item on this node.
    pub target_id: i64,
    /// What you will do ("run the next walking group"); a leading "I will" is dropped.
    pub action: String,
    /// The date it is done by (YYYY-MM-DD), if there is one.
    pub due_on: Option<NaiveDate>,
}

#[derive(Deserialize, ToSchema)]
pub struct StatusChange {
    /// `in_progress`, `done` or `released` (forward only).
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct TargetDto {
    /// `event`, `question` or `garden_item`.
    pub kind: String,
    pub id: i64,
    pub ap_id: String,
    pub title: String,
    /// Its page on this node.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct PledgeDto {
    pub id: i64,
    /// Who it is for: `public`, `unlisted` or `members` (a members-only working group's).
    pub visibility: String,
    pub ap_id: String,
    /// Its page on this node.
    pub url: String,
    pub author: Option<String>,
    pub group: Option<String>,
    pub target: Option<TargetDto>,
    pub action: String,
    pub due_on: Option<NaiveDate>,
    /// `offered`, `in_progress`, `done` or `released`.
    pub status: String,
    /// How many people count on it.
    pub backers_count: i32,
    /// Whether you count on it.
    pub counting_on: bool,
    pub local: bool,
    pub published: String,
}

#[derive(Deserialize, IntoParams)]
pub struct PledgesQuery {
    /// Only pledges attached to this event.
    pub event_id: Option<i64>,
    /// Only pledges attached to this question.
    pub question_id: Option<i64>,
    /// Only pledges attached to this garden item.
    pub garden_item_id: Option<i64>,
}

/// The page of what a pledge is attached to.
fn target_path(target: &TargetRef) -> String {
    match target.kind {
        PledgeTarget::Event => format!("/events/{}", target.id),
        PledgeTarget::Question => format!("/questions/{}", target.id),
        PledgeTarget::GardenItem => format!("/garden/items/{}", target.id),
    }
}

fn pledge_path(id: i64) -> String {
    format!("/pledges/{id}")
}

fn dto(state: &AppState, view: &PledgeView, counting_on: bool) -> PledgeDto {
    let base = state.context().node.urls.base();
    let pledge = &view.pledge;
    PledgeDto {
        id: pledge.id,
        visibility: pledge.visibility.as_str().to_owned(),
        ap_id: pledge.ap_id.clone(),
        url: state.context().node.urls.pledge_page(pledge.id),
        author: view.author.as_ref().map(actor::Model::handle),
        group: view.group.as_ref().map(actor::Model::handle),
        target: view.target.as_ref().map(|t| TargetDto {
            kind: t.kind.as_str().to_owned(),
            id: t.id,
            ap_id: t.ap_id.clone(),
            title: t.title.clone(),
            url: format!("{base}{}", target_path(t)),
        }),
        action: pledge.action.clone(),
        due_on: pledge.due_on,
        status: pledge.status.as_str().to_owned(),
        backers_count: pledge.backers_count,
        counting_on,
        local: pledge.local,
        published: pledge.published.to_rfc3339(),
    }
}

async fn dtos(state: &AppState, views: &[PledgeView], viewer: Option<&Account>) -> ApiResult<Vec<PledgeDto>> {
    let counted = state.processor.pledges().counted_on_by(views, viewer).await?;
    Ok(views
        .iter()
        .map(|view| dto(state, view, counted.contains(&view.pledge.id)))
        .collect())
}

async fn one(state: &AppState, id: i64, viewer: Option<&Account>) -> ApiResult<PledgeDto> {
    let view = state.processor.pledges().view(viewer.into(), id).await?;
    Ok(dtos(state, std::slice::from_ref(&view), viewer).await?.remove(0))
}

/// Pledges on this node, newest first, or those attached to one event,
/// question or garden item.
#[utoipa::path(get, path = "/api/v1/pledges", params(PledgesQuery),
    responses((status = 200, body = [PledgeDto])))]
async fn list_pledges(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Query(query): Query<PledgesQuery>,
) -> ApiResult<Json<Vec<PledgeDto>>> {
    let views = state
        .processor
        .pledges()
        .list(
            account.as_ref().into(),
            Listing {
                event_id: query.event_id,
                question_id: query.question_id,
                garden_item_id: query.garden_item_id,
                ..Listing::default()
            },
        )
        .await?;
    Ok(Json(dtos(&state, &views, account.as_ref()).await?))
}

/// Who has pledged what in a working group (here or on another node:
/// `name@host`), newest first.
#[utoipa::path(get, path = "/api/v1/groups/{name}/pledges", params(("name" = String, Path)),
    responses((status = 200, body = [PledgeDto]), (status = 404, body = ErrorBody)))]
async fn group_pledges(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<PledgeDto>>> {
    let group = state.processor.groups().find(&name).await?;
    let views = state
        .processor
        .pledges()
        .list(
            account.as_ref().into(),
            Listing {
                group_id: Some(group.id),
                ..Listing::default()
            },
        )
        .await?;
    Ok(Json(dtos(&state, &views, account.as_ref()).await?))
}

async fn offer(state: &AppState, account: &Account, body: NewPledge) -> ApiResult<i64> {
    let target = PledgeTarget::parse(&body.on).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Validation,
            "a pledge is on an event, a question or a garden_item",
        )
    })?;
    let pledge = state
        .processor
        .pledges()
        .offer(
            account,
            Offer {
                target,
                target_id: body.target_id,
                action: body.action,
                due_on: body.due_on,
            },
        )
        .await?;
    Ok(pledge.id)
}

/// Pledge an action on an event, an agenda question or a garden item.
/// Followers, the working group and Mastodon users see "I will …, by …".
#[utoipa::path(post, path = "/api/v1/pledges", request_body = NewPledge, security(("bearer" = [])),
    responses((status = 201, body = PledgeDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn make_pledge(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<NewPledge>,
) -> ApiResult<Response> {
    let id = offer(&state, &account, body).await?;
    Ok((StatusCode::CREATED, Json(one(&state, id, Some(&account)).await?)).into_response())
}

/// One pledge.
#[utoipa::path(get, path = "/api/v1/pledges/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = PledgeDto), (status = 404, body = ErrorBody)))]
async fn get_pledge(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<Json<PledgeDto>> {
    Ok(Json(one(&state, id, account.as_ref()).await?))
}

fn parse_status(raw: &str) -> Result<PledgeStatus, ServiceError> {
    PledgeStatus::parse(raw)
        .ok_or_else(|| ServiceError::validation("a pledge is offered, in_progress, done or released"))
}

/// The person who pledged moves it on: offered → in progress → done, or
/// released. Everyone counting on it hears of it.
#[utoipa::path(put, path = "/api/v1/pledges/{id}/status", params(("id" = i64, Path)),
    request_body = StatusChange, security(("bearer" = [])),
    responses((status = 200, body = PledgeDto), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "not a step forward"), (status = 422, body = ErrorBody)))]
async fn change_status(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<StatusChange>,
) -> ApiResult<Json<PledgeDto>> {
    let status = parse_status(&body.status)?;
    state.processor.pledges().set_status(&account, id, status).await?;
    Ok(Json(one(&state, id, Some(&account)).await?))
}

/// Count on a pledge: hear of every change to it. On a pledge made on
/// another node the count changes when that node answers.
#[utoipa::path(post, path = "/api/v1/pledges/{id}/backers", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = PledgeDto), (status = 409, body = ErrorBody, description = "already counting on it, or it is done or released"),
        (status = 422, body = ErrorBody, description = "your own pledge")))]
async fn count_on(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<Json<PledgeDto>> {
    state.processor.pledges().count_on(&account, id).await?;
    Ok(Json(one(&state, id, Some(&account)).await?))
}

/// Stop counting on a pledge.
#[utoipa::path(delete, path = "/api/v1/pledges/{id}/backers", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = PledgeDto), (status = 404, body = ErrorBody)))]
async fn stop_counting(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<Json<PledgeDto>> {
    state.processor.pledges().stop_counting(&account, id).await?;
    Ok(Json(one(&state, id, Some(&account)).await?))
}

/// A local pledge at its ActivityPub id: JSON for servers, its page for people.
async fn pledge_object(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    session: MaybeSession,
    fetcher: SignedFetcher,
) -> Result<Response, PageError> {
    let ap_id = format!("{}/pl/{token}", state.context().node.urls.base());
    let pledge = queries::pledges::by_ap_id(state.db(), &ap_id)
        .await?
        .filter(|p| p.local);
    let object = pledge.as_ref().map(|pledge| LocalObject {
        ap_id: &pledge.ap_id,
        subject: Subject::Pledge(pledge),
        kind: "Note",
        gone: false,
        deleted_at: None,
    });
    let page = async {
        Ok(match &pledge {
            Some(pledge) => Redirect::to(&pledge_path(pledge.id)).into_response(),
            None => pages::not_found(session).into_response(),
        })
    };
    let json = async {
        let pledge = pledge.as_ref().ok_or(FederationError::NotFound)?;
        let view = state
            .processor
            .pledges()
            .view(policy::Viewer::Node, pledge.id)
            .await
            .map_err(|err| FederationError::Invalid(err.to_string()))?;
        Ok(serde_json::to_value(pledge_json(&view)?)?)
    };
    serve_object(&state, &headers, &fetcher, object, page, json).await
}

/// A pledge as a page shows it.
pub struct PledgeItem {
    pub id: i64,
    pub author: String,
    pub action: String,
    /// "12 December 2026", or empty.
    pub due: String,
    pub status: String,
    pub status_label: String,
    pub backers: i32,
    /// "event", "agenda question" or "garden item".
    pub target_noun: String,
    pub target_title: String,
    pub target_path: String,
    pub counting_on: bool,
    pub mine: bool,
    /// Neither done nor released: others may still count on it.
    pub open: bool,
    /// Where the pledger may move it: value and label.
    pub next: Vec<(String, String)>,
}

fn item_of(view: &PledgeView, counted: &HashSet<i64>, viewer: Option<&Account>) -> PledgeItem {
    let pledge = &view.pledge;
    let mine = viewer.is_some_and(|v| v.person.id == pledge.author_id) && pledge.local;
    PledgeItem {
        id: pledge.id,
        author: view.author.as_ref().map(actor::Model::handle).unwrap_or_default(),
        action: pledge.action.clone(),
        due: pledge
            .due_on
            .map(|d| d.format("%-d %B %Y").to_string())
            .unwrap_or_default(),
        status: pledge.status.as_str().to_owned(),
        status_label: view.status().label().to_owned(),
        backers: pledge.backers_count,
        target_noun: view
            .target
            .as_ref()
            .map(|t| t.kind.noun().to_owned())
            .unwrap_or_default(),
        target_title: view.target.as_ref().map(|t| t.title.clone()).unwrap_or_default(),
        target_path: view.target.as_ref().map(target_path).unwrap_or_default(),
        counting_on: counted.contains(&pledge.id),
        mine,
        open: !view.status().is_final(),
        next: if mine {
            view.status()
                .next()
                .into_iter()
                .map(|s| (s.as_str().to_owned(), s.label().to_owned()))
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// The pledges attached to one event, question or garden item, for its page.
pub async fn items_on(
    state: &AppState,
    listing: Listing,
    viewer: Option<&Account>,
) -> PageResult<Vec<PledgeItem>> {
    let views = state.processor.pledges().list(viewer.into(), listing).await?;
    let counted = state.processor.pledges().counted_on_by(&views, viewer).await?;
    Ok(views.iter().map(|v| item_of(v, &counted, viewer)).collect())
}

#[derive(Template)]
#[template(path = "pledges.html")]
struct GroupPledgesPage {
    viewer: Option<Viewer>,
    name: String,
    title: String,
    pledges: Vec<PledgeItem>,
}

async fn group_page(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(name): Path<String>,
) -> PageResult<Response> {
    let group = state.processor.groups().local(&name).await?;
    let listing = Listing {
        group_id: Some(group.id),
        ..Listing::default()
    };
    Ok(render(GroupPledgesPage {
        viewer: session.viewer(),
        title: group.display_name.clone().unwrap_or_else(|| group.handle()),
        name,
        pledges: items_on(&state, listing, session.0.as_ref()).await?,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "pledge.html")]
struct PledgePage {
    viewer: Option<Viewer>,
    csrf: String,
    pledge: PledgeItem,
    group: String,
    group_pledges: String,
    backers: Vec<String>,
    signed_in: bool,
    error: String,
}

async fn show(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    id: i64,
    error: String,
) -> PageResult<Response> {
    let viewer = session.0.as_ref();
    let view = state.processor.pledges().view(viewer.into(), id).await?;
    let counted = state
        .processor
        .pledges()
        .counted_on_by(std::slice::from_ref(&view), viewer)
        .await?;
    let backers = state
        .processor
        .pledges()
        .backers(viewer.into(), id)
        .await?
        .iter()
        .map(actor::Model::handle)
        .collect();
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(PledgePage {
        viewer: session.viewer(),
        csrf,
        pledge: item_of(&view, &counted, viewer),
        group: view.group.as_ref().map(actor::Model::handle).unwrap_or_default(),
        group_pledges: view
            .group
            .as_ref()
            .filter(|g| g.local)
            .map(|g| format!("/g/{}/pledges", g.username))
            .unwrap_or_default(),
        backers,
        signed_in: viewer.is_some(),
        error,
    })?;
    Ok((jar, page).into_response())
}

async fn pledge_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    show(&state, jar, &session, id, String::new()).await
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    #[serde(default)]
    status: String,
}

/// Run an action from a pledge's page: back to the page, with the reason
/// when it was refused.
async fn act<F>(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    id: i64,
    csrf: &str,
    action: F,
) -> PageResult<Response>
where
    F: AsyncFnOnce(&Account) -> Result<(), ServiceError>,
{
    auth::check_csrf(&jar, csrf)?;
    let account = signed_in(session)?;
    match action(&account).await {
        Ok(()) => Ok(Redirect::to(&pledge_path(id)).into_response()),
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::Conflict | ErrorKind::Forbidden | ErrorKind::NotFound | ErrorKind::Validation
            ) =>
        {
            show(state, jar, session, id, err.public_message()).await
        }
        Err(err) => Err(ApiError::from(err).into()),
    }
}

async fn status_from_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> PageResult<Response> {
    act(&state, jar, &session, id, &form.csrf, async |account| {
        let status = parse_status(&form.status)?;
        state
            .processor
            .pledges()
            .set_status(account, id, status)
            .await
            .map(|_| ())
    })
    .await
}

async fn count_on_from_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> PageResult<Response> {
    act(&state, jar, &session, id, &form.csrf, async |account| {
        state.processor.pledges().count_on(account, id).await.map(|_| ())
    })
    .await
}

async fn stop_counting_from_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> PageResult<Response> {
    act(&state, jar, &session, id, &form.csrf, async |account| {
        state.processor.pledges().stop_counting(account, id).await
    })
    .await
}

#[derive(Deserialize, Default)]
struct PledgeForm {
    #[serde(default)]
    on: String,
    #[serde(default)]
    target_id: i64,
    #[serde(default)]
    action: String,
    /// YYYY-MM-DD, or empty.
    #[serde(default)]
    due_on: String,
}

#[derive(Template)]
#[template(path = "pledge_form.html")]
struct PledgeFormPage {
    viewer: Option<Viewer>,
    csrf: String,
    target_noun: String,
    target_title: String,
    target_path: String,
    form: PledgeForm,
    error: String,
}

async fn form_page(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    form: PledgeForm,
    error: String,
) -> PageResult<Response> {
    let account = signed_in(session)?;
    let kind = PledgeTarget::parse(&form.on).ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "pledges are on an event, a question or a garden item",
        )
    })?;
    let target = state
        .processor
        .pledges()
        .target((&account).into(), kind, form.target_id)
        .await?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(PledgeFormPage {
        viewer: session.viewer(),
        csrf,
        target_noun: kind.noun().to_owned(),
        target_title: target.title.clone(),
        target_path: target_path(&target),
        form,
        error,
    })?;
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
struct NewFormQuery {
    on: String,
    id: i64,
}

async fn new_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Query(query): Query<NewFormQuery>,
) -> PageResult<Response> {
    let form = PledgeForm {
        on: query.on,
        target_id: query.id,
        ..PledgeForm::default()
    };
    form_page(&state, jar, &session, form, String::new()).await
}

async fn create_from_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<PledgeForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let due_on = match form.due_on.trim() {
        "" => Ok(None),
        raw => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ApiError::new(ErrorKind::Validation, "give the date as YYYY-MM-DD")),
    };
    let result = match due_on {
        Ok(due_on) => {
            let body = NewPledge {
                on: form.on.clone(),
                target_id: form.target_id,
                action: form.action.clone(),
                due_on,
            };
            offer(&state, &account, body).await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(id) => Ok(Redirect::to(&pledge_path(id)).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::Forbidden) => {
            let message = err.message;
            form_page(&state, jar, &session, form, message).await
        }
        Err(err) => Err(err.into()),
    }
}
