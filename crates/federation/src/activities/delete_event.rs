//! `Delete` of an event by its organiser (or the member who created it for
//! its group).

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{DeletePost, actor_id, verify_same_origin},
    objects::{actor::DbActor, event::event_context, id_of},
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::DeleteType, traits::Activity};
use healthcommons_db::{TransactionTrait, entities::actor, queries};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteEvent {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: DeleteType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The event's id, or a Tombstone naming it.
    pub object: Value,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
}

impl DeleteEvent {
    /// Its author deletes a event, addressed as it was.
    pub fn new(
        id: Url,
        author: &actor::Model,
        ap_id: &str,
        to: Vec<Url>,
        cc: Vec<Url>,
    ) -> Result<Self, FederationError> {
        Ok(DeleteEvent {
            context: event_context(),
            id,
            kind: Default::default(),
            actor: actor_id(author)?,
            object: Value::String(ap_id.to_owned()),
            to,
            cc,
        })
    }
}

/// A Delete, which the inbox found to name an event.
impl From<DeletePost> for DeleteEvent {
    fn from(delete: DeletePost) -> Self {
        DeleteEvent {
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
impl Activity for DeleteEvent {
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
        let object =
            id_of(&self.object).ok_or_else(|| FederationError::Invalid("Delete names no object".into()))?;
        let Some(event) = queries::events::by_ap_id(&data.db, object.as_str()).await? else {
            return Ok(());
        };
        let actor = self.actor.dereference(data).await?;
        let txn = data.db.begin().await?;
        healthcommons_service::events::receive_delete(&txn, &actor.row, event).await?;
        txn.commit().await?;
        Ok(())
    }
}
