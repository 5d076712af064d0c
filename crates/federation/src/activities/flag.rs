//! `Flag`: a report from another node (Mastodon's "forward to the remote
//! server", Lemmy's report) about posts or people here. It lands in the
//! reports queue of this node's moderators.

use crate::{
    FederationContext, FederationError, RequestData, activities::verify_same_origin, objects::actor::DbActor,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::FlagType, traits::Activity};
use healthcommons_core::text;
use healthcommons_db::queries::{self, reports::NewReport};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: FlagType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The reported actor and posts: one id or a list.
    pub object: Value,
    #[serde(default)]
    pub content: Option<String>,
    /// Lemmy puts the reason here.
    #[serde(default)]
    pub summary: Option<String>,
}

impl Flag {
    fn object_ids(&self) -> Vec<String> {
        let one = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        match &self.object {
            Value::Array(items) => items.iter().filter_map(one).collect(),
            other => one(other).into_iter().collect(),
        }
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
        queries::reports::insert(
            &data.db,
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
        Ok(())
    }
}
