//! Where garden activity goes: an item's `Create`, `Update` and `Delete` to
//! its author's followers, to every author up its chain of forks (so an
//! origin learns of its forks and their adoptions), and through the working
//! group it was published to; an adoption to the adopter's followers and up
//! the adopted item's chain.

use crate::{
    objects::{
        addressing,
        adoption::adoption_json,
        garden_item::{article_of, context_value},
    },
    publisher::{AS_CONTEXT, OutboxPublisher, actor_by_id, to_value},
    relay::{self, Effect, Relayed, internal},
};
use healthcommons_db::{DatabaseTransaction, entities::garden_item, queries};
use healthcommons_service::{Outgoing, ServiceResult, garden::Origin};
use serde_json::json;

async fn item_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<garden_item::Model> {
    queries::garden::by_id(txn, id)
        .await?
        .ok_or_else(|| internal(format!("garden item {id} vanished while publishing")))
}

/// Inboxes of the remote authors of `item` and of every item up its chain.
async fn chain_inboxes(txn: &DatabaseTransaction, item: &garden_item::Model) -> ServiceResult<Vec<String>> {
    let mut ids: Vec<String> = serde_json::from_str::<Vec<Origin>>(&item.provenance)
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.id)
        .collect();
    ids.push(item.ap_id.clone());
    let items = queries::garden::by_ap_ids(txn, ids).await?;
    let authors = queries::actors::by_ids(txn, items.iter().filter_map(|i| i.author_id).collect()).await?;
    Ok(authors
        .into_iter()
        .filter(|a| !a.local)
        .map(|a| a.inbox)
        .collect())
}

/// Inboxes of the remote authors of the forks of `item` known here: they
/// hear of each new revision (to pull it) and of the item's deletion.
async fn fork_inboxes(txn: &DatabaseTransaction, item: &garden_item::Model) -> ServiceResult<Vec<String>> {
    let forks = queries::garden::forks_of(txn, &item.ap_id).await?;
    let authors = queries::actors::by_ids(txn, forks.iter().filter_map(|f| f.author_id).collect()).await?;
    Ok(authors
        .into_iter()
        .filter(|a| !a.local)
        .map(|a| a.inbox)
        .collect())
}

impl OutboxPublisher {
    pub(crate) async fn publish_garden_item(
        &self,
        txn: &DatabaseTransaction,
        outgoing: Outgoing,
    ) -> ServiceResult<()> {
        let urls = &self.context.node.urls;
        let (item_id, kind, effect) = match outgoing {
            Outgoing::CreateGardenItem { item_id } => (item_id, "Create", Effect::Created),
            Outgoing::UpdateGardenItem { item_id } => (item_id, "Update", Effect::Edited),
            Outgoing::DeleteGardenItem { item_id } => (item_id, "Delete", Effect::Gone),
            other => return Err(internal(format!("not a garden item change: {other:?}"))),
        };
        let item = item_by_id(txn, item_id).await?;
        let author = actor_by_id(txn, item.author_id.unwrap_or_default()).await?;
        let group = match item.group_id {
            Some(id) => Some(actor_by_id(txn, id).await?),
            None => None,
        };
        let activity = if kind == "Delete" {
            let (to, cc) = addressing(item.visibility, &author, group.as_ref(), vec![]).map_err(internal)?;
            json!({
                "@context": AS_CONTEXT,
                "id": urls.new_activity("delete"),
                "type": "Delete",
                "actor": author.ap_id,
                "object": item.ap_id,
                "to": to,
                "cc": cc,
            })
        } else {
            let article = article_of(txn, urls, &item).await.map_err(internal)?;
            json!({
                "@context": context_value(),
                "id": urls.new_activity(&kind.to_ascii_lowercase()),
                "type": kind,
                "actor": author.ap_id,
                "object": to_value(&article)?,
                "to": article.to,
                "cc": article.cc,
            })
        };
        let mut extra = chain_inboxes(txn, &item).await?;
        extra.extend(fork_inboxes(txn, &item).await?);
        let mut inboxes = relay::direct_inboxes(txn, item.visibility, &author, extra).await?;
        if let Some(group) = group {
            if group.local {
                let announced = relay::announce(
                    txn,
                    &self.context,
                    &group,
                    &Relayed::standalone(
                        &group,
                        "garden",
                        item.id,
                        &item.ap_id,
                        item.visibility,
                        item.published,
                    ),
                    &activity,
                    effect,
                )
                .await?;
                inboxes = announced.not_yet_reached(inboxes);
                inboxes.extend(announced.only_see_objects);
            } else {
                inboxes.push(group.inbox);
            }
        }
        relay::deliver(txn, &self.context, &author, activity, inboxes).await
    }

    pub(crate) async fn publish_adoption(
        &self,
        txn: &DatabaseTransaction,
        adoption_id: i64,
    ) -> ServiceResult<()> {
        let adoption = queries::garden::adoption_by_id(txn, adoption_id)
            .await?
            .ok_or_else(|| internal("an adoption vanished while publishing"))?;
        let item = item_by_id(txn, adoption.item_id).await?;
        let adopter = actor_by_id(txn, adoption.actor_id).await?;
        let group = match item.group_id {
            Some(id) => Some(actor_by_id(txn, id).await?),
            None => None,
        };
        let object = adoption_json(&adoption, &item, group.as_ref(), &adopter).map_err(internal)?;
        let activity = json!({
            "@context": context_value(),
            "id": self.context.node.urls.new_activity("create"),
            "type": "Create",
            "actor": adopter.ap_id,
            "object": to_value(&object)?,
            "to": object.to,
            "cc": object.cc,
        });
        // An adoption of a members-only item stays on this node, where the
        // group's members see it on the item's page.
        let chain = chain_inboxes(txn, &item).await?;
        let inboxes = relay::direct_inboxes(txn, item.visibility, &adopter, chain).await?;
        relay::deliver(txn, &self.context, &adopter, activity, inboxes).await
    }
}
