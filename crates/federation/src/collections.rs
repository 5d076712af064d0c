//! Collections of local actors. Followers and following show their size only:
//! who joined a health working group is not published.

use crate::{
    FederationError,
    activities::{Announce, CreatePost},
    objects::post::{ApPost, note_of},
};
use healthcommons_db::entities::{ActorKind, actor, post};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tracing::debug;
use url::Url;

pub use crate::publisher::AS_CONTEXT;

pub fn counted_collection(id: &str, total: u64) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total,
    })
}

/// An outbox: its newest public activities, and how many there are in all.
pub fn outbox(id: &str, total: u64, items: Vec<Value>) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total,
        "orderedItems": items,
    })
}

/// The items of an actor's outbox. A person's is the `Create` of each post.
/// A working group's is its `Announce` of the `Create` of each thread start,
/// as it sent them: Lemmy reads a group outbox only in that shape, and skips
/// anything else, so a late follower there would see no earlier thread.
pub async fn outbox_items(
    db: &impl ConnectionTrait,
    owner: &actor::Model,
    posts: Vec<post::Model>,
) -> Vec<Value> {
    let mut items = Vec::with_capacity(posts.len());
    for row in posts {
        let ap_id = row.ap_id.clone();
        let item = match note_of(db, row).await {
            Ok(note) => outbox_item(owner, &ap_id, &note),
            Err(err) => Err(err),
        };
        match item {
            Ok(item) => items.push(item),
            Err(err) => debug!(%err, %ap_id, "a post left out of an outbox"),
        }
    }
    items
}

fn outbox_item(owner: &actor::Model, ap_id: &str, note: &ApPost) -> Result<Value, FederationError> {
    let create = serde_json::to_value(CreatePost::new(Url::parse(&format!("{ap_id}#create"))?, note)?)?;
    if owner.kind != ActorKind::Group {
        return Ok(create);
    }
    let announce = Announce::relay(Url::parse(&format!("{ap_id}#announce"))?, owner, create, false)?;
    Ok(serde_json::to_value(announce)?)
}

/// A collection that lists ids (moderators, a thread's context).
pub fn ordered(id: &str, ids: Vec<String>) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": ids.len(),
        "orderedItems": ids,
    })
}
