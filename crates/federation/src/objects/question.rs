//! Agenda questions as they travel: a `Question` exactly as Mastodon sends a
//! poll (`oneOf` or `anyOf` of `Note`s with a `name` and their
//! `replies.totalItems`, `endTime`, `closed`, `votersCount`), so Mastodon
//! users see it and vote on it. `audience` names the working group.

use crate::{
    FederationError, RequestData,
    context::FederationContext,
    objects::{
        actor::DbActor,
        post::{is_public, received_visibility},
        verify_origin,
    },
    publisher::AS_CONTEXT,
};
use activitypub_federation::{fetch::object_id::ObjectId, traits::Object};
use chrono::{DateTime, Utc};
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{entities::question, queries};
use healthcommons_service::agenda::RemoteQuestion;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

/// Mastodon's `votersCount` term with ActivityStreams.
pub fn question_context() -> Value {
    json!([AS_CONTEXT, {"toot": "http://joinmastodon.org/ns#", "votersCount": "toot:votersCount"}])
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApOption {
    #[serde(rename = "type", default = "note_type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub replies: Option<Value>,
}

fn note_type() -> String {
    "Note".into()
}

impl ApOption {
    fn votes(&self) -> i32 {
        self.replies
            .as_ref()
            .and_then(|r| r.get("totalItems"))
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApQuestion {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    /// Always `Question`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: ObjectId<DbQuestion>,
    #[serde(deserialize_with = "crate::objects::post::author_of")]
    pub attributed_to: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Url>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<ApOption>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<ApOption>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Value>,
    #[serde(default)]
    pub voters_count: Option<i64>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

/// True when a Create or Update carries a question (a poll).
pub fn is_question_object(object: &Value) -> bool {
    object.get("type").and_then(Value::as_str) == Some("Question")
}

/// A vote as Mastodon sends it: a `Note` with the option as `name`, in reply
/// to the question, and no content.
pub fn vote_parts(object: &Value) -> Option<(String, Url)> {
    if object.get("type").and_then(Value::as_str) != Some("Note") {
        return None;
    }
    let has_content = object
        .get("content")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.trim().is_empty());
    let name = object.get("name").and_then(Value::as_str)?;
    let question = object.get("inReplyTo").and_then(crate::objects::id_of)?;
    (!has_content).then(|| (name.to_owned(), question))
}

#[derive(Debug, Clone)]
pub struct DbQuestion {
    pub row: question::Model,
    id: Url,
}

impl DbQuestion {
    pub fn new(row: question::Model) -> Result<Self, FederationError> {
        let id = Url::parse(&row.ap_id)?;
        Ok(DbQuestion { row, id })
    }
}

/// A local question on the wire, with its totals.
pub async fn question_of(
    db: &impl ConnectionTrait,
    row: &question::Model,
) -> Result<ApQuestion, FederationError> {
    let author = match row.author_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    }
    .ok_or_else(|| FederationError::Invalid("a question without an author".into()))?;
    let group = match row.group_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    };
    let options: Vec<ApOption> = queries::agenda::options(db, row.id)
        .await?
        .into_iter()
        .map(|o| ApOption {
            kind: note_type(),
            name: o.name,
            replies: Some(json!({"type": "Collection", "totalItems": o.votes})),
        })
        .collect();
    let (to, cc) = super::addressing(row.visibility, &author, group.as_ref(), vec![])?;
    let closed = row.closes_at.filter(|at| *at <= Utc::now());
    Ok(ApQuestion {
        context: question_context(),
        kind: "Question".into(),
        id: Url::parse(&row.ap_id)?.into(),
        attributed_to: Url::parse(&author.ap_id)?,
        audience: group.as_ref().map(|g| Url::parse(&g.ap_id)).transpose()?,
        content: Some(row.content_html.clone()),
        url: row.url.clone().map(Value::String),
        one_of: (!row.multiple).then(|| options.clone()),
        any_of: row.multiple.then_some(options),
        end_time: row.closes_at,
        closed: closed.map(|at| json!(at)),
        voters_count: Some(i64::from(row.voters_count)),
        to,
        cc,
        published: Some(row.published),
        updated: row.updated_at,
    })
}

#[async_trait::async_trait]
impl Object for DbQuestion {
    type DataType = FederationContext;
    type Kind = ApQuestion;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    // Totals change through Update activities.
    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        None
    }

    async fn read_from_id(object_id: Url, data: &RequestData) -> Result<Option<Self>, Self::Error> {
        queries::agenda::by_ap_id(&data.db, object_id.as_str())
            .await?
            .map(DbQuestion::new)
            .transpose()
    }

    async fn into_json(self, data: &RequestData) -> Result<ApQuestion, Self::Error> {
        question_of(&data.db, &self.row).await
    }

    async fn verify(
        json: &ApQuestion,
        expected_domain: &Url,
        _data: &RequestData,
    ) -> Result<(), Self::Error> {
        verify_origin(json.id.inner(), &json.attributed_to, expected_domain, "question")?;
        if json.one_of.iter().chain(&json.any_of).all(Vec::is_empty) {
            return Err(FederationError::Invalid("a question without options".into()));
        }
        if !json.to.iter().chain(&json.cc).any(is_public) && json.audience.is_none() {
            return Err(FederationError::Invalid(
                "only public questions and those of a working group are kept".into(),
            ));
        }
        Ok(())
    }

    async fn from_json(json: ApQuestion, data: &RequestData) -> Result<Self, Self::Error> {
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
        // Pleroma sends both lists, one of them empty.
        let several = json.any_of.clone().filter(|o| !o.is_empty());
        let multiple = several.is_some();
        let options = several.or_else(|| json.one_of.clone()).unwrap_or_default();
        let closed_at = json
            .closed
            .as_ref()
            .and_then(|c| c.as_str())
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc));
        let remote = RemoteQuestion {
            visibility: received_visibility(&json.to, &json.cc, group.is_some()),
            ap_id: json.id.inner().to_string(),
            url: json
                .url
                .as_ref()
                .and_then(crate::objects::id_of)
                .map(|u| u.to_string()),
            author: author.row,
            group,
            content_html: json.content.clone().unwrap_or_default(),
            multiple,
            closes_at: closed_at.or(json.end_time),
            options: options.iter().map(|o| (o.name.clone(), o.votes())).collect(),
            voters_count: json
                .voters_count
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or_else(|| options.iter().map(ApOption::votes).sum()),
            published: json.published.unwrap_or_else(Utc::now),
            updated: json.updated,
        };
        let stored = healthcommons_service::agenda::store_remote(&data.db, remote).await?;
        DbQuestion::new(stored)
    }
}
