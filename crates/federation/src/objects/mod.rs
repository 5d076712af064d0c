//! Objects as they travel: each has a wire struct and an `Object` impl.

pub mod actor;
pub mod adoption;
pub mod event;
pub mod garden_item;
pub mod pledge;
pub mod post;
pub mod question;

use serde_json::Value;
use url::Url;

/// What an id of a deleted object answers (with `410 Gone`).
pub fn tombstone_json(
    ap_id: &str,
    former_type: &str,
    deleted: Option<chrono::DateTime<chrono::Utc>>,
) -> Value {
    serde_json::json!({
        "@context": crate::publisher::AS_CONTEXT,
        "id": ap_id,
        "type": "Tombstone",
        "formerType": former_type,
        "deleted": deleted,
    })
}

/// The id a JSON reference names: a URL string, or an object with an `id`.
pub fn id_of(value: &Value) -> Option<Url> {
    match value {
        Value::String(s) => Url::parse(s).ok(),
        Value::Object(map) => map
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| Url::parse(s).ok()),
        _ => None,
    }
}
