//! The JSON API under `/api/v1`, described by the OpenAPI document at
//! `/api/openapi.json`.

use crate::{
    AppState,
    auth::{ApiAccount, ApiAdmin},
    error::{ApiError, ApiResult, ErrorBody},
};
use axum::{
    Json, Router,
    extract::{FromRequest, Path, Query, Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use healthcommons_core::ErrorKind;
use healthcommons_db::entities::{FollowState, InboxState};
use healthcommons_db::queries;
use healthcommons_service::{
    accounts::{self, Registration, RegistrationOutcome},
    groups,
    node::{self, RegistrationMode},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/accounts", post(create_account))
        .route("/api/v1/auth/token", post(create_token))
        .route("/api/v1/instance", get(instance))
        .route("/api/v1/groups", post(create_group))
        .route("/api/v1/groups/{name}", get(get_group))
        .route("/api/v1/groups/{name}/requests", get(list_requests))
        .route("/api/v1/groups/{name}/requests/{id}", post(decide_request))
        .route(
            "/api/v1/follows",
            post(create_follow).get(list_follows).delete(delete_follow),
        )
        .route("/api/v1/admin/registration", put(set_registration))
        .route("/api/v1/admin/deliveries", get(delivery_queue))
        .route("/api/v1/admin/inbox", get(inbox_activities))
        .route("/api/v1/admin/accounts", get(list_accounts))
        .route("/api/v1/admin/accounts/{name}/approve", post(approve_account))
        .route(
            "/api/v1/admin/accounts/{name}/suspension",
            put(suspend_account).delete(unsuspend_account),
        )
        .route("/api/v1/admin/blocks", post(block_node))
        .route("/api/v1/admin/blocks/{host}", delete(unblock_node))
}

/// `Json` whose rejections use our error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::new(ErrorKind::Validation, rejection.body_text())),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Health Commons API", description = "The JSON API of a Health Commons node."),
    paths(
        create_account, create_token, instance, create_group, get_group, list_requests, decide_request,
        create_follow, list_follows, delete_follow, set_registration, delivery_queue,
        block_node, unblock_node, inbox_activities, list_accounts, approve_account,
        suspend_account, unsuspend_account
    ),
    components(schemas(
        ErrorBody, CreateAccount, CreatedAccount, TokenRequest, TokenResponse, Instance, Software, PlaceDto,
        CreateGroup, CreatedGroup, Group, FollowTarget, FollowView, FollowRequestView, Decision,
        RegistrationSetting, QueueRow, PeerView, DeliveryQueue, BlockRequest, InboxRow, AccountRow
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::discussions::DiscussionsDoc::openapi());
    doc.merge(crate::group_moderation::GroupModerationDoc::openapi());
    doc.merge(crate::garden::GardenDoc::openapi());
    doc.merge(crate::events::EventsDoc::openapi());
    doc.merge(crate::agenda::AgendaDoc::openapi());
    doc.merge(crate::pledges::PledgesDoc::openapi());
    doc.merge(crate::garden_archive::GardenArchiveDoc::openapi());
    doc.merge(crate::map::MapDoc::openapi());
    doc.merge(crate::node_admin::NodeAdminDoc::openapi());
    Json(doc)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateAccount {
    /// 1–30 characters: a-z, 0-9 and _.
    pub username: String,
    pub password: String,
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedAccount {
    pub username: String,
    pub actor_id: String,
    /// `active`, or `awaiting_approval` when an admin approves new accounts.
    pub state: String,
}

/// Register an account (subject to the node's registration policy).
#[utoipa::path(post, path = "/api/v1/accounts", request_body = CreateAccount,
    responses((status = 201, body = CreatedAccount), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_account(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<Response> {
    let (account, outcome) = accounts::register(
        state.db(),
        &state.context().node,
        Registration {
            username: &body.username,
            password: &body.password,
            email: body.email.as_deref(),
        },
    )
    .await?;
    let created = CreatedAccount {
        username: account.user.username,
        actor_id: account.person.ap_id,
        state: match outcome {
            RegistrationOutcome::Active => "active".into(),
            RegistrationOutcome::AwaitingApproval => "awaiting_approval".into(),
        },
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer TOKEN`.
    pub token: String,
}

/// Exchange a name and password for an API token.
#[utoipa::path(post, path = "/api/v1/auth/token", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let account = accounts::authenticate(state.db(), &body.username, &body.password).await?;
    let token = accounts::issue_api_token(state.db(), &account).await?;
    Ok(Json(TokenResponse { token }))
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct PlaceDto {
    pub name: String,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl From<node::Place> for PlaceDto {
    fn from(place: node::Place) -> Self {
        PlaceDto {
            name: place.name,
            address: place.address,
            latitude: place.latitude,
            longitude: place.longitude,
        }
    }
}

impl From<PlaceDto> for node::Place {
    fn from(place: PlaceDto) -> Self {
        node::Place {
            name: place.name,
            address: place.address,
            latitude: place.latitude,
            longitude: place.longitude,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Software {
    pub name: String,
    pub version: String,
}

#[derive(Serialize, ToSchema)]
pub struct Instance {
    pub domain: String,
    pub initiative_name: String,
    pub description: String,
    pub location: Option<PlaceDto>,
    pub website: Option<String>,
    pub contact: Option<String>,
    pub software: Software,
    /// `open`, `approval` or `closed`.
    pub registration_mode: String,
    pub users: u64,
    pub working_groups: u64,
}

/// The node's profile: the initiative that runs it, and the software.
#[utoipa::path(get, path = "/api/v1/instance", responses((status = 200, body = Instance)))]
async fn instance(State(state): State<AppState>) -> ApiResult<Json<Instance>> {
    let db = state.db();
    let profile = state.processor.node_admin().profile().await?;
    Ok(Json(Instance {
        domain: state.context().node.domain.clone(),
        initiative_name: profile.initiative_name,
        description: profile.description,
        location: profile.location.map(PlaceDto::from),
        website: profile.website,
        contact: profile.contact,
        software: Software {
            name: healthcommons_federation::discovery::SOFTWARE_NAME.into(),
            version: healthcommons_federation::discovery::SOFTWARE_VERSION.into(),
        },
        registration_mode: state
            .processor
            .node_admin()
            .registration_mode()
            .await?
            .as_str()
            .into(),
        users: queries::users::count_active(db).await?,
        working_groups: queries::actors::count_local_groups(db).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateGroup {
    pub name: String,
    pub display_name: String,
    /// Markdown.
    #[serde(default)]
    pub summary: String,
    /// Followers wait for a moderator's approval.
    #[serde(default)]
    pub manually_approves_followers: bool,
    /// Who may post, who may read, topics, place, rules.
    #[serde(flatten, default)]
    pub settings: crate::discussions::GroupSettingsUpdate,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedGroup {
    pub name: String,
    pub actor_id: String,
}

/// Create a working group; its creator is its first moderator.
#[utoipa::path(post, path = "/api/v1/groups", request_body = CreateGroup, security(("bearer" = [])),
    responses((status = 201, body = CreatedGroup), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_group(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<CreateGroup>,
) -> ApiResult<Response> {
    let group = state
        .processor
        .groups()
        .create(
            &account,
            groups::NewGroup {
                name: &body.name,
                display_name: &body.display_name,
                summary: &body.summary,
                manually_approves_followers: body.manually_approves_followers,
                settings: body.settings.as_settings(),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedGroup {
            name: group.username,
            actor_id: group.ap_id,
        }),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct Group {
    pub name: String,
    pub display_name: Option<String>,
    pub summary_html: Option<String>,
    pub actor_id: String,
    pub handle: String,
    pub followers_count: u64,
    pub manually_approves_followers: bool,
}

/// A local working group.
#[utoipa::path(get, path = "/api/v1/groups/{name}", params(("name" = String, Path)),
    responses((status = 200, body = Group), (status = 404, body = ErrorBody)))]
async fn get_group(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Group>> {
    let view = state.processor.groups().view(&name).await?;
    Ok(Json(Group {
        handle: view.group.handle(),
        name: view.group.username,
        display_name: view.group.display_name,
        summary_html: view.group.summary_html,
        actor_id: view.group.ap_id,
        followers_count: view.followers_count,
        manually_approves_followers: view.group.manually_approves_followers,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct FollowRequestView {
    pub id: i64,
    pub actor_id: String,
    pub handle: String,
}

/// Pending requests to join a group that approves followers by hand.
#[utoipa::path(get, path = "/api/v1/groups/{name}/requests", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<FollowRequestView>), (status = 403, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<FollowRequestView>>> {
    let group_id = state.processor.groups().moderated(&account, &name).await?.id;
    let mut out = Vec::new();
    for request in queries::follows::pending_for_target(state.db(), group_id).await? {
        if let Some(actor) = queries::actors::by_id(state.db(), request.follower_id).await? {
            out.push(FollowRequestView {
                id: request.id,
                handle: actor.handle(),
                actor_id: actor.ap_id,
            });
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, ToSchema)]
pub struct Decision {
    pub accept: bool,
}

/// Accept or reject a request to join.
#[utoipa::path(post, path = "/api/v1/groups/{name}/requests/{id}", request_body = Decision,
    params(("name" = String, Path), ("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn decide_request(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path((name, id)): Path<(String, i64)>,
    ApiJson(body): ApiJson<Decision>,
) -> ApiResult<StatusCode> {
    state
        .processor
        .follows()
        .decide(&account, &name, id, body.accept)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct FollowTarget {
    /// `@name@host` or an actor URL.
    pub target: String,
}

#[derive(Serialize, ToSchema)]
pub struct FollowView {
    pub target: String,
    pub handle: String,
    /// The display name as this node last saw it.
    pub name: Option<String>,
    /// `pending`, `accepted` or `rejected`.
    pub state: String,
}

async fn follow_view(
    state: &AppState,
    row: &healthcommons_db::entities::follow::Model,
) -> ApiResult<FollowView> {
    let target = queries::actors::by_id(state.db(), row.target_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "the followed actor is gone"))?;
    Ok(FollowView {
        handle: target.handle(),
        name: target.display_name,
        target: target.ap_id,
        state: row.state.to_string(),
    })
}

/// Follow a person or working group, here or on another node.
#[utoipa::path(post, path = "/api/v1/follows", request_body = FollowTarget, security(("bearer" = [])),
    responses((status = 200, description = "accepted", body = FollowView),
              (status = 202, description = "waiting for the target to accept", body = FollowView),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn create_follow(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<FollowTarget>,
) -> ApiResult<Response> {
    let row = state
        .processor
        .follows()
        .follow_named(&account.person, &body.target)
        .await?;
    let status = if row.state == FollowState::Accepted {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(follow_view(&state, &row).await?)).into_response())
}

/// Everything the caller follows, with its state.
#[utoipa::path(get, path = "/api/v1/follows", security(("bearer" = [])),
    responses((status = 200, body = Vec<FollowView>), (status = 401, body = ErrorBody)))]
async fn list_follows(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
) -> ApiResult<Json<Vec<FollowView>>> {
    let mut out = Vec::new();
    for row in queries::follows::of_follower(state.db(), account.person.id).await? {
        out.push(follow_view(&state, &row).await?);
    }
    Ok(Json(out))
}

/// Stop following (leave a working group).
#[utoipa::path(delete, path = "/api/v1/follows", params(("target" = String, Query, description = "actor URL")),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_follow(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Query(query): Query<FollowTarget>,
) -> ApiResult<StatusCode> {
    let target = queries::actors::by_ap_id(state.db(), &query.target)
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "not following that actor"))?;
    state
        .processor
        .follows()
        .unfollow(&account.person, &target)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct RegistrationSetting {
    /// `open`, `approval` or `closed`.
    pub mode: String,
}

/// Set who may register (admin).
#[utoipa::path(put, path = "/api/v1/admin/registration", request_body = RegistrationSetting, security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_registration(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    ApiJson(body): ApiJson<RegistrationSetting>,
) -> ApiResult<StatusCode> {
    let mode = RegistrationMode::parse(&body.mode)
        .ok_or_else(|| ApiError::new(ErrorKind::Validation, "mode must be open, approval or closed"))?;
    state.processor.node_admin().set_registration_mode(mode).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct QueueRow {
    pub peer: String,
    pub state: String,
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PeerView {
    pub host: String,
    pub unreachable: bool,
    pub blocked: bool,
    pub consecutive_failures: i32,
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    pub last_seen_at: Option<String>,
    /// Since when it answers our deliveries with 401 or 403.
    pub refusing_since: Option<String>,
    /// Its last such answer.
    pub last_refusal: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryQueue {
    pub queue: Vec<QueueRow>,
    pub peers: Vec<PeerView>,
}

/// The delivery queue per peer, and each peer's health (admin).
#[utoipa::path(get, path = "/api/v1/admin/deliveries", security(("bearer" = [])),
    responses((status = 200, body = DeliveryQueue), (status = 403, body = ErrorBody)))]
async fn delivery_queue(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
) -> ApiResult<Json<DeliveryQueue>> {
    Ok(Json(queue_snapshot(&state).await?))
}

pub async fn queue_snapshot(state: &AppState) -> ApiResult<DeliveryQueue> {
    let queue = queries::deliveries::queue_by_peer(state.db())
        .await?
        .into_iter()
        .map(|r| QueueRow {
            peer: r.peer_host,
            state: r.state.to_string(),
            count: r.count,
        })
        .collect();
    let peers = queries::peers::all(state.db())
        .await?
        .into_iter()
        .map(|p| PeerView {
            host: p.host,
            unreachable: p.unreachable,
            blocked: p.blocked,
            consecutive_failures: p.consecutive_failures,
            failing_since: p.failing_since.map(|t| t.to_rfc3339()),
            last_success_at: p.last_success_at.map(|t| t.to_rfc3339()),
            last_seen_at: p.last_seen_at.map(|t| t.to_rfc3339()),
            refusing_since: p.refusing_since.map(|t| t.to_rfc3339()),
            last_refusal: p.last_refusal,
        })
        .collect();
    Ok(DeliveryQueue { queue, peers })
}

#[derive(Deserialize, ToSchema)]
pub struct BlockRequest {
    /// The node's host, e.g. `spam.example`.
    pub host: String,
}

/// Block a whole node: nothing from it is accepted, nothing is sent to it (admin).
#[utoipa::path(post, path = "/api/v1/admin/blocks", request_body = BlockRequest, security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn block_node(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    ApiJson(body): ApiJson<BlockRequest>,
) -> ApiResult<StatusCode> {
    set_node_blocked(&state, &body.host, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Block a node or lift the block, for the API and the admin page.
pub async fn set_node_blocked(state: &AppState, host: &str, blocked: bool) -> ApiResult<()> {
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() || host.contains('/') || host == state.context().node.domain {
        return Err(ApiError::new(
            ErrorKind::Validation,
            "give another node's host, e.g. spam.example",
        ));
    }
    queries::peers::set_blocked(state.db(), &host, blocked).await?;
    state.context().inbox_cache.forget_peer(&host);
    Ok(())
}

/// Lift a block (admin).
#[utoipa::path(delete, path = "/api/v1/admin/blocks/{host}", params(("host" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody)))]
async fn unblock_node(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    Path(host): Path<String>,
) -> ApiResult<StatusCode> {
    set_node_blocked(&state, &host, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct InboxQuery {
    /// `failed` (refused, or not acted on), `pending` or `done`.
    pub state: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InboxRow {
    pub id: String,
    pub actor: String,
    pub kind: String,
    pub state: String,
    pub attempts: i32,
    pub reason: Option<String>,
    pub received_at: String,
}

/// Incoming activities by state, newest first (admin): what was refused or
/// is not acted on by this node, with the reason.
#[utoipa::path(get, path = "/api/v1/admin/inbox",
    params(("state" = Option<String>, Query, description = "failed (default), pending or done")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<InboxRow>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn inbox_activities(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    Query(query): Query<InboxQuery>,
) -> ApiResult<Json<Vec<InboxRow>>> {
    Ok(Json(
        recent_inbox(
            &state,
            query.state.as_deref().unwrap_or(InboxState::Failed.as_str()),
        )
        .await?,
    ))
}

pub async fn recent_inbox(state: &AppState, wanted: &str) -> ApiResult<Vec<InboxRow>> {
    let wanted = InboxState::parse(wanted)
        .ok_or_else(|| ApiError::new(ErrorKind::Validation, "state must be failed, pending or done"))?;
    Ok(queries::inbox::recent_in_state(state.db(), wanted, 100)
        .await?
        .into_iter()
        .map(|row| InboxRow {
            id: row.ap_id,
            actor: row.actor_ap_id,
            kind: row.kind,
            state: row.state.to_string(),
            attempts: row.attempts,
            reason: row.last_error,
            received_at: row.received_at.to_rfc3339(),
        })
        .collect())
}

#[derive(Serialize, ToSchema)]
pub struct AccountRow {
    pub username: String,
    /// `member`, `moderator` or `admin`.
    pub role: String,
    /// `active`, `awaiting_approval` or `suspended`.
    pub state: String,
}

/// Every account on this node with its role and standing (admin).
#[utoipa::path(get, path = "/api/v1/admin/accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<AccountRow>), (status = 403, body = ErrorBody)))]
async fn list_accounts(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
) -> ApiResult<Json<Vec<AccountRow>>> {
    Ok(Json(
        queries::users::all(state.db())
            .await?
            .iter()
            .map(|user| AccountRow {
                username: user.username.clone(),
                role: user.role.to_string(),
                state: accounts::standing(user).to_owned(),
            })
            .collect(),
    ))
}

/// Approve an account that waits for approval (admin).
#[utoipa::path(post, path = "/api/v1/admin/accounts/{name}/approve", params(("name" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn approve_account(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    accounts::approve(state.db(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/admin/accounts/{name}/suspension", params(("name" = String, Path)),
    security(("bearer" = [])),
    description = "Suspend an account: it can no longer sign in, post or send anything to other nodes.",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn suspend_account(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    accounts::set_suspended(state.db(), &admin, &name, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/admin/accounts/{name}/suspension", params(("name" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unsuspend_account(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    accounts::set_suspended(state.db(), &admin, &name, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
