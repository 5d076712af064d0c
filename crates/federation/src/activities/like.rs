//! `Like`, and Lemmy's `Dislike`, of a post: counted once per actor, and
//! announced by our working group to its followers.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{Addressing, actor_id, relay_if_local_group, verify_same_origin},
    objects::actor::DbActor,
    relay::Effect,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, protocol::helpers::deserialize_skip_error, traits::Activity,
};
use healthcommons_db::entities::{ReactionKind, actor};
use healthcommons_service::posts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum LikeKind {
    Like,
    Dislike,
}

impl LikeKind {
    pub fn stored(self) -> ReactionKind {
        match self {
            LikeKind::Like => ReactionKind::Like,
            LikeKind::Dislike => ReactionKind::Dislike,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Like {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: LikeKind,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: Url,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    #[serde(skip)]
    pub raw: Value,
}

impl Like {
    /// A member's like or dislike of a post, addressed like the post.
    pub fn new(
        id: Url,
        kind: LikeKind,
        actor: &actor::Model,
        post_ap_id: &str,
        addressing: Addressing,
    ) -> Result<Self, FederationError> {
        Ok(Like {
            id,
            kind,
            actor: actor_id(actor)?,
            object: Url::parse(post_ap_id)?,
            to: addressing.to,
            cc: addressing.cc,
            audience: addressing.audience,
            raw: Value::Null,
        })
    }
}

#[async_trait::async_trait]
impl Activity for Like {
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
        let actor = self.actor.dereference(data).await?;
        let post = posts::receive_reaction(
            &data.db,
            &actor.row,
            self.object.as_str(),
            self.kind.stored(),
            self.id.as_str(),
        )
        .await?;
        if let Some(post) = post {
            relay_if_local_group(&post, &self.raw, Effect::Other, data).await?;
        }
        Ok(())
    }
}
