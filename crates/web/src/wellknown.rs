//! `/.well-known/*` and NodeInfo: how other servers discover this node.

use crate::{AppState, error::ApiError};
use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use healthcommons_core::ErrorKind;
use healthcommons_db::entities::ActorKind;
use healthcommons_db::queries;
use healthcommons_federation::discovery::{self, NodeStats};
use healthcommons_service::node::RegistrationMode;
use serde::Deserialize;
use url::Url;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/host-meta", get(host_meta))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.0", get(nodeinfo_20))
        .route("/nodeinfo/2.1", get(nodeinfo_21))
}

#[derive(Deserialize)]
struct WebfingerQuery {
    resource: Option<String>,
}

async fn webfinger(
    State(state): State<AppState>,
    Query(query): Query<WebfingerQuery>,
) -> Result<Response, ApiError> {
    let resource = query
        .resource
        .ok_or_else(|| ApiError::new(ErrorKind::Validation, "give ?resource=acct:name@host"))?;
    let domain = &state.context().node.domain;
    let row = if let Some(acct) = resource.strip_prefix("acct:") {
        let (name, host) = acct
            .rsplit_once('@')
            .ok_or_else(|| ApiError::new(ErrorKind::Validation, "acct: needs name@host"))?;
        if !host.eq_ignore_ascii_case(domain) {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                "that account is not on this node",
            ));
        }
        queries::actors::local_by_username(state.db(), &name.to_ascii_lowercase()).await?
    } else if resource.starts_with("http://") || resource.starts_with("https://") {
        queries::actors::by_ap_id(state.db(), &resource)
            .await?
            .filter(|a| a.local)
    } else {
        return Err(ApiError::new(
            ErrorKind::Validation,
            "resource must be acct:name@host or an actor URL",
        ));
    };
    // The instance actor answers too, as `acct:DOMAIN@DOMAIN` (Mastodon's
    // form): GoToSocial looks up the signer of every request it gets and
    // refused our signed fetches and deliveries without it (issue 21, seen on
    // GoToSocial 0.19.2).
    let row = row.ok_or_else(|| ApiError::new(ErrorKind::NotFound, "no such account"))?;
    let id =
        Url::parse(&row.ap_id).map_err(|_| ApiError::new(ErrorKind::Internal, "stored id is invalid"))?;
    let kind = match row.kind {
        ActorKind::Group => "Group",
        ActorKind::Application => "Application",
        ActorKind::Person => "Person",
    };
    let subject = format!("acct:{}@{}", row.username, domain);
    let body = serde_json::to_string(&discovery::webfinger(&subject, &id, kind))
        .map_err(|_| ApiError::new(ErrorKind::Internal, "internal error"))?;
    Ok(([(http::header::CONTENT_TYPE, "application/jrd+json")], body).into_response())
}

async fn host_meta(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/xrd+xml")],
        discovery::host_meta(state.context().node.urls.base()),
    )
        .into_response()
}

async fn nodeinfo_links(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(discovery::nodeinfo_links(state.context().node.urls.base()))
}

async fn stats(state: &AppState) -> Result<NodeStats, ApiError> {
    let db = state.db();
    let profile = state.processor.node_admin().profile().await?;
    Ok(NodeStats {
        users: queries::users::count_active(db).await?,
        // Discussions arrive with working groups; until then nothing is posted.
        local_posts: 0,
        open_registrations: state.processor.node_admin().registration_mode().await?
            != RegistrationMode::Closed,
        profile,
        groups: queries::actors::count_local_groups(db).await?,
    })
}

fn nodeinfo_response(state: &AppState, version: &str, stats: &NodeStats) -> Response {
    let profile =
        format!("application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/{version}#\"");
    let body = discovery::nodeinfo(version, state.context().node.urls.base(), stats).to_string();
    ([(http::header::CONTENT_TYPE, profile)], body).into_response()
}

async fn nodeinfo_20(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(nodeinfo_response(&state, "2.0", &stats(&state).await?))
}

async fn nodeinfo_21(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(nodeinfo_response(&state, "2.1", &stats(&state).await?))
}
