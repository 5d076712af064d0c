//! How activity in a working group reaches everyone in it (FEP-1b12).
//!
//! A local group announces every activity in it to its followers. Peers that
//! understand groups (Lemmy, Mbin, PieFed, Friendica, NodeBB, other Health
//! Commons nodes: learned from their NodeInfo) get `Announce{activity}`,
//! unchanged. The rest (Mastodon, GoToSocial, Pleroma, Misskey, …) do not
//! understand an announced Create, so they get `Announce{object id}` of new
//! posts, as a boost; when the post is edited or deleted they get the
//! author's own `Update` or `Delete` (they take those from the author only),
//! and `Undo{Announce}` of the boost when it is gone.

use crate::{
    FederationContext, RequestData,
    activities::{Announce, announce::UndoAnnounce},
    objects::actor::host_of,
    publisher::ld_context,
};
use healthcommons_db::{
    entities::{Visibility, actor, post},
    queries,
};
use healthcommons_service::{ServiceError, ServiceResult};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet, VecDeque};
use tracing::debug;
use url::Url;

/// What the relayed activity does to its object, for peers that only see objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A new object: boosted to them.
    Created,
    /// Its author changed it: they need the author's `Update`.
    Edited,
    /// It is gone: the boost is withdrawn, and they need a `Delete` from its author.
    Gone,
    /// A like, a lock, a vote: nothing they could show.
    Other,
}

/// The software names whose group handling follows FEP-1b12.
const GROUP_AWARE_SOFTWARE: &[&str] = &[
    "lemmy",
    "mbin",
    "kbin",
    "piefed",
    "friendica",
    "nodebb",
    "lotide",
    "discourse",
    "healthcommons",
];

pub fn is_group_aware(software: &str) -> bool {
    GROUP_AWARE_SOFTWARE.contains(&software.to_ascii_lowercase().as_str())
}

pub(crate) fn internal(err: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(err.to_string())
}

/// The stable id of the boost of `post` by `group`, so it can be undone.
pub fn boost_id(group: &actor::Model, post: &post::Model) -> String {
    format!("{}/boosts/{}", group.ap_id, post.id)
}

/// What a group relays: a post, or a garden item published to it.
#[derive(Debug, Clone)]
pub struct Relayed {
    pub ap_id: String,
    /// The id of the group's boost of it, stable so it can be undone.
    pub boost_id: String,
    pub members_only: bool,
    pub is_reply: bool,
    pub published: chrono::DateTime<chrono::Utc>,
}

impl Relayed {
    pub fn post(group: &actor::Model, post: &post::Model) -> Self {
        Relayed {
            ap_id: post.ap_id.clone(),
            boost_id: boost_id(group, post),
            members_only: !post.visibility.is_open(),
            is_reply: post.in_reply_to.is_some(),
            published: post.published,
        }
    }

    /// An object of its own published to the group (a garden item, an
    /// event, a question, a pledge): `kind` names it in the boost's id.
    pub fn standalone(
        group: &actor::Model,
        kind: &str,
        row_id: i64,
        ap_id: &str,
        visibility: Visibility,
        published: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Relayed {
            ap_id: ap_id.to_owned(),
            boost_id: format!("{}/boosts/{kind}/{row_id}", group.ap_id),
            members_only: !visibility.is_open(),
            is_reply: false,
            published,
        }
    }
}

/// A new activity id of ours, as a URL.
pub(crate) fn new_activity_id(context: &FederationContext, kind: &str) -> ServiceResult<Url> {
    Url::parse(&context.node.urls.new_activity(kind)).map_err(internal)
}

/// Enqueue one activity from `sender` to `inboxes` (deduplicated by inbox).
pub async fn deliver(
    db: &impl ConnectionTrait,
    context: &FederationContext,
    sender: &actor::Model,
    activity: &impl Serialize,
    inboxes: Vec<String>,
) -> ServiceResult<()> {
    let mut unique: BTreeMap<String, String> = BTreeMap::new();
    for inbox in inboxes {
        if inbox.starts_with(context.node.urls.base()) {
            continue;
        }
        let Ok(url) = Url::parse(&inbox) else { continue };
        unique.insert(inbox, host_of(&url));
    }
    if unique.is_empty() {
        return Ok(());
    }
    let (id, kind, body) = wire_body(activity)?;
    let pairs = interleave_hosts(unique);
    queries::deliveries::enqueue(db, &id, sender.id, &kind, &body, &pairs).await?;
    context.delivery_wakeup.notify_one();
    Ok(())
}

/// An activity as it goes on the wire, with its id and type: with our
/// `@context` when the activity does not bring its own.
pub fn wire_body(activity: &impl Serialize) -> ServiceResult<(String, String, String)> {
    let mut activity = serde_json::to_value(activity).map_err(internal)?;
    let id = activity
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| internal("an outgoing activity has no id"))?
        .to_owned();
    let kind = activity
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Activity")
        .to_owned();
    if let Value::Object(map) = &mut activity
        && !map.contains_key("@context")
    {
        map.insert("@context".into(), ld_context());
    }
    let body = serde_json::to_string(&activity).map_err(internal)?;
    Ok((id, kind, body))
}

/// `(inbox, host)` pairs ordered one host at a time: each host's first inbox,
/// then each host's second, and so on. Deliveries are claimed in this order,
/// so a batch reaches many nodes at once over one connection each, instead of
/// opening several connections to one node while the others wait.
fn interleave_hosts(inboxes: BTreeMap<String, String>) -> Vec<(String, String)> {
    let total = inboxes.len();
    let mut by_host: BTreeMap<String, VecDeque<String>> = BTreeMap::new();
    for (inbox, host) in inboxes {
        by_host.entry(host).or_default().push_back(inbox);
    }
    let mut ordered = Vec::with_capacity(total);
    while !by_host.is_empty() {
        by_host.retain(|host, waiting| match waiting.pop_front() {
            Some(inbox) => {
                ordered.push((inbox, host.clone()));
                true
            }
            None => false,
        });
    }
    ordered
}

/// The inboxes of an actor's remote followers, with their hosts: shared
/// inboxes where `shared` and a follower's node has one.
pub async fn follower_inboxes(
    db: &impl ConnectionTrait,
    actor: &actor::Model,
    shared: bool,
) -> ServiceResult<Vec<(String, String)>> {
    Ok(queries::follows::remote_follower_inboxes(db, actor.id, shared)
        .await?
        .into_iter()
        .map(|follower| (follower.inbox, follower.host))
        .collect())
}

/// Who hears of a change directly, besides a group's announce: the author's
/// remote followers and `extra` (voters, participants, backers, forks) when
/// the content is open to anyone; nobody when it is members-only, which
/// reaches members only through their group, in their own inboxes.
pub async fn direct_inboxes(
    db: &impl ConnectionTrait,
    visibility: Visibility,
    author: &actor::Model,
    extra: Vec<String>,
) -> ServiceResult<Vec<String>> {
    if !visibility.is_open() {
        return Ok(Vec::new());
    }
    let mut inboxes = follower_inbox_urls(db, author).await?;
    inboxes.extend(extra);
    Ok(inboxes)
}

/// The inboxes (shared where there is one) of an actor's remote followers.
pub async fn follower_inbox_urls(
    db: &impl ConnectionTrait,
    actor: &actor::Model,
) -> ServiceResult<Vec<String>> {
    Ok(follower_inboxes(db, actor, true)
        .await?
        .into_iter()
        .map(|(inbox, _)| inbox)
        .collect())
}

/// Inboxes on group-aware peers, and the rest.
async fn split_by_group_awareness(
    db: &impl ConnectionTrait,
    inboxes: Vec<(String, String)>,
) -> ServiceResult<(Vec<String>, Vec<String>)> {
    let hosts: Vec<String> = inboxes
        .iter()
        .map(|(_, host)| host.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let aware = queries::peers::group_aware_among(db, hosts).await?;
    let (aware, others): (Vec<_>, Vec<_>) = inboxes.into_iter().partition(|(_, host)| aware.contains(host));
    Ok((
        aware.into_iter().map(|(inbox, _)| inbox).collect(),
        others.into_iter().map(|(inbox, _)| inbox).collect(),
    ))
}

/// Where a group's announce went, for the caller's own deliveries of the
/// same activity.
#[derive(Debug, Default)]
pub struct Announced {
    /// Hosts that got the activity inside the group's `Announce`.
    relayed_to: HashSet<String>,
    /// Inboxes of followers on peers that only see objects, which need the
    /// author's own `Update` or `Delete` (empty unless the effect is
    /// `Edited` or `Gone`): the caller sends it there, from the author.
    pub only_see_objects: Vec<String>,
}

impl Announced {
    /// `inboxes` less those on hosts that already got the activity announced:
    /// one activity reaches a node once (Lemmy answers a second copy 400).
    pub fn not_yet_reached(&self, inboxes: Vec<String>) -> Vec<String> {
        inboxes
            .into_iter()
            .filter(|inbox| {
                Url::parse(inbox)
                    .map(|url| !self.relayed_to.contains(&host_of(&url)))
                    .unwrap_or(true)
            })
            .collect()
    }
}

/// A local group announces `activity` (about a post, event, question,
/// pledge or garden item) to its remote followers.
pub async fn announce(
    db: &impl ConnectionTrait,
    context: &FederationContext,
    group: &actor::Model,
    relayed: &Relayed,
    activity: &impl Serialize,
    effect: Effect,
) -> ServiceResult<Announced> {
    let activity = serde_json::to_value(activity).map_err(internal)?;
    let members_only = relayed.members_only;
    let settings = queries::groups::settings(db, group.id).await?;
    let boost_replies = settings.as_ref().is_none_or(|s| s.announce_replies);
    // Members-only posts go to each member's own inbox, never to a shared
    // inbox that serves others on that node.
    let inboxes = follower_inboxes(db, group, !members_only).await?;
    if inboxes.is_empty() {
        return Ok(Announced::default());
    }
    let (aware_inboxes, other_inboxes) = split_by_group_awareness(db, inboxes).await?;
    // Never back to where it came from: that node has it, and Lemmy is
    // reported (issue 21, Lemmy 0.19.20) to refuse an announce of its own
    // object ("cant accept local object from remote instance").
    let origin = activity
        .get("actor")
        .and_then(crate::objects::id_of)
        .map(|actor| host_of(&actor));
    let aware_inboxes: Vec<String> = aware_inboxes
        .into_iter()
        .filter(|inbox| origin.is_none() || Url::parse(inbox).ok().map(|u| host_of(&u)) != origin)
        .collect();
    let announce = Announce::relay(
        new_activity_id(context, "announce")?,
        group,
        activity,
        members_only,
    )
    .map_err(internal)?;
    let relayed_to = aware_inboxes
        .iter()
        .filter_map(|inbox| Url::parse(inbox).ok())
        .map(|url| host_of(&url))
        .collect();
    deliver(db, context, group, &announce, aware_inboxes).await?;
    let mut announced = Announced {
        relayed_to,
        only_see_objects: Vec::new(),
    };

    // Peers that only understand posts: a boost of the post itself, which
    // they fetch from its origin, so members-only posts never go this way.
    if members_only || other_inboxes.is_empty() {
        return Ok(announced);
    }
    let boost = Announce::boost(
        Url::parse(&relayed.boost_id).map_err(internal)?,
        group,
        &relayed.ap_id,
        relayed.published,
    )
    .map_err(internal)?;
    match effect {
        Effect::Created if !relayed.is_reply || boost_replies => {
            deliver(db, context, group, &boost, other_inboxes).await?;
        }
        Effect::Edited => announced.only_see_objects = other_inboxes,
        Effect::Gone => {
            let undo = UndoAnnounce::new(new_activity_id(context, "undo")?, boost);
            deliver(db, context, group, &undo, other_inboxes.clone()).await?;
            announced.only_see_objects = other_inboxes;
        }
        _ => {}
    }
    Ok(announced)
}

/// A local group announces a moderation activity (a ban, a change of
/// moderators) to its followers on group-aware peers; the rest have nothing
/// to show for it. Who a members-only group bans or appoints is its
/// members' business: addressed to them, in their own inboxes.
pub async fn announce_moderation(
    db: &impl ConnectionTrait,
    context: &FederationContext,
    group: &actor::Model,
    members_only: bool,
    activity: &impl Serialize,
) -> ServiceResult<()> {
    let (aware_inboxes, _) =
        split_by_group_awareness(db, follower_inboxes(db, group, !members_only).await?).await?;
    let activity = serde_json::to_value(activity).map_err(internal)?;
    let announce = Announce::relay(
        new_activity_id(context, "announce")?,
        group,
        activity,
        members_only,
    )
    .map_err(internal)?;
    deliver(db, context, group, &announce, aware_inboxes).await
}

/// Whether a local group keeps what happens in it among its members.
pub async fn is_members_only(db: &impl ConnectionTrait, group: &actor::Model) -> ServiceResult<bool> {
    let settings = queries::groups::settings(db, group.id).await?;
    Ok(healthcommons_service::policy::group_visibility(settings.as_ref()) == Visibility::Members)
}

/// Ask a peer's NodeInfo what software it runs, once a day at most, and
/// remember whether it understands groups. Failures leave it unknown (it is
/// then treated as not group-aware, which every server can read).
pub async fn learn_software(data: &RequestData, actor_id: &Url) {
    let host = host_of(actor_id);
    if let Ok(Some(peer)) = queries::peers::get(&data.db, &host).await
        && peer
            .software_checked_at
            .is_some_and(|at| chrono::Utc::now() - at < chrono::Duration::days(1))
    {
        return;
    }
    let software = nodeinfo_software(data, actor_id).await;
    let aware = software.as_deref().is_some_and(is_group_aware);
    debug!(%host, ?software, aware, "learned a peer's software");
    if let Err(err) = queries::peers::record_software(&data.db, &host, software.as_deref(), aware).await {
        debug!(%err, %host, "could not record a peer's software");
    }
}

async fn nodeinfo_software(data: &RequestData, actor_id: &Url) -> Option<String> {
    let info = crate::discovery::fetch_nodeinfo(&data.client, actor_id.scheme(), &host_of(actor_id))
        .await
        .ok()?;
    crate::discovery::software_name(&info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fan_out_is_ordered_one_host_at_a_time() {
        let inboxes: BTreeMap<String, String> = [
            ("https://a.example/users/1/inbox", "a.example"),
            ("https://a.example/users/2/inbox", "a.example"),
            ("https://a.example/users/3/inbox", "a.example"),
            ("https://b.example/users/1/inbox", "b.example"),
            ("https://c.example/inbox", "c.example"),
            ("https://c.example/users/9/inbox", "c.example"),
        ]
        .into_iter()
        .map(|(inbox, host)| (inbox.to_owned(), host.to_owned()))
        .collect();
        let order: Vec<String> = interleave_hosts(inboxes)
            .into_iter()
            .map(|(inbox, _)| inbox)
            .collect();
        assert_eq!(
            order,
            [
                "https://a.example/users/1/inbox",
                "https://b.example/users/1/inbox",
                "https://c.example/inbox",
                "https://a.example/users/2/inbox",
                "https://c.example/users/9/inbox",
                "https://a.example/users/3/inbox",
            ]
        );
    }
}
