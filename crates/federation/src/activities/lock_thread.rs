//! `Lock` of a post by a moderator of its working group (Lemmy), or by the
//! thread's author (Mbin lets authors lock their own threads): no new replies.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{Addressing, actor_id, relay_if_local_group, verify_same_origin},
    moderators::verify_moderator,
    objects::{actor::DbActor, post::DbPost},
    relay::Effect,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, protocol::helpers::deserialize_skip_error, traits::Activity,
};
use healthcommons_db::{entities::actor, queries};
use healthcommons_service::posts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum LockType {
    #[default]
    Lock,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockThread {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: LockType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The post locked.
    pub object: ObjectId<DbPost>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    #[serde(skip)]
    pub raw: Value,
}

impl LockThread {
    /// A moderator's lock of a thread, addressed like the post.
    pub fn new(
        id: Url,
        moderator: &actor::Model,
        post_ap_id: &str,
        addressing: Addressing,
    ) -> Result<Self, FederationError> {
        Ok(LockThread {
            id,
            kind: LockType::Lock,
            actor: actor_id(moderator)?,
            object: ObjectId::parse(post_ap_id)?,
            to: addressing.to,
            cc: addressing.cc,
            audience: addressing.audience,
            raw: Value::Null,
        })
    }

    /// Check who locks and lock (or, with `locked` false, unlock) the post;
    /// a local group passes it on to its followers.
    pub async fn apply(&self, locked: bool, raw: &Value, data: &RequestData) -> Result<(), FederationError> {
        let post = self.object.dereference(data).await?.row;
        let actor = self.actor.dereference(data).await?.row;
        if post.author_id != Some(actor.id) {
            let group_id = post.group_id.ok_or_else(|| {
                FederationError::Forbidden("only its author may lock a post outside a group".into())
            })?;
            let group = queries::actors::by_id(&data.db, group_id)
                .await?
                .ok_or(FederationError::NotFound)?;
            verify_moderator(&actor, &group, data).await?;
        }
        let post = posts::receive_lock(&data.db, &post, locked).await?;
        relay_if_local_group(&post, raw, Effect::Other, data).await
    }
}

#[async_trait::async_trait]
impl Activity for LockThread {
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
        self.apply(true, &self.raw, data).await
    }
}
