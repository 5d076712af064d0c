//! The map: everything with a place, from this node and every node it knows.
//!
//! Each kind of thing comes from one source function; `features` gathers
//! them and drops what lives on a blocked or hidden node. A new kind (events)
//! is one more source and one more `FeatureKind`.

use crate::{
    NodeContext, ServiceResult, directory, node,
    policy::{self, Viewer},
};
use healthcommons_core::garden::Kind;
use healthcommons_db::queries::{self, audience::ReadScope};
use sea_orm::ConnectionTrait;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeatureKind {
    /// The initiative running a node.
    Initiative,
    Group,
    Event,
    Story,
}

impl FeatureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureKind::Initiative => "initiative",
            FeatureKind::Group => "group",
            FeatureKind::Event => "event",
            FeatureKind::Story => "story",
        }
    }
}

/// One point on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct MapFeature {
    pub kind: FeatureKind,
    pub name: String,
    /// Where to read more: a page on this node, or the other node's home.
    pub url: String,
    /// The node it comes from.
    pub host: String,
    pub place_name: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
}

/// Rows fetched from peers were checked when stored; this keeps a bad row
/// from ever making the GeoJSON invalid.
fn valid_point(latitude: f64, longitude: f64) -> bool {
    (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude)
}

/// This node's initiative and those in the directory.
async fn initiatives(db: &impl ConnectionTrait, ctx: &NodeContext) -> ServiceResult<Vec<MapFeature>> {
    let mut out = Vec::new();
    let own = node::profile(db, ctx).await?;
    if let Some(place) = own.location
        && let (Some(latitude), Some(longitude)) = (place.latitude, place.longitude)
    {
        out.push(MapFeature {
            kind: FeatureKind::Initiative,
            name: own.initiative_name,
            url: format!("{}/", ctx.urls.base()),
            host: ctx.domain.clone(),
            place_name: Some(place.name).filter(|n| !n.is_empty()),
            latitude,
            longitude,
        });
    }
    for peer in directory::shown_initiatives(db).await? {
        if let (Some(name), Some(latitude), Some(longitude)) =
            (peer.initiative_name, peer.latitude, peer.longitude)
        {
            out.push(MapFeature {
                kind: FeatureKind::Initiative,
                name,
                url: ctx.urls.peer_home(&peer.host),
                host: peer.host,
                place_name: peer.place_name,
                latitude,
                longitude,
            });
        }
    }
    Ok(out)
}

/// Working groups here and elsewhere whose settings give a place.
/// A members-only group is on the map only for those it keeps things among.
async fn groups(db: &impl ConnectionTrait, scope: &ReadScope) -> ServiceResult<Vec<MapFeature>> {
    Ok(queries::map::groups_with_places(db)
        .await?
        .into_iter()
        .filter(|(group, settings)| {
            policy::group_visibility(Some(settings)).is_open() || scope.includes_group(group.id)
        })
        .filter_map(|(group, place)| {
            Some(MapFeature {
                kind: FeatureKind::Group,
                name: group
                    .display_name
                    .clone()
                    .unwrap_or_else(|| group.username.clone()),
                url: group.url.clone().unwrap_or_else(|| group.ap_id.clone()),
                host: group.host,
                place_name: place.place_name,
                latitude: place.latitude?,
                longitude: place.longitude?,
            })
        })
        .collect())
}

/// Garden stories with a place, shown by their page on this node.
async fn stories(
    db: &impl ConnectionTrait,
    ctx: &NodeContext,
    scope: &ReadScope,
) -> ServiceResult<Vec<MapFeature>> {
    Ok(queries::map::garden_items_with_places(db, scope, Kind::Story)
        .await?
        .into_iter()
        .filter_map(|item| {
            let host = if item.local {
                ctx.domain.clone()
            } else {
                url::Url::parse(&item.ap_id).ok().map(|u| host_of(&u))?
            };
            Some(MapFeature {
                kind: FeatureKind::Story,
                url: ctx.urls.garden_item_page(item.id),
                name: item.title,
                host,
                place_name: item.place_name,
                latitude: item.latitude?,
                longitude: item.longitude?,
            })
        })
        .collect())
}

/// Events to come (or running) with a place, cancelled ones left out.
async fn events(
    db: &impl ConnectionTrait,
    ctx: &NodeContext,
    scope: &ReadScope,
) -> ServiceResult<Vec<MapFeature>> {
    Ok(queries::map::events_with_places(db, scope, chrono::Utc::now())
        .await?
        .into_iter()
        .filter_map(|event| {
            let host = if event.local {
                ctx.domain.clone()
            } else {
                url::Url::parse(&event.ap_id).ok().map(|u| host_of(&u))?
            };
            Some(MapFeature {
                kind: FeatureKind::Event,
                url: ctx.urls.event_page(event.id),
                name: event.title,
                host,
                place_name: event.place_name,
                latitude: event.latitude?,
                longitude: event.longitude?,
            })
        })
        .collect())
}

/// `host[:port]` of a URL, as hosts are keyed everywhere.
fn host_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// The map of where working groups and events are.
pub struct Map<'p>(pub(crate) &'p crate::Processor);

/// The way in for the pages and the API, on the processor's connections.
impl Map<'_> {
    /// Every feature `viewer` may see, by kind, then name.
    pub async fn features(&self, viewer: Viewer<'_>) -> ServiceResult<Vec<MapFeature>> {
        let db = self.0.readers();
        let ctx = self.0.node();
        let scope = policy::read_scope(db, viewer).await?;
        let mut features = Vec::new();
        features.extend(initiatives(db, ctx).await?);
        features.extend(groups(db, &scope).await?);
        features.extend(events(db, ctx, &scope).await?);
        features.extend(stories(db, ctx, &scope).await?);
        let excluded = directory::excluded_hosts(db).await?;
        features.retain(|f| !excluded.contains(&f.host) && valid_point(f.latitude, f.longitude));
        features.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ok(features)
    }
}
