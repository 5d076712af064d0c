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
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// How often an idle worker looks for due rows without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// At most this many requests to one peer at once, so a slow peer cannot hold
/// every slot while others wait.
const PER_PEER: usize = 8;
/// How long a row waits when its peer already has a backlog in memory.
const PEER_BUSY_PAUSE: chrono::Duration = chrono::Duration::milliseconds(250);
/// Outgoing activities the worker keeps in memory; past this it starts over.
const MAX_CACHED_ACTIVITIES: usize = 256;

/// An outgoing activity as the worker sends it: one body shared by every
/// delivery of it, and the sender's key.
struct Outgoing {
    ap_id: String,
    body: bytes::Bytes,
    key_id: String,
    private_key_pem: Option<String>,
}

/// The activities of recently claimed rows, so that a fan-out to thousands of
/// inboxes reads its body and key once, not once per row.
#[derive(Default)]
struct OutgoingCache {
    activities: HashMap<i64, Arc<Outgoing>>,
}

impl OutgoingCache {
    /// Read the activities among `ids` that are not in memory yet.
    async fn load(
        &mut self,
        db: &healthcommons_db::Db,
        mut ids: Vec<i64>,
    ) -> Result<(), healthcommons_db::DbError> {
        ids.retain(|id| !self.activities.contains_key(id));
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        if self.activities.len() + ids.len() > MAX_CACHED_ACTIVITIES {
            self.activities.clear();
        }
        for activity in queries::deliveries::outgoing_activities(db, ids).await? {
            let outgoing = Outgoing {
                ap_id: activity.ap_id,
                body: bytes::Bytes::from(activity.json),
                key_id: activity.key_id,
                private_key_pem: activity.private_key_pem,
            };
            self.activities.insert(activity.id, Arc::new(outgoing));
        }
        Ok(())
    }

    fn get(&self, id: i64) -> Option<Arc<Outgoing>> {
        self.activities.get(&id).cloned()
    }
}

/// A claimed row and the activity it carries.
struct Claimed {
    row: ClaimedDelivery,
    activity: Arc<Outgoing>,
}

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

/// A delivered row, and its peer when the peer's success is to be written.
struct DeliveredRow {
    id: i64,
    status: u16,
    record_success_of: Option<String>,
}

/// Mark delivered rows as their results come in: whatever arrived while the
/// last batch was written goes in the next statement, so a busy worker
/// commits once per batch instead of once per delivery, and so do the peers'
/// successes (a fan-out to a thousand new peers would otherwise write a
/// thousand peer rows one by one). A row whose mark is lost in a crash stays
/// claimed until its lease ends and is sent again; receivers drop the
/// duplicate by activity id.
async fn mark_delivered(context: FederationContext, mut results: mpsc::UnboundedReceiver<DeliveredRow>) {
    let mut batch = Vec::with_capacity(MARK_BATCH);
    while results.recv_many(&mut batch, MARK_BATCH).await > 0 {
        let mut by_status: HashMap<u16, Vec<i64>> = HashMap::new();
        let mut hosts = Vec::new();
        for row in batch.drain(..) {
            by_status.entry(row.status).or_default().push(row.id);
            hosts.extend(row.record_success_of);
        }
        for (status, ids) in by_status {
            if let Err(err) = queries::deliveries::mark_many_delivered(&context.db, &ids, status).await {
                warn!(%err, rows = ids.len(), "could not mark deliveries delivered; their claims will expire");
            }
        }
        hosts.sort();
        hosts.dedup();
        if let Err(err) = queries::peers::record_successes(&context.db, &hosts).await {
            warn!(%err, peers = hosts.len(), "could not record the peers' successes");
        }
    }
}

/// How a peer has answered lately, which sets how many requests it may have
/// in flight: a peer not heard from yet gets a couple, a healthy one
/// [`PER_PEER`], and one that is failing (refusing, timing out) one at a time,
/// so dead peers cannot take the slots that healthy ones need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerHealth {
    Untried,
    Healthy,
    Failing,
}

impl PeerHealth {
    fn in_flight_limit(self) -> usize {
        match self {
            PeerHealth::Untried => 2,
            PeerHealth::Healthy => PER_PEER,
            PeerHealth::Failing => 1,
        }
    }
}

/// One peer's claimed rows, in claim order, and what it has in flight.
struct PeerLane {
    health: PeerHealth,
    in_flight: usize,
    /// Claimed rows with the moment they were claimed.
    waiting: VecDeque<(Instant, Claimed)>,
    /// When this process last wrote the peer's success to the database.
    success_recorded: Option<Instant>,
    /// Whether the host is in the runnable queue, so it is there once.
    queued: bool,
}

/// What the worker holds in memory between the database and the network:
/// claimed rows wait in their peer's lane, in order, and start round-robin
/// across peers while slots are free.
struct Scheduler {
    capacity: usize,
    in_flight: usize,
    waiting: usize,
    lanes: HashMap<String, PeerLane>,
    /// Peers that may have a row ready to start, each at most once.
    runnable: VecDeque<String>,
}

/// A row that may start now, and whether its success should be written.
struct Start {
    delivery: Claimed,
    record_success: bool,
}

/// Rows held in memory, per delivery slot, at most.
const MAX_WAITING_PER_SLOT: usize = 16;
/// Most lanes kept; beyond it, idle lanes are forgotten (their health too).
const MAX_LANES: usize = 10_000;

impl Scheduler {
    fn new(capacity: usize) -> Self {
        Scheduler {
            capacity: capacity.max(1),
            in_flight: 0,
            waiting: 0,
            lanes: HashMap::new(),
            runnable: VecDeque::new(),
        }
    }

    /// How many rows to claim now. The worker keeps up to `capacity` rows
    /// ready to start beyond the free slots, and claims in batches of at
    /// least half that (or whenever a free slot would otherwise idle), so
    /// the database sees one claim per batch rather than one per finished
    /// request. Rows waiting for a peer at its limit do not count as ready,
    /// or dead peers' backlogs would stop every claim; their hosts are left
    /// out of the claim instead (`saturated_hosts`).
    fn room_to_claim(&self) -> u64 {
        if self.waiting >= MAX_WAITING_PER_SLOT * self.capacity {
            return 0;
        }
        let free = self.capacity.saturating_sub(self.in_flight);
        let ready: usize = self
            .lanes
            .values()
            .map(|lane| {
                let open = lane.health.in_flight_limit().saturating_sub(lane.in_flight);
                lane.waiting.len().min(open)
            })
            .sum();
        let wanted = (free + self.capacity).saturating_sub(ready);
        if ready < free || wanted >= self.capacity.div_ceil(2) {
            wanted as u64
        } else {
            0
        }
    }

    /// Queue a claimed row. Returns it when its peer already has twice its
    /// limit waiting, to be handed back, so one peer's backlog is not held in
    /// memory.
    fn accept(&mut self, delivery: Claimed, claimed_at: Instant) -> Option<Claimed> {
        if self.lanes.len() >= MAX_LANES && !self.lanes.contains_key(&delivery.row.peer_host) {
            self.lanes
                .retain(|_, lane| lane.in_flight > 0 || !lane.waiting.is_empty());
        }
        let host = delivery.row.peer_host.clone();
        let lane = self.lanes.entry(host.clone()).or_insert_with(|| PeerLane {
            health: PeerHealth::Untried,
            in_flight: 0,
            waiting: VecDeque::new(),
            success_recorded: None,
            queued: false,
        });
        if lane.waiting.len() >= 2 * lane.health.in_flight_limit() {
            return Some(delivery);
        }
        lane.waiting.push_back((claimed_at, delivery));
        self.waiting += 1;
        if !lane.queued {
            lane.queued = true;
            self.runnable.push_back(host);
        }
        None
    }

    /// The next row to send, if a slot is free and some peer is under its limit.
    fn next_start(&mut self) -> Option<Start> {
        while self.in_flight < self.capacity {
            let host = self.runnable.pop_front()?;
            let Some(lane) = self.lanes.get_mut(&host) else {
                continue;
            };
            lane.queued = false;
            if lane.in_flight >= lane.health.in_flight_limit() {
                continue;
            }
            let Some((_, delivery)) = lane.waiting.pop_front() else {
                continue;
            };
            lane.in_flight += 1;
            self.in_flight += 1;
            self.waiting -= 1;
            let record_success = lane
                .success_recorded
                .is_none_or(|at| at.elapsed() >= SUCCESS_RECORD_INTERVAL);
            if !lane.waiting.is_empty() {
                // Round-robin: the peer's next row goes behind the others.
                lane.queued = true;
                self.runnable.push_back(host);
            }
            return Some(Start {
                delivery,
                record_success,
            });
        }
        None
    }

    /// A request to `host` has ended; `answered` says whether the peer
    /// answered (any status but a retryable one) and `success_recorded`
    /// whether its success was just written.
    fn finished(&mut self, host: &str, answered: bool, success_recorded: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(lane) = self.lanes.get_mut(host) {
            lane.in_flight = lane.in_flight.saturating_sub(1);
            lane.health = if answered {
                PeerHealth::Healthy
            } else {
                PeerHealth::Failing
            };
            if success_recorded {
                lane.success_recorded = Some(Instant::now());
            } else if !answered {
                lane.success_recorded = None;
            }
            if !lane.waiting.is_empty() && !lane.queued {
                lane.queued = true;
                self.runnable.push_back(host.to_owned());
            }
        }
    }

    /// Peers with as many rows in hand as they may wait: the next claim
    /// leaves their rows in the database.
    fn saturated_hosts(&self) -> Vec<String> {
        self.lanes
            .iter()
            .filter(|(_, lane)| lane.waiting.len() >= 2 * lane.health.in_flight_limit())
            .map(|(host, _)| host.clone())
            .collect()
    }

    /// Rows waiting since before `cutoff`: their lease may end before they
    /// start, so they are handed back instead.
    fn take_stale(&mut self, cutoff: Instant) -> Vec<Claimed> {
        let mut stale = Vec::new();
        for lane in self.lanes.values_mut() {
            while lane.waiting.front().is_some_and(|(at, _)| *at < cutoff) {
                if let Some((_, delivery)) = lane.waiting.pop_front() {
                    stale.push(delivery);
                }
            }
        }
        self.waiting -= stale.len();
        stale
    }
}

/// A healthy peer's row is written at most this often by the worker.
const SUCCESS_RECORD_INTERVAL: Duration = Duration::from_secs(60);

/// What a finished request reports back to the worker loop.
struct Finished {
    host: String,
    answered: bool,
    success_recorded: bool,
}

/// Run the worker until the process ends.
pub async fn run(context: FederationContext) {
    tokio::task::spawn_blocking(signatures::warm_up_signing);
    tokio::spawn(wake_on_commits(context.clone()));
    let (delivered, results) = mpsc::unbounded_channel();
    tokio::spawn(mark_delivered(context.clone(), results));
    let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<Finished>();
    let lease = context.settings.claim_lease;
    let chrono_lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(2));
    let mut scheduler = Scheduler::new(context.settings.delivery_concurrency);
    let mut activities = OutgoingCache::default();
    loop {
        while let Some(start) = scheduler.next_start() {
            let context = context.clone();
            let delivered = delivered.clone();
            let finished_tx = finished_tx.clone();
            tokio::spawn(async move {
                let host = start.delivery.row.peer_host.clone();
                let (answered, success_recorded) =
                    deliver_one(&context, start.delivery, start.record_success, &delivered).await;
                let _ = finished_tx.send(Finished {
                    host,
                    answered,
                    success_recorded,
                });
            });
        }
        if let Some(cutoff) = Instant::now().checked_sub(lease / 2) {
            let stale = scheduler.take_stale(cutoff);
            hand_back(&context, &stale, chrono::Duration::zero()).await;
        }

        let room = scheduler.room_to_claim();
        let mut accepted_any = false;
        if room > 0 {
            let saturated = scheduler.saturated_hosts();
            match claim(&context, &mut activities, room, chrono_lease, &saturated).await {
                Ok(rows) => {
                    let claimed_at = Instant::now();
                    let claimed = rows.len();
                    let overflow: Vec<Claimed> = rows
                        .into_iter()
                        .filter_map(|row| scheduler.accept(row, claimed_at))
                        .collect();
                    accepted_any = overflow.len() < claimed;
                    hand_back(&context, &overflow, PEER_BUSY_PAUSE).await;
                }
                Err(err) => {
                    warn!(%err, "could not claim deliveries; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        if accepted_any && scheduler.in_flight < scheduler.capacity {
            continue;
        }
        // Nothing more to start: wait for a request to end, new work, or the poll.
        tokio::select! {
            Some(done) = finished_rx.recv() => {
                scheduler.finished(&done.host, done.answered, done.success_recorded);
                while let Ok(done) = finished_rx.try_recv() {
                    scheduler.finished(&done.host, done.answered, done.success_recorded);
                }
            }
            _ = context.delivery_wakeup.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
}

/// On PostgreSQL, wake the worker whenever a transaction that enqueued
/// deliveries commits (here or in another process), so a fan-out starts at
/// once instead of at the next poll. Runs until the process ends; while the
/// database is away it keeps trying, and the poll carries on meanwhile.
async fn wake_on_commits(context: FederationContext) {
    loop {
        match queries::deliveries::DeliveryListener::connect(&context.db).await {
            Ok(None) => return,
            Ok(Some(mut listener)) => loop {
                match listener.next().await {
                    Ok(enqueued) => {
                        if let Err(err) =
                            queries::deliveries::refresh_statistics_after(&context.db, enqueued).await
                        {
                            warn!(%err, "could not refresh the delivery table's statistics");
                        }
                        context.delivery_wakeup.notify_one();
                    }
                    Err(err) => {
                        warn!(%err, "lost the database's delivery notifications; listening again");
                        break;
                    }
                }
            },
            Err(err) => warn!(%err, "could not listen for delivery notifications; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Claim due rows with their activities, and settle at once those whose peer
/// is blocked (or whose activity is gone).
async fn claim(
    context: &FederationContext,
    activities: &mut OutgoingCache,
    limit: u64,
    lease: chrono::Duration,
    skip_hosts: &[String],
) -> Result<Vec<Claimed>, healthcommons_db::DbError> {
    let rows = queries::deliveries::claim_due(&context.db, limit, lease, skip_hosts).await?;
    let mut hosts: Vec<String> = rows.iter().map(|row| row.peer_host.clone()).collect();
    hosts.sort();
    hosts.dedup();
    let blocked = queries::peers::blocked_among(&context.db, &hosts).await?;
    activities
        .load(
            &context.db,
            rows.iter().map(|row| row.outbox_activity_id).collect(),
        )
        .await?;
    let mut sendable = Vec::with_capacity(rows.len());
    for row in rows {
        let unsendable = if blocked.contains(&row.peer_host) {
            "the peer is blocked"
        } else if let Some(activity) = activities.get(row.outbox_activity_id) {
            sendable.push(Claimed { row, activity });
            continue;
        } else {
            "the outgoing activity is gone"
        };
        context.metrics.deliveries.with_label_values(&["refused"]).inc();
        if let Err(err) = queries::deliveries::mark_attempt_failed(
            &context.db,
            row.id,
            row.attempts + 1,
            None,
            unsendable,
            None,
        )
        .await
        {
            warn!(%err, "could not settle an unsendable delivery; its claim will expire");
        }
    }
    Ok(sendable)
}

/// Give rows back to the queue, due after `pause`.
async fn hand_back(context: &FederationContext, rows: &[Claimed], pause: chrono::Duration) {
    let ids: Vec<i64> = rows.iter().map(|claimed| claimed.row.id).collect();
    if let Err(err) = queries::deliveries::postpone_many(&context.db, &ids, pause).await {
        warn!(%err, rows = ids.len(), "could not hand deliveries back; their claims will expire");
    }
}

/// Send one row and record what came of it. Returns whether the peer
/// answered and whether its success is being written to the database.
async fn deliver_one(
    context: &FederationContext,
    claimed: Claimed,
    record_success: bool,
    delivered: &mpsc::UnboundedSender<DeliveredRow>,
) -> (bool, bool) {
    let Claimed {
        row: delivery,
        activity,
    } = claimed;
    let result = attempt(context, &delivery, &activity).await;
    note_refusal(context, &delivery, &result).await;
    let attempts = delivery.attempts + 1;
    let outcome = match &result {
        AttemptResult::Delivered(status) => {
            debug!(inbox = %delivery.inbox, activity = %activity.ap_id, "delivered");
            context.metrics.deliveries.with_label_values(&["delivered"]).inc();
            let row = DeliveredRow {
                id: delivery.id,
                status: *status,
                record_success_of: record_success.then(|| delivery.peer_host.clone()),
            };
            match delivered.send(row) {
                Ok(()) => Ok(()),
                // The marker has stopped: mark this one on its own.
                Err(_) => queries::deliveries::mark_delivered(&context.db, delivery.id, *status).await,
            }
        }
        AttemptResult::Final { status, error } => {
            warn!(inbox = %delivery.inbox, activity = %activity.ap_id, status, %error,
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
            // The inbox must read the failing row, so that the peer's next
            // signed request is taken as the sign that it is back.
            context.inbox_cache.forget_peer(&delivery.peer_host);
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
                warn!(inbox = %delivery.inbox, activity = %activity.ap_id, %error,
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
    let answered = !matches!(result, AttemptResult::Retry { .. });
    let success_recorded = record_success && matches!(result, AttemptResult::Delivered(_));
    (answered, success_recorded)
}

/// A 401 or 403 means the peer would not take our signature: it could not
/// fetch our key, or could not look up its signer (GoToSocial WebFingers
/// every signer). Kept on the peer for `/admin/deliveries`, and logged as a
/// warning when a run of refusals starts.
async fn note_refusal(context: &FederationContext, delivery: &ClaimedDelivery, result: &AttemptResult) {
    let (status, error) = match result {
        AttemptResult::Retry {
            status: Some(status @ (401 | 403)),
            error,
            ..
        }
        | AttemptResult::Final {
            status: status @ (401 | 403),
            error,
        } => (*status, error),
        _ => return,
    };
    match queries::peers::record_refusal(&context.db, &delivery.peer_host, error).await {
        Ok(true) => warn!(peer = %delivery.peer_host, status, %error,
            "a peer refuses our signed deliveries; it may not reach our actors' keys or WebFinger"),
        Ok(false) => {}
        Err(err) => warn!(%err, peer = %delivery.peer_host, "could not record a peer's refusal"),
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

async fn attempt(
    context: &FederationContext,
    delivery: &ClaimedDelivery,
    activity: &Outgoing,
) -> AttemptResult {
    let Some(private_key) = activity.private_key_pem.as_deref() else {
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
    let headers = match signatures::sign_request_headers(
        "POST",
        &url,
        Some(&activity.body),
        &activity.key_id,
        private_key,
    ) {
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
        .body(activity.body.clone());
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

    fn row(id: i64, host: &str) -> Claimed {
        Claimed {
            row: ClaimedDelivery {
                id,
                inbox: format!("https://{host}/inbox"),
                peer_host: host.to_owned(),
                attempts: 0,
                created_at: Utc::now(),
                outbox_activity_id: 1,
            },
            activity: Arc::new(Outgoing {
                ap_id: "https://a.test/activities/1".into(),
                body: bytes::Bytes::from_static(b"{}"),
                key_id: "https://a.test/g/w#main-key".into(),
                private_key_pem: None,
            }),
        }
    }

    fn start_all(scheduler: &mut Scheduler) -> Vec<(i64, String)> {
        std::iter::from_fn(|| scheduler.next_start())
            .map(|start| (start.delivery.row.id, start.delivery.row.peer_host))
            .collect()
    }

    #[test]
    fn dead_peers_cannot_take_the_slots_healthy_peers_need() {
        let now = Instant::now();
        let mut scheduler = Scheduler::new(16);
        // Twenty peers nobody has heard from yet, four rows each.
        for peer in 0..20 {
            for n in 0..4 {
                let host = format!("p{peer}.test");
                let handed_back = scheduler.accept(row(peer * 10 + n, &host), now);
                assert!(handed_back.is_none(), "{host} row {n}");
            }
        }
        let first = start_all(&mut scheduler);
        assert_eq!(first.len(), 16, "every slot is used");
        // Round-robin, at most two each while untried: 16 slots reach 16 peers.
        let peers: std::collections::HashSet<_> = first.iter().map(|(_, host)| host.clone()).collect();
        assert_eq!(peers.len(), 16, "{first:?}");

        // Peers 0..7 time out; the others answer.
        for (_, host) in &first {
            let number: usize = host
                .trim_start_matches('p')
                .trim_end_matches(".test")
                .parse()
                .unwrap_or(0);
            scheduler.finished(host, number >= 8, false);
        }
        let second = start_all(&mut scheduler);
        let to_dead = second
            .iter()
            .filter(|(_, host)| {
                let number: usize = host
                    .trim_start_matches('p')
                    .trim_end_matches(".test")
                    .parse()
                    .unwrap_or(0);
                number < 8
            })
            .count();
        assert_eq!(second.len(), 16);
        assert!(
            to_dead <= 8,
            "a failing peer gets one request at a time: {second:?}"
        );
    }

    #[test]
    fn a_peers_rows_start_in_claim_order_within_its_limit() {
        let now = Instant::now();
        let mut scheduler = Scheduler::new(32);
        for id in 0..4 {
            assert!(scheduler.accept(row(id, "slow.test"), now).is_none(), "room");
        }
        assert!(
            scheduler.accept(row(4, "slow.test"), now).is_some(),
            "twice the untried limit waits"
        );
        assert_eq!(scheduler.saturated_hosts(), vec!["slow.test".to_owned()]);
        let started = start_all(&mut scheduler);
        assert_eq!(started.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![0, 1]);
        scheduler.finished("slow.test", false, false);
        let next = start_all(&mut scheduler);
        assert!(next.is_empty(), "still one in flight and now failing: limit one");
        scheduler.finished("slow.test", true, true);
        let rest = start_all(&mut scheduler);
        assert_eq!(rest.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![2, 3]);
        assert!(scheduler.saturated_hosts().is_empty());
    }

    #[test]
    fn rows_waiting_on_peers_at_their_limit_do_not_stop_the_claims() {
        let now = Instant::now();
        let mut scheduler = Scheduler::new(4);
        for (id, host) in [
            (1, "dead1.test"),
            (2, "dead1.test"),
            (3, "dead2.test"),
            (4, "dead2.test"),
        ] {
            assert!(scheduler.accept(row(id, host), now).is_none(), "room");
        }
        assert_eq!(
            scheduler.room_to_claim(),
            4,
            "four ready for four slots, four more ahead"
        );
        let started = start_all(&mut scheduler);
        assert_eq!(started.len(), 4);
        scheduler.finished("dead1.test", false, false);
        scheduler.finished("dead2.test", false, false);
        for (id, host) in [(5, "dead1.test"), (6, "dead2.test")] {
            assert!(scheduler.accept(row(id, host), now).is_none(), "room");
        }
        // Each failing peer still has one in flight: its waiting row cannot
        // start, so the two free slots are for other peers' rows.
        assert!(start_all(&mut scheduler).is_empty());
        assert_eq!(scheduler.room_to_claim(), 6, "two free slots and four ahead");
    }

    #[test]
    fn claims_come_in_batches_not_one_per_finished_request() {
        let now = Instant::now();
        let mut scheduler = Scheduler::new(8);
        for id in 0..16 {
            let host = format!("p{id}.test");
            assert!(scheduler.accept(row(id, &host), now).is_none(), "room");
        }
        assert_eq!(start_all(&mut scheduler).len(), 8);
        assert_eq!(scheduler.room_to_claim(), 0, "eight ready behind eight in flight");
        scheduler.finished("p0.test", true, true);
        assert_eq!(scheduler.next_start().map(|s| s.delivery.row.id), Some(8));
        assert_eq!(
            scheduler.room_to_claim(),
            0,
            "seven still ready: no claim for one row"
        );
        for host in ["p1.test", "p2.test", "p3.test"] {
            scheduler.finished(host, true, true);
            assert!(scheduler.next_start().is_some());
        }
        assert_eq!(
            scheduler.room_to_claim(),
            4,
            "half the buffer used: claim it back at once"
        );
    }

    #[test]
    fn a_healthy_peers_success_is_written_once_a_minute() {
        let now = Instant::now();
        let mut scheduler = Scheduler::new(4);
        assert!(scheduler.accept(row(1, "ok.test"), now).is_none(), "room");
        let first = scheduler.next_start().expect("starts");
        assert!(first.record_success, "never written by this process");
        scheduler.finished("ok.test", true, true);
        assert!(scheduler.accept(row(2, "ok.test"), now).is_none(), "room");
        let second = scheduler.next_start().expect("starts");
        assert!(!second.record_success, "written a moment ago");
    }

    #[test]
    fn rows_held_too_long_are_handed_back() {
        let mut scheduler = Scheduler::new(1);
        let long_ago = Instant::now() - Duration::from_secs(120);
        assert!(scheduler.accept(row(1, "a.test"), long_ago).is_none(), "room");
        assert!(
            scheduler.accept(row(2, "b.test"), Instant::now()).is_none(),
            "room"
        );
        let stale = scheduler.take_stale(Instant::now() - Duration::from_secs(60));
        assert_eq!(stale.iter().map(|d| d.row.id).collect::<Vec<_>>(), vec![1]);
        assert_eq!(start_all(&mut scheduler).len(), 1);
    }

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
