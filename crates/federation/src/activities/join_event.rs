//! `Join` of a local event by someone on another node (Mobilizon's RSVP).
//! The organiser's answer (`Accept` or `Reject`) follows at once, or when
//! the organiser approves.

use crate::{
    FederationContext, FederationError, RequestData, activities::verify_same_origin, objects::actor::DbActor,
    publisher::OutboxPublisher,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::JoinType, traits::Activity};
use healthcommons_db::queries;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinEvent {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: JoinType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The event.
    #[serde(deserialize_with = "crate::activities::object_id")]
    pub object: Url,
    #[serde(default)]
    pub participation_message: Option<String>,
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
