//! `Create` and `Update` of a question (a poll) from its author: a new
//! question on an agenda, or its new totals.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::{
        actor::DbActor,
        question::{ApQuestion, DbQuestion, question_context},
    },
};
use activitypub_federation::{
    fetch::object_id::ObjectId, protocol::helpers::deserialize_skip_error, traits::Activity, traits::Object,
};
use healthcommons_db::entities::actor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum QuestionChange {
    Create,
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateQuestion {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: QuestionChange,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: ApQuestion,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    /// `null` outside a working group.
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
}

impl CreateQuestion {
    /// A new question or its new totals, from its author.
    pub fn new(
        id: Url,
        kind: QuestionChange,
        actor: &actor::Model,
        object: ApQuestion,
    ) -> Result<Self, FederationError> {
        Ok(CreateQuestion {
            context: question_context(),
            id,
            kind,
            actor: actor_id(actor)?,
            to: object.to.clone(),
            cc: object.cc.clone(),
            audience: object.audience.clone(),
            object,
        })
    }
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
