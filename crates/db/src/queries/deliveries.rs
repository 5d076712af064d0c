//! The durable outbox: outgoing activities and one delivery row per inbox.
//! Rows are written in the same transaction as the change that caused them,
//! and workers claim due rows with a lease, so a crash never loses one.

use crate::entities::DeliveryState;
use crate::{
    DbResult,
    entities::{actor, delivery, outbox_activity},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

/// Store an outgoing activity and one pending delivery per distinct inbox.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    ap_id: &str,
    actor_id: i64,
    kind: &str,
    json: &str,
    inboxes: &[(String, String)],
) -> DbResult<outbox_activity::Model> {
    let now = Utc::now();
    let activity = outbox_activity::ActiveModel {
        ap_id: Set(ap_id.to_owned()),
        actor_id: Set(actor_id),
        kind: Set(kind.to_owned()),
        json: Set(json.to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    // Several hundred rows per statement: a group's post to a thousand
    // nodes is a few statements, not a thousand.
    for chunk in inboxes.chunks(500) {
        let rows = chunk.iter().map(|(inbox, host)| delivery::ActiveModel {
            outbox_activity_id: Set(activity.id),
            inbox: Set(inbox.clone()),
            peer_host: Set(host.clone()),
            state: Set(DeliveryState::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            created_at: Set(now),
            ..Default::default()
        });
        delivery::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([delivery::Column::OutboxActivityId, delivery::Column::Inbox])
            .exec_without_returning(db)
            .await?;
    }
    if db.get_database_backend() == DbBackend::Postgres {
        // Sent when the enqueuing transaction commits, not before; the
        // payload says how many rows, for `refresh_statistics_after`.
        db.execute_unprepared(&format!("NOTIFY {DELIVERIES_CHANNEL}, '{}'", inboxes.len()))
            .await?;
    }
    Ok(activity)
}

/// The PostgreSQL channel `enqueue` notifies.
const DELIVERIES_CHANNEL: &str = "healthcommons_deliveries";

/// Hears, on PostgreSQL, each commit that enqueued deliveries, from any
/// connection or process. A worker woken in-process as rows are enqueued
/// would claim before their transaction commits, find nothing and sleep
/// until its next poll; a `NOTIFY` is only delivered once the rows are
/// there. (On SQLite the claim waits for the one connection, so it runs
/// after the commit anyway.)
pub struct DeliveryListener(sea_orm::sqlx::postgres::PgListener);

impl DeliveryListener {
    /// `None` on SQLite, which needs no listener.
    pub async fn connect(db: &crate::Db) -> DbResult<Option<Self>> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let mut listener =
            sea_orm::sqlx::postgres::PgListener::connect_with(db.get_postgres_connection_pool())
                .await
                .map_err(sqlx_error)?;
        listener.listen(DELIVERIES_CHANNEL).await.map_err(sqlx_error)?;
        Ok(Some(DeliveryListener(listener)))
    }

    /// Wait for the next commit that enqueued deliveries; how many rows it
    /// enqueued. A lost connection is opened again; notifications sent
    /// meanwhile are missed, which the worker's poll makes up for.
    pub async fn next(&mut self) -> DbResult<u64> {
        let notification = self.0.recv().await.map_err(sqlx_error)?;
        Ok(notification.payload().parse().unwrap_or(0))
    }
}

/// After a commit that enqueued `enqueued` rows, bring PostgreSQL's
/// statistics of the delivery table up to date when those rows are a large
/// share of it. Until autovacuum's next round (up to a minute later) the
/// planner would otherwise take the table for as small as it last saw it,
/// and plan each claim of a big fan-out as a read and sort of every pending
/// row. Returns whether it analysed.
pub async fn refresh_statistics_after(db: &impl ConnectionTrait, enqueued: u64) -> DbResult<bool> {
    const LARGE_ENQUEUE: u64 = 1000;
    if db.get_database_backend() != DbBackend::Postgres || enqueued < LARGE_ENQUEUE {
        return Ok(false);
    }
    let known_rows = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'delivery'::regclass",
        ))
        .await?
        .and_then(|row| row.try_get::<f64>("", "rows").ok())
        .unwrap_or(-1.0);
    // `-1` means never analysed; otherwise only when the new rows are at
    // least a fifth of what the planner believes is there.
    if known_rows >= 0.0 && (enqueued as f64) * 5.0 < known_rows {
        return Ok(false);
    }
    // Another process analysing the table at the same moment is enough.
    db.execute_unprepared("ANALYZE (SKIP_LOCKED) delivery").await?;
    Ok(true)
}

fn sqlx_error(err: sea_orm::sqlx::Error) -> crate::DbError {
    sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(err))).into()
}

/// A claimed delivery: where it goes and which outgoing activity it carries
/// (read once per activity with [`outgoing_activities`], not once per row).
#[derive(Debug, Clone, FromQueryResult)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub inbox: String,
    pub peer_host: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub outbox_activity_id: i64,
}

/// An outgoing activity with the bytes to send and the key that signs them.
#[derive(Debug, Clone, FromQueryResult)]
pub struct OutgoingActivity {
    pub id: i64,
    pub ap_id: String,
    pub json: String,
    pub key_id: String,
    pub private_key_pem: Option<String>,
}

/// The outgoing activities `ids`, each with its sender's key.
pub async fn outgoing_activities(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> DbResult<Vec<OutgoingActivity>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(outbox_activity::Entity::find()
        .select_only()
        .column(outbox_activity::Column::Id)
        .column(outbox_activity::Column::ApId)
        .column(outbox_activity::Column::Json)
        .column_as(actor::Column::PublicKeyId, "key_id")
        .column(actor::Column::PrivateKeyPem)
        .join(
            sea_orm::JoinType::InnerJoin,
            outbox_activity::Entity::belongs_to_actor(),
        )
        .filter(outbox_activity::Column::Id.is_in(ids))
        .into_model::<OutgoingActivity>()
        .all(db)
        .await?)
}

/// What a claim returns of each row: the fields of [`ClaimedDelivery`].
const CLAIMED_COLUMNS: &str = "id, inbox, peer_host, attempts, created_at, outbox_activity_id";

/// Claim up to `limit` due deliveries for `lease`, none of them to a host in
/// `skip_hosts` (peers that already have enough in hand). Concurrent workers
/// (in this process or another one on the same PostgreSQL) never claim the
/// same row.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: Duration,
    skip_hosts: &[String],
) -> DbResult<Vec<ClaimedDelivery>> {
    let now = Utc::now();
    let until = now + lease;
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    // On PostgreSQL the skipped hosts are one array parameter after the
    // three fixed ones, so the statement's text does not change with their
    // number.
    let skip = match (skip_hosts.is_empty(), postgres) {
        (true, _) => String::new(),
        (false, true) => " AND peer_host <> ALL($4::text[])".to_owned(),
        (false, false) => format!(
            " AND peer_host NOT IN ({})",
            vec!["?"; skip_hosts.len()].join(", ")
        ),
    };
    let sql = if postgres {
        format!(
            // `= ANY(ARRAY(…))`, not `IN (…)`: with `IN` the planner may
            // join the claimed ids against a scan of the whole table.
            "UPDATE delivery SET claimed_until = $1 WHERE id = ANY(ARRAY(
                SELECT id FROM delivery WHERE state = 'pending' AND next_attempt_at <= $2
                  AND (claimed_until IS NULL OR claimed_until < $2){skip}
                ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED))
             RETURNING {CLAIMED_COLUMNS}"
        )
    } else {
        format!(
            "UPDATE delivery SET claimed_until = ? WHERE id IN (
                SELECT id FROM delivery WHERE state = 'pending' AND next_attempt_at <= ?
                  AND (claimed_until IS NULL OR claimed_until < ?){skip}
                ORDER BY next_attempt_at, id LIMIT ?)
             RETURNING {CLAIMED_COLUMNS}"
        )
    };
    let mut values: Vec<sea_orm::Value> = if postgres {
        vec![until.into(), now.into(), (limit as i64).into()]
    } else {
        vec![until.into(), now.into(), now.into()]
    };
    if postgres {
        if !skip_hosts.is_empty() {
            values.push(skip_hosts.to_vec().into());
        }
    } else {
        values.extend(skip_hosts.iter().map(|host| host.clone().into()));
        // SQLite's LIMIT comes after the skipped hosts.
        values.push((limit as i64).into());
    }
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut claimed = rows
        .iter()
        .map(|row| ClaimedDelivery::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING promises no order; hand the rows over in the order they were queued.
    claimed.sort_unstable_by_key(|row| row.id);
    Ok(claimed)
}

pub async fn mark_delivered(db: &impl ConnectionTrait, id: i64, status: u16) -> DbResult<()> {
    let now = Utc::now();
    delivery::ActiveModel {
        id: Set(id),
        state: Set(DeliveryState::Delivered),
        last_status: Set(Some(i32::from(status))),
        last_error: Set(None),
        claimed_until: Set(None),
        finished_at: Set(Some(now)),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Mark many rows delivered with one statement (one commit), as the
/// delivery worker gathers results that arrive close together.
pub async fn mark_many_delivered(db: &impl ConnectionTrait, ids: &[i64], status: u16) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    delivery::Entity::update_many()
        .col_expr(delivery::Column::State, DeliveryState::Delivered.as_str().into())
        .col_expr(delivery::Column::LastStatus, i32::from(status).into())
        .col_expr(delivery::Column::LastError, Option::<String>::None.into())
        .col_expr(
            delivery::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(delivery::Column::FinishedAt, Some(Utc::now()).into())
        .filter(super::id_among(
            db.get_database_backend(),
            delivery::Column::Id,
            ids,
        ))
        .exec(db)
        .await?;
    Ok(())
}

/// Record a failed attempt: `retry_at` schedules another, `None` makes it final.
pub async fn mark_attempt_failed(
    db: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    status: Option<u16>,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> DbResult<()> {
    let mut row = delivery::ActiveModel {
        id: Set(id),
        attempts: Set(attempts),
        last_status: Set(status.map(i32::from)),
        last_error: Set(Some(error.chars().take(1000).collect())),
        claimed_until: Set(None),
        ..Default::default()
    };
    match retry_at {
        Some(at) => row.next_attempt_at = Set(at),
        None => {
            row.state = Set(DeliveryState::Failed);
            row.finished_at = Set(Some(Utc::now()));
        }
    }
    row.update(db).await?;
    Ok(())
}

/// Give claimed rows back in one statement, due again after `pause`.
pub async fn postpone_many(db: &impl ConnectionTrait, ids: &[i64], pause: Duration) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(delivery::Column::NextAttemptAt, (Utc::now() + pause).into())
        .filter(super::id_among(
            db.get_database_backend(),
            delivery::Column::Id,
            ids,
        ))
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// Make every pending delivery to `host` due now (the peer showed it is back).
pub async fn retry_now_for_host(db: &impl ConnectionTrait, host: &str) -> DbResult<u64> {
    let result = delivery::Entity::update_many()
        .col_expr(delivery::Column::NextAttemptAt, Utc::now().into())
        .filter(delivery::Column::PeerHost.eq(host))
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Deliveries per peer and state, for the admin view and the metrics.
#[derive(Debug, Clone, FromQueryResult, serde::Serialize)]
pub struct PeerQueueRow {
    pub peer_host: String,
    pub state: DeliveryState,
    pub count: i64,
}

pub async fn queue_by_peer(db: &impl ConnectionTrait) -> DbResult<Vec<PeerQueueRow>> {
    Ok(delivery::Entity::find()
        .select_only()
        .column(delivery::Column::PeerHost)
        .column(delivery::Column::State)
        .column_as(delivery::Column::Id.count(), "count")
        .group_by(delivery::Column::PeerHost)
        .group_by(delivery::Column::State)
        .order_by_asc(delivery::Column::PeerHost)
        .into_model::<PeerQueueRow>()
        .all(db)
        .await?)
}

pub async fn count_pending(db: &impl ConnectionTrait) -> DbResult<u64> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .count(db)
        .await?)
}
