//! `Leave` of a local event (Mobilizon), or `Undo` of the `Join`: the
//! participant gives their place back.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::{actor::DbActor, event::event_context, id_of},
    publisher::OutboxPublisher,
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Activity};
use healthcommons_db::{entities::actor, queries};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum LeaveKind {
    Leave,
    Undo,
}

/// The `Join` an `Undo` takes back, sent whole (and the `Join` our
/// answer to it names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoneJoin {
    #[serde(rename = "type")]
    pub kind: activitypub_federation::kinds::activity::JoinType,
    #[serde(default)]
    pub id: Option<Url>,
    #[serde(default)]
    pub actor: Option<Url>,
    pub object: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LeaveObject {
    Join(UndoneJoin),
    /// With `Leave`: the event.
    Event(Url),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaveEvent {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: LeaveKind,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: LeaveObject,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

impl LeaveEvent {
    /// A member gives back their place in an event elsewhere, to its organiser.
    pub fn new(
        id: Url,
        member: &actor::Model,
        event_ap_id: &str,
        organiser: &actor::Model,
    ) -> Result<Self, FederationError> {
        Ok(LeaveEvent {
            context: event_context(),
            id,
            kind: LeaveKind::Leave,
            actor: actor_id(member)?,
            object: LeaveObject::Event(Url::parse(event_ap_id)?),
            to: vec![Url::parse(&organiser.ap_id)?],
        })
    }

    /// An `Undo` naming only an id parses as one of ours but may undo
    /// anything; it is not ours to act on.
    pub fn undoes_something_else(&self) -> bool {
        self.kind == LeaveKind::Undo && matches!(self.object, LeaveObject::Event(_))
    }

    fn event_id(&self) -> Result<Url, FederationError> {
        match (&self.kind, &self.object) {
            (LeaveKind::Leave, LeaveObject::Event(event)) => Ok(event.clone()),
            (LeaveKind::Undo, LeaveObject::Join(join)) => {
                id_of(&join.object).ok_or_else(|| FederationError::Invalid("the Join names no event".into()))
            }
            _ => Err(FederationError::Invalid(
                "Leave names an event; Undo names the Join it takes back".into(),
            )),
        }
    }
}

#[async_trait::async_trait]
impl Activity for LeaveEvent {
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
        if let LeaveObject::Join(join) = &self.object
            && join.actor.as_ref().is_some_and(|a| a != self.actor.inner())
        {
            return Err(FederationError::Forbidden(
                "only who joined may take the Join back".into(),
            ));
        }
        self.event_id().map(|_| ())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let event_id = self.event_id()?;
        let event = queries::events::by_ap_id(&data.db, event_id.as_str())
            .await?
            .filter(|e| e.local)
            .ok_or(FederationError::NotFound)?;
        let actor = self.actor.dereference(data).await?;
        healthcommons_service::events::receive_leave(
            &data.db,
            &OutboxPublisher::new(data),
            &event,
            &actor.row,
        )
        .await?;
        Ok(())
    }
}
