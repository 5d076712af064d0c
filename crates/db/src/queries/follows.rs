use crate::entities::FollowState;
use crate::{
    DbResult,
    entities::{actor, follow},
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use std::collections::HashMap;

pub async fn between(
    db: &impl ConnectionTrait,
    follower_id: i64,
    target_id: i64,
) -> DbResult<Option<follow::Model>> {
    Ok(follow::Entity::find()
        .filter(follow::Column::FollowerId.eq(follower_id))
        .filter(follow::Column::TargetId.eq(target_id))
        .one(db)
        .await?)
}

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<follow::Model>> {
    Ok(follow::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<follow::Model>> {
    Ok(follow::Entity::find()
        .filter(follow::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

/// Record a follow, or restart an existing one with a new activity id and state.
pub async fn upsert(
    db: &impl ConnectionTrait,
    ap_id: &str,
    follower_id: i64,
    target_id: i64,
    state: FollowState,
) -> DbResult<follow::Model> {
    let now = Utc::now();
    match between(db, follower_id, target_id).await? {
        Some(existing) => Ok(follow::ActiveModel {
            id: Set(existing.id),
            ap_id: Set(ap_id.to_owned()),
            state: Set(state),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(db)
        .await?),
        None => Ok(follow::ActiveModel {
            ap_id: Set(ap_id.to_owned()),
            follower_id: Set(follower_id),
            target_id: Set(target_id),
            state: Set(state),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?),
    }
}

pub async fn set_state(db: &impl ConnectionTrait, id: i64, state: FollowState) -> DbResult<()> {
    follow::ActiveModel {
        id: Set(id),
        state: Set(state),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &impl ConnectionTrait, id: i64) -> DbResult<()> {
    follow::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

pub async fn of_follower(db: &impl ConnectionTrait, follower_id: i64) -> DbResult<Vec<follow::Model>> {
    Ok(follow::Entity::find()
        .filter(follow::Column::FollowerId.eq(follower_id))
        .order_by_asc(follow::Column::Id)
        .all(db)
        .await?)
}

/// An inbox a fan-out delivers to, and the host it is on.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct FollowerInbox {
    pub inbox: String,
    pub host: String,
}

/// Where the accepted remote followers of `target_id` take deliveries: each
/// follower's own inbox, or with `shared` its node's shared inbox where it
/// has one. Each inbox once, in the order of its first follow.
///
/// One statement, so that a group with 10,000 followers on 1,000 nodes hands
/// back its 1,000 shared inboxes instead of 10,000 follows and 10,000
/// actors. On PostgreSQL the actor is read by key for each follow (the
/// `LATERAL … OFFSET 0` keeps the planner from flattening it into a join):
/// on a freshly filled table a join may be planned as a scan of every actor
/// per follow, which took seconds with 10,000 followers.
pub async fn remote_follower_inboxes(
    db: &impl ConnectionTrait,
    target_id: i64,
    shared: bool,
) -> DbResult<Vec<FollowerInbox>> {
    let inbox = if shared {
        "COALESCE(a.shared_inbox, a.inbox)"
    } else {
        "a.inbox"
    };
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT {inbox} AS inbox, a.host AS host FROM follow f
             CROSS JOIN LATERAL (SELECT inbox, shared_inbox, host FROM actor
                                 WHERE actor.id = f.follower_id AND NOT actor.local OFFSET 0) a
             WHERE f.target_id = $1 AND f.state = $2
             GROUP BY 1, 2 ORDER BY MIN(f.id)"
        ),
        _ => format!(
            "SELECT {inbox} AS inbox, a.host AS host FROM follow f
             JOIN actor a ON a.id = f.follower_id
             WHERE f.target_id = ? AND f.state = ? AND NOT a.local
             GROUP BY 1, 2 ORDER BY MIN(f.id)"
        ),
    };
    Ok(FollowerInbox::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [target_id.into(), FollowState::Accepted.as_str().into()],
    ))
    .all(db)
    .await?)
}

/// The ids of every accepted follower (local and remote), in follow order.
pub async fn accepted_follower_ap_ids(db: &impl ConnectionTrait, target_id: i64) -> DbResult<Vec<String>> {
    let follower_ids = accepted_follower_ids(db, target_id).await?;
    let mut ap_ids: HashMap<i64, String> = HashMap::with_capacity(follower_ids.len());
    for chunk in follower_ids.chunks(ACTORS_PER_STATEMENT) {
        let rows: Vec<(i64, String)> = actor::Entity::find()
            .select_only()
            .column(actor::Column::Id)
            .column(actor::Column::ApId)
            .filter(super::id_among(
                db.get_database_backend(),
                actor::Column::Id,
                chunk,
            ))
            .into_tuple()
            .all(db)
            .await?;
        ap_ids.extend(rows);
    }
    Ok(follower_ids.iter().filter_map(|id| ap_ids.remove(id)).collect())
}

/// Actors read per statement, under SQLite's limit on bound parameters
/// (PostgreSQL takes them as one array).
const ACTORS_PER_STATEMENT: usize = 1000;

async fn accepted_follower_ids(db: &impl ConnectionTrait, target_id: i64) -> DbResult<Vec<i64>> {
    Ok(follow::Entity::find()
        .select_only()
        .column(follow::Column::FollowerId)
        .filter(follow::Column::TargetId.eq(target_id))
        .filter(follow::Column::State.eq(FollowState::Accepted))
        .order_by_asc(follow::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

pub async fn pending_for_target(db: &impl ConnectionTrait, target_id: i64) -> DbResult<Vec<follow::Model>> {
    Ok(follow::Entity::find()
        .filter(follow::Column::TargetId.eq(target_id))
        .filter(follow::Column::State.eq(FollowState::Pending))
        .order_by_asc(follow::Column::Id)
        .all(db)
        .await?)
}

pub async fn count_followers(db: &impl ConnectionTrait, target_id: i64) -> DbResult<u64> {
    Ok(follow::Entity::find()
        .filter(follow::Column::TargetId.eq(target_id))
        .filter(follow::Column::State.eq(FollowState::Accepted))
        .count(db)
        .await?)
}

pub async fn count_following(db: &impl ConnectionTrait, follower_id: i64) -> DbResult<u64> {
    Ok(follow::Entity::find()
        .filter(follow::Column::FollowerId.eq(follower_id))
        .filter(follow::Column::State.eq(FollowState::Accepted))
        .count(db)
        .await?)
}
