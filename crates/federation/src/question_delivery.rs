//! Where agenda activity goes. A question's `Create` and `Update` (new
//! totals) go from its author to their followers and to everyone who voted
//! from elsewhere, and through its working group. A member's vote on a
//! question asked elsewhere goes to the question's author, as Mastodon
//! sends it.

use crate::{
    activities::{CreateQuestion, Vote, create_question::QuestionChange},
    objects::question::question_of,
    publisher::{OutboxPublisher, actor_by_id},
    relay::{self, Effect, Relayed, internal},
};
use healthcommons_db::{DatabaseTransaction, entities::question, queries};
use healthcommons_service::ServiceResult;

async fn question_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<question::Model> {
    queries::agenda::by_id(txn, id)
        .await?
        .ok_or_else(|| internal(format!("question {id} vanished while publishing")))
}

impl OutboxPublisher {
    /// A question's `Create`, or its `Update` with new totals.
    pub(crate) async fn publish_question(
        &self,
        txn: &DatabaseTransaction,
        question_id: i64,
        change: QuestionChange,
    ) -> ServiceResult<()> {
        let question = question_by_id(txn, question_id).await?;
        let author = actor_by_id(txn, question.author_id.unwrap_or_default()).await?;
        let object = question_of(txn, &question).await.map_err(internal)?;
        let (name, effect) = match change {
            QuestionChange::Create => ("create", Effect::Created),
            QuestionChange::Update => ("update", Effect::Edited),
        };
        let activity = CreateQuestion::new(self.new_id(name)?, change, &author, object).map_err(internal)?;
        let voters =
            queries::actors::by_ids(txn, queries::agenda::voter_ids(txn, question.id).await?).await?;
        let voter_inboxes = voters
            .into_iter()
            .filter(|v| !v.local)
            .map(|v| v.shared_inbox.unwrap_or(v.inbox))
            .collect();
        let mut inboxes = relay::direct_inboxes(txn, question.visibility, &author, voter_inboxes).await?;
        if let Some(group_id) = question.group_id {
            let group = actor_by_id(txn, group_id).await?;
            if group.local {
                let announced = relay::announce(
                    txn,
                    &self.context,
                    &group,
                    &Relayed::standalone(
                        &group,
                        "questions",
                        question.id,
                        &question.ap_id,
                        question.visibility,
                        question.published,
                    ),
                    &activity,
                    effect,
                )
                .await?;
                inboxes = announced.not_yet_reached(inboxes);
                inboxes.extend(announced.only_see_objects);
            }
        }
        relay::deliver(txn, &self.context, &author, &activity, inboxes).await
    }

    pub(crate) async fn publish_votes(
        &self,
        txn: &DatabaseTransaction,
        question_id: i64,
        vote_ids: &[i64],
    ) -> ServiceResult<()> {
        let question = question_by_id(txn, question_id).await?;
        let author = actor_by_id(txn, question.author_id.unwrap_or_default()).await?;
        let options = queries::agenda::options(txn, question.id).await?;
        for vote_id in vote_ids {
            let Some(vote) = queries::agenda::vote_by_id(txn, *vote_id).await? else {
                continue;
            };
            let voter = actor_by_id(txn, vote.actor_id).await?;
            let name = options
                .iter()
                .find(|o| o.id == vote.option_id)
                .map(|o| o.name.clone())
                .ok_or_else(|| internal("a vote for an option that is gone"))?;
            let activity = Vote::new(&vote, &voter, &name, &question.ap_id, &author).map_err(internal)?;
            relay::deliver(txn, &self.context, &voter, &activity, vec![author.inbox.clone()]).await?;
        }
        Ok(())
    }
}
