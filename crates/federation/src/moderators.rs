//! Who moderates a working group on another node: read from the collection
//! its actor names (Lemmy's `attributedTo`, Mbin's `moderators`), so that a
//! ban, a lock or a change of moderators from one of them can be checked.

use crate::{
    FederationError, RequestData,
    objects::{
        actor::{DbActor, host_of},
        id_of,
    },
};
use activitypub_federation::fetch::object_id::ObjectId;
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{entities::actor, queries};
use url::Url;

/// More than any real group has; the rest of a longer list is ignored.
const MAX_MODERATORS: usize = 100;

/// Whether `actor` may moderate `group`: the group itself, or one of its
/// moderators. For a remote group an unknown moderator makes us read its
/// moderators collection again before refusing.
pub async fn verify_moderator(
    actor: &actor::Model,
    group: &actor::Model,
    data: &RequestData,
) -> Result<(), FederationError> {
    if actor.id == group.id || queries::groups::is_moderator(&data.db, group.id, actor.id).await? {
        return Ok(());
    }
    if !group.local {
        refresh(group, data).await?;
        if queries::groups::is_moderator(&data.db, group.id, actor.id).await? {
            return Ok(());
        }
    }
    Err(FederationError::Forbidden(format!(
        "{} does not moderate {}",
        actor.ap_id, group.ap_id
    )))
}

/// Read a remote group's moderators collection and keep what it lists.
pub async fn refresh(group: &actor::Model, data: &RequestData) -> Result<(), FederationError> {
    let url = queries::groups::settings(&data.db, group.id)
        .await?
        .and_then(|s| s.moderators_url)
        .ok_or_else(|| FederationError::Forbidden("the group publishes no moderators".into()))?;
    let url = Url::parse(&url)?;
    let items = crate::backfill::collection_items(&url, data).await?;
    let mut ids = Vec::new();
    for item in items.iter().take(MAX_MODERATORS) {
        let Some(id) = id_of(item) else { continue };
        // One moderator that cannot be fetched now keeps the list as it was.
        ids.push(ObjectId::<DbActor>::from(id).dereference(data).await?.row.id);
    }
    queries::groups::replace_moderators(&data.db, group.id, &ids).await?;
    Ok(())
}

/// The working group whose moderators collection is `target`: the collection
/// a group's actor named, or `<group id>/moderators` as Lemmy and Mbin lay it out.
pub async fn group_of_collection(
    target: &Url,
    data: &RequestData,
) -> Result<Option<actor::Model>, FederationError> {
    if let Some(settings) = queries::groups::by_moderators_url(&data.db, target.as_str()).await? {
        return Ok(queries::actors::by_id(&data.db, settings.actor_id).await?);
    }
    let Some(group_id) = target.as_str().strip_suffix("/moderators") else {
        return Ok(None);
    };
    let Ok(group_url) = Url::parse(group_id) else {
        return Ok(None);
    };
    if host_of(&group_url) != host_of(target) {
        return Ok(None);
    }
    let group = ObjectId::<DbActor>::from(group_url).dereference(data).await?;
    Ok(Some(group.row).filter(|g| g.kind == ActorKind::Group))
}

/// Whether `target` names a moderators collection rather than, say, Lemmy's
/// `featured` (pinned posts) collection.
pub async fn is_moderators_collection(target: &Url, data: &RequestData) -> Result<bool, FederationError> {
    Ok(target.path().ends_with("/moderators")
        || queries::groups::by_moderators_url(&data.db, target.as_str())
            .await?
            .is_some())
}
