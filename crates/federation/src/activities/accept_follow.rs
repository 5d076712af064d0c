//! `Accept{Follow}`: the target of a follow we sent lets us in.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{EmbeddedFollow, FollowRef, actor_id, receive_follow_answer, verify_follow_answer},
    backfill,
    objects::actor::DbActor,
};
use activitypub_federation::{fetch::object_id::ObjectId, kinds::activity::AcceptType, traits::Activity};
use healthcommons_db::entities::ActorKind;
use healthcommons_db::entities::actor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptFollow {
    #[serde(rename = "@context", default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: AcceptType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: FollowRef,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
}

impl AcceptFollow {
    /// Our Accept of a Follow, from its target to the follower.
    pub fn new(
        id: Url,
        follow_ap_id: &str,
        follower: &actor::Model,
        target: &actor::Model,
    ) -> Result<Self, FederationError> {
        Ok(AcceptFollow {
            context: crate::publisher::AS_CONTEXT.into(),
            id,
            kind: Default::default(),
            actor: actor_id(target)?,
            object: FollowRef::Embedded(EmbeddedFollow::new(follow_ap_id, follower, target)?),
            to: vec![Url::parse(&follower.ap_id)?],
        })
    }
}

#[async_trait::async_trait]
impl Activity for AcceptFollow {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &RequestData) -> Result<(), FederationError> {
        verify_follow_answer(&self.id, self.actor.inner(), &self.object)
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        receive_follow_answer(&self.actor, &self.object, true, data).await?;
        // Joined a working group elsewhere: fetch what it has been discussing.
        let group = self.actor.dereference(data).await?.row;
        if group.kind == ActorKind::Group && !group.local {
            backfill::spawn(group, data);
        }
        Ok(())
    }
}
