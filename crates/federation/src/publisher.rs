//! Turns the service layer's `Outgoing` values into ActivityPub activities
//! and their deliveries, inside the caller's transaction.

use crate::{
    FederationContext, RequestData,
    activities::{
        AcceptFollow, Addressing, BlockUser, CreatePost, DeletePost, Flag, Follow, Like, LockThread,
        ModeratorChange, RejectFollow, UndoFollow, UndoModeration, UndoReaction, UpdateActor, UpdatePost,
        create_event::EventChange, create_garden_item::GardenChange, create_pledge::PledgeChange,
        create_question::QuestionChange, like::LikeKind, moderator_change::ModeratorChangeKind,
        undo_moderation::UndoneModeration,
    },
    objects::{actor::host_of, addressing, post::note_of},
    relay::{self, Effect, internal, new_activity_id},
};
use healthcommons_db::entities::{ActorKind, ReactionKind, TagKind};
use healthcommons_db::{
    DatabaseTransaction,
    entities::{Visibility, actor, group_ban, post, reaction},
    queries,
};
use healthcommons_service::{Outgoing, Publisher, ServiceError, ServiceResult};
use serde::Serialize;
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

/// The inbox for one recipient, with the peer host it belongs to.
fn inbox_of(recipient: &actor::Model) -> ServiceResult<(String, String)> {
    let url = Url::parse(&recipient.inbox)
        .map_err(|e| ServiceError::Internal(format!("stored inbox {} is invalid: {e}", recipient.inbox)))?;
    Ok((recipient.inbox.clone(), host_of(&url)))
}

/// What is sent about a follow, and which way.
#[derive(Debug, Clone, Copy)]
enum FollowMessage {
    Follow,
    Undo,
    Accept,
    Reject,
}

#[async_trait::async_trait]
impl Publisher for OutboxPublisher {
    async fn publish(&self, txn: &DatabaseTransaction, outgoing: Outgoing) -> ServiceResult<()> {
        // Listed one by one, not `_`: a new kind of outgoing activity must be
        // given a place here before it compiles.
        match outgoing {
            Outgoing::Follow { follow_id } => {
                self.publish_follow(txn, follow_id, FollowMessage::Follow).await
            }
            Outgoing::UndoFollow { follow_id } => {
                self.publish_follow(txn, follow_id, FollowMessage::Undo).await
            }
            Outgoing::AcceptFollow { follow_id } => {
                self.publish_follow(txn, follow_id, FollowMessage::Accept).await
            }
            Outgoing::RejectFollow { follow_id } => {
                self.publish_follow(txn, follow_id, FollowMessage::Reject).await
            }
            Outgoing::Report { report_id } => self.publish_report(txn, report_id).await,
            Outgoing::Ban {
                ban,
                moderator_id,
                banned,
            } => self.publish_ban(txn, ban, moderator_id, banned).await,
            Outgoing::CreateGardenItem { item_id } => {
                self.publish_garden_item(txn, item_id, GardenChange::Create).await
            }
            Outgoing::UpdateGardenItem { item_id } => {
                self.publish_garden_item(txn, item_id, GardenChange::Update).await
            }
            Outgoing::DeleteGardenItem { item_id } => self.publish_garden_item_deletion(txn, item_id).await,
            Outgoing::Adopt { adoption_id } => self.publish_adoption(txn, adoption_id).await,
            Outgoing::CreateEvent { event_id } => {
                self.publish_event_change(txn, event_id, Some(EventChange::Create))
                    .await
            }
            Outgoing::UpdateEvent { event_id } => {
                self.publish_event_change(txn, event_id, Some(EventChange::Update))
                    .await
            }
            Outgoing::DeleteEvent { event_id } => self.publish_event_change(txn, event_id, None).await,
            Outgoing::JoinEvent { participant_id } => self.publish_join(txn, participant_id).await,
            Outgoing::LeaveEvent { participant } => self.publish_leave(txn, &participant).await,
            Outgoing::AnswerJoin { participant_id } => self.publish_answer(txn, participant_id).await,
            Outgoing::CreateQuestion { question_id } => {
                self.publish_question(txn, question_id, QuestionChange::Create)
                    .await
            }
            Outgoing::UpdateQuestion { question_id } => {
                self.publish_question(txn, question_id, QuestionChange::Update)
                    .await
            }
            Outgoing::Vote {
                question_id,
                vote_ids,
            } => self.publish_votes(txn, question_id, &vote_ids).await,
            Outgoing::CreatePledge { pledge_id } => {
                self.publish_pledge(txn, pledge_id, PledgeChange::Create).await
            }
            Outgoing::UpdatePledge { pledge_id } => {
                self.publish_pledge(txn, pledge_id, PledgeChange::Update).await
            }
            Outgoing::CountOnPledge { backer_id } => self.publish_count_on(txn, backer_id).await,
            Outgoing::StopCountingOnPledge { backer } => self.publish_stop_counting_on(txn, &backer).await,
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
            Outgoing::CreatePost { post_id } => self.publish_post(txn, post_id, Effect::Created).await,
            Outgoing::UpdatePost { post_id } => self.publish_post(txn, post_id, Effect::Edited).await,
            Outgoing::DeletePost { post_id } => self.publish_post_deletion(txn, post_id).await,
            Outgoing::RemovePost {
                post_id,
                moderator_id,
                reason,
            } => self.publish_removal(txn, post_id, moderator_id, reason).await,
            Outgoing::LockThread {
                post_id,
                moderator_id,
                locked,
            } => self.publish_lock(txn, post_id, moderator_id, locked).await,
            Outgoing::React { reaction_id } => self.publish_reaction(txn, reaction_id).await,
            Outgoing::UndoReaction { reaction } => self.publish_undo_reaction(txn, &reaction).await,
        }
    }
}

impl OutboxPublisher {
    async fn publish_follow(
        &self,
        txn: &DatabaseTransaction,
        follow_id: i64,
        message: FollowMessage,
    ) -> ServiceResult<()> {
        let follow = queries::follows::by_id(txn, follow_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("follow {follow_id} vanished while publishing")))?;
        let follower = actor_by_id(txn, follow.follower_id).await?;
        let target = actor_by_id(txn, follow.target_id).await?;
        // Follow and Undo go from the follower to the target; answers the other way.
        let (sender, recipient) = match message {
            FollowMessage::Follow | FollowMessage::Undo => (&follower, &target),
            FollowMessage::Accept | FollowMessage::Reject => (&target, &follower),
        };
        let (id, kind, body) = match message {
            FollowMessage::Follow => {
                relay::wire_body(&Follow::new(&follow.ap_id, &follower, &target).map_err(internal)?)?
            }
            FollowMessage::Undo => relay::wire_body(
                &UndoFollow::new(self.new_id("undo")?, &follow.ap_id, &follower, &target)
                    .map_err(internal)?,
            )?,
            FollowMessage::Accept => relay::wire_body(
                &AcceptFollow::new(self.new_id("accept")?, &follow.ap_id, &follower, &target)
                    .map_err(internal)?,
            )?,
            FollowMessage::Reject => relay::wire_body(
                &RejectFollow::new(self.new_id("reject")?, &follow.ap_id, &follower, &target)
                    .map_err(internal)?,
            )?,
        };
        queries::deliveries::enqueue(txn, &id, sender.id, &kind, &body, &[inbox_of(recipient)?]).await?;
        self.context.delivery_wakeup.notify_one();
        Ok(())
    }

    /// A new id for an activity of ours.
    pub(crate) fn new_id(&self, kind: &str) -> ServiceResult<Url> {
        new_activity_id(&self.context, kind)
    }
}

async fn post_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<post::Model> {
    queries::posts::by_id(txn, id)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("post {id} vanished while publishing")))
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
        let flag = Flag::new(&report, &instance, &target, &post_ids).map_err(internal)?;
        let inbox = target
            .shared_inbox
            .clone()
            .unwrap_or_else(|| target.inbox.clone());
        relay::deliver(txn, &self.context, &instance, &flag, vec![inbox]).await
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
        let members_only = relay::is_members_only(txn, &group).await?;
        let block_id = match &ban.ap_id {
            Some(id) => Url::parse(id).map_err(internal)?,
            None => self.new_id("block")?,
        };
        // Inside an Undo the Block is addressed as it was when sent: the ban's
        // reason in a members-only group names the members and nobody else.
        let block = BlockUser::new(
            block_id,
            &moderator,
            &person,
            &group,
            ban.reason.as_deref(),
            Addressing::moderation(&group, members_only).map_err(internal)?,
        )
        .map_err(internal)?;
        if banned {
            return self
                .send_moderation(txn, &group, &moderator, &person, members_only, &block)
                .await;
        }
        let undo = UndoModeration::new(
            self.new_id("undo")?,
            &moderator,
            UndoneModeration::Block(block),
            Addressing::moderation(&group, members_only).map_err(internal)?,
        )
        .map_err(internal)?;
        self.send_moderation(txn, &group, &moderator, &person, members_only, &undo)
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
            .map_err(internal)?;
        let update = UpdateActor::new(self.new_id("update")?, &actor, profile).map_err(internal)?;
        let inboxes = relay::follower_inbox_urls(txn, &actor).await?;
        relay::deliver(txn, &self.context, &actor, &update, inboxes).await
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
        let members_only = relay::is_members_only(txn, &group).await?;
        let (kind, name) = if added {
            (ModeratorChangeKind::Add, "add")
        } else {
            (ModeratorChangeKind::Remove, "remove")
        };
        let change = ModeratorChange::new(
            self.new_id(name)?,
            kind,
            &moderator,
            &person,
            &group,
            Addressing::moderation(&group, members_only).map_err(internal)?,
        )
        .map_err(internal)?;
        self.send_moderation(txn, &group, &moderator, &person, members_only, &change)
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
        members_only: bool,
        activity: &impl Serialize,
    ) -> ServiceResult<()> {
        relay::announce_moderation(txn, &self.context, group, members_only, activity).await?;
        let inboxes = if person.local {
            Vec::new()
        } else {
            vec![person.inbox.clone()]
        };
        relay::deliver(txn, &self.context, moderator, activity, inboxes).await
    }

    /// A post's `Create` or `Update` by its author, relayed through its group.
    async fn publish_post(
        &self,
        txn: &DatabaseTransaction,
        post_id: i64,
        effect: Effect,
    ) -> ServiceResult<()> {
        let post = post_by_id(txn, post_id).await?;
        let note = note_of(txn, post.clone()).await.map_err(internal)?;
        let author = actor_by_id(txn, post.author_id.unwrap_or_default()).await?;
        if effect == Effect::Created {
            let create = CreatePost::new(self.new_id("create")?, &note).map_err(internal)?;
            self.relay(txn, &post, &author, &create, effect).await
        } else {
            let update = UpdatePost::new(self.new_id("update")?, &note).map_err(internal)?;
            self.relay(txn, &post, &author, &update, effect).await
        }
    }

    /// Its author deletes a post.
    async fn publish_post_deletion(&self, txn: &DatabaseTransaction, post_id: i64) -> ServiceResult<()> {
        let post = post_by_id(txn, post_id).await?;
        let author = actor_by_id(txn, post.author_id.unwrap_or_default()).await?;
        let delete = self.delete_of(txn, &author, &post, None).await?;
        self.relay(txn, &post, &author, &delete, Effect::Gone).await
    }

    /// Lemmy's shape of a removal: a Delete of the post by a moderator of its
    /// group, with the reason as `summary` (without one Lemmy takes it for
    /// its author's own deletion, and refuses it).
    async fn publish_removal(
        &self,
        txn: &DatabaseTransaction,
        post_id: i64,
        moderator_id: i64,
        reason: Option<String>,
    ) -> ServiceResult<()> {
        let post = post_by_id(txn, post_id).await?;
        let moderator = actor_by_id(txn, moderator_id).await?;
        let reason = reason.unwrap_or_else(|| REMOVAL_REASON.to_owned());
        let delete = self.delete_of(txn, &moderator, &post, Some(reason)).await?;
        self.relay(txn, &post, &moderator, &delete, Effect::Gone).await
    }

    async fn publish_lock(
        &self,
        txn: &DatabaseTransaction,
        post_id: i64,
        moderator_id: i64,
        locked: bool,
    ) -> ServiceResult<()> {
        let post = post_by_id(txn, post_id).await?;
        let moderator = actor_by_id(txn, moderator_id).await?;
        let addressing = self.addressing_of(txn, &moderator, &post).await?;
        let lock = LockThread::new(self.new_id("lock")?, &moderator, &post.ap_id, addressing.clone())
            .map_err(internal)?;
        if locked {
            return self.relay(txn, &post, &moderator, &lock, Effect::Other).await;
        }
        let undo = UndoModeration::new(
            self.new_id("undo")?,
            &moderator,
            UndoneModeration::Lock(lock),
            addressing,
        )
        .map_err(internal)?;
        self.relay(txn, &post, &moderator, &undo, Effect::Other).await
    }

    async fn publish_reaction(&self, txn: &DatabaseTransaction, reaction_id: i64) -> ServiceResult<()> {
        let reaction = queries::posts::reaction_by_id(txn, reaction_id)
            .await?
            .ok_or_else(|| ServiceError::Internal("a reaction vanished while publishing".into()))?;
        let post = post_by_id(txn, reaction.post_id).await?;
        let actor = actor_by_id(txn, reaction.actor_id).await?;
        let like = self.like_of(txn, &reaction, &actor, &post).await?;
        self.relay(txn, &post, &actor, &like, Effect::Other).await
    }

    async fn publish_undo_reaction(
        &self,
        txn: &DatabaseTransaction,
        reaction: &reaction::Model,
    ) -> ServiceResult<()> {
        let post = post_by_id(txn, reaction.post_id).await?;
        let actor = actor_by_id(txn, reaction.actor_id).await?;
        let like = self.like_of(txn, reaction, &actor, &post).await?;
        let addressing = self.addressing_of(txn, &actor, &post).await?;
        let undo = UndoReaction::new(self.new_id("undo")?, &actor, like, addressing).map_err(internal)?;
        self.relay(txn, &post, &actor, &undo, Effect::Other).await
    }

    /// An activity about a post is addressed as the post is, by the one
    /// rule: a reaction is never more visible than what it reacts to.
    async fn addressing_of(
        &self,
        txn: &DatabaseTransaction,
        actor: &actor::Model,
        post: &post::Model,
    ) -> ServiceResult<Addressing> {
        let group = match post.group_id {
            Some(id) => queries::actors::by_id(txn, id).await?,
            None => None,
        };
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
        .map_err(internal)?;
        let audience = group
            .map(|g| Url::parse(&g.ap_id))
            .transpose()
            .map_err(internal)?;
        Ok(Addressing { to, cc, audience })
    }

    /// The Delete of a post by `actor`, addressed like the post.
    async fn delete_of(
        &self,
        txn: &DatabaseTransaction,
        actor: &actor::Model,
        post: &post::Model,
        reason: Option<String>,
    ) -> ServiceResult<DeletePost> {
        let addressing = self.addressing_of(txn, actor, post).await?;
        DeletePost::new(self.new_id("delete")?, actor, &post.ap_id, addressing, reason).map_err(internal)
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
        let delete = self.delete_of(txn, &author, post, None).await?;
        relay::deliver(txn, &self.context, &author, &delete, inboxes).await
    }

    /// A like or dislike of a post, with the reaction's stored id when it has one.
    async fn like_of(
        &self,
        txn: &DatabaseTransaction,
        reaction: &reaction::Model,
        actor: &actor::Model,
        post: &post::Model,
    ) -> ServiceResult<Like> {
        let (kind, name) = if reaction.kind == ReactionKind::Dislike {
            (LikeKind::Dislike, "dislike")
        } else {
            (LikeKind::Like, "like")
        };
        let id = match &reaction.ap_id {
            Some(id) => Url::parse(id).map_err(internal)?,
            None => self.new_id(name)?,
        };
        let addressing = self.addressing_of(txn, actor, post).await?;
        Like::new(id, kind, actor, &post.ap_id, addressing).map_err(internal)
    }

    /// Send an activity about `post` where it must go: through the group
    /// (announced when the group is ours, to its inbox when it is remote),
    /// and to the remote people it concerns (mentioned, replied to, liked).
    async fn relay(
        &self,
        txn: &DatabaseTransaction,
        post: &post::Model,
        sender: &actor::Model,
        activity: &impl Serialize,
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
                    activity,
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
