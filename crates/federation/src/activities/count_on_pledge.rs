//! `Like` of a pledge: the actor counts on it (a Mastodon user's favourite
//! does the same). The pledger's node keeps one row per actor and sends
//! them every change to the pledge.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{Like, actor_id, verify_same_origin},
    objects::actor::DbActor,
    publisher::{AS_CONTEXT, OutboxPublisher},
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::LikeType, traits::Activity};
use healthcommons_db::{
    entities::{actor, pledge_backer},
    queries,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountOnPledge {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: LikeType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The pledge.
    #[serde(deserialize_with = "crate::activities::object_id")]
    pub object: Url,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

impl CountOnPledge {
    /// A member counts on a pledge made elsewhere: a `Like` to who pledged.
    pub fn new(
        backer: &pledge_backer::Model,
        person: &actor::Model,
        pledge_ap_id: &str,
        pledger: &actor::Model,
    ) -> Result<Self, FederationError> {
        Ok(CountOnPledge {
            context: AS_CONTEXT.into(),
            id: Url::parse(&backer.ap_id)?,
            kind: Default::default(),
            actor: actor_id(person)?,
            object: Url::parse(pledge_ap_id)?,
            to: vec![Url::parse(&pledger.ap_id)?],
        })
    }
}

/// A Like, which the inbox found to name a pledge.
impl From<Like> for CountOnPledge {
    fn from(like: Like) -> Self {
        CountOnPledge {
            context: Value::Null,
            id: like.id,
            kind: Default::default(),
            actor: like.actor,
            object: like.object,
            to: like.to,
        }
    }
}

#[async_trait::async_trait]
impl Activity for CountOnPledge {
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
        let pledge = queries::pledges::by_ap_id(&data.db, self.object.as_str())
            .await?
            .ok_or(FederationError::NotFound)?;
        let backer = self.actor.dereference(data).await?;
        healthcommons_service::pledges::receive_backer(
            &data.db,
            &OutboxPublisher::new(data),
            &pledge,
            &backer.row,
            self.id.as_str(),
        )
        .await?;
        Ok(())
    }
}
