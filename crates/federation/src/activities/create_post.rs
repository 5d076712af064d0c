//! `Create` of a post (`Note`, `Page`, `Article`): a new thread or reply,
//! sent to one of our working groups, to a member mentioned, or announced
//! by a group we follow. Our own groups check their rules, store it and
//! announce the unchanged activity to their followers.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{receive_post, verify_same_origin},
    objects::{actor::DbActor, post::ApPost},
    relay::Effect,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, kinds::activity::CreateType, protocol::helpers::deserialize_skip_error,
    traits::Activity,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// As the post is addressed; `audience` is `null` outside a group.
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    #[serde(skip)]
    pub raw: Value,
}

impl CreatePost {
    /// A new post by its author, addressed as the post is.
    pub fn new(id: Url, note: &ApPost) -> Result<Self, FederationError> {
        Ok(CreatePost {
            id,
            kind: Default::default(),
            actor: note.attributed_to.clone().into(),
            object: serde_json::to_value(note)?,
            to: note.to.clone(),
            cc: note.cc.clone(),
            audience: note.audience.clone(),
            raw: Value::Null,
        })
    }
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
