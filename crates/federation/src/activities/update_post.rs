//! `Update` of a post: its author edited it. The previous text is kept as a
//! revision; an Update that arrives before its Create stores the post.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{receive_post, verify_same_origin},
    objects::{actor::DbActor, post::ApPost},
    relay::Effect,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, kinds::activity::UpdateType, protocol::helpers::deserialize_skip_error,
    traits::Activity,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePost {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UpdateType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: Value,
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

impl UpdatePost {
    /// An edit of a post by its author, addressed as the post is.
    pub fn new(id: Url, note: &ApPost) -> Result<Self, FederationError> {
        Ok(UpdatePost {
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
