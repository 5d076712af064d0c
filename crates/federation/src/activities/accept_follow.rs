//! `Accept{Follow}`: the target of a follow we sent lets us in.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{FollowRef, receive_follow_answer, verify_follow_answer},
    backfill,
    objects::actor::DbActor,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::AcceptType, traits::Activity};
use healthcommons_db::entities::ActorKind;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptFollow {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: AcceptType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
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
        verify_follow_answer(&self.id, self.actor.inner(), &self.object)
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        receive_follow_answer(&self.actor, &self.object, true, data).await?;
        // Joined a working group elsewhere: fetch what it has been discussing.
        let group = self.actor.dereference(data).await?.row;
        if group.kind == ActorKind::Group && !group.local {
            backfill::spawn(group, data);
        }
        Ok(())
    }
}
