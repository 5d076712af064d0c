//! `Undo` of a ban (`Block`) or of a `Lock`: by whoever may do the original,
//! which is checked again, not assumed from the first time.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{BlockUser, LockThread, verify_same_origin},
    objects::actor::DbActor,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::UndoType, traits::Activity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UndoneModeration {
    Block(BlockUser),
    Lock(LockThread),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoModeration {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: UndoneModeration,
    #[serde(skip)]
    pub raw: Value,
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
