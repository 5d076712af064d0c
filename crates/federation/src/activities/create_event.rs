//! `Create` and `Update` of an event, from its organiser or (Mobilizon's
//! shape for a group's event) from the member who created it.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::verify_same_origin,
    objects::{
        actor::DbActor,
        event::{ApEvent, DbEvent},
    },
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Activity, traits::Object};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum EventChange {
    Create,
    Update,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateEvent {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: EventChange,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: ApEvent,
}

#[async_trait::async_trait]
impl Activity for CreateEvent {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, data: &RequestData) -> Result<(), FederationError> {
        verify_same_origin(&self.id, self.actor.inner())?;
        DbEvent::verify(&self.object, self.actor.inner(), data).await?;
        let actor = self.actor.inner();
        if &self.object.attributed_to != actor && self.object.actor.as_ref() != Some(actor) {
            return Err(FederationError::Forbidden(
                "only its organiser may create or change an event".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        DbEvent::from_json(self.object, data).await?;
        Ok(())
    }
}
