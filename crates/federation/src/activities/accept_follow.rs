//! `Accept{Follow}`: the target of a follow we sent lets us in.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{FollowRef, verify_same_origin},
    objects::actor::DbActor,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::AcceptType, traits::Activity};
use healthcommons_service::follows;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptFollow {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: AcceptType,
    pub actor: ObjectId<DbActor>,
    pub object: FollowRef,
}

#[async_trait::async_trait]
impl Activity for AcceptFollow {
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
        if let Some(target) = self.object.target()
            && target != self.actor.inner()
        {
            return Err(FederationError::Forbidden(
                "only the followed actor may accept a follow".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let actor = self.actor.dereference(data).await?;
        follows::receive_answer(
            &data.db,
            &actor.row,
            self.object.follow_id().map(Url::as_str),
            self.object.follower().map(Url::as_str),
            true,
        )
        .await?;
        Ok(())
    }
}
