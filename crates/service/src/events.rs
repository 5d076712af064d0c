//! Events: workshops, seminars, trainings and meetings that a working group
//! or a person organises, and who takes part. Taking part is a `Join` that
//! the organiser's node answers: accepted while places last (or once the
//! organiser approves), refused when the event is full.

use crate::{
    NodeContext, ServiceError, ServiceResult,
    accounts::Account,
    node::{Place, checked_web_url},
    policy::{self, Action, Subject, Target, Under, Viewer},
    publish::{Outgoing, Publisher},
};
use chrono::{DateTime, Utc};
use healthcommons_core::{
    calendar::{CalendarEvent, Organizer},
    event::{EventKind, EventStatus, JoinMode, time_zone},
    text,
};
use healthcommons_db::entities::{ActorKind, ParticipantState};
use healthcommons_db::{
    TransactionTrait,
    entities::{Visibility, actor, event, event_participant},
    queries::{self, events::Listing},
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DatabaseTransaction, IntoActiveModel};

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 50_000;
pub const MAX_MESSAGE: usize = 1_000;
/// More places than any gathering this is for; a bound on nonsense.
pub const MAX_CAPACITY: i32 = 100_000;

/// Everything an organiser writes about an event.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub kind: EventKind,
    pub title: String,
    /// Markdown.
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub place: Option<Place>,
    pub online_url: Option<String>,
    pub capacity: Option<i32>,
    pub join_mode: JoinMode,
    pub status: EventStatus,
}

/// An event with who organises it and how full it is.
#[derive(Debug, Clone)]
pub struct EventView {
    pub event: event::Model,
    /// The working group organising it, or else its author.
    pub organiser: Option<actor::Model>,
    pub author: Option<actor::Model>,
    pub group: Option<actor::Model>,
}

impl EventView {
    /// The event as a calendar's `VEVENT`: for the `.ics` feeds and the
    /// reminder mails alike.
    pub fn calendar_event(&self, node: &NodeContext) -> CalendarEvent {
        let event = &self.event;
        let mut description = text::html_to_text(&event.description_html);
        if let Some(zone) = &event.timezone {
            description = format!("{description}\n\nTimes are in {zone}.").trim().to_owned();
        }
        if let Some(link) = &event.online_url {
            description = format!("{description}\n\nOnline: {link}").trim().to_owned();
        }
        let location = [event.place_name.as_deref(), event.address.as_deref()]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        CalendarEvent {
            uid: event.ap_id.clone(),
            url: node.urls.event_page(event.id),
            summary: event.title.clone(),
            description,
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            location: (!location.is_empty())
                .then_some(location)
                .or_else(|| event.online_url.clone()),
            geo: event.latitude.zip(event.longitude),
            status: event.status.ical(),
            organizer: self.organiser.as_ref().map(|o| Organizer {
                name: o.display_name.clone().unwrap_or_else(|| o.handle()),
                uri: o.ap_id.clone(),
            }),
            categories: vec![event.kind.as_str().to_owned()],
            created: event.published,
            last_modified: event.updated_at,
        }
    }

    /// Places left, when the event has a limit.
    pub fn places_left(&self) -> Option<i32> {
        self.event
            .capacity
            .map(|c| (c - self.event.participant_count).max(0))
    }
    pub fn is_cancelled(&self) -> bool {
        self.event.status == EventStatus::Cancelled
    }
}

/// A participant with who they are.
#[derive(Debug, Clone)]
pub struct ParticipantView {
    pub participant: event_participant::Model,
    pub actor: actor::Model,
}

fn check_draft(draft: &mut EventDraft) -> ServiceResult<()> {
    draft.title = text::plain_text(&draft.title, MAX_TITLE + 1);
    if draft.title.is_empty() {
        return Err(ServiceError::validation("an event needs a title"));
    }
    if draft.title.chars().count() > MAX_TITLE {
        return Err(ServiceError::validation(format!(
            "the title must be at most {MAX_TITLE} characters"
        )));
    }
    if draft.description.len() > MAX_DESCRIPTION {
        return Err(ServiceError::validation(format!(
            "the description must be at most {MAX_DESCRIPTION} bytes"
        )));
    }
    if draft.ends_at.is_some_and(|end| end < draft.starts_at) {
        return Err(ServiceError::validation("an event cannot end before it starts"));
    }
    if let Some(zone) = &draft.timezone {
        let Some(parsed) = time_zone(zone) else {
            return Err(ServiceError::validation(format!(
                "{zone:?} is not a time zone: use an IANA name such as Europe/Berlin"
            )));
        };
        draft.timezone = Some(parsed.name().to_owned());
    }
    if let Some(capacity) = draft.capacity
        && !(1..=MAX_CAPACITY).contains(&capacity)
    {
        return Err(ServiceError::validation(format!(
            "capacity must be between 1 and {MAX_CAPACITY}, or left empty for no limit"
        )));
    }
    draft.online_url = match draft.online_url.as_deref() {
        Some(link) => checked_web_url(link, "the online link")?,
        None => None,
    };
    draft.place = match draft.place.take() {
        Some(place) => place.checked()?,
        None => None,
    };
    Ok(())
}

/// The place columns of an event.
fn set_place(row: &mut event::ActiveModel, place: Option<Place>) {
    let place = place.unwrap_or_default();
    row.place_name = Set(Some(place.name).filter(|n| !n.is_empty()));
    row.address = Set(place.address);
    row.latitude = Set(place.latitude);
    row.longitude = Set(place.longitude);
}

/// The columns a draft sets, on a new row or an existing one.
fn apply(row: &mut event::ActiveModel, draft: &EventDraft) {
    row.kind = Set(draft.kind);
    row.title = Set(draft.title.clone());
    row.description_html = Set(text::markdown_to_html(&draft.description));
    row.source = Set(Some(draft.description.clone()));
    row.starts_at = Set(draft.starts_at);
    row.ends_at = Set(draft.ends_at);
    row.timezone = Set(draft.timezone.clone());
    set_place(row, draft.place.clone());
    row.online_url = Set(draft.online_url.clone());
    row.capacity = Set(draft.capacity);
    row.join_mode = Set(draft.join_mode);
    row.status = Set(draft.status);
}

/// Events as the API, the pages and the inbox see them.
pub struct Events<'p>(pub(crate) &'p crate::Processor);

impl Events<'_> {
    /// A member organises an event, for a working group of this node or on their own.
    pub async fn create(
        &self,
        author: &Account,
        group: Option<&actor::Model>,
        mut draft: EventDraft,
    ) -> ServiceResult<event::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        check_draft(&mut draft)?;
        if let Some(group) = group {
            if group.kind != ActorKind::Group || !group.local {
                return Err(ServiceError::validation(
                    "events are organised by working groups of this node",
                ));
            }
            // Whoever may start a thread in the group may organise for it.
            policy::require(
                db,
                author.into(),
                Action::Contribute(Under::Nothing),
                Target::Group(group),
            )
            .await?;
        }
        let visibility = policy::visibility_for_new(db, group, None, Visibility::Public).await?;
        let ap_id = ctx.urls.new_event();
        let mut row = event::ActiveModel {
            ap_id: Set(ap_id.clone()),
            url: Set(Some(ap_id)),
            author_id: Set(Some(author.person.id)),
            group_id: Set(group.map(|g| g.id)),
            visibility: Set(visibility),
            participant_count: Set(0),
            local: Set(true),
            published: Set(Utc::now()),
            updated_at: Set(None),
            deleted_at: Set(None),
            ..Default::default()
        };
        apply(&mut row, &draft);
        let txn = db.begin().await?;
        let created = queries::events::insert(&txn, row).await?;
        publisher
            .publish(&txn, Outgoing::CreateEvent { event_id: created.id })
            .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// The organisers change an event (moving it, cancelling it, …).
    pub async fn update(
        &self,
        account: &Account,
        id: i64,
        mut draft: EventDraft,
    ) -> ServiceResult<event::Model> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let event = managed(db, account, id).await?;
        check_draft(&mut draft)?;
        if draft.capacity.is_some_and(|c| c < event.participant_count) {
            return Err(ServiceError::validation(format!(
                "{} people already take part: the capacity cannot be lower",
                event.participant_count
            )));
        }
        let before = event.clone();
        let mut row = event.into_active_model();
        apply(&mut row, &draft);
        row.updated_at = Set(Some(Utc::now()));
        let txn = db.begin().await?;
        let updated = queries::events::update(&txn, row).await?;
        crate::notifications::event_changed(&txn, &before, &updated, Some(account.person.id)).await?;
        publisher
            .publish(&txn, Outgoing::UpdateEvent { event_id: updated.id })
            .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// The organisers delete an event.
    pub async fn delete(&self, account: &Account, id: i64) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let event = managed(db, account, id).await?;
        let txn = db.begin().await?;
        let before = event.clone();
        let mut row = event.into_active_model();
        row.deleted_at = Set(Some(Utc::now()));
        let deleted = queries::events::update(&txn, row).await?;
        crate::notifications::event_changed(&txn, &before, &deleted, Some(account.person.id)).await?;
        publisher
            .publish(&txn, Outgoing::DeleteEvent { event_id: deleted.id })
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A member takes part: at once for a local event (or a refusal when it is
    /// full), as a `Join` to the organiser's node for a remote one.
    pub async fn join(
        &self,
        account: &Account,
        id: i64,
        message: Option<&str>,
    ) -> ServiceResult<event_participant::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let event = visible(db, Viewer::Actor(&account.person), id).await?;
        policy::require(
            db,
            account.into(),
            Action::TakePart,
            Target::Content(Subject::Event(&event)),
        )
        .await?;
        check_open(&event)?;
        let message = message
            .map(|m| text::plain_text(m, MAX_MESSAGE))
            .filter(|m| !m.is_empty());
        let earlier = queries::events::participant(db, event.id, account.person.id).await?;
        if let Some(existing) = earlier.clone().filter(|p| p.state != ParticipantState::Rejected) {
            return Ok(existing);
        }
        let txn = db.begin().await?;
        if let Some(refused) = earlier {
            // Refused before: asking again starts afresh.
            queries::events::delete_participant(&txn, refused.id).await?;
        }
        let state = if event.local {
            admit(&txn, &event).await?
        } else {
            ParticipantState::Pending
        };
        if state == ParticipantState::Rejected {
            return Err(ServiceError::conflict("this event is full"));
        }
        let participant = queries::events::insert_participant(
            &txn,
            event_participant::ActiveModel {
                event_id: Set(event.id),
                actor_id: Set(account.person.id),
                ap_id: Set(ctx.urls.new_activity("join")),
                state: Set(state.to_owned()),
                message: Set(message),
                created_at: Set(Utc::now()),
                ..Default::default()
            },
        )
        .await?;
        if event.local {
            if state == ParticipantState::Accepted {
                publisher
                    .publish(&txn, Outgoing::UpdateEvent { event_id: event.id })
                    .await?;
            }
        } else {
            publisher
                .publish(
                    &txn,
                    Outgoing::JoinEvent {
                        participant_id: participant.id,
                    },
                )
                .await?;
        }
        txn.commit().await?;
        Ok(participant)
    }

    /// A member stops taking part.
    pub async fn leave(&self, account: &Account, id: i64) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let event = by_id(db, id).await?;
        let participant = queries::events::participant(db, event.id, account.person.id)
            .await?
            .ok_or_else(|| ServiceError::not_found("you do not take part in this event"))?;
        let txn = db.begin().await?;
        if !event.local {
            publisher
                .publish(
                    &txn,
                    Outgoing::LeaveEvent {
                        participant: participant.clone(),
                    },
                )
                .await?;
        }
        remove_participant(&txn, publisher, &event, &participant).await?;
        Ok(txn.commit().await?)
    }

    /// The organisers accept or refuse someone waiting to take part (or take
    /// back an acceptance).
    pub async fn decide(
        &self,
        account: &Account,
        participant_id: i64,
        accept: bool,
    ) -> ServiceResult<event_participant::Model> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let participant = queries::events::participant_by_id(db, participant_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("no such participant"))?;
        let event = managed(db, account, participant.event_id).await?;
        let wanted = if accept {
            ParticipantState::Accepted
        } else {
            ParticipantState::Rejected
        };
        if participant.state == wanted {
            return Ok(participant);
        }
        let txn = db.begin().await?;
        if accept && !queries::events::take_place(&txn, event.id).await? {
            return Err(ServiceError::conflict("this event is full"));
        }
        if participant.state == ParticipantState::Accepted {
            queries::events::free_place(&txn, event.id).await?;
        }
        let mut row = participant.into_active_model();
        row.state = Set(wanted.to_owned());
        let decided = queries::events::update_participant(&txn, row).await?;
        crate::notifications::participation_answered(
            &txn,
            &event,
            decided.actor_id,
            Some(account.person.id),
            accept,
        )
        .await?;
        publish_answer(&txn, publisher, &decided).await?;
        publisher
            .publish(&txn, Outgoing::UpdateEvent { event_id: event.id })
            .await?;
        txn.commit().await?;
        Ok(decided)
    }
}

/// A live event by id.
pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> ServiceResult<event::Model> {
    queries::events::by_id(db, id)
        .await?
        .filter(|e| e.deleted_at.is_none())
        .ok_or_else(|| ServiceError::not_found("no such event"))
}

pub(crate) async fn visible(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    id: i64,
) -> ServiceResult<event::Model> {
    let event = by_id(db, id).await?;
    if !policy::visible_to(db, viewer, Subject::Event(&event)).await? {
        return Err(ServiceError::not_found("no such event"));
    }
    Ok(event)
}

pub(crate) async fn may_manage(
    db: &impl ConnectionTrait,
    account: &Account,
    event: &event::Model,
) -> ServiceResult<bool> {
    policy::may(
        db,
        account.into(),
        Action::Edit,
        Target::Content(Subject::Event(event)),
    )
    .await
}

async fn managed(db: &impl ConnectionTrait, account: &Account, id: i64) -> ServiceResult<event::Model> {
    let event = by_id(db, id).await?;
    if !may_manage(db, account, &event).await? {
        return Err(ServiceError::forbidden(
            "only its organisers may change an event and answer its participants",
        ));
    }
    Ok(event)
}

/// Refuse taking part in an event that is over or called off.
fn check_open(event: &event::Model) -> ServiceResult<()> {
    if event.status == EventStatus::Cancelled {
        return Err(ServiceError::conflict("this event has been cancelled"));
    }
    if event.ends_at.unwrap_or(event.starts_at) < Utc::now() {
        return Err(ServiceError::conflict("this event is over"));
    }
    Ok(())
}

/// What an organiser's node decides for a new participant of a local event.
async fn admit(db: &impl ConnectionTrait, event: &event::Model) -> ServiceResult<ParticipantState> {
    if event.join_mode == JoinMode::Restricted {
        return Ok(ParticipantState::Pending);
    }
    Ok(if queries::events::take_place(db, event.id).await? {
        ParticipantState::Accepted
    } else {
        ParticipantState::Rejected
    })
}

/// Drop a participation, giving its place back on a local event.
async fn remove_participant(
    txn: &DatabaseTransaction,
    publisher: &dyn Publisher,
    event: &event::Model,
    participant: &event_participant::Model,
) -> ServiceResult<()> {
    queries::events::delete_participant(txn, participant.id).await?;
    if event.local && participant.state == ParticipantState::Accepted {
        queries::events::free_place(txn, event.id).await?;
        publisher
            .publish(txn, Outgoing::UpdateEvent { event_id: event.id })
            .await?;
    }
    Ok(())
}

/// Tell a remote participant the organiser's answer.
async fn publish_answer(
    txn: &DatabaseTransaction,
    publisher: &dyn Publisher,
    participant: &event_participant::Model,
) -> ServiceResult<()> {
    if participant.state == ParticipantState::Pending {
        return Ok(());
    }
    let remote = queries::actors::by_id(txn, participant.actor_id)
        .await?
        .is_some_and(|a| !a.local);
    if remote {
        publisher
            .publish(
                txn,
                Outgoing::AnswerJoin {
                    participant_id: participant.id,
                },
            )
            .await?;
    }
    Ok(())
}

/// A `Join` from another node to a local event: admitted like a member's,
/// answered with `Accept` or `Reject` (or later, when the organiser approves).
/// A repeated `Join` gets the answer again.
pub async fn receive_join(
    db: &DatabaseConnection,
    publisher: &dyn Publisher,
    event: &event::Model,
    actor: &actor::Model,
    join_id: &str,
    message: Option<&str>,
) -> ServiceResult<event_participant::Model> {
    if !event.local {
        return Err(ServiceError::validation(
            "a Join goes to the node that organises the event",
        ));
    }
    // Nobody takes part in what they may not see; they are not told it exists.
    policy::require(
        db,
        actor.into(),
        Action::TakePart,
        Target::Content(Subject::Event(event)),
    )
    .await?;
    let txn = db.begin().await?;
    let existing = queries::events::participant(&txn, event.id, actor.id).await?;
    let participant = match existing {
        Some(existing) if existing.state != ParticipantState::Rejected => {
            let mut row = existing.into_active_model();
            row.ap_id = Set(join_id.to_owned());
            queries::events::update_participant(&txn, row).await?
        }
        refused => {
            if let Some(refused) = refused {
                queries::events::delete_participant(&txn, refused.id).await?;
            }
            let state = match check_open(event) {
                Ok(()) => admit(&txn, event).await?,
                Err(_) => ParticipantState::Rejected,
            };
            let participant = queries::events::insert_participant(
                &txn,
                event_participant::ActiveModel {
                    event_id: Set(event.id),
                    actor_id: Set(actor.id),
                    ap_id: Set(join_id.to_owned()),
                    state: Set(state.to_owned()),
                    message: Set(message
                        .map(|m| text::plain_text(m, MAX_MESSAGE))
                        .filter(|m| !m.is_empty())),
                    created_at: Set(Utc::now()),
                    ..Default::default()
                },
            )
            .await?;
            if state == ParticipantState::Accepted {
                publisher
                    .publish(&txn, Outgoing::UpdateEvent { event_id: event.id })
                    .await?;
            }
            participant
        }
    };
    publish_answer(&txn, publisher, &participant).await?;
    txn.commit().await?;
    Ok(participant)
}

/// A `Leave` (or `Undo{Join}`) from another node.
pub async fn receive_leave(
    db: &DatabaseConnection,
    publisher: &dyn Publisher,
    event: &event::Model,
    actor: &actor::Model,
) -> ServiceResult<()> {
    let Some(participant) = queries::events::participant(db, event.id, actor.id).await? else {
        return Ok(());
    };
    let txn = db.begin().await?;
    remove_participant(&txn, publisher, event, &participant).await?;
    Ok(txn.commit().await?)
}

/// The organiser's node answered one of our members' `Join`.
pub async fn receive_answer(
    db: &impl ConnectionTrait,
    by: &actor::Model,
    participant: event_participant::Model,
    accepted: bool,
) -> ServiceResult<()> {
    let event = queries::events::by_id(db, participant.event_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("no such event"))?;
    let organisers = [event.group_id, event.author_id];
    if event.local || !organisers.contains(&Some(by.id)) {
        return Err(ServiceError::forbidden(
            "only the event's organiser answers who takes part",
        ));
    }
    let state = if accepted {
        ParticipantState::Accepted
    } else {
        ParticipantState::Rejected
    };
    if participant.state == state {
        // A repeated answer changes nothing and tells nobody anything new.
        return Ok(());
    }
    let participant_id = participant.actor_id;
    let mut row = participant.into_active_model();
    row.state = Set(state);
    queries::events::update_participant(db, row).await?;
    crate::notifications::participation_answered(db, &event, participant_id, Some(by.id), accepted).await?;
    Ok(())
}

/// An event as another node describes it.
#[derive(Debug, Clone)]
pub struct RemoteEvent {
    pub ap_id: String,
    /// As its addressing says (see `policy::visibility_for_new`, which narrows it).
    pub visibility: Visibility,
    pub url: Option<String>,
    pub author: actor::Model,
    /// The working group organising it (Mobilizon's `attributedTo` a group).
    pub group: Option<actor::Model>,
    pub kind: EventKind,
    pub title: String,
    /// HTML, sanitised here.
    pub description_html: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub place: Option<Place>,
    pub online_url: Option<String>,
    pub capacity: Option<i32>,
    pub join_mode: JoinMode,
    pub status: EventStatus,
    pub participant_count: i32,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
}

/// Store or refresh an event from another node. What is wrong in it is
/// dropped (an unknown zone, a link that is not http, a place out of range),
/// not the event.
pub async fn store_remote(db: &impl ConnectionTrait, remote: RemoteEvent) -> ServiceResult<event::Model> {
    let existing = queries::events::by_ap_id(db, &remote.ap_id).await?;
    if existing.as_ref().is_some_and(|e| e.local) {
        return Err(ServiceError::forbidden("this event belongs to this node"));
    }
    if existing.as_ref().is_some_and(|e| e.deleted_at.is_some()) {
        return Err(ServiceError::conflict("this event was deleted"));
    }
    let title = {
        let plain = text::plain_text(&remote.title, MAX_TITLE);
        if plain.is_empty() {
            "Event".to_owned()
        } else {
            plain
        }
    };
    let before = existing.clone();
    let mut row = match existing {
        Some(existing) => existing.into_active_model(),
        None => event::ActiveModel {
            ap_id: Set(remote.ap_id.clone()),
            local: Set(false),
            deleted_at: Set(None),
            ..Default::default()
        },
    };
    row.url = Set(remote.url);
    row.kind = Set(remote.kind);
    row.author_id = Set(Some(remote.author.id));
    row.visibility =
        Set(policy::visibility_for_new(db, remote.group.as_ref(), None, remote.visibility).await?);
    row.group_id = Set(remote.group.map(|g| g.id));
    row.title = Set(title);
    row.description_html = Set(text::sanitize_html(&remote.description_html));
    row.source = Set(None);
    row.starts_at = Set(remote.starts_at);
    row.ends_at = Set(remote.ends_at.filter(|e| *e >= remote.starts_at));
    row.timezone = Set(remote
        .timezone
        .as_deref()
        .and_then(time_zone)
        .map(|z| z.name().to_owned()));
    set_place(&mut row, remote.place.and_then(|p| p.checked().ok().flatten()));
    row.online_url = Set(remote
        .online_url
        .and_then(|l| checked_web_url(&l, "").ok().flatten()));
    row.capacity = Set(remote.capacity.filter(|c| (1..=MAX_CAPACITY).contains(c)));
    row.join_mode = Set(remote.join_mode);
    row.status = Set(remote.status);
    row.participant_count = Set(remote.participant_count.clamp(0, MAX_CAPACITY));
    row.published = Set(remote.published);
    row.updated_at = Set(remote.updated);
    let stored = match &before {
        Some(before) => {
            let stored = queries::events::update(db, row).await?;
            let organiser = stored.group_id.or(stored.author_id);
            crate::notifications::event_changed(db, before, &stored, organiser).await?;
            stored
        }
        None => queries::events::insert(db, row).await?,
    };
    Ok(stored)
}

/// A `Delete` of a remote event by its author or organising group.
pub async fn receive_delete(
    db: &impl ConnectionTrait,
    by: &actor::Model,
    event: event::Model,
) -> ServiceResult<()> {
    if event.local || ![event.author_id, event.group_id].contains(&Some(by.id)) {
        return Err(ServiceError::forbidden("only its organiser may delete an event"));
    }
    if event.deleted_at.is_none() {
        let before = event.clone();
        let mut row = event.into_active_model();
        row.deleted_at = Set(Some(Utc::now()));
        let deleted = queries::events::update(db, row).await?;
        crate::notifications::event_changed(db, &before, &deleted, Some(by.id)).await?;
    }
    Ok(())
}

/// Events with their authors and groups, read in one query.
async fn views_of(db: &impl ConnectionTrait, events: Vec<event::Model>) -> ServiceResult<Vec<EventView>> {
    let actors = queries::actors::map_by_ids(
        db,
        events
            .iter()
            .flat_map(|e| [e.author_id, e.group_id])
            .flatten()
            .collect(),
    )
    .await?;
    Ok(events
        .into_iter()
        .map(|event| {
            let author = event.author_id.and_then(|id| actors.get(&id).cloned());
            let group = event.group_id.and_then(|id| actors.get(&id).cloned());
            EventView {
                organiser: group.clone().or_else(|| author.clone()),
                event,
                author,
                group,
            }
        })
        .collect())
}

pub(crate) async fn upcoming(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    listing: Listing,
) -> ServiceResult<Vec<EventView>> {
    let scope = policy::read_scope(db, viewer).await?;
    views_of(db, queries::events::upcoming(db, &scope, listing).await?).await
}

pub(crate) async fn participants(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    event: &event::Model,
) -> ServiceResult<Vec<ParticipantView>> {
    if !policy::visible_to(db, viewer, Subject::Event(event)).await? {
        return Err(ServiceError::not_found("no such event"));
    }
    let rows = queries::events::participants(db, event.id).await?;
    let actors = queries::actors::map_by_ids(db, rows.iter().map(|p| p.actor_id).collect()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|participant| {
            let actor = actors.get(&participant.actor_id)?.clone();
            Some(ParticipantView { participant, actor })
        })
        .collect())
}

/// The way in for the pages and the API, on the processor's connections.
impl Events<'_> {
    /// A live event `viewer` may see; "not found" for one they may not, so
    /// members-only events do not show they exist.
    pub async fn visible(&self, viewer: Viewer<'_>, id: i64) -> ServiceResult<event::Model> {
        visible(self.0.readers(), viewer, id).await
    }

    /// Whether `account` may change a local event and answer its participants:
    /// its author, or a moderator of the working group organising it.
    pub async fn may_manage(&self, account: &Account, event: &event::Model) -> ServiceResult<bool> {
        may_manage(self.0.readers(), account, event).await
    }

    /// One event `viewer` may see, with its organiser.
    pub async fn view(&self, viewer: Viewer<'_>, id: i64) -> ServiceResult<EventView> {
        let db = self.0.readers();
        views_of(db, vec![visible(db, viewer, id).await?])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::not_found("no such event"))
    }

    /// Events still to come (or running) that `viewer` may see, soonest first.
    pub async fn upcoming(&self, viewer: Viewer<'_>, listing: Listing) -> ServiceResult<Vec<EventView>> {
        upcoming(self.0.readers(), viewer, listing).await
    }

    /// A viewer's participation (`pending`, `accepted`, `rejected`) by event id,
    /// read in one query (none when signed out).
    pub async fn participation_in(
        &self,
        views: &[EventView],
        viewer: Option<&Account>,
    ) -> ServiceResult<std::collections::HashMap<i64, ParticipantState>> {
        let db = self.0.readers();
        let Some(viewer) = viewer else {
            return Ok(Default::default());
        };
        let ids = views.iter().map(|v| v.event.id).collect();
        Ok(queries::events::participations_of(db, viewer.person.id, ids)
            .await?
            .into_iter()
            .map(|p| (p.event_id, p.state))
            .collect())
    }

    /// Who takes part (and who waits or was refused), in the order they asked;
    /// seen by those who may see the event.
    pub async fn participants(
        &self,
        viewer: Viewer<'_>,
        event: &event::Model,
    ) -> ServiceResult<Vec<ParticipantView>> {
        participants(self.0.readers(), viewer, event).await
    }
}
