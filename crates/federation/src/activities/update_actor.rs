//! `Update` of an actor's profile: by the actor itself (Mastodon, Lemmy and
//! the rest send it when a name, a description or a key changes), or of a
//! working group by one of its moderators (Lemmy). An actor's own update is
//! checked like any actor document and stored; a moderator's copy of a group
//! comes from another origin, so the group is fetched again from its own.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{actor_id, verify_same_origin},
    moderators::verify_moderator,
    objects::actor::{ApActor, DbActor, verify_actor_json},
};
use activitypub_federation::{
    fetch::object_id::ObjectId,
    kinds::{activity::UpdateType, public},
    traits::{Activity, Object},
};
use healthcommons_db::entities::{ActorKind, actor};
use healthcommons_db::queries;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateActor {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: UpdateType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    pub object: Box<ApActor>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
}

impl UpdateActor {
    /// A local actor's new profile, to everyone and its followers.
    pub fn new(id: Url, actor: &actor::Model, profile: ApActor) -> Result<Self, FederationError> {
        Ok(UpdateActor {
            id,
            kind: Default::default(),
            actor: actor_id(actor)?,
            object: Box::new(profile),
            to: vec![public()],
            cc: actor
                .followers_url
                .as_deref()
                .map(Url::parse)
                .transpose()?
                .into_iter()
                .collect(),
        })
    }
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
