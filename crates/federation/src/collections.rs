//! Collections of local actors. Followers and following show their size only:
//! who joined a health working group is not published.

use serde_json::{Value, json};

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
