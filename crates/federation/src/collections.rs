//! Collections of local actors. Followers and following show their size only:
//! who joined a health working group is not published.

use serde_json::{Value, json};

use crate::publisher::AS_CONTEXT;

pub fn counted_collection(id: &str, total: u64) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total,
    })
}

/// An outbox with the public activities given, newest first.
pub fn outbox(id: &str, items: Vec<Value>) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": items.len(),
        "orderedItems": items,
    })
}
