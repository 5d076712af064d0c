//! Working groups: Group actors that people here and elsewhere follow to join.

use crate::{
    Outgoing, ServiceError, ServiceResult,
    accounts::Account,
    actors, keys,
    policy::{self, Action, Target},
};
use healthcommons_core::{Username, text};
use healthcommons_db::entities::{ActorKind, GroupVisibility, PostingPolicy};
use healthcommons_db::{
    TransactionTrait,
    entities::{Visibility, actor, group_ban, group_settings},
    queries::{self},
};
use sea_orm::ConnectionTrait;

pub struct NewGroup<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    /// Markdown.
    pub summary: &'a str,
    pub manually_approves_followers: bool,
    pub settings: Settings<'a>,
}

/// What a working group is about and who may post in it.
#[derive(Debug, Clone, Default)]
pub struct Settings<'a> {
    /// `open`, `members` or `moderators`; default `open`.
    pub posting_policy: Option<&'a str>,
    /// `public` or `members`; default `public`.
    pub visibility: Option<&'a str>,
    /// Announce replies to followers too (default yes).
    pub announce_replies: Option<bool>,
    pub list_followers: Option<bool>,
    /// Markdown.
    pub rules: Option<&'a str>,
    pub topics: Option<Vec<String>>,
    pub place: Option<crate::node::Place>,
    pub icon_url: Option<&'a str>,
}

const MAX_TOPICS: usize = 20;

/// A group's settings before anyone changes them: open, public, replies boosted.
pub fn default_settings(actor_id: i64) -> group_settings::Model {
    group_settings::Model {
        actor_id,
        posting_policy: PostingPolicy::Open,
        visibility: GroupVisibility::Public,
        announce_replies: true,
        list_followers: false,
        rules_html: None,
        topics: "[]".into(),
        place_name: None,
        place_address: None,
        latitude: None,
        longitude: None,
        icon_url: None,
        moderators_url: None,
    }
}

/// Merge `changes` into `current` (or the defaults), checking every field.
fn merged_settings(
    actor_id: i64,
    current: Option<group_settings::Model>,
    changes: &Settings<'_>,
) -> ServiceResult<group_settings::Model> {
    let mut row = current.unwrap_or_else(|| default_settings(actor_id));
    if let Some(policy) = changes.posting_policy {
        row.posting_policy = PostingPolicy::parse(policy)
            .ok_or_else(|| ServiceError::validation("posting_policy is one of open, members, moderators"))?;
    }
    if let Some(visibility) = changes.visibility {
        row.visibility = GroupVisibility::parse(visibility)
            .ok_or_else(|| ServiceError::validation("visibility is public or members"))?;
    }
    if let Some(announce) = changes.announce_replies {
        row.announce_replies = announce;
    }
    if let Some(list) = changes.list_followers {
        row.list_followers = list;
    }
    if let Some(rules) = changes.rules {
        if rules.len() > MAX_SUMMARY {
            return Err(ServiceError::validation(format!(
                "rules must be at most {MAX_SUMMARY} bytes"
            )));
        }
        row.rules_html = Some(text::markdown_to_html(rules)).filter(|r| !r.is_empty());
    }
    if let Some(topics) = &changes.topics {
        row.topics = serde_json::to_string(&clean_topics(topics)?)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
    }
    if let Some(place) = &changes.place {
        let place = place.clone().checked()?.unwrap_or_default();
        row.place_name = Some(place.name).filter(|n| !n.is_empty());
        row.place_address = place.address;
        row.latitude = place.latitude;
        row.longitude = place.longitude;
    }
    if let Some(icon) = changes.icon_url {
        let icon = icon.trim();
        if icon.is_empty() {
            row.icon_url = None;
        } else {
            let url = url::Url::parse(icon).map_err(|_| ServiceError::validation("icon_url is not a URL"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ServiceError::validation("icon_url must be http or https"));
            }
            row.icon_url = Some(url.to_string());
        }
    }
    Ok(row)
}

/// Topics as hashtags: without `#`, letters, digits and `_` only, lower
/// case, each once, at most `MAX_TOPICS`.
pub fn clean_topics(topics: &[String]) -> ServiceResult<Vec<String>> {
    let mut clean: Vec<String> = Vec::new();
    for topic in topics {
        let topic: String = topic
            .trim_start_matches('#')
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '_')
            .take(50)
            .collect::<String>()
            .to_lowercase();
        if !topic.is_empty() && !clean.contains(&topic) {
            clean.push(topic);
        }
    }
    if clean.len() > MAX_TOPICS {
        return Err(ServiceError::validation(format!("at most {MAX_TOPICS} topics")));
    }
    Ok(clean)
}

/// The topics of a group's settings as a list.
pub fn topics(settings: &group_settings::Model) -> Vec<String> {
    serde_json::from_str(&settings.topics).unwrap_or_default()
}

pub const MAX_DISPLAY_NAME: usize = 100;
pub const MAX_SUMMARY: usize = 10_000;

fn clean_display_name(display_name: &str) -> ServiceResult<String> {
    let display_name = text::plain_text(display_name, MAX_DISPLAY_NAME);
    if display_name.is_empty() {
        return Err(ServiceError::validation("display_name must not be empty"));
    }
    Ok(display_name)
}

/// A group's description, markdown in, sanitised HTML out.
fn clean_summary(summary: &str) -> ServiceResult<String> {
    if summary.len() > MAX_SUMMARY {
        return Err(ServiceError::validation(format!(
            "summary must be at most {MAX_SUMMARY} bytes"
        )));
    }
    Ok(text::markdown_to_html(summary))
}

/// A local working group, how many have joined it and who moderates it.
pub struct GroupView {
    pub group: actor::Model,
    pub followers_count: u64,
    pub settings: Option<group_settings::Model>,
    pub moderators: Vec<actor::Model>,
}

pub(crate) async fn local(db: &impl ConnectionTrait, name: &str) -> ServiceResult<actor::Model> {
    queries::actors::local_by_username(db, name)
        .await?
        .filter(|a| a.kind == ActorKind::Group)
        .ok_or_else(|| ServiceError::not_found(format!("no working group named {name}")))
}

/// Working groups as the API, the pages and the inbox see them.
pub struct Groups<'p>(pub(crate) &'p crate::Processor);

impl Groups<'_> {
    /// A working group named as a local name, `@name@host` or a URL; a remote
    /// one is fetched when it is not known here yet.
    pub async fn find(&self, name: &str) -> ServiceResult<actor::Model> {
        let name = name.trim();
        let group = if name.contains('@') || name.contains("://") {
            self.0.resolver().actor(name).await?
        } else {
            local(self.0.db(), name).await?
        };
        if group.kind != ActorKind::Group {
            return Err(ServiceError::validation(format!("{name} is not a working group")));
        }
        Ok(group)
    }
}

pub(crate) async fn moderated(
    db: &impl ConnectionTrait,
    account: &Account,
    name: &str,
) -> ServiceResult<actor::Model> {
    let group = local(db, name).await?;
    policy::require(db, account.into(), Action::Moderate, Target::Group(&group)).await?;
    Ok(group)
}

pub(crate) async fn view_of(db: &impl ConnectionTrait, group: actor::Model) -> ServiceResult<GroupView> {
    let followers_count = queries::follows::count_followers(db, group.id).await?;
    let settings = queries::groups::settings(db, group.id).await?;
    let moderators = queries::groups::moderator_actors(db, group.id).await?;
    Ok(GroupView {
        group,
        followers_count,
        settings,
        moderators,
    })
}

/// Moderating working groups and changing their settings.
impl Groups<'_> {
    /// A moderator bans `person` from a local working group (`banned`), or lifts
    /// the ban. Banned people cannot post or reply in the group, here or anywhere
    /// the ban federates to.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_ban(
        &self,
        account: &Account,
        name: &str,
        person: &actor::Model,
        banned: bool,
        reason: Option<&str>,
    ) -> ServiceResult<()> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let group = moderated(db, account, name).await?;
        if person.kind == ActorKind::Group {
            return Err(ServiceError::validation(
                "only people can be banned from a working group",
            ));
        }
        if banned && queries::groups::is_moderator(db, group.id, person.id).await? {
            return Err(ServiceError::validation(
                "remove them as a moderator before banning them",
            ));
        }
        let reason = reason.map(|r| text::plain_text(r, 500)).filter(|r| !r.is_empty());
        let txn = db.begin().await?;
        let ban = match queries::groups::ban(&txn, group.id, person.id).await? {
            Some(_) if banned => return Ok(()),
            Some(existing) => {
                queries::groups::remove_ban(&txn, group.id, person.id).await?;
                existing
            }
            None if banned => {
                let ap_id = ctx.urls.new_activity("block");
                queries::groups::add_ban(&txn, group.id, person.id, Some(&ap_id), reason.as_deref()).await?
            }
            None => {
                return Err(ServiceError::not_found(
                    "that person is not banned from this working group",
                ));
            }
        };
        publisher
            .publish(
                &txn,
                Outgoing::Ban {
                    ban,
                    moderator_id: account.person.id,
                    banned,
                },
            )
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A moderator adds `person` as a moderator of a local working group, or
    /// removes them. The last moderator cannot be removed.
    pub async fn set_moderator(
        &self,
        account: &Account,
        name: &str,
        person: &actor::Model,
        added: bool,
    ) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let group = moderated(db, account, name).await?;
        if person.kind != ActorKind::Person {
            return Err(ServiceError::validation(
                "only people can moderate a working group",
            ));
        }
        // The node's staff may moderate any group, but may not make themselves
        // one of a group they do not belong to: moderators see members-only content.
        if added && person.id == account.person.id && !policy::belongs_to(db, group.id, person.id).await? {
            return Err(ServiceError::forbidden(
                "you may not make yourself a moderator of a working group you do not belong to",
            ));
        }
        let txn = db.begin().await?;
        let changed = if added {
            if queries::groups::ban(&txn, group.id, person.id).await?.is_some() {
                return Err(ServiceError::validation(
                    "lift their ban before making them a moderator",
                ));
            }
            queries::groups::add_moderator(&txn, group.id, person.id).await?
        } else {
            let changed = queries::groups::remove_moderator(&txn, group.id, person.id).await?;
            if changed && queries::groups::moderators(&txn, group.id).await?.is_empty() {
                return Err(ServiceError::validation(
                    "a working group keeps at least one moderator",
                ));
            }
            changed
        };
        if changed {
            publisher
                .publish(
                    &txn,
                    Outgoing::ModeratorChange {
                        group_id: group.id,
                        moderator_id: account.person.id,
                        person_id: person.id,
                        added,
                    },
                )
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// A moderator changes a local group's profile and settings, all checked
    /// before anything is written, in one transaction. Its followers' nodes are
    /// sent the new profile (which also shows the icon).
    pub async fn update(
        &self,
        account: &Account,
        name: &str,
        changes: &GroupChanges<'_>,
    ) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let group = moderated(db, account, name).await?;
        let before = queries::groups::settings(db, group.id).await?;
        let was_private = policy::group_visibility(before.as_ref()) == Visibility::Members;
        let settings = merged_settings(group.id, before, &changes.settings)?;
        let made_private = !was_private && policy::group_visibility(Some(&settings)) == Visibility::Members;
        let mut profile = actor::ActiveModel {
            id: sea_orm::ActiveValue::Set(group.id),
            ..Default::default()
        };
        if let Some(display_name) = changes.display_name {
            profile.display_name = sea_orm::ActiveValue::Set(Some(clean_display_name(display_name)?));
        }
        if let Some(summary) = changes.summary {
            profile.summary_html = sea_orm::ActiveValue::Set(Some(clean_summary(summary)?));
        }
        let txn = db.begin().await?;
        queries::groups::save_settings(&txn, settings).await?;
        if made_private {
            queries::groups::keep_among_members(&txn, group.id).await?;
            // From now on a moderator admits each new member.
            profile.manually_approves_followers = sea_orm::ActiveValue::Set(true);
        }
        if made_private || changes.display_name.is_some() || changes.summary.is_some() {
            sea_orm::ActiveModelTrait::update(profile, &txn)
                .await
                .map_err(healthcommons_db::DbError::from)?;
        }
        publisher
            .publish(&txn, Outgoing::UpdateActor { actor_id: group.id })
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

pub(crate) async fn bans(
    db: &impl ConnectionTrait,
    group: &actor::Model,
) -> ServiceResult<Vec<(group_ban::Model, actor::Model)>> {
    let mut out = Vec::new();
    for ban in queries::groups::bans(db, group.id).await? {
        if let Some(person) = queries::actors::by_id(db, ban.actor_id).await? {
            out.push((ban, person));
        }
    }
    Ok(out)
}

/// A ban (or its lifting) that a group's moderator sent from elsewhere.
pub async fn receive_ban(
    db: &impl ConnectionTrait,
    group: &actor::Model,
    person: &actor::Model,
    ap_id: &str,
    reason: Option<&str>,
    banned: bool,
) -> ServiceResult<()> {
    if banned {
        let reason = reason.map(|r| text::plain_text(r, 500)).filter(|r| !r.is_empty());
        queries::groups::add_ban(db, group.id, person.id, Some(ap_id), reason.as_deref()).await?;
    } else {
        queries::groups::remove_ban(db, group.id, person.id).await?;
    }
    Ok(())
}

/// Where a remote group publishes its moderators, from its actor document.
pub async fn remember_moderators_url(
    db: &impl ConnectionTrait,
    group_id: i64,
    url: &str,
) -> ServiceResult<()> {
    let current = queries::groups::settings(db, group_id).await?;
    if current
        .as_ref()
        .is_some_and(|s| s.moderators_url.as_deref() == Some(url))
    {
        return Ok(());
    }
    let mut row = merged_settings(group_id, current, &Settings::default())?;
    row.moderators_url = Some(url.to_owned());
    queries::groups::save_settings(db, row).await?;
    Ok(())
}

/// What a moderator changes about a local working group.
#[derive(Debug, Clone, Default)]
pub struct GroupChanges<'a> {
    pub display_name: Option<&'a str>,
    /// Markdown.
    pub summary: Option<&'a str>,
    pub settings: Settings<'a>,
}

/// The way in for the pages and the API, on the processor's connections.
impl Groups<'_> {
    /// A local working group by name.
    pub async fn local(&self, name: &str) -> ServiceResult<actor::Model> {
        local(self.0.readers(), name).await
    }

    /// A local working group that `account` may moderate: one of its moderators,
    /// or any moderator or admin of the node.
    pub async fn moderated(&self, account: &Account, name: &str) -> ServiceResult<actor::Model> {
        moderated(self.0.readers(), account, name).await
    }

    pub async fn view(&self, name: &str) -> ServiceResult<GroupView> {
        let db = self.0.readers();
        let group = local(db, name).await?;
        view_of(db, group).await
    }

    /// The view of any group this node knows, local or remote.
    pub async fn view_of(&self, group: actor::Model) -> ServiceResult<GroupView> {
        view_of(self.0.readers(), group).await
    }

    /// A group's bans with the people banned.
    pub async fn bans(&self, group: &actor::Model) -> ServiceResult<Vec<(group_ban::Model, actor::Model)>> {
        bans(self.0.readers(), group).await
    }
}

/// The way in for the pages and the API, on the processor's connections.
impl Groups<'_> {
    pub async fn create(&self, creator: &Account, new: NewGroup<'_>) -> ServiceResult<actor::Model> {
        let db = self.0.db();
        let ctx = self.0.node();
        let name = Username::parse(new.name).map_err(|e| ServiceError::validation(e.to_string()))?;
        let display_name = clean_display_name(new.display_name)?;
        let summary_html = clean_summary(new.summary)?;
        if queries::actors::local_by_username(db, name.as_str())
            .await?
            .is_some()
        {
            return Err(ServiceError::conflict("that name is taken"));
        }
        let settings = merged_settings(0, None, &new.settings)?;
        let keys = keys::generate().await?;
        let txn = db.begin().await?;
        let group = queries::actors::insert(
            &txn,
            actors::new_row(
                ctx,
                actors::LocalActor {
                    kind: ActorKind::Group,
                    id: ctx.urls.group(name.as_str()),
                    username: name.as_str(),
                    display_name,
                    summary_html: Some(summary_html),
                    keys,
                    user_id: None,
                    created_by: Some(creator.person.id),
                    // Joining a members-only group always takes a moderator's yes.
                    manually_approves_followers: new.manually_approves_followers
                        || settings.visibility == GroupVisibility::Members,
                    with_collections: true,
                },
            ),
        )
        .await
        .map_err(actors::name_taken)?;
        queries::groups::save_settings(
            &txn,
            group_settings::Model {
                actor_id: group.id,
                ..settings
            },
        )
        .await?;
        queries::groups::add_moderator(&txn, group.id, creator.person.id).await?;
        txn.commit().await?;
        Ok(group)
    }
}
