//! Incoming activities: stored once verified, processed afterwards.

use crate::entities::InboxState;
use crate::{DbResult, entities::inbox_activity};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Statement,
    TransactionTrait,
    sea_query::{OnConflict, Query},
};
use std::collections::HashMap;

/// Whether a stored activity was new or a replay of one already received.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    Duplicate,
}

/// One verified activity to keep.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub ap_id: String,
    pub actor_ap_id: String,
    pub kind: String,
    pub body: String,
}

/// Store several activities in one statement and transaction (one round
/// trip to the database's thread, one commit, one disk sync), each answered
/// as new or a duplicate, in order. A duplicate inside the batch counts as a
/// duplicate of the first. On an error nothing is stored.
///
/// `ON CONFLICT DO NOTHING` rather than a unique violation, which would fail
/// the whole batch; only the rows inserted come back (`RETURNING`).
pub async fn store_many(db: &crate::Db, activities: &[NewActivity]) -> DbResult<Vec<Stored>> {
    if activities.is_empty() {
        return Ok(Vec::new());
    }
    let statement = match db.get_database_backend() {
        DbBackend::Postgres => store_many_postgres(activities),
        backend => store_many_values(backend, activities)?,
    };
    let txn = db.begin().await?;
    let rows = txn.query_all_raw(statement).await?;
    txn.commit().await?;
    let mut inserted: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    for row in rows {
        inserted.insert(row.try_get("", "ap_id")?, row.try_get("", "id")?);
    }
    // The first of repeated ids takes the row; the rest are duplicates.
    Ok(activities
        .iter()
        .map(|activity| match inserted.remove(&activity.ap_id) {
            Some(id) => Stored::New(id),
            None => Stored::Duplicate,
        })
        .collect())
}

/// On PostgreSQL the batch goes as one array per column, so the statement's
/// text is the same whatever the batch's size (one prepared statement per
/// connection, not one per size). `WITH ORDINALITY … ORDER BY` keeps the
/// rows' ids in the batch's order.
fn store_many_postgres(activities: &[NewActivity]) -> Statement {
    let column = |field: fn(&NewActivity) -> &String| -> sea_orm::Value {
        activities
            .iter()
            .map(|a| field(a).clone())
            .collect::<Vec<String>>()
            .into()
    };
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO inbox_activity (ap_id, actor_ap_id, kind, body, state, attempts, next_attempt_at, received_at)
         SELECT ap_id, actor_ap_id, kind, body, $5, 0, $6, $6
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])
                WITH ORDINALITY AS batch (ap_id, actor_ap_id, kind, body, position)
          ORDER BY position
         ON CONFLICT (ap_id) DO NOTHING
         RETURNING id, ap_id",
        [
            column(|a| &a.ap_id),
            column(|a| &a.actor_ap_id),
            column(|a| &a.kind),
            column(|a| &a.body),
            InboxState::Pending.as_str().into(),
            Utc::now().into(),
        ],
    )
}

/// Elsewhere (SQLite) one multi-row `VALUES` list.
fn store_many_values(backend: DbBackend, activities: &[NewActivity]) -> DbResult<Statement> {
    use inbox_activity::Column;
    let now = Utc::now();
    let mut insert = Query::insert();
    insert
        .into_table(inbox_activity::Entity)
        .columns([
            Column::ApId,
            Column::ActorApId,
            Column::Kind,
            Column::Body,
            Column::State,
            Column::Attempts,
            Column::NextAttemptAt,
            Column::ReceivedAt,
        ])
        .on_conflict(OnConflict::column(Column::ApId).do_nothing().to_owned())
        .returning(Query::returning().columns([Column::Id, Column::ApId]));
    for activity in activities {
        insert
            .values([
                activity.ap_id.clone().into(),
                activity.actor_ap_id.clone().into(),
                activity.kind.clone().into(),
                activity.body.clone().into(),
                InboxState::Pending.as_str().into(),
                0i32.into(),
                now.into(),
                now.into(),
            ])
            .map_err(|e| sea_orm::DbErr::Custom(format!("inbox batch: {e}")))?;
    }
    Ok(backend.build(&insert))
}

/// Store one activity: a batch of one.
pub async fn store(db: &crate::Db, activity: &NewActivity) -> DbResult<Stored> {
    store_many(db, std::slice::from_ref(activity))
        .await?
        .pop()
        .ok_or_else(|| sea_orm::DbErr::Custom("a batch of one gave no answer".into()).into())
}

pub async fn claim_due(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: Duration,
) -> DbResult<Vec<inbox_activity::Model>> {
    let now = Utc::now();
    let until = now + lease;
    let backend = db.get_database_backend();
    // On PostgreSQL `= ANY(ARRAY(…))`, not `IN (…)`: with `IN` the planner
    // may join the subquery against a scan of the whole table.
    let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
        DbBackend::Postgres => (
            "UPDATE inbox_activity SET claimed_until = $1 WHERE id = ANY(ARRAY(
                SELECT id FROM inbox_activity WHERE state = 'pending' AND next_attempt_at <= $2
                  AND (claimed_until IS NULL OR claimed_until < $2)
                ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED))
             RETURNING *",
            vec![until.into(), now.into(), (limit as i64).into()],
        ),
        _ => (
            "UPDATE inbox_activity SET claimed_until = ? WHERE id IN (
                SELECT id FROM inbox_activity WHERE state = 'pending' AND next_attempt_at <= ?
                  AND (claimed_until IS NULL OR claimed_until < ?)
                ORDER BY id LIMIT ?)
             RETURNING *",
            vec![until.into(), now.into(), now.into(), (limit as i64).into()],
        ),
    };
    let mut rows = inbox_activity::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    rows.sort_by_key(|row| row.id);
    Ok(rows)
}

/// Mark processed activities done, in one statement.
pub async fn mark_done(db: &impl ConnectionTrait, ids: &[i64]) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    inbox_activity::Entity::update_many()
        .col_expr(inbox_activity::Column::State, InboxState::Done.as_str().into())
        .col_expr(
            inbox_activity::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(inbox_activity::Column::ProcessedAt, Some(Utc::now()).into())
        .filter(super::id_among(
            db.get_database_backend(),
            inbox_activity::Column::Id,
            ids,
        ))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn mark_failed_attempt(
    db: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> DbResult<()> {
    let mut row = inbox_activity::ActiveModel {
        id: Set(id),
        attempts: Set(attempts),
        claimed_until: Set(None),
        last_error: Set(Some(error.chars().take(1000).collect())),
        ..Default::default()
    };
    match retry_at {
        Some(at) => row.next_attempt_at = Set(at),
        None => {
            row.state = Set(InboxState::Failed);
            row.processed_at = Set(Some(Utc::now()));
        }
    }
    row.update(db).await?;
    Ok(())
}

pub async fn count_in_state(db: &impl ConnectionTrait, state: InboxState) -> DbResult<u64> {
    Ok(inbox_activity::Entity::find()
        .filter(inbox_activity::Column::State.eq(state))
        .count(db)
        .await?)
}

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<inbox_activity::Model>> {
    Ok(inbox_activity::Entity::find()
        .filter(inbox_activity::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

/// The newest activities in `state`, for the admin.
pub async fn recent_in_state(
    db: &impl ConnectionTrait,
    state: InboxState,
    limit: u64,
) -> DbResult<Vec<inbox_activity::Model>> {
    use sea_orm::QuerySelect;
    Ok(inbox_activity::Entity::find()
        .filter(inbox_activity::Column::State.eq(state))
        .order_by_desc(inbox_activity::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
