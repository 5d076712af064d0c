//! `Follow`: a remote actor asks to follow (join) one of ours.

use crate::{
    FederationContext, FederationError, RequestData, activities::verify_same_origin, objects::actor::DbActor,
    publisher::OutboxPublisher,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::FollowType, traits::Activity};
use healthcommons_service::follows;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Follow {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: FollowType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub object: ObjectId<DbActor>,
}

#[async_trait::async_trait]
impl Activity for Follow {
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
        if !self.object.is_local(data) {
            return Err(FederationError::Invalid(
                "the followed actor is not on this node".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let follower = self.actor.dereference(data).await?;
        // How this follower's node reads group activity decides what we send it.
        crate::relay::learn_software(data, self.actor.inner()).await;
        let target = self.object.dereference_local(data).await?;
        follows::receive_follow(
            &data.db,
            &OutboxPublisher::new(data),
            self.id.as_str(),
            &follower.row,
            &target.row,
        )
        .await?;
        Ok(())
    }
}
