//! `Create{Adoption}`: an initiative on another node adopted a garden item.
//! It is recorded against the item when the item is known here (fetched
//! from its origin otherwise), so every node up a chain of forks shows it.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::{
        actor::{DbActor, host_of},
        adoption::ApAdoption,
        garden_item::{DbGardenItem, context_value},
    },
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::CreateType, traits::Activity};
use chrono::Utc;
use healthcommons_db::{TransactionTrait, entities::actor};
use healthcommons_service::garden::RemoteAdoption;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAdoption {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: CreateType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: ApAdoption,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
}

impl CreateAdoption {
    /// An adoption by a member of ours, from the adopter.
    pub fn new(id: Url, actor: &actor::Model, object: ApAdoption) -> Result<Self, FederationError> {
        Ok(CreateAdoption {
            context: context_value(),
            id,
            kind: Default::default(),
            actor: actor_id(actor)?,
            to: object.to.clone(),
            cc: object.cc.clone(),
            object,
        })
    }
}

#[async_trait::async_trait]
impl Activity for CreateAdoption {
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
        if host_of(&self.object.id) != host_of(self.actor.inner())
            || &self.object.attributed_to != self.actor.inner()
        {
            return Err(FederationError::Forbidden(
                "an adoption is recorded by its own actor, on its own node".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let actor = self.actor.dereference(data).await?;
        let item = ObjectId::<DbGardenItem>::from(self.object.object.clone())
            .dereference(data)
            .await?;
        let adoption = self.object;
        // The adoption and its author's notification are stored together.
        let txn = data.db.begin().await?;
        healthcommons_service::garden::receive_adoption(
            &txn,
            RemoteAdoption {
                ap_id: adoption.id.to_string(),
                item: item.row,
                actor: actor.row,
                context_html: adoption.content,
                outcome_html: adoption.outcome,
                story: adoption.story.map(|s| s.to_string()),
                metrics: adoption.measured_by.iter().map(Url::to_string).collect(),
                place: adoption.location.map(Into::into),
                published: adoption.published.unwrap_or_else(Utc::now),
            },
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
