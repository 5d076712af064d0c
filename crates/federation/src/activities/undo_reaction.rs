//! `Undo` of a `Like`, `Dislike` or boost (`Announce`) of a post.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{relay_if_local_group, verify_same_origin},
    objects::actor::DbActor,
    relay::Effect,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::UndoType, traits::Activity};
use healthcommons_db::entities::ReactionKind;
use healthcommons_service::posts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum UndoneKind {
    Like,
    Dislike,
    Announce,
}

/// The undone reaction, embedded as servers send it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UndoneReaction {
    #[serde(default)]
    pub id: Option<Url>,
    #[serde(rename = "type")]
    pub kind: UndoneKind,
    #[serde(default)]
    pub actor: Option<Url>,
    /// The post (a string, or an object with an id: only the id is used).
    #[serde(default)]
    pub object: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoReaction {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: UndoneReaction,
    #[serde(skip)]
    pub raw: Value,
}

#[async_trait::async_trait]
impl Activity for UndoReaction {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &RequestData) -> Result<(), FederationError> {
        verify_same_origin(&self.id, self.actor.inner())?;
        if self
            .object
            .actor
            .as_ref()
            .is_some_and(|a| a != self.actor.inner())
        {
            return Err(FederationError::Forbidden(
                "only who reacted may undo a reaction".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let actor = self.actor.dereference(data).await?;
        let kind = match self.object.kind {
            UndoneKind::Like => ReactionKind::Like,
            UndoneKind::Dislike => ReactionKind::Dislike,
            UndoneKind::Announce => ReactionKind::Boost,
        };
        let post_id = match &self.object.object {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(map)) => map.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        let post = posts::receive_undo_reaction(
            &data.db,
            &actor.row,
            self.object.id.as_ref().map(Url::as_str),
            post_id.as_deref(),
            kind,
        )
        .await?;
        if let Some(post) = post
            && kind != ReactionKind::Boost
        {
            relay_if_local_group(&post, &self.raw, Effect::Other, data).await?;
        }
        Ok(())
    }
}
