//! `Follow`: a remote actor asks to follow (join) one of ours.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    objects::actor::DbActor,
    publisher::{AS_CONTEXT, OutboxPublisher},
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::FollowType, traits::Activity};
use healthcommons_db::entities::actor;
use healthcommons_service::follows;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Follow {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: FollowType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub object: ObjectId<DbActor>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

impl Follow {
    /// The Follow we send from `follower` to `target`.
    pub fn new(
        follow_ap_id: &str,
        follower: &actor::Model,
        target: &actor::Model,
    ) -> Result<Self, FederationError> {
        Ok(Follow {
            context: AS_CONTEXT.into(),
            id: Url::parse(follow_ap_id)?,
            kind: Default::default(),
            actor: actor_id(follower)?,
            object: actor_id(target)?,
            to: vec![Url::parse(&target.ap_id)?],
        })
    }
}

#[async_trait::async_trait]
impl Activity for Follow {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, data: &RequestData) -> Result<(), FederationError> {
        verify_same_origin(&self.id, self.actor.inner())?;
        if !self.object.is_local(data) {
            return Err(FederationError::Invalid(
                "the followed actor is not on this node".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let follower = self.actor.dereference(data).await?;
        // How this follower's node reads group activity decides what we send it.
        crate::relay::learn_software(data, self.actor.inner()).await;
        let target = self.object.dereference_local(data).await?;
        follows::receive_follow(
            &data.db,
            &OutboxPublisher::new(data),
            self.id.as_str(),
            &follower.row,
            &target.row,
        )
        .await?;
        Ok(())
    }
}
