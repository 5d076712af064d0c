//! The HTTP face of a node: `app(state)` builds the whole router.
//!
//! Handlers only parse and authorise; the rules live in the service layer and
//! the federation crate, so a page, the API and the inbox never disagree.

pub mod activitypub;
pub mod agenda;
pub mod api;
pub mod auth;
pub mod discussions;
pub mod email_pages;
pub mod error;
pub mod event_pages;
pub mod events;
pub mod garden;
pub mod garden_archive;
pub mod garden_pages;
pub mod group_moderation;
pub mod group_pages;
pub mod limits;
pub mod map;
pub mod node_admin;
pub mod notifications;
pub mod ops;
pub mod pages;
pub mod pledges;
pub mod read_cache;
pub mod thread_pages;
pub mod wellknown;

use activitypub_federation::config::FederationConfig;
use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    middleware::{self, Next},
    response::Response,
};
use healthcommons_db::Db;
use healthcommons_federation::{FederationContext, RequestData};
use healthcommons_service::Processor;
use http::{HeaderValue, header};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

/// Whether the background workers are running (for `/readyz`).
#[derive(Default)]
pub struct WorkerStatus {
    pub delivery_alive: AtomicBool,
    pub inbox_alive: AtomicBool,
    /// The mail worker; it runs only when an SMTP server is configured.
    pub mail_alive: AtomicBool,
}

/// Sets a worker's flag while it lives and clears it when it ends or panics.
pub struct AliveGuard<'a>(pub &'a AtomicBool);

impl<'a> AliveGuard<'a> {
    pub fn new(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::SeqCst);
        AliveGuard(flag)
    }
}

impl Drop for AliveGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// What every handler shares. Axum clones the state for each request and
/// each middleware layer, so it is one `Arc`: cloning the fields themselves
/// (the federation config, its caches and metrics, strings) was a fifth of
/// the node's CPU in a profile of cached reads.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub federation: FederationConfig<FederationContext>,
    pub workers: Arc<WorkerStatus>,
    /// Mark cookies `Secure` (on unless dev federation serves plain http).
    pub secure_cookies: bool,
    pub map_tiles: MapTiles,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Anonymous public reads, kept until the next write (see `read_cache`).
    pub read_cache: read_cache::ReadCache,
    /// Read-only connections for reads that never write (see
    /// `healthcommons_db::open_readers`).
    pub readers: Db,
    /// Every use case of the pages and the API (see `healthcommons_service::processor`).
    pub processor: Processor,
}

/// Where maps take their tiles from, and the credit they show.
#[derive(Clone, Debug)]
pub struct MapTiles {
    pub url: String,
    pub attribution: String,
}

impl Shared {
    pub fn data(&self) -> RequestData {
        self.federation.to_request_data()
    }
    pub fn context(&self) -> &FederationContext {
        &self.federation
    }
    pub fn db(&self) -> &Db {
        &self.context().db
    }
    /// For the hot reads (who is signed in, group and thread pages, actors):
    /// they run beside each other instead of queueing on SQLite's writer.
    pub fn read_db(&self) -> &Db {
        &self.readers
    }
}

/// Largest body for anything but the inbox (forms and API requests).
const MAX_BODY: usize = 1024 * 1024;

pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(thread_pages::routes())
        .merge(api::routes())
        .merge(discussions::routes())
        .merge(email_pages::routes())
        .merge(agenda::routes())
        .merge(pledges::routes())
        .merge(events::routes())
        .merge(event_pages::routes())
        .merge(garden::routes())
        .merge(garden_pages::routes())
        .merge(garden_archive::routes())
        .merge(group_moderation::routes())
        .merge(group_pages::routes())
        .merge(map::routes())
        .merge(node_admin::routes())
        .merge(notifications::routes())
        .merge(activitypub::routes(state.context().settings.max_inbox_body))
        .merge(wellknown::routes())
        .merge(ops::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            read_cache::micro_cache,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::authorized_fetch,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_sign_ins,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count_and_harden))
        .with_state(state)
}

/// Count every response for the metrics and set the security headers.
async fn count_and_harden(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let mut response = next.run(request).await;
    state
        .context()
        .metrics
        .http_requests
        .with_label_values(&[&method, response.status().as_str()])
        .inc();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
             object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
