//! WebFinger, host-meta and NodeInfo documents.

use crate::objects::actor::host_of;
use activitypub_federation::fetch::webfinger::{Webfinger, build_webfinger_response_with_type};
use healthcommons_service::node::{NodeProfile, Place};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;

pub const SOFTWARE_NAME: &str = "healthcommons";
pub const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The JRD for one local actor.
pub fn webfinger(subject: &str, actor_id: &Url, kind: &str) -> Webfinger {
    build_webfinger_response_with_type(subject.to_owned(), vec![(actor_id.clone(), Some(kind))])
}

pub fn host_meta(base: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>
</XRD>
"#
    )
}

pub fn nodeinfo_links(base: &str) -> Value {
    json!({
        "links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0")},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{base}/nodeinfo/2.1")},
            {"rel": INSTANCE_ACTOR_REL, "href": format!("{base}/actor")}
        ]
    })
}

pub struct NodeStats {
    pub users: u64,
    pub local_posts: u64,
    pub open_registrations: bool,
    pub profile: NodeProfile,
    pub groups: u64,
}

/// `metadata.initiative` in NodeInfo: the profile of the initiative running
/// the node, read by other nodes' directories.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InitiativeMetadata {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub location: Option<PlaceMetadata>,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub contact: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlaceMetadata {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl From<NodeProfile> for InitiativeMetadata {
    fn from(profile: NodeProfile) -> Self {
        InitiativeMetadata {
            name: profile.initiative_name,
            description: profile.description,
            location: profile.location.map(|p| PlaceMetadata {
                name: p.name,
                address: p.address,
                latitude: p.latitude,
                longitude: p.longitude,
            }),
            topics: profile.topics,
            website: profile.website,
            contact: profile.contact,
        }
    }
}

impl From<InitiativeMetadata> for NodeProfile {
    fn from(meta: InitiativeMetadata) -> Self {
        NodeProfile {
            initiative_name: meta.name,
            description: meta.description,
            location: meta.location.map(|p| Place {
                name: p.name,
                address: p.address,
                latitude: p.latitude,
                longitude: p.longitude,
            }),
            topics: meta.topics,
            website: meta.website,
            contact: meta.contact,
        }
    }
}

/// Where a node publishes the peers it knows (see FEDERATION.md, *Directory*).
pub fn directory_peers_url(base: &str) -> String {
    format!("{base}/api/v1/directory/peers")
}

/// NodeInfo 2.0 or 2.1 (`version` is "2.0" or "2.1").
pub fn nodeinfo(version: &str, base: &str, stats: &NodeStats) -> Value {
    let software = json!({"name": SOFTWARE_NAME, "version": SOFTWARE_VERSION});
    let initiative = InitiativeMetadata::from(stats.profile.clone());
    json!({
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": stats.open_registrations,
        "usage": {
            "users": {"total": stats.users},
            "localPosts": stats.local_posts
        },
        "metadata": {
            "nodeName": stats.profile.initiative_name,
            "nodeDescription": stats.profile.description,
            "initiative": initiative,
            "directoryPeers": directory_peers_url(base),
            "workingGroups": stats.groups
        }
    })
}

/// The largest NodeInfo document or peer list read from another node.
const MAX_DOCUMENT: usize = 256 * 1024;

/// GET a small JSON document from another node, with a deadline and a size cap.
pub async fn get_small_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    refuse_address_literal(url)?;
    let response = client
        .get(url)
        .header("accept", "application/json")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url}: HTTP {}", response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_DOCUMENT as u64)
    {
        return Err(format!("{url}: larger than {MAX_DOCUMENT} bytes"));
    }
    let bytes = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    if bytes.len() > MAX_DOCUMENT {
        return Err(format!("{url}: larger than {MAX_DOCUMENT} bytes"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{url}: not JSON: {e}"))
}

/// The HTTP client's resolver keeps requests off internal addresses, but a
/// URL whose host is an IP address never reaches a resolver: refuse it here,
/// whatever the document that linked it says.
fn refuse_address_literal(url: &str) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|_| format!("{url}: not a URL"))?;
    if parsed.domain().is_none() {
        return Err(format!("{url}: the host is an address, not a domain name"));
    }
    Ok(())
}

/// A node's NodeInfo document (the newest 2.x it links), found through its
/// `/.well-known/nodeinfo`; the document must be on the same host.
pub async fn fetch_nodeinfo(client: &reqwest::Client, scheme: &str, host: &str) -> Result<Value, String> {
    let links = get_small_json(client, &format!("{scheme}://{host}/.well-known/nodeinfo")).await?;
    let href = links
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|l| {
            l.get("rel")
                .and_then(Value::as_str)
                .is_some_and(|r| r.contains("nodeinfo.diaspora.software/ns/schema/2"))
        })
        .filter_map(|l| l.get("href").and_then(Value::as_str))
        .next_back()
        .ok_or_else(|| format!("{host} links no NodeInfo 2.x document"))?;
    let href_url = Url::parse(href).map_err(|_| format!("{host} links NodeInfo at an invalid URL"))?;
    if host_of(&href_url) != host {
        return Err(format!("{host} links NodeInfo on another host"));
    }
    get_small_json(client, href).await
}

/// The link relation by which a node names its instance actor (FEP-2677).
pub const INSTANCE_ACTOR_REL: &str = "https://www.w3.org/ns/activitystreams#Application";

/// Whether the node at `actor_id`'s host names `actor_id` as its instance
/// actor in its `/.well-known/nodeinfo` (FEP-2677). An `Application` it does
/// not name is an actor like any other: a Gancio calendar is followed so.
/// Unreachable or unreadable: not named.
pub async fn names_instance_actor(client: &reqwest::Client, actor_id: &Url) -> bool {
    let url = format!(
        "{}://{}/.well-known/nodeinfo",
        actor_id.scheme(),
        host_of(actor_id)
    );
    let Ok(links) = get_small_json(client, &url).await else {
        return false;
    };
    links
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|l| l.get("rel").and_then(Value::as_str) == Some(INSTANCE_ACTOR_REL))
        .filter_map(|l| l.get("href").and_then(Value::as_str))
        .any(|href| href == actor_id.as_str())
}

/// NodeInfo `software.name`, in lower case.
pub fn software_name(info: &Value) -> Option<String> {
    info.get("software")?
        .get("name")?
        .as_str()
        .map(|s| s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn address_literals_are_refused_before_any_connection() {
        // A plain client on purpose: without the guard it would connect to
        // these addresses directly (none of them resolves through DNS).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        for url in [
            "http://127.0.0.1:9/.well-known/nodeinfo",
            "https://10.0.0.1/nodeinfo/2.1",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/nodeinfo/2.0",
            "https://[::ffff:192.168.0.1]/nodeinfo/2.0",
        ] {
            let err = get_small_json(&client, url).await.expect_err(url);
            assert!(err.contains("address, not a domain name"), "{url}: {err}");
        }
        let err = get_small_json(&client, "not a url").await.expect_err("not a url");
        assert!(err.contains("not a URL"), "{err}");
    }
}
