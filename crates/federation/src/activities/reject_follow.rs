//! `Reject{Follow}`: the target of a follow we sent refuses it (or removes us later).

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{FollowRef, receive_follow_answer, verify_follow_answer},
    objects::actor::DbActor,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::RejectType, traits::Activity};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectFollow {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: RejectType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: FollowRef,
}

#[async_trait::async_trait]
impl Activity for RejectFollow {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &RequestData) -> Result<(), FederationError> {
        verify_follow_answer(&self.id, self.actor.inner(), &self.object)
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        receive_follow_answer(&self.actor, &self.object, false, data).await
    }
}
