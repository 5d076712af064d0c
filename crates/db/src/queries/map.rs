//! What has a place, for the map.

use crate::{
    DbResult,
    entities::{actor, event, garden_item, group_settings},
    queries::{
        audience::ReadScope,
        events::{self, not_over},
        garden,
    },
};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;

/// Working groups, here and on other nodes, whose settings give coordinates.
pub async fn groups_with_places(
    db: &impl ConnectionTrait,
) -> DbResult<Vec<(actor::Model, group_settings::Model)>> {
    let mut settings: HashMap<i64, group_settings::Model> = group_settings::Entity::find()
        .filter(group_settings::Column::Latitude.is_not_null())
        .filter(group_settings::Column::Longitude.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.actor_id, s))
        .collect();
    let groups = actor::Entity::find()
        .filter(actor::Column::Id.is_in(settings.keys().copied()))
        .order_by_asc(actor::Column::Id)
        .all(db)
        .await?;
    Ok(groups
        .into_iter()
        .filter_map(|group| {
            let place = settings.remove(&group.id)?;
            Some((group, place))
        })
        .collect())
}

/// Published garden items of one kind (`story`, …) that have coordinates.
pub async fn garden_items_with_places(
    db: &impl ConnectionTrait,
    scope: &ReadScope,
    kind: healthcommons_core::garden::Kind,
) -> DbResult<Vec<garden_item::Model>> {
    Ok(garden_item::Entity::find()
        .filter(garden::scope_of(db.get_database_backend(), scope))
        .filter(garden_item::Column::Kind.eq(kind))
        .filter(garden_item::Column::Status.eq(healthcommons_core::garden::ItemStatus::Published))
        .filter(garden_item::Column::DeletedAt.is_null())
        .filter(garden_item::Column::Latitude.is_not_null())
        .filter(garden_item::Column::Longitude.is_not_null())
        .order_by_asc(garden_item::Column::Id)
        .all(db)
        .await?)
}

/// Events not yet over and not cancelled that have coordinates, whatever
/// their number (the filter is in the query, not after a list's limit).
pub async fn events_with_places(
    db: &impl ConnectionTrait,
    scope: &ReadScope,
    from: DateTime<Utc>,
) -> DbResult<Vec<event::Model>> {
    Ok(event::Entity::find()
        .filter(events::scope_of(db, scope))
        .filter(event::Column::DeletedAt.is_null())
        .filter(event::Column::Status.ne(healthcommons_core::event::EventStatus::Cancelled))
        .filter(event::Column::Latitude.is_not_null())
        .filter(event::Column::Longitude.is_not_null())
        .filter(not_over(from))
        .order_by_asc(event::Column::StartsAt)
        .all(db)
        .await?)
}
