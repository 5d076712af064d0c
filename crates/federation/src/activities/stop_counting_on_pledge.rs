//! `Undo` of a `Like` of a pledge: the actor no longer counts on it.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{
        CountOnPledge, UndoReaction,
        undo_reaction::{UndoneKind, UndoneReaction},
        verify_same_origin,
    },
    objects::{actor::DbActor, id_of},
    publisher::{AS_CONTEXT, OutboxPublisher},
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::UndoType, traits::Activity};
use healthcommons_db::queries;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopCountingOnPledge {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: UndoneReaction,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

impl StopCountingOnPledge {
    /// A member no longer counts on a pledge: the Undo of their `Like`, to who pledged.
    pub fn new(id: Url, counting: CountOnPledge) -> Self {
        StopCountingOnPledge {
            context: AS_CONTEXT.into(),
            id,
            kind: Default::default(),
            actor: counting.actor.clone(),
            to: counting.to.clone(),
            object: UndoneReaction {
                context: counting.context,
                id: Some(counting.id),
                kind: UndoneKind::Like,
                actor: Some(counting.actor.into_inner()),
                object: Some(Value::String(counting.object.into())),
                to: Some(counting.to),
                cc: None,
                audience: None,
            },
        }
    }

    fn pledge_id(&self) -> Result<Url, FederationError> {
        self.object
            .object
            .as_ref()
            .and_then(id_of)
            .ok_or_else(|| FederationError::Invalid("the undone Like names no pledge".into()))
    }
}

/// An Undo of a Like, which the inbox found to name a pledge.
impl From<UndoReaction> for StopCountingOnPledge {
    fn from(undo: UndoReaction) -> Self {
        StopCountingOnPledge {
            context: Value::Null,
            id: undo.id,
            kind: undo.kind,
            actor: undo.actor,
            object: undo.object,
            to: undo.to,
        }
    }
}

#[async_trait::async_trait]
impl Activity for StopCountingOnPledge {
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
                "only who counts on a pledge may stop counting on it".into(),
            ));
        }
        self.pledge_id().map(|_| ())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let pledge = queries::pledges::by_ap_id(&data.db, self.pledge_id()?.as_str())
            .await?
            .ok_or(FederationError::NotFound)?;
        let backer = self.actor.dereference(data).await?;
        healthcommons_service::pledges::receive_stop(
            &data.db,
            &OutboxPublisher::new(data),
            &pledge,
            &backer.row,
        )
        .await?;
        Ok(())
    }
}
