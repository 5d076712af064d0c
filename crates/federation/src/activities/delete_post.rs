//! `Delete` of a post: by its author (it becomes a tombstone), or by a
//! moderator of its working group (Lemmy's removal). A Delete that arrives
//! before its Create leaves a tombstone so the Create cannot revive it.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{Addressing, actor_id, relay_if_local_group, verify_same_origin},
    moderators::verify_moderator,
    objects::actor::{DbActor, host_of},
    relay::Effect,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, kinds::activity::DeleteType, protocol::helpers::deserialize_skip_error,
    traits::Activity,
};
use healthcommons_db::{entities::actor, queries};
use healthcommons_service::posts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletePost {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: DeleteType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The post's id, or a `Tombstone` with it (Mastodon).
    pub object: Value,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    /// A moderator's reason for a removal (Lemmy takes a Delete without
    /// one, by someone else than the author, for the author's own).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_skip_error"
    )]
    pub summary: Option<String>,
    #[serde(skip)]
    pub raw: Value,
}

impl DeletePost {
    /// The Delete of a post by `actor` (its author, or a moderator giving
    /// `reason`), addressed like the post.
    pub fn new(
        id: Url,
        actor: &actor::Model,
        post_ap_id: &str,
        addressing: Addressing,
        reason: Option<String>,
    ) -> Result<Self, FederationError> {
        Ok(DeletePost {
            id,
            kind: Default::default(),
            actor: actor_id(actor)?,
            object: Value::String(post_ap_id.to_owned()),
            to: addressing.to,
            cc: addressing.cc,
            audience: addressing.audience,
            summary: reason,
            raw: Value::Null,
        })
    }

    pub fn object_id(&self) -> Result<Url, FederationError> {
        let id = match &self.object {
            Value::String(s) => Some(s.as_str()),
            Value::Object(map) => map.get("id").and_then(Value::as_str),
            _ => None,
        };
        Ok(Url::parse(id.ok_or_else(|| {
            FederationError::Invalid("Delete names no object".into())
        })?)?)
    }
}

#[async_trait::async_trait]
impl Activity for DeletePost {
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
        self.object_id().map(|_| ())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let object = self.object_id()?;
        let actor = self.actor.dereference(data).await?;
        let known = queries::posts::by_ap_id(&data.db, object.as_str()).await?;
        match &known {
            None if host_of(&object) != host_of(self.actor.inner()) => {
                // Only a post's own origin may leave a tombstone for an unknown id.
                return Err(FederationError::NotFound);
            }
            Some(post) if post.author_id != Some(actor.row.id) => {
                // A removal: the remover must moderate the post's group (a
                // newly appointed moderator is looked up at the group).
                let group = match post.group_id {
                    Some(id) => queries::actors::by_id(&data.db, id).await?,
                    None => None,
                }
                .ok_or_else(|| {
                    FederationError::Forbidden("only its author may delete a post outside a group".into())
                })?;
                verify_moderator(&actor.row, &group, data).await?;
            }
            _ => {}
        }
        posts::receive_delete(&data.db, &actor.row, object.as_str()).await?;
        if let Some(post) = queries::posts::by_ap_id(&data.db, object.as_str()).await? {
            relay_if_local_group(&post, &self.raw, Effect::Gone, data).await?;
        }
        Ok(())
    }
}
