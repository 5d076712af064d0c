//! Notifications and the choices people make about them. Reading a page
//! takes a fixed number of queries: the rows, then every subject they name,
//! one query per kind of subject ([`subjects_of`]).

use crate::{
    DbResult,
    entities::{
        NotificationChoice, NotificationKind, actor, event, garden_item, notification,
        notification_preference, pledge, post, question, report,
    },
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::OnConflict,
};
use std::collections::HashMap;

/// What a new notification says; the subject references are all optional.
#[derive(Debug, Clone, Default)]
pub struct NewNotification {
    pub recipient_id: i64,
    pub cause_id: Option<i64>,
    pub post_id: Option<i64>,
    pub event_id: Option<i64>,
    pub question_id: Option<i64>,
    pub pledge_id: Option<i64>,
    pub garden_item_id: Option<i64>,
    pub group_id: Option<i64>,
    pub report_id: Option<i64>,
    pub detail: Option<String>,
    pub group_key: String,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    kind: NotificationKind,
    new: NewNotification,
) -> DbResult<notification::Model> {
    Ok(notification::ActiveModel {
        recipient_id: Set(new.recipient_id),
        kind: Set(kind),
        cause_id: Set(new.cause_id),
        post_id: Set(new.post_id),
        event_id: Set(new.event_id),
        question_id: Set(new.question_id),
        pledge_id: Set(new.pledge_id),
        garden_item_id: Set(new.garden_item_id),
        group_id: Set(new.group_id),
        report_id: Set(new.report_id),
        detail: Set(new.detail),
        group_key: Set(new.group_key),
        created_at: Set(Utc::now()),
        read_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Which of a person's notifications to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these kinds; all when empty.
    pub kinds: Vec<NotificationKind>,
    /// Only older than this id (the next page).
    pub max_id: Option<i64>,
    pub unread_only: bool,
}

/// A person's notifications, newest first, at most `limit`.
pub async fn page(
    db: &impl ConnectionTrait,
    recipient_id: i64,
    filter: &Filter,
    limit: u64,
) -> DbResult<Vec<notification::Model>> {
    let mut query = notification::Entity::find().filter(notification::Column::RecipientId.eq(recipient_id));
    if !filter.kinds.is_empty() {
        query = query.filter(notification::Column::Kind.is_in(filter.kinds.iter().copied()));
    }
    if let Some(max_id) = filter.max_id {
        query = query.filter(notification::Column::Id.lt(max_id));
    }
    if filter.unread_only {
        query = query.filter(notification::Column::ReadAt.is_null());
    }
    Ok(query
        .order_by_desc(notification::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Mark one of a person's notifications read; false when it is not theirs.
pub async fn mark_read(db: &impl ConnectionTrait, recipient_id: i64, id: i64) -> DbResult<bool> {
    let Some(row) = notification::Entity::find_by_id(id)
        .filter(notification::Column::RecipientId.eq(recipient_id))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    if row.read_at.is_none() {
        notification::ActiveModel {
            id: Set(row.id),
            read_at: Set(Some(Utc::now())),
            ..Default::default()
        }
        .update(db)
        .await?;
    }
    Ok(true)
}

/// Mark every unread notification of a person read; how many were.
pub async fn mark_all_read(db: &impl ConnectionTrait, recipient_id: i64) -> DbResult<u64> {
    Ok(notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Utc::now().into())
        .filter(notification::Column::RecipientId.eq(recipient_id))
        .filter(notification::Column::ReadAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// What a page of notifications is about, each kind loaded in one query.
#[derive(Debug, Default)]
pub struct Subjects {
    pub actors: HashMap<i64, actor::Model>,
    pub posts: HashMap<i64, post::Model>,
    /// The thread starts of the replies among `posts`.
    pub roots: HashMap<i64, post::Model>,
    pub events: HashMap<i64, event::Model>,
    pub questions: HashMap<i64, question::Model>,
    pub pledges: HashMap<i64, pledge::Model>,
    pub garden_items: HashMap<i64, garden_item::Model>,
    pub reports: HashMap<i64, report::Model>,
}

fn ids(rows: &[notification::Model], of: impl Fn(&notification::Model) -> Option<i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().filter_map(of).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub async fn subjects_of(db: &impl ConnectionTrait, rows: &[notification::Model]) -> DbResult<Subjects> {
    let backend = db.get_database_backend();
    let mut subjects = Subjects::default();
    let post_ids = ids(rows, |n| n.post_id);
    if !post_ids.is_empty() {
        subjects.posts = post::Entity::find()
            .filter(super::id_among(backend, post::Column::Id, &post_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let mut root_ids: Vec<i64> = subjects.posts.values().filter_map(|p| p.root_id).collect();
        root_ids.sort_unstable();
        root_ids.dedup();
        if !root_ids.is_empty() {
            subjects.roots = post::Entity::find()
                .filter(super::id_among(backend, post::Column::Id, &root_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();
        }
    }
    let event_ids = ids(rows, |n| n.event_id);
    if !event_ids.is_empty() {
        subjects.events = event::Entity::find()
            .filter(super::id_among(backend, event::Column::Id, &event_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
    }
    let question_ids = ids(rows, |n| n.question_id);
    if !question_ids.is_empty() {
        subjects.questions = question::Entity::find()
            .filter(super::id_among(backend, question::Column::Id, &question_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|q| (q.id, q))
            .collect();
    }
    let pledge_ids = ids(rows, |n| n.pledge_id);
    if !pledge_ids.is_empty() {
        subjects.pledges = pledge::Entity::find()
            .filter(super::id_among(backend, pledge::Column::Id, &pledge_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
    }
    let item_ids = ids(rows, |n| n.garden_item_id);
    if !item_ids.is_empty() {
        subjects.garden_items = garden_item::Entity::find()
            .filter(super::id_among(backend, garden_item::Column::Id, &item_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
    }
    let report_ids = ids(rows, |n| n.report_id);
    if !report_ids.is_empty() {
        subjects.reports = report::Entity::find()
            .filter(super::id_among(backend, report::Column::Id, &report_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
    }
    // The people who caused them and the groups they happened in, in one query.
    let mut actor_ids = ids(rows, |n| n.cause_id);
    actor_ids.extend(ids(rows, |n| n.group_id));
    actor_ids.extend(subjects.posts.values().filter_map(|p| p.group_id));
    actor_ids.extend(subjects.events.values().filter_map(|e| e.group_id));
    actor_ids.extend(subjects.questions.values().filter_map(|q| q.group_id));
    actor_ids.extend(subjects.pledges.values().filter_map(|p| p.group_id));
    actor_ids.extend(subjects.garden_items.values().filter_map(|i| i.group_id));
    actor_ids.extend(subjects.reports.values().filter_map(|r| r.group_id));
    if !actor_ids.is_empty() {
        subjects.actors = super::actors::map_by_ids(db, actor_ids).await?;
    }
    Ok(subjects)
}

/// An account's choices, kind by kind; kinds without one are not listed.
pub async fn preferences(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> DbResult<HashMap<NotificationKind, NotificationChoice>> {
    Ok(notification_preference::Entity::find()
        .filter(notification_preference::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.kind, p.choice))
        .collect())
}

/// An account's choice for one kind, if it made one.
pub async fn preference(
    db: &impl ConnectionTrait,
    user_id: i64,
    kind: NotificationKind,
) -> DbResult<Option<NotificationChoice>> {
    Ok(notification_preference::Entity::find()
        .filter(notification_preference::Column::UserId.eq(user_id))
        .filter(notification_preference::Column::Kind.eq(kind))
        .one(db)
        .await?
        .map(|p| p.choice))
}

pub async fn set_preference(
    db: &impl ConnectionTrait,
    user_id: i64,
    kind: NotificationKind,
    choice: NotificationChoice,
) -> DbResult<()> {
    notification_preference::Entity::insert(notification_preference::ActiveModel {
        user_id: Set(user_id),
        kind: Set(kind),
        choice: Set(choice),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            notification_preference::Column::UserId,
            notification_preference::Column::Kind,
        ])
        .update_column(notification_preference::Column::Choice)
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Whether `recipient_id` was already told of what `group_key` names (a
/// reminder, a closed question: each is told once).
pub async fn already_told(db: &impl ConnectionTrait, recipient_id: i64, group_key: &str) -> DbResult<bool> {
    Ok(notification::Entity::find()
        .filter(notification::Column::RecipientId.eq(recipient_id))
        .filter(notification::Column::GroupKey.eq(group_key))
        .one(db)
        .await?
        .is_some())
}

/// Events that start between `from` and `to`, not cancelled nor deleted.
pub async fn events_starting(
    db: &impl ConnectionTrait,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
) -> DbResult<Vec<event::Model>> {
    use healthcommons_core::event::EventStatus;
    Ok(event::Entity::find()
        .filter(event::Column::StartsAt.gt(from))
        .filter(event::Column::StartsAt.lte(to))
        .filter(event::Column::DeletedAt.is_null())
        .filter(event::Column::Status.ne(EventStatus::Cancelled))
        .all(db)
        .await?)
}

/// Agenda questions that closed between `from` and `to`.
pub async fn questions_closed(
    db: &impl ConnectionTrait,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
) -> DbResult<Vec<question::Model>> {
    Ok(question::Entity::find()
        .filter(question::Column::ClosesAt.gt(from))
        .filter(question::Column::ClosesAt.lte(to))
        .all(db)
        .await?)
}
