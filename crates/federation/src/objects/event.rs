//! Events as they travel: an ActivityStreams `Event` in Mobilizon's shape
//! (`startTime`, `endTime`, `timezone`, a schema.org `Place` with a
//! `PostalAddress`, `joinMode`, `maximumAttendeeCapacity`,
//! `participantCount`, `ical:status`), so Mobilizon shows our events and
//! lets its users join them, and Mastodon shows them as a post with a link.
//! `eventKind` (our term) says workshop, seminar, training or meeting.

use crate::{
    FederationError, RequestData,
    context::FederationContext,
    objects::{
        actor::{DbActor, host_of},
        garden_item::GARDEN_NS,
        post::{is_public, received_visibility},
    },
    publisher::AS_CONTEXT,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, protocol::verification::verify_domains_match, traits::Object,
};
use chrono::{DateTime, Utc};
use healthcommons_core::{
    event::{EventKind, EventStatus, JoinMode, place_text, when_text},
    text::escape_html,
};
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{TransactionTrait, entities::event, queries};
use healthcommons_service::{events::RemoteEvent, node::Place};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

/// Mobilizon's terms and ours, embedded in every event we send.
pub fn event_context() -> Value {
    json!([
        AS_CONTEXT,
        {
            "sc": "http://schema.org#",
            "mz": "https://joinmobilizon.org/ns#",
            "ical": "http://www.w3.org/2002/12/cal/ical#",
            "hc": GARDEN_NS,
            "timezone": {"@id": "mz:timezone", "@type": "sc:Text"},
            "isOnline": {"@id": "mz:isOnline", "@type": "sc:Boolean"},
            "joinMode": {"@id": "mz:joinMode", "@type": "mz:joinModeType"},
            "joinModeType": {"@id": "mz:joinModeType", "@type": "rdfs:Class"},
            "participantCount": {"@id": "mz:participantCount", "@type": "sc:Integer"},
            "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
            "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
            "participationMessage": {"@id": "mz:participationMessage", "@type": "sc:Text"},
            "anonymousParticipationEnabled": {"@id": "mz:anonymousParticipationEnabled", "@type": "sc:Boolean"},
            "category": "sc:category",
            "location": {"@id": "sc:location", "@type": "sc:Place"},
            "address": {"@id": "sc:address", "@type": "sc:PostalAddress"},
            "PostalAddress": "sc:PostalAddress",
            "streetAddress": "sc:streetAddress",
            "eventKind": "hc:eventKind",
            "description": "hc:description",
        }
    ])
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApEvent {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    /// Always `Event`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: ObjectId<DbEvent>,
    /// The organiser: a working group, or a person.
    #[serde(deserialize_with = "crate::objects::post::author_of")]
    pub attributed_to: Url,
    /// Who created it, when a group organises it (Mobilizon's `actor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Url>,
    #[serde(default)]
    pub name: Option<String>,
    /// What Mastodon-API servers show: when, where, the description and a
    /// link (they read none of the event's own fields).
    #[serde(default)]
    pub content: Option<String>,
    /// The description alone, for nodes that show when and where themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    pub start_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Value>,
    #[serde(default)]
    pub attachment: Vec<Value>,
    #[serde(default)]
    pub is_online: Option<bool>,
    /// Mobilizon sends 0 for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_attendee_capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_attendee_capacity: Option<i64>,
    #[serde(default)]
    pub participant_count: Option<i64>,
    #[serde(default)]
    pub join_mode: Option<String>,
    #[serde(rename = "ical:status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_kind: Option<String>,
    #[serde(default)]
    pub anonymous_participation_enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

/// True when a Create or Update carries an event.
pub fn is_event_object(object: &Value) -> bool {
    object.get("type").and_then(Value::as_str) == Some("Event")
}

impl ApEvent {
    /// Where it takes place, from a schema.org `Place` (Mobilizon puts the
    /// coordinates on the place itself or in `geo`, and the address as a
    /// `PostalAddress` or plain text).
    fn place(&self) -> Option<Place> {
        let location = self.location.as_ref()?;
        let text_at = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64);
        let address = match location.get("address") {
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(address @ Value::Object(_)) => [
                "streetAddress",
                "postalCode",
                "addressLocality",
                "addressRegion",
                "addressCountry",
            ]
            .iter()
            .map(|key| text_at(address, key))
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
            _ => String::new(),
        };
        let geo = location.get("geo").unwrap_or(location);
        Some(Place {
            name: text_at(location, "name"),
            address: Some(address).filter(|a| !a.is_empty()),
            latitude: number(geo, "latitude"),
            longitude: number(geo, "longitude"),
        })
    }

    /// The link to join online: a `Link` attachment (Mobilizon names it "Website").
    fn online_url(&self) -> Option<String> {
        self.attachment
            .iter()
            .filter(|a| a.get("type").and_then(Value::as_str) == Some("Link"))
            .find_map(|a| a.get("href").and_then(Value::as_str))
            .map(str::to_owned)
    }

    fn event_kind(&self) -> EventKind {
        self.event_kind
            .as_deref()
            .and_then(EventKind::parse)
            .or_else(|| self.category.as_deref().map(EventKind::from_mobilizon_category))
            .unwrap_or(EventKind::Meeting)
    }
}

/// A stored event with its id parsed once.
#[derive(Debug, Clone)]
pub struct DbEvent {
    pub row: event::Model,
    id: Url,
}

impl DbEvent {
    pub fn new(row: event::Model) -> Result<Self, FederationError> {
        let id = Url::parse(&row.ap_id)?;
        Ok(DbEvent { row, id })
    }
}

/// A local event on the wire: organised by its group (created by its author)
/// or by its author, public, to the organiser's followers.
pub async fn event_of(db: &impl ConnectionTrait, row: &event::Model) -> Result<ApEvent, FederationError> {
    let author = match row.author_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    };
    let group = match row.group_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    };
    let organiser = group
        .as_ref()
        .or(author.as_ref())
        .ok_or_else(|| FederationError::Invalid("an event without an organiser".into()))?;
    let (kind, status) = (row.kind, row.status);
    let location = (row.place_name.is_some() || row.address.is_some() || row.latitude.is_some()).then(|| {
        json!({
            "type": "Place",
            "name": row.place_name.clone().unwrap_or_default(),
            "address": row.address.as_ref().map(|a| json!({"type": "PostalAddress", "streetAddress": a})),
            "latitude": row.latitude,
            "longitude": row.longitude,
        })
    });
    let attachment = row
        .online_url
        .iter()
        .map(|href| json!({"type": "Link", "name": "Website", "mediaType": "text/html", "href": href}))
        .collect();
    let (to, cc) = super::addressing(
        row.visibility,
        author.as_ref().unwrap_or(organiser),
        group.as_ref(),
        vec![],
    )?;
    Ok(ApEvent {
        context: event_context(),
        kind: "Event".into(),
        id: Url::parse(&row.ap_id)?.into(),
        attributed_to: Url::parse(&organiser.ap_id)?,
        actor: match (&group, &author) {
            (Some(_), Some(author)) => Some(Url::parse(&author.ap_id)?),
            _ => None,
        },
        name: Some(row.title.clone()),
        content: Some(readable_content(row)),
        description: Some(row.description_html.clone()),
        url: row.url.as_deref().and_then(|u| Url::parse(u).ok()),
        start_time: row.starts_at,
        end_time: row.ends_at,
        timezone: row.timezone.clone(),
        location,
        attachment,
        is_online: Some(row.online_url.is_some() && row.place_name.is_none() && row.address.is_none()),
        maximum_attendee_capacity: Some(row.capacity.map(i64::from).unwrap_or(0)),
        remaining_attendee_capacity: row
            .capacity
            .map(|c| i64::from((c - row.participant_count).max(0))),
        participant_count: Some(i64::from(row.participant_count)),
        join_mode: Some(row.join_mode.as_str().to_owned()),
        status: Some(status.ical().to_owned()),
        category: Some(kind.mobilizon_category().to_owned()),
        event_kind: Some(kind.as_str().to_owned()),
        anonymous_participation_enabled: Some(false),
        to,
        cc,
        published: Some(row.published),
        updated: row.updated_at,
    })
}

/// An event as a status: when and where first, then the description, then
/// the link to its page, where one signs up.
fn readable_content(row: &event::Model) -> String {
    let mut facts = vec![format!(
        "When: {}",
        escape_html(&when_text(row.starts_at, row.ends_at, row.timezone.as_deref()))
    )];
    let place = place_text(row.place_name.as_deref(), row.address.as_deref());
    if !place.is_empty() {
        facts.push(format!("Where: {}", escape_html(&place)));
    }
    if let Some(online) = &row.online_url {
        let online = escape_html(online);
        facts.push(format!("Online: <a href=\"{online}\">{online}</a>"));
    }
    if row.status == EventStatus::Cancelled {
        facts.insert(0, "<strong>Cancelled</strong>".into());
    }
    let mut html = format!("<p>{}</p>{}", facts.join("<br>"), row.description_html);
    if let Some(page) = &row.url {
        let page = escape_html(page);
        html.push_str(&format!("<p><a href=\"{page}\">{page}</a></p>"));
    }
    html
}

#[async_trait::async_trait]
impl Object for DbEvent {
    type DataType = FederationContext;
    type Kind = ApEvent;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    // Events change through Update activities.
    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        None
    }

    async fn read_from_id(object_id: Url, data: &RequestData) -> Result<Option<Self>, Self::Error> {
        queries::events::by_ap_id(&data.db, object_id.as_str())
            .await?
            .map(DbEvent::new)
            .transpose()
    }

    async fn into_json(self, data: &RequestData) -> Result<ApEvent, Self::Error> {
        event_of(&data.db, &self.row).await
    }

    async fn verify(json: &ApEvent, expected_domain: &Url, _data: &RequestData) -> Result<(), Self::Error> {
        verify_domains_match(json.id.inner(), expected_domain)
            .map_err(|_| FederationError::Invalid("the event's id is on another host".into()))?;
        if host_of(&json.attributed_to) != host_of(json.id.inner())
            || json
                .actor
                .as_ref()
                .is_some_and(|a| host_of(a) != host_of(json.id.inner()))
        {
            return Err(FederationError::Invalid(
                "the event's organiser is on another host than the event".into(),
            ));
        }
        if json.kind != "Event" {
            return Err(FederationError::Invalid(format!("not an Event: {}", json.kind)));
        }
        if !json.to.iter().chain(&json.cc).any(is_public) && !json.to.iter().any(|t| t == &json.attributed_to)
        {
            return Err(FederationError::Invalid(
                "only public events (or events addressed to their group) are kept".into(),
            ));
        }
        Ok(())
    }

    async fn from_json(json: ApEvent, data: &RequestData) -> Result<Self, Self::Error> {
        let organiser = ObjectId::<DbActor>::from(json.attributed_to.clone())
            .dereference(data)
            .await?
            .row;
        let (author, group) = if organiser.kind == ActorKind::Group {
            let author = match &json.actor {
                Some(actor) => {
                    ObjectId::<DbActor>::from(actor.clone())
                        .dereference(data)
                        .await?
                        .row
                }
                None => organiser.clone(),
            };
            (author, Some(organiser))
        } else {
            (organiser, None)
        };
        let remote = RemoteEvent {
            visibility: received_visibility(&json.to, &json.cc, group.is_some()),
            ap_id: json.id.inner().to_string(),
            url: json.url.as_ref().map(Url::to_string),
            author,
            group,
            kind: json.event_kind(),
            title: json.name.clone().unwrap_or_default(),
            description_html: json
                .description
                .clone()
                .or_else(|| json.content.clone())
                .unwrap_or_default(),
            starts_at: json.start_time,
            ends_at: json.end_time,
            timezone: json.timezone.clone(),
            place: json.place(),
            online_url: json.online_url(),
            capacity: json
                .maximum_attendee_capacity
                .filter(|c| *c > 0)
                .and_then(|c| i32::try_from(c).ok()),
            join_mode: json
                .join_mode
                .as_deref()
                .and_then(JoinMode::parse)
                .unwrap_or(JoinMode::Free),
            status: json
                .status
                .as_deref()
                .and_then(EventStatus::parse)
                .unwrap_or(EventStatus::Confirmed),
            participant_count: json
                .participant_count
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(0),
            published: json.published.unwrap_or_else(Utc::now),
            updated: json.updated,
        };
        // The event and its participants' notifications of a change, together.
        let txn = data.db.begin().await?;
        let stored = healthcommons_service::events::store_remote(&txn, remote).await?;
        txn.commit().await?;
        DbEvent::new(stored)
    }
}
