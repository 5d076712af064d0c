//! `Update` of a post: its author edited it. The previous text is kept as a
//! revision; an Update that arrives before its Create stores the post.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{receive_post, verify_same_origin},
    objects::actor::DbActor,
    relay::Effect,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::UpdateType, traits::Activity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePost {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UpdateType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: Value,
    #[serde(skip)]
    pub raw: Value,
}

#[async_trait::async_trait]
impl Activity for UpdatePost {
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
        receive_post(&self.actor, self.object, &self.raw, Effect::Edited, data).await
    }
}
