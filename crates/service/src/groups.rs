//! Working groups: Group actors that people here and elsewhere follow to join.

use crate::{
    NodeContext, ServiceError, ServiceResult,
    accounts::{Account, Role},
    actors, keys,
};
use healthcommons_core::{Username, text};
use healthcommons_db::{entities::actor, queries};
use sea_orm::ConnectionTrait;

pub struct NewGroup<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    /// Markdown.
    pub summary: &'a str,
    pub manually_approves_followers: bool,
}

pub const MAX_DISPLAY_NAME: usize = 100;
pub const MAX_SUMMARY: usize = 10_000;

pub async fn create(
    db: &impl ConnectionTrait,
    ctx: &NodeContext,
    creator: &Account,
    new: NewGroup<'_>,
) -> ServiceResult<actor::Model> {
    let name = Username::parse(new.name).map_err(|e| ServiceError::validation(e.to_string()))?;
    let display_name = text::plain_text(new.display_name, MAX_DISPLAY_NAME);
    if display_name.is_empty() {
        return Err(ServiceError::validation("display_name must not be empty"));
    }
    if new.summary.len() > MAX_SUMMARY {
        return Err(ServiceError::validation(format!(
            "summary must be at most {MAX_SUMMARY} bytes"
        )));
    }
    if queries::actors::local_by_username(db, name.as_str())
        .await?
        .is_some()
    {
        return Err(ServiceError::conflict("that name is taken"));
    }
    let keys = keys::generate().await?;
    queries::actors::insert(
        db,
        actors::new_row(
            ctx,
            actors::LocalActor {
                kind: queries::actors::GROUP,
                id: ctx.urls.group(name.as_str()),
                username: name.as_str(),
                display_name,
                summary_html: Some(text::markdown_to_html(new.summary)),
                keys,
                user_id: None,
                created_by: Some(creator.person.id),
                manually_approves_followers: new.manually_approves_followers,
                with_collections: true,
            },
        ),
    )
    .await
    .map_err(actors::name_taken)
}

/// A local working group and how many have joined it.
pub struct GroupView {
    pub group: actor::Model,
    pub followers_count: u64,
}

/// A local working group by name.
pub async fn local(db: &impl ConnectionTrait, name: &str) -> ServiceResult<actor::Model> {
    queries::actors::local_by_username(db, name)
        .await?
        .filter(|a| a.kind == queries::actors::GROUP)
        .ok_or_else(|| ServiceError::not_found(format!("no working group named {name}")))
}

/// A local working group that `account` may moderate: its creator, or any
/// moderator or admin of the node.
pub async fn moderated(
    db: &impl ConnectionTrait,
    account: &Account,
    name: &str,
) -> ServiceResult<actor::Model> {
    let group = local(db, name).await?;
    if group.created_by != Some(account.person.id) && account.role() < Role::Moderator {
        return Err(ServiceError::forbidden("only the group's moderators may do this"));
    }
    Ok(group)
}

pub async fn view(db: &impl ConnectionTrait, name: &str) -> ServiceResult<GroupView> {
    let group = local(db, name).await?;
    let followers_count = queries::follows::count_followers(db, group.id).await?;
    Ok(GroupView {
        group,
        followers_count,
    })
}
