//! The delivery worker: sends what the outbox holds, one request per inbox,
//! signed at send time, retried with backoff until it lands or is final.
//!
//! Rows are claimed with a lease. A worker that dies (even `kill -9`) leaves
//! its claims to expire, and the next worker picks them up, so nothing in the
//! outbox is ever lost; receivers dedupe by activity id.

use crate::{FederationContext, signatures};
use chrono::{DateTime, Utc};
use healthcommons_db::queries::{self, deliveries::ClaimedDelivery};
use rand::Rng;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, info, warn};

/// How often an idle worker looks for due rows without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// At most this many requests to one peer at once, so a slow peer cannot hold
/// every slot while others wait.
const PER_PEER: usize = 8;
/// How long a row waits when its peer has no free slot.
const PEER_BUSY_PAUSE: chrono::Duration = chrono::Duration::milliseconds(250);

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered(u16),
    /// Worth trying again: network errors, 401, 408, 429, 5xx.
    Retry {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    /// The peer said no for good: 400, 403, 404, 410, 422 and other 4xx.
    Final {
        status: u16,
        error: String,
    },
}

/// Classify an HTTP status as the delivery policy sees it.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &str) -> AttemptResult {
    match status {
        200..=299 => AttemptResult::Delivered(status),
        401 | 408 | 429 | 500..=599 => AttemptResult::Retry {
            status: Some(status),
            error: format!("HTTP {status}: {}", snippet(body)),
            retry_after,
        },
        _ => AttemptResult::Final {
            status,
            error: format!("HTTP {status}: {}", snippet(body)),
        },
    }
}

fn snippet(body: &str) -> String {
    body.chars().take(200).collect()
}

/// Delay before attempt number `attempts + 1`: 30 s × 2ⁿ, capped, with ±20 % jitter.
pub fn backoff(
    settings: &crate::FederationSettings,
    attempts: i32,
    failing_for: chrono::Duration,
    retry_after: Option<Duration>,
    peer_unreachable: bool,
) -> Duration {
    let cap = if peer_unreachable || failing_for > chrono::Duration::hours(6) {
        settings.retry_cap_late
    } else {
        settings.retry_cap_early
    };
    let exp = attempts.clamp(0, 20) as u32;
    let raw = settings
        .retry_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(cap);
    let base = match retry_after {
        Some(asked) => asked.clamp(settings.retry_base, settings.retry_cap_late),
        None => raw,
    };
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    base.mul_f64(jitter)
}

/// Delivered rows are marked in batches of at most this many.
const MARK_BATCH: usize = 256;

/// Mark delivered rows as their results come in: whatever arrived while the
/// last batch was written goes in the next statement, so a busy worker
/// commits once per batch instead of once per delivery. A row whose mark is
/// lost in a crash stays claimed until its lease ends and is sent again;
/// receivers drop the duplicate by activity id.
async fn mark_delivered(context: FederationContext, mut results: mpsc::UnboundedReceiver<(i64, u16)>) {
    let mut batch = Vec::with_capacity(MARK_BATCH);
    while results.recv_many(&mut batch, MARK_BATCH).await > 0 {
        let mut by_status: HashMap<u16, Vec<i64>> = HashMap::new();
        for (id, status) in batch.drain(..) {
            by_status.entry(status).or_default().push(id);
        }
        for (status, ids) in by_status {
            if let Err(err) = queries::deliveries::mark_many_delivered(&context.db, &ids, status).await {
                warn!(%err, rows = ids.len(), "could not mark deliveries delivered; their claims will expire");
            }
        }
    }
}

/// Run the worker until the process ends.
pub async fn run(context: FederationContext) {
    let (delivered, results) = mpsc::unbounded_channel();
    tokio::spawn(mark_delivered(context.clone(), results));
    let lease = context.settings.claim_lease;
    let slots = Arc::new(Semaphore::new(context.settings.delivery_concurrency.max(1)));
    let per_peer: Arc<Mutex<HashMap<String, Arc<Semaphore>>>> = Arc::default();
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(2));
    loop {
        // Every slot busy: wait for the first to come free, not for the idle
        // poll, or a busy queue would move one batch of slots per poll.
        if slots.available_permits() == 0 {
            match slots.acquire().await {
                Ok(permit) => drop(permit),
                Err(_) => return,
            }
        }
        let free = slots.available_permits() as u64;
        let claimed = match queries::deliveries::claim_due(&context.db, free.max(1), lease).await {
            Ok(rows) => rows,
            Err(err) => {
                warn!(%err, "could not claim deliveries; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                _ = context.delivery_wakeup.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
            continue;
        }
        for delivery in claimed {
            let peer_slot = {
                let mut map = per_peer.lock().unwrap_or_else(|e| e.into_inner());
                map.entry(delivery.peer_host.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(PER_PEER)))
                    .clone()
            };
            let Ok(peer_permit) = peer_slot.try_acquire_owned() else {
                // This peer already has its share in flight: hand the row back
                // briefly instead of letting it hold a slot others could use.
                if let Err(err) =
                    queries::deliveries::postpone(&context.db, delivery.id, PEER_BUSY_PAUSE).await
                {
                    warn!(%err, "could not postpone a delivery; its claim will expire");
                }
                continue;
            };
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let context = context.clone();
            let delivered = delivered.clone();
            tokio::spawn(async move {
                let _global = permit;
                let _peer = peer_permit;
                deliver_one(&context, delivery, &delivered).await;
            });
        }
    }
}

async fn deliver_one(
    context: &FederationContext,
    delivery: ClaimedDelivery,
    delivered: &mpsc::UnboundedSender<(i64, u16)>,
) {
    let result = attempt(context, &delivery).await;
    let attempts = delivery.attempts + 1;
    let outcome = match &result {
        AttemptResult::Delivered(status) => {
            debug!(inbox = %delivery.inbox, activity = %delivery.activity_ap_id, "delivered");
            context.metrics.deliveries.with_label_values(&["delivered"]).inc();
            let _ = queries::peers::record_success(&context.db, &delivery.peer_host).await;
            match delivered.send((delivery.id, *status)) {
                Ok(()) => Ok(()),
                // The marker has stopped: mark this one on its own.
                Err(_) => queries::deliveries::mark_delivered(&context.db, delivery.id, *status).await,
            }
        }
        AttemptResult::Final { status, error } => {
            warn!(inbox = %delivery.inbox, activity = %delivery.activity_ap_id, status, %error,
                "delivery refused for good");
            context.metrics.deliveries.with_label_values(&["refused"]).inc();
            queries::deliveries::mark_attempt_failed(
                &context.db,
                delivery.id,
                attempts,
                Some(*status),
                error,
                None,
            )
            .await
        }
        AttemptResult::Retry {
            status,
            error,
            retry_after,
        } => {
            let unreachable_after = chrono::Duration::from_std(context.settings.unreachable_after)
                .unwrap_or(chrono::Duration::days(1));
            let peer =
                queries::peers::record_failure(&context.db, &delivery.peer_host, unreachable_after).await;
            let (failing_for, unreachable) = match &peer {
                Ok(p) => (
                    p.failing_since
                        .map(|since| Utc::now() - since)
                        .unwrap_or_default(),
                    p.unreachable,
                ),
                Err(_) => (chrono::Duration::zero(), false),
            };
            let wait = backoff(
                &context.settings,
                delivery.attempts,
                failing_for,
                *retry_after,
                unreachable,
            );
            let retry_at = next_attempt(context, &delivery, wait);
            if retry_at.is_none() {
                warn!(inbox = %delivery.inbox, activity = %delivery.activity_ap_id, %error,
                    "delivery given up after the retry window");
                context.metrics.deliveries.with_label_values(&["expired"]).inc();
            } else {
                context.metrics.deliveries.with_label_values(&["retry"]).inc();
                info!(inbox = %delivery.inbox, ?status, %error, ?wait, "delivery failed, will retry");
            }
            queries::deliveries::mark_attempt_failed(
                &context.db,
                delivery.id,
                attempts,
                *status,
                error,
                retry_at,
            )
            .await
        }
    };
    if let Err(err) = outcome {
        // The claim expires and the row is tried again; at worst a duplicate,
        // which the receiver drops by activity id.
        warn!(%err, delivery = delivery.id, "could not record a delivery result");
    }
}

/// When to try again, or `None` once the retry window is spent.
fn next_attempt(
    context: &FederationContext,
    delivery: &ClaimedDelivery,
    wait: Duration,
) -> Option<DateTime<Utc>> {
    let window = chrono::Duration::from_std(context.settings.retry_for).unwrap_or(chrono::Duration::days(7));
    let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
    (at - delivery.created_at <= window).then_some(at)
}

async fn attempt(context: &FederationContext, delivery: &ClaimedDelivery) -> AttemptResult {
    let Some(private_key) = delivery.private_key_pem.as_deref() else {
        return AttemptResult::Final {
            status: 0,
            error: "the sending actor has no private key".into(),
        };
    };
    let Ok(url) = url::Url::parse(&delivery.inbox) else {
        return AttemptResult::Final {
            status: 0,
            error: "the inbox url is invalid".into(),
        };
    };
    if queries::peers::is_blocked(&context.db, &delivery.peer_host)
        .await
        .unwrap_or(false)
    {
        return AttemptResult::Final {
            status: 0,
            error: "the peer is blocked".into(),
        };
    }
    let body = delivery.json.as_bytes();
    let headers =
        match signatures::sign_request_headers("POST", &url, Some(body), &delivery.key_id, private_key) {
            Ok(headers) => headers,
            Err(err) => {
                return AttemptResult::Final {
                    status: 0,
                    error: err.to_string(),
                };
            }
        };
    let mut request = context
        .client
        .post(url)
        .header("content-type", crate::negotiation::AP_CONTENT_TYPE)
        .body(delivery.json.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = response.text().await.unwrap_or_default();
            classify(status, retry_after, &body)
        }
        Err(err) => AttemptResult::Retry {
            status: None,
            error: format!("request failed: {err}"),
            retry_after: None,
        },
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    at.duration_since(std::time::SystemTime::now()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_policy_says() {
        assert_eq!(classify(202, None, ""), AttemptResult::Delivered(202));
        for status in [401, 408, 429, 500, 502, 503] {
            assert!(
                matches!(classify(status, None, ""), AttemptResult::Retry { .. }),
                "{status}"
            );
        }
        for status in [400, 403, 404, 410, 422] {
            assert!(
                matches!(classify(status, None, ""), AttemptResult::Final { .. }),
                "{status}"
            );
        }
    }

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let settings = crate::FederationSettings::default();
        let first = backoff(&settings, 0, chrono::Duration::zero(), None, false);
        assert!(first >= Duration::from_secs(24) && first <= Duration::from_secs(36));
        let third = backoff(&settings, 2, chrono::Duration::zero(), None, false);
        assert!(third >= Duration::from_secs(96) && third <= Duration::from_secs(144));
        let capped = backoff(&settings, 15, chrono::Duration::zero(), None, false);
        assert!(capped <= Duration::from_secs(18 * 60));
        let late = backoff(&settings, 15, chrono::Duration::hours(7), None, false);
        assert!(late >= Duration::from_secs(48 * 60));
        let asked = backoff(
            &settings,
            0,
            chrono::Duration::zero(),
            Some(Duration::from_secs(600)),
            false,
        );
        assert!(asked >= Duration::from_secs(480) && asked <= Duration::from_secs(720));
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let later = std::time::SystemTime::now() + Duration::from_secs(300);
        let parsed = parse_retry_after(&httpdate::fmt_http_date(later)).expect("date");
        assert!(parsed <= Duration::from_secs(300) && parsed >= Duration::from_secs(290));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
