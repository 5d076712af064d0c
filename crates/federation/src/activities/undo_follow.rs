//! `Undo{Follow}`: a remote follower leaves.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{EmbeddedFollow, actor_id, verify_same_origin},
    objects::actor::DbActor,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::UndoType, traits::Activity};
use healthcommons_db::entities::actor;
use healthcommons_service::follows;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoFollow {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UndoType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// Always the whole Follow: an Undo that only names an id could be the
    /// undo of anything, so it is not taken for an unfollow.
    pub object: EmbeddedFollow,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

impl UndoFollow {
    /// Our follower's Undo of its Follow, to the target.
    pub fn new(
        id: Url,
        follow_ap_id: &str,
        follower: &actor::Model,
        target: &actor::Model,
    ) -> Result<Self, FederationError> {
        Ok(UndoFollow {
            context: crate::publisher::AS_CONTEXT.into(),
            id,
            kind: Default::default(),
            actor: actor_id(follower)?,
            object: EmbeddedFollow::new(follow_ap_id, follower, target)?,
            to: vec![Url::parse(&target.ap_id)?],
        })
    }
}

#[async_trait::async_trait]
impl Activity for UndoFollow {
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
        if let Some(follower) = &self.object.actor
            && follower != self.actor.inner()
        {
            return Err(FederationError::Forbidden(
                "only the follower may undo a follow".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        let actor = self.actor.dereference(data).await?;
        follows::receive_undo_follow(
            &data.db,
            &actor.row,
            self.object.id.as_ref().map(Url::as_str),
            self.object.object.as_ref().map(Url::as_str),
        )
        .await?;
        Ok(())
    }
}
