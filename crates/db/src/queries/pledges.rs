//! Pledges and the people counting on them.

use crate::{
    DbResult,
    entities::{pledge, pledge_backer},
    queries::audience::ReadScope,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

/// At most this many pledges on one page.
pub const MAX_LISTED: u64 = 200;

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<pledge::Model>> {
    Ok(pledge::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<pledge::Model>> {
    Ok(pledge::Entity::find()
        .filter(pledge::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn insert(db: &impl ConnectionTrait, row: pledge::ActiveModel) -> DbResult<pledge::Model> {
    Ok(row.insert(db).await?)
}

pub async fn update(db: &impl ConnectionTrait, row: pledge::ActiveModel) -> DbResult<pledge::Model> {
    Ok(row.update(db).await?)
}

/// Which pledges to list; every filter given must hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Listing {
    pub group_id: Option<i64>,
    pub event_id: Option<i64>,
    pub question_id: Option<i64>,
    pub garden_item_id: Option<i64>,
}

/// Pledges that `scope` may read, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &ReadScope,
    listing: Listing,
) -> DbResult<Vec<pledge::Model>> {
    let mut query = pledge::Entity::find().filter(scope.condition(
        db.get_database_backend(),
        pledge::Column::Visibility,
        pledge::Column::GroupId,
        pledge::Column::AuthorId,
    ));
    for (column, value) in [
        (pledge::Column::GroupId, listing.group_id),
        (pledge::Column::EventId, listing.event_id),
        (pledge::Column::QuestionId, listing.question_id),
        (pledge::Column::GardenItemId, listing.garden_item_id),
    ] {
        if let Some(value) = value {
            query = query.filter(column.eq(value));
        }
    }
    Ok(query
        .order_by_desc(pledge::Column::Published)
        .order_by_desc(pledge::Column::Id)
        .limit(MAX_LISTED)
        .all(db)
        .await?)
}

pub async fn backer(
    db: &impl ConnectionTrait,
    pledge_id: i64,
    actor_id: i64,
) -> DbResult<Option<pledge_backer::Model>> {
    Ok(pledge_backer::Entity::find()
        .filter(pledge_backer::Column::PledgeId.eq(pledge_id))
        .filter(pledge_backer::Column::ActorId.eq(actor_id))
        .one(db)
        .await?)
}

pub async fn backer_by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<pledge_backer::Model>> {
    Ok(pledge_backer::Entity::find_by_id(id).one(db).await?)
}

/// Who counts on a pledge, earliest first.
pub async fn backers(db: &impl ConnectionTrait, pledge_id: i64) -> DbResult<Vec<pledge_backer::Model>> {
    Ok(pledge_backer::Entity::find()
        .filter(pledge_backer::Column::PledgeId.eq(pledge_id))
        .order_by_asc(pledge_backer::Column::Id)
        .all(db)
        .await?)
}

/// Which of `pledge_ids` an actor counts on.
pub async fn backed_by(
    db: &impl ConnectionTrait,
    actor_id: i64,
    pledge_ids: Vec<i64>,
) -> DbResult<Vec<pledge_backer::Model>> {
    Ok(pledge_backer::Entity::find()
        .filter(pledge_backer::Column::ActorId.eq(actor_id))
        .filter(pledge_backer::Column::PledgeId.is_in(pledge_ids))
        .all(db)
        .await?)
}

pub async fn insert_backer(
    db: &impl ConnectionTrait,
    row: pledge_backer::ActiveModel,
) -> DbResult<pledge_backer::Model> {
    Ok(row.insert(db).await?)
}

pub async fn delete_backer(db: &impl ConnectionTrait, id: i64) -> DbResult<()> {
    pledge_backer::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Count who counts on a pledge again from the rows.
pub async fn recount(db: &impl ConnectionTrait, pledge_id: i64) -> DbResult<()> {
    let backers = pledge_backer::Entity::find()
        .filter(pledge_backer::Column::PledgeId.eq(pledge_id))
        .count(db)
        .await?;
    pledge::Entity::update_many()
        .col_expr(
            pledge::Column::BackersCount,
            Expr::value(i32::try_from(backers).unwrap_or(i32::MAX)),
        )
        .filter(pledge::Column::Id.eq(pledge_id))
        .exec(db)
        .await?;
    Ok(())
}
