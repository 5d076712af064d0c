//! When one of ours joins a working group on another node, the group's
//! recent threads are fetched from its outbox, and each thread's replies from
//! its FEP-7888 `context` collection, so the group does not start out empty
//! here. Every post is fetched from its own origin, never trusted as embedded.

use crate::{
    FederationError, RequestData, moderators,
    objects::{
        actor::host_of,
        id_of,
        post::{ApPost, DbPost},
    },
};
use activitypub_federation::{
    fetch::{fetch_object_http, object_id::ObjectId},
    traits::Object,
};
use healthcommons_db::{entities::actor, queries};
use serde_json::Value;
use tracing::{debug, info};
use url::Url;

/// Threads read from the outbox's first page at most.
const MAX_THREADS: usize = 20;
/// Posts read from one thread's context at most.
const MAX_THREAD_POSTS: usize = 200;

/// Backfill `group` in the background; failures are logged, nothing waits on it.
pub fn spawn(group: actor::Model, data: &RequestData) {
    let data = data.reset_request_count();
    tokio::spawn(async move {
        match group_threads(&group, &data).await {
            Ok(count) => info!(group = %group.ap_id, count, "backfilled a working group"),
            Err(err) => debug!(group = %group.ap_id, %err, "could not backfill a working group"),
        }
        // Even a failed backfill may have stored some threads.
        data.content_epoch.advance();
    });
}

/// Fetch a remote group's moderators and recent threads; returns how many
/// posts were stored.
async fn group_threads(group: &actor::Model, data: &RequestData) -> Result<usize, FederationError> {
    if let Err(err) = moderators::refresh(group, data).await {
        debug!(group = %group.ap_id, %err, "no moderators to read");
    }
    let outbox = group
        .outbox
        .as_deref()
        .ok_or_else(|| FederationError::Invalid("the group has no outbox".into()))?;
    let items = collection_items(&Url::parse(outbox)?, data).await?;
    let mut stored = 0;
    for item in items.iter().take(MAX_THREADS) {
        let Some(post_id) = post_in(item) else { continue };
        match thread(&post_id, data).await {
            Ok(count) => stored += count,
            Err(err) => debug!(%post_id, %err, "a thread left out of a backfill"),
        }
    }
    Ok(stored)
}

/// The post an outbox item is about: the object of a `Create`, or of the
/// activity a group `Announce`d (Lemmy's outbox), or a bare post.
fn post_in(item: &Value) -> Option<Url> {
    let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "Create" | "Update" => item.get("object").and_then(id_of),
        "Announce" => {
            let object = item.get("object")?;
            match object.get("object") {
                Some(inner) if object.get("type").and_then(Value::as_str) == Some("Create") => id_of(inner),
                Some(_) => None,
                None => id_of(object),
            }
        }
        "Note" | "Page" | "Article" => id_of(item),
        _ => None,
    }
}

/// Store one post and, when it names a context collection on its own host,
/// every post in that collection. Returns how many posts were stored.
async fn thread(post_id: &Url, data: &RequestData) -> Result<usize, FederationError> {
    let fetched: Value = fetch_object_http::<_, Value>(post_id, data).await?.object;
    let context = fetched
        .get("context")
        .and_then(Value::as_str)
        .and_then(|c| Url::parse(c).ok())
        .filter(|c| host_of(c) == host_of(post_id));
    let json: ApPost = serde_json::from_value(fetched)?;
    DbPost::verify(&json, post_id, data).await?;
    DbPost::from_json(json, data).await?;
    let mut stored = 1;
    let Some(context) = context else {
        return Ok(stored);
    };
    for item in collection_items(&context, data)
        .await?
        .iter()
        .take(MAX_THREAD_POSTS)
    {
        let id = id_of(item);
        let Some(id) = id.filter(|id| id != post_id) else {
            continue;
        };
        if queries::posts::by_ap_id(&data.db, id.as_str()).await?.is_some() {
            continue;
        }
        match ObjectId::<DbPost>::from(id.clone()).dereference(data).await {
            Ok(_) => stored += 1,
            Err(err) => debug!(%id, %err, "a reply left out of a backfill"),
        }
    }
    Ok(stored)
}

/// The items of a collection: inline, or on its first page.
pub(crate) async fn collection_items(url: &Url, data: &RequestData) -> Result<Vec<Value>, FederationError> {
    let collection: Value = fetch_object_http::<_, Value>(url, data).await?.object;
    if let Some(items) = items_of(&collection) {
        return Ok(items);
    }
    let first = match collection.get("first") {
        Some(Value::String(first)) => {
            let first = Url::parse(first)?;
            if host_of(&first) != host_of(url) {
                return Err(FederationError::Invalid(
                    "the collection's first page is on another host".into(),
                ));
            }
            fetch_object_http::<_, Value>(&first, data).await?.object
        }
        Some(page) => page.clone(),
        None => return Ok(Vec::new()),
    };
    Ok(items_of(&first).unwrap_or_default())
}

fn items_of(collection: &Value) -> Option<Vec<Value>> {
    collection
        .get("orderedItems")
        .or_else(|| collection.get("items"))
        .and_then(Value::as_array)
        .cloned()
}
