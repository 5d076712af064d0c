//! Events and their participants.

use crate::{
    DbResult,
    entities::{event, event_participant},
    queries::audience::ReadScope,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};

/// At most this many events in one list or feed.
pub const MAX_LISTED: u64 = 500;

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<event::Model>> {
    Ok(event::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: Vec<i64>) -> DbResult<Vec<event::Model>> {
    Ok(event::Entity::find()
        .filter(event::Column::Id.is_in(ids))
        .all(db)
        .await?)
}

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<event::Model>> {
    Ok(event::Entity::find()
        .filter(event::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn insert(db: &impl ConnectionTrait, row: event::ActiveModel) -> DbResult<event::Model> {
    Ok(row.insert(db).await?)
}

pub async fn update(db: &impl ConnectionTrait, row: event::ActiveModel) -> DbResult<event::Model> {
    Ok(row.update(db).await?)
}

/// Which events a list shows.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    /// Only this working group's.
    pub group_id: Option<i64>,
    /// Only events written here.
    pub local_only: bool,
    /// Events still running or to come at this time (by their end, or start when none).
    pub from: DateTime<Utc>,
}

/// The events `scope` may read.
pub(crate) fn scope_of(db: &impl ConnectionTrait, scope: &ReadScope) -> Condition {
    scope.condition(
        db.get_database_backend(),
        event::Column::Visibility,
        event::Column::GroupId,
        event::Column::AuthorId,
    )
}

/// Events still running or to come at `from` (by their end, or their start when none).
pub(crate) fn not_over(from: DateTime<Utc>) -> Condition {
    Condition::any().add(event::Column::EndsAt.gte(from)).add(
        Condition::all()
            .add(event::Column::EndsAt.is_null())
            .add(event::Column::StartsAt.gte(from)),
    )
}

/// Events that have not ended, soonest first (cancelled ones included, marked).
pub async fn upcoming(
    db: &impl ConnectionTrait,
    scope: &ReadScope,
    listing: Listing,
) -> DbResult<Vec<event::Model>> {
    let mut query = event::Entity::find()
        .filter(event::Column::DeletedAt.is_null())
        .filter(scope_of(db, scope))
        .filter(not_over(listing.from));
    if let Some(group_id) = listing.group_id {
        query = query.filter(event::Column::GroupId.eq(group_id));
    }
    if listing.local_only {
        query = query.filter(event::Column::Local.eq(true));
    }
    Ok(query
        .order_by_asc(event::Column::StartsAt)
        .order_by_asc(event::Column::Id)
        .limit(MAX_LISTED)
        .all(db)
        .await?)
}

/// Take one place: true when there was one (or no limit). Atomic, so two
/// joins at once never both take the last place.
pub async fn take_place(db: &impl ConnectionTrait, event_id: i64) -> DbResult<bool> {
    let result = event::Entity::update_many()
        .col_expr(
            event::Column::ParticipantCount,
            Expr::col(event::Column::ParticipantCount).add(1),
        )
        .filter(event::Column::Id.eq(event_id))
        .filter(
            Condition::any()
                .add(event::Column::Capacity.is_null())
                .add(Expr::col(event::Column::ParticipantCount).lt(Expr::col(event::Column::Capacity))),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Give a place back.
pub async fn free_place(db: &impl ConnectionTrait, event_id: i64) -> DbResult<()> {
    event::Entity::update_many()
        .col_expr(
            event::Column::ParticipantCount,
            Expr::col(event::Column::ParticipantCount).sub(1),
        )
        .filter(event::Column::Id.eq(event_id))
        .filter(event::Column::ParticipantCount.gt(0))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn participant(
    db: &impl ConnectionTrait,
    event_id: i64,
    actor_id: i64,
) -> DbResult<Option<event_participant::Model>> {
    Ok(event_participant::Entity::find()
        .filter(event_participant::Column::EventId.eq(event_id))
        .filter(event_participant::Column::ActorId.eq(actor_id))
        .one(db)
        .await?)
}

/// An actor's participations in any of `event_ids`.
pub async fn participations_of(
    db: &impl ConnectionTrait,
    actor_id: i64,
    event_ids: Vec<i64>,
) -> DbResult<Vec<event_participant::Model>> {
    Ok(event_participant::Entity::find()
        .filter(event_participant::Column::ActorId.eq(actor_id))
        .filter(event_participant::Column::EventId.is_in(event_ids))
        .all(db)
        .await?)
}

pub async fn participant_by_id(
    db: &impl ConnectionTrait,
    id: i64,
) -> DbResult<Option<event_participant::Model>> {
    Ok(event_participant::Entity::find_by_id(id).one(db).await?)
}

pub async fn participant_by_ap_id(
    db: &impl ConnectionTrait,
    ap_id: &str,
) -> DbResult<Option<event_participant::Model>> {
    Ok(event_participant::Entity::find()
        .filter(event_participant::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn participants(
    db: &impl ConnectionTrait,
    event_id: i64,
) -> DbResult<Vec<event_participant::Model>> {
    Ok(event_participant::Entity::find()
        .filter(event_participant::Column::EventId.eq(event_id))
        .order_by_asc(event_participant::Column::CreatedAt)
        .order_by_asc(event_participant::Column::Id)
        .all(db)
        .await?)
}

pub async fn insert_participant(
    db: &impl ConnectionTrait,
    row: event_participant::ActiveModel,
) -> DbResult<event_participant::Model> {
    Ok(row.insert(db).await?)
}

pub async fn update_participant(
    db: &impl ConnectionTrait,
    row: event_participant::ActiveModel,
) -> DbResult<event_participant::Model> {
    Ok(row.update(db).await?)
}

pub async fn delete_participant(db: &impl ConnectionTrait, id: i64) -> DbResult<()> {
    event_participant::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
