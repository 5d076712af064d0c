//! Objects as they travel: each has a wire struct and an `Object` impl.

pub mod actor;
pub mod adoption;
pub mod event;
pub mod garden_item;
pub mod pledge;
pub mod post;
pub mod question;

use activitypub_federation::kinds::public;
use healthcommons_db::entities::{Visibility, actor as actor_row};
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

/// `to` and `cc` of anything this node sends, by its visibility: the one
/// addressing rule, so members-only content is never addressed to the
/// public or to the author's own followers, whatever kind it is.
pub fn addressing(
    visibility: Visibility,
    author: &actor_row::Model,
    group: Option<&actor_row::Model>,
    mentions: Vec<Url>,
) -> Result<(Vec<Url>, Vec<Url>), crate::FederationError> {
    let parse = |s: Option<&str>| s.map(Url::parse).transpose();
    let group_id = parse(group.map(|g| g.ap_id.as_str()))?;
    let group_followers = parse(group.and_then(|g| g.followers_url.as_deref()))?;
    let author_followers = parse(author.followers_url.as_deref())?;
    let (to, cc): (Vec<Option<Url>>, Vec<Option<Url>>) = match visibility {
        Visibility::Public => (
            vec![Some(public()), group_id],
            vec![author_followers, group_followers],
        ),
        Visibility::Unlisted => (
            vec![group_id, author_followers],
            vec![Some(public()), group_followers],
        ),
        Visibility::Members => (vec![group_id, group_followers], vec![]),
        Visibility::Followers => (vec![author_followers], vec![]),
    };
    let mut cc: Vec<Url> = cc.into_iter().flatten().collect();
    // A members-only post names only its group's members as its audience:
    // someone mentioned in it who is not a member must not be made one by a
    // server that delivers to, or notifies, everyone a post addresses.
    if visibility != Visibility::Members {
        cc.extend(mentions);
    }
    Ok((to.into_iter().flatten().collect(), cc))
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
