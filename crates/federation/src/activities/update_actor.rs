//! `Update` of an actor's profile: by the actor itself (Mastodon, Lemmy and
//! the rest send it when a name, a description or a key changes), or of a
//! working group by one of its moderators (Lemmy). An actor's own update is
//! checked like any actor document and stored; a moderator's copy of a group
//! comes from another origin, so the group is fetched again from its own.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::verify_same_origin,
    moderators::verify_moderator,
    objects::actor::{ApActor, DbActor, verify_actor_json},
};
use activitypub_federation::{
    fetch::object_id::ObjectId,
    kinds::activity::UpdateType,
    traits::{Activity, Object},
};
use healthcommons_db::entities::ActorKind;
use healthcommons_db::queries;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateActor {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UpdateType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: Box<ApActor>,
}

#[async_trait::async_trait]
impl Activity for UpdateActor {
    type DataType = FederationContext;
    type Error = FederationError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &RequestData) -> Result<(), FederationError> {
        verify_same_origin(&self.id, self.actor.inner())
    }

    async fn receive(self, data: &RequestData) -> Result<(), FederationError> {
        if let Some(known) = queries::actors::by_ap_id(&data.db, self.object.id.as_str()).await?
            && known.local
        {
            return Err(FederationError::Forbidden(
                "this node's actors are changed here, not from elsewhere".into(),
            ));
        }
        if &self.object.id == self.actor.inner() {
            verify_actor_json(&self.object, self.actor.inner())?;
            DbActor::from_json(*self.object, data).await?;
            return Ok(());
        }
        let group = ObjectId::<DbActor>::from(self.object.id.clone())
            .dereference(data)
            .await?
            .row;
        if group.kind != ActorKind::Group {
            return Err(FederationError::Forbidden(
                "only an actor itself may update its profile".into(),
            ));
        }
        let moderator = self.actor.dereference(data).await?.row;
        verify_moderator(&moderator, &group, data).await?;
        ObjectId::<DbActor>::from(self.object.id)
            .dereference_forced(data)
            .await?;
        Ok(())
    }
}
