//! `Undo` of a `Like`, `Dislike` or boost (`Announce`) of a post.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{Addressing, Like, actor_id, like::LikeKind, relay_if_local_group, verify_same_origin},
    objects::actor::DbActor,
    relay::Effect,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, kinds::activity::UndoType, protocol::helpers::deserialize_skip_error,
    traits::Activity,
};
use healthcommons_db::entities::{ReactionKind, actor};
use healthcommons_service::posts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum UndoneKind {
    Like,
    Dislike,
    Announce,
}

/// The undone reaction, embedded as servers send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoneReaction {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    #[serde(default)]
    pub id: Option<Url>,
    #[serde(rename = "type")]
    pub kind: UndoneKind,
    #[serde(default)]
    pub actor: Option<Url>,
    /// The post (a string, or an object with an id: only the id is used).
    #[serde(default)]
    pub object: Option<Value>,
    /// Present when we send it: as the reaction was addressed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::activities::some_urls"
    )]
    pub to: Option<Vec<Url>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::activities::some_urls"
    )]
    pub cc: Option<Vec<Url>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_skip_error"
    )]
    pub audience: Option<Url>,
}

impl UndoneReaction {
    /// A like or dislike of a post of ours, as our Undo embeds it.
    pub fn of_like(like: Like) -> Self {
        UndoneReaction {
            context: Value::Null,
            id: Some(like.id),
            kind: match like.kind {
                LikeKind::Like => UndoneKind::Like,
                LikeKind::Dislike => UndoneKind::Dislike,
            },
            actor: Some(like.actor.into_inner()),
            object: Some(Value::String(like.object.into())),
            to: Some(like.to),
            cc: Some(like.cc),
            audience: like.audience,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoReaction {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: UndoneReaction,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    #[serde(skip)]
    pub raw: Value,
}

impl UndoReaction {
    /// A member takes back a like or dislike, addressed like the post.
    pub fn new(
        id: Url,
        actor: &actor::Model,
        like: Like,
        addressing: Addressing,
    ) -> Result<Self, FederationError> {
        Ok(UndoReaction {
            id,
            kind: Default::default(),
            actor: actor_id(actor)?,
            object: UndoneReaction::of_like(like),
            to: addressing.to,
            cc: addressing.cc,
            audience: addressing.audience,
            raw: Value::Null,
        })
    }
}

#[async_trait::async_trait]
impl Activity for UndoReaction {
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
        if self
            .object
            .actor
            .as_ref()
            .is_some_and(|a| a != self.actor.inner())
        {
            return Err(FederationError::Forbidden(
                "only who reacted may undo a reaction".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let actor = self.actor.dereference(data).await?;
        let kind = match self.object.kind {
            UndoneKind::Like => ReactionKind::Like,
            UndoneKind::Dislike => ReactionKind::Dislike,
            UndoneKind::Announce => ReactionKind::Boost,
        };
        let post_id = match &self.object.object {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(map)) => map.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        let post = posts::receive_undo_reaction(
            &data.db,
            &actor.row,
            self.object.id.as_ref().map(Url::as_str),
            post_id.as_deref(),
            kind,
        )
        .await?;
        if let Some(post) = post
            && kind != ReactionKind::Boost
        {
            relay_if_local_group(&post, &self.raw, Effect::Other, data).await?;
        }
        Ok(())
    }
}
