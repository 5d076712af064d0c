//! Accounts: registration, passwords, roles, sessions and API tokens.

use crate::{
    NodeContext, ServiceError, ServiceResult, account_email, actors, keys, mail,
    node::{RegistrationMode, registration_mode},
};
use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use healthcommons_core::Username;
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{
    TransactionTrait,
    entities::{actor, user},
    queries,
};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sha2::{Digest, Sha256};

pub const MIN_PASSWORD_LEN: usize = 8;
pub const SESSION_DAYS: i64 = 30;

pub use healthcommons_db::entities::Role;

/// A signed-in user with their person actor.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: user::Model,
    pub person: actor::Model,
}

impl Account {
    pub fn role(&self) -> Role {
        self.user.role
    }
}

pub struct Registration<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub email: Option<&'a str>,
}

/// Where a new account stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationOutcome {
    Active,
    AwaitingApproval,
}

/// Register through the public form or API, obeying the node's policy.
pub async fn register(
    db: &DatabaseConnection,
    ctx: &NodeContext,
    form: Registration<'_>,
) -> ServiceResult<(Account, RegistrationOutcome)> {
    let mode = registration_mode(db).await?;
    let (approved, outcome) = match mode {
        RegistrationMode::Closed => {
            return Err(ServiceError::forbidden("registration on this node is closed"));
        }
        RegistrationMode::Approval => (false, RegistrationOutcome::AwaitingApproval),
        RegistrationMode::Open => (true, RegistrationOutcome::Active),
    };
    let account = create_account(db, ctx, form, Role::Member, approved).await?;
    Ok((account, outcome))
}

/// Create an account directly (admin command line), whatever the policy.
pub async fn create_account(
    db: &DatabaseConnection,
    ctx: &NodeContext,
    form: Registration<'_>,
    role: Role,
    approved: bool,
) -> ServiceResult<Account> {
    let username = Username::parse(form.username).map_err(|e| ServiceError::validation(e.to_string()))?;
    if form.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ServiceError::validation(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let email = form
        .email
        .filter(|e| !e.trim().is_empty())
        .map(mail::parse_address)
        .transpose()?;
    if queries::actors::local_by_username(db, username.as_str())
        .await?
        .is_some()
    {
        return Err(ServiceError::conflict("that name is taken"));
    }
    let password_hash = hash_password(form.password).await?;
    let keys = keys::generate().await?;

    let txn = db.begin().await?;
    let user = queries::users::insert(
        &txn,
        queries::users::NewUser {
            username: username.as_str(),
            email: email.as_deref(),
            password_hash: &password_hash,
            role,
            approved,
        },
    )
    .await
    .map_err(actors::name_taken)?;
    let person = queries::actors::insert(
        &txn,
        actors::new_row(
            ctx,
            actors::LocalActor {
                kind: ActorKind::Person,
                id: ctx.urls.person(username.as_str()),
                username: username.as_str(),
                display_name: username.as_str().to_owned(),
                summary_html: None,
                keys,
                user_id: Some(user.id),
                created_by: None,
                manually_approves_followers: false,
                with_collections: true,
            },
        ),
    )
    .await
    .map_err(actors::name_taken)?;
    if let Some(address) = &email {
        account_email::start_address_check(&txn, ctx, user.id, address).await?;
    }
    txn.commit().await?;
    Ok(Account { user, person })
}

pub(crate) async fn hash_password(password: &str) -> ServiceResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("password hashing: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("password hashing task: {e}")))?
}

async fn password_matches(password: &str, stored_hash: &str) -> bool {
    let password = password.to_owned();
    let stored_hash = stored_hash.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored_hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Check a name and password. Unknown names and wrong passwords get the same
/// answer; an account awaiting approval or suspended is refused with a reason.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    username: &str,
    password: &str,
) -> ServiceResult<Account> {
    let wrong = || ServiceError::unauthorized("wrong name or password");
    let Some(user) = queries::users::by_username(db, username.trim()).await? else {
        // Spend the same time as a real check so names cannot be probed by timing.
        let _ = hash_password(password).await;
        return Err(wrong());
    };
    if !password_matches(password, &user.password_hash).await {
        return Err(wrong());
    }
    if !user.approved {
        return Err(ServiceError::forbidden(
            "this account is awaiting approval by an admin",
        ));
    }
    if user.suspended {
        return Err(ServiceError::forbidden("this account is suspended"));
    }
    account_of_user(db, user).await
}

async fn account_of_user(db: &impl ConnectionTrait, user: user::Model) -> ServiceResult<Account> {
    let person = queries::actors::person_of_user(db, user.id)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("user {} has no person actor", user.id)))?;
    Ok(Account { user, person })
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a secret, hex: what the database keeps instead of the secret.
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn issue_api_token(db: &impl ConnectionTrait, account: &Account) -> ServiceResult<String> {
    let token = new_secret();
    queries::auth::insert_api_token(db, &secret_hash(&token), account.user.id).await?;
    Ok(token)
}

pub async fn account_for_api_token(db: &impl ConnectionTrait, token: &str) -> ServiceResult<Option<Account>> {
    let found = queries::auth::api_token_account(db, &secret_hash(token)).await?;
    Ok(found.and_then(active))
}

/// A new private calendar link key for `account`; the one before stops
/// working. Only its hash is kept, so it is shown once.
pub async fn issue_calendar_key(db: &impl ConnectionTrait, account: &Account) -> ServiceResult<String> {
    let key = new_secret();
    queries::auth::set_calendar_key(db, account.user.id, &secret_hash(&key)).await?;
    Ok(key)
}

/// Whose private calendar link `key` is, unless the account is suspended or
/// awaiting approval.
pub async fn account_for_calendar_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> ServiceResult<Option<Account>> {
    let found = queries::auth::calendar_key_account(db, &secret_hash(key)).await?;
    Ok(found.and_then(active))
}

pub async fn open_session(db: &impl ConnectionTrait, account: &Account) -> ServiceResult<String> {
    let token = new_secret();
    let expires = Utc::now() + Duration::days(SESSION_DAYS);
    queries::auth::insert_session(db, &secret_hash(&token), account.user.id, expires).await?;
    Ok(token)
}

pub async fn account_for_session(db: &impl ConnectionTrait, token: &str) -> ServiceResult<Option<Account>> {
    let found = queries::auth::session_account(db, &secret_hash(token)).await?;
    Ok(found.and_then(active))
}

/// The account of a user and person found together, unless suspended or
/// awaiting approval.
fn active((user, person): (user::Model, actor::Model)) -> Option<Account> {
    (!user.suspended && user.approved).then_some(Account { user, person })
}

pub async fn close_session(db: &impl ConnectionTrait, token: &str) -> ServiceResult<()> {
    queries::auth::delete_session(db, &secret_hash(token)).await?;
    Ok(())
}

pub async fn set_role(db: &impl ConnectionTrait, username: &str, role: Role) -> ServiceResult<()> {
    let user = queries::users::by_username(db, username)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no user named {username}")))?;
    queries::users::set_role(db, user.id, role).await?;
    Ok(())
}

/// How an account stands, as admins see it.
pub fn standing(user: &user::Model) -> &'static str {
    match (user.approved, user.suspended) {
        (_, true) => "suspended",
        (false, _) => "awaiting_approval",
        _ => "active",
    }
}

pub async fn approve(db: &impl ConnectionTrait, username: &str) -> ServiceResult<()> {
    let user = queries::users::by_username(db, username)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no user named {username}")))?;
    queries::users::set_approved(db, user.id, true).await?;
    Ok(())
}

/// An admin suspends an account (or lifts the suspension). A suspended
/// account cannot sign in, and its sessions and API tokens stop working at
/// once, so it can neither post nor send anything to other nodes.
pub async fn set_suspended(
    db: &impl ConnectionTrait,
    admin: &Account,
    username: &str,
    suspended: bool,
) -> ServiceResult<()> {
    let user = queries::users::by_username(db, username)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no user named {username}")))?;
    if user.id == admin.user.id {
        return Err(ServiceError::validation("admins cannot suspend themselves"));
    }
    queries::users::set_suspended(db, user.id, suspended).await?;
    Ok(())
}
