//! `Create` and `Update` of a question (a poll) from its author: a new
//! question on an agenda, or its new totals.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::verify_same_origin,
    objects::{
        actor::DbActor,
        question::{ApQuestion, DbQuestion},
    },
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Activity, traits::Object};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum QuestionChange {
    Create,
    Update,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateQuestion {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: QuestionChange,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: ApQuestion,
}

#[async_trait::async_trait]
impl Activity for CreateQuestion {
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
        DbQuestion::verify(&self.object, self.actor.inner(), data).await?;
        if &self.object.attributed_to != self.actor.inner() {
            return Err(FederationError::Forbidden(
                "only its author may create or update a question".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        DbQuestion::from_json(self.object, data).await?;
        Ok(())
    }
}
