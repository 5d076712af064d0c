//! An adoption as it travels: an object of our type `Adoption` (see
//! docs/garden-context.md) inside a `Create`. `object` names the garden item
//! adopted, `content` the context, `outcome` what came of it, `story` and
//! `measuredBy` the story and metrics that tell it.

use crate::{
    FederationError,
    objects::{
        garden_item::{ApPlace, context_value},
        id_of,
    },
};
use chrono::{DateTime, Utc};
use healthcommons_db::entities::{actor, adoption, garden_item};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApAdoption {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    /// Always `Adoption`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Url,
    pub attributed_to: Url,
    /// The garden item adopted.
    pub object: Url,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    /// Where and how it was adopted (HTML).
    #[serde(default)]
    pub content: String,
    /// What came of it (HTML).
    #[serde(default)]
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<Url>,
    #[serde(default, deserialize_with = "ids_of", skip_serializing_if = "Vec::is_empty")]
    pub measured_by: Vec<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<ApPlace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
}

fn ids_of<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Url>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Array(items)) => items.iter().filter_map(id_of).collect(),
        Some(other) => id_of(&other).into_iter().collect(),
        None => Vec::new(),
    })
}

/// True when a Create carries an adoption.
pub fn is_adoption_object(object: &Value) -> bool {
    object.get("type").and_then(Value::as_str) == Some("Adoption")
}

/// A local adoption on the wire, addressed as the item it adopts is (an
/// adoption of a members-only item stays among its group's members).
pub fn adoption_json(
    row: &adoption::Model,
    item: &garden_item::Model,
    group: Option<&actor::Model>,
    adopter: &actor::Model,
) -> Result<ApAdoption, FederationError> {
    let (to, cc) = super::addressing(item.visibility, adopter, group, vec![])?;
    let metrics: Vec<String> = serde_json::from_str(&row.metrics).unwrap_or_default();
    let place = (row.place_name.is_some() || row.latitude.is_some()).then(|| ApPlace {
        kind: "Place".into(),
        name: row.place_name.clone().unwrap_or_default(),
        latitude: row.latitude,
        longitude: row.longitude,
    });
    let measured_by = metrics
        .iter()
        .map(|m| Url::parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApAdoption {
        context: context_value(),
        kind: "Adoption".into(),
        id: Url::parse(&row.ap_id)?,
        attributed_to: Url::parse(&adopter.ap_id)?,
        object: Url::parse(&item.ap_id)?,
        to,
        cc,
        content: row.context_html.clone(),
        outcome: row.outcome_html.clone(),
        story: row.story.as_deref().map(Url::parse).transpose()?,
        measured_by,
        location: place,
        published: Some(row.created_at),
    })
}
