//! What an account does by email: checking an address (on registration and
//! on change) and resetting a forgotten password. Both work by a one-time
//! link that expires; the database keeps only the SHA-256 of its secret, and
//! each link's mail is queued in the transaction that made the link.

use crate::{
    NodeContext, ServiceError, ServiceResult,
    accounts::{self, MIN_PASSWORD_LEN, secret_hash},
    mail::{self, AddressCheck, Email, Enqueued, Message, PasswordReset},
};
use chrono::{Duration, Utc};
use healthcommons_db::{
    TransactionTrait,
    entities::user,
    queries::{self, email::RESET, email::VERIFY},
};
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// How long an address-check link works.
pub const ADDRESS_CHECK_HOURS: i64 = 24;
/// How long a password-reset link works.
pub const PASSWORD_RESET_MINUTES: i64 = 60;

/// Where an account's address stands, for its settings page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressStatus {
    pub address: Option<String>,
    pub checked: bool,
    pub bouncing: bool,
    /// An address the person asked to change to and has not confirmed yet.
    pub waiting_for: Option<String>,
}

/// What the account's email settings page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    pub status: AddressStatus,
    /// The kinds of mail the person turned off.
    pub turned_off: Vec<mail::EmailKind>,
}

/// The settings of account `user_id`, read afresh (a form may just have changed them).
pub async fn settings(db: &impl ConnectionTrait, user_id: i64) -> ServiceResult<EmailSettings> {
    let user = queries::users::by_id(db, user_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("no such account"))?;
    let turned_off = queries::email::opted_out_kinds(db, user_id)
        .await?
        .iter()
        .filter_map(|kind| mail::EmailKind::parse(kind))
        .collect();
    Ok(EmailSettings {
        status: address_status(db, &user).await?,
        turned_off,
    })
}

pub async fn address_status(db: &impl ConnectionTrait, user: &user::Model) -> ServiceResult<AddressStatus> {
    Ok(AddressStatus {
        address: user.email.clone().filter(|a| !a.is_empty()),
        checked: user.email_verified_at.is_some(),
        bouncing: user.email_bouncing_since.is_some(),
        waiting_for: queries::email::pending_address(db, user.id).await?,
    })
}

/// Send a link that confirms `address` is the person's; links sent before
/// stop working. Runs in the caller's transaction.
pub async fn start_address_check(
    db: &impl ConnectionTrait,
    node: &NodeContext,
    user_id: i64,
    address: &str,
) -> ServiceResult<Enqueued> {
    if !node.email {
        return Ok(Enqueued::Skipped(mail::Skipped::EmailOff));
    }
    queries::email::retire_tokens(db, user_id, VERIFY).await?;
    let secret = mail::new_secret();
    let expires = Utc::now() + Duration::hours(ADDRESS_CHECK_HOURS);
    queries::email::insert_token(db, &secret_hash(&secret), user_id, VERIFY, address, expires).await?;
    mail::enqueue(
        db,
        node,
        Email {
            to_user: user_id,
            message: Message::AddressCheck(AddressCheck {
                address: address.to_owned(),
                link: format!("{}/email/verify/{secret}", node.urls.base()),
                hours: ADDRESS_CHECK_HOURS,
            }),
        },
    )
    .await
}

/// What a change of address came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressChange {
    /// The address is gone; no mail goes out any more.
    Removed,
    /// A link went to the new address; the old one stays until it is opened.
    CheckSent(String),
    /// The node sends no email, so the address is kept as given, unchecked.
    Saved(String),
    Unchanged,
}

/// The person gives a new address (or an empty one to have none).
pub async fn change_address(
    db: &DatabaseConnection,
    node: &NodeContext,
    account: &accounts::Account,
    raw: &str,
) -> ServiceResult<AddressChange> {
    let user = &account.user;
    if raw.trim().is_empty() {
        let txn = db.begin().await?;
        queries::email::set_address(&txn, user.id, None, None).await?;
        queries::email::retire_tokens(&txn, user.id, VERIFY).await?;
        txn.commit().await?;
        return Ok(AddressChange::Removed);
    }
    let address = mail::parse_address(raw)?;
    let current = user.email.as_deref().map(str::to_lowercase);
    if current.as_deref() == Some(address.as_str())
        && user.email_verified_at.is_some()
        && user.email_bouncing_since.is_none()
    {
        return Ok(AddressChange::Unchanged);
    }
    if !node.email {
        queries::email::set_address(db, user.id, Some(&address), None).await?;
        return Ok(AddressChange::Saved(address));
    }
    let txn = db.begin().await?;
    start_address_check(&txn, node, user.id, &address).await?;
    txn.commit().await?;
    Ok(AddressChange::CheckSent(address))
}

/// Open an address-check link: the address it was sent to becomes the
/// account's, checked. `None` when the link is unknown, used or expired.
pub async fn confirm_address(db: &DatabaseConnection, secret: &str) -> ServiceResult<Option<String>> {
    let Some(token) = queries::email::live_token(db, &secret_hash(secret), VERIFY).await? else {
        return Ok(None);
    };
    let txn = db.begin().await?;
    if !queries::email::use_token(&txn, token.id).await? {
        return Ok(None);
    }
    queries::email::set_address(&txn, token.user_id, Some(&token.email), Some(Utc::now())).await?;
    txn.commit().await?;
    Ok(Some(token.email))
}

/// Someone forgot their password and gives a name or an address. Whether an
/// account matches or not, the answer is the same (`Ok`), so the form tells
/// nobody which names or addresses exist here.
pub async fn request_password_reset(
    db: &DatabaseConnection,
    node: &NodeContext,
    name_or_address: &str,
) -> ServiceResult<()> {
    let given = name_or_address.trim();
    if given.is_empty() || !node.email {
        return Ok(());
    }
    let users = if given.contains('@') {
        queries::email::users_by_address(db, &given.to_lowercase()).await?
    } else {
        queries::users::by_username(db, given)
            .await?
            .into_iter()
            .collect()
    };
    for user in users
        .into_iter()
        .filter(|u| u.approved && !u.suspended && u.email.as_deref().is_some_and(|a| !a.is_empty()))
    {
        let txn = db.begin().await?;
        queries::email::retire_tokens(&txn, user.id, RESET).await?;
        let secret = mail::new_secret();
        let expires = Utc::now() + Duration::minutes(PASSWORD_RESET_MINUTES);
        let address = user.email.clone().unwrap_or_default();
        queries::email::insert_token(&txn, &secret_hash(&secret), user.id, RESET, &address, expires).await?;
        mail::enqueue(
            &txn,
            node,
            Email {
                to_user: user.id,
                message: Message::PasswordReset(PasswordReset {
                    link: format!("{}/password/reset/{secret}", node.urls.base()),
                    minutes: PASSWORD_RESET_MINUTES,
                }),
            },
        )
        .await?;
        txn.commit().await?;
    }
    Ok(())
}

/// Whether a reset link can still be used (to show its form or say it cannot).
pub async fn reset_link_is_live(db: &impl ConnectionTrait, secret: &str) -> ServiceResult<bool> {
    Ok(queries::email::live_token(db, &secret_hash(secret), RESET)
        .await?
        .is_some())
}

fn link_gone() -> ServiceError {
    ServiceError::not_found("this link has expired or was already used; ask for a new one")
}

/// Choose a new password through a reset link. The link works once; every
/// session of the account ends, so whoever knew the old password is out.
/// Returns the account's name, to sign in with.
pub async fn reset_password(
    db: &DatabaseConnection,
    secret: &str,
    new_password: &str,
) -> ServiceResult<String> {
    let token = queries::email::live_token(db, &secret_hash(secret), RESET)
        .await?
        .ok_or_else(link_gone)?;
    if new_password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ServiceError::validation(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let user = queries::users::by_id(db, token.user_id)
        .await?
        .ok_or_else(link_gone)?;
    let password_hash = accounts::hash_password(new_password).await?;
    let txn = db.begin().await?;
    if !queries::email::use_token(&txn, token.id).await? {
        return Err(link_gone());
    }
    queries::email::set_password_hash(&txn, user.id, &password_hash).await?;
    queries::email::delete_sessions_of(&txn, user.id).await?;
    // The link reached the person through this address: it is theirs.
    if user.email.as_deref() == Some(token.email.as_str()) && user.email_verified_at.is_none() {
        queries::email::set_address(&txn, user.id, Some(&token.email), Some(Utc::now())).await?;
    }
    txn.commit().await?;
    Ok(user.username)
}
