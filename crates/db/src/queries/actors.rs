use crate::entities::ActorKind;
use crate::{DbResult, entities::actor};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(actor::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

/// The actor whose key has this id, if this node knows it.
pub async fn by_public_key_id(db: &impl ConnectionTrait, key_id: &str) -> DbResult<Option<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(actor::Column::PublicKeyId.eq(key_id))
        .one(db)
        .await?)
}

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<actor::Model>> {
    Ok(actor::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: Vec<i64>) -> DbResult<Vec<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(super::id_among(
            db.get_database_backend(),
            actor::Column::Id,
            &ids,
        ))
        .all(db)
        .await?)
}

/// Actors by id, keyed by id (ids repeated or unknown are fine).
pub async fn map_by_ids(
    db: &impl ConnectionTrait,
    mut ids: Vec<i64>,
) -> DbResult<std::collections::HashMap<i64, actor::Model>> {
    ids.sort_unstable();
    ids.dedup();
    Ok(by_ids(db, ids).await?.into_iter().map(|a| (a.id, a)).collect())
}

/// A local actor by its name (persons, groups and the instance actor share names).
pub async fn local_by_username(db: &impl ConnectionTrait, username: &str) -> DbResult<Option<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(actor::Column::Local.eq(true))
        .filter(actor::Column::Username.eq(username))
        .one(db)
        .await?)
}

pub async fn by_username_and_host(
    db: &impl ConnectionTrait,
    username: &str,
    host: &str,
) -> DbResult<Option<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(actor::Column::Username.eq(username))
        .filter(actor::Column::Host.eq(host))
        .one(db)
        .await?)
}

pub async fn person_of_user(db: &impl ConnectionTrait, user_id: i64) -> DbResult<Option<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(actor::Column::UserId.eq(user_id))
        .filter(actor::Column::Kind.eq(ActorKind::Person))
        .one(db)
        .await?)
}

pub async fn instance_actor(db: &impl ConnectionTrait) -> DbResult<Option<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(actor::Column::Local.eq(true))
        .filter(actor::Column::Kind.eq(ActorKind::Application))
        .one(db)
        .await?)
}

pub async fn local_groups(db: &impl ConnectionTrait) -> DbResult<Vec<actor::Model>> {
    Ok(actor::Entity::find()
        .filter(actor::Column::Local.eq(true))
        .filter(actor::Column::Kind.eq(ActorKind::Group))
        .order_by_asc(actor::Column::Username)
        .all(db)
        .await?)
}

pub async fn count_local_groups(db: &impl ConnectionTrait) -> DbResult<u64> {
    Ok(actor::Entity::find()
        .filter(actor::Column::Local.eq(true))
        .filter(actor::Column::Kind.eq(ActorKind::Group))
        .count(db)
        .await?)
}

pub async fn insert(db: &impl ConnectionTrait, row: actor::ActiveModel) -> DbResult<actor::Model> {
    Ok(row.insert(db).await?)
}

/// Insert a remote actor or refresh the stored copy (keyed by `ap_id`).
pub async fn upsert_remote(db: &impl ConnectionTrait, mut row: actor::ActiveModel) -> DbResult<actor::Model> {
    let ap_id = match &row.ap_id {
        sea_orm::ActiveValue::Set(id) | sea_orm::ActiveValue::Unchanged(id) => id.clone(),
        sea_orm::ActiveValue::NotSet => String::new(),
    };
    match by_ap_id(db, &ap_id).await? {
        Some(existing) => {
            row.id = Set(existing.id);
            row.local = Set(false);
            row.private_key_pem = Set(None);
            row.user_id = Set(None);
            Ok(row.update(db).await?)
        }
        None => Ok(row.insert(db).await?),
    }
}
