//! The directory of nodes, grown peer to peer with no central registry.
//!
//! A node puts in its directory every host it has dealt with directly (one
//! hop), fetches their initiatives' profiles, and reads from each the list of
//! peers it publishes, which adds nodes two hops away, and so on up to
//! `CrawlPolicy::max_hops`. Blocked nodes are never learned of, fetched,
//! shown or published; hidden ones are kept off the map and the list this
//! node publishes. The fetching itself is the federation crate's; the rules
//! are here.

use crate::{NodeContext, ServiceError, ServiceResult, node::NodeProfile};
use chrono::{DateTime, Duration, Utc};
use healthcommons_db::{
    entities::directory_node,
    queries::{self, directory::FetchedProfile},
};
use sea_orm::ConnectionTrait;
use std::collections::BTreeSet;

/// How far and how often the directory reaches.
#[derive(Debug, Clone)]
pub struct CrawlPolicy {
    /// Nodes further away than this are not learned of.
    pub max_hops: i32,
    /// A profile fetched this recently is not fetched again.
    pub refresh: Duration,
    /// The wait after a first failure; it doubles with each further one, up
    /// to `refresh`.
    pub retry_base: Duration,
    /// Hosts taken from one peer's list at most, so a peer cannot flood us.
    pub max_hosts_per_list: usize,
}

impl Default for CrawlPolicy {
    fn default() -> Self {
        CrawlPolicy {
            max_hops: 3,
            refresh: Duration::hours(6),
            retry_base: Duration::minutes(5),
            max_hosts_per_list: 200,
        }
    }
}

/// `host[:port]` in lower case when `raw` is one, as peers publish them;
/// anything with a scheme, a path, credentials or spaces is refused.
pub fn parse_host(raw: &str) -> Option<String> {
    let raw = raw.trim().to_ascii_lowercase();
    if raw.is_empty() || raw.len() > 255 || raw.contains(['/', '@', '?', '#', '\\']) {
        return None;
    }
    let url = url::Url::parse(&format!("http://{raw}/")).ok()?;
    let domain = url.domain()?;
    let host = match url.port() {
        Some(port) => format!("{domain}:{port}"),
        None => domain.to_owned(),
    };
    (host == raw && domain.contains('.')).then_some(host)
}

/// Put every host this node has dealt with in the directory, one hop away.
pub async fn learn_met_hosts(db: &impl ConnectionTrait, ctx: &NodeContext) -> ServiceResult<()> {
    let blocked = queries::directory::blocked_hosts(db).await?;
    // Only host names a directory can hold (and an admin can hide): no IP
    // addresses, no names without a dot.
    for host in queries::directory::hosts_met(db)
        .await?
        .iter()
        .filter_map(|h| parse_host(h))
    {
        if host != ctx.domain && !blocked.contains(&host) {
            queries::directory::learn(db, &host, 1, None).await?;
        }
    }
    Ok(())
}

/// Add the hosts that `from` publishes, one hop further than `from`, and
/// forget those it led us to before and no longer lists. Returns how many
/// were new.
pub async fn learn_from_peer(
    db: &impl ConnectionTrait,
    ctx: &NodeContext,
    policy: &CrawlPolicy,
    from: &directory_node::Model,
    published: &[String],
) -> ServiceResult<usize> {
    let hops = from.hops.saturating_add(1);
    if hops > policy.max_hops {
        return Ok(0);
    }
    let blocked = queries::directory::blocked_hosts(db).await?;
    let listed: Vec<String> = published
        .iter()
        .take(policy.max_hosts_per_list)
        .filter_map(|raw| parse_host(raw))
        .filter(|host| *host != ctx.domain && *host != from.host && !blocked.contains(host))
        .collect();
    let mut new = 0;
    for host in &listed {
        if queries::directory::learn(db, host, hops, Some(&from.host)).await? {
            new += 1;
        }
    }
    queries::directory::forget_unlisted(db, &from.host, listed).await?;
    Ok(new)
}

/// Whether a node's profile should be fetched now.
fn is_due(node: &directory_node::Model, policy: &CrawlPolicy, now: DateTime<Utc>) -> bool {
    if node.failures > 0 {
        let backoff = policy
            .retry_base
            .checked_mul(1 << node.failures.clamp(1, 16).saturating_sub(1))
            .map_or(policy.refresh, |wait| wait.min(policy.refresh));
        return node.attempted_at.is_none_or(|at| now - at >= backoff);
    }
    node.fetched_at.is_none_or(|at| now - at >= policy.refresh)
}

/// The nodes whose profiles are due for a fetch, nearest first: never
/// fetched, older than `refresh`, or failing and past their backoff. Hidden
/// and blocked nodes are left alone.
pub async fn due_for_fetch(
    db: &impl ConnectionTrait,
    policy: &CrawlPolicy,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<directory_node::Model>> {
    let blocked = queries::directory::blocked_hosts(db).await?;
    Ok(queries::directory::all(db)
        .await?
        .into_iter()
        .filter(|n| !n.hidden && !blocked.contains(&n.host) && n.hops <= policy.max_hops)
        .filter(|n| is_due(n, policy, now))
        .collect())
}

/// Store a profile a node published about itself, checked by the same rules
/// as this node's own.
pub async fn record_profile(
    db: &impl ConnectionTrait,
    host: &str,
    profile: NodeProfile,
    software: Option<&str>,
) -> ServiceResult<()> {
    let profile = profile.checked()?;
    let place = profile.location.as_ref();
    let fetched = FetchedProfile {
        initiative_name: Some(profile.initiative_name.clone()),
        description: Some(profile.description.clone()).filter(|d| !d.is_empty()),
        place_name: place.map(|p| p.name.clone()).filter(|n| !n.is_empty()),
        place_address: place.and_then(|p| p.address.clone()),
        latitude: place.and_then(|p| p.latitude),
        longitude: place.and_then(|p| p.longitude),
        topics: serde_json::to_string(&profile.topics).map_err(|e| ServiceError::Internal(e.to_string()))?,
        website: profile.website,
        contact: profile.contact,
        software: software.map(|s| healthcommons_core::text::plain_text(s, 100)),
    };
    queries::directory::record_profile(db, host, fetched).await?;
    Ok(())
}

/// A node answered, but publishes no initiative profile (not a Health
/// Commons node, or an old one): remembered as fetched, never shown.
pub async fn record_no_profile(
    db: &impl ConnectionTrait,
    host: &str,
    software: Option<&str>,
) -> ServiceResult<()> {
    queries::directory::record_profile(
        db,
        host,
        FetchedProfile {
            topics: "[]".into(),
            software: software.map(|s| healthcommons_core::text::plain_text(s, 100)),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

pub async fn record_failure(db: &impl ConnectionTrait, host: &str, reason: &str) -> ServiceResult<()> {
    queries::directory::record_failure(db, host, reason).await?;
    Ok(())
}

/// Hosts kept off the map: blocked or hidden by the admin.
pub async fn excluded_hosts(db: &impl ConnectionTrait) -> ServiceResult<BTreeSet<String>> {
    let mut excluded = queries::directory::blocked_hosts(db).await?;
    excluded.extend(
        queries::directory::all(db)
            .await?
            .into_iter()
            .filter(|n| n.hidden)
            .map(|n| n.host),
    );
    Ok(excluded)
}

/// Nodes whose initiative profile is known and may be shown.
pub async fn shown_initiatives(db: &impl ConnectionTrait) -> ServiceResult<Vec<directory_node::Model>> {
    let blocked = queries::directory::blocked_hosts(db).await?;
    Ok(queries::directory::all(db)
        .await?
        .into_iter()
        .filter(|n| n.initiative_name.is_some() && !n.hidden && !blocked.contains(&n.host))
        .collect())
}

pub(crate) async fn set_hidden(db: &impl ConnectionTrait, host: &str, hidden: bool) -> ServiceResult<()> {
    let host = parse_host(host)
        .ok_or_else(|| ServiceError::validation("give a node's host, e.g. health.example"))?;
    if queries::directory::set_hidden(db, &host, hidden).await? {
        Ok(())
    } else {
        Err(ServiceError::not_found("this node is not in the directory"))
    }
}

/// The directory of initiatives' nodes this node knows.
pub struct Directory<'p>(pub(crate) &'p crate::Processor);

/// The way in for the pages and the API, on the processor's connections.
impl Directory<'_> {
    /// The peers this node publishes: initiatives it has dealt with directly,
    /// neither hidden nor blocked. Hosts it only heard of are left out, so each
    /// node vouches only for its own neighbours.
    pub async fn published_peers(&self) -> ServiceResult<Vec<String>> {
        let db = self.0.readers();
        Ok(shown_initiatives(db)
            .await?
            .into_iter()
            .filter(|n| n.hops == 1)
            .map(|n| n.host)
            .collect())
    }

    /// Hide a node from the map and the published list, or show it again.
    pub async fn set_hidden(&self, host: &str, hidden: bool) -> ServiceResult<()> {
        set_hidden(self.0.db(), host, hidden).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_with_an_optional_port_and_nothing_else() {
        assert_eq!(parse_host("Health.Example"), Some("health.example".into()));
        assert_eq!(parse_host("alpha.test:8080"), Some("alpha.test:8080".into()));
        for bad in [
            "",
            "https://health.example",
            "health.example/path",
            "user@health.example",
            "127.0.0.1",
            "localhost",
            "health example",
            "health.example:99999",
        ] {
            assert_eq!(parse_host(bad), None, "{bad}");
        }
    }

    fn node(failures: i32, fetched: Option<i64>, attempted: Option<i64>) -> directory_node::Model {
        let now = Utc::now();
        directory_node::Model {
            host: "beta.test".into(),
            hops: 1,
            learned_from: None,
            hidden: false,
            initiative_name: None,
            description: None,
            place_name: None,
            place_address: None,
            latitude: None,
            longitude: None,
            topics: "[]".into(),
            website: None,
            contact: None,
            software: None,
            first_seen_at: now,
            fetched_at: fetched.map(|m| now - Duration::minutes(m)),
            attempted_at: attempted.map(|m| now - Duration::minutes(m)),
            failures,
            last_error: None,
        }
    }

    #[test]
    fn profiles_are_refetched_after_the_refresh_and_failures_back_off() {
        let policy = CrawlPolicy::default();
        let now = Utc::now();
        assert!(is_due(&node(0, None, None), &policy, now), "never fetched");
        assert!(!is_due(&node(0, Some(60), Some(60)), &policy, now), "fresh");
        assert!(
            is_due(&node(0, Some(7 * 60), Some(7 * 60)), &policy, now),
            "stale"
        );
        assert!(!is_due(&node(1, None, Some(1)), &policy, now), "just failed");
        assert!(
            is_due(&node(1, None, Some(6)), &policy, now),
            "past the first backoff"
        );
        assert!(
            !is_due(&node(3, None, Some(6)), &policy, now),
            "third failure waits 20 minutes"
        );
        assert!(
            is_due(&node(30, None, Some(6 * 60 + 1)), &policy, now),
            "never longer than the refresh"
        );
    }
}
