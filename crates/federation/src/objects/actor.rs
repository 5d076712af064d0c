//! Actors: persons, working groups (`Group`, FEP-1b12) and the node's
//! instance actor (`Application`). Remote actors of any common type are
//! accepted (Service, Organization too) and stored with their key.

use crate::{FederationError, RequestData, context::FederationContext};
use activitypub_federation::{
    kinds::actor::{ApplicationType, GroupType, OrganizationType, PersonType, ServiceType},
    protocol::{helpers::deserialize_skip_error, verification::verify_domains_match},
    traits::{Actor, Object},
};
use chrono::{DateTime, Utc};
use healthcommons_core::text;
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{entities::actor, queries};
use healthcommons_service::urls::NodeUrls;
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use url::Url;

/// The stored actor, local or remote, with its id parsed once.
#[derive(Debug, Clone)]
pub struct DbActor {
    pub row: actor::Model,
    id: Url,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ActorType {
    Person(PersonType),
    Group(GroupType),
    Application(ApplicationType),
    Service(ServiceType),
    Organization(OrganizationType),
}

impl ActorType {
    fn stored(&self) -> ActorKind {
        // Bots (Service) and organisations can be followed like persons; an
        // Application is a server's own actor when its node says so (see
        // `from_json`), and followable like a person otherwise.
        match self {
            ActorType::Group(_) => ActorKind::Group,
            ActorType::Application(_) => ActorKind::Application,
            ActorType::Person(_) | ActorType::Service(_) | ActorType::Organization(_) => ActorKind::Person,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_inbox: Option<Url>,
}

/// An actor's key. `owner` is optional because some servers (Bridgy Fed)
/// leave it out; when present it must be the actor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ActorKey {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Url>,
    pub public_key_pem: String,
}

/// An actor as ActivityPub JSON: what Mastodon needs to show and follow it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApActor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: Url,
    pub preferred_username: String,
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
    pub summary: Option<String>,
    #[serde(
        default,
        deserialize_with = "first_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<Url>,
    pub inbox: Url,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub outbox: Option<Url>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub followers: Option<Url>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub following: Option<Url>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoints: Option<Endpoints>,
    pub public_key: ActorKey,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub manually_approves_followers: bool,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub discoverable: Option<bool>,
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub published: Option<DateTime<Utc>>,
    /// A working group's moderators collection, as Lemmy publishes it.
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub attributed_to: Option<Url>,
    /// The picture shown for the actor (a working group's icon).
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub icon: Option<Icon>,
    /// The same collection under the name Mbin gives it.
    #[serde(
        default,
        deserialize_with = "deserialize_skip_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub moderators: Option<Url>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Icon {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: Url,
}

/// `url` is a string for most servers, an array of links or an object for
/// others (Funkwhale, PeerTube); keep the first http(s) URL found.
pub(crate) fn first_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Url>, D::Error> {
    fn find(value: &Value) -> Option<Url> {
        match value {
            Value::String(s) => Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https")),
            Value::Array(items) => items.iter().find_map(find),
            Value::Object(map) => map.get("href").and_then(find),
            _ => None,
        }
    }
    Ok(Option::<Value>::deserialize(deserializer)?
        .as_ref()
        .and_then(find))
}

/// `host[:port]` of a URL, lowercased: how peers are keyed.
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

impl DbActor {
    pub fn new(row: actor::Model) -> Result<Self, FederationError> {
        let id = Url::parse(&row.ap_id)?;
        Ok(DbActor { row, id })
    }
}

#[async_trait::async_trait]
impl Object for DbActor {
    type DataType = FederationContext;
    type Kind = ApActor;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        if self.row.local {
            None
        } else {
            Some(self.row.last_fetched_at)
        }
    }

    async fn read_from_id(object_id: Url, data: &RequestData) -> Result<Option<Self>, Self::Error> {
        queries::actors::by_ap_id(&data.db, object_id.as_str())
            .await?
            .map(DbActor::new)
            .transpose()
    }

    async fn into_json(self, data: &RequestData) -> Result<ApActor, Self::Error> {
        let icon = queries::groups::settings(&data.db, self.row.id)
            .await?
            .and_then(|s| s.icon_url);
        ap_actor(&self.row, icon.as_deref(), &data.node.urls)
    }

    async fn verify(json: &ApActor, expected_domain: &Url, _data: &RequestData) -> Result<(), Self::Error> {
        verify_actor_json(json, expected_domain)
    }

    async fn from_json(json: ApActor, data: &RequestData) -> Result<Self, Self::Error> {
        let mut row = remote_actor_row(&json)?;
        if matches!(json.kind, ActorType::Application(_))
            && !crate::discovery::names_instance_actor(&data.client, &json.id).await
        {
            // Followable like a person; only a node's own instance actor is not.
            row.kind = sea_orm::ActiveValue::Set(ActorKind::Person);
        }
        let actor = DbActor::new(queries::actors::upsert_remote(&data.db, row).await?)?;
        let moderators = json.moderators.as_ref().or(json.attributed_to.as_ref());
        if actor.row.kind == ActorKind::Group
            && let Some(url) = moderators.filter(|url| host_of(url) == host_of(&json.id))
        {
            healthcommons_service::groups::remember_moderators_url(&data.db, actor.row.id, url.as_str())
                .await?;
        }
        Ok(actor)
    }
}

/// A local actor as ActivityPub JSON.
pub fn ap_actor(a: &actor::Model, icon: Option<&str>, urls: &NodeUrls) -> Result<ApActor, FederationError> {
    let id = Url::parse(&a.ap_id)?;
    let kind = match a.kind {
        ActorKind::Group => ActorType::Group(Default::default()),
        ActorKind::Application => ActorType::Application(Default::default()),
        ActorKind::Person => ActorType::Person(Default::default()),
    };
    let parse_opt = |s: &Option<String>| s.as_deref().and_then(|s| Url::parse(s).ok());
    let shared_inbox = Url::parse(&urls.shared_inbox())?;
    let moderators = if a.kind == ActorKind::Group {
        Some(Url::parse(&NodeUrls::moderators_of(&a.ap_id))?)
    } else {
        None
    };
    Ok(ApActor {
        kind,
        preferred_username: a.username.clone(),
        name: a.display_name.clone(),
        summary: a.summary_html.clone(),
        url: parse_opt(&a.url),
        inbox: Url::parse(&a.inbox)?,
        outbox: parse_opt(&a.outbox),
        followers: parse_opt(&a.followers_url),
        following: parse_opt(&a.following_url),
        endpoints: Some(Endpoints {
            shared_inbox: Some(shared_inbox),
        }),
        public_key: ActorKey {
            id: a.public_key_id.clone(),
            owner: Some(id.clone()),
            public_key_pem: a.public_key_pem.clone(),
        },
        manually_approves_followers: a.manually_approves_followers,
        discoverable: Some(a.discoverable),
        published: Some(a.published),
        icon: icon.and_then(|u| Url::parse(u).ok()).map(|url| Icon {
            kind: "Image".into(),
            url,
        }),
        attributed_to: moderators.clone(),
        moderators,
        id,
    })
}

/// The checks an actor document must pass before we store it (O8): its key
/// belongs to it, and its id, key and inboxes share one origin.
pub fn verify_actor_json(json: &ApActor, expected_domain: &Url) -> Result<(), FederationError> {
    verify_domains_match(&json.id, expected_domain)
        .map_err(|_| FederationError::Invalid("the actor's id is on another host".into()))?;
    if json
        .public_key
        .owner
        .as_ref()
        .is_some_and(|owner| owner != &json.id)
    {
        return Err(FederationError::Invalid(
            "publicKey.owner is not the actor".into(),
        ));
    }
    let key_url = key_id(json)?;
    if host_of(&key_url) != host_of(&json.id) {
        return Err(FederationError::Invalid("the key id is on another host".into()));
    }
    if host_of(&json.inbox) != host_of(&json.id) {
        return Err(FederationError::Invalid("the inbox is on another host".into()));
    }
    if let Some(shared) = json.endpoints.as_ref().and_then(|e| e.shared_inbox.as_ref())
        && host_of(shared) != host_of(&json.id)
    {
        return Err(FederationError::Invalid(
            "the shared inbox is on another host".into(),
        ));
    }
    if json.preferred_username.trim().is_empty() {
        return Err(FederationError::Invalid("preferredUsername is empty".into()));
    }
    Ok(())
}

/// The key id as an absolute URL. A relative id (old Bridgy Fed actors send
/// one) is resolved against the actor's id, as JSON-LD resolves relative IRIs.
pub fn key_id(json: &ApActor) -> Result<Url, FederationError> {
    Ok(json.id.join(&json.public_key.id)?)
}

/// A storable row for a remote actor, with every text field made safe.
pub fn remote_actor_row(json: &ApActor) -> Result<actor::ActiveModel, FederationError> {
    let now = Utc::now();
    Ok(actor::ActiveModel {
        ap_id: Set(json.id.to_string()),
        kind: Set(json.kind.stored()),
        local: Set(false),
        username: Set(text::plain_text(&json.preferred_username, 100)),
        host: Set(host_of(&json.id)),
        display_name: Set(json.name.as_deref().map(|n| text::plain_text(n, 100))),
        summary_html: Set(json.summary.as_deref().map(text::sanitize_html)),
        url: Set(json.url.as_ref().map(Url::to_string)),
        inbox: Set(json.inbox.to_string()),
        shared_inbox: Set(json
            .endpoints
            .as_ref()
            .and_then(|e| e.shared_inbox.as_ref())
            .map(Url::to_string)),
        outbox: Set(json.outbox.as_ref().map(Url::to_string)),
        followers_url: Set(json.followers.as_ref().map(Url::to_string)),
        following_url: Set(json.following.as_ref().map(Url::to_string)),
        public_key_id: Set(key_id(json)?.to_string()),
        public_key_pem: Set(json.public_key.public_key_pem.clone()),
        private_key_pem: Set(None),
        user_id: Set(None),
        manually_approves_followers: Set(json.manually_approves_followers),
        discoverable: Set(json.discoverable.unwrap_or(false)),
        published: Set(json.published.unwrap_or(now)),
        last_fetched_at: Set(now),
        created_by: Set(None),
        ..Default::default()
    })
}

impl Actor for DbActor {
    fn public_key_pem(&self) -> &str {
        &self.row.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        self.row.private_key_pem.clone()
    }

    fn inbox(&self) -> Url {
        Url::parse(&self.row.inbox).unwrap_or_else(|_| self.id.clone())
    }

    fn shared_inbox(&self) -> Option<Url> {
        self.row.shared_inbox.as_deref().and_then(|s| Url::parse(s).ok())
    }
}
