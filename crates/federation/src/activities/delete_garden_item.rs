//! `Delete` of a garden item by its author. Forks of it here stay, marked
//! as having lost their origin.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{DeletePost, actor_id, verify_same_origin},
    objects::{actor::DbActor, id_of},
    publisher::AS_CONTEXT,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::DeleteType, traits::Activity};
use healthcommons_db::{entities::actor, queries};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteGardenItem {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: DeleteType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The item's id, or a Tombstone naming it.
    pub object: Value,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
}

impl DeleteGardenItem {
    /// Its author deletes a garden item, addressed as it was.
    pub fn new(
        id: Url,
        author: &actor::Model,
        ap_id: &str,
        to: Vec<Url>,
        cc: Vec<Url>,
    ) -> Result<Self, FederationError> {
        Ok(DeleteGardenItem {
            context: AS_CONTEXT.into(),
            id,
            kind: Default::default(),
            actor: actor_id(author)?,
            object: Value::String(ap_id.to_owned()),
            to,
            cc,
        })
    }
}

impl DeleteGardenItem {
    pub fn object_id(&self) -> Result<Url, FederationError> {
        id_of(&self.object).ok_or_else(|| FederationError::Invalid("Delete names no object".into()))
    }
}

/// A Delete, which the inbox found to name a garden item.
impl From<DeletePost> for DeleteGardenItem {
    fn from(delete: DeletePost) -> Self {
        DeleteGardenItem {
            context: Value::Null,
            id: delete.id,
            kind: delete.kind,
            actor: delete.actor,
            object: delete.object,
            to: delete.to,
            cc: delete.cc,
        }
    }
}

#[async_trait::async_trait]
impl Activity for DeleteGardenItem {
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
        let object = self.object_id()?;
        let Some(item) = queries::garden::by_ap_id(&data.db, object.as_str()).await? else {
            return Ok(());
        };
        let actor = self.actor.dereference(data).await?;
        if item.local || item.author_id != Some(actor.row.id) {
            return Err(FederationError::Forbidden(
                "only its author may delete a garden item".into(),
            ));
        }
        healthcommons_service::garden::receive_delete(&data.db, &item).await?;
        Ok(())
    }
}
