//! `Flag`: a report from another node (Mastodon's "forward to the remote
//! server", Lemmy's report) about posts or people here. It lands in the
//! reports queue of this node's moderators.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::actor::DbActor,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::FlagType, traits::Activity};
use healthcommons_core::text;
use healthcommons_db::{
    TransactionTrait,
    entities::{actor, report},
    queries::{self, reports::NewReport},
};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: FlagType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The reported actor and posts: one id or a list.
    #[serde(deserialize_with = "crate::objects::post::urls_of")]
    pub object: Vec<Url>,
    #[serde(default)]
    pub content: Option<String>,
    /// Lemmy puts the reason here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

impl Flag {
    /// Our report to the reported actor's node, from this node's instance
    /// actor (as Mastodon does, so the reporter stays anonymous there).
    pub fn new(
        report: &report::Model,
        instance: &actor::Model,
        reported: &actor::Model,
        post_ids: &[String],
    ) -> Result<Self, FederationError> {
        let reported_id = Url::parse(&reported.ap_id)?;
        let mut object = vec![reported_id.clone()];
        for post in post_ids {
            object.push(Url::parse(post)?);
        }
        Ok(Flag {
            id: Url::parse(&report.ap_id)?,
            kind: Default::default(),
            actor: actor_id(instance)?,
            object,
            content: Some(report.content.clone()),
            summary: None,
            to: vec![reported_id],
        })
    }

    fn object_ids(&self) -> Vec<String> {
        self.object.iter().map(Url::to_string).collect()
    }
}

#[async_trait::async_trait]
impl Activity for Flag {
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
        if self.object_ids().is_empty() {
            return Err(FederationError::Invalid("Flag names nothing reported".into()));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let reporter = self.actor.dereference(data).await?;
        let mut target = None;
        let mut post_ids = Vec::new();
        let mut group_id = None;
        for id in self.object_ids() {
            if let Some(post) = queries::posts::by_ap_id(&data.db, &id).await? {
                target = target.or(post.author_id);
                group_id = group_id.or(post.group_id);
                post_ids.push(post.ap_id);
            } else if let Some(actor) = queries::actors::by_ap_id(&data.db, &id).await? {
                target = Some(actor.id);
            }
        }
        if target.is_none() && post_ids.is_empty() {
            return Err(FederationError::NotFound);
        }
        let comment = self
            .content
            .as_deref()
            .or(self.summary.as_deref())
            .unwrap_or_default();
        // The report and the moderators' notifications are stored together;
        // a repeated Flag is stored, and told, once.
        let txn = data.db.begin().await?;
        let stored = queries::reports::insert(
            &txn,
            NewReport {
                ap_id: self.id.as_str(),
                reporter_id: reporter.row.id,
                target_id: target,
                post_ids: &post_ids,
                group_id,
                content: &text::plain_text(comment, 2000),
                incoming: true,
            },
        )
        .await?;
        if let Some(report) = stored {
            healthcommons_service::notifications::report_filed(&txn, &report).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
