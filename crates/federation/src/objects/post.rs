//! Posts as they travel: a thread start is a `Note` with a `name` (Mastodon
//! shows a Note's whole `content`; Lemmy takes `name` as the post's title),
//! a reply a `Note` with `inReplyTo`. `Page` and `Article` from Lemmy, Mbin
//! and others are accepted alike.

use crate::{
    FederationError, RequestData,
    context::FederationContext,
    objects::actor::{DbActor, first_url, host_of},
};
use activitypub_federation::{
    fetch::object_id::ObjectId,
    protocol::{helpers::deserialize_skip_error, verification::verify_domains_match},
    traits::Object,
};
use chrono::{DateTime, Utc};
use healthcommons_db::entities::{ActorKind, TagKind};
use healthcommons_db::{
    entities::{Visibility, actor, post},
    queries::{self},
};
use healthcommons_service::{
    posts::{RemotePost, StoredPost},
    urls::NodeUrls,
};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tracing::debug;
use url::Url;

/// A stored post with its id parsed once.
#[derive(Debug, Clone)]
pub struct DbPost {
    pub row: post::Model,
    id: Url,
}

impl DbPost {
    pub fn new(row: post::Model) -> Result<Self, FederationError> {
        let id = Url::parse(&row.ap_id)?;
        Ok(DbPost { row, id })
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PostKind {
    Note,
    Page,
    Article,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub content: String,
    pub media_type: String,
}

/// A post on the wire. Everything but `type`, `id` and the author is optional
/// because servers differ in what they send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApPost {
    #[serde(rename = "type")]
    pub kind: PostKind,
    pub id: ObjectId<DbPost>,
    #[serde(deserialize_with = "author_of")]
    pub attributed_to: Url,
    #[serde(default, deserialize_with = "urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "urls_of")]
    pub cc: Vec<Url>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub audience: Option<Url>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_reply_to: Option<Url>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<String>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub content_map: Option<BTreeMap<String, String>>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub media_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<Source>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub summary: Option<String>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub sensitive: Option<bool>,
    #[serde(
        default,
        deserialize_with = "first_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<Url>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub published: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "tags_of", skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<Value>,
    /// FEP-7888: the thread's context collection (ours); others send other things.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Set on our garden items (also `Article`s), which are not posts.
    #[serde(default, skip_serializing)]
    pub garden_kind: Option<Value>,
}

/// `to`/`cc`: a string, an array of strings, or objects with an `id`.
pub(crate) fn urls_of<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Url>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Array(items)) => items.iter().filter_map(super::id_of).collect(),
        Some(other) => super::id_of(&other).into_iter().collect(),
        None => Vec::new(),
    })
}

pub(crate) fn tags_of<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Array(items)) => items,
        Some(Value::Object(map)) => vec![Value::Object(map)],
        _ => Vec::new(),
    })
}

/// `attributedTo`: one actor, or a list where the person comes first or is
/// marked `Person` (PeerTube lists the channel too).
pub(crate) fn author_of<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let found = match &value {
        Value::Array(items) => items
            .iter()
            .find(|i| i.get("type").and_then(Value::as_str) == Some("Person"))
            .or_else(|| items.first())
            .and_then(super::id_of),
        other => super::id_of(other),
    };
    found.ok_or_else(|| serde::de::Error::custom("attributedTo names no actor"))
}

/// The visibility of something received, from its addressing: `public`
/// when addressed to everyone, `unlisted` when only cc'd, members-only when
/// it belongs to a group and is addressed to neither, followers-only otherwise.
pub fn received_visibility(to: &[Url], cc: &[Url], in_group: bool) -> Visibility {
    if to.iter().any(is_public) {
        Visibility::Public
    } else if cc.iter().any(is_public) {
        Visibility::Unlisted
    } else if in_group {
        Visibility::Members
    } else {
        Visibility::Followers
    }
}

/// ActivityStreams' public collection in all the spellings servers use.
pub fn is_public(url: &Url) -> bool {
    matches!(
        url.as_str(),
        "https://www.w3.org/ns/activitystreams#Public" | "as:Public" | "Public"
    )
}

impl ApPost {
    /// `public` when addressed to everyone, `unlisted` when only cc'd,
    /// `members` when addressed to a group, `followers` otherwise.
    pub fn visibility(&self, group: Option<&actor::Model>) -> Visibility {
        received_visibility(&self.to, &self.cc, group.is_some())
    }

    /// The HTML content: `content`, else the first `contentMap` entry, else
    /// the markdown `source` rendered.
    pub fn content_html(&self) -> String {
        if let Some(content) = &self.content {
            return content.clone();
        }
        if let Some(first) = self.content_map.as_ref().and_then(|m| m.values().next()) {
            return first.clone();
        }
        match &self.source {
            Some(source) if source.media_type == "text/markdown" => {
                healthcommons_core::text::markdown_to_html(&source.content)
            }
            Some(source) => healthcommons_core::text::sanitize_html(&source.content),
            None => String::new(),
        }
    }

    /// The title and the rest of the content. A thread start carries its
    /// title in `name` (Lemmy, Mbin), or, as ours do so Mastodon-API servers
    /// show it unfolded, as a first paragraph in bold.
    pub fn title_and_content(&self) -> (Option<String>, String) {
        let content = self.content_html();
        if let Some(name) = &self.name {
            return (Some(remote_text(name, 200)), content);
        }
        if self.in_reply_to.is_some() {
            return (None, content);
        }
        match split_leading_title(&content) {
            Some((title, rest)) => (Some(remote_text(&title, 200)), rest.to_owned()),
            None => (None, content),
        }
    }

    pub fn language(&self) -> Option<String> {
        self.content_map.as_ref().and_then(|m| m.keys().next().cloned())
    }

    /// Mentions and hashtags as `(kind, name, href)`.
    pub fn stored_tags(&self) -> Vec<(TagKind, String, Option<String>)> {
        self.tag
            .iter()
            .filter_map(|t| {
                let kind = t.get("type").and_then(Value::as_str)?;
                let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
                let href = t.get("href").and_then(Value::as_str).map(str::to_owned);
                let plain = healthcommons_core::text::plain_text(name, 200);
                match kind {
                    "Mention" => Some((TagKind::Mention, plain, href)),
                    "Hashtag" => Some((
                        TagKind::Hashtag,
                        plain.trim_start_matches('#').to_lowercase(),
                        href,
                    )),
                    _ => None,
                }
            })
            .collect()
    }

    /// Every actor URL it is addressed or tagged to (to, cc, audience, mentions).
    pub fn recipients(&self) -> Vec<Url> {
        let mut all: Vec<Url> = self
            .to
            .iter()
            .chain(&self.cc)
            .chain(&self.audience)
            .cloned()
            .collect();
        for tag in &self.tag {
            if tag.get("type").and_then(Value::as_str) == Some("Mention")
                && let Some(href) = tag
                    .get("href")
                    .and_then(Value::as_str)
                    .and_then(|h| Url::parse(h).ok())
            {
                all.push(href);
            }
        }
        all
    }
}

/// The working group a post is in: its `audience`, or one of this node's
/// groups among its recipients (a Mastodon post that mentions the group).
pub async fn group_of(json: &ApPost, data: &RequestData) -> Result<Option<actor::Model>, FederationError> {
    if let Some(audience) = &json.audience {
        match ObjectId::<DbActor>::from(audience.clone())
            .dereference(data)
            .await
        {
            Ok(group) if group.row.kind == ActorKind::Group => return Ok(Some(group.row)),
            Ok(_) => {}
            Err(err) => debug!(%err, %audience, "the post's audience could not be fetched"),
        }
    }
    for url in json.recipients() {
        if let Some(actor) = queries::actors::by_ap_id(&data.db, url.as_str()).await?
            && actor.kind == ActorKind::Group
        {
            return Ok(Some(actor));
        }
    }
    Ok(None)
}

#[async_trait::async_trait]
impl Object for DbPost {
    type DataType = FederationContext;
    type Kind = ApPost;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    // Posts change through Update activities, never by refetching.
    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        None
    }

    async fn read_from_id(object_id: Url, data: &RequestData) -> Result<Option<Self>, Self::Error> {
        queries::posts::by_ap_id(&data.db, object_id.as_str())
            .await?
            .map(DbPost::new)
            .transpose()
    }

    async fn into_json(self, data: &RequestData) -> Result<ApPost, Self::Error> {
        note_of(&data.db, self.row).await
    }

    async fn verify(json: &ApPost, expected_domain: &Url, _data: &RequestData) -> Result<(), Self::Error> {
        verify_domains_match(json.id.inner(), expected_domain)
            .map_err(|_| FederationError::Invalid("the post's id is on another host".into()))?;
        if json.garden_kind.is_some() {
            return Err(FederationError::Invalid("a garden item, not a post".into()));
        }
        if host_of(&json.attributed_to) != host_of(json.id.inner()) {
            return Err(FederationError::Invalid(
                "the post's author is on another host than the post".into(),
            ));
        }
        Ok(())
    }

    async fn from_json(json: ApPost, data: &RequestData) -> Result<Self, Self::Error> {
        let author = ObjectId::<DbActor>::from(json.attributed_to.clone())
            .dereference(data)
            .await?;
        if let Some(parent) = &json.in_reply_to
            && let Err(err) = crate::resolve::learn_reply_target(parent, data).await
        {
            // Kept as an orphan; it is placed when its parent arrives.
            debug!(%err, %parent, "the parent of a reply could not be fetched");
        }
        let group = group_of(&json, data).await?;
        let (title, content_html) = json.title_and_content();
        let remote = RemotePost {
            ap_id: json.id.inner().to_string(),
            url: json.url.as_ref().map(Url::to_string),
            visibility: json.visibility(group.as_ref()),
            group,
            author: author.row,
            in_reply_to: json.in_reply_to.as_ref().map(Url::to_string),
            title,
            content_html,
            summary: json.summary.as_deref().map(|s| remote_text(s, 500)),
            sensitive: json.sensitive.unwrap_or(false),
            language: json.language(),
            published: json.published.unwrap_or_else(Utc::now),
            updated: json.updated,
            tags: json.stored_tags(),
        };
        // The post, its tags, its thread's counters and the replies waiting
        // for it change together, so no reader sees half of it.
        let txn = data.db.begin().await?;
        let stored = healthcommons_service::posts::store_remote(&txn, remote).await?;
        txn.commit().await?;
        match stored {
            StoredPost::Created(row) | StoredPost::Updated(row) | StoredPost::Unchanged(row) => {
                DbPost::new(row)
            }
            StoredPost::AlreadyDeleted => Err(FederationError::Gone),
        }
    }
}

/// A local post as a `Note`. Takes any connection so a publisher can build it
/// inside the transaction that wrote the post.
pub async fn note_of(db: &impl ConnectionTrait, row: post::Model) -> Result<ApPost, FederationError> {
    let id = Url::parse(&row.ap_id)?;
    let author = match row.author_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    }
    .ok_or(FederationError::NotFound)?;
    let group = match row.group_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    };
    let tags = queries::posts::tags_of(db, vec![row.id]).await?;
    let root = match row.root_id {
        Some(root_id) => queries::posts::by_id(db, root_id).await?,
        None => None,
    };
    let (to, cc) = addressing(&row, &author, group.as_ref(), &tags)?;
    let thread_start = root.as_ref().unwrap_or(&row);
    // No `name`: GoToSocial shows a status's `name` as its content warning,
    // folding every thread; Lemmy takes the first line as the title instead.
    let title = row
        .in_reply_to
        .is_none()
        .then_some(row.title.as_deref())
        .flatten();
    let content = titled_content(title, &row.content_html);
    Ok(ApPost {
        kind: PostKind::Note,
        id: id.into(),
        attributed_to: Url::parse(&author.ap_id)?,
        to,
        cc,
        audience: group.as_ref().map(|g| Url::parse(&g.ap_id)).transpose()?,
        in_reply_to: row.in_reply_to.as_deref().map(Url::parse).transpose()?,
        name: None,
        content_map: row
            .language
            .as_ref()
            .map(|lang| BTreeMap::from([(lang.clone(), content.clone())])),
        content: Some(content),
        media_type: Some("text/html".into()),
        source: row.source.as_ref().map(|s| Source {
            content: s.clone(),
            media_type: "text/markdown".into(),
        }),
        summary: row.summary.clone(),
        sensitive: Some(row.sensitive),
        url: row.url.as_deref().map(Url::parse).transpose()?,
        published: Some(row.published),
        updated: row.updated_at,
        tag: tags
            .iter()
            .map(|t| match t.kind {
                TagKind::Mention => json!({"type": "Mention", "href": t.href, "name": t.name}),
                TagKind::Hashtag => {
                    json!({"type": "Hashtag", "href": t.href, "name": format!("#{}", t.name)})
                }
            })
            .collect(),
        context: thread_start
            .local
            .then(|| json!(NodeUrls::context_of(&thread_start.ap_id))),
        garden_kind: None,
    })
}

const TITLE_OPEN: &str = "<p><strong>";
const TITLE_CLOSE: &str = "</strong></p>";

/// A thread start's content as Mastodon-API servers show it whole: the title
/// as a first paragraph in bold, then the text.
fn titled_content(title: Option<&str>, html: &str) -> String {
    match title {
        Some(title) => format!(
            "{TITLE_OPEN}{}{TITLE_CLOSE}{html}",
            healthcommons_core::text::escape_html(title)
        ),
        None => html.to_owned(),
    }
}

/// The title paragraph `titled_content` wrote, and what follows it.
fn split_leading_title(html: &str) -> Option<(String, &str)> {
    let rest = html.trim_start().strip_prefix(TITLE_OPEN)?;
    let end = rest.find(TITLE_CLOSE)?;
    let title = &rest[..end];
    if title.contains('<') {
        return None;
    }
    Some((
        healthcommons_core::text::html_to_text(title),
        &rest[end + TITLE_CLOSE.len()..],
    ))
}

/// `to` and `cc` of a local post, by the one addressing rule.
fn addressing(
    row: &post::Model,
    author: &actor::Model,
    group: Option<&actor::Model>,
    tags: &[healthcommons_db::entities::post_tag::Model],
) -> Result<(Vec<Url>, Vec<Url>), FederationError> {
    let mentions = tags
        .iter()
        .filter(|t| t.kind == TagKind::Mention)
        .filter_map(|t| t.href.as_deref())
        .filter_map(|href| Url::parse(href).ok())
        .collect();
    super::addressing(row.visibility, author, group, mentions)
}

/// A remote title or content warning as plain text: markup someone put in
/// it is dropped (script and style with their content), entities decoded,
/// control and bidi-override characters removed, and the length capped.
fn remote_text(raw: &str, max_chars: usize) -> String {
    healthcommons_core::text::plain_text(&healthcommons_core::text::html_to_text(raw), max_chars)
}
