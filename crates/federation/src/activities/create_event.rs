//! `Create` and `Update` of an event, from its organiser or (Mobilizon's
//! shape for a group's event) from the member who created it.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::{
        actor::DbActor,
        event::{ApEvent, DbEvent, event_context},
    },
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Activity, traits::Object};
use healthcommons_db::entities::actor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum EventChange {
    Create,
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateEvent {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: EventChange,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: ApEvent,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
}

impl CreateEvent {
    /// A new event or its change, from its author (`actor`, for a group's event).
    pub fn new(
        id: Url,
        kind: EventChange,
        actor: &actor::Model,
        object: ApEvent,
    ) -> Result<Self, FederationError> {
        Ok(CreateEvent {
            context: event_context(),
            id,
            kind,
            actor: actor_id(actor)?,
            to: object.to.clone(),
            cc: object.cc.clone(),
            object,
        })
    }
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
