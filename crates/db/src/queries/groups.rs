//! Working groups' settings, moderators and bans.

use crate::{
    DbResult,
    entities::{actor, group_ban, group_settings, moderator},
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

pub async fn settings(db: &impl ConnectionTrait, group_id: i64) -> DbResult<Option<group_settings::Model>> {
    Ok(group_settings::Entity::find_by_id(group_id).one(db).await?)
}

/// Insert or replace a group's settings.
pub async fn save_settings(
    db: &impl ConnectionTrait,
    row: group_settings::Model,
) -> DbResult<group_settings::Model> {
    let exists = settings(db, row.actor_id).await?.is_some();
    let active: group_settings::ActiveModel = row.into();
    let active = sea_orm::ActiveModelTrait::reset_all(active);
    Ok(if exists {
        active.update(db).await?
    } else {
        active.insert(db).await?
    })
}

/// Everything in a group becomes members-only: what it made public before
/// it was made private stays among its members from now on.
pub async fn keep_among_members(db: &impl ConnectionTrait, group_id: i64) -> DbResult<()> {
    use crate::entities::{event, garden_item, pledge, post, question};
    members_only::<post::Entity>(db, group_id, post::Column::Visibility, post::Column::GroupId).await?;
    members_only::<event::Entity>(db, group_id, event::Column::Visibility, event::Column::GroupId).await?;
    members_only::<question::Entity>(
        db,
        group_id,
        question::Column::Visibility,
        question::Column::GroupId,
    )
    .await?;
    members_only::<pledge::Entity>(db, group_id, pledge::Column::Visibility, pledge::Column::GroupId).await?;
    members_only::<garden_item::Entity>(
        db,
        group_id,
        garden_item::Column::Visibility,
        garden_item::Column::GroupId,
    )
    .await
}

async fn members_only<E: EntityTrait>(
    db: &impl ConnectionTrait,
    group_id: i64,
    visibility: E::Column,
    group: E::Column,
) -> DbResult<()> {
    E::update_many()
        .col_expr(
            visibility,
            sea_orm::sea_query::Expr::value(crate::entities::Visibility::Members),
        )
        .filter(group.eq(group_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The groups that list `actor_id` among their moderators.
pub async fn moderated_by(db: &impl ConnectionTrait, actor_id: i64) -> DbResult<Vec<i64>> {
    Ok(moderator::Entity::find()
        .filter(moderator::Column::ActorId.eq(actor_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.group_id)
        .collect())
}

/// Which of `group_ids` list `actor_id` among their moderators.
pub async fn moderated_among(
    db: &impl ConnectionTrait,
    actor_id: i64,
    group_ids: Vec<i64>,
) -> DbResult<std::collections::HashSet<i64>> {
    if group_ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(moderator::Entity::find()
        .filter(moderator::Column::ActorId.eq(actor_id))
        .filter(super::id_among(
            db.get_database_backend(),
            moderator::Column::GroupId,
            &group_ids,
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.group_id)
        .collect())
}

pub async fn moderators(db: &impl ConnectionTrait, group_id: i64) -> DbResult<Vec<moderator::Model>> {
    Ok(moderator::Entity::find()
        .filter(moderator::Column::GroupId.eq(group_id))
        .order_by_asc(moderator::Column::AddedAt)
        .order_by_asc(moderator::Column::Id)
        .all(db)
        .await?)
}

/// A group's moderators as actors, in the order they were appointed.
pub async fn moderator_actors(db: &impl ConnectionTrait, group_id: i64) -> DbResult<Vec<actor::Model>> {
    let rows = moderators(db, group_id).await?;
    let mut actors = super::actors::map_by_ids(db, rows.iter().map(|row| row.actor_id).collect()).await?;
    Ok(rows
        .iter()
        .filter_map(|row| actors.remove(&row.actor_id))
        .collect())
}

pub async fn is_moderator(db: &impl ConnectionTrait, group_id: i64, actor_id: i64) -> DbResult<bool> {
    Ok(moderator::Entity::find()
        .filter(moderator::Column::GroupId.eq(group_id))
        .filter(moderator::Column::ActorId.eq(actor_id))
        .one(db)
        .await?
        .is_some())
}

/// Returns whether the actor was not a moderator before.
pub async fn add_moderator(db: &impl ConnectionTrait, group_id: i64, actor_id: i64) -> DbResult<bool> {
    if is_moderator(db, group_id, actor_id).await? {
        return Ok(false);
    }
    moderator::ActiveModel {
        group_id: Set(group_id),
        actor_id: Set(actor_id),
        added_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(true)
}

pub async fn remove_moderator(db: &impl ConnectionTrait, group_id: i64, actor_id: i64) -> DbResult<bool> {
    let result = moderator::Entity::delete_many()
        .filter(moderator::Column::GroupId.eq(group_id))
        .filter(moderator::Column::ActorId.eq(actor_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Replace a remote group's moderators with what its collection lists.
pub async fn replace_moderators(db: &impl ConnectionTrait, group_id: i64, actor_ids: &[i64]) -> DbResult<()> {
    moderator::Entity::delete_many()
        .filter(moderator::Column::GroupId.eq(group_id))
        .exec(db)
        .await?;
    for actor_id in actor_ids {
        add_moderator(db, group_id, *actor_id).await?;
    }
    Ok(())
}

pub async fn ban(
    db: &impl ConnectionTrait,
    group_id: i64,
    actor_id: i64,
) -> DbResult<Option<group_ban::Model>> {
    Ok(group_ban::Entity::find()
        .filter(group_ban::Column::GroupId.eq(group_id))
        .filter(group_ban::Column::ActorId.eq(actor_id))
        .one(db)
        .await?)
}

pub async fn add_ban(
    db: &impl ConnectionTrait,
    group_id: i64,
    actor_id: i64,
    ap_id: Option<&str>,
    reason: Option<&str>,
) -> DbResult<group_ban::Model> {
    if let Some(existing) = ban(db, group_id, actor_id).await? {
        return Ok(existing);
    }
    Ok(group_ban::ActiveModel {
        ap_id: Set(ap_id.map(str::to_owned)),
        group_id: Set(group_id),
        actor_id: Set(actor_id),
        reason: Set(reason.map(str::to_owned)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn remove_ban(db: &impl ConnectionTrait, group_id: i64, actor_id: i64) -> DbResult<bool> {
    let result = group_ban::Entity::delete_many()
        .filter(group_ban::Column::GroupId.eq(group_id))
        .filter(group_ban::Column::ActorId.eq(actor_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// A group's bans, oldest first.
pub async fn bans(db: &impl ConnectionTrait, group_id: i64) -> DbResult<Vec<group_ban::Model>> {
    Ok(group_ban::Entity::find()
        .filter(group_ban::Column::GroupId.eq(group_id))
        .order_by_asc(group_ban::Column::CreatedAt)
        .order_by_asc(group_ban::Column::Id)
        .all(db)
        .await?)
}

/// The remote group whose moderators collection is at `url`.
pub async fn by_moderators_url(
    db: &impl ConnectionTrait,
    url: &str,
) -> DbResult<Option<group_settings::Model>> {
    Ok(group_settings::Entity::find()
        .filter(group_settings::Column::ModeratorsUrl.eq(url))
        .one(db)
        .await?)
}
