//! `Announce`: a working group we follow relays an activity in it
//! (FEP-1b12), or someone boosts a post.
//!
//! An announced activity is trusted as embedded only when its actor shares
//! the group's origin. Otherwise a post is fetched from its own origin, a
//! Delete by its author counts only once the origin answers that it is gone,
//! and a Delete by anyone else counts as the group's own removal.

use crate::{
    FederationError, RequestData,
    activities::{InboxActivity, Outcome, activity_type, actor_id, verify_same_origin},
    objects::{
        actor::{DbActor, host_of},
        id_of,
        post::DbPost,
    },
};
use activitypub_federation::{
    fetch::object_id::ObjectId,
    kinds::{
        activity::{AnnounceType, UndoType},
        public,
    },
};
use chrono::{DateTime, Utc};
use healthcommons_db::entities::{ActorKind, actor};
use healthcommons_db::{entities::ReactionKind, queries};
use healthcommons_service::posts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Announce {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: AnnounceType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// An activity, a post, or a post's id.
    pub object: Value,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    /// Sent with a boost, for servers that date it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
}

impl Announce {
    /// A working group of ours relays an activity in it (FEP-1b12): to
    /// everyone and its followers, or only to the members of a members-only
    /// group.
    pub fn relay(
        id: Url,
        group: &actor::Model,
        activity: Value,
        members_only: bool,
    ) -> Result<Self, FederationError> {
        let followers = followers_of(group)?;
        let (to, cc) = if members_only {
            (followers, Vec::new())
        } else {
            (vec![public()], followers)
        };
        Ok(Announce {
            id,
            kind: Default::default(),
            actor: actor_id(group)?,
            object: activity,
            to,
            cc,
            published: None,
        })
    }

    /// A working group of ours boosts an object in it, for servers that
    /// only see objects: `id` stays the same so the boost can be undone.
    pub fn boost(
        id: Url,
        group: &actor::Model,
        object_id: &str,
        published: DateTime<Utc>,
    ) -> Result<Self, FederationError> {
        Ok(Announce {
            id,
            kind: Default::default(),
            actor: actor_id(group)?,
            object: Value::String(object_id.to_owned()),
            to: vec![public()],
            cc: followers_of(group)?,
            published: Some(published),
        })
    }
}

/// A group's followers collection, the one place its announces go.
fn followers_of(group: &actor::Model) -> Result<Vec<Url>, FederationError> {
    Ok(group
        .followers_url
        .as_deref()
        .map(Url::parse)
        .transpose()?
        .into_iter()
        .collect())
}

/// A working group of ours withdraws its boost of an object that is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoAnnounce {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: Announce,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
}

impl UndoAnnounce {
    pub fn new(id: Url, boost: Announce) -> Self {
        UndoAnnounce {
            id,
            kind: Default::default(),
            actor: boost.actor.clone(),
            to: boost.to.clone(),
            cc: boost.cc.clone(),
            object: boost,
        }
    }
}

/// What a group may relay from actors on other nodes: posts and their edits
/// and deletions (checked at their origin), and reactions.
const RELAYED_FROM_ELSEWHERE: &[&str] = &[
    "Create",
    "Update",
    "Delete",
    "Like",
    "Dislike",
    "Undo{Like}",
    "Undo{Dislike}",
    "Undo{Announce}",
];

impl Announce {
    pub fn verify(&self) -> Result<(), FederationError> {
        verify_same_origin(&self.id, self.actor.inner())?;
        if id_of(&self.object).is_none() {
            return Err(FederationError::Invalid("Announce names no object".into()));
        }
        Ok(())
    }

    pub async fn receive(self, data: &RequestData) -> Result<Outcome, FederationError> {
        let announcer = self.actor.dereference(data).await?;
        let relayed = self.object.get("actor").is_some() && self.object.get("object").is_some();
        if relayed {
            return self.receive_relayed(announcer, data).await;
        }
        let post_id = id_of(&self.object).ok_or_else(|| FederationError::Invalid("no object".into()))?;
        if announcer.row.kind == ActorKind::Group {
            // A group boosting a post in it: fetch the post from its origin.
            ObjectId::<DbPost>::from(post_id).dereference(data).await?;
            return Ok(Outcome::Applied);
        }
        posts::receive_reaction(
            &data.db,
            &announcer.row,
            post_id.as_str(),
            ReactionKind::Boost,
            self.id.as_str(),
        )
        .await?;
        Ok(Outcome::Applied)
    }

    async fn receive_relayed(self, group: DbActor, data: &RequestData) -> Result<Outcome, FederationError> {
        if group.row.kind != ActorKind::Group {
            return Err(FederationError::Forbidden(
                "only working groups relay others' activities".into(),
            ));
        }
        let mut inner = self.object;
        let inner_actor = inner
            .get("actor")
            .and_then(id_of)
            .ok_or_else(|| FederationError::Invalid("the announced activity names no actor".into()))?;
        if ObjectId::<DbActor>::from(inner_actor.clone()).is_local(data) {
            // Our own activity, relayed back to us by a group elsewhere (Lemmy
            // announces a member's comment to every follower, us included):
            // we wrote it, there is nothing to learn from the copy.
            return Ok(Outcome::Applied);
        }
        let same_origin = host_of(&inner_actor) == host_of(self.actor.inner());
        let inner_type = inner
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if inner_type == "Announce" {
            return Err(FederationError::Invalid(
                "an Announce may not announce an Announce".into(),
            ));
        }
        let kind = activity_type(&inner);
        let relayable = RELAYED_FROM_ELSEWHERE.contains(&inner_type.as_str())
            || RELAYED_FROM_ELSEWHERE.contains(&kind.as_str());
        if !same_origin && !relayable {
            // Bans, locks, moderator changes, follows: only as the group's own node says.
            return Err(FederationError::Forbidden(format!(
                "a group relays {kind} only from its own node"
            )));
        }
        if inner_type == "Delete"
            && let Some(object) = inner.get("object").and_then(id_of)
            && let Some(post) = queries::posts::by_ap_id(&data.db, object.as_str()).await?
        {
            let author = match post.author_id {
                Some(id) => queries::actors::by_id(&data.db, id).await?,
                None => None,
            };
            if author.as_ref().is_none_or(|a| a.ap_id != inner_actor.as_str()) {
                // A moderator's removal: the group vouches for it, in itself only.
                if post.group_id != Some(group.row.id) {
                    return Err(FederationError::Forbidden(
                        "a group may only remove posts in itself".into(),
                    ));
                }
                posts::receive_delete(&data.db, &group.row, object.as_str()).await?;
                return Ok(Outcome::Applied);
            }
        }
        if !same_origin && inner_type == "Delete" {
            // The author's Delete from elsewhere counts once the origin agrees.
            if let Some(object) = inner.get("object").and_then(id_of) {
                match ObjectId::<DbPost>::from(object).dereference_forced(data).await {
                    Ok(_) => {
                        return Err(FederationError::Forbidden(
                            "the post still exists at its origin".into(),
                        ));
                    }
                    Err(FederationError::Gone | FederationError::NotFound) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        if !same_origin && (inner_type == "Create" || inner_type == "Update") {
            // Do not trust the copy: fetch the post from its origin.
            let object_id = inner.get("object").and_then(id_of);
            if let (Value::Object(map), Some(object_id)) = (&mut inner, object_id) {
                map.insert("object".into(), Value::String(object_id.to_string()));
            }
        }
        let activity: InboxActivity = serde_json::from_value(inner.clone())?;
        Box::pin(activity.process(inner, data)).await
    }
}
