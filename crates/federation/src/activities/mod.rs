//! One file per activity: its wire struct, `verify`, `receive`, and the
//! builder used when we send it.

pub mod accept_follow;
pub mod follow;
pub mod reject_follow;
pub mod undo_follow;

use crate::{FederationError, RequestData, objects::actor::host_of};
use activitypub_federation::traits::Activity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

pub use accept_follow::AcceptFollow;
pub use follow::Follow;
pub use reject_follow::RejectFollow;
pub use undo_follow::UndoFollow;

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
            InboxActivity::UndoFollow(_) => "Undo".into(),
            InboxActivity::Unhandled(value) => activity_type(value),
        }
    }

    pub async fn process(self, data: &RequestData) -> Result<Outcome, FederationError> {
        match self {
            InboxActivity::Follow(a) => run(a, data).await,
            InboxActivity::AcceptFollow(a) => run(a, data).await,
            InboxActivity::RejectFollow(a) => run(a, data).await,
            InboxActivity::UndoFollow(a) => run(a, data).await,
            InboxActivity::Unhandled(value) => {
                let kind = activity_type(&value);
                // A type we do handle that matched no variant: say what is wrong with it.
                let parse_error = match kind.as_str() {
                    "Follow" => serde_json::from_value::<Follow>(value).err(),
                    "Accept" | "Accept{Follow}" => serde_json::from_value::<AcceptFollow>(value).err(),
                    "Reject" | "Reject{Follow}" => serde_json::from_value::<RejectFollow>(value).err(),
                    "Undo{Follow}" => serde_json::from_value::<UndoFollow>(value).err(),
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
    healthcommons_service::follows::receive_answer(
        &data.db,
        &actor.row,
        object.follow_id().map(Url::as_str),
        object.follower().map(Url::as_str),
        accepted,
    )
    .await?;
    Ok(())
}

/// A reference to a Follow as others send it inside Accept, Reject and Undo:
/// the whole activity (Mastodon) or only its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FollowRef {
    Embedded(EmbeddedFollow),
    Id(Url),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
