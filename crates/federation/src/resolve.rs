//! Find an actor from what a person types: `@name@host`, `name@host`, or an
//! actor URL. WebFinger answers are checked (O9): the subject must be the
//! handle asked for, and the actor found must call itself by that name.

use crate::{FederationError, RequestData, objects::actor::DbActor};
use activitypub_federation::fetch::object_id::ObjectId;
use healthcommons_core::Handle;
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{
    entities::{actor, garden_item},
    queries,
};
use healthcommons_service::{Resolver, ServiceError, ServiceResult};
use serde::Deserialize;
use url::Url;

#[derive(Debug, Deserialize)]
struct Jrd {
    subject: String,
    #[serde(default)]
    links: Vec<JrdLink>,
}

#[derive(Debug, Deserialize)]
struct JrdLink {
    rel: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    href: Option<Url>,
    /// Lemmy and we say here what type of actor the link is.
    #[serde(default)]
    properties: serde_json::Map<String, serde_json::Value>,
}

impl JrdLink {
    fn is_group(&self) -> bool {
        self.properties
            .get("https://www.w3.org/ns/activitystreams#type")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t == "Group")
    }
}

pub async fn resolve_actor(query: &str, data: &RequestData) -> Result<DbActor, FederationError> {
    let query = query.trim();
    if query.starts_with("https://") || query.starts_with("http://") {
        let url = Url::parse(query)?;
        if url.as_str().starts_with(data.node.urls.base()) {
            return queries::actors::by_ap_id(&data.db, url.as_str())
                .await?
                .map(DbActor::new)
                .transpose()?
                .ok_or(FederationError::NotFound);
        }
        return ObjectId::<DbActor>::from(url).dereference(data).await;
    }
    let handle = Handle::parse(query)
        .ok_or_else(|| FederationError::Invalid(format!("{query:?} is neither @name@host nor a URL")))?;
    if handle.host.eq_ignore_ascii_case(&data.node.domain) {
        return queries::actors::local_by_username(&data.db, &handle.name.to_ascii_lowercase())
            .await?
            .filter(|a| a.kind != ActorKind::Application)
            .map(DbActor::new)
            .transpose()?
            .ok_or(FederationError::NotFound);
    }
    if let Some(known) = queries::actors::by_username_and_host(&data.db, &handle.name, &handle.host).await?
        && !known.local
    {
        return ObjectId::<DbActor>::parse(&known.ap_id)?.dereference(data).await;
    }
    let actor_url = webfinger(&handle, data).await?;
    let actor = ObjectId::<DbActor>::from(actor_url).dereference(data).await?;
    if !actor.row.username.eq_ignore_ascii_case(&handle.name) {
        return Err(FederationError::Invalid(format!(
            "{handle} points to an actor that calls itself {}",
            actor.row.username
        )));
    }
    if !actor.row.host.eq_ignore_ascii_case(&handle.host) {
        // A split-domain server (handle on one host, actors on another) must
        // vouch for the handle from the actor's own host.
        let reverse = Handle {
            name: actor.row.username.clone(),
            host: actor.row.host.clone(),
            community: handle.community,
        };
        let confirmed = webfinger(&reverse, data).await?;
        if confirmed.as_str() != actor.row.ap_id {
            return Err(FederationError::Invalid(format!(
                "{handle} and the actor's host disagree"
            )));
        }
    }
    Ok(actor)
}

async fn webfinger(handle: &Handle, data: &RequestData) -> Result<Url, FederationError> {
    check_handle_host(&handle.host, data.settings.dev_federation)?;
    let scheme = data.scheme();
    let resource = format!("acct:{}@{}", handle.name, handle.host);
    let mut url = Url::parse(&format!("{scheme}://{}/.well-known/webfinger", handle.host))?;
    url.query_pairs_mut().append_pair("resource", &resource);
    if queries::peers::is_blocked(&data.db, &handle.host).await? {
        return Err(FederationError::Forbidden("that node is blocked".into()));
    }
    let response = data
        .client
        .get(url)
        .header("accept", "application/jrd+json, application/json")
        .send()
        .await
        .map_err(|e| FederationError::Fetch(format!("webfinger for {handle}: {e}")))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(FederationError::NotFound);
    }
    if !response.status().is_success() {
        return Err(FederationError::Fetch(format!(
            "webfinger for {handle} answered {}",
            response.status()
        )));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| FederationError::Fetch(format!("webfinger for {handle}: {e}")))?;
    if bytes.len() > 256 * 1024 {
        return Err(FederationError::Fetch("webfinger answer too large".into()));
    }
    parse_jrd(&bytes, Some(&resource), handle.community)
}

/// The ActivityPub actor link of a WebFinger answer, checking its subject
/// against the resource asked for when one is given. For a `!community`
/// handle the group's link wins over a person's of the same name (Lemmy
/// answers both).
pub fn parse_jrd(
    bytes: &[u8],
    expected_subject: Option<&str>,
    community: bool,
) -> Result<Url, FederationError> {
    let jrd: Jrd = serde_json::from_slice(bytes)?;
    if let Some(expected) = expected_subject
        && !jrd.subject.eq_ignore_ascii_case(expected)
    {
        return Err(FederationError::Invalid(format!(
            "webfinger subject {} does not match {expected}",
            jrd.subject
        )));
    }
    self_link(&jrd, community)
        .ok_or_else(|| FederationError::Invalid(format!("webfinger for {} has no actor link", jrd.subject)))
}

/// A handle's host must be a domain name: an IP literal would bypass the
/// resolver that keeps requests off internal addresses. Ports are for dev
/// federation only (nodes on one machine).
fn check_handle_host(host: &str, dev_federation: bool) -> Result<(), FederationError> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if name.parse::<std::net::IpAddr>().is_ok() || name.starts_with('[') {
        return Err(FederationError::Invalid(format!(
            "{host} is an address, not a domain name"
        )));
    }
    if !name.contains('.') && !dev_federation {
        return Err(FederationError::Invalid(format!(
            "{host} is not a public domain name"
        )));
    }
    if port.is_some() && !dev_federation {
        return Err(FederationError::Invalid(format!(
            "{host}: explicit ports are only allowed with dev federation"
        )));
    }
    Ok(())
}

fn self_link(jrd: &Jrd, community: bool) -> Option<Url> {
    let mut actors = jrd
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("self"))
        .filter(|l| {
            l.kind.as_deref().is_some_and(|k| {
                k.starts_with("application/activity+json") || k.starts_with("application/ld+json")
            })
        })
        .filter(|l| l.href.is_some());
    let first = actors.clone().next();
    let chosen = if community {
        actors.find(|l| l.is_group()).or(first)
    } else {
        first
    };
    chosen.and_then(|l| l.href.clone())
}

/// A post by its ActivityPub id: the stored copy, or fetched from its origin.
pub async fn resolve_post(
    id: &str,
    data: &RequestData,
) -> Result<crate::objects::post::DbPost, FederationError> {
    let url = Url::parse(id.trim())?;
    if let Some(row) = queries::posts::by_ap_id(&data.db, url.as_str()).await? {
        return crate::objects::post::DbPost::new(row);
    }
    if url.as_str().starts_with(data.node.urls.base()) {
        return Err(FederationError::NotFound);
    }
    ObjectId::<crate::objects::post::DbPost>::from(url)
        .dereference(data)
        .await
}

/// A garden item by id: known here, or fetched from its origin.
pub async fn resolve_garden_item(
    id: &str,
    data: &RequestData,
) -> Result<crate::objects::garden_item::DbGardenItem, FederationError> {
    let url = Url::parse(id.trim())?;
    if let Some(row) = queries::garden::by_ap_id(&data.db, url.as_str()).await? {
        return crate::objects::garden_item::DbGardenItem::new(row);
    }
    if url.as_str().starts_with(data.node.urls.base()) {
        return Err(FederationError::NotFound);
    }
    ObjectId::<crate::objects::garden_item::DbGardenItem>::from(url)
        .dereference(data)
        .await
}

/// What a reply answers, made known here: a post, or a garden item (a reply
/// to one is part of its discussion). Both are tried, so an `Article` that is
/// a garden item is never stored as a post.
pub async fn learn_reply_target(parent: &Url, data: &RequestData) -> Result<(), FederationError> {
    if queries::posts::by_ap_id(&data.db, parent.as_str())
        .await?
        .is_some()
        || queries::garden::by_ap_id(&data.db, parent.as_str())
            .await?
            .is_some()
    {
        return Ok(());
    }
    match ObjectId::<crate::objects::post::DbPost>::from(parent.clone())
        .dereference(data)
        .await
    {
        Ok(_) => Ok(()),
        Err(err @ (FederationError::NotFound | FederationError::Gone)) => Err(err),
        Err(as_post) => resolve_garden_item(parent.as_str(), data)
            .await
            .map(|_| ())
            .map_err(|_| as_post),
    }
}

/// The item a fork was taken from, as its origin has it now: read here when
/// it is ours, fetched afresh otherwise. A deleted origin marks its forks.
pub async fn refresh_origin(
    fork: &healthcommons_db::entities::garden_item::Model,
    data: &RequestData,
) -> Result<healthcommons_db::entities::garden_item::Model, FederationError> {
    let origin = fork
        .forked_from
        .as_deref()
        .ok_or_else(|| FederationError::Invalid("this item is not a fork".into()))?;
    let url = Url::parse(origin)?;
    let fetched = if url.as_str().starts_with(data.node.urls.base()) {
        queries::garden::by_ap_id(&data.db, url.as_str())
            .await?
            .filter(|i| i.deleted_at.is_none())
            .ok_or(FederationError::Gone)
    } else {
        ObjectId::<crate::objects::garden_item::DbGardenItem>::from(url)
            .dereference_forced(data)
            .await
            .map(|item| item.row)
    };
    match fetched {
        Err(FederationError::Gone | FederationError::NotFound) => {
            queries::garden::mark_origin_gone(&data.db, origin).await?;
            Err(FederationError::Gone)
        }
        other => other,
    }
}

/// The processing layer's remote fetches, done by this crate.
pub struct FederationResolver {
    config: activitypub_federation::config::FederationConfig<crate::FederationContext>,
}

impl FederationResolver {
    pub fn new(config: activitypub_federation::config::FederationConfig<crate::FederationContext>) -> Self {
        FederationResolver { config }
    }
}

#[async_trait::async_trait]
impl Resolver for FederationResolver {
    async fn actor(&self, query: &str) -> ServiceResult<actor::Model> {
        Ok(resolve_actor(query, &self.config.to_request_data()).await?.row)
    }

    async fn reply_target(&self, url: &Url) -> ServiceResult<()> {
        Ok(learn_reply_target(url, &self.config.to_request_data()).await?)
    }

    async fn garden_item(&self, id: &str) -> ServiceResult<garden_item::Model> {
        Ok(resolve_garden_item(id, &self.config.to_request_data()).await?.row)
    }

    async fn refresh_origin(&self, fork: &garden_item::Model) -> ServiceResult<garden_item::Model> {
        match refresh_origin(fork, &self.config.to_request_data()).await {
            Err(FederationError::Gone) => Err(ServiceError::not_found(
                "the item this was forked from is gone from its origin",
            )),
            other => Ok(other?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_must_name_a_domain() {
        assert!(check_handle_host("social.example", false).is_ok());
        assert!(check_handle_host("127.0.0.1", false).is_err());
        assert!(check_handle_host("127.0.0.1:6379", true).is_err());
        assert!(check_handle_host("localhost", false).is_err());
        assert!(check_handle_host("social.example:8443", false).is_err());
        assert!(check_handle_host("beta.test:8080", true).is_ok());
    }

    #[test]
    fn the_activitypub_self_link_is_chosen() {
        let jrd: Jrd = serde_json::from_str(
            r#"{"subject":"acct:a@b.example","links":[
                {"rel":"http://webfinger.net/rel/profile-page","type":"text/html","href":"https://b.example/@a"},
                {"rel":"self","type":"application/activity+json","href":"https://b.example/users/a"}]}"#,
        )
        .expect("jrd");
        assert_eq!(
            self_link(&jrd, false).map(|u| u.to_string()).as_deref(),
            Some("https://b.example/users/a")
        );
    }

    #[test]
    fn a_community_handle_takes_the_group_link_when_a_person_shares_its_name() {
        // Lemmy answers `acct:name@host` with a link for each actor so named.
        let jrd: Jrd = serde_json::from_str(
            r#"{"subject":"acct:carers@lemmy.test","links":[
                {"rel":"self","type":"application/activity+json","href":"https://lemmy.test/u/carers",
                 "properties":{"https://www.w3.org/ns/activitystreams#type":"Person"}},
                {"rel":"self","type":"application/activity+json","href":"https://lemmy.test/c/carers",
                 "properties":{"https://www.w3.org/ns/activitystreams#type":"Group"}}]}"#,
        )
        .expect("jrd");
        assert_eq!(
            self_link(&jrd, true).map(|u| u.to_string()).as_deref(),
            Some("https://lemmy.test/c/carers")
        );
        assert_eq!(
            self_link(&jrd, false).map(|u| u.to_string()).as_deref(),
            Some("https://lemmy.test/u/carers")
        );
    }
}
