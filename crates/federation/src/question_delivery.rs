//! Where agenda activity goes. A question's `Create` and `Update` (new
//! totals) go from its author to their followers and to everyone who voted
//! from elsewhere, and through its working group. A member's vote on a
//! question asked elsewhere goes to the question's author, as Mastodon
//! sends it.

use crate::{
    objects::question::{question_context, question_of},
    publisher::{OutboxPublisher, actor_by_id, to_value},
    relay::{self, Effect, Relayed, internal},
};
use healthcommons_db::{DatabaseTransaction, entities::question, queries};
use healthcommons_service::{Outgoing, ServiceResult};
use serde_json::json;

async fn question_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<question::Model> {
    queries::agenda::by_id(txn, id)
        .await?
        .ok_or_else(|| internal(format!("question {id} vanished while publishing")))
}

impl OutboxPublisher {
    pub(crate) async fn publish_agenda(
        &self,
        txn: &DatabaseTransaction,
        outgoing: Outgoing,
    ) -> ServiceResult<()> {
        match outgoing {
            Outgoing::CreateQuestion { question_id } => {
                self.publish_question(txn, question_id, "Create").await
            }
            Outgoing::UpdateQuestion { question_id } => {
                self.publish_question(txn, question_id, "Update").await
            }
            Outgoing::Vote {
                question_id,
                vote_ids,
            } => self.publish_votes(txn, question_id, &vote_ids).await,
            other => Err(internal(format!("not an agenda activity: {other:?}"))),
        }
    }

    async fn publish_question(
        &self,
        txn: &DatabaseTransaction,
        question_id: i64,
        kind: &str,
    ) -> ServiceResult<()> {
        let question = question_by_id(txn, question_id).await?;
        let author = actor_by_id(txn, question.author_id.unwrap_or_default()).await?;
        let object = question_of(txn, &question).await.map_err(internal)?;
        let activity = json!({
            "@context": question_context(),
            "id": self.context.node.urls.new_activity(&kind.to_ascii_lowercase()),
            "type": kind,
            "actor": author.ap_id,
            "object": to_value(&object)?,
            "to": object.to,
            "cc": object.cc,
            "audience": object.audience,
        });
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
                let effect = if kind == "Create" {
                    Effect::Created
                } else {
                    Effect::Edited
                };
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
        relay::deliver(txn, &self.context, &author, activity, inboxes).await
    }

    async fn publish_votes(
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
            let activity = json!({
                "id": format!("{}/activity", vote.ap_id),
                "type": "Create",
                "actor": voter.ap_id,
                "object": {
                    "id": vote.ap_id,
                    "type": "Note",
                    "name": name,
                    "attributedTo": voter.ap_id,
                    "inReplyTo": question.ap_id,
                    "to": [author.ap_id],
                },
                "to": [author.ap_id],
            });
            relay::deliver(txn, &self.context, &voter, activity, vec![author.inbox.clone()]).await?;
        }
        Ok(())
    }
}
