//! The directory of other nodes and their initiatives' profiles.

use crate::{
    DbResult,
    entities::{actor, directory_node, peer},
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::collections::BTreeSet;

pub async fn get(db: &impl ConnectionTrait, host: &str) -> DbResult<Option<directory_node::Model>> {
    Ok(directory_node::Entity::find_by_id(host.to_owned())
        .one(db)
        .await?)
}

/// Every node in the directory, nearest first.
pub async fn all(db: &impl ConnectionTrait) -> DbResult<Vec<directory_node::Model>> {
    Ok(directory_node::Entity::find()
        .order_by_asc(directory_node::Column::Hops)
        .order_by_asc(directory_node::Column::Host)
        .all(db)
        .await?)
}

/// Forget the hosts that `from` led us to and no longer lists (a node that
/// published a long list once cannot keep a directory growing), and hosts
/// whose route went through a node that is itself gone from the directory.
/// Nodes this one met itself (one hop) stay. Returns how many went.
pub async fn forget_unlisted(
    db: &impl ConnectionTrait,
    from: &str,
    still_listed: Vec<String>,
) -> DbResult<u64> {
    let unlisted = directory_node::Entity::delete_many()
        .filter(directory_node::Column::Hops.gt(1))
        .filter(directory_node::Column::LearnedFrom.eq(from))
        .filter(directory_node::Column::Host.is_not_in(still_listed))
        .exec(db)
        .await?
        .rows_affected;
    let known: Vec<String> = directory_node::Entity::find()
        .select_only()
        .column(directory_node::Column::Host)
        .into_tuple()
        .all(db)
        .await?;
    let orphaned = directory_node::Entity::delete_many()
        .filter(directory_node::Column::Hops.gt(1))
        .filter(directory_node::Column::LearnedFrom.is_not_null())
        .filter(directory_node::Column::LearnedFrom.is_not_in(known))
        .exec(db)
        .await?
        .rows_affected;
    Ok(unlisted + orphaned)
}

/// Note that `host` is `hops` away, learned through `learned_from`. A node
/// already known further away is brought nearer; returns whether it was new.
pub async fn learn(
    db: &impl ConnectionTrait,
    host: &str,
    hops: i32,
    learned_from: Option<&str>,
) -> DbResult<bool> {
    if let Some(existing) = get(db, host).await? {
        if hops < existing.hops {
            directory_node::ActiveModel {
                host: Set(host.to_owned()),
                hops: Set(hops),
                learned_from: Set(learned_from.map(str::to_owned)),
                ..Default::default()
            }
            .update(db)
            .await?;
        }
        return Ok(false);
    }
    let inserted = directory_node::ActiveModel {
        host: Set(host.to_owned()),
        hops: Set(hops),
        learned_from: Set(learned_from.map(str::to_owned)),
        hidden: Set(false),
        initiative_name: Set(None),
        description: Set(None),
        place_name: Set(None),
        place_address: Set(None),
        latitude: Set(None),
        longitude: Set(None),
        topics: Set("[]".into()),
        website: Set(None),
        contact: Set(None),
        software: Set(None),
        first_seen_at: Set(Utc::now()),
        fetched_at: Set(None),
        attempted_at: Set(None),
        failures: Set(0),
        last_error: Set(None),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        // Learned at the same moment from another list.
        Err(err) if crate::is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// A node's profile as fetched from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchedProfile {
    pub initiative_name: Option<String>,
    pub description: Option<String>,
    pub place_name: Option<String>,
    pub place_address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// JSON array.
    pub topics: String,
    pub website: Option<String>,
    pub contact: Option<String>,
    pub software: Option<String>,
}

pub async fn record_profile(db: &impl ConnectionTrait, host: &str, profile: FetchedProfile) -> DbResult<()> {
    let now = Utc::now();
    directory_node::ActiveModel {
        host: Set(host.to_owned()),
        initiative_name: Set(profile.initiative_name),
        description: Set(profile.description),
        place_name: Set(profile.place_name),
        place_address: Set(profile.place_address),
        latitude: Set(profile.latitude),
        longitude: Set(profile.longitude),
        topics: Set(profile.topics),
        website: Set(profile.website),
        contact: Set(profile.contact),
        software: Set(profile.software),
        fetched_at: Set(Some(now)),
        attempted_at: Set(Some(now)),
        failures: Set(0),
        last_error: Set(None),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// A fetch failed; what was fetched before stays.
pub async fn record_failure(db: &impl ConnectionTrait, host: &str, error: &str) -> DbResult<()> {
    let Some(current) = get(db, host).await? else {
        return Ok(());
    };
    directory_node::ActiveModel {
        host: Set(host.to_owned()),
        attempted_at: Set(Some(Utc::now())),
        failures: Set(current.failures.saturating_add(1)),
        last_error: Set(Some(error.chars().take(500).collect())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Hide a node from the map, or show it again. Returns false when the
/// directory does not know the host.
pub async fn set_hidden(db: &impl ConnectionTrait, host: &str, hidden: bool) -> DbResult<bool> {
    if get(db, host).await?.is_none() {
        return Ok(false);
    }
    directory_node::ActiveModel {
        host: Set(host.to_owned()),
        hidden: Set(hidden),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(true)
}

/// Hosts this node has dealt with directly: those of remote actors it has
/// stored, and peers that sent it something signed or took a delivery.
pub async fn hosts_met(db: &impl ConnectionTrait) -> DbResult<BTreeSet<String>> {
    let mut hosts: BTreeSet<String> = actor::Entity::find()
        .select_only()
        .column(actor::Column::Host)
        .distinct()
        .filter(actor::Column::Local.eq(false))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    hosts.extend(
        peer::Entity::find()
            .filter(
                Condition::any()
                    .add(peer::Column::LastSeenAt.is_not_null())
                    .add(peer::Column::LastSuccessAt.is_not_null()),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.host),
    );
    Ok(hosts)
}

/// Hosts the admin blocked.
pub async fn blocked_hosts(db: &impl ConnectionTrait) -> DbResult<BTreeSet<String>> {
    Ok(peer::Entity::find()
        .filter(peer::Column::Blocked.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.host)
        .collect())
}
