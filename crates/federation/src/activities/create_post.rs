//! `Create` of a post (`Note`, `Page`, `Article`): a new thread or reply,
//! sent to one of our working groups, to a member mentioned, or announced
//! by a group we follow. Our own groups check their rules, store it and
//! announce the unchanged activity to their followers.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{receive_post, verify_same_origin},
    objects::actor::DbActor,
    relay::Effect,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::CreateType, traits::Activity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePost {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: CreateType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The post, embedded, or its id to fetch from its origin.
    pub object: Value,
    /// The activity as received, announced unchanged.
    #[serde(skip)]
    pub raw: Value,
}

#[async_trait::async_trait]
impl Activity for CreatePost {
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
        receive_post(&self.actor, self.object, &self.raw, Effect::Created, data).await
    }
}
