//! Email: the outgoing queue, one-time links, unsubscribe links and the
//! kinds of mail a person turned off. Like the delivery queue, rows are
//! written in the transaction of what caused them and claimed with a lease.

use crate::{
    DbResult,
    entities::{email_opt_out, email_token, email_unsubscribe, outgoing_email, session, user},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, Statement, sea_query::OnConflict,
};

/// A rendered email to queue.
pub struct NewEmail<'a> {
    pub user_id: Option<i64>,
    pub recipient: &'a str,
    pub kind: &'a str,
    pub message_id: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
    pub list_unsubscribe: Option<&'a str>,
    /// JSON, see `outgoing_email::Model::attachments`.
    pub attachments: &'a str,
}

pub async fn enqueue(db: &impl ConnectionTrait, email: NewEmail<'_>) -> DbResult<outgoing_email::Model> {
    let now = Utc::now();
    Ok(outgoing_email::ActiveModel {
        user_id: Set(email.user_id),
        recipient: Set(email.recipient.to_owned()),
        kind: Set(email.kind.to_owned()),
        message_id: Set(email.message_id.to_owned()),
        subject: Set(email.subject.to_owned()),
        text_body: Set(email.text_body.to_owned()),
        html_body: Set(email.html_body.to_owned()),
        list_unsubscribe: Set(email.list_unsubscribe.map(str::to_owned)),
        attachments: Set(email.attachments.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        failed_permanently: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Claim up to `limit` due emails for `lease`: another worker skips them
/// until the lease ends, so two workers never send the same row at once.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: Duration,
) -> DbResult<Vec<outgoing_email::Model>> {
    let now = Utc::now();
    let backend = db.get_database_backend();
    let (sql, values): (&str, Vec<sea_orm::Value>) = if backend == DbBackend::Postgres {
        (
            "UPDATE outgoing_email SET claimed_until = $1 WHERE id IN (
                SELECT id FROM outgoing_email
                 WHERE sent_at IS NULL AND NOT failed_permanently AND next_attempt_at <= $2
                   AND (claimed_until IS NULL OR claimed_until < $2)
                 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING *",
            vec![(now + lease).into(), now.into(), (limit as i64).into()],
        )
    } else {
        (
            "UPDATE outgoing_email SET claimed_until = ? WHERE id IN (
                SELECT id FROM outgoing_email
                 WHERE sent_at IS NULL AND NOT failed_permanently AND next_attempt_at <= ?
                   AND (claimed_until IS NULL OR claimed_until < ?)
                 ORDER BY next_attempt_at, id LIMIT ?)
             RETURNING *",
            vec![
                (now + lease).into(),
                now.into(),
                now.into(),
                (limit as i64).into(),
            ],
        )
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut claimed = rows
        .iter()
        .map(|row| outgoing_email::Model::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    claimed.sort_unstable_by_key(|row| row.id);
    Ok(claimed)
}

/// The SMTP server accepted the email.
pub async fn mark_sent(db: &impl ConnectionTrait, id: i64) -> DbResult<()> {
    outgoing_email::ActiveModel {
        id: Set(id),
        sent_at: Set(Some(Utc::now())),
        claimed_until: Set(None),
        last_error: Set(None),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// A failed attempt: `retry_at` schedules another, `None` gives up on the row.
pub async fn mark_attempt_failed(
    db: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> DbResult<()> {
    let mut row = outgoing_email::ActiveModel {
        id: Set(id),
        attempts: Set(attempts),
        last_error: Set(Some(error.chars().take(1000).collect())),
        claimed_until: Set(None),
        ..Default::default()
    };
    match retry_at {
        Some(at) => row.next_attempt_at = Set(at),
        None => row.failed_permanently = Set(true),
    }
    row.update(db).await?;
    Ok(())
}

/// The mail server refused `recipient` for good: every account with that
/// address is marked bouncing, and what still waits for it is dropped.
pub async fn mark_bouncing(db: &impl ConnectionTrait, recipient: &str, error: &str) -> DbResult<()> {
    let now = Utc::now();
    user::Entity::update_many()
        .col_expr(user::Column::EmailBouncingSince, Some(now).into())
        .filter(user::Column::Email.eq(recipient))
        .filter(user::Column::EmailBouncingSince.is_null())
        .exec(db)
        .await?;
    outgoing_email::Entity::update_many()
        .col_expr(outgoing_email::Column::FailedPermanently, true.into())
        .col_expr(
            outgoing_email::Column::LastError,
            Some(error.chars().take(1000).collect::<String>()).into(),
        )
        .col_expr(
            outgoing_email::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(outgoing_email::Column::Recipient.eq(recipient))
        .filter(outgoing_email::Column::SentAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Emails neither sent nor given up on.
pub async fn count_pending(db: &impl ConnectionTrait) -> DbResult<u64> {
    Ok(outgoing_email::Entity::find()
        .filter(outgoing_email::Column::SentAt.is_null())
        .filter(outgoing_email::Column::FailedPermanently.eq(false))
        .count(db)
        .await?)
}

pub async fn insert_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
    user_id: i64,
    purpose: &str,
    email: &str,
    expires_at: DateTime<Utc>,
) -> DbResult<()> {
    email_token::ActiveModel {
        token_hash: Set(token_hash.to_owned()),
        user_id: Set(user_id),
        purpose: Set(purpose.to_owned()),
        email: Set(email.to_owned()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A link of `purpose` that is neither used nor expired.
pub async fn live_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
    purpose: &str,
) -> DbResult<Option<email_token::Model>> {
    Ok(email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(token_hash))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?)
}

/// Use a link once: true for the one caller that marked it used, so two
/// clicks at the same moment cannot both use it.
pub async fn use_token(db: &impl ConnectionTrait, id: i64) -> DbResult<bool> {
    let now = Utc::now();
    let result = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Some(now).into())
        .filter(email_token::Column::Id.eq(id))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Retire the live links of `purpose` a user still has (a newer one replaces them).
pub async fn retire_tokens(db: &impl ConnectionTrait, user_id: i64, purpose: &str) -> DbResult<()> {
    email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Some(Utc::now()).into())
        .filter(email_token::Column::UserId.eq(user_id))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_unsubscribe(
    db: &impl ConnectionTrait,
    token_hash: &str,
    user_id: i64,
    kind: &str,
) -> DbResult<()> {
    email_unsubscribe::ActiveModel {
        token_hash: Set(token_hash.to_owned()),
        user_id: Set(user_id),
        kind: Set(kind.to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn unsubscribe_by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> DbResult<Option<email_unsubscribe::Model>> {
    Ok(email_unsubscribe::Entity::find_by_id(token_hash.to_owned())
        .one(db)
        .await?)
}

/// Turn off `kind` of mail for a user; doing it twice is doing it once.
pub async fn opt_out(db: &impl ConnectionTrait, user_id: i64, kind: &str) -> DbResult<()> {
    email_opt_out::Entity::insert(email_opt_out::ActiveModel {
        user_id: Set(user_id),
        kind: Set(kind.to_owned()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([email_opt_out::Column::UserId, email_opt_out::Column::Kind])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn opt_back_in(db: &impl ConnectionTrait, user_id: i64, kind: &str) -> DbResult<()> {
    email_opt_out::Entity::delete_by_id((user_id, kind.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn opted_out_kinds(db: &impl ConnectionTrait, user_id: i64) -> DbResult<Vec<String>> {
    Ok(email_opt_out::Entity::find()
        .filter(email_opt_out::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.kind)
        .collect())
}

/// Give a user a new address (or none), with when it was checked.
pub async fn set_address(
    db: &impl ConnectionTrait,
    user_id: i64,
    email: Option<&str>,
    verified_at: Option<DateTime<Utc>>,
) -> DbResult<()> {
    user::ActiveModel {
        id: Set(user_id),
        email: Set(email.map(str::to_owned)),
        email_verified_at: Set(verified_at),
        email_bouncing_since: Set(None),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Accounts whose address is `email` (addresses are not unique).
pub async fn users_by_address(db: &impl ConnectionTrait, email: &str) -> DbResult<Vec<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .all(db)
        .await?)
}

pub async fn set_password_hash(db: &impl ConnectionTrait, user_id: i64, password_hash: &str) -> DbResult<()> {
    user::ActiveModel {
        id: Set(user_id),
        password_hash: Set(password_hash.to_owned()),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Sign a user out everywhere.
pub async fn delete_sessions_of(db: &impl ConnectionTrait, user_id: i64) -> DbResult<()> {
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The address a user asked to change to and has not confirmed yet, if the
/// link is still live.
pub async fn pending_address(db: &impl ConnectionTrait, user_id: i64) -> DbResult<Option<String>> {
    Ok(email_token::Entity::find()
        .filter(email_token::Column::UserId.eq(user_id))
        .filter(email_token::Column::Purpose.eq(VERIFY))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(email_token::Column::Id)
        .one(db)
        .await?
        .map(|token| token.email))
}

/// The purposes of one-time links.
pub const VERIFY: &str = "verify";
pub const RESET: &str = "reset";
