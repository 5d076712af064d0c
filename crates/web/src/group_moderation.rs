//! The API for a working group's moderators: bans and the moderators list.
//! People are named as a local username, `@name@host`, or an actor URL.

use crate::{
    AppState,
    api::ApiJson,
    auth::ApiAccount,
    error::{ApiResult, ErrorBody},
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get},
};
use healthcommons_db::entities::actor;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/groups/{name}/bans", get(list_bans).post(ban))
        .route("/api/v1/groups/{name}/bans/{person}", delete(lift_ban))
        .route(
            "/api/v1/groups/{name}/moderators",
            get(list_moderators).post(add_moderator),
        )
        .route(
            "/api/v1/groups/{name}/moderators/{person}",
            delete(remove_moderator),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(list_bans, ban, lift_ban, list_moderators, add_moderator, remove_moderator),
    components(schemas(BanRequest, BanView, PersonRef, PersonView))
)]
pub struct GroupModerationDoc;

#[derive(Deserialize, ToSchema)]
pub struct BanRequest {
    /// A local username, `@name@host`, or an actor URL.
    pub person: String,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BanView {
    pub person: PersonView,
    pub reason: Option<String>,
    pub banned_at: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PersonRef {
    /// A local username, `@name@host`, or an actor URL.
    pub person: String,
}

#[derive(Serialize, ToSchema)]
pub struct PersonView {
    /// The ActivityPub id.
    pub id: String,
    pub handle: String,
    pub name: Option<String>,
}

impl From<&actor::Model> for PersonView {
    fn from(actor: &actor::Model) -> Self {
        PersonView {
            id: actor.ap_id.clone(),
            handle: actor.handle(),
            name: actor.display_name.clone(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/groups/{name}/bans", params(("name" = String, Path)),
    security(("bearer" = [])),
    description = "Who is banned from a local working group (its moderators only).",
    responses((status = 200, body = [BanView]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_bans(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<BanView>>> {
    let group = state.processor.groups().moderated(&account, &name).await?;
    let bans = state.processor.groups().bans(&group).await?;
    Ok(Json(
        bans.iter()
            .map(|(ban, person)| BanView {
                person: person.into(),
                reason: ban.reason.clone(),
                banned_at: ban.created_at.to_rfc3339(),
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/groups/{name}/bans", params(("name" = String, Path)),
    request_body = BanRequest, security(("bearer" = [])),
    description = "Ban a person from a local working group. Federated as a `Block` with the group as target.",
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn ban(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<BanRequest>,
) -> ApiResult<StatusCode> {
    set_ban(
        &state,
        &account,
        &name,
        &body.person,
        true,
        body.reason.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/groups/{name}/bans/{person}",
    params(("name" = String, Path), ("person" = String, Path, description = "url-encoded")),
    security(("bearer" = [])),
    description = "Lift a ban. Federated as `Undo{Block}`.",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn lift_ban(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path((name, person)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_ban(&state, &account, &name, &person, false, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ban or lift a ban, for the API and the pages.
pub async fn set_ban(
    state: &AppState,
    account: &healthcommons_service::accounts::Account,
    group: &str,
    person: &str,
    banned: bool,
    reason: Option<&str>,
) -> ApiResult<()> {
    // Only moderators get to make this node look people up elsewhere.
    state.processor.groups().moderated(account, group).await?;
    let person = state.processor.follows().find_person(person).await?;
    state
        .processor
        .groups()
        .set_ban(account, group, &person, banned, reason)
        .await?;
    Ok(())
}

/// Add or remove a moderator, for the API and the pages.
pub async fn set_moderator(
    state: &AppState,
    account: &healthcommons_service::accounts::Account,
    group: &str,
    person: &str,
    added: bool,
) -> ApiResult<()> {
    // Only moderators get to make this node look people up elsewhere.
    state.processor.groups().moderated(account, group).await?;
    let person = state.processor.follows().find_person(person).await?;
    state
        .processor
        .groups()
        .set_moderator(account, group, &person, added)
        .await?;
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/groups/{name}/moderators", params(("name" = String, Path)),
    description = "Who moderates a local working group.",
    responses((status = 200, body = [PersonView]), (status = 404, body = ErrorBody)))]
async fn list_moderators(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<PersonView>>> {
    let view = state.processor.groups().view(&name).await?;
    Ok(Json(view.moderators.iter().map(PersonView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/groups/{name}/moderators", params(("name" = String, Path)),
    request_body = PersonRef, security(("bearer" = [])),
    description = "Add a moderator (here or on another node). Federated as `Add` to the moderators collection.",
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_moderator(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PersonRef>,
) -> ApiResult<StatusCode> {
    set_moderator(&state, &account, &name, &body.person, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/groups/{name}/moderators/{person}",
    params(("name" = String, Path), ("person" = String, Path, description = "url-encoded")),
    security(("bearer" = [])),
    description = "Remove a moderator; a group keeps at least one. Federated as `Remove`.",
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_moderator(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path((name, person)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_moderator(&state, &account, &name, &person, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
