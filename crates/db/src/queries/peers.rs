//! The health and standing of other nodes.

use crate::{DbResult, entities::peer};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use std::collections::HashSet;

pub async fn get(db: &impl ConnectionTrait, host: &str) -> DbResult<Option<peer::Model>> {
    Ok(peer::Entity::find_by_id(host.to_owned()).one(db).await?)
}

/// Which of `hosts` this node blocks, in one query.
pub async fn blocked_among(db: &impl ConnectionTrait, hosts: &[String]) -> DbResult<HashSet<String>> {
    if hosts.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(peer::Entity::find()
        .select_only()
        .column(peer::Column::Host)
        .filter(super::text_among(
            db.get_database_backend(),
            peer::Column::Host,
            hosts,
        ))
        .filter(peer::Column::Blocked.eq(true))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

pub async fn all(db: &impl ConnectionTrait) -> DbResult<Vec<peer::Model>> {
    Ok(peer::Entity::find()
        .order_by_asc(peer::Column::Host)
        .all(db)
        .await?)
}

/// How stale `last_success_at` and `last_seen_at` of a healthy peer may be:
/// a busy peer's row is written once a minute, not on every request.
const FRESH_ENOUGH: chrono::Duration = chrono::Duration::seconds(60);

/// A peer's row as first met: healthy, not blocked, nothing known of it.
fn first_contact(host: &str) -> peer::ActiveModel {
    peer::ActiveModel {
        host: Set(host.to_owned()),
        failing_since: Set(None),
        consecutive_failures: Set(0),
        unreachable: Set(false),
        last_success_at: Set(None),
        last_seen_at: Set(None),
        blocked: Set(false),
        software: Set(None),
        group_aware: Set(None),
        software_checked_at: Set(None),
        refusing_since: Set(None),
        last_refusal: Set(None),
    }
}

/// The peer's row, created on first contact. Reads first, so the common case
/// (a known peer) writes nothing here.
async fn known(db: &impl ConnectionTrait, host: &str) -> DbResult<peer::Model> {
    if let Some(existing) = get(db, host).await? {
        return Ok(existing);
    }
    let created = first_contact(host).insert(db).await;
    match created {
        Ok(row) => Ok(row),
        // Another worker created it between our read and our insert.
        Err(err) if crate::is_unique_violation(&err) => get(db, host)
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound(host.to_owned()).into()),
        Err(err) => Err(err.into()),
    }
}

pub async fn is_blocked(db: &impl ConnectionTrait, host: &str) -> DbResult<bool> {
    Ok(get(db, host).await?.is_some_and(|p| p.blocked))
}

pub async fn set_blocked(db: &impl ConnectionTrait, host: &str, blocked: bool) -> DbResult<()> {
    known(db, host).await?;
    peer::ActiveModel {
        host: Set(host.to_owned()),
        blocked: Set(blocked),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Record that deliveries to `hosts` succeeded, in one transaction: rows are
/// created for hosts met for the first time, and a failing peer is healthy
/// again. A healthy peer whose success is under a minute old is not
/// rewritten.
pub async fn record_successes(db: &crate::Db, hosts: &[String]) -> DbResult<()> {
    if hosts.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let txn = db.begin().await?;
    let new_rows = hosts.iter().map(|host| first_contact(host));
    peer::Entity::insert_many(new_rows)
        .on_conflict_do_nothing_on([peer::Column::Host])
        .exec(&txn)
        .await?;
    let fresh = Condition::all()
        .add(peer::Column::ConsecutiveFailures.eq(0))
        .add(peer::Column::Unreachable.eq(false))
        .add(peer::Column::FailingSince.is_null())
        .add(peer::Column::RefusingSince.is_null())
        // Not null first: a NULL comparison would make the whole test NULL,
        // and NOT NULL never matches.
        .add(peer::Column::LastSuccessAt.is_not_null())
        .add(peer::Column::LastSuccessAt.gte(now - FRESH_ENOUGH));
    peer::Entity::update_many()
        .col_expr(peer::Column::FailingSince, Option::<DateTime<Utc>>::None.into())
        .col_expr(peer::Column::ConsecutiveFailures, 0.into())
        .col_expr(peer::Column::Unreachable, false.into())
        .col_expr(peer::Column::LastSuccessAt, Some(now).into())
        .col_expr(peer::Column::RefusingSince, Option::<DateTime<Utc>>::None.into())
        .col_expr(peer::Column::LastRefusal, Option::<String>::None.into())
        .filter(super::text_among(
            txn.get_database_backend(),
            peer::Column::Host,
            hosts,
        ))
        .filter(fresh.not())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Count a failure; the peer is marked unreachable once it has failed
/// continuously since `unreachable_after` ago or earlier.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    host: &str,
    unreachable_after: chrono::Duration,
) -> DbResult<peer::Model> {
    let current = known(db, host).await?;
    let now = Utc::now();
    let failing_since: DateTime<Utc> = current.failing_since.unwrap_or(now);
    let failures = current.consecutive_failures + 1;
    Ok(peer::ActiveModel {
        host: Set(host.to_owned()),
        failing_since: Set(Some(failing_since)),
        consecutive_failures: Set(failures),
        unreachable: Set(now - failing_since >= unreachable_after),
        ..Default::default()
    }
    .update(db)
    .await?)
}

/// The peer answered a delivery with 401 or 403. Returns whether this
/// starts a run of refusals (so the caller says so once, loudly).
pub async fn record_refusal(db: &impl ConnectionTrait, host: &str, answer: &str) -> DbResult<bool> {
    let current = known(db, host).await?;
    let starts = current.refusing_since.is_none();
    peer::ActiveModel {
        host: Set(host.to_owned()),
        refusing_since: Set(Some(current.refusing_since.unwrap_or_else(Utc::now))),
        last_refusal: Set(Some(answer.chars().take(300).collect())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(starts)
}

/// The peer sent us something signed: it is alive. Returns whether it had
/// been failing (so its queue should be retried at once).
pub async fn record_seen(db: &impl ConnectionTrait, host: &str) -> DbResult<bool> {
    let current = get(db, host).await?;
    Ok(record_seen_given(db, host, current).await?.0)
}

/// [`record_seen`] with the peer's row as just read (`None`: it has none
/// yet), so a caller that already read it does not read it again. Also
/// returns the row as it now stands.
pub async fn record_seen_given(
    db: &impl ConnectionTrait,
    host: &str,
    current: Option<peer::Model>,
) -> DbResult<(bool, peer::Model)> {
    let mut current = match current {
        Some(row) => row,
        None => known(db, host).await?,
    };
    let was_failing = current.consecutive_failures > 0 || current.unreachable;
    let now = Utc::now();
    if !was_failing && current.last_seen_at.is_some_and(|at| now - at < FRESH_ENOUGH) {
        return Ok((false, current));
    }
    let mut row = peer::ActiveModel {
        host: Set(host.to_owned()),
        last_seen_at: Set(Some(now)),
        ..Default::default()
    };
    current.last_seen_at = Some(now);
    if was_failing {
        row.unreachable = Set(false);
        row.consecutive_failures = Set(0);
        row.failing_since = Set(None);
        current.unreachable = false;
        current.consecutive_failures = 0;
        current.failing_since = None;
    }
    row.update(db).await?;
    Ok((was_failing, current))
}

/// Record what software a peer runs (from its NodeInfo) and whether it
/// understands a group's `Announce{Create}`.
pub async fn record_software(
    db: &impl ConnectionTrait,
    host: &str,
    software: Option<&str>,
    group_aware: bool,
) -> DbResult<()> {
    known(db, host).await?;
    peer::ActiveModel {
        host: Set(host.to_owned()),
        software: Set(software.map(str::to_owned)),
        group_aware: Set(Some(group_aware)),
        software_checked_at: Set(Some(Utc::now())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Hosts among `hosts` known to understand a group's `Announce{Create}`.
pub async fn group_aware_among(
    db: &impl ConnectionTrait,
    hosts: Vec<String>,
) -> DbResult<std::collections::HashSet<String>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(peer::Entity::find()
        .filter(super::text_among(
            db.get_database_backend(),
            peer::Column::Host,
            &hosts,
        ))
        .filter(peer::Column::GroupAware.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.host)
        .collect())
}
