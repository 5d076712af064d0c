//! Where garden activity goes: an item's `Create`, `Update` and `Delete` to
//! its author's followers, to every author up its chain of forks (so an
//! origin learns of its forks and their adoptions), and through the working
//! group it was published to; an adoption to the adopter's followers and up
//! the adopted item's chain.

use crate::{
    activities::{CreateAdoption, CreateGardenItem, DeleteGardenItem, create_garden_item::GardenChange},
    objects::{addressing, adoption::adoption_json, garden_item::article_of},
    publisher::{OutboxPublisher, actor_by_id},
    relay::{self, Effect, Relayed, internal},
};
use healthcommons_db::{
    DatabaseTransaction,
    entities::{actor, garden_item},
    queries,
};
use healthcommons_service::{ServiceResult, garden::Origin};
use serde::Serialize;

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
    /// A garden item's `Create` or `Update` (a new revision), from its author.
    pub(crate) async fn publish_garden_item(
        &self,
        txn: &DatabaseTransaction,
        item_id: i64,
        change: GardenChange,
    ) -> ServiceResult<()> {
        let urls = &self.context.node.urls;
        let item = item_by_id(txn, item_id).await?;
        let author = actor_by_id(txn, item.author_id.unwrap_or_default()).await?;
        let (name, effect) = match change {
            GardenChange::Create => ("create", Effect::Created),
            GardenChange::Update => ("update", Effect::Edited),
        };
        let article = article_of(txn, urls, &item).await.map_err(internal)?;
        let activity =
            CreateGardenItem::new(self.new_id(name)?, change, &author, article).map_err(internal)?;
        self.send_garden_change(txn, &item, &author, &activity, effect)
            .await
    }

    /// Its author deletes a garden item.
    pub(crate) async fn publish_garden_item_deletion(
        &self,
        txn: &DatabaseTransaction,
        item_id: i64,
    ) -> ServiceResult<()> {
        let item = item_by_id(txn, item_id).await?;
        let author = actor_by_id(txn, item.author_id.unwrap_or_default()).await?;
        let group = match item.group_id {
            Some(id) => Some(actor_by_id(txn, id).await?),
            None => None,
        };
        let (to, cc) = addressing(item.visibility, &author, group.as_ref(), vec![]).map_err(internal)?;
        let delete =
            DeleteGardenItem::new(self.new_id("delete")?, &author, &item.ap_id, to, cc).map_err(internal)?;
        self.send_garden_change(txn, &item, &author, &delete, Effect::Gone)
            .await
    }

    /// To the author's followers, up and down the item's chain of forks, and
    /// through the working group it was published to.
    async fn send_garden_change(
        &self,
        txn: &DatabaseTransaction,
        item: &garden_item::Model,
        author: &actor::Model,
        activity: &impl Serialize,
        effect: Effect,
    ) -> ServiceResult<()> {
        let group = match item.group_id {
            Some(id) => Some(actor_by_id(txn, id).await?),
            None => None,
        };
        let mut extra = chain_inboxes(txn, item).await?;
        extra.extend(fork_inboxes(txn, item).await?);
        let mut inboxes = relay::direct_inboxes(txn, item.visibility, author, extra).await?;
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
                    activity,
                    effect,
                )
                .await?;
                inboxes = announced.not_yet_reached(inboxes);
                inboxes.extend(announced.only_see_objects);
            } else {
                inboxes.push(group.inbox);
            }
        }
        relay::deliver(txn, &self.context, author, activity, inboxes).await
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
        let activity = CreateAdoption::new(self.new_id("create")?, &adopter, object).map_err(internal)?;
        // An adoption of a members-only item stays on this node, where the
        // group's members see it on the item's page.
        let chain = chain_inboxes(txn, &item).await?;
        let inboxes = relay::direct_inboxes(txn, item.visibility, &adopter, chain).await?;
        relay::deliver(txn, &self.context, &adopter, &activity, inboxes).await
    }
}
