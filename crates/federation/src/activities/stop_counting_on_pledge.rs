//! `Undo` of a `Like` of a pledge: the actor no longer counts on it.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{undo_reaction::UndoneReaction, verify_same_origin},
    objects::{actor::DbActor, id_of},
    publisher::OutboxPublisher,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::UndoType, traits::Activity};
use healthcommons_db::queries;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopCountingOnPledge {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: UndoneReaction,
}

impl StopCountingOnPledge {
    fn pledge_id(&self) -> Result<Url, FederationError> {
        self.object
            .object
            .as_ref()
            .and_then(id_of)
            .ok_or_else(|| FederationError::Invalid("the undone Like names no pledge".into()))
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
