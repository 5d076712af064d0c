//! Browser sessions and API tokens. Only SHA-256 hashes of secrets are stored.

use crate::{
    DbResult,
    entities::{actor, api_token, session, user},
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, sea_query::SelectStatement,
};

pub async fn insert_session(
    db: &impl ConnectionTrait,
    token_hash: &str,
    user_id: i64,
    expires_at: DateTime<Utc>,
) -> DbResult<()> {
    session::ActiveModel {
        token_hash: Set(token_hash.to_owned()),
        user_id: Set(user_id),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn delete_session(db: &impl ConnectionTrait, token_hash: &str) -> DbResult<()> {
    session::Entity::delete_by_id(token_hash.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_api_token(db: &impl ConnectionTrait, token_hash: &str, user_id: i64) -> DbResult<()> {
    api_token::ActiveModel {
        token_hash: Set(token_hash.to_owned()),
        user_id: Set(user_id),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The user of a live session and their person actor, in one query (every
/// signed-in page and API call starts with this).
pub async fn session_account(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> DbResult<Option<(user::Model, actor::Model)>> {
    let user_ids = session::Entity::find()
        .select_only()
        .column(session::Column::UserId)
        .filter(session::Column::TokenHash.eq(token_hash))
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .into_query();
    account_of(db, user_ids).await
}

/// The user of an API token and their person actor, in one query.
pub async fn api_token_account(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> DbResult<Option<(user::Model, actor::Model)>> {
    let user_ids = api_token::Entity::find()
        .select_only()
        .column(api_token::Column::UserId)
        .filter(api_token::Column::TokenHash.eq(token_hash))
        .into_query();
    account_of(db, user_ids).await
}

/// Give a user a new private calendar key (by its hash), replacing any old one.
pub async fn set_calendar_key(db: &impl ConnectionTrait, user_id: i64, key_hash: &str) -> DbResult<()> {
    user::ActiveModel {
        id: Set(user_id),
        calendar_key_hash: Set(Some(key_hash.to_owned())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// The user of a private calendar key and their person actor.
pub async fn calendar_key_account(
    db: &impl ConnectionTrait,
    key_hash: &str,
) -> DbResult<Option<(user::Model, actor::Model)>> {
    let user_ids = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::CalendarKeyHash.eq(key_hash))
        .into_query();
    account_of(db, user_ids).await
}

async fn account_of(
    db: &impl ConnectionTrait,
    user_ids: SelectStatement,
) -> DbResult<Option<(user::Model, actor::Model)>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.in_subquery(user_ids))
        .find_also_related(actor::Entity)
        .filter(actor::Column::Kind.eq(crate::entities::ActorKind::Person))
        .one(db)
        .await?
        .and_then(|(user, person)| Some((user, person?))))
}
