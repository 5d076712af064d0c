//! `Accept` or `Reject` of a `Join` one of our members sent to an event on
//! another node: the organiser's answer. Mobilizon sends the `Join` whole;
//! others send only its id.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{FollowRef, actor_id, leave_event::UndoneJoin, verify_same_origin},
    objects::{actor::DbActor, event::event_context, id_of},
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Activity};
use healthcommons_db::{
    TransactionTrait,
    entities::{actor, event_participant},
    queries,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerJoin {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: Answer,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The `Join` (whole, of type `Join`) or its id.
    pub object: Value,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

impl AnswerJoin {
    /// The organiser's answer to a participant on another node, naming
    /// their `Join` whole (Mobilizon reads it so).
    pub fn new(
        id: Url,
        answer: Answer,
        organiser: &actor::Model,
        participant: &event_participant::Model,
        member: &actor::Model,
        event_ap_id: &str,
    ) -> Result<Self, FederationError> {
        let join = UndoneJoin {
            kind: Default::default(),
            id: Some(Url::parse(&participant.ap_id)?),
            actor: Some(Url::parse(&member.ap_id)?),
            object: Value::String(event_ap_id.to_owned()),
        };
        Ok(AnswerJoin {
            context: event_context(),
            id,
            kind: answer,
            actor: actor_id(organiser)?,
            object: serde_json::to_value(join)?,
            to: vec![Url::parse(&member.ap_id)?],
        })
    }
}

impl AnswerJoin {
    /// An Accept or Reject read as the answer to a Follow, whose object the
    /// inbox then found to be a Join of ours.
    pub fn answering(
        id: Url,
        kind: Answer,
        actor: ObjectId<DbActor>,
        join: FollowRef,
    ) -> Result<Self, FederationError> {
        Ok(AnswerJoin {
            context: Value::Null,
            id,
            kind,
            actor,
            object: serde_json::to_value(join)?,
            to: Vec::new(),
        })
    }
}

#[async_trait::async_trait]
impl Activity for AnswerJoin {
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
        if id_of(&self.object).is_none() {
            return Err(FederationError::Invalid("the answer names no Join".into()));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let join_id =
            id_of(&self.object).ok_or_else(|| FederationError::Invalid("the answer names no Join".into()))?;
        let participant = queries::events::participant_by_ap_id(&data.db, join_id.as_str())
            .await?
            .ok_or(FederationError::NotFound)?;
        let by = self.actor.dereference(data).await?;
        // The answer and the participant's notification are stored together.
        let txn = data.db.begin().await?;
        healthcommons_service::events::receive_answer(
            &txn,
            &by.row,
            participant,
            self.kind == Answer::Accept,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
