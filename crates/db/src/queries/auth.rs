//! Browser sessions and API tokens. Only SHA-256 hashes of secrets are stored.

use crate::{
    DbResult,
    entities::{api_token, session},
};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

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

/// The user id of a live session.
pub async fn session_user(db: &impl ConnectionTrait, token_hash: &str) -> DbResult<Option<i64>> {
    Ok(session::Entity::find_by_id(token_hash.to_owned())
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
        .map(|s| s.user_id))
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

pub async fn api_token_user(db: &impl ConnectionTrait, token_hash: &str) -> DbResult<Option<i64>> {
    Ok(api_token::Entity::find_by_id(token_hash.to_owned())
        .one(db)
        .await?
        .map(|t| t.user_id))
}
