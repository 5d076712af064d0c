//! The reports queue.

use crate::entities::ReportState;
use crate::{DbResult, entities::report};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

pub struct NewReport<'a> {
    pub ap_id: &'a str,
    pub reporter_id: i64,
    pub target_id: Option<i64>,
    pub post_ids: &'a [String],
    pub group_id: Option<i64>,
    pub content: &'a str,
    pub incoming: bool,
}

/// Store a report once (by activity id); returns None for a duplicate.
pub async fn insert(db: &impl ConnectionTrait, new: NewReport<'_>) -> DbResult<Option<report::Model>> {
    if by_ap_id(db, new.ap_id).await?.is_some() {
        return Ok(None);
    }
    let row = report::ActiveModel {
        ap_id: Set(new.ap_id.to_owned()),
        reporter_id: Set(new.reporter_id),
        target_id: Set(new.target_id),
        post_ids: Set(serde_json::to_string(new.post_ids).unwrap_or_else(|_| "[]".into())),
        group_id: Set(new.group_id),
        content: Set(new.content.to_owned()),
        state: Set(ReportState::Open),
        incoming: Set(new.incoming),
        created_at: Set(Utc::now()),
        resolved_at: Set(None),
        ..Default::default()
    };
    Ok(Some(row.insert(db).await?))
}

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<report::Model>> {
    Ok(report::Entity::find()
        .filter(report::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<report::Model>> {
    Ok(report::Entity::find_by_id(id).one(db).await?)
}

/// Open reports first ("open" sorts before "resolved"), newest first; `group_ids` limits them to those groups.
pub async fn queue(db: &impl ConnectionTrait, group_ids: Option<Vec<i64>>) -> DbResult<Vec<report::Model>> {
    let mut query = report::Entity::find();
    if let Some(ids) = group_ids {
        query = query.filter(report::Column::GroupId.is_in(ids));
    }
    Ok(query
        .order_by_asc(report::Column::State)
        .order_by_desc(report::Column::CreatedAt)
        .limit(200)
        .all(db)
        .await?)
}

pub async fn resolve(db: &impl ConnectionTrait, id: i64) -> DbResult<()> {
    report::ActiveModel {
        id: Set(id),
        state: Set(ReportState::Resolved),
        resolved_at: Set(Some(Utc::now())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}
