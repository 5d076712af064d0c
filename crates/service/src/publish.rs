//! What a change must tell other nodes. The federation layer implements
//! [`Publisher`]: it turns an [`Outgoing`] into an activity and its deliveries,
//! written in the caller's transaction so neither exists without the other.

use crate::ServiceResult;
use healthcommons_db::entities::{event_participant, group_ban, pledge_backer, reaction};
use sea_orm::DatabaseTransaction;

#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// Our actor asks to follow a remote one (the follow row holds both).
    Follow { follow_id: i64 },
    /// Our actor withdraws a follow. Sent before the row is removed.
    UndoFollow { follow_id: i64 },
    /// Our actor (usually a working group) accepts a remote follower.
    AcceptFollow { follow_id: i64 },
    /// Our actor refuses a remote follower.
    RejectFollow { follow_id: i64 },
    /// A member wrote a post (to its group: announced if the group is ours).
    CreatePost { post_id: i64 },
    /// Its author edited a post.
    UpdatePost { post_id: i64 },
    /// Its author deleted a post (the row is already a tombstone).
    DeletePost { post_id: i64 },
    /// A moderator removed a post from its working group.
    RemovePost {
        post_id: i64,
        moderator_id: i64,
        /// Why, in the moderator's words, when they gave a reason.
        reason: Option<String>,
    },
    /// A moderator locked or unlocked a thread.
    LockThread {
        post_id: i64,
        moderator_id: i64,
        locked: bool,
    },
    /// A member liked or disliked a post.
    React { reaction_id: i64 },
    /// A member took a reaction back. Sent before the row is removed.
    UndoReaction { reaction: reaction::Model },
    /// A report about someone on another node goes to that node.
    Report { report_id: i64 },
    /// A moderator banned a person from a local working group, or lifted
    /// the ban (`ban` is the row, read before it is removed).
    Ban {
        ban: group_ban::Model,
        moderator_id: i64,
        banned: bool,
    },
    /// A garden item was published (written as published, or a draft published).
    CreateGardenItem { item_id: i64 },
    /// A new revision of a published garden item.
    UpdateGardenItem { item_id: i64 },
    /// A published garden item was deleted (the row is already marked).
    DeleteGardenItem { item_id: i64 },
    /// A member recorded an adoption of a garden item.
    Adopt { adoption_id: i64 },
    /// A local actor's profile changed (a working group's name or description).
    UpdateActor { actor_id: i64 },
    /// An event was organised here.
    CreateEvent { event_id: i64 },
    /// A local event changed (its details, its status, how many take part).
    UpdateEvent { event_id: i64 },
    /// A local event was deleted (the row is already marked).
    DeleteEvent { event_id: i64 },
    /// A member asks to take part in an event on another node.
    JoinEvent { participant_id: i64 },
    /// A member no longer takes part in an event on another node. Sent
    /// before the row is removed.
    LeaveEvent { participant: event_participant::Model },
    /// A local event's organisers answer a remote participant (by its state).
    AnswerJoin { participant_id: i64 },
    /// A question was put on a local working group's agenda.
    CreateQuestion { question_id: i64 },
    /// A local question's totals (or closing) changed.
    UpdateQuestion { question_id: i64 },
    /// A member voted on a question asked on another node (one vote per choice).
    Vote { question_id: i64, vote_ids: Vec<i64> },
    /// A member pledged an action.
    CreatePledge { pledge_id: i64 },
    /// A local pledge changed (its status, or how many count on it).
    UpdatePledge { pledge_id: i64 },
    /// A member counts on a pledge made on another node (a `Like` of it).
    CountOnPledge { backer_id: i64 },
    /// A member no longer counts on a pledge made on another node. Sent
    /// before the row is removed.
    StopCountingOnPledge { backer: pledge_backer::Model },
    /// A moderator added or removed a moderator of a local working group.
    ModeratorChange {
        group_id: i64,
        moderator_id: i64,
        person_id: i64,
        added: bool,
    },
}

#[async_trait::async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, txn: &DatabaseTransaction, outgoing: Outgoing) -> ServiceResult<()>;
}
