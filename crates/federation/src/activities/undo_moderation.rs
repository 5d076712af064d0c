//! `Undo` of a ban (`Block`) or of a `Lock`: by whoever may do the original,
//! which is checked again, not assumed from the first time.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{Addressing, BlockUser, LockThread, actor_id, verify_same_origin},
    objects::actor::DbActor,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, kinds::activity::UndoType, protocol::helpers::deserialize_skip_error,
    traits::Activity,
};
use healthcommons_db::entities::actor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UndoneModeration {
    Block(BlockUser),
    Lock(LockThread),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoModeration {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: UndoneModeration,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    #[serde(skip)]
    pub raw: Value,
}

impl UndoModeration {
    /// A moderator lifts a ban or unlocks a thread.
    pub fn new(
        id: Url,
        moderator: &actor::Model,
        undone: UndoneModeration,
        addressing: Addressing,
    ) -> Result<Self, FederationError> {
        Ok(UndoModeration {
            id,
            kind: Default::default(),
            actor: actor_id(moderator)?,
            object: undone,
            to: addressing.to,
            cc: addressing.cc,
            audience: addressing.audience,
            raw: Value::Null,
        })
    }
}

#[async_trait::async_trait]
impl Activity for UndoModeration {
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
        let undone_actor = match &self.object {
            UndoneModeration::Block(block) => block.actor.inner(),
            UndoneModeration::Lock(lock) => lock.actor.inner(),
        };
        // Another moderator may undo it, but only from the same node.
        verify_same_origin(undone_actor, self.actor.inner())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        // The undoing actor must itself be allowed: check it as the actor.
        match self.object {
            UndoneModeration::Block(block) => {
                BlockUser {
                    actor: self.actor,
                    ..block
                }
                .apply(false, &self.raw, data)
                .await
            }
            UndoneModeration::Lock(lock) => {
                LockThread {
                    actor: self.actor,
                    ..lock
                }
                .apply(false, &self.raw, data)
                .await
            }
        }
    }
}
