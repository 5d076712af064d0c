use crate::{
    DbResult,
    entities::{Role, user},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: Role,
    pub approved: bool,
}

pub async fn insert(db: &impl ConnectionTrait, new: NewUser<'_>) -> DbResult<user::Model> {
    Ok(user::ActiveModel {
        username: Set(new.username.to_owned()),
        email: Set(new.email.map(str::to_owned)),
        password_hash: Set(new.password_hash.to_owned()),
        role: Set(new.role),
        approved: Set(new.approved),
        suspended: Set(false),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn by_username(db: &impl ConnectionTrait, username: &str) -> DbResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?)
}

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

pub async fn all(db: &impl ConnectionTrait) -> DbResult<Vec<user::Model>> {
    Ok(user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?)
}

pub async fn count_active(db: &impl ConnectionTrait) -> DbResult<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::Approved.eq(true))
        .filter(user::Column::Suspended.eq(false))
        .count(db)
        .await?)
}

pub async fn set_role(db: &impl ConnectionTrait, id: i64, role: Role) -> DbResult<()> {
    user::ActiveModel {
        id: Set(id),
        role: Set(role),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

pub async fn set_approved(db: &impl ConnectionTrait, id: i64, approved: bool) -> DbResult<()> {
    user::ActiveModel {
        id: Set(id),
        approved: Set(approved),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

pub async fn set_suspended(db: &impl ConnectionTrait, id: i64, suspended: bool) -> DbResult<()> {
    user::ActiveModel {
        id: Set(id),
        suspended: Set(suspended),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}
