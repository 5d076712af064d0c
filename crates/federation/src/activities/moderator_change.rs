//! `Add` and `Remove` of a person on a working group's moderators collection
//! (Lemmy's and Mbin's shape), by one of its moderators. `Add`/`Remove` on
//! other collections (Lemmy's `featured`: pinned posts) are recorded as not
//! handled before they get here.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{Addressing, actor_id, verify_same_origin},
    moderators::{group_of_collection, verify_moderator},
    objects::actor::DbActor,
    relay,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, protocol::helpers::deserialize_skip_error, traits::Activity,
};
use healthcommons_db::entities::{ActorKind, actor};
use healthcommons_db::queries;
use healthcommons_service::urls::NodeUrls;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ModeratorChangeKind {
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeratorChange {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: ModeratorChangeKind,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The person added or removed.
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub object: ObjectId<DbActor>,
    /// The group's moderators collection.
    pub target: Url,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    #[serde(skip)]
    pub raw: Value,
}

impl ModeratorChange {
    /// A moderator adds `person` to the group's moderators, or removes them.
    pub fn new(
        id: Url,
        kind: ModeratorChangeKind,
        moderator: &actor::Model,
        person: &actor::Model,
        group: &actor::Model,
        addressing: Addressing,
    ) -> Result<Self, FederationError> {
        Ok(ModeratorChange {
            id,
            kind,
            actor: actor_id(moderator)?,
            object: actor_id(person)?,
            target: Url::parse(&NodeUrls::moderators_of(&group.ap_id))?,
            to: addressing.to,
            cc: addressing.cc,
            audience: addressing.audience,
            raw: Value::Null,
        })
    }
}

#[async_trait::async_trait]
impl Activity for ModeratorChange {
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
        let group = group_of_collection(&self.target, data)
            .await?
            .ok_or_else(|| FederationError::Invalid("the target is no working group's moderators".into()))?;
        let actor = self.actor.dereference(data).await?.row;
        verify_moderator(&actor, &group, data).await?;
        let person = self.object.dereference(data).await?.row;
        if person.kind != ActorKind::Person {
            return Err(FederationError::Invalid(
                "only people moderate working groups".into(),
            ));
        }
        match self.kind {
            ModeratorChangeKind::Add => {
                if group.local
                    && queries::groups::ban(&data.db, group.id, person.id)
                        .await?
                        .is_some()
                {
                    return Err(FederationError::Forbidden(
                        "a banned person cannot moderate".into(),
                    ));
                }
                queries::groups::add_moderator(&data.db, group.id, person.id).await?;
            }
            ModeratorChangeKind::Remove => {
                // A group here keeps at least one moderator; elsewhere its own node decides.
                if group.local && queries::groups::moderators(&data.db, group.id).await?.len() <= 1 {
                    return Err(FederationError::Forbidden(
                        "a working group keeps at least one moderator".into(),
                    ));
                }
                queries::groups::remove_moderator(&data.db, group.id, person.id).await?;
            }
        }
        if group.local && !self.raw.is_null() {
            let members_only = relay::is_members_only(&data.db, &group).await?;
            relay::announce_moderation(&data.db, data.app_data(), &group, members_only, &self.raw).await?;
        }
        Ok(())
    }
}
