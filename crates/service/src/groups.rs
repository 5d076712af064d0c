//! Working groups: Group actors that people here and elsewhere follow to join.

use crate::{NodeContext, ServiceError, ServiceResult, accounts::Account, keys, urls::NodeUrls};
use chrono::Utc;
use healthcommons_core::{Username, text};
use healthcommons_db::{entities::actor, queries};
use sea_orm::{ActiveValue::Set, ConnectionTrait};

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
    let id = ctx.urls.group(name.as_str());
    let now = Utc::now();
    queries::actors::insert(
        db,
        actor::ActiveModel {
            ap_id: Set(id.clone()),
            kind: Set(queries::actors::GROUP.to_owned()),
            local: Set(true),
            username: Set(name.as_str().to_owned()),
            host: Set(ctx.domain.clone()),
            display_name: Set(Some(display_name)),
            summary_html: Set(Some(text::markdown_to_html(new.summary))),
            url: Set(Some(id.clone())),
            inbox: Set(NodeUrls::inbox_of(&id)),
            shared_inbox: Set(Some(ctx.urls.shared_inbox())),
            outbox: Set(Some(NodeUrls::outbox_of(&id))),
            followers_url: Set(Some(NodeUrls::followers_of(&id))),
            following_url: Set(Some(NodeUrls::following_of(&id))),
            public_key_id: Set(NodeUrls::key_of(&id)),
            public_key_pem: Set(keys.public_pem),
            private_key_pem: Set(Some(keys.private_pem)),
            user_id: Set(None),
            manually_approves_followers: Set(new.manually_approves_followers),
            discoverable: Set(true),
            published: Set(now),
            last_fetched_at: Set(now),
            created_by: Set(Some(creator.person.id)),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            ServiceError::conflict("that name is taken")
        } else {
            e.into()
        }
    })
}

/// A local working group and how many have joined it.
pub struct GroupView {
    pub group: actor::Model,
    pub followers_count: u64,
}

pub async fn view(db: &impl ConnectionTrait, name: &str) -> ServiceResult<GroupView> {
    let group = queries::actors::local_by_username(db, name)
        .await?
        .filter(|a| a.kind == queries::actors::GROUP)
        .ok_or_else(|| ServiceError::not_found(format!("no working group named {name}")))?;
    let followers_count = queries::follows::count_followers(db, group.id).await?;
    Ok(GroupView {
        group,
        followers_count,
    })
}
