//! The inbox: verify, persist, answer 202, process later.
//!
//! Nothing is stored before the signature, digest, host and date checks pass,
//! and nothing that passed is lost: a storage error answers 503 so the sender
//! retries, and processing failures stay in the table with their reason.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{InboxActivity, Outcome, activity_type},
    metrics::activity_label,
    negotiation,
    objects::actor::{DbActor, host_of},
    signatures::{self, SignatureError},
};
use activitypub_federation::{config::FederationConfig, fetch::object_id::ObjectId};
use healthcommons_core::ErrorKind;
use healthcommons_db::{
    TransactionTrait,
    entities::{actor, inbox_activity},
    queries::{self, inbox::Stored},
};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};
use tracing::{debug, info, warn};
use url::Url;

/// Why a POST to an inbox was refused, with the status the sender gets.
#[derive(Debug, thiserror::Error)]
pub enum InboxRejection {
    #[error("send application/activity+json or application/ld+json with the ActivityStreams profile")]
    UnsupportedMediaType,
    #[error("the body is larger than this inbox accepts")]
    TooLarge,
    #[error("malformed activity: {0}")]
    Malformed(String),
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("{0}")]
    Forbidden(String),
    #[error("temporarily unable to accept activities: {0}")]
    Unavailable(String),
    #[error("too many activities from your node; retry later")]
    RateLimited(Duration),
}

impl InboxRejection {
    pub fn status(&self) -> u16 {
        match self {
            InboxRejection::UnsupportedMediaType => 415,
            InboxRejection::TooLarge => 413,
            InboxRejection::Malformed(_) => 400,
            InboxRejection::Signature(_) => 401,
            InboxRejection::Forbidden(_) => 403,
            InboxRejection::Unavailable(_) => 503,
            InboxRejection::RateLimited(_) => 429,
        }
    }

    /// Seconds for a `Retry-After` header, when the sender should wait.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            InboxRejection::RateLimited(wait) => Some(crate::rate_limit::retry_after_secs(*wait)),
            // The database is away or full: worth a retry before long.
            InboxRejection::Unavailable(_) => Some(30),
            _ => None,
        }
    }
}

/// Most items an array in an activity may hold, by field (L3); any other
/// array holds at most [`MAX_ARRAY`].
const ARRAY_CAPS: [(&str, usize); 3] = [("tag", 100), ("attachment", 16), ("oneOf", 20)];
const MAX_ARRAY: usize = 1000;

/// Refuse arrays longer than their cap anywhere in the activity (recipients,
/// tags, attachments, poll options), so one delivery cannot make the node
/// store or fan out without end. Nesting depth is bounded by serde_json's
/// recursion limit (128) before this runs.
pub fn check_array_caps(value: &Value) -> Result<(), InboxRejection> {
    fn walk(value: &Value, field: &str) -> Result<(), InboxRejection> {
        match value {
            Value::Array(items) => {
                let cap = ARRAY_CAPS
                    .iter()
                    .find(|(name, _)| *name == field)
                    .map_or(MAX_ARRAY, |(_, cap)| *cap);
                if items.len() > cap {
                    return Err(InboxRejection::Malformed(format!(
                        "{field} holds more than {cap} items"
                    )));
                }
                items.iter().try_for_each(|item| walk(item, field))
            }
            Value::Object(map) => map.iter().try_for_each(|(key, item)| walk(item, key)),
            _ => Ok(()),
        }
    }
    walk(value, "the activity")
}

/// What happened to an accepted POST.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Stored,
    Duplicate,
    /// Verified but nothing to keep (e.g. the Delete of an actor we never knew).
    NothingToDo(&'static str),
}

/// The part of every activity needed before it is trusted.
#[derive(Deserialize)]
struct Envelope {
    id: Url,
    #[serde(rename = "type")]
    kind: Value,
    actor: Value,
}

/// Verify one POST and persist it. `path_and_query` is the request target.
pub async fn receive(
    data: &RequestData,
    headers: &HeaderMap,
    path_and_query: &str,
    body: &[u8],
) -> Result<Received, InboxRejection> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !negotiation::is_activity_content_type(content_type) {
        return Err(InboxRejection::UnsupportedMediaType);
    }
    if body.len() > data.settings.max_inbox_body {
        return Err(InboxRejection::TooLarge);
    }
    let pending = signatures::check_request(
        headers,
        "POST",
        path_and_query,
        Some(body),
        &data.node.domain,
        data.settings.signature_window,
    )
    .inspect_err(|e| count_signature_failure(data, e))?;

    let text =
        std::str::from_utf8(body).map_err(|_| InboxRejection::Malformed("the body is not UTF-8".into()))?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| InboxRejection::Malformed(format!("invalid JSON: {e}")))?;
    check_array_caps(&value)?;
    let envelope = Envelope::deserialize(&value)
        .map_err(|e| InboxRejection::Malformed(format!("not an activity: {e}")))?;
    let kind = envelope.kind.as_str().unwrap_or("").to_owned();
    let actor_url = crate::objects::id_of(&envelope.actor)
        .ok_or_else(|| InboxRejection::Malformed("the activity names no actor".into()))?;
    if host_of(&envelope.id) != host_of(&actor_url) || envelope.id.scheme() != actor_url.scheme() {
        return Err(InboxRejection::Forbidden(
            "the activity's id and its actor are on different hosts".into(),
        ));
    }
    let key_url = Url::parse(&pending.key_id)
        .map_err(|_| InboxRejection::Signature(SignatureError::Malformed("keyId is not a URL".into())))?;
    if host_of(&key_url) != host_of(&actor_url) {
        count_signature_failure(data, &SignatureError::KeyOwnerMismatch);
        return Err(SignatureError::KeyOwnerMismatch.into());
    }
    let peer = host_of(&actor_url);
    // One read of the peer's row serves the block check now and the
    // "seen" bookkeeping once the signature is verified.
    let peer_row = match data.inbox_cache.peer(&peer) {
        Some(row) => row,
        None => match queries::peers::get(&data.db, &peer).await {
            Ok(row) => {
                data.inbox_cache.put_peer(&peer, row.clone());
                row
            }
            Err(err) => return Err(InboxRejection::Unavailable(err.to_string())),
        },
    };
    if peer_row.as_ref().is_some_and(|row| row.blocked) {
        return Err(InboxRejection::Forbidden(
            "this node does not accept activities from yours".into(),
        ));
    }
    if actor_url.as_str().starts_with(data.node.urls.base()) {
        return Err(InboxRejection::Forbidden(
            "activities of this node's own actors are not accepted from outside".into(),
        ));
    }

    let object_id = ObjectId::<DbActor>::from(actor_url.clone());
    let cached = data.inbox_cache.actor(actor_url.as_str());
    let actor = match cached {
        Some(actor) => actor,
        None => match dereference_sender(data, &object_id, &kind, &actor_url).await? {
            Some(actor) => actor,
            None => return Ok(Received::NothingToDo("the deleted actor is not known here")),
        },
    };
    let signer = verify_signer(data, &object_id, actor, &pending, &peer).await?;
    data.inbox_cache.put_actor(actor_url.as_str(), signer);
    if let Err(wait) = data.settings.limits.inbox_per_host.check(&peer) {
        data.metrics
            .inbox_results
            .with_label_values(&[activity_label(&kind), "rate_limited"])
            .inc();
        return Err(InboxRejection::RateLimited(wait));
    }

    // A signed request proves the peer is up: retry what we owe it now.
    match queries::peers::record_seen_given(&data.db, &peer, peer_row).await {
        Ok((back, row)) => {
            data.inbox_cache.put_peer(&peer, Some(row));
            if back
                && queries::deliveries::retry_now_for_host(&data.db, &peer)
                    .await
                    .is_ok()
            {
                data.delivery_wakeup.notify_one();
            }
        }
        Err(err) => return Err(InboxRejection::Unavailable(err.to_string())),
    }

    let label = activity_type(&value);
    let activity = queries::inbox::NewActivity {
        ap_id: envelope.id.to_string(),
        actor_ap_id: actor_url.to_string(),
        kind: label,
        body: text.to_owned(),
    };
    match data.inbox_writer.store(activity).await {
        Ok(Stored::New(_)) => {
            data.metrics
                .inbox_results
                .with_label_values(&[activity_label(&kind), "stored"])
                .inc();
            data.inbox_wakeup.notify_one();
            Ok(Received::Stored)
        }
        Ok(Stored::Duplicate) => {
            data.metrics
                .inbox_results
                .with_label_values(&[activity_label(&kind), "duplicate"])
                .inc();
            Ok(Received::Duplicate)
        }
        Err(err) => {
            warn!(%err, "could not store an inbox activity");
            Err(InboxRejection::Unavailable(if err.is_storage_full() {
                "the node's storage is full".into()
            } else {
                "storage error".into()
            }))
        }
    }
}

/// The sending actor, from the database or fetched; `None` for the Delete of
/// an actor this node cannot fetch (nothing to do).
async fn dereference_sender(
    data: &RequestData,
    object_id: &ObjectId<DbActor>,
    kind: &str,
    actor_url: &Url,
) -> Result<Option<DbActor>, InboxRejection> {
    match object_id.dereference(data).await {
        Ok(actor) => Ok(Some(actor)),
        // Our database, not the sender's key, failed: ask for a retry.
        Err(err) if err.kind() == ErrorKind::Unavailable => Err(InboxRejection::Unavailable(err.to_string())),
        Err(err) if kind == "Delete" => {
            debug!(%err, actor = %actor_url, "Delete from an actor we cannot fetch");
            Ok(None)
        }
        Err(err) => {
            let reason = SignatureError::KeyUnavailable(err.to_string());
            count_signature_failure(data, &reason);
            Err(reason.into())
        }
    }
}

/// Check `pending` with the key of `actor`; when that fails, the key may have
/// been rotated: fetch the actor again, at most once per origin every few
/// minutes, and check once more. Returns the actor whose key verified.
async fn verify_signer(
    data: &RequestData,
    object_id: &ObjectId<DbActor>,
    actor: DbActor,
    pending: &signatures::PendingSignature,
    peer: &str,
) -> Result<DbActor, InboxRejection> {
    let verified = actor.row.public_key_id == pending.key_id
        && signatures::verify_with_key(pending, &actor.row.public_key_pem);
    if verified {
        return Ok(actor);
    }
    let refreshed = if may_refetch_key(peer) {
        object_id.dereference_forced(data).await.ok()
    } else {
        None
    };
    if let Some(fresh) = refreshed.filter(|fresh| {
        fresh.row.public_key_id == pending.key_id
            && signatures::verify_with_key(pending, &fresh.row.public_key_pem)
    }) {
        return Ok(fresh);
    }
    // Whatever was kept of this actor did not verify: read it afresh next time.
    data.inbox_cache.forget_actor(object_id.inner().as_str());
    let reason = if actor.row.public_key_id != pending.key_id {
        SignatureError::KeyOwnerMismatch
    } else {
        SignatureError::Invalid
    };
    count_signature_failure(data, &reason);
    Err(reason.into())
}

/// A signed GET: signed with a key whose actor we can fetch, by a node that
/// is not blocked. `path_and_query` is the request target. The actor is who
/// asks, for authorized fetch and for the policy's remote viewer.
pub async fn verify_signed_fetch(
    data: &RequestData,
    headers: &HeaderMap,
    path_and_query: &str,
) -> Result<actor::Model, InboxRejection> {
    let pending = signatures::check_request(
        headers,
        "GET",
        path_and_query,
        None,
        &data.node.domain,
        data.settings.signature_window,
    )
    .inspect_err(|e| count_signature_failure(data, e))?;
    let mut key_url = Url::parse(&pending.key_id)
        .map_err(|_| InboxRejection::Signature(SignatureError::Malformed("keyId is not a URL".into())))?;
    key_url.set_fragment(None);
    let peer = host_of(&key_url);
    match queries::peers::is_blocked(&data.db, &peer).await {
        Ok(true) => {
            return Err(InboxRejection::Forbidden("this node does not serve yours".into()));
        }
        Ok(false) => {}
        Err(err) => return Err(InboxRejection::Unavailable(err.to_string())),
    }
    let object_id = ObjectId::<DbActor>::from(key_url);
    let actor = object_id.dereference(data).await.map_err(|err| {
        if err.kind() == ErrorKind::Unavailable {
            return InboxRejection::Unavailable(err.to_string());
        }
        let reason = SignatureError::KeyUnavailable(err.to_string());
        count_signature_failure(data, &reason);
        InboxRejection::Signature(reason)
    })?;
    Ok(verify_signer(data, &object_id, actor, &pending, &peer).await?.row)
}

fn count_signature_failure(data: &RequestData, reason: &SignatureError) {
    data.metrics
        .signature_failures
        .with_label_values(&[reason.as_str()])
        .inc();
}

/// One key refetch per origin per five minutes.
fn may_refetch_key(host: &str) -> bool {
    static LAST: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();
    let mut map = LAST
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    match map.get(host) {
        Some(at) if now.duration_since(*at) < Duration::from_secs(300) => false,
        _ => {
            map.insert(host.to_owned(), now);
            true
        }
    }
}

const MAX_PROCESSING_ATTEMPTS: i32 = 6;

/// Process stored activities, oldest first, until the process ends.
pub async fn run_worker(config: FederationConfig<FederationContext>) {
    let context = config.to_request_data().app_data().clone();
    let lease =
        chrono::Duration::from_std(context.settings.claim_lease).unwrap_or(chrono::Duration::minutes(2));
    loop {
        let claimed = match queries::inbox::claim_due(&context.db, 16, lease).await {
            Ok(rows) => rows,
            Err(err) => {
                warn!(%err, "could not claim inbox activities; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                _ = context.inbox_wakeup.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        }
        // Process the batch, then record every result in one transaction:
        // one commit for the batch instead of one per activity. Results lost
        // in a crash leave the rows claimed; they are processed again when
        // the lease ends, and processing is idempotent by activity id.
        let mut results = Vec::with_capacity(claimed.len());
        for row in claimed {
            let data = config.to_request_data();
            let result = process_stored(&row.body, &data).await;
            report_result(&context, &row, &result);
            results.push((row, result));
        }
        // The database may be restarting: try for a few seconds before
        // leaving the rows to be processed again when their claims end.
        let mut tries = 0;
        while let Err(err) = record_results(&context, &results).await {
            tries += 1;
            if tries == 5 {
                warn!(%err, "could not record processing results; the activities will be processed again");
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // What was applied may show on public pages: cached reads are stale.
        context.content_epoch.advance();
    }
}

/// Write what processing made of each claimed activity, in one transaction.
async fn record_results(
    context: &FederationContext,
    results: &[(inbox_activity::Model, Result<Outcome, FederationError>)],
) -> Result<(), healthcommons_db::DbError> {
    let txn = context
        .db
        .begin()
        .await
        .map_err(healthcommons_db::DbError::from)?;
    // The applied ones (nearly all) in one statement, so the transaction
    // holds SQLite's one writer, which the inbox's group commit waits for,
    // as briefly as it can.
    let applied: Vec<i64> = results
        .iter()
        .filter(|(_, result)| matches!(result, Ok(Outcome::Applied)))
        .map(|(row, _)| row.id)
        .collect();
    queries::inbox::mark_done(&txn, &applied).await?;
    for (row, result) in results {
        let attempts = row.attempts + 1;
        match result {
            Ok(Outcome::Applied) => {}
            Ok(Outcome::NotHandled(reason)) => {
                queries::inbox::mark_failed_attempt(&txn, row.id, attempts, reason, None).await?
            }
            Err(err) => {
                let retry_at = retry_delay(err, attempts).map(|wait| chrono::Utc::now() + wait);
                queries::inbox::mark_failed_attempt(&txn, row.id, attempts, &err.to_string(), retry_at)
                    .await?
            }
        }
    }
    txn.commit().await.map_err(healthcommons_db::DbError::from)
}

/// When processing that failed with `err` is tried again, if ever. Our own
/// database comes back within seconds; a remote server that failed a fetch
/// is given longer.
fn retry_delay(err: &FederationError, attempts: i32) -> Option<chrono::Duration> {
    if !err.is_transient() || attempts >= MAX_PROCESSING_ATTEMPTS {
        return None;
    }
    let base = if err.kind() == ErrorKind::Unavailable {
        5
    } else {
        30
    };
    Some(chrono::Duration::seconds(base * 2i64.pow(attempts as u32)))
}

/// Log and count what processing made of a claimed activity, once, however
/// many tries recording it takes.
fn report_result(
    context: &FederationContext,
    row: &inbox_activity::Model,
    result: &Result<Outcome, FederationError>,
) {
    let outcome = match result {
        Ok(Outcome::Applied) => "applied",
        Ok(Outcome::NotHandled(reason)) => {
            info!(activity = %row.ap_id, %reason, "activity kept but not acted on");
            "not_handled"
        }
        Err(err) if retry_delay(err, row.attempts + 1).is_some() => {
            info!(activity = %row.ap_id, %err, "processing failed, will retry");
            return;
        }
        Err(err) => {
            warn!(activity = %row.ap_id, %err, "activity refused");
            "refused"
        }
    };
    context
        .metrics
        .inbox_results
        .with_label_values(&[activity_label(&row.kind), outcome])
        .inc();
}

/// Parse and process one stored activity.
pub async fn process_stored(body: &str, data: &RequestData) -> Result<Outcome, FederationError> {
    let mut raw: Value = serde_json::from_str(body)?;
    actor_as_id(&mut raw);
    let activity: InboxActivity = serde_json::from_value(raw.clone())?;
    activity.process(raw, data).await
}

/// An `actor` sent as the whole actor object (Hubzilla and Streams do) is
/// taken by its id, which the envelope check already held to the activity's
/// host and the signing key's. What the object says of itself is not
/// trusted: the actor is fetched from its id as any other.
fn actor_as_id(raw: &mut Value) {
    if let Some(actor) = raw.get_mut("actor")
        && actor.is_object()
        && let Some(id) = crate::objects::id_of(actor)
    {
        *actor = Value::String(id.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_whose_actor_comes_whole_is_read_by_the_actors_id() {
        let mut raw = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "https://hub.example/follow/1",
            "type": "Follow",
            "actor": {
                "id": "https://hub.example/channel/ana",
                "type": "Person",
                "inbox": "https://hub.example/inbox/ana",
                "preferredUsername": "ana"
            },
            "object": "https://beta.test/g/walkers"
        });
        actor_as_id(&mut raw);
        assert_eq!(raw["actor"], "https://hub.example/channel/ana");
        let activity: InboxActivity = serde_json::from_value(raw).expect("a Follow");
        assert!(matches!(activity, InboxActivity::Follow(_)), "{activity:?}");
    }
}
