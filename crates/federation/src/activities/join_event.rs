//! `Join` of a local event by someone on another node (Mobilizon's RSVP).
//! The organiser's answer (`Accept` or `Reject`) follows at once, or when
//! the organiser approves.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::{actor::DbActor, event::event_context},
    publisher::OutboxPublisher,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::JoinType, traits::Activity};
use healthcommons_db::{
    entities::{actor, event_participant},
    queries,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinEvent {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: JoinType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The event.
    #[serde(deserialize_with = "crate::activities::object_id")]
    pub object: Url,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participation_message: Option<String>,
}

impl JoinEvent {
    /// A member's request to take part in an event elsewhere, to its organiser.
    pub fn new(
        participant: &event_participant::Model,
        member: &actor::Model,
        event_ap_id: &str,
        organiser: &actor::Model,
    ) -> Result<Self, FederationError> {
        Ok(JoinEvent {
            context: event_context(),
            id: Url::parse(&participant.ap_id)?,
            kind: Default::default(),
            actor: actor_id(member)?,
            object: Url::parse(event_ap_id)?,
            to: vec![Url::parse(&organiser.ap_id)?],
            participation_message: participant.message.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Activity for JoinEvent {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &RequestData) -> Result<(), FederationError> {
        verify_same_origin(&self.id, self.actor.inner())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let event = queries::events::by_ap_id(&data.db, self.object.as_str())
            .await?
            .filter(|e| e.local && e.deleted_at.is_none())
            .ok_or(FederationError::NotFound)?;
        let actor = self.actor.dereference(data).await?;
        healthcommons_service::events::receive_join(
            &data.db,
            &OutboxPublisher::new(data),
            &event,
            &actor.row,
            self.id.as_str(),
            self.participation_message.as_deref(),
        )
        .await?;
        Ok(())
    }
}
