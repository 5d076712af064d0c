//! `Create` and `Update` of a garden item (an `Article` with our terms): a
//! new item or a new revision, from its author. A fork's `Create` also
//! reaches the authors up its chain of forks, which is how an origin learns
//! who forked it.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::{
        actor::DbActor,
        garden_item::{ApGardenItem, DbGardenItem, context_value},
    },
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Activity, traits::Object};
use healthcommons_db::entities::actor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum GardenChange {
    Create,
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGardenItem {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: GardenChange,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: ApGardenItem,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
}

impl CreateGardenItem {
    /// A new garden item or revision, from its author.
    pub fn new(
        id: Url,
        kind: GardenChange,
        actor: &actor::Model,
        object: ApGardenItem,
    ) -> Result<Self, FederationError> {
        Ok(CreateGardenItem {
            context: context_value(),
            id,
            kind,
            actor: actor_id(actor)?,
            to: object.to.clone(),
            cc: object.cc.clone(),
            object,
        })
    }
}

#[async_trait::async_trait]
impl Activity for CreateGardenItem {
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
        DbGardenItem::verify(&self.object, self.actor.inner(), data).await?;
        if &self.object.attributed_to != self.actor.inner() {
            return Err(FederationError::Forbidden(
                "only its author may create or revise a garden item".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        DbGardenItem::from_json(self.object, data).await?;
        Ok(())
    }
}
