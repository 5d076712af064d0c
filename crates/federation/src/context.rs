//! What every federation function needs: the database, this node, the HTTP
//! client, the settings, the metrics, and the wake-up signals of the workers.

use crate::{
    metrics::Metrics,
    rate_limit::{RateLimit, RateLimiter},
};
use activitypub_federation::config::{Data, FederationConfig, UrlVerifier};
use healthcommons_db::{Db, queries};
use healthcommons_service::NodeContext;
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::sync::Notify;
use url::Url;

/// Federation knobs from the node's configuration.
#[derive(Debug, Clone)]
pub struct FederationSettings {
    /// Plain-http ids and loopback peers allowed (tests and local trials only).
    pub dev_federation: bool,
    /// With dev federation: host names resolved without DNS.
    pub dev_resolve: HashMap<String, IpAddr>,
    /// First retry delay of a failed delivery; later ones double from it.
    pub retry_base: Duration,
    /// Longest wait between two attempts while a peer has been down < 6 h.
    pub retry_cap_early: Duration,
    /// Longest wait between two attempts afterwards.
    pub retry_cap_late: Duration,
    /// How long a delivery is retried before it is given up.
    pub retry_for: Duration,
    /// A peer failing continuously this long is marked unreachable.
    pub unreachable_after: Duration,
    /// Deliveries sent at once, in all.
    pub delivery_concurrency: usize,
    /// Allowed skew of a signed request's Date, either way.
    pub signature_window: Duration,
    /// Largest inbox body accepted.
    pub max_inbox_body: usize,
    /// How long a delivery worker owns a claimed row.
    pub claim_lease: Duration,
    /// Time between two rounds of the directory crawler.
    pub directory_interval: Duration,
    /// How far and how often the directory crawler reaches.
    pub directory_policy: healthcommons_service::directory::CrawlPolicy,
    /// Require a valid HTTP signature on every ActivityPub GET (but the
    /// instance actor's), as Mastodon's secure mode does.
    pub authorized_fetch: bool,
    /// The rate limits and their buckets, shared by every clone.
    pub limits: Arc<Limits>,
}

/// Requests allowed per key before 429: activities per remote host at the
/// inbox, and sign-ins and registrations per client address.
#[derive(Debug)]
pub struct Limits {
    pub inbox_per_host: RateLimiter,
    pub auth_per_ip: RateLimiter,
}

impl Limits {
    pub fn new(inbox_per_host: RateLimit, auth_per_ip: RateLimit) -> Limits {
        Limits {
            inbox_per_host: RateLimiter::new(inbox_per_host),
            auth_per_ip: RateLimiter::new(auth_per_ip),
        }
    }
}

/// Activities a remote host may deliver per minute (in a burst, then evenly).
pub const DEFAULT_INBOX_PER_MINUTE: u32 = 1200;
/// Sign-ins and registrations one address may attempt per minute.
pub const DEFAULT_AUTH_PER_MINUTE: u32 = 30;

impl Default for Limits {
    fn default() -> Self {
        Limits::new(
            RateLimit::per_minute(DEFAULT_INBOX_PER_MINUTE),
            RateLimit::per_minute(DEFAULT_AUTH_PER_MINUTE),
        )
    }
}

impl Default for FederationSettings {
    fn default() -> Self {
        FederationSettings {
            dev_federation: false,
            dev_resolve: HashMap::new(),
            retry_base: Duration::from_secs(30),
            retry_cap_early: Duration::from_secs(15 * 60),
            retry_cap_late: Duration::from_secs(60 * 60),
            retry_for: Duration::from_secs(7 * 24 * 3600),
            unreachable_after: Duration::from_secs(24 * 3600),
            delivery_concurrency: 32,
            signature_window: Duration::from_secs(3600),
            max_inbox_body: 256 * 1024,
            claim_lease: Duration::from_secs(120),
            directory_interval: Duration::from_secs(5 * 60),
            directory_policy: Default::default(),
            authorized_fetch: false,
            limits: Arc::new(Limits::default()),
        }
    }
}

/// The application data handed to `activitypub_federation`.
#[derive(Clone)]
pub struct FederationContext {
    pub db: Db,
    pub node: NodeContext,
    pub settings: Arc<FederationSettings>,
    pub client: reqwest::Client,
    pub metrics: Metrics,
    pub delivery_wakeup: Arc<Notify>,
    pub inbox_wakeup: Arc<Notify>,
    /// Stores verified inbox activities, many per transaction.
    pub inbox_writer: crate::inbox_writer::InboxWriter,
    /// Peers and senders the inbox read a moment ago.
    pub inbox_cache: Arc<crate::inbox_cache::InboxCache>,
    /// Moves on after every write this process makes that a public page may
    /// show; the web layer's cache of anonymous reads drops older entries.
    pub content_epoch: Arc<ContentEpoch>,
}

/// A counter of writes: a cached read stored at an older value is stale.
#[derive(Debug, Default)]
pub struct ContentEpoch(AtomicU64);

impl ContentEpoch {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Call after the write has committed, so that a read started before it
    /// carries an older epoch and is never served again.
    pub fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

pub type RequestData = Data<FederationContext>;

impl FederationContext {
    pub fn scheme(&self) -> &'static str {
        if self.settings.dev_federation {
            "http"
        } else {
            "https"
        }
    }
}

/// Refuses URLs on blocked nodes before anything is fetched from them.
#[derive(Clone)]
struct BlockedNodes {
    db: Db,
}

#[async_trait::async_trait]
impl UrlVerifier for BlockedNodes {
    async fn verify(&self, url: &Url) -> Result<(), activitypub_federation::error::Error> {
        let host = crate::objects::actor::host_of(url);
        match queries::peers::is_blocked(&self.db, &host).await {
            Ok(false) => Ok(()),
            Ok(true) => Err(activitypub_federation::error::Error::UrlVerificationError(
                "this node is blocked",
            )),
            Err(_) => Err(activitypub_federation::error::Error::UrlVerificationError(
                "could not check the block list",
            )),
        }
    }
}

/// Build the library configuration around the context's own HTTP client, so
/// the library's fetches and our deliveries go through the same resolver. The
/// instance actor signs every fetch so that servers in authorized-fetch mode
/// answer us.
pub async fn build_config(
    context: FederationContext,
    instance_actor: &crate::objects::actor::DbActor,
) -> Result<FederationConfig<FederationContext>, crate::FederationError> {
    let client = context.client.clone();
    let db = context.db.clone();
    let domain = context.node.domain.clone();
    let dev = context.settings.dev_federation;
    FederationConfig::builder()
        .domain(domain)
        .app_data(context)
        .client(client.into())
        .debug(dev)
        .allow_http_urls(dev)
        .http_fetch_limit(25)
        .request_timeout(Duration::from_secs(10))
        .url_verifier(Box::new(BlockedNodes { db }))
        .signed_fetch_actor(instance_actor)
        // Sign fetches over (request-target) host date, as Mastodon's
        // authorized-fetch mode requires.
        .http_signature_compat(true)
        .build()
        .await
        .map_err(|e| crate::FederationError::Internal(format!("federation config: {e}")))
}
