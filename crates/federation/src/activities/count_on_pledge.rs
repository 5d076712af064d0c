//! `Like` of a pledge: the actor counts on it (a Mastodon user's favourite
//! does the same). The pledger's node keeps one row per actor and sends
//! them every change to the pledge.

use crate::{
    FederationContext, FederationError, RequestData, activities::verify_same_origin, objects::actor::DbActor,
    publisher::OutboxPublisher,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::LikeType, traits::Activity};
use healthcommons_db::queries;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountOnPledge {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: LikeType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The pledge.
    #[serde(deserialize_with = "crate::activities::object_id")]
    pub object: Url,
}

#[async_trait::async_trait]
impl Activity for CountOnPledge {
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
        let pledge = queries::pledges::by_ap_id(&data.db, self.object.as_str())
            .await?
            .ok_or(FederationError::NotFound)?;
        let backer = self.actor.dereference(data).await?;
        healthcommons_service::pledges::receive_backer(
            &data.db,
            &OutboxPublisher::new(data),
            &pledge,
            &backer.row,
            self.id.as_str(),
        )
        .await?;
        Ok(())
    }
}
