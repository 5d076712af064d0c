//! The node's profile (the initiative that runs it) and the directory of
//! other nodes, for admins: the API and the page `/admin/node`, which works
//! with forms only.

use crate::auth::CheckedForm;
use crate::{
    AppState,
    api::{ApiJson, PlaceDto, set_node_blocked},
    auth::{self, ApiAdmin, MaybeSession, Viewer},
    error::{ApiError, ApiResult, ErrorBody, PageError, PageResult},
    group_pages::{admin, coordinate},
    pages::render,
};
use askama::Template;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post, put},
};
use axum_extra::extract::cookie::CookieJar;
use healthcommons_core::ErrorKind;
use healthcommons_db::{entities::directory_node, queries};
use healthcommons_service::node::{NodeProfile, Place};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/node/profile", get(get_profile).put(put_profile))
        // The earlier path of the same change, kept for the clients that use it.
        .route("/api/v1/admin/profile", put(put_profile))
        .route("/api/v1/admin/directory", get(list_directory))
        .route(
            "/api/v1/admin/directory/{host}/hidden",
            put(hide_node).delete(show_node),
        )
        .route("/admin/node", get(admin_page))
        .route("/admin/node/profile", post(save_profile_form))
        .route("/admin/node/directory", post(change_directory_form))
}

#[derive(OpenApi)]
#[openapi(
    paths(get_profile, put_profile, list_directory, hide_node, show_node),
    components(schemas(NodeProfileBody, DirectoryEntry))
)]
pub struct NodeAdminDoc;

/// The initiative that runs this node, as shown on the map and published in
/// NodeInfo (`metadata.initiative`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NodeProfileBody {
    /// 1–200 characters, plain text.
    pub initiative_name: String,
    /// Plain text, at most 5,000 characters.
    #[serde(default)]
    pub description: String,
    /// Latitude −90..90 and longitude −180..180, both or neither.
    pub location: Option<PlaceDto>,
    /// Hashtags, without `#`; at most 20.
    #[serde(default)]
    pub topics: Vec<String>,
    /// An http or https URL.
    pub website: Option<String>,
    /// An address, phone number or link, shown as plain text.
    pub contact: Option<String>,
}

impl From<NodeProfile> for NodeProfileBody {
    fn from(profile: NodeProfile) -> Self {
        NodeProfileBody {
            initiative_name: profile.initiative_name,
            description: profile.description,
            location: profile.location.map(PlaceDto::from),
            topics: profile.topics,
            website: profile.website,
            contact: profile.contact,
        }
    }
}

impl From<NodeProfileBody> for NodeProfile {
    fn from(body: NodeProfileBody) -> Self {
        NodeProfile {
            initiative_name: body.initiative_name,
            description: body.description,
            location: body.location.map(Into::into),
            topics: body.topics,
            website: body.website,
            contact: body.contact,
        }
    }
}

/// The node's profile.
#[utoipa::path(get, path = "/api/v1/node/profile", responses((status = 200, body = NodeProfileBody)))]
async fn get_profile(State(state): State<AppState>) -> ApiResult<Json<NodeProfileBody>> {
    Ok(Json(state.processor.node_admin().profile().await?.into()))
}

/// Set the node's profile (admin); answers with the profile as stored.
#[utoipa::path(put, path = "/api/v1/node/profile", request_body = NodeProfileBody, security(("bearer" = [])),
    responses((status = 200, body = NodeProfileBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_profile(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    ApiJson(body): ApiJson<NodeProfileBody>,
) -> ApiResult<Json<NodeProfileBody>> {
    Ok(Json(
        state
            .processor
            .node_admin()
            .set_profile(body.into())
            .await?
            .into(),
    ))
}

/// A node in the directory, as admins see it.
#[derive(Serialize, ToSchema)]
pub struct DirectoryEntry {
    pub host: String,
    /// 1: this node dealt with it; 2: named by such a peer; and so on.
    pub hops: i32,
    pub learned_from: Option<String>,
    pub initiative_name: Option<String>,
    pub software: Option<String>,
    pub hidden: bool,
    pub blocked: bool,
    pub fetched_at: Option<String>,
    pub failures: i32,
    pub last_error: Option<String>,
}

async fn directory_entries(state: &AppState) -> ApiResult<Vec<DirectoryEntry>> {
    let blocked = queries::directory::blocked_hosts(state.db()).await?;
    Ok(queries::directory::all(state.db())
        .await?
        .into_iter()
        .map(|n: directory_node::Model| DirectoryEntry {
            blocked: blocked.contains(&n.host),
            host: n.host,
            hops: n.hops,
            learned_from: n.learned_from,
            initiative_name: n.initiative_name,
            software: n.software,
            hidden: n.hidden,
            fetched_at: n.fetched_at.map(|t| t.to_rfc3339()),
            failures: n.failures,
            last_error: n.last_error,
        })
        .collect())
}

/// Every node in the directory, nearest first (admin).
#[utoipa::path(get, path = "/api/v1/admin/directory", security(("bearer" = [])),
    responses((status = 200, body = Vec<DirectoryEntry>), (status = 403, body = ErrorBody)))]
async fn list_directory(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
) -> ApiResult<Json<Vec<DirectoryEntry>>> {
    Ok(Json(directory_entries(&state).await?))
}

/// Hide a node from this node's map and from the peers it publishes (admin).
/// To refuse all federation with it, block it instead.
#[utoipa::path(put, path = "/api/v1/admin/directory/{host}/hidden", params(("host" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn hide_node(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    Path(host): Path<String>,
) -> ApiResult<StatusCode> {
    state.processor.directory().set_hidden(&host, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Show a hidden node again (admin).
#[utoipa::path(delete, path = "/api/v1/admin/directory/{host}/hidden", params(("host" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show_node(
    State(state): State<AppState>,
    ApiAdmin(_admin): ApiAdmin,
    Path(host): Path<String>,
) -> ApiResult<StatusCode> {
    state.processor.directory().set_hidden(&host, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The profile form as submitted, and as shown again.
#[derive(Deserialize, Default)]
struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    initiative_name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    place_name: String,
    #[serde(default)]
    place_address: String,
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
    #[serde(default)]
    topics: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    contact: String,
}

impl ProfileForm {
    fn of(profile: NodeProfile) -> Self {
        let place = profile.location.unwrap_or(Place {
            name: String::new(),
            address: None,
            latitude: None,
            longitude: None,
        });
        ProfileForm {
            csrf: String::new(),
            initiative_name: profile.initiative_name,
            description: profile.description,
            place_name: place.name,
            place_address: place.address.unwrap_or_default(),
            latitude: place.latitude.map(|l| l.to_string()).unwrap_or_default(),
            longitude: place.longitude.map(|l| l.to_string()).unwrap_or_default(),
            topics: profile.topics.join(" "),
            website: profile.website.unwrap_or_default(),
            contact: profile.contact.unwrap_or_default(),
        }
    }

    fn to_profile(&self) -> Result<NodeProfile, ApiError> {
        let latitude = coordinate(&self.latitude, "latitude")?;
        let longitude = coordinate(&self.longitude, "longitude")?;
        Ok(NodeProfile {
            initiative_name: self.initiative_name.clone(),
            description: self.description.clone(),
            location: Some(Place {
                name: self.place_name.clone(),
                address: Some(self.place_address.clone()),
                latitude,
                longitude,
            }),
            topics: self
                .topics
                .split([' ', ','])
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            website: Some(self.website.clone()),
            contact: Some(self.contact.clone()),
        })
    }
}

#[derive(Template)]
#[template(path = "admin_node.html")]
struct AdminNodePage {
    viewer: Option<Viewer>,
    csrf: String,
    form: ProfileForm,
    error: String,
    saved: bool,
    directory: Vec<DirectoryEntry>,
    email_on: bool,
    pending_emails: u64,
}

async fn render_admin_page(
    state: &AppState,
    session: &MaybeSession,
    csrf: String,
    form: ProfileForm,
    error: String,
    saved: bool,
) -> PageResult<Response> {
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = render(AdminNodePage {
        viewer: session.viewer(),
        csrf,
        form,
        error,
        saved,
        directory: directory_entries(state).await?,
        email_on: state.context().node.email,
        pending_emails: healthcommons_service::mail::waiting_count(state.db()).await?,
    })?;
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn admin_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    axum::extract::Query(query): axum::extract::Query<SavedQuery>,
) -> PageResult<Response> {
    admin(&session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let form = ProfileForm::of(state.processor.node_admin().profile().await?);
    let page = render_admin_page(&state, &session, csrf, form, String::new(), query.saved.is_some()).await?;
    Ok((jar, page).into_response())
}

async fn save_profile_form(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<ProfileForm>,
) -> PageResult<Response> {
    admin(&session)?;
    let saved = match form.to_profile() {
        Ok(profile) => state
            .processor
            .node_admin()
            .set_profile(profile)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match saved {
        Ok(_) => Ok(Redirect::to("/admin/node?saved=1").into_response()),
        Err(err) if err.kind == ErrorKind::Validation => {
            let csrf = form.csrf.clone();
            render_admin_page(&state, &session, csrf, form, err.message, false).await
        }
        Err(err) => Err(PageError(err)),
    }
}

#[derive(Deserialize)]
struct DirectoryAction {
    host: String,
    action: String,
}

async fn change_directory_form(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<DirectoryAction>,
) -> PageResult<Response> {
    admin(&session)?;
    let _db = state.db();
    match form.action.as_str() {
        "hide" => state.processor.directory().set_hidden(&form.host, true).await?,
        "show" => state.processor.directory().set_hidden(&form.host, false).await?,
        "block" => set_node_blocked(&state, &form.host, true).await?,
        "unblock" => set_node_blocked(&state, &form.host, false).await?,
        _ => return Err(PageError(ApiError::new(ErrorKind::Validation, "unknown action"))),
    }
    Ok(Redirect::to("/admin/node").into_response())
}
