//! Where pledge activity goes. A pledge's `Create` and `Update` go from the
//! person who pledged to their followers, to everyone counting on it, to
//! the author of what it is attached to, and to its working group (ours
//! announces it; another node's group gets it in its inbox and passes it
//! on). Counting on a pledge made elsewhere is a `Like` to the pledger.

use crate::{
    activities::{CountOnPledge, CreatePledge, StopCountingOnPledge, create_pledge::PledgeChange},
    objects::pledge::pledge_json,
    publisher::{OutboxPublisher, actor_by_id},
    relay::{self, Effect, Relayed, internal},
};
use healthcommons_db::{
    DatabaseTransaction,
    entities::{actor, pledge, pledge_backer},
    queries,
};
use healthcommons_service::{ServiceResult, pledges, policy::Viewer};

async fn pledge_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<pledge::Model> {
    queries::pledges::by_id(txn, id)
        .await?
        .ok_or_else(|| internal(format!("pledge {id} vanished while publishing")))
}

impl OutboxPublisher {
    /// A pledge's `Create` or `Update`, from who pledged.
    pub(crate) async fn publish_pledge(
        &self,
        txn: &DatabaseTransaction,
        pledge_id: i64,
        change: PledgeChange,
    ) -> ServiceResult<()> {
        let view = pledges::view(txn, Viewer::Node, pledge_id).await?;
        let pledge = &view.pledge;
        let author = view
            .author
            .clone()
            .ok_or_else(|| internal(format!("pledge {pledge_id} has no author")))?;
        let object = pledge_json(&view).map_err(internal)?;
        let (name, effect) = match change {
            PledgeChange::Create => ("create", Effect::Created),
            PledgeChange::Update => ("update", Effect::Edited),
        };
        let activity = CreatePledge::new(self.new_id(name)?, change, &author, object).map_err(internal)?;
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
        relay::deliver(txn, &self.context, &author, &activity, inboxes).await
    }

    /// A member counts on a pledge made elsewhere.
    pub(crate) async fn publish_count_on(
        &self,
        txn: &DatabaseTransaction,
        backer_id: i64,
    ) -> ServiceResult<()> {
        let backer = queries::pledges::backer_by_id(txn, backer_id)
            .await?
            .ok_or_else(|| internal(format!("backer {backer_id} vanished while publishing")))?;
        let (like, person, pledger) = self.counting_on(txn, &backer).await?;
        relay::deliver(txn, &self.context, &person, &like, vec![pledger.inbox]).await
    }

    /// A member no longer counts on a pledge made elsewhere.
    pub(crate) async fn publish_stop_counting_on(
        &self,
        txn: &DatabaseTransaction,
        backer: &pledge_backer::Model,
    ) -> ServiceResult<()> {
        let (like, person, pledger) = self.counting_on(txn, backer).await?;
        let undo = StopCountingOnPledge::new(self.new_id("undo")?, like);
        relay::deliver(txn, &self.context, &person, &undo, vec![pledger.inbox]).await
    }

    /// The `Like` that says a backer counts on a pledge, with the backer and who pledged.
    async fn counting_on(
        &self,
        txn: &DatabaseTransaction,
        backer: &pledge_backer::Model,
    ) -> ServiceResult<(CountOnPledge, actor::Model, actor::Model)> {
        let pledge = pledge_by_id(txn, backer.pledge_id).await?;
        let pledger = actor_by_id(txn, pledge.author_id).await?;
        let person = actor_by_id(txn, backer.actor_id).await?;
        let like = CountOnPledge::new(backer, &person, &pledge.ap_id, &pledger).map_err(internal)?;
        Ok((like, person, pledger))
    }
}
