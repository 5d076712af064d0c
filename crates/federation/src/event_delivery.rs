//! Where event activity goes. An event's `Create`, `Update` and `Delete` go
//! from its author to their followers, to everyone taking part elsewhere, and
//! through its working group (announced to the group's followers). A `Join`
//! or `Leave` goes to the organiser; the organiser's `Accept` or `Reject` to
//! the participant.

use crate::{
    activities::{
        AnswerJoin, CreateEvent, DeleteEvent, JoinEvent, LeaveEvent, answer_join::Answer,
        create_event::EventChange,
    },
    objects::{addressing, event::event_of},
    publisher::{OutboxPublisher, actor_by_id},
    relay::{self, Effect, Relayed, internal},
};
use healthcommons_db::{
    DatabaseTransaction,
    entities::ParticipantState,
    entities::{actor, event, event_participant},
    queries,
};
use healthcommons_service::ServiceResult;
use serde::Serialize;

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
    /// An event's `Create` or `Update` (with `change`), or its `Delete`.
    pub(crate) async fn publish_event_change(
        &self,
        txn: &DatabaseTransaction,
        event_id: i64,
        change: Option<EventChange>,
    ) -> ServiceResult<()> {
        let event = event_by_id(txn, event_id).await?;
        let author = actor_by_id(txn, event.author_id.unwrap_or_default()).await?;
        let organiser = organiser_of(txn, &event).await?;
        match change {
            Some(change) => {
                let name = match change {
                    EventChange::Create => "create",
                    EventChange::Update => "update",
                };
                let object = event_of(txn, &event).await.map_err(internal)?;
                let activity =
                    CreateEvent::new(self.new_id(name)?, change, &author, object).map_err(internal)?;
                // The event is the group's (its `attributedTo`): servers that
                // take a change only from that actor (Mitra, GoToSocial) get it
                // from the group.
                let from_organiser = CreateEvent {
                    id: self.new_id(name)?,
                    actor: crate::activities::actor_id(&organiser).map_err(internal)?,
                    ..activity.clone()
                };
                let effect = match change {
                    EventChange::Create => Effect::Created,
                    EventChange::Update => Effect::Edited,
                };
                self.send_event_change(
                    txn,
                    &event,
                    &author,
                    &organiser,
                    &activity,
                    &from_organiser,
                    effect,
                )
                .await
            }
            None => {
                let group = event.group_id.is_some().then_some(&organiser);
                let (to, cc) = addressing(event.visibility, &author, group, vec![]).map_err(internal)?;
                let delete = DeleteEvent::new(self.new_id("delete")?, &author, &event.ap_id, to, cc)
                    .map_err(internal)?;
                let from_organiser = DeleteEvent {
                    id: self.new_id("delete")?,
                    actor: crate::activities::actor_id(&organiser).map_err(internal)?,
                    ..delete.clone()
                };
                self.send_event_change(
                    txn,
                    &event,
                    &author,
                    &organiser,
                    &delete,
                    &from_organiser,
                    Effect::Gone,
                )
                .await
            }
        }
    }

    /// From the author to their followers and the participants elsewhere,
    /// and through the event's working group.
    #[allow(clippy::too_many_arguments)]
    async fn send_event_change(
        &self,
        txn: &DatabaseTransaction,
        event: &event::Model,
        author: &actor::Model,
        organiser: &actor::Model,
        activity: &impl Serialize,
        from_organiser: &impl Serialize,
        effect: Effect,
    ) -> ServiceResult<()> {
        let participants = participant_inboxes(txn, event).await?;
        let mut inboxes = relay::direct_inboxes(txn, event.visibility, author, participants).await?;
        if event.group_id.is_some() {
            let announced = relay::announce(
                txn,
                &self.context,
                organiser,
                &Relayed::standalone(
                    organiser,
                    "events",
                    event.id,
                    &event.ap_id,
                    event.visibility,
                    event.published,
                ),
                activity,
                effect,
            )
            .await?;
            relay::deliver(
                txn,
                &self.context,
                organiser,
                from_organiser,
                announced.only_see_objects.clone(),
            )
            .await?;
            inboxes = announced.not_yet_reached(inboxes);
        }
        relay::deliver(txn, &self.context, author, activity, inboxes).await
    }

    /// A member's `Join`, to the organiser of an event elsewhere.
    pub(crate) async fn publish_join(
        &self,
        txn: &DatabaseTransaction,
        participant_id: i64,
    ) -> ServiceResult<()> {
        let participant = participant_by_id(txn, participant_id).await?;
        let event = event_by_id(txn, participant.event_id).await?;
        let member = actor_by_id(txn, participant.actor_id).await?;
        let organiser = organiser_of(txn, &event).await?;
        let join = JoinEvent::new(&participant, &member, &event.ap_id, &organiser).map_err(internal)?;
        relay::deliver(txn, &self.context, &member, &join, vec![organiser.inbox]).await
    }

    /// A member's `Leave`, to the organiser of an event elsewhere.
    pub(crate) async fn publish_leave(
        &self,
        txn: &DatabaseTransaction,
        participant: &event_participant::Model,
    ) -> ServiceResult<()> {
        let event = event_by_id(txn, participant.event_id).await?;
        let member = actor_by_id(txn, participant.actor_id).await?;
        let organiser = organiser_of(txn, &event).await?;
        let leave =
            LeaveEvent::new(self.new_id("leave")?, &member, &event.ap_id, &organiser).map_err(internal)?;
        relay::deliver(txn, &self.context, &member, &leave, vec![organiser.inbox]).await
    }

    /// The organiser's answer to a participant on another node.
    pub(crate) async fn publish_answer(
        &self,
        txn: &DatabaseTransaction,
        participant_id: i64,
    ) -> ServiceResult<()> {
        let participant = participant_by_id(txn, participant_id).await?;
        let event = event_by_id(txn, participant.event_id).await?;
        let member = actor_by_id(txn, participant.actor_id).await?;
        let organiser = organiser_of(txn, &event).await?;
        let (answer, name) = if participant.state == ParticipantState::Accepted {
            (Answer::Accept, "accept")
        } else {
            (Answer::Reject, "reject")
        };
        let activity = AnswerJoin::new(
            self.new_id(name)?,
            answer,
            &organiser,
            &participant,
            &member,
            &event.ap_id,
        )
        .map_err(internal)?;
        relay::deliver(txn, &self.context, &organiser, &activity, vec![member.inbox]).await
    }
}
