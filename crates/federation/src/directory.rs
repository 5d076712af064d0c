//! The directory crawler: a background task that fetches the profiles of the
//! nodes this node knows, and of the peers they publish.
//!
//! Each round puts the hosts met through federation in the directory, then
//! visits every node that is due (see `healthcommons_service::directory`): it
//! reads the node's NodeInfo (`metadata.initiative`) and, for nodes that run
//! an initiative, the list at `metadata.directoryPeers`. Visits run a few at
//! a time, each with its own deadline, so one slow or failing host never
//! holds up the rest.

use crate::{
    FederationContext,
    discovery::{self, InitiativeMetadata},
    objects::actor::host_of,
};
use futures::StreamExt;
use healthcommons_db::entities::directory_node;
use healthcommons_service::{ServiceError, ServiceResult, directory};
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, warn};
use url::Url;

/// Nodes visited at once.
const CONCURRENT_VISITS: usize = 4;

/// Crawl every `settings.directory_interval` until the process ends.
pub async fn run(context: FederationContext) {
    loop {
        if let Err(err) = crawl_once(&context).await {
            warn!(%err, "the directory crawl failed");
        }
        tokio::time::sleep(context.settings.directory_interval).await;
    }
}

/// One round; returns how many nodes were visited.
pub async fn crawl_once(context: &FederationContext) -> ServiceResult<usize> {
    let policy = &context.settings.directory_policy;
    directory::learn_met_hosts(&context.db, &context.node).await?;
    let due = directory::due_for_fetch(&context.db, policy, chrono::Utc::now()).await?;
    let visited = due.len();
    futures::stream::iter(due)
        .for_each_concurrent(CONCURRENT_VISITS, |node| async move {
            if let Err(err) = visit(context, &node).await {
                warn!(%err, host = %node.host, "could not update a directory entry");
            }
        })
        .await;
    Ok(visited)
}

/// Fetch one node's profile and, if it runs an initiative, its peers.
async fn visit(context: &FederationContext, node: &directory_node::Model) -> ServiceResult<()> {
    let info = match discovery::fetch_nodeinfo(&context.client, context.scheme(), &node.host).await {
        Ok(info) => info,
        Err(reason) => {
            debug!(host = %node.host, %reason, "no NodeInfo");
            return directory::record_failure(&context.db, &node.host, &reason).await;
        }
    };
    let software = discovery::software_name(&info);
    let metadata = info.get("metadata");
    let Some(initiative) = metadata.and_then(|m| m.get("initiative")) else {
        // Not a Health Commons node (Mastodon, Lemmy, …): remembered, not shown.
        return directory::record_no_profile(&context.db, &node.host, software.as_deref()).await;
    };
    // A profile that does not parse or does not validate is a failure to
    // record, not a node without a profile (which would wipe the one we had).
    let initiative = match InitiativeMetadata::deserialize(initiative) {
        Ok(initiative) => initiative,
        Err(err) => {
            let reason = format!("its profile does not parse: {err}");
            return directory::record_failure(&context.db, &node.host, &reason).await;
        }
    };
    match directory::record_profile(&context.db, &node.host, initiative.into(), software.as_deref()).await {
        Err(err) if matches!(err, ServiceError::Rejected { .. }) => {
            let reason = format!("its profile was refused: {}", err.public_message());
            return directory::record_failure(&context.db, &node.host, &reason).await;
        }
        other => other?,
    }
    let Some(peers_url) = metadata
        .and_then(|m| m.get("directoryPeers"))
        .and_then(Value::as_str)
        .and_then(|url| Url::parse(url).ok())
        .filter(|url| host_of(url) == node.host)
    else {
        return Ok(());
    };
    match discovery::get_small_json(&context.client, peers_url.as_str()).await {
        Ok(Value::Array(hosts)) => {
            let hosts: Vec<String> = hosts
                .iter()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect();
            let policy = &context.settings.directory_policy;
            let new = directory::learn_from_peer(&context.db, &context.node, policy, node, &hosts).await?;
            debug!(host = %node.host, new, "learned peers of a peer");
        }
        Ok(_) => debug!(host = %node.host, "its peer list is not a JSON array"),
        Err(reason) => debug!(host = %node.host, %reason, "no peer list"),
    }
    Ok(())
}
