//! `Block` of a person by a working group's moderator, with the group as
//! `target` (Lemmy's and Mbin's ban): the person may no longer post in the
//! group. A `Block` without a target is one person muting another, which
//! does not parse as this and is recorded as not handled.

use crate::{
    FederationContext, FederationError, RequestData,
    activities::{Addressing, actor_id, verify_same_origin},
    moderators::verify_moderator,
    objects::actor::DbActor,
    relay,
};
use activitypub_federation::{
    fetch::object_id::ObjectId, kinds::activity::BlockType, protocol::helpers::deserialize_skip_error,
    traits::Activity,
};
use healthcommons_db::entities::{ActorKind, actor};
use healthcommons_db::queries;
use healthcommons_service::groups;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockUser {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: BlockType,
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub actor: ObjectId<DbActor>,
    /// The person banned.
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub object: ObjectId<DbActor>,
    /// The working group they are banned from.
    #[serde(deserialize_with = "crate::activities::actor_ref")]
    pub target: ObjectId<DbActor>,
    /// The reason; sent as `null` when the moderator gave none.
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "crate::objects::post::urls_of")]
    pub cc: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_skip_error")]
    pub audience: Option<Url>,
    #[serde(skip)]
    pub raw: Value,
}

impl BlockUser {
    /// A moderator's ban of `person` from `group`.
    pub fn new(
        id: Url,
        moderator: &actor::Model,
        person: &actor::Model,
        group: &actor::Model,
        reason: Option<&str>,
        addressing: Addressing,
    ) -> Result<Self, FederationError> {
        Ok(BlockUser {
            id,
            kind: Default::default(),
            actor: actor_id(moderator)?,
            object: actor_id(person)?,
            target: actor_id(group)?,
            summary: reason.map(str::to_owned),
            to: addressing.to,
            cc: addressing.cc,
            audience: addressing.audience,
            raw: Value::Null,
        })
    }

    /// Check the ban and record it (or, with `banned` false, lift it); a
    /// local group passes it on to its followers.
    pub async fn apply(&self, banned: bool, raw: &Value, data: &RequestData) -> Result<(), FederationError> {
        let group = self.target.dereference(data).await?.row;
        if group.kind != ActorKind::Group {
            return Err(FederationError::Invalid(
                "the ban's target is not a working group".into(),
            ));
        }
        let moderator = self.actor.dereference(data).await?.row;
        verify_moderator(&moderator, &group, data).await?;
        let person = self.object.dereference(data).await?.row;
        if queries::groups::is_moderator(&data.db, group.id, person.id).await? && banned {
            return Err(FederationError::Forbidden("a moderator cannot be banned".into()));
        }
        groups::receive_ban(
            &data.db,
            &group,
            &person,
            self.id.as_str(),
            self.summary.as_deref(),
            banned,
        )
        .await?;
        if group.local && !raw.is_null() {
            let members_only = relay::is_members_only(&data.db, &group).await?;
            relay::announce_moderation(&data.db, data.app_data(), &group, members_only, raw).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Activity for BlockUser {
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
        self.apply(true, &self.raw, data).await
    }
}
