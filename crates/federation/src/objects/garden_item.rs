//! Garden items as they travel: a `Note` marked by `gardenKind`, whose
//! structured parts use our own JSON-LD terms (see docs/garden-context.md).
//! `content` carries the whole item as HTML with its title first and a link
//! to its page last, which is what Mastodon-API servers and Lemmy show (a
//! Note's `name` or `summary` would fold it on GoToSocial, and Mastodon shows
//! only the title and link of an `Article`); `title`, `abstract` and the
//! other extension terms carry each part as text or markdown so another
//! Health Commons node can edit and fork it. `Article`s from nodes before
//! this, with `name` and `summary`, are read too.

use crate::{
    FederationError, RequestData,
    context::FederationContext,
    objects::actor::DbActor,
    objects::post::{is_public, received_visibility},
    publisher::AS_CONTEXT,
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Object};
use chrono::{DateTime, Utc};
use healthcommons_core::{
    garden::{Content, Kind, Place, Relation, RelationKind, Resource},
    text::escape_html,
};
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{entities::garden_item, queries};
use healthcommons_service::garden::{Origin, RemoteItem, StoredItem};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use url::Url;

/// The vocabulary IRI of our terms. It is the same on every node; each node
/// also serves the context document at `/ns/garden`.
pub const GARDEN_NS: &str = "https://w3id.org/healthcommons/ns#";

/// Wire names of each kind's long fields (`context` would collide with
/// ActivityStreams' own term, so a pattern's context is `patternContext`).
fn wire_name(field: &str) -> &str {
    match field {
        "context" => "patternContext",
        other => other,
    }
}

fn relation_term(kind: RelationKind) -> &'static str {
    match kind {
        RelationKind::Complements => "complements",
        RelationKind::AlternativeTo => "alternativeTo",
        RelationKind::PartOf => "partOf",
        RelationKind::Evaluates => "evaluates",
        RelationKind::Applies => "applies",
        RelationKind::MeasuredBy => "measuredBy",
    }
}

/// The JSON-LD context of our terms, as embedded in every garden object and
/// served at `/ns/garden`.
pub fn garden_context() -> Value {
    let mut terms = serde_json::Map::new();
    terms.insert("hc".into(), json!(GARDEN_NS));
    terms.insert("xsd".into(), json!("http://www.w3.org/2001/XMLSchema#"));
    terms.insert("gardenKind".into(), json!("hc:gardenKind"));
    terms.insert("title".into(), json!("hc:title"));
    terms.insert("abstract".into(), json!("hc:abstract"));
    terms.insert(
        "revision".into(),
        json!({"@id": "hc:revision", "@type": "xsd:integer"}),
    );
    terms.insert("revisionMessage".into(), json!("hc:revisionMessage"));
    terms.insert("license".into(), json!("hc:license"));
    terms.insert("unit".into(), json!("hc:unit"));
    terms.insert("happened".into(), json!("hc:happened"));
    for kind in Kind::ALL {
        for (field, _) in kind.fields() {
            terms.insert(wire_name(field).into(), json!(format!("hc:{field}")));
        }
    }
    terms.insert(
        "resources".into(),
        json!({"@id": "hc:resources", "@container": "@set"}),
    );
    for kind in RelationKind::ALL {
        let term = relation_term(kind);
        terms.insert(
            term.into(),
            json!({"@id": format!("hc:{term}"), "@type": "@id", "@container": "@set"}),
        );
    }
    terms.insert(
        "forkedFrom".into(),
        json!({"@id": "hc:forkedFrom", "@type": "@id"}),
    );
    terms.insert(
        "provenance".into(),
        json!({"@id": "hc:provenance", "@container": "@list"}),
    );
    terms.insert("Adoption".into(), json!("hc:Adoption"));
    terms.insert("outcome".into(), json!("hc:outcome"));
    terms.insert("story".into(), json!({"@id": "hc:story", "@type": "@id"}));
    Value::Object(terms)
}

/// `@context` of every garden object we send.
pub fn context_value() -> Value {
    json!([AS_CONTEXT, garden_context()])
}

/// A stored garden item with its id parsed once.
#[derive(Debug, Clone)]
pub struct DbGardenItem {
    pub row: garden_item::Model,
    id: Url,
}

impl DbGardenItem {
    pub fn new(row: garden_item::Model) -> Result<Self, FederationError> {
        let id = Url::parse(&row.ap_id)?;
        Ok(DbGardenItem { row, id })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApResource {
    #[serde(rename = "type", default = "link_type")]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    pub href: String,
}

fn link_type() -> String {
    "Link".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApOrigin {
    pub id: Url,
    pub revision: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApPlace {
    #[serde(rename = "type", default = "place_type")]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
}

fn place_type() -> String {
    "Place".into()
}

impl From<&Place> for ApPlace {
    fn from(place: &Place) -> Self {
        ApPlace {
            kind: place_type(),
            name: place.name.clone(),
            latitude: place.latitude,
            longitude: place.longitude,
        }
    }
}

impl From<ApPlace> for Place {
    fn from(place: ApPlace) -> Self {
        Place {
            name: place.name,
            latitude: place.latitude,
            longitude: place.longitude,
        }
    }
}

/// A garden item on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApGardenItem {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    /// Always `Article`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: ObjectId<DbGardenItem>,
    pub attributed_to: Url,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Url>,
    /// Read from `Article`s sent before garden items were Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "abstract", default, skip_serializing_if = "Option::is_none")]
    pub abstract_text: Option<String>,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The item below its title as markdown, which Lemmy takes as the body
    /// (the title it takes from the first line of `content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::objects::post::Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "crate::objects::post::tags_of",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tag: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<ApPlace>,
    /// `pattern`, `metric` or `story`: what makes an Article a garden item.
    pub garden_kind: Kind,
    pub revision: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_message: Option<String>,
    pub license: String,
    /// The long parts (by wire name), markdown.
    #[serde(flatten)]
    pub parts: BTreeMap<String, Value>,
}

/// True when a Create or Update carries one of our garden items.
pub fn is_garden_object(object: &Value) -> bool {
    object.get("gardenKind").is_some()
}

impl ApGardenItem {
    /// The item's content as its author wrote it. Parts not understood are ignored.
    pub fn content(&self) -> Content {
        let mut fields = BTreeMap::new();
        for (field, _) in self.garden_kind.fields() {
            if let Some(Value::String(text)) = self.parts.get(wire_name(field)) {
                fields.insert((*field).to_owned(), text.clone());
            }
        }
        let text_part = |name: &str| self.parts.get(name).and_then(Value::as_str).map(str::to_owned);
        let resources = self
            .parts
            .get("resources")
            .and_then(|r| serde_json::from_value::<Vec<ApResource>>(r.clone()).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|r| Resource {
                title: r.name,
                href: r.href,
            })
            .collect();
        let mut relations = Vec::new();
        for kind in RelationKind::ALL {
            if let Some(targets) = self.parts.get(relation_term(kind)) {
                let targets = match targets {
                    Value::Array(items) => items.iter().filter_map(super::id_of).collect(),
                    other => super::id_of(other).into_iter().collect::<Vec<_>>(),
                };
                relations.extend(targets.into_iter().map(|target| Relation {
                    kind,
                    target: target.to_string(),
                }));
            }
        }
        let tags = self
            .tag
            .iter()
            .filter(|t| t.get("type").and_then(Value::as_str) == Some("Hashtag"))
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .map(|n| n.trim_start_matches('#').to_owned())
            .collect();
        Content {
            title: self
                .title
                .clone()
                .or_else(|| self.name.clone())
                .unwrap_or_default(),
            summary: self
                .abstract_text
                .clone()
                .or_else(|| self.summary.clone())
                .unwrap_or_default(),
            fields,
            unit: text_part("unit"),
            happened: text_part("happened"),
            resources,
            relations,
            tags,
            license: self.license.clone(),
            place: self.location.clone().map(Place::from),
        }
    }

    /// The chain of forks this item came from, oldest first.
    pub fn provenance(&self) -> Vec<Origin> {
        self.parts
            .get("provenance")
            .and_then(|p| serde_json::from_value::<Vec<ApOrigin>>(p.clone()).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|o| Origin {
                id: o.id.to_string(),
                revision: o.revision,
            })
            .collect()
    }
}

/// A local item as an `Article`. Takes any connection so a publisher can
/// build it inside the transaction that wrote the item.
pub async fn article_of(
    db: &impl ConnectionTrait,
    urls: &healthcommons_service::urls::NodeUrls,
    row: &garden_item::Model,
) -> Result<ApGardenItem, FederationError> {
    let kind = row.kind;
    let content = healthcommons_service::garden::parse_content(row)?;
    let author = match row.author_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    }
    .ok_or(FederationError::NotFound)?;
    let group = match row.group_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    };
    let revision = queries::garden::revision(db, row.id, row.revision).await?;
    let mut parts = BTreeMap::new();
    for (field, text) in &content.fields {
        parts.insert(wire_name(field).to_owned(), json!(text));
    }
    if let Some(unit) = &content.unit {
        parts.insert("unit".into(), json!(unit));
    }
    if let Some(happened) = &content.happened {
        parts.insert("happened".into(), json!(happened));
    }
    if !content.resources.is_empty() {
        let resources: Vec<ApResource> = content
            .resources
            .iter()
            .map(|r| ApResource {
                kind: link_type(),
                name: r.title.clone(),
                href: r.href.clone(),
            })
            .collect();
        parts.insert("resources".into(), serde_json::to_value(resources)?);
    }
    for kind in RelationKind::ALL {
        let targets: Vec<&str> = content
            .relations
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.target.as_str())
            .collect();
        if !targets.is_empty() {
            parts.insert(relation_term(kind).into(), json!(targets));
        }
    }
    let provenance: Vec<Origin> = serde_json::from_str(&row.provenance).unwrap_or_default();
    if let Some(parent) = provenance.last() {
        parts.insert("forkedFrom".into(), json!(parent.id));
        parts.insert("provenance".into(), serde_json::to_value(&provenance)?);
    }
    let group_id = group.as_ref().map(|g| Url::parse(&g.ap_id)).transpose()?;
    let (to, cc) = super::addressing(row.visibility, &author, group.as_ref(), vec![])?;
    Ok(ApGardenItem {
        context: context_value(),
        kind: "Note".into(),
        id: Url::parse(&row.ap_id)?.into(),
        attributed_to: Url::parse(&author.ap_id)?,
        to,
        cc,
        audience: group_id,
        name: None,
        summary: None,
        title: Some(content.title.clone()),
        abstract_text: Some(content.summary.clone()),
        content: readable_content(&content.title, row),
        source: Some(crate::objects::post::Source {
            content: match &row.url {
                Some(page) => format!("{}\n<{page}>\n", content.body_markdown(kind)),
                None => content.body_markdown(kind),
            },
            media_type: "text/markdown".into(),
        }),
        media_type: Some("text/html".into()),
        url: row.url.as_deref().map(Url::parse).transpose()?,
        published: Some(row.published),
        updated: row.updated_at,
        tag: content
            .tags
            .iter()
            .map(|t| json!({"type": "Hashtag", "name": format!("#{t}"), "href": urls.tag(t)}))
            .collect(),
        location: content.place.as_ref().map(ApPlace::from),
        garden_kind: kind,
        revision: row.revision,
        revision_message: revision.map(|r| r.message),
        license: content.license.clone(),
        parts,
    })
}

/// The item as a status: its title in bold, the item, and its page.
fn readable_content(title: &str, row: &garden_item::Model) -> String {
    let mut html = format!(
        "<p><strong>{}</strong></p>{}",
        escape_html(title),
        row.content_html
    );
    if let Some(page) = &row.url {
        let page = escape_html(page);
        html.push_str(&format!("<p><a href=\"{page}\">{page}</a></p>"));
    }
    html
}

#[async_trait::async_trait]
impl Object for DbGardenItem {
    type DataType = FederationContext;
    type Kind = ApGardenItem;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    // Items change through Update activities; upstream checks fetch on purpose.
    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        None
    }

    async fn read_from_id(object_id: Url, data: &RequestData) -> Result<Option<Self>, Self::Error> {
        queries::garden::by_ap_id(&data.db, object_id.as_str())
            .await?
            .map(DbGardenItem::new)
            .transpose()
    }

    async fn into_json(self, data: &RequestData) -> Result<ApGardenItem, Self::Error> {
        article_of(&data.db, &data.node.urls, &self.row).await
    }

    async fn verify(
        json: &ApGardenItem,
        expected_domain: &Url,
        _data: &RequestData,
    ) -> Result<(), Self::Error> {
        crate::objects::verify_origin(
            json.id.inner(),
            &json.attributed_to,
            expected_domain,
            "garden item",
        )?;
        if json.kind != "Note" && json.kind != "Article" {
            return Err(FederationError::Invalid(format!(
                "garden items travel as Note (or Article), not {}",
                json.kind
            )));
        }
        if !json.to.iter().chain(&json.cc).any(is_public) && json.audience.is_none() {
            return Err(FederationError::Invalid(
                "garden items are public, or published to a working group".into(),
            ));
        }
        Ok(())
    }

    async fn from_json(json: ApGardenItem, data: &RequestData) -> Result<Self, Self::Error> {
        let author = ObjectId::<DbActor>::from(json.attributed_to.clone())
            .dereference(data)
            .await?;
        let group = match &json.audience {
            Some(audience) => ObjectId::<DbActor>::from(audience.clone())
                .dereference(data)
                .await
                .ok()
                .map(|g| g.row)
                .filter(|g| g.kind == ActorKind::Group),
            None => None,
        };
        let remote = RemoteItem {
            visibility: received_visibility(&json.to, &json.cc, group.is_some()),
            ap_id: json.id.inner().to_string(),
            url: json.url.as_ref().map(Url::to_string),
            kind: json.garden_kind,
            author: author.row,
            group,
            content: json.content(),
            revision: json.revision,
            message: json.revision_message.clone(),
            provenance: json.provenance(),
            published: json.published.unwrap_or_else(Utc::now),
            updated: json.updated,
        };
        let txn = data.db.begin().await?;
        let stored = healthcommons_service::garden::store_remote(&txn, remote).await?;
        txn.commit().await?;
        match stored {
            StoredItem::Created(row) | StoredItem::Updated(row) | StoredItem::Unchanged(row) => {
                DbGardenItem::new(row)
            }
            StoredItem::AlreadyDeleted => Err(FederationError::Gone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_addressee_and_one_tag_may_come_bare_rather_than_in_arrays() {
        // Some servers send a lone `to` as a string and a lone `tag` as an
        // object; both mean a list of one.
        let item: ApGardenItem = serde_json::from_value(serde_json::json!({
            "type": "Article",
            "id": "https://beta.test/garden/1",
            "attributedTo": "https://beta.test/u/ana",
            "to": "https://www.w3.org/ns/activitystreams#Public",
            "cc": "https://beta.test/g/walkers",
            "name": "Walking buddies",
            "summary": "Pairs walk together.",
            "tag": {"type": "Hashtag", "name": "#walking", "href": "https://beta.test/tags/walking"},
            "gardenKind": "pattern",
            "revision": 1,
            "license": "CC-BY-SA-4.0"
        }))
        .expect("parses");
        assert_eq!(item.to.len(), 1);
        assert_eq!(item.cc.len(), 1);
        assert_eq!(item.tag.len(), 1);
        let sent = serde_json::to_value(&item).expect("serialises");
        assert!(
            sent["to"].is_array() && sent["cc"].is_array() && sent["tag"].is_array(),
            "{sent}"
        );
    }
}
