//! `Create` and `Update` of a pledge from the person who pledged: a new
//! pledge, its new status, or how many count on it. A working group of ours
//! passes it on to its followers.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::{
        actor::DbActor,
        pledge::{self, ApPledge, DbPledge, pledge_context},
    },
    relay::{self, Effect, Relayed},
};
use activitypub_federation::{
    fetch::object_id::ObjectId, protocol::helpers::deserialize_skip_error, traits::Activity, traits::Object,
};
use healthcommons_db::entities::actor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PledgeChange {
    Create,
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePledge {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: PledgeChange,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: ApPledge,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    /// `null` outside a working group.
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    #[serde(skip)]
    pub raw: Value,
}

impl CreatePledge {
    /// A new pledge or its change, from who pledged.
    pub fn new(
        id: Url,
        kind: PledgeChange,
        actor: &actor::Model,
        object: ApPledge,
    ) -> Result<Self, FederationError> {
        Ok(CreatePledge {
            context: pledge_context(),
            id,
            kind,
            actor: actor_id(actor)?,
            to: object.to.clone(),
            cc: object.cc.clone(),
            audience: object.audience.clone(),
            object,
            raw: Value::Null,
        })
    }
}

#[async_trait::async_trait]
impl Activity for CreatePledge {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, data: &RequestData) -> Result<(), FederationError> {
        verify_same_origin(&self.id, self.actor.inner())?;
        DbPledge::verify(&self.object, self.actor.inner(), data).await?;
        if &self.object.attributed_to != self.actor.inner() {
            return Err(FederationError::Forbidden(
                "only who pledged may create or change a pledge".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let (row, local_group) = pledge::store(self.object, data).await?;
        if let Some(group) = local_group.filter(|_| !self.raw.is_null()) {
            let effect = match self.kind {
                PledgeChange::Create => Effect::Created,
                PledgeChange::Update => Effect::Edited,
            };
            relay::announce(
                &data.db,
                data.app_data(),
                &group,
                &Relayed::standalone(
                    &group,
                    "pledges",
                    row.id,
                    &row.ap_id,
                    row.visibility,
                    row.published,
                ),
                &self.raw,
                effect,
            )
            .await?;
        }
        Ok(())
    }
}
