//! `Create` and `Update` of a pledge from the person who pledged: a new
//! pledge, its new status, or how many count on it. A working group of ours
//! passes it on to its followers.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::verify_same_origin,
    objects::{
        actor::DbActor,
        pledge::{self, ApPledge, DbPledge},
    },
    relay::{self, Effect, Relayed},
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Activity, traits::Object};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PledgeChange {
    Create,
    Update,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePledge {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: PledgeChange,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: ApPledge,
    #[serde(skip)]
    pub raw: Value,
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
