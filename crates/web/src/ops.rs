//! Liveness, readiness and metrics.

use crate::AppState;
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use healthcommons_db::entities::{DeliveryState, InboxState};
use serde_json::json;
use std::sync::atomic::Ordering;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.db().ping().await.is_ok();
    let migrations = healthcommons_db::migrations_current(state.db())
        .await
        .unwrap_or(false);
    let delivery = state.workers.delivery_alive.load(Ordering::SeqCst);
    let inbox = state.workers.inbox_alive.load(Ordering::SeqCst);
    let email_on = state.context().node.email;
    let mail = state.workers.mail_alive.load(Ordering::SeqCst);
    let ready = database && migrations && delivery && inbox && (mail || !email_on);
    let email = match (email_on, mail) {
        (false, _) => "off",
        (true, true) => "running",
        (true, false) => "stopped",
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "database": database,
        "migrations_current": migrations,
        "delivery_worker": delivery,
        "inbox_worker": inbox,
        "email": email,
    });
    (status, Json(body)).into_response()
}

/// The metrics endpoint, served on its own bind address.
pub fn metrics_app(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let context = state.context();
    if let Ok(rows) = healthcommons_db::queries::deliveries::queue_by_peer(&context.db).await {
        context.metrics.queue_depth.reset();
        for row in rows.iter().filter(|r| r.state == DeliveryState::Pending) {
            context
                .metrics
                .queue_depth
                .with_label_values(&[&row.peer_host])
                .set(row.count);
        }
    }
    if let Ok(pending) =
        healthcommons_db::queries::inbox::count_in_state(&context.db, InboxState::Pending).await
    {
        context.metrics.inbox_pending.set(pending as i64);
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        context.metrics.render(),
    )
        .into_response()
}
