//! Where pledge activity goes. A pledge's `Create` and `Update` go from the
//! person who pledged to their followers, to everyone counting on it, to
//! the author of what it is attached to, and to its working group (ours
//! announces it; another node's group gets it in its inbox and passes it
//! on). Counting on a pledge made elsewhere is a `Like` to the pledger.

use crate::{
    objects::pledge::{pledge_context, pledge_json},
    publisher::{OutboxPublisher, actor_by_id, to_value},
    relay::{self, Effect, Relayed, internal},
};
use healthcommons_db::{
    DatabaseTransaction,
    entities::{pledge, pledge_backer},
    queries,
};
use healthcommons_service::{Outgoing, ServiceResult, pledges, policy::Viewer};
use serde_json::{Value, json};

async fn pledge_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<pledge::Model> {
    queries::pledges::by_id(txn, id)
        .await?
        .ok_or_else(|| internal(format!("pledge {id} vanished while publishing")))
}

/// The `Like` that says a backer counts on a pledge.
fn like_json(backer: &pledge_backer::Model, backer_ap_id: &str, pledge: &pledge::Model, to: &str) -> Value {
    json!({
        "@context": crate::publisher::AS_CONTEXT,
        "id": backer.ap_id,
        "type": "Like",
        "actor": backer_ap_id,
        "object": pledge.ap_id,
        "to": [to],
    })
}

impl OutboxPublisher {
    pub(crate) async fn publish_pledges(
        &self,
        txn: &DatabaseTransaction,
        outgoing: Outgoing,
    ) -> ServiceResult<()> {
        match outgoing {
            Outgoing::CreatePledge { pledge_id } => self.publish_pledge(txn, pledge_id, "Create").await,
            Outgoing::UpdatePledge { pledge_id } => self.publish_pledge(txn, pledge_id, "Update").await,
            Outgoing::CountOnPledge { backer_id } => {
                let backer = queries::pledges::backer_by_id(txn, backer_id)
                    .await?
                    .ok_or_else(|| internal(format!("backer {backer_id} vanished while publishing")))?;
                self.publish_backing(txn, &backer, true).await
            }
            Outgoing::StopCountingOnPledge { backer } => self.publish_backing(txn, &backer, false).await,
            other => Err(internal(format!("not a pledge activity: {other:?}"))),
        }
    }

    async fn publish_pledge(
        &self,
        txn: &DatabaseTransaction,
        pledge_id: i64,
        kind: &str,
    ) -> ServiceResult<()> {
        let view = pledges::view(txn, Viewer::Node, pledge_id).await?;
        let pledge = &view.pledge;
        let author = view
            .author
            .clone()
            .ok_or_else(|| internal(format!("pledge {pledge_id} has no author")))?;
        let object = pledge_json(&view).map_err(internal)?;
        let activity = json!({
            "@context": pledge_context(),
            "id": self.context.node.urls.new_activity(&kind.to_ascii_lowercase()),
            "type": kind,
            "actor": author.ap_id,
            "object": to_value(&object)?,
            "to": object.to,
            "cc": object.cc,
            "audience": object.audience,
        });
        let mut extra: Vec<String> = pledges::backers(txn, Viewer::Node, pledge.id)
            .await?
            .into_iter()
            .filter(|b| !b.local)
            .map(|b| b.shared_inbox.unwrap_or(b.inbox))
            .collect();
        if let Some(target_author) = view.target.as_ref().and_then(|t| t.author_id) {
            let target_author = actor_by_id(txn, target_author).await?;
            if !target_author.local {
                extra.push(target_author.inbox);
            }
        }
        let mut inboxes = relay::direct_inboxes(txn, pledge.visibility, &author, extra).await?;
        if let Some(group) = &view.group {
            if group.local {
                let effect = if kind == "Create" {
                    Effect::Created
                } else {
                    Effect::Edited
                };
                let announced = relay::announce(
                    txn,
                    &self.context,
                    group,
                    &Relayed::standalone(
                        group,
                        "pledges",
                        pledge.id,
                        &pledge.ap_id,
                        pledge.visibility,
                        pledge.published,
                    ),
                    &activity,
                    effect,
                )
                .await?;
                inboxes = announced.not_yet_reached(inboxes);
                inboxes.extend(announced.only_see_objects);
            } else {
                inboxes.push(group.inbox.clone());
            }
        }
        relay::deliver(txn, &self.context, &author, activity, inboxes).await
    }

    async fn publish_backing(
        &self,
        txn: &DatabaseTransaction,
        backer: &pledge_backer::Model,
        counting: bool,
    ) -> ServiceResult<()> {
        let pledge = pledge_by_id(txn, backer.pledge_id).await?;
        let pledger = actor_by_id(txn, pledge.author_id).await?;
        let person = actor_by_id(txn, backer.actor_id).await?;
        let like = like_json(backer, &person.ap_id, &pledge, &pledger.ap_id);
        let activity = if counting {
            like
        } else {
            json!({
                "@context": crate::publisher::AS_CONTEXT,
                "id": self.context.node.urls.new_activity("undo"),
                "type": "Undo",
                "actor": person.ap_id,
                "object": like,
                "to": [pledger.ap_id],
            })
        };
        relay::deliver(txn, &self.context, &person, activity, vec![pledger.inbox.clone()]).await
    }
}
