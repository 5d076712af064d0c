//! Where event activity goes. An event's `Create`, `Update` and `Delete` go
//! from its author to their followers, to everyone taking part elsewhere, and
//! through its working group (announced to the group's followers). A `Join`
//! or `Leave` goes to the organiser; the organiser's `Accept` or `Reject` to
//! the participant.

use crate::{
    objects::{
        addressing,
        event::{event_context, event_of},
    },
    publisher::{OutboxPublisher, actor_by_id, to_value},
    relay::{self, Effect, Relayed, internal},
};
use healthcommons_db::{
    DatabaseTransaction,
    entities::ParticipantState,
    entities::{actor, event, event_participant},
    queries,
};
use healthcommons_service::{Outgoing, ServiceResult};
use serde_json::{Value, json};

async fn event_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<event::Model> {
    queries::events::by_id(txn, id)
        .await?
        .ok_or_else(|| internal(format!("event {id} vanished while publishing")))
}

async fn participant_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<event_participant::Model> {
    queries::events::participant_by_id(txn, id)
        .await?
        .ok_or_else(|| internal(format!("participant {id} vanished while publishing")))
}

/// Who answers for an event: its working group, or its author.
async fn organiser_of(txn: &DatabaseTransaction, event: &event::Model) -> ServiceResult<actor::Model> {
    let id = event
        .group_id
        .or(event.author_id)
        .ok_or_else(|| internal("an event without an organiser"))?;
    actor_by_id(txn, id).await
}

/// The inboxes of everyone on other nodes taking part (or waiting to).
async fn participant_inboxes(txn: &DatabaseTransaction, event: &event::Model) -> ServiceResult<Vec<String>> {
    let participants = queries::events::participants(txn, event.id).await?;
    let actors = queries::actors::by_ids(txn, participants.iter().map(|p| p.actor_id).collect()).await?;
    Ok(actors
        .into_iter()
        .filter(|a| !a.local)
        .map(|a| a.shared_inbox.unwrap_or(a.inbox))
        .collect())
}

impl OutboxPublisher {
    pub(crate) async fn publish_event(
        &self,
        txn: &DatabaseTransaction,
        outgoing: Outgoing,
    ) -> ServiceResult<()> {
        match outgoing {
            Outgoing::CreateEvent { event_id } => self.publish_event_change(txn, event_id, "Create").await,
            Outgoing::UpdateEvent { event_id } => self.publish_event_change(txn, event_id, "Update").await,
            Outgoing::DeleteEvent { event_id } => self.publish_event_change(txn, event_id, "Delete").await,
            Outgoing::JoinEvent { participant_id } => {
                let participant = participant_by_id(txn, participant_id).await?;
                self.publish_participation(txn, &participant, "Join").await
            }
            Outgoing::LeaveEvent { participant } => {
                self.publish_participation(txn, &participant, "Leave").await
            }
            Outgoing::AnswerJoin { participant_id } => self.publish_answer(txn, participant_id).await,
            other => Err(internal(format!("not an event activity: {other:?}"))),
        }
    }

    async fn publish_event_change(
        &self,
        txn: &DatabaseTransaction,
        event_id: i64,
        kind: &str,
    ) -> ServiceResult<()> {
        let urls = &self.context.node.urls;
        let event = event_by_id(txn, event_id).await?;
        let author = actor_by_id(txn, event.author_id.unwrap_or_default()).await?;
        let organiser = organiser_of(txn, &event).await?;
        let group = event.group_id.is_some().then_some(&organiser);
        let activity = if kind == "Delete" {
            let (to, cc) = addressing(event.visibility, &author, group, vec![]).map_err(internal)?;
            json!({
                "@context": event_context(),
                "id": urls.new_activity("delete"),
                "type": "Delete",
                "actor": author.ap_id,
                "object": event.ap_id,
                "to": to,
                "cc": cc,
            })
        } else {
            let object = event_of(txn, &event).await.map_err(internal)?;
            json!({
                "@context": event_context(),
                "id": urls.new_activity(&kind.to_ascii_lowercase()),
                "type": kind,
                "actor": author.ap_id,
                "object": to_value(&object)?,
                "to": object.to,
                "cc": object.cc,
            })
        };
        let participants = participant_inboxes(txn, &event).await?;
        let mut inboxes = relay::direct_inboxes(txn, event.visibility, &author, participants).await?;
        if event.group_id.is_some() {
            let effect = match kind {
                "Create" => Effect::Created,
                "Delete" => Effect::Gone,
                _ => Effect::Edited,
            };
            let announced = relay::announce(
                txn,
                &self.context,
                &organiser,
                &Relayed::standalone(
                    &organiser,
                    "events",
                    event.id,
                    &event.ap_id,
                    event.visibility,
                    event.published,
                ),
                &activity,
                effect,
            )
            .await?;
            // The event is the group's (its `attributedTo`): servers that
            // take a change only from that actor (Mitra, GoToSocial) get it
            // from the group.
            let mut from_organiser = activity.clone();
            from_organiser["id"] = json!(urls.new_activity(&kind.to_ascii_lowercase()));
            from_organiser["actor"] = json!(organiser.ap_id);
            relay::deliver(
                txn,
                &self.context,
                &organiser,
                from_organiser,
                announced.only_see_objects.clone(),
            )
            .await?;
            inboxes = announced.not_yet_reached(inboxes);
        }
        relay::deliver(txn, &self.context, &author, activity, inboxes).await
    }

    /// A member's `Join` or `Leave`, to the organiser of an event elsewhere.
    async fn publish_participation(
        &self,
        txn: &DatabaseTransaction,
        participant: &event_participant::Model,
        kind: &str,
    ) -> ServiceResult<()> {
        let event = event_by_id(txn, participant.event_id).await?;
        let member = actor_by_id(txn, participant.actor_id).await?;
        let organiser = organiser_of(txn, &event).await?;
        let id = if kind == "Join" {
            participant.ap_id.clone()
        } else {
            self.context.node.urls.new_activity("leave")
        };
        let mut activity = json!({
            "@context": event_context(),
            "id": id,
            "type": kind,
            "actor": member.ap_id,
            "object": event.ap_id,
            "to": [organiser.ap_id],
        });
        if let (Value::Object(map), Some(message)) = (&mut activity, &participant.message)
            && kind == "Join"
        {
            map.insert("participationMessage".into(), json!(message));
        }
        relay::deliver(txn, &self.context, &member, activity, vec![organiser.inbox]).await
    }

    /// The organiser's answer to a participant on another node.
    async fn publish_answer(&self, txn: &DatabaseTransaction, participant_id: i64) -> ServiceResult<()> {
        let participant = participant_by_id(txn, participant_id).await?;
        let event = event_by_id(txn, participant.event_id).await?;
        let member = actor_by_id(txn, participant.actor_id).await?;
        let organiser = organiser_of(txn, &event).await?;
        let kind = if participant.state == ParticipantState::Accepted {
            "Accept"
        } else {
            "Reject"
        };
        let activity = json!({
            "@context": event_context(),
            "id": self.context.node.urls.new_activity(&kind.to_ascii_lowercase()),
            "type": kind,
            "actor": organiser.ap_id,
            "object": {
                "type": "Join",
                "id": participant.ap_id,
                "actor": member.ap_id,
                "object": event.ap_id,
            },
            "to": [member.ap_id],
        });
        relay::deliver(txn, &self.context, &organiser, activity, vec![member.inbox]).await
    }
}
