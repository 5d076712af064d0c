//! Turns the service layer's `Outgoing` values into ActivityPub activities
//! and their deliveries, inside the caller's transaction.

use crate::{
    FederationContext, RequestData,
    objects::{actor::host_of, addressing, post::note_of},
    relay::{self, Effect},
};
use activitypub_federation::kinds::public;
use healthcommons_db::entities::{ActorKind, ReactionKind, TagKind};
use healthcommons_db::{
    DatabaseTransaction,
    entities::{Visibility, actor, group_ban, post, reaction},
    queries,
};
use healthcommons_service::{Outgoing, Publisher, ServiceError, ServiceResult};
use serde_json::{Value, json};
use url::Url;

pub const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";
pub const SECURITY_CONTEXT: &str = "https://w3id.org/security/v1";

/// The `@context` of actors, posts and the activities that carry them:
/// ActivityStreams, the security vocabulary (`publicKey`), and the terms
/// that Mastodon and Lemmy introduced and the ActivityStreams context does
/// not define, with the definitions those servers give them. A JSON-LD
/// processor drops a property whose term is undefined: Fedify 2.3 read our
/// actors without `manuallyApprovesFollowers` or `discoverable`, and our
/// posts without `sensitive`, until they were defined here
/// (federation-tests/tests/third_party.rs checks it).
pub fn ld_context() -> Value {
    json!([
        AS_CONTEXT,
        SECURITY_CONTEXT,
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "sensitive": "as:sensitive",
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "lemmy": "https://join-lemmy.org/ns#",
            "moderators": {"@id": "lemmy:moderators", "@type": "@id"},
        }
    ])
}

/// The reason a moderator's removal carries when the moderator gave none.
const REMOVAL_REASON: &str = "Removed by a moderator of the working group";

pub struct OutboxPublisher {
    pub(crate) context: FederationContext,
}

impl OutboxPublisher {
    pub fn new(data: &RequestData) -> Self {
        OutboxPublisher {
            context: data.app_data().clone(),
        }
    }

    pub fn from_context(context: &FederationContext) -> Self {
        OutboxPublisher {
            context: context.clone(),
        }
    }
}

pub(crate) async fn actor_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<actor::Model> {
    queries::actors::by_id(txn, id)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("actor {id} vanished while publishing")))
}

fn follow_json(follow_ap_id: &str, follower: &actor::Model, target: &actor::Model) -> Value {
    json!({
        "id": follow_ap_id,
        "type": "Follow",
        "actor": follower.ap_id,
        "object": target.ap_id,
    })
}

/// The inbox for one recipient, with the peer host it belongs to.
fn inbox_of(recipient: &actor::Model) -> ServiceResult<(String, String)> {
    let url = Url::parse(&recipient.inbox)
        .map_err(|e| ServiceError::Internal(format!("stored inbox {} is invalid: {e}", recipient.inbox)))?;
    Ok((recipient.inbox.clone(), host_of(&url)))
}

#[async_trait::async_trait]
impl Publisher for OutboxPublisher {
    async fn publish(&self, txn: &DatabaseTransaction, outgoing: Outgoing) -> ServiceResult<()> {
        match outgoing {
            Outgoing::Follow { .. }
            | Outgoing::UndoFollow { .. }
            | Outgoing::AcceptFollow { .. }
            | Outgoing::RejectFollow { .. } => self.publish_follow(txn, outgoing).await,
            Outgoing::Report { report_id } => self.publish_report(txn, report_id).await,
            Outgoing::Ban {
                ban,
                moderator_id,
                banned,
            } => self.publish_ban(txn, ban, moderator_id, banned).await,
            Outgoing::CreateGardenItem { .. }
            | Outgoing::UpdateGardenItem { .. }
            | Outgoing::DeleteGardenItem { .. } => self.publish_garden_item(txn, outgoing).await,
            Outgoing::Adopt { adoption_id } => self.publish_adoption(txn, adoption_id).await,
            Outgoing::CreateEvent { .. }
            | Outgoing::UpdateEvent { .. }
            | Outgoing::DeleteEvent { .. }
            | Outgoing::JoinEvent { .. }
            | Outgoing::LeaveEvent { .. }
            | Outgoing::AnswerJoin { .. } => self.publish_event(txn, outgoing).await,
            Outgoing::CreateQuestion { .. } | Outgoing::UpdateQuestion { .. } | Outgoing::Vote { .. } => {
                self.publish_agenda(txn, outgoing).await
            }
            Outgoing::CreatePledge { .. }
            | Outgoing::UpdatePledge { .. }
            | Outgoing::CountOnPledge { .. }
            | Outgoing::StopCountingOnPledge { .. } => self.publish_pledges(txn, outgoing).await,
            Outgoing::UpdateActor { actor_id } => self.publish_actor_update(txn, actor_id).await,
            Outgoing::ModeratorChange {
                group_id,
                moderator_id,
                person_id,
                added,
            } => {
                self.publish_moderator_change(txn, group_id, moderator_id, person_id, added)
                    .await
            }
            // Listed one by one, not `_`: a new kind of outgoing activity
            // must be given a place here before it compiles.
            Outgoing::CreatePost { .. }
            | Outgoing::UpdatePost { .. }
            | Outgoing::DeletePost { .. }
            | Outgoing::RemovePost { .. }
            | Outgoing::LockThread { .. }
            | Outgoing::React { .. }
            | Outgoing::UndoReaction { .. } => self.publish_in_group(txn, outgoing).await,
        }
    }
}

impl OutboxPublisher {
    async fn publish_follow(&self, txn: &DatabaseTransaction, outgoing: Outgoing) -> ServiceResult<()> {
        let (follow_id, kind) = match &outgoing {
            Outgoing::Follow { follow_id } => (*follow_id, "Follow"),
            Outgoing::UndoFollow { follow_id } => (*follow_id, "Undo"),
            Outgoing::AcceptFollow { follow_id } => (*follow_id, "Accept"),
            Outgoing::RejectFollow { follow_id } => (*follow_id, "Reject"),
            _ => return Err(ServiceError::Internal("not a follow".into())),
        };
        let follow = queries::follows::by_id(txn, follow_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("follow {follow_id} vanished while publishing")))?;
        let follower = actor_by_id(txn, follow.follower_id).await?;
        let target = actor_by_id(txn, follow.target_id).await?;
        let inner = follow_json(&follow.ap_id, &follower, &target);

        // Follow and Undo go from the follower to the target; answers the other way.
        let (id, sender, recipient, mut activity) = match outgoing {
            Outgoing::Follow { .. } => (follow.ap_id.clone(), &follower, &target, inner),
            Outgoing::UndoFollow { .. } => {
                let id = self.context.node.urls.new_activity("undo");
                let activity = json!({
                    "id": id, "type": "Undo", "actor": follower.ap_id, "object": inner,
                });
                (id, &follower, &target, activity)
            }
            _ => {
                let id = self.context.node.urls.new_activity(&kind.to_ascii_lowercase());
                let activity = json!({
                    "id": id, "type": kind, "actor": target.ap_id, "object": inner,
                });
                (id, &target, &follower, activity)
            }
        };
        if let Value::Object(map) = &mut activity {
            map.insert("@context".into(), json!(AS_CONTEXT));
            map.insert("to".into(), json!([recipient.ap_id]));
        }
        let body = serde_json::to_string(&activity).map_err(|e| ServiceError::Internal(e.to_string()))?;
        queries::deliveries::enqueue(txn, &id, sender.id, kind, &body, &[inbox_of(recipient)?]).await?;
        self.context.delivery_wakeup.notify_one();
        Ok(())
    }
}

async fn post_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<post::Model> {
    queries::posts::by_id(txn, id)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("post {id} vanished while publishing")))
}

pub(crate) fn to_value<T: serde::Serialize>(value: &T) -> ServiceResult<Value> {
    serde_json::to_value(value).map_err(|e| ServiceError::Internal(e.to_string()))
}

impl OutboxPublisher {
    /// A `Flag` to the reported actor's node, from this node's instance actor
    /// (as Mastodon does, so the reporter stays anonymous there).
    async fn publish_report(&self, txn: &DatabaseTransaction, report_id: i64) -> ServiceResult<()> {
        let report = queries::reports::by_id(txn, report_id)
            .await?
            .ok_or_else(|| ServiceError::Internal("a report vanished while publishing".into()))?;
        let Some(target) = report.target_id else {
            return Ok(());
        };
        let target = actor_by_id(txn, target).await?;
        let instance = queries::actors::instance_actor(txn)
            .await?
            .ok_or_else(|| ServiceError::Internal("the instance actor is missing".into()))?;
        let post_ids: Vec<String> = serde_json::from_str(&report.post_ids).unwrap_or_default();
        let mut object = vec![json!(target.ap_id)];
        object.extend(post_ids.into_iter().map(Value::String));
        let activity = json!({
            "id": report.ap_id,
            "type": "Flag",
            "actor": instance.ap_id,
            "object": object,
            "content": report.content,
            "to": [target.ap_id],
        });
        let inbox = target
            .shared_inbox
            .clone()
            .unwrap_or_else(|| target.inbox.clone());
        relay::deliver(txn, &self.context, &instance, activity, vec![inbox]).await
    }

    /// A ban as Lemmy sends it: `Block` by the moderator with the group as
    /// `target`, announced by the group and sent to the person banned.
    async fn publish_ban(
        &self,
        txn: &DatabaseTransaction,
        ban: group_ban::Model,
        moderator_id: i64,
        banned: bool,
    ) -> ServiceResult<()> {
        let group = actor_by_id(txn, ban.group_id).await?;
        let moderator = actor_by_id(txn, moderator_id).await?;
        let person = actor_by_id(txn, ban.actor_id).await?;
        let block_id = ban
            .ap_id
            .clone()
            .unwrap_or_else(|| self.context.node.urls.new_activity("block"));
        let mut activity = json!({
            "id": block_id,
            "type": "Block",
            "actor": moderator.ap_id,
            "object": person.ap_id,
            "target": group.ap_id,
            "summary": ban.reason,
            "to": [public()],
            "cc": [group.ap_id],
            "audience": group.ap_id,
        });
        if !banned {
            activity = json!({
                "id": self.context.node.urls.new_activity("undo"),
                "type": "Undo",
                "actor": moderator.ap_id,
                "object": activity,
                "to": [public()],
                "cc": [group.ap_id],
                "audience": group.ap_id,
            });
        }
        self.send_moderation(txn, &group, &moderator, &person, activity)
            .await
    }

    /// `Update` of a local actor's profile, from the actor, to the nodes of
    /// everyone who follows it (Mastodon, Lemmy and the rest all read it).
    async fn publish_actor_update(&self, txn: &DatabaseTransaction, actor_id: i64) -> ServiceResult<()> {
        let actor = actor_by_id(txn, actor_id).await?;
        let icon = queries::groups::settings(txn, actor.id)
            .await?
            .and_then(|s| s.icon_url);
        let profile = crate::objects::actor::ap_actor(&actor, icon.as_deref(), &self.context.node.urls)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let activity = json!({
            "id": self.context.node.urls.new_activity("update"),
            "type": "Update",
            "actor": actor.ap_id,
            "object": to_value(&profile)?,
            "to": [public()],
            "cc": [actor.followers_url],
        });
        let inboxes = relay::follower_inbox_urls(txn, &actor).await?;
        relay::deliver(txn, &self.context, &actor, activity, inboxes).await
    }

    /// `Add` or `Remove` of a person on the group's moderators collection.
    async fn publish_moderator_change(
        &self,
        txn: &DatabaseTransaction,
        group_id: i64,
        moderator_id: i64,
        person_id: i64,
        added: bool,
    ) -> ServiceResult<()> {
        let group = actor_by_id(txn, group_id).await?;
        let moderator = actor_by_id(txn, moderator_id).await?;
        let person = actor_by_id(txn, person_id).await?;
        let kind = if added { "Add" } else { "Remove" };
        let activity = json!({
            "id": self.context.node.urls.new_activity(&kind.to_ascii_lowercase()),
            "type": kind,
            "actor": moderator.ap_id,
            "object": person.ap_id,
            "target": healthcommons_service::urls::NodeUrls::moderators_of(&group.ap_id),
            "to": [public()],
            "cc": [group.ap_id],
            "audience": group.ap_id,
        });
        self.send_moderation(txn, &group, &moderator, &person, activity)
            .await
    }

    /// The group announces a moderation activity to its group-aware
    /// followers; the person it concerns gets it directly.
    async fn send_moderation(
        &self,
        txn: &DatabaseTransaction,
        group: &actor::Model,
        moderator: &actor::Model,
        person: &actor::Model,
        mut activity: Value,
    ) -> ServiceResult<()> {
        let members_only = relay::is_members_only(txn, group).await?;
        if members_only {
            activity["to"] = json!([group.followers_url]);
        }
        relay::announce_moderation(txn, &self.context, group, members_only, &activity).await?;
        let inboxes = if person.local {
            Vec::new()
        } else {
            vec![person.inbox.clone()]
        };
        relay::deliver(txn, &self.context, moderator, activity, inboxes).await
    }

    /// Activities about a post: built for the acting member, then relayed
    /// through the post's working group.
    async fn publish_in_group(&self, txn: &DatabaseTransaction, outgoing: Outgoing) -> ServiceResult<()> {
        let urls = &self.context.node.urls;
        let (post, sender, activity, effect) = match outgoing {
            Outgoing::CreatePost { post_id } | Outgoing::UpdatePost { post_id } => {
                let post = post_by_id(txn, post_id).await?;
                let kind = if matches!(outgoing, Outgoing::CreatePost { .. }) {
                    "Create"
                } else {
                    "Update"
                };
                let note = note_of(txn, post.clone())
                    .await
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                let author = actor_by_id(txn, post.author_id.unwrap_or_default()).await?;
                let activity = json!({
                    "id": urls.new_activity(&kind.to_ascii_lowercase()),
                    "type": kind,
                    "actor": author.ap_id,
                    "object": to_value(&note)?,
                    "to": note.to,
                    "cc": note.cc,
                    "audience": note.audience,
                });
                let effect = if kind == "Create" {
                    Effect::Created
                } else {
                    Effect::Edited
                };
                (post, author, activity, effect)
            }
            Outgoing::DeletePost { post_id } => {
                let post = post_by_id(txn, post_id).await?;
                let author = actor_by_id(txn, post.author_id.unwrap_or_default()).await?;
                let activity = self
                    .about_post(txn, "Delete", &author, &post, json!(post.ap_id))
                    .await?;
                (post, author, activity, Effect::Gone)
            }
            Outgoing::RemovePost {
                post_id,
                moderator_id,
                reason,
            } => {
                // Lemmy's shape: a Delete of the post by a moderator of its
                // group, with the reason as `summary` (without one Lemmy takes
                // it for its author's own deletion, and refuses it).
                let post = post_by_id(txn, post_id).await?;
                let moderator = actor_by_id(txn, moderator_id).await?;
                let mut activity = self
                    .about_post(txn, "Delete", &moderator, &post, json!(post.ap_id))
                    .await?;
                activity["summary"] = json!(reason.as_deref().unwrap_or(REMOVAL_REASON));
                (post, moderator, activity, Effect::Gone)
            }
            Outgoing::LockThread {
                post_id,
                moderator_id,
                locked,
            } => {
                let post = post_by_id(txn, post_id).await?;
                let moderator = actor_by_id(txn, moderator_id).await?;
                let mut activity = self
                    .about_post(txn, "Lock", &moderator, &post, json!(post.ap_id))
                    .await?;
                if !locked {
                    activity = self.about_post(txn, "Undo", &moderator, &post, activity).await?;
                }
                (post, moderator, activity, Effect::Other)
            }
            Outgoing::React { reaction_id } => {
                let reaction = queries::posts::reaction_by_id(txn, reaction_id)
                    .await?
                    .ok_or_else(|| ServiceError::Internal("a reaction vanished while publishing".into()))?;
                let post = post_by_id(txn, reaction.post_id).await?;
                let actor = actor_by_id(txn, reaction.actor_id).await?;
                let activity = self.reaction_json(txn, &reaction, &actor, &post).await?;
                (post, actor, activity, Effect::Other)
            }
            Outgoing::UndoReaction { reaction } => {
                let post = post_by_id(txn, reaction.post_id).await?;
                let actor = actor_by_id(txn, reaction.actor_id).await?;
                let inner = self.reaction_json(txn, &reaction, &actor, &post).await?;
                let activity = self.about_post(txn, "Undo", &actor, &post, inner).await?;
                (post, actor, activity, Effect::Other)
            }
            other => {
                return Err(ServiceError::Internal(format!(
                    "not an activity in a group: {other:?}"
                )));
            }
        };
        self.relay(txn, &post, &sender, activity, effect).await
    }

    /// `{type, actor, object}` about a post, addressed like the post.
    async fn about_post(
        &self,
        txn: &DatabaseTransaction,
        kind: &str,
        actor: &actor::Model,
        post: &post::Model,
        object: Value,
    ) -> ServiceResult<Value> {
        let group = match post.group_id {
            Some(id) => queries::actors::by_id(txn, id).await?,
            None => None,
        };
        // Addressed as the post is, by the one rule: a reaction is never
        // more visible than what it reacts to.
        let author = match post.author_id {
            Some(id) => queries::actors::by_id(txn, id).await?,
            None => None,
        };
        let (to, cc) = addressing(
            post.visibility,
            author.as_ref().unwrap_or(actor),
            group.as_ref(),
            vec![],
        )
        .map_err(|err| ServiceError::Internal(err.to_string()))?;
        Ok(json!({
            "id": self.context.node.urls.new_activity(&kind.to_ascii_lowercase()),
            "type": kind,
            "actor": actor.ap_id,
            "object": object,
            "to": to,
            "cc": cc,
            "audience": group.map(|g| g.ap_id),
        }))
    }

    /// A moderator removed a post of a member here: servers that only take a
    /// `Delete` from the author get it from the author, so the post is gone
    /// there too. (A remote author's post is theirs to delete.)
    async fn delete_for_author(
        &self,
        txn: &DatabaseTransaction,
        post: &post::Model,
        inboxes: Vec<String>,
    ) -> ServiceResult<()> {
        let Some(author) = post.author_id else {
            return Ok(());
        };
        let author = actor_by_id(txn, author).await?;
        if inboxes.is_empty() || !author.local {
            return Ok(());
        }
        let delete = self
            .about_post(txn, "Delete", &author, post, json!(post.ap_id))
            .await?;
        relay::deliver(txn, &self.context, &author, delete, inboxes).await
    }

    async fn reaction_json(
        &self,
        txn: &DatabaseTransaction,
        reaction: &reaction::Model,
        actor: &actor::Model,
        post: &post::Model,
    ) -> ServiceResult<Value> {
        let kind = if reaction.kind == ReactionKind::Dislike {
            "Dislike"
        } else {
            "Like"
        };
        let mut activity = self.about_post(txn, kind, actor, post, json!(post.ap_id)).await?;
        if let (Value::Object(map), Some(id)) = (&mut activity, &reaction.ap_id) {
            map.insert("id".into(), json!(id));
        }
        Ok(activity)
    }

    /// Send an activity about `post` where it must go: through the group
    /// (announced when the group is ours, to its inbox when it is remote),
    /// and to the remote people it concerns (mentioned, replied to, liked).
    async fn relay(
        &self,
        txn: &DatabaseTransaction,
        post: &post::Model,
        sender: &actor::Model,
        activity: Value,
        effect: Effect,
    ) -> ServiceResult<()> {
        let group = match post.group_id {
            Some(id) => queries::actors::by_id(txn, id).await?,
            None => None,
        };
        let mut inboxes = Vec::new();
        let mut concerned: Vec<i64> = Vec::new();
        if let Some(author) = post.author_id
            && author != sender.id
        {
            concerned.push(author);
        }
        // Who got the post hears of its edit and deletion too.
        let about_the_post = matches!(effect, Effect::Created | Effect::Edited | Effect::Gone);
        if about_the_post
            && let Some(parent_id) = post.parent_id
            && let Some(parent) = queries::posts::by_id(txn, parent_id).await?
            && let Some(author) = parent.author_id
        {
            concerned.push(author);
        }
        // A reply to a garden item goes to the item's author.
        if about_the_post
            && post.parent_id.is_none()
            && let Some(item_id) = post.garden_item_id
            && let Some(item) = queries::garden::by_id(txn, item_id).await?
            && let Some(author) = item.author_id
        {
            concerned.push(author);
        }
        for tag in queries::posts::tags_of(txn, vec![post.id]).await? {
            if tag.kind == TagKind::Mention
                && let Some(href) = &tag.href
                && let Some(actor) = queries::actors::by_ap_id(txn, href).await?
            {
                concerned.push(actor.id);
            }
        }
        // Shared inboxes where a node has one, so a node that hosts both the
        // group and the people concerned (Lemmy) gets the activity once.
        for id in concerned {
            if let Some(actor) = queries::actors::by_id(txn, id).await?
                && !actor.local
                && actor.kind != ActorKind::Group
            {
                inboxes.push(actor.shared_inbox.unwrap_or(actor.inbox));
            }
        }
        match &group {
            Some(group) if group.local => {
                let announced = relay::announce(
                    txn,
                    &self.context,
                    group,
                    &relay::Relayed::post(group, post),
                    &activity,
                    effect,
                )
                .await?;
                inboxes = announced.not_yet_reached(inboxes);
                if post.author_id == Some(sender.id) {
                    inboxes.extend(announced.only_see_objects);
                } else if effect == Effect::Gone {
                    self.delete_for_author(txn, post, announced.only_see_objects)
                        .await?;
                }
            }
            Some(group) if post.visibility == Visibility::Members => {
                // Members-only posts never leave the group's own channel: the
                // inbox of the group elsewhere (or our group's announce).
                inboxes = vec![group.inbox.clone()];
            }
            Some(group) => inboxes.push(group.shared_inbox.clone().unwrap_or_else(|| group.inbox.clone())),
            None => {}
        }
        if post.visibility == Visibility::Members && group.as_ref().is_none_or(|g| g.local) {
            inboxes.clear();
        }
        relay::deliver(txn, &self.context, sender, activity, inboxes).await
    }
}
