//! ActivityPub for Health Commons, built on `activitypub_federation` and
//! closing the gaps its axum side leaves (see `signatures` and `inbox`).
//!
//! - `objects/`: actors as they travel (one wire struct, one `Object` impl);
//! - `activities/`: one file per activity with its `verify` and `receive`;
//! - `inbox`: verify a signed POST, persist it, answer 202, process later;
//! - `delivery`: the durable, per-inbox outgoing queue with retries;
//! - `publisher`: turns the service layer's `Outgoing` values into activities.

pub mod activities;
pub mod backfill;
pub mod collections;
pub mod context;
pub mod delivery;
pub mod directory;
pub mod discovery;
pub mod error;
mod event_delivery;
mod garden_delivery;
pub mod http_client;
pub mod inbox;
pub mod inbox_cache;
pub mod inbox_writer;
pub mod metrics;
pub mod moderators;
pub mod negotiation;
pub mod objects;
mod pledge_delivery;
pub mod publisher;
mod question_delivery;
pub mod rate_limit;
pub mod relay;
pub mod resolve;
pub mod signatures;

pub use context::{FederationContext, FederationSettings, RequestData};
pub use error::FederationError;

/// The processing layer wired to this crate: its deliveries go through the
/// durable queue, its remote fetches through the signed, SSRF-safe client.
/// `readers` serve reads that never write.
pub fn processor(
    config: &activitypub_federation::config::FederationConfig<FederationContext>,
    readers: healthcommons_db::Db,
) -> healthcommons_service::Processor {
    healthcommons_service::Processor::new(
        config.db.clone(),
        readers,
        config.node.clone(),
        std::sync::Arc::new(publisher::OutboxPublisher::from_context(config)),
        std::sync::Arc::new(resolve::FederationResolver::new(config.clone())),
    )
}
