//! WebFinger, host-meta and NodeInfo documents.

use activitypub_federation::fetch::webfinger::{Webfinger, build_webfinger_response_with_type};
use serde_json::{Value, json};
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
            {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": format!("{base}/actor")}
        ]
    })
}

pub struct NodeStats {
    pub users: u64,
    pub local_posts: u64,
    pub open_registrations: bool,
    pub initiative_name: String,
    pub description: String,
    pub groups: u64,
}

/// NodeInfo 2.0 or 2.1 (`version` is "2.0" or "2.1").
pub fn nodeinfo(version: &str, stats: &NodeStats) -> Value {
    let software = json!({"name": SOFTWARE_NAME, "version": SOFTWARE_VERSION});
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
            "nodeName": stats.initiative_name,
            "nodeDescription": stats.description,
            "initiative": {"name": stats.initiative_name, "description": stats.description},
            "workingGroups": stats.groups
        }
    })
}
