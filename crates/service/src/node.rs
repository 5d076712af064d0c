//! This node: its address, its profile (the initiative that runs it), its
//! registration policy and its instance actor.

use crate::{ServiceError, ServiceResult, actors, keys, urls::NodeUrls};
use healthcommons_core::text::plain_text;
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{entities::actor, queries};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

/// Everything the processing layer needs to know about where it runs.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// Public host[:port], as used in every id.
    pub domain: String,
    pub urls: NodeUrls,
    /// Whether an SMTP server is configured; without one no mail is queued.
    pub email: bool,
}

impl NodeContext {
    pub fn new(domain: &str, https: bool) -> Self {
        let scheme = if https { "https" } else { "http" };
        NodeContext {
            domain: domain.to_owned(),
            urls: NodeUrls::new(scheme, domain),
            email: false,
        }
    }

    /// The same node, sending email or not.
    pub fn with_email(mut self, on: bool) -> Self {
        self.email = on;
        self
    }
}

/// Who may open an account here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    Open,
    Approval,
    Closed,
}

impl RegistrationMode {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "open" => Some(Self::Open),
            "approval" => Some(Self::Approval),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approval => "approval",
            Self::Closed => "closed",
        }
    }
}

const REGISTRATION_KEY: &str = "registration_mode";
const DOMAIN_KEY: &str = "node_domain";
const PROFILE_KEY: &str = "node_profile";

/// The initiative's public profile of this node.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeProfile {
    pub initiative_name: String,
    pub description: String,
    pub location: Option<Place>,
    /// Hashtags without `#`, as working groups have them.
    #[serde(default)]
    pub topics: Vec<String>,
    pub website: Option<String>,
    /// An address, phone number or link, shown as plain text.
    pub contact: Option<String>,
}

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
const MAX_CONTACT: usize = 500;
const MAX_URL: usize = 2048;

impl NodeProfile {
    /// The profile with its text made plain and everything else checked; the
    /// same rules hold for this node's profile and for those fetched from
    /// peers.
    pub fn checked(self) -> ServiceResult<NodeProfile> {
        let initiative_name = plain_text(&self.initiative_name, MAX_NAME);
        if initiative_name.is_empty() {
            return Err(ServiceError::validation("initiative_name must not be empty"));
        }
        Ok(NodeProfile {
            initiative_name,
            description: plain_text(&self.description, MAX_DESCRIPTION),
            location: self.location.map(Place::checked).transpose()?.flatten(),
            topics: crate::groups::clean_topics(&self.topics)?,
            website: self
                .website
                .as_deref()
                .map(|w| checked_web_url(w, "website"))
                .transpose()?
                .flatten(),
            contact: self
                .contact
                .map(|c| plain_text(&c, MAX_CONTACT))
                .filter(|c| !c.is_empty()),
        })
    }
}

/// An http(s) URL, or none for an empty field; `what` names it in the refusal.
pub fn checked_web_url(raw: &str, what: &str) -> ServiceResult<Option<String>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let refused = || {
        ServiceError::validation(format!(
            "{what} must be an http or https URL, like https://example.org"
        ))
    };
    if raw.len() > MAX_URL {
        return Err(refused());
    }
    let url = url::Url::parse(raw).map_err(|_| refused())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(refused());
    }
    Ok(Some(url.to_string()))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Place {
    pub name: String,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl Place {
    /// The place with its text made plain and its coordinates checked;
    /// `None` when it names nothing (no name, address or coordinates).
    pub fn checked(self) -> ServiceResult<Option<Place>> {
        match (self.latitude, self.longitude) {
            (Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err(ServiceError::validation(
                        "latitude is between -90 and 90, longitude between -180 and 180",
                    ));
                }
            }
            (None, None) => {}
            _ => {
                return Err(ServiceError::validation(
                    "give both latitude and longitude, or neither",
                ));
            }
        }
        let place = Place {
            name: plain_text(&self.name, MAX_NAME),
            address: self
                .address
                .map(|a| plain_text(&a, 500))
                .filter(|a| !a.is_empty()),
            ..self
        };
        let names_something = !place.name.is_empty() || place.address.is_some() || place.latitude.is_some();
        Ok(names_something.then_some(place))
    }
}

pub(crate) async fn registration_mode(db: &impl ConnectionTrait) -> ServiceResult<RegistrationMode> {
    Ok(queries::settings::get(db, REGISTRATION_KEY)
        .await?
        .and_then(|raw| RegistrationMode::parse(&raw))
        .unwrap_or(RegistrationMode::Open))
}

pub async fn set_registration_mode(db: &impl ConnectionTrait, mode: RegistrationMode) -> ServiceResult<()> {
    queries::settings::set(db, REGISTRATION_KEY, mode.as_str()).await?;
    Ok(())
}

pub(crate) async fn profile(db: &impl ConnectionTrait, ctx: &NodeContext) -> ServiceResult<NodeProfile> {
    let stored = queries::settings::get(db, PROFILE_KEY).await?;
    let mut profile: NodeProfile = stored
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or_default();
    if profile.initiative_name.is_empty() {
        profile.initiative_name = format!("Health Commons at {}", ctx.domain);
    }
    Ok(profile)
}

/// Every id in the database carries the domain the node first ran under; a
/// node (or an admin command) started with another domain would mint ids that
/// contradict them, so it is refused.
pub async fn pin_domain(db: &impl ConnectionTrait, ctx: &NodeContext) -> ServiceResult<()> {
    match queries::settings::get(db, DOMAIN_KEY).await? {
        Some(stored) if stored != ctx.domain => Err(ServiceError::conflict(format!(
            "this database belongs to the node {stored}; set HEALTHCOMMONS_DOMAIN={stored} (a node cannot change its domain)"
        ))),
        Some(_) => Ok(()),
        None => {
            queries::settings::set(db, DOMAIN_KEY, &ctx.domain).await?;
            Ok(())
        }
    }
}

/// The node's own actor (an `Application`), created with its keys on first start.
pub async fn ensure_instance_actor(
    db: &impl ConnectionTrait,
    ctx: &NodeContext,
) -> ServiceResult<actor::Model> {
    if let Some(existing) = queries::actors::instance_actor(db).await? {
        return Ok(existing);
    }
    let keys = keys::generate().await?;
    let row = actors::new_row(
        ctx,
        actors::LocalActor {
            kind: ActorKind::Application,
            id: ctx.urls.instance_actor(),
            // Mastodon's convention: the instance actor is named after the domain.
            username: &ctx.domain,
            display_name: ctx.domain.clone(),
            summary_html: None,
            keys,
            user_id: None,
            created_by: None,
            manually_approves_followers: true,
            with_collections: false,
        },
    );
    Ok(queries::actors::insert(db, row).await?)
}

/// This node's own settings: who may register, and how it presents itself.
pub struct NodeAdmin<'p>(pub(crate) &'p crate::Processor);

/// The way in for the pages and the API, on the processor's connections.
impl NodeAdmin<'_> {
    pub async fn registration_mode(&self) -> ServiceResult<RegistrationMode> {
        registration_mode(self.0.readers()).await
    }

    pub async fn set_registration_mode(&self, mode: RegistrationMode) -> ServiceResult<()> {
        set_registration_mode(self.0.db(), mode).await
    }

    pub async fn profile(&self) -> ServiceResult<NodeProfile> {
        profile(self.0.readers(), self.0.node()).await
    }

    /// Check and store the profile; returns it as stored.
    pub async fn set_profile(&self, profile: NodeProfile) -> ServiceResult<NodeProfile> {
        let db = self.0.db();
        let cleaned = profile.checked()?;
        let json = serde_json::to_string(&cleaned).map_err(|e| ServiceError::Internal(e.to_string()))?;
        queries::settings::set(db, PROFILE_KEY, &json).await?;
        Ok(cleaned)
    }
}
