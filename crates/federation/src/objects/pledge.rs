//! Pledges as they travel: a `Note` in reply to what the pledge is attached
//! to (an event, an agenda question or a garden item), so Mastodon users see
//! "I will …, by …" under it, with our terms `pledgeAction`, `pledgeDue`,
//! `pledgeStatus` and `backersCount` for nodes that understand pledges.
//! `audience` names the working group.

use crate::{
    FederationError, RequestData,
    context::FederationContext,
    objects::{
        actor::DbActor,
        garden_item::GARDEN_NS,
        post::{is_public, received_visibility},
        verify_origin,
    },
    publisher::AS_CONTEXT,
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Object};
use chrono::{DateTime, NaiveDate, Utc};
use healthcommons_core::pledge::PledgeStatus;
use healthcommons_db::{entities::pledge, queries};
use healthcommons_service::{
    pledges::{self, RemotePledge},
    policy::Viewer,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

/// ActivityStreams with the pledge terms.
pub fn pledge_context() -> Value {
    json!([AS_CONTEXT, {
        "hc": GARDEN_NS,
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "pledgeAction": "hc:pledgeAction",
        "pledgeStatus": "hc:pledgeStatus",
        "pledgeDue": {"@id": "hc:pledgeDue", "@type": "xsd:date"},
        "backersCount": {"@id": "hc:backersCount", "@type": "xsd:integer"},
    }])
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApPledge {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    /// Always `Note`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: ObjectId<DbPledge>,
    #[serde(deserialize_with = "crate::objects::post::author_of")]
    pub attributed_to: Url,
    /// The event, question or garden item it is attached to.
    #[serde(deserialize_with = "crate::activities::object_id")]
    pub in_reply_to: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Url>,
    /// What Mastodon shows (HTML).
    #[serde(default)]
    pub content: String,
    pub pledge_action: String,
    pub pledge_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pledge_due: Option<NaiveDate>,
    #[serde(default)]
    pub backers_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Value>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

/// True when a Create or Update carries a pledge.
pub fn is_pledge_object(object: &Value) -> bool {
    object.get("type").and_then(Value::as_str) == Some("Note") && object.get("pledgeStatus").is_some()
}

#[derive(Debug, Clone)]
pub struct DbPledge {
    pub row: pledge::Model,
    id: Url,
}

impl DbPledge {
    pub fn new(row: pledge::Model) -> Result<Self, FederationError> {
        let id = Url::parse(&row.ap_id)?;
        Ok(DbPledge { row, id })
    }
}

/// "I will …, by …" with where it stands, as Mastodon shows it
/// (`templates/pledge_content.html`; askama escapes every value).
#[derive(askama::Template)]
#[template(path = "pledge_content.html")]
struct PledgeContent<'a> {
    action: &'a str,
    /// ", by 3 December 2026", or empty.
    due: String,
    noun: &'a str,
    href: &'a str,
    title: &'a str,
    status: &'a str,
    /// " · n people count on it", or empty.
    backers: String,
}

fn content_html(row: &pledge::Model, target: &pledges::TargetRef) -> String {
    let due = row
        .due_on
        .map(|due| format!(", by {}", due.format("%-d %B %Y")))
        .unwrap_or_default();
    let backers = match row.backers_count {
        0 => String::new(),
        1 => " · 1 person counts on it".to_owned(),
        n => format!(" · {n} people count on it"),
    };
    let content = PledgeContent {
        action: &row.action,
        due,
        noun: target.kind.noun(),
        href: &target.ap_id,
        title: &target.title,
        status: row.status.label(),
        backers,
    };
    // Rendering into a String fails only if a Display impl does, and every
    // value here is a string.
    askama::Template::render(&content).unwrap_or_default()
}

/// A local pledge on the wire, from its view (who pledged, its group, what
/// it is attached to).
pub fn pledge_json(view: &pledges::PledgeView) -> Result<ApPledge, FederationError> {
    let row = &view.pledge;
    let author = view
        .author
        .as_ref()
        .ok_or_else(|| FederationError::Invalid("a pledge without its author".into()))?;
    let target = view
        .target
        .as_ref()
        .ok_or_else(|| FederationError::Invalid("a pledge attached to nothing".into()))?;
    let (to, cc) = super::addressing(row.visibility, author, view.group.as_ref(), vec![])?;
    Ok(ApPledge {
        context: pledge_context(),
        kind: "Note".into(),
        id: Url::parse(&row.ap_id)?.into(),
        attributed_to: Url::parse(&author.ap_id)?,
        in_reply_to: Url::parse(&target.ap_id)?,
        audience: view.group.as_ref().map(|g| Url::parse(&g.ap_id)).transpose()?,
        content: content_html(row, target),
        pledge_action: row.action.clone(),
        pledge_status: row.status.as_str().to_owned(),
        pledge_due: row.due_on,
        backers_count: Some(i64::from(row.backers_count)),
        url: row.url.clone().map(Value::String),
        to,
        cc,
        published: Some(row.published),
        updated: row.updated_at,
    })
}

#[async_trait::async_trait]
impl Object for DbPledge {
    type DataType = FederationContext;
    type Kind = ApPledge;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    // Status and count change through Update activities.
    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        None
    }

    async fn read_from_id(object_id: Url, data: &RequestData) -> Result<Option<Self>, Self::Error> {
        queries::pledges::by_ap_id(&data.db, object_id.as_str())
            .await?
            .map(DbPledge::new)
            .transpose()
    }

    async fn into_json(self, data: &RequestData) -> Result<ApPledge, Self::Error> {
        pledge_json(&pledges::view(&data.db, Viewer::Node, self.row.id).await?)
    }

    async fn verify(json: &ApPledge, expected_domain: &Url, _data: &RequestData) -> Result<(), Self::Error> {
        verify_origin(json.id.inner(), &json.attributed_to, expected_domain, "pledge")?;
        if PledgeStatus::parse(&json.pledge_status).is_none() {
            return Err(FederationError::Invalid(format!(
                "{:?} is not a pledge status (offered, in_progress, done, released)",
                json.pledge_status
            )));
        }
        if !json.to.iter().chain(&json.cc).any(is_public) && json.audience.is_none() {
            return Err(FederationError::Invalid(
                "only public pledges and those of a working group are kept".into(),
            ));
        }
        Ok(())
    }

    async fn from_json(json: ApPledge, data: &RequestData) -> Result<Self, Self::Error> {
        let (row, _) = store(json, data).await?;
        DbPledge::new(row)
    }
}

/// Store a pledge from another node; also returns its working group when
/// that group is ours.
pub async fn store(
    json: ApPledge,
    data: &RequestData,
) -> Result<(pledge::Model, Option<healthcommons_db::entities::actor::Model>), FederationError> {
    let author = ObjectId::<DbActor>::from(json.attributed_to.clone())
        .dereference(data)
        .await?;
    let status = PledgeStatus::parse(&json.pledge_status).ok_or_else(|| {
        FederationError::Invalid(format!("{:?} is not a pledge status", json.pledge_status))
    })?;
    let remote = RemotePledge {
        visibility: received_visibility(&json.to, &json.cc, json.audience.is_some()),
        ap_id: json.id.inner().to_string(),
        url: json
            .url
            .as_ref()
            .and_then(crate::objects::id_of)
            .map(|u| u.to_string()),
        author: author.row,
        target_ap_id: json.in_reply_to.to_string(),
        action: json.pledge_action,
        due_on: json.pledge_due,
        status,
        backers_count: json
            .backers_count
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0),
        published: json.published.unwrap_or_else(Utc::now),
        updated: json.updated,
    };
    Ok(pledges::store_remote(&data.db, remote).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_escapes_what_members_wrote() {
        let content = PledgeContent {
            action: r#"bring <script>alert(1)</script> & "cake""#,
            due: ", by 3 December 2026".into(),
            noun: "event",
            href: r#"https://alpha.test/events/1"><img src=x onerror=y>"#,
            title: "Walk <b>&</b> talk",
            status: "offered",
            backers: " · 2 people count on it".into(),
        };
        assert_eq!(
            askama::Template::render(&content).expect("renders"),
            concat!(
                "<p>I will bring &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;cake&#34;, by 3 December 2026.</p>",
                r#"<p>Pledge on the event <a href="https://alpha.test/events/1&#34;&#62;&#60;img src=x onerror=y&#62;">"#,
                "Walk &#60;b&#62;&#38;&#60;/b&#62; talk</a>: offered · 2 people count on it</p>",
            )
        );
    }
}
