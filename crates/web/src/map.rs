//! The map of initiatives, working groups and stories (`/map`, with a list
//! beside it that needs no JavaScript), its GeoJSON (RFC 7946), and the list
//! of peers this node publishes for other nodes' directories.

use crate::{
    AppState,
    auth::{MaybeApiAccount, MaybeSession, Viewer},
    error::{ApiResult, PageResult},
    pages::render,
};
use askama::Template;
use axum::{
    Json, Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
};
use healthcommons_service::map::{FeatureKind, MapFeature};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/map", get(map_page))
        .route("/api/v1/map.geojson", get(geojson))
        .route("/api/v1/directory/peers", get(peers))
}

#[derive(OpenApi)]
#[openapi(paths(geojson, peers), components(schemas(FeatureProperties)))]
pub struct MapDoc;

/// The `properties` of each point on the map. The envelope around them
/// (`FeatureCollection`, `Feature`, `Point`) is the `geojson` crate's.
#[derive(Serialize, ToSchema)]
pub struct FeatureProperties {
    /// `initiative`, `group`, `event` or `story`.
    pub kind: &'static str,
    pub name: String,
    pub url: String,
    /// The node it comes from, `host[:port]`.
    pub host: String,
    pub place: Option<String>,
}

/// A FeatureCollection of points; coordinates are `[longitude, latitude]`,
/// in that order (RFC 7946, section 3.1.1). Built field by field: the
/// crate's `FromIterator` writes `"bbox": []` (not valid GeoJSON) for an
/// empty collection.
fn to_geojson(features: Vec<MapFeature>) -> Result<::geojson::FeatureCollection, serde_json::Error> {
    let features = features
        .into_iter()
        .map(|f| {
            let properties = FeatureProperties {
                kind: f.kind.as_str(),
                name: f.name,
                url: f.url,
                host: f.host,
                place: f.place_name,
            };
            let serde_json::Value::Object(properties) = serde_json::to_value(properties)? else {
                return Err(serde::ser::Error::custom("properties are not an object"));
            };
            Ok(::geojson::Feature {
                geometry: Some(::geojson::Geometry::new_point([f.longitude, f.latitude])),
                properties: Some(properties),
                ..Default::default()
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(::geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    })
}

/// Initiatives, working groups and stories with a place, from this node and
/// the nodes in its directory (hidden and blocked nodes left out).
#[utoipa::path(get, path = "/api/v1/map.geojson",
    responses((status = 200,
               description = "RFC 7946 GeoJSON: a FeatureCollection of Points whose properties are FeatureProperties",
               body = serde_json::Value, content_type = "application/geo+json")))]
async fn geojson(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
) -> ApiResult<Response> {
    let features = state.processor.map().features(account.as_ref().into()).await?;
    let body = to_geojson(features)
        .and_then(|collection| serde_json::to_vec(&collection))
        .map_err(|e| crate::error::ApiError::new(healthcommons_core::ErrorKind::Internal, e.to_string()))?;
    Ok(([(http::header::CONTENT_TYPE, "application/geo+json")], body).into_response())
}

/// The nodes this node has dealt with directly and whose initiative it
/// knows, as `host[:port]` (hidden and blocked nodes left out). Other nodes'
/// directories read it to find peers of peers; NodeInfo links it as
/// `metadata.directoryPeers`.
#[utoipa::path(get, path = "/api/v1/directory/peers", responses((status = 200, body = Vec<String>)))]
async fn peers(State(state): State<AppState>) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(state.processor.directory().published_peers().await?))
}

struct MapLine {
    name: String,
    url: String,
    host: String,
    place: String,
    /// Not this node's: the link leaves it.
    remote: bool,
}

struct MapSection {
    id: &'static str,
    title: &'static str,
    lines: Vec<MapLine>,
}

#[derive(Template)]
#[template(path = "map.html")]
struct MapPage {
    viewer: Option<Viewer>,
    sections: Vec<MapSection>,
    /// JSON `[{lat, lon, label, href}]` for map.js.
    map_points: String,
    map_tiles: crate::MapTiles,
}

const SECTIONS: [(FeatureKind, &str, &str); 4] = [
    (FeatureKind::Initiative, "map-initiatives", "Initiatives"),
    (FeatureKind::Group, "map-groups", "Working groups"),
    (FeatureKind::Event, "map-events", "Events"),
    (FeatureKind::Story, "map-stories", "Stories"),
];

async fn map_page(State(state): State<AppState>, session: MaybeSession) -> PageResult<Response> {
    let base = state.context().node.urls.base();
    let features = state.processor.map().features(session.0.as_ref().into()).await?;
    let points: Vec<serde_json::Value> = features
        .iter()
        .map(|f| {
            serde_json::json!({
                "lat": f.latitude, "lon": f.longitude, "href": f.url,
                "label": format!("{} ({}, {})", f.name, f.kind.as_str(), f.host),
            })
        })
        .collect();
    let sections = SECTIONS
        .iter()
        .map(|(kind, id, title)| MapSection {
            id,
            title,
            lines: features
                .iter()
                .filter(|f| f.kind == *kind)
                .map(|f| MapLine {
                    name: f.name.clone(),
                    url: f.url.clone(),
                    host: f.host.clone(),
                    place: f.place_name.clone().unwrap_or_default(),
                    remote: !f.url.starts_with(&format!("{base}/")),
                })
                .collect(),
        })
        .collect();
    Ok(render(MapPage {
        viewer: Viewer::of(&session.0),
        sections,
        map_points: serde_json::Value::from(points).to_string(),
        map_tiles: state.map_tiles.clone(),
    })?
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(kind: FeatureKind, name: &str, place: Option<&str>, lon: f64, lat: f64) -> MapFeature {
        MapFeature {
            kind,
            name: name.into(),
            url: "https://alpha.test/g/walkers".into(),
            host: "alpha.test".into(),
            place_name: place.map(Into::into),
            latitude: lat,
            longitude: lon,
        }
    }

    /// The bytes the hand-written types wrote before the `geojson` crate
    /// took over: same members, same order, `place` null when unknown.
    #[test]
    fn the_geojson_document_is_written_as_before() {
        let collection = to_geojson(vec![
            feature(FeatureKind::Initiative, "Riverside \"Circle\"", None, -0.1, 51.5),
            feature(FeatureKind::Group, "Walkers", Some("The park"), 13.405, 52.52),
        ])
        .expect("serialises");
        let text = serde_json::to_string(&collection).expect("serialises");
        assert_eq!(
            text,
            concat!(
                r#"{"type":"FeatureCollection","features":["#,
                r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},"#,
                r#""properties":{"kind":"initiative","name":"Riverside \"Circle\"","#,
                r#""url":"https://alpha.test/g/walkers","host":"alpha.test","place":null}},"#,
                r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[13.405,52.52]},"#,
                r#""properties":{"kind":"group","name":"Walkers","#,
                r#""url":"https://alpha.test/g/walkers","host":"alpha.test","place":"The park"}}]}"#,
            )
        );
        assert_eq!(
            serde_json::to_string(&to_geojson(Vec::new()).expect("serialises")).expect("serialises"),
            r#"{"type":"FeatureCollection","features":[]}"#
        );
    }
}
