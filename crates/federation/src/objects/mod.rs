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

/// `cc` of a public object by `author` in `group`: the author's followers,
/// the group's followers and the group itself.
pub fn audience_cc(
    author: &healthcommons_db::entities::actor::Model,
    group: Option<&healthcommons_db::entities::actor::Model>,
) -> Result<Vec<Url>, crate::FederationError> {
    let mut cc = Vec::new();
    for followers in [
        author.followers_url.as_deref(),
        group.and_then(|g| g.followers_url.as_deref()),
    ]
    .into_iter()
    .flatten()
    {
        cc.push(Url::parse(followers)?);
    }
    if let Some(group) = group {
        cc.push(Url::parse(&group.ap_id)?);
    }
    Ok(cc)
}

/// An object fetched or received is on the host it came from, and so is
/// its author (checklist O1); `what` names it in the refusal.
pub fn verify_origin(
    id: &Url,
    author: &Url,
    expected_domain: &Url,
    what: &str,
) -> Result<(), crate::FederationError> {
    activitypub_federation::protocol::verification::verify_domains_match(id, expected_domain)
        .map_err(|_| crate::FederationError::Invalid(format!("the {what}'s id is on another host")))?;
    if actor::host_of(author) != actor::host_of(id) {
        return Err(crate::FederationError::Invalid(format!(
            "the {what}'s author is on another host than the {what}"
        )));
    }
    Ok(())
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
