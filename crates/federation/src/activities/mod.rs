//! One file per activity: its wire struct, `verify`, `receive`, and the
//! builder used when we send it.

pub mod accept_follow;
pub mod announce;
pub mod answer_join;
pub mod block_user;
pub mod count_on_pledge;
pub mod create_adoption;
pub mod create_event;
pub mod create_garden_item;
pub mod create_pledge;
pub mod create_post;
pub mod create_question;
pub mod delete_event;
pub mod delete_garden_item;
pub mod delete_post;
pub mod flag;
pub mod follow;
pub mod join_event;
pub mod leave_event;
pub mod like;
pub mod lock_thread;
pub mod moderator_change;
pub mod reject_follow;
pub mod stop_counting_on_pledge;
pub mod undo_follow;
pub mod undo_moderation;
pub mod undo_reaction;
pub mod update_actor;
pub mod update_post;
pub mod vote;

#[cfg(test)]
mod wire_tests;

use crate::{
    FederationError, RequestData,
    objects::{
        actor::{DbActor, host_of},
        adoption::is_adoption_object,
        event::is_event_object,
        garden_item::is_garden_object,
        pledge::is_pledge_object,
        post::{ApPost, DbPost, group_of},
        question::{is_question_object, vote_parts},
    },
    relay::{self, Effect},
};
use activitypub_federation::{
    fetch::object_id::ObjectId,
    kinds::public,
    traits::{Activity, Object},
};
use answer_join::Answer;
use create_event::EventChange;
use create_garden_item::GardenChange;
use create_pledge::PledgeChange;
use create_question::QuestionChange;
use healthcommons_db::{TransactionTrait, entities::actor, queries};
use healthcommons_service::policy::{self, Action, Target, Under};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::debug;
use url::Url;

pub use accept_follow::AcceptFollow;
pub use announce::Announce;
pub use answer_join::AnswerJoin;
pub use block_user::BlockUser;
pub use count_on_pledge::CountOnPledge;
pub use create_adoption::CreateAdoption;
pub use create_event::CreateEvent;
pub use create_garden_item::CreateGardenItem;
pub use create_pledge::CreatePledge;
pub use create_post::CreatePost;
pub use create_question::CreateQuestion;
pub use delete_event::DeleteEvent;
pub use delete_garden_item::DeleteGardenItem;
pub use delete_post::DeletePost;
pub use flag::Flag;
pub use follow::Follow;
pub use join_event::JoinEvent;
pub use leave_event::LeaveEvent;
pub use like::Like;
pub use lock_thread::LockThread;
pub use moderator_change::ModeratorChange;
pub use reject_follow::RejectFollow;
pub use stop_counting_on_pledge::StopCountingOnPledge;
pub use undo_follow::UndoFollow;
pub use undo_moderation::UndoModeration;
pub use undo_reaction::UndoReaction;
pub use update_actor::UpdateActor;
pub use update_post::UpdatePost;
pub use vote::Vote;

/// Everything an inbox understands. Untagged: each variant checks its own
/// `type`, and `Unhandled` (last) keeps what no variant matched so it is
/// recorded with a reason instead of vanishing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InboxActivity {
    Follow(Follow),
    AcceptFollow(AcceptFollow),
    RejectFollow(RejectFollow),
    UndoFollow(UndoFollow),
    UndoReaction(UndoReaction),
    CreatePost(CreatePost),
    UpdateActor(UpdateActor),
    UpdatePost(UpdatePost),
    DeletePost(DeletePost),
    Like(Like),
    Announce(Announce),
    Flag(Flag),
    BlockUser(BlockUser),
    UndoModeration(UndoModeration),
    LockThread(LockThread),
    ModeratorChange(ModeratorChange),
    JoinEvent(JoinEvent),
    AnswerJoin(AnswerJoin),
    LeaveEvent(LeaveEvent),
    Unhandled(Value),
}

/// What processing an activity came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Understood the envelope but this node does not act on it (yet).
    NotHandled(String),
}

impl InboxActivity {
    pub fn kind(&self) -> String {
        match self {
            InboxActivity::Follow(_) => "Follow".into(),
            InboxActivity::AcceptFollow(_) => "Accept".into(),
            InboxActivity::RejectFollow(_) => "Reject".into(),
            InboxActivity::UndoFollow(_) | InboxActivity::UndoReaction(_) => "Undo".into(),
            InboxActivity::CreatePost(_) => "Create".into(),
            InboxActivity::UpdatePost(_) | InboxActivity::UpdateActor(_) => "Update".into(),
            InboxActivity::DeletePost(_) => "Delete".into(),
            InboxActivity::Like(a) => format!("{:?}", a.kind),
            InboxActivity::Announce(_) => "Announce".into(),
            InboxActivity::Flag(_) => "Flag".into(),
            InboxActivity::BlockUser(_) => "Block".into(),
            InboxActivity::UndoModeration(_) => "Undo".into(),
            InboxActivity::LockThread(_) => "Lock".into(),
            InboxActivity::ModeratorChange(a) => format!("{:?}", a.kind),
            InboxActivity::JoinEvent(_) => "Join".into(),
            InboxActivity::AnswerJoin(a) => format!("{:?}", a.kind),
            InboxActivity::LeaveEvent(a) => format!("{:?}", a.kind),
            InboxActivity::Unhandled(value) => activity_type(value),
        }
    }

    /// Verify and apply an activity. `raw` is the activity as received, which
    /// our working groups announce unchanged.
    pub async fn process(self, raw: Value, data: &RequestData) -> Result<Outcome, FederationError> {
        match self {
            InboxActivity::Follow(a) => run(a, data).await,
            InboxActivity::AcceptFollow(a) if answers_our_join(&a.object, data).await? => {
                run(
                    AnswerJoin::answering(a.id, Answer::Accept, a.actor, a.object)?,
                    data,
                )
                .await
            }
            InboxActivity::RejectFollow(a) if answers_our_join(&a.object, data).await? => {
                run(
                    AnswerJoin::answering(a.id, Answer::Reject, a.actor, a.object)?,
                    data,
                )
                .await
            }
            InboxActivity::AcceptFollow(a) => run(a, data).await,
            InboxActivity::RejectFollow(a) => run(a, data).await,
            InboxActivity::JoinEvent(a) => run(a, data).await,
            InboxActivity::AnswerJoin(a) => run(a, data).await,
            InboxActivity::LeaveEvent(a) if a.undoes_something_else() => Ok(Outcome::NotHandled(
                "Undo of an activity named only by its id is not handled by this node yet".into(),
            )),
            InboxActivity::LeaveEvent(a) => run(a, data).await,
            InboxActivity::UndoFollow(a) => run(a, data).await,
            InboxActivity::UndoReaction(a) if undoes_like_of_pledge(&a.object, data).await? => {
                run(StopCountingOnPledge::from(a), data).await
            }
            InboxActivity::UndoReaction(a) => run(UndoReaction { raw, ..a }, data).await,
            InboxActivity::CreatePost(a) => {
                let object = embedded_object(&a.actor, a.object.clone(), data).await?;
                let change = Change {
                    id: a.id.clone(),
                    actor: a.actor.clone(),
                    to: a.to.clone(),
                    cc: a.cc.clone(),
                    audience: a.audience.clone(),
                    update: false,
                };
                if is_garden_object(&object) {
                    run(change.garden_item(object)?, data).await
                } else if is_event_object(&object) {
                    run(change.event(object)?, data).await
                } else if is_question_object(&object) {
                    run(change.question(object)?, data).await
                } else if is_pledge_object(&object) {
                    run(change.of_pledge(object, raw)?, data).await
                } else if let Some((_, question)) = vote_parts(&object) {
                    if queries::agenda::by_ap_id(&data.db, question.as_str())
                        .await?
                        .is_some()
                    {
                        run(change.vote(object), data).await
                    } else {
                        Ok(Outcome::NotHandled(
                            "a vote on a question this node does not know".into(),
                        ))
                    }
                } else if is_adoption_object(&object) {
                    run(change.adoption(object)?, data).await
                } else {
                    match not_a_post(&object) {
                        Some(reason) => Ok(Outcome::NotHandled(reason)),
                        None => run(CreatePost { raw, object, ..a }, data).await,
                    }
                }
            }
            InboxActivity::UpdateActor(a) => run(a, data).await,
            InboxActivity::UpdatePost(a) => {
                let object = embedded_object(&a.actor, a.object.clone(), data).await?;
                let change = Change {
                    id: a.id.clone(),
                    actor: a.actor.clone(),
                    to: a.to.clone(),
                    cc: a.cc.clone(),
                    audience: a.audience.clone(),
                    update: true,
                };
                if is_garden_object(&object) {
                    run(change.garden_item(object)?, data).await
                } else if is_event_object(&object) {
                    run(change.event(object)?, data).await
                } else if is_question_object(&object) {
                    run(change.question(object)?, data).await
                } else if is_pledge_object(&object) {
                    run(change.of_pledge(object, raw)?, data).await
                } else {
                    match not_a_post(&object) {
                        Some(reason) => Ok(Outcome::NotHandled(reason)),
                        None => run(UpdatePost { raw, object, ..a }, data).await,
                    }
                }
            }
            InboxActivity::DeletePost(a) if a.object_id().is_ok_and(|id| &id == a.actor.inner()) => Ok(
                Outcome::NotHandled("deleting accounts is not handled by this node yet".into()),
            ),
            InboxActivity::DeletePost(a) => {
                let object = a.object_id()?;
                if queries::garden::by_ap_id(&data.db, object.as_str())
                    .await?
                    .is_some()
                {
                    run(DeleteGardenItem::from(a), data).await
                } else if queries::events::by_ap_id(&data.db, object.as_str())
                    .await?
                    .is_some()
                {
                    run(DeleteEvent::from(a), data).await
                } else {
                    run(DeletePost { raw, ..a }, data).await
                }
            }
            InboxActivity::Like(a)
                if a.kind == like::LikeKind::Like
                    && queries::pledges::by_ap_id(&data.db, a.object.as_str())
                        .await?
                        .is_some() =>
            {
                run(CountOnPledge::from(a), data).await
            }
            InboxActivity::Like(a) => run(Like { raw, ..a }, data).await,
            InboxActivity::Flag(a) => run(a, data).await,
            InboxActivity::BlockUser(a) => run(BlockUser { raw, ..a }, data).await,
            InboxActivity::UndoModeration(a) => run(UndoModeration { raw, ..a }, data).await,
            InboxActivity::LockThread(a) => run(LockThread { raw, ..a }, data).await,
            InboxActivity::ModeratorChange(a) => {
                if crate::moderators::is_moderators_collection(&a.target, data).await? {
                    run(ModeratorChange { raw, ..a }, data).await
                } else {
                    Ok(Outcome::NotHandled(format!(
                        "{:?} to {} (pinned posts) is not handled by this node yet",
                        a.kind, a.target
                    )))
                }
            }
            InboxActivity::Announce(a) => {
                a.verify()?;
                a.receive(data).await
            }
            InboxActivity::Unhandled(value) => {
                let kind = activity_type(&value);
                // A type we do handle that matched no variant: say what is wrong with it.
                let parse_error = match kind.as_str() {
                    "Follow" => serde_json::from_value::<Follow>(value).err(),
                    "Accept" | "Accept{Follow}" => serde_json::from_value::<AcceptFollow>(value).err(),
                    "Reject" | "Reject{Follow}" => serde_json::from_value::<RejectFollow>(value).err(),
                    "Undo{Follow}" => serde_json::from_value::<UndoFollow>(value).err(),
                    "Undo{Like}" | "Undo{Dislike}" | "Undo{Announce}" => {
                        serde_json::from_value::<UndoReaction>(value).err()
                    }
                    "Create" | "Create{Note}" | "Create{Page}" | "Create{Article}" | "Create{Question}"
                    | "Create{Event}" => serde_json::from_value::<CreatePost>(value).err(),
                    "Update{Note}" | "Update{Page}" | "Update{Article}" | "Update{Question}"
                    | "Update{Event}" => serde_json::from_value::<UpdatePost>(value).err(),
                    "Like" | "Dislike" => serde_json::from_value::<Like>(value).err(),
                    "Announce" => serde_json::from_value::<Announce>(value).err(),
                    "Flag" => serde_json::from_value::<Flag>(value).err(),
                    "Lock" => serde_json::from_value::<LockThread>(value).err(),
                    // With a target it is a ban from a group; without, one person muting another.
                    "Block" if value.get("target").is_some() => {
                        serde_json::from_value::<BlockUser>(value).err()
                    }
                    "Undo{Block}" if value.get("object").and_then(|o| o.get("target")).is_some() => {
                        serde_json::from_value::<UndoModeration>(value).err()
                    }
                    "Undo{Lock}" => serde_json::from_value::<UndoModeration>(value).err(),
                    "Add" | "Remove" => serde_json::from_value::<ModeratorChange>(value).err(),
                    "Join" => serde_json::from_value::<JoinEvent>(value).err(),
                    "Leave" | "Undo{Join}" => serde_json::from_value::<LeaveEvent>(value).err(),
                    "Accept{Join}" | "Reject{Join}" => serde_json::from_value::<AnswerJoin>(value).err(),
                    _ => None,
                };
                match parse_error {
                    Some(err) => Err(FederationError::Invalid(format!("{kind}: {err}"))),
                    None => Ok(Outcome::NotHandled(format!(
                        "{kind} activities are not handled by this node yet"
                    ))),
                }
            }
        }
    }
}

/// An Accept or Reject naming only an id: of a Join of ours, or else of a Follow.
async fn answers_our_join(object: &FollowRef, data: &RequestData) -> Result<bool, FederationError> {
    let FollowRef::Id(id) = object else {
        return Ok(false);
    };
    Ok(queries::events::participant_by_ap_id(&data.db, id.as_str())
        .await?
        .is_some())
}

/// An Undo of a Like whose object is a pledge this node knows.
async fn undoes_like_of_pledge(
    undone: &undo_reaction::UndoneReaction,
    data: &RequestData,
) -> Result<bool, FederationError> {
    let Some(object) = undone.object.as_ref().and_then(crate::objects::id_of) else {
        return Ok(false);
    };
    Ok(undone.kind == undo_reaction::UndoneKind::Like
        && queries::pledges::by_ap_id(&data.db, object.as_str())
            .await?
            .is_some())
}

/// A stored actor's id, for an activity we send.
pub(crate) fn actor_id(actor: &actor::Model) -> Result<ObjectId<DbActor>, FederationError> {
    Ok(ObjectId::parse(&actor.ap_id)?)
}

/// `to`, `cc` and `audience` of an activity we send: the values, decided
/// by the publisher, which each activity's constructor puts in place.
#[derive(Debug, Clone, PartialEq)]
pub struct Addressing {
    pub to: Vec<Url>,
    pub cc: Vec<Url>,
    pub audience: Option<Url>,
}

impl Addressing {
    /// A moderation activity in a working group (Lemmy's shape): to everyone,
    /// or only to the members of a members-only group.
    pub fn moderation(group: &actor::Model, members_only: bool) -> Result<Self, FederationError> {
        let group_id = Url::parse(&group.ap_id)?;
        let to = if members_only {
            group
                .followers_url
                .as_deref()
                .map(Url::parse)
                .transpose()?
                .into_iter()
                .collect()
        } else {
            vec![public()]
        };
        Ok(Addressing {
            to,
            cc: vec![group_id.clone()],
            audience: Some(group_id),
        })
    }
}

/// A list of ids that may be absent, kept apart from an empty list; read
/// like any `to` or `cc` when present.
pub(crate) fn some_urls<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Url>>, D::Error> {
    crate::objects::post::urls_of(deserializer).map(Some)
}

/// An object's id, sent as a URL or as the object itself.
pub(crate) fn object_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
    let value = Value::deserialize(deserializer)?;
    crate::objects::id_of(&value).ok_or_else(|| serde::de::Error::custom("the object names no id"))
}

/// An actor named by its id, or embedded whole (Hubzilla and Streams send
/// the actor of a Follow so): only the id is read, the actor itself is then
/// fetched from its origin as for any id, so a forged copy changes nothing.
pub(crate) fn actor_ref<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<ObjectId<DbActor>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    crate::objects::id_of(&value)
        .map(ObjectId::from)
        .ok_or_else(|| serde::de::Error::custom("the actor names no id"))
}

/// The object of a Create or Update, fetched from its origin when only its
/// id was sent (which must then be on the actor's host).
async fn embedded_object(
    actor: &ObjectId<DbActor>,
    object: Value,
    data: &RequestData,
) -> Result<Value, FederationError> {
    let Value::String(id) = &object else {
        return Ok(object);
    };
    let url = Url::parse(id)?;
    if host_of(&url) != host_of(actor.inner()) {
        return Err(FederationError::Forbidden(
            "the object is on another host than its actor".into(),
        ));
    }
    Ok(
        activitypub_federation::fetch::fetch_object_http::<_, Value>(&url, data)
            .await?
            .object,
    )
}

/// A Create or Update as the inbox read it, before its object said what it
/// creates or changes: the envelope each kind's own activity is built from.
struct Change {
    id: Url,
    actor: ObjectId<DbActor>,
    to: Vec<Url>,
    cc: Vec<Url>,
    audience: Option<Url>,
    update: bool,
}

impl Change {
    fn garden_item(self, object: Value) -> Result<CreateGardenItem, FederationError> {
        Ok(CreateGardenItem {
            context: Value::Null,
            id: self.id,
            kind: if self.update {
                GardenChange::Update
            } else {
                GardenChange::Create
            },
            actor: self.actor,
            object: serde_json::from_value(object)?,
            to: self.to,
            cc: self.cc,
        })
    }

    fn event(self, object: Value) -> Result<CreateEvent, FederationError> {
        Ok(CreateEvent {
            context: Value::Null,
            id: self.id,
            kind: if self.update {
                EventChange::Update
            } else {
                EventChange::Create
            },
            actor: self.actor,
            object: serde_json::from_value(object)?,
            to: self.to,
            cc: self.cc,
        })
    }

    fn question(self, object: Value) -> Result<CreateQuestion, FederationError> {
        Ok(CreateQuestion {
            context: Value::Null,
            id: self.id,
            kind: if self.update {
                QuestionChange::Update
            } else {
                QuestionChange::Create
            },
            actor: self.actor,
            object: serde_json::from_value(object)?,
            to: self.to,
            cc: self.cc,
            audience: self.audience,
        })
    }

    /// A pledge, which keeps the activity as received so a working group of
    /// ours can pass it on unchanged.
    fn of_pledge(self, object: Value, raw: Value) -> Result<CreatePledge, FederationError> {
        Ok(CreatePledge {
            context: Value::Null,
            id: self.id,
            kind: if self.update {
                PledgeChange::Update
            } else {
                PledgeChange::Create
            },
            actor: self.actor,
            object: serde_json::from_value(object)?,
            to: self.to,
            cc: self.cc,
            audience: self.audience,
            raw,
        })
    }

    /// A vote (the caller has checked the object with `vote_parts`).
    fn vote(self, object: Value) -> Vote {
        Vote {
            id: self.id,
            kind: Default::default(),
            actor: self.actor,
            object,
            to: self.to,
        }
    }

    fn adoption(self, object: Value) -> Result<CreateAdoption, FederationError> {
        Ok(CreateAdoption {
            context: Value::Null,
            id: self.id,
            kind: Default::default(),
            actor: self.actor,
            object: serde_json::from_value(object)?,
            to: self.to,
            cc: self.cc,
        })
    }
}

/// Why an embedded object of a Create or Update is not a post we keep, if it is not.
fn not_a_post(object: &Value) -> Option<String> {
    let kind = object.get("type").and_then(Value::as_str)?;
    match kind {
        "Note" | "Page" | "Article" => None,
        other => Some(format!("{other} objects are not handled by this node yet")),
    }
}

async fn run<A>(activity: A, data: &RequestData) -> Result<Outcome, FederationError>
where
    A: Activity<DataType = crate::FederationContext, Error = FederationError>,
{
    activity.verify(data).await?;
    activity.receive(data).await?;
    Ok(Outcome::Applied)
}

/// The `type` of an activity as text, with the inner type for Undo and friends.
pub fn activity_type(value: &Value) -> String {
    let outer = value.get("type").and_then(Value::as_str).unwrap_or("?");
    match value
        .get("object")
        .and_then(|o| o.get("type"))
        .and_then(Value::as_str)
    {
        Some(inner) => format!("{outer}{{{inner}}}"),
        None => outer.to_owned(),
    }
}

/// O1: an activity's id and its actor share one origin.
pub fn verify_same_origin(id: &Url, actor: &Url) -> Result<(), FederationError> {
    if id.scheme() == actor.scheme() && host_of(id) == host_of(actor) {
        Ok(())
    } else {
        Err(FederationError::Forbidden(
            "the activity's id and its actor are on different hosts".into(),
        ))
    }
}

/// Accept and Reject of a Follow: only the followed actor may answer.
fn verify_follow_answer(id: &Url, actor: &Url, object: &FollowRef) -> Result<(), FederationError> {
    verify_same_origin(id, actor)?;
    if object.target().is_some_and(|target| target != actor) {
        return Err(FederationError::Forbidden(
            "only the followed actor may answer a follow".into(),
        ));
    }
    Ok(())
}

/// Record the answer to a follow we sent (the service checks it is ours).
async fn receive_follow_answer(
    actor: &activitypub_federation::fetch::object_id::ObjectId<crate::objects::actor::DbActor>,
    object: &FollowRef,
    accepted: bool,
    data: &RequestData,
) -> Result<(), FederationError> {
    let actor = actor.dereference(data).await?;
    // The follow's state and the follower's notification change together.
    let txn = data.db.begin().await?;
    healthcommons_service::follows::receive_answer(
        &txn,
        &actor.row,
        object.follow_id().map(Url::as_str),
        object.follower().map(Url::as_str),
        accepted,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A reference to a Follow as others send it inside Accept, Reject and Undo:
/// the whole activity (Mastodon) or only its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FollowRef {
    Embedded(EmbeddedFollow),
    Id(Url),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedFollow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Url>,
    #[serde(rename = "type")]
    pub kind: activitypub_federation::kinds::activity::FollowType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Url>,
}

impl EmbeddedFollow {
    /// A Follow as we embed it in our Undo, Accept and Reject of it.
    pub fn new(
        follow_ap_id: &str,
        follower: &actor::Model,
        target: &actor::Model,
    ) -> Result<Self, FederationError> {
        Ok(EmbeddedFollow {
            id: Some(Url::parse(follow_ap_id)?),
            kind: Default::default(),
            actor: Some(Url::parse(&follower.ap_id)?),
            object: Some(Url::parse(&target.ap_id)?),
        })
    }
}

impl FollowRef {
    pub fn follow_id(&self) -> Option<&Url> {
        match self {
            FollowRef::Embedded(f) => f.id.as_ref(),
            FollowRef::Id(id) => Some(id),
        }
    }
    pub fn follower(&self) -> Option<&Url> {
        match self {
            FollowRef::Embedded(f) => f.actor.as_ref(),
            FollowRef::Id(_) => None,
        }
    }
    pub fn target(&self) -> Option<&Url> {
        match self {
            FollowRef::Embedded(f) => f.object.as_ref(),
            FollowRef::Id(_) => None,
        }
    }
}

/// Store a post from a Create or Update, after the checks only a post needs:
/// its author is the activity's actor, and a group of ours accepts it.
async fn receive_post(
    actor: &ObjectId<DbActor>,
    object: Value,
    raw: &Value,
    effect: Effect,
    data: &RequestData,
) -> Result<(), FederationError> {
    // `process` has fetched an object sent by id (see `embedded_object`).
    let json: ApPost = serde_json::from_value(object)?;
    DbPost::verify(&json, actor.inner(), data).await?;
    if &json.attributed_to != actor.inner() {
        return Err(FederationError::Forbidden(
            "only its author may create or edit a post".into(),
        ));
    }
    if queries::posts::by_ap_id(&data.db, json.id.inner().as_str())
        .await?
        .is_some_and(|p| p.deleted_at.is_some())
    {
        // Deleted before it arrived: the tombstone wins.
        return Ok(());
    }
    let mut group = group_of(&json, data).await?;
    let (parent, item) = match &json.in_reply_to {
        Some(target) => {
            if let Err(err) = crate::resolve::learn_reply_target(target, data).await {
                debug!(%err, %target, "what a reply answers could not be fetched");
            }
            let parent = queries::posts::by_ap_id(&data.db, target.as_str()).await?;
            let item = match parent {
                Some(_) => None,
                None => queries::garden::by_ap_id(&data.db, target.as_str())
                    .await?
                    .filter(|i| i.deleted_at.is_none()),
            };
            (parent, item)
        }
        None => (None, None),
    };
    // A reply to a garden item is in the item's group, named or not (Mastodon names none).
    if let Some(group_id) = item.as_ref().and_then(|i| i.group_id) {
        group = queries::actors::by_id(&data.db, group_id).await?;
    }
    if let Some(group) = group.as_ref().filter(|g| g.local) {
        let under = match (&parent, &item) {
            (Some(parent), _) => Under::Post(parent),
            (None, Some(_)) => Under::Item,
            (None, None) => Under::Nothing,
        };
        let author = actor.dereference(data).await?;
        let existing = queries::posts::by_ap_id(&data.db, json.id.inner().as_str()).await?;
        if existing.is_none() {
            policy::require(
                &data.db,
                (&author.row).into(),
                Action::Contribute(under),
                Target::Group(group),
            )
            .await?;
        } else if queries::groups::ban(&data.db, group.id, author.row.id)
            .await?
            .is_some()
        {
            return Err(FederationError::Forbidden(
                "the author is banned from this working group".into(),
            ));
        }
    }
    let stored = DbPost::from_json(json, data).await?;
    relay_if_local_group(&stored.row, raw, effect, data).await
}

/// When a post is in one of our working groups, the group announces the
/// activity to its followers.
async fn relay_if_local_group(
    post: &healthcommons_db::entities::post::Model,
    raw: &Value,
    effect: Effect,
    data: &RequestData,
) -> Result<(), FederationError> {
    let Some(group_id) = post.group_id else {
        return Ok(());
    };
    let Some(group) = queries::actors::by_id(&data.db, group_id)
        .await?
        .filter(|g| g.local)
    else {
        return Ok(());
    };
    if raw.is_null() {
        return Ok(());
    }
    relay::announce(
        &data.db,
        data.app_data(),
        &group,
        &relay::Relayed::post(&group, post),
        raw,
        effect,
    )
    .await?;
    Ok(())
}
