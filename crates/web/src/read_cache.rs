//! A micro-cache of anonymous public reads, as nginx's micro-caching and
//! Mastodon's cached actor JSON do: a group page, a thread or an actor asked
//! for by many people (or servers) at once is built once, not per request.
//!
//! The rules, in one place:
//! - Only a `GET` of a public read page (an actor or group at `/u/…` and
//!   `/g/…`, a post at `/p/…`, a thread at `/threads/…` and
//!   `/api/v1/posts/…`) with no session cookie, no `Authorization` and no
//!   `Signature` header is answered from, or stored in, the cache. A signed-in
//!   viewer's page is never stored, and never served from the cache.
//! - In authorized-fetch mode ActivityPub GETs never touch the cache.
//! - The key is the method, the path and query, and the negotiated
//!   representation (ActivityPub JSON, API JSON or HTML).
//! - Only a `200` without `Set-Cookie` and without `Cache-Control: private`
//!   or `no-store` is stored, with its headers (`Content-Type`, `Vary`, `Link`, …).
//! - Every request but a `GET` or `HEAD` handled by this process advances the
//!   content epoch when it ends, as do background writers; an entry stored at
//!   an older epoch is never served. Writes this process does not see (another
//!   `serve` process on the same PostgreSQL, an admin command) show after at
//!   most [`CacheLimits::ttl`].
//! - Memory is bounded: at most [`CacheLimits::max_entries`] entries, each body
//!   at most [`CacheLimits::max_body`] bytes, all bodies at most
//!   [`CacheLimits::max_total_bytes`].
//!
//! Why this is not `moka` (issue 22 looked at moka 0.12.16): the cache is a
//! few dozen lines on a `HashMap`, and what it must do is not what moka does.
//! - Freshness is our epoch, checked on every `get`: moka would hold the
//!   entries but this check and the stored epoch would stay, so moka would
//!   add only eviction.
//! - Two bounds at once, entries and bytes: moka has one capacity (a count,
//!   or a weight from a weigher).
//! - Eviction: stale entries first, then the oldest, at once inside `put`
//!   (`stale_entries_make_room_first`, `memory_stays_within_the_limits`).
//!   moka's default TinyLFU may refuse to admit a new entry, so a page many
//!   readers are waiting on would not be kept, and moka evicts in deferred
//!   maintenance (`run_pending_tasks`), so the bounds hold only later.
//! - Time is passed in (`now`), which the tests rely on; moka reads its own
//!   clock.

use crate::{AppState, auth::SESSION_COOKIE};
use axum::{
    body::{Body, Bytes, HttpBody},
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::CookieJar;
use healthcommons_federation::negotiation;
use http::{HeaderMap, Method, StatusCode, header};
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};
use tracing::error;

/// How much the cache may hold, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    pub max_entries: usize,
    pub max_body: usize,
    pub max_total_bytes: usize,
    /// The longest an entry is served, whatever the epoch.
    pub ttl: Duration,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            max_entries: 512,
            max_body: 256 * 1024,
            max_total_bytes: 32 * 1024 * 1024,
            ttl: Duration::from_secs(1),
        }
    }
}

/// The form of an answer, as `Accept` and the path decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Representation {
    ActivityJson,
    ApiJson,
    Html,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    method: Method,
    path_and_query: String,
    representation: Representation,
}

struct Stored {
    epoch: u64,
    stored_at: Instant,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<CacheKey, Stored>,
    total_bytes: usize,
}

pub struct ReadCache {
    limits: CacheLimits,
    entries: Mutex<Entries>,
}

/// The public read pages: an actor or group (page or JSON), a post, a thread.
fn is_public_read(path: &str) -> bool {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    match segments.as_slice() {
        ["g" | "u" | "p" | "threads", name] | ["api", "v1", "posts", name] => !name.is_empty(),
        _ => false,
    }
}

/// The key under which an anonymous public read is cached, or `None` when
/// the request must go to the handlers (and its answer must not be stored).
pub fn key_for(
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    authorized_fetch: bool,
) -> Option<CacheKey> {
    if method != Method::GET || !is_public_read(uri.path()) {
        return None;
    }
    let signed_in = CookieJar::from_headers(headers).get(SESSION_COOKIE).is_some();
    if signed_in || headers.contains_key(header::AUTHORIZATION) || headers.contains_key("signature") {
        return None;
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let representation = if negotiation::wants_activity_json(accept) {
        Representation::ActivityJson
    } else if uri.path().starts_with("/api/") {
        Representation::ApiJson
    } else {
        Representation::Html
    };
    // Every ActivityPub GET must then be checked for its signature.
    if authorized_fetch && representation == Representation::ActivityJson {
        return None;
    }
    Some(CacheKey {
        method: method.clone(),
        path_and_query: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        representation,
    })
}

/// Whether an answer may be given to every anonymous reader.
fn storable(status: StatusCode, headers: &HeaderMap) -> bool {
    let private = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("private") || v.contains("no-store"));
    status == StatusCode::OK && !headers.contains_key(header::SET_COOKIE) && !private
}

impl ReadCache {
    pub fn new(limits: CacheLimits) -> ReadCache {
        ReadCache {
            limits,
            entries: Mutex::new(Entries::default()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, stored: &Stored, epoch: u64, now: Instant) -> bool {
        stored.epoch == epoch && now.saturating_duration_since(stored.stored_at) < self.limits.ttl
    }

    /// The stored answer, if one was stored at this epoch within the TTL.
    pub fn get(&self, key: &CacheKey, epoch: u64, now: Instant) -> Option<Response> {
        let entries = self.entries();
        let stored = entries.by_key.get(key).filter(|s| self.fresh(s, epoch, now))?;
        let mut response = Response::new(Body::from(stored.body.clone()));
        *response.headers_mut() = stored.headers.clone();
        Some(response)
    }

    /// Keep an answer made at `epoch` (read before the handler ran).
    pub fn put(&self, key: CacheKey, epoch: u64, now: Instant, headers: HeaderMap, body: Bytes) {
        let size = body.len();
        if size > self.limits.max_body {
            return;
        }
        let mut entries = self.entries();
        if let Some(old) = entries.by_key.remove(&key) {
            entries.total_bytes -= old.body.len();
        }
        let full = |e: &Entries| {
            e.by_key.len() >= self.limits.max_entries || e.total_bytes + size > self.limits.max_total_bytes
        };
        if full(&entries) {
            entries.by_key.retain(|_, s| self.fresh(s, epoch, now));
            entries.total_bytes = entries.by_key.values().map(|s| s.body.len()).sum();
        }
        while full(&entries) {
            let Some(oldest) = entries
                .by_key
                .iter()
                .min_by_key(|(_, s)| s.stored_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(evicted) = entries.by_key.remove(&oldest) {
                entries.total_bytes -= evicted.body.len();
            }
        }
        entries.total_bytes += size;
        entries.by_key.insert(
            key,
            Stored {
                epoch,
                stored_at: now,
                headers,
                body,
            },
        );
    }

    /// Keep the handler's answer if it may be given to everyone, and return it.
    async fn store(&self, key: CacheKey, epoch: u64, response: Response) -> Response {
        let small_enough = response
            .body()
            .size_hint()
            .exact()
            .is_some_and(|len| len <= self.limits.max_body as u64);
        if !small_enough || !storable(response.status(), response.headers()) {
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, self.limits.max_body).await {
            Ok(bytes) => bytes,
            Err(err) => {
                error!(%err, "could not read a page's body for the read cache");
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
        };
        self.put(key, epoch, Instant::now(), parts.headers.clone(), bytes.clone());
        Response::from_parts(parts, Body::from(bytes))
    }
}

/// The middleware: serve anonymous public reads from the cache, and move the
/// content epoch on after every request that may write.
pub async fn micro_cache(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let epochs = &state.context().content_epoch;
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let response = next.run(request).await;
        epochs.advance();
        return response;
    }
    let authorized_fetch = state.context().settings.authorized_fetch;
    let Some(key) = key_for(
        request.method(),
        request.uri(),
        request.headers(),
        authorized_fetch,
    ) else {
        return next.run(request).await;
    };
    // Read before the handler: a write during it leaves the answer stale.
    let epoch = epochs.current();
    if let Some(hit) = state.read_cache.get(&key, epoch, Instant::now()) {
        return hit;
    }
    let response = next.run(request).await;
    state.read_cache.store(key, epoch, response).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, Uri};

    fn uri(s: &str) -> Uri {
        s.parse().expect("uri")
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn key(path: &str, pairs: &[(&'static str, &'static str)]) -> Option<CacheKey> {
        key_for(&Method::GET, &uri(path), &headers(pairs), false)
    }

    #[test]
    fn only_anonymous_gets_of_public_reads_have_a_key() {
        assert!(key("/g/walkers", &[]).is_some());
        assert!(key("/u/ana", &[]).is_some());
        assert!(key("/threads/12", &[]).is_some());
        assert!(key("/api/v1/posts/https%3A%2F%2Fx.test%2Fp%2F1", &[]).is_some());
        assert!(key("/", &[]).is_none());
        assert!(key("/g/walkers/settings", &[]).is_none());
        assert!(key("/g/walkers/followers", &[]).is_none());
        assert!(key("/api/v1/posts/x/revisions", &[]).is_none());
        assert!(key("/admin/deliveries", &[]).is_none());
        assert!(key("/g/", &[]).is_none());
        assert!(key_for(&Method::POST, &uri("/g/walkers"), &HeaderMap::new(), false).is_none());
        assert!(key_for(&Method::HEAD, &uri("/g/walkers"), &HeaderMap::new(), false).is_none());
    }

    #[test]
    fn sessions_tokens_and_signatures_bypass_the_cache() {
        assert!(key("/g/walkers", &[("cookie", "hc_session=abc")]).is_none());
        assert!(key("/g/walkers", &[("cookie", "hc_csrf=x; hc_session=abc")]).is_none());
        assert!(key("/api/v1/posts/x", &[("authorization", "Bearer t")]).is_none());
        assert!(key("/g/walkers", &[("signature", "keyId=\"k\"")]).is_none());
        // A CSRF cookie alone is no sign-in.
        assert!(key("/g/walkers", &[("cookie", "hc_csrf=x")]).is_some());
    }

    #[test]
    fn the_key_tells_representations_and_queries_apart() {
        let html = key("/g/walkers", &[("accept", "text/html")]);
        let activity = key("/g/walkers", &[("accept", "application/activity+json")]);
        let ld = key(
            "/g/walkers",
            &[(
                "accept",
                "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            )],
        );
        assert_ne!(html, activity);
        assert_eq!(activity, ld);
        assert_eq!(html, key("/g/walkers", &[]));
        assert_ne!(html, key("/g/walkers?page=2", &[]));
        let api = key("/api/v1/posts/x", &[]).expect("key");
        assert_eq!(api.representation, Representation::ApiJson);
    }

    #[test]
    fn authorized_fetch_keeps_activitypub_gets_out() {
        let activity = headers(&[("accept", "application/activity+json")]);
        assert!(key_for(&Method::GET, &uri("/g/walkers"), &activity, true).is_none());
        let html = headers(&[("accept", "text/html")]);
        assert!(key_for(&Method::GET, &uri("/g/walkers"), &html, true).is_some());
    }

    #[test]
    fn only_plain_200s_are_stored() {
        assert!(storable(
            StatusCode::OK,
            &headers(&[("content-type", "text/html")])
        ));
        assert!(!storable(StatusCode::NOT_FOUND, &HeaderMap::new()));
        assert!(!storable(StatusCode::SEE_OTHER, &HeaderMap::new()));
        assert!(!storable(
            StatusCode::OK,
            &headers(&[("set-cookie", "hc_csrf=x")])
        ));
        assert!(!storable(
            StatusCode::OK,
            &headers(&[("cache-control", "private")])
        ));
        assert!(!storable(
            StatusCode::OK,
            &headers(&[("cache-control", "no-store")])
        ));
    }

    fn limits() -> CacheLimits {
        CacheLimits {
            max_entries: 3,
            max_body: 10,
            max_total_bytes: 25,
            ttl: Duration::from_secs(1),
        }
    }

    fn put(cache: &ReadCache, path: &str, epoch: u64, at: Instant, body: &'static str) {
        let key = key(path, &[]).expect("key");
        let headers = headers(&[("content-type", "text/html"), ("vary", "Accept")]);
        cache.put(key, epoch, at, headers, Bytes::from_static(body.as_bytes()));
    }

    fn body_of(cache: &ReadCache, path: &str, epoch: u64, at: Instant) -> Option<Response> {
        cache.get(&key(path, &[]).expect("key"), epoch, at)
    }

    #[test]
    fn a_write_or_the_ttl_ends_an_entry() {
        let cache = ReadCache::new(limits());
        let now = Instant::now();
        put(&cache, "/g/a", 7, now, "page");
        let hit = body_of(&cache, "/g/a", 7, now).expect("a hit");
        assert_eq!(hit.headers()["vary"], "Accept");
        assert_eq!(hit.headers()["content-type"], "text/html");
        assert!(body_of(&cache, "/g/a", 8, now).is_none(), "stale after a write");
        assert!(
            body_of(&cache, "/g/a", 7, now + Duration::from_secs(1)).is_none(),
            "stale after the TTL"
        );
    }

    #[test]
    fn memory_stays_within_the_limits() {
        let cache = ReadCache::new(limits());
        let now = Instant::now();
        put(&cache, "/g/huge", 1, now, "more than ten bytes");
        assert!(body_of(&cache, "/g/huge", 1, now).is_none(), "too large a body");
        for (i, path) in ["/g/a", "/g/b", "/g/c", "/g/d"].into_iter().enumerate() {
            put(
                &cache,
                path,
                1,
                now + Duration::from_millis(i as u64),
                "0123456789",
            );
        }
        let entries = cache.entries();
        assert!(entries.by_key.len() <= 2, "25 bytes hold two bodies of ten");
        assert!(entries.total_bytes <= 25);
        drop(entries);
        assert!(body_of(&cache, "/g/a", 1, now).is_none(), "the oldest went first");
        assert!(body_of(&cache, "/g/d", 1, now).is_some());
    }

    #[test]
    fn stale_entries_make_room_first() {
        let cache = ReadCache::new(limits());
        let now = Instant::now();
        put(&cache, "/g/a", 1, now, "a");
        put(&cache, "/g/b", 2, now, "b");
        put(&cache, "/g/c", 2, now, "c");
        put(&cache, "/g/d", 2, now, "d");
        assert!(
            body_of(&cache, "/g/b", 2, now).is_some(),
            "the stale one was dropped instead"
        );
        assert_eq!(cache.entries().by_key.len(), 3);
    }
}
