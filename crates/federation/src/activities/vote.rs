//! A vote on a local question, as Mastodon sends it: `Create` of a `Note`
//! whose `name` is the option chosen, in reply to the question, addressed
//! to its author. One vote per actor (per option, for several choices).

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::{actor::DbActor, question::vote_parts},
    publisher::OutboxPublisher,
};
use activitypub_federation::{
    fetch::object_id::ObjectId,
    kinds::{activity::CreateType, object::NoteType},
    traits::Activity,
};
use healthcommons_db::{
    entities::{actor, vote},
    queries,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: CreateType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The `Note` (checked by `vote_parts`).
    pub object: Value,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

/// A vote of ours, as Mastodon sends one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoteNote {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: NoteType,
    /// The option chosen.
    pub name: String,
    pub attributed_to: Url,
    /// The question.
    pub in_reply_to: Url,
    pub to: Vec<Url>,
}

impl Vote {
    /// A member's vote for `option` on a question asked elsewhere, to its author.
    pub fn new(
        vote: &vote::Model,
        voter: &actor::Model,
        option: &str,
        question_ap_id: &str,
        author: &actor::Model,
    ) -> Result<Self, FederationError> {
        let author_id = Url::parse(&author.ap_id)?;
        let note = VoteNote {
            id: Url::parse(&vote.ap_id)?,
            kind: Default::default(),
            name: option.to_owned(),
            attributed_to: Url::parse(&voter.ap_id)?,
            in_reply_to: Url::parse(question_ap_id)?,
            to: vec![author_id.clone()],
        };
        Ok(Vote {
            id: Url::parse(&format!("{}/activity", vote.ap_id))?,
            kind: Default::default(),
            actor: actor_id(voter)?,
            object: serde_json::to_value(note)?,
            to: vec![author_id],
        })
    }

    fn parts(&self) -> Result<(String, Url, Url), FederationError> {
        let (name, question) =
            vote_parts(&self.object).ok_or_else(|| FederationError::Invalid("not a vote".into()))?;
        let id = crate::objects::id_of(&self.object)
            .ok_or_else(|| FederationError::Invalid("a vote without an id".into()))?;
        Ok((name, question, id))
    }
}

#[async_trait::async_trait]
impl Activity for Vote {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &RequestData) -> Result<(), FederationError> {
        verify_same_origin(&self.id, self.actor.inner())?;
        let (_, _, id) = self.parts()?;
        verify_same_origin(&id, self.actor.inner())?;
        let author = self.object.get("attributedTo").and_then(crate::objects::id_of);
        if author.as_ref() != Some(self.actor.inner()) {
            return Err(FederationError::Forbidden(
                "a vote is cast by its own actor".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let (name, question_id, vote_id) = self.parts()?;
        let question = queries::agenda::by_ap_id(&data.db, question_id.as_str())
            .await?
            .ok_or(FederationError::NotFound)?;
        let voter = self.actor.dereference(data).await?;
        healthcommons_service::agenda::receive_vote(
            &data.db,
            &OutboxPublisher::new(data),
            &question,
            &voter.row,
            &name,
            vote_id.as_str(),
        )
        .await?;
        Ok(())
    }
}
