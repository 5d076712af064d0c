//! Loopback receivers for the fan-out: one HTTP server that answers for any
//! number of host names (`r0000.test:PORT` …), as their inboxes, and counts
//! which inboxes have had something since the last reset.

use anyhow::Result;
use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, http::Uri};
use healthcommons_federation::signatures;
use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// One in this many deliveries has its signature checked, to show the
/// requests are signed properly without letting the receivers take the CPU
/// the node needs.
const CHECK_ONE_IN: usize = 50;

#[derive(Default)]
pub struct Received {
    /// Every inbox that had a POST since the last reset, and when each first did.
    inboxes: Mutex<Arrivals>,
    pub posts: AtomicUsize,
    pub signatures_checked: AtomicUsize,
    pub signatures_bad: AtomicUsize,
    /// The sender's public key, for the signature checks.
    public_key_pem: Mutex<Option<String>>,
}

/// Inboxes (`host/path`) reached since the last reset, in the order they were.
#[derive(Default)]
struct Arrivals {
    reached: HashSet<String>,
    first_post_at: Vec<Instant>,
}

impl Received {
    pub fn reset(&self, public_key_pem: &str) {
        *self.inboxes.lock().unwrap_or_else(|e| e.into_inner()) = Arrivals::default();
        *self.public_key_pem.lock().unwrap_or_else(|e| e.into_inner()) = Some(public_key_pem.to_owned());
    }

    pub fn inboxes(&self) -> usize {
        self.inboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reached
            .len()
    }

    /// When the inboxes were first reached, in order, since the last reset.
    pub fn arrival_times(&self) -> Vec<Instant> {
        self.inboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .first_post_at
            .clone()
    }
}

/// Serve the receivers on `port` until the process ends.
pub async fn start(port: u16) -> Result<Arc<Received>> {
    let received = Arc::new(Received::default());
    let listener = tokio::net::TcpListener::bind((crate::node::LOOPBACK, port)).await?;
    let app = Router::new().fallback(inbox).with_state(received.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(received)
}

async fn inbox(
    State(received): State<Arc<Received>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let n = received.posts.fetch_add(1, Ordering::Relaxed);
    if n.is_multiple_of(CHECK_ONE_IN) {
        let key = received
            .public_key_pem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let good = key.is_some_and(|key| {
            signatures::check_request(
                &headers,
                "POST",
                uri.path(),
                Some(&body),
                &host,
                Duration::from_secs(3600),
            )
            .is_ok_and(|pending| signatures::verify_with_key(&pending, &key))
        });
        received.signatures_checked.fetch_add(1, Ordering::Relaxed);
        if !good {
            received.signatures_bad.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut arrivals = received.inboxes.lock().unwrap_or_else(|e| e.into_inner());
    if arrivals.reached.insert(format!("{host}{}", uri.path())) {
        arrivals.first_post_at.push(Instant::now());
    }
    StatusCode::ACCEPTED
}
