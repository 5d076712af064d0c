//! Posts: thread starts and replies, their revisions, tags and reactions.

use crate::entities::{ActorKind, ReactionKind, TagKind, actor};
use crate::{
    DbResult,
    entities::{Visibility, post, post_revision, post_tag, reaction},
    queries::audience::ReadScope,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

/// One page of a listing.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub number: u64,
    pub size: u64,
}

impl Page {
    pub fn offset(&self) -> u64 {
        self.number.saturating_sub(1) * self.size
    }
}

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<post::Model>> {
    Ok(post::Entity::find()
        .filter(post::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<post::Model>> {
    Ok(post::Entity::find_by_id(id).one(db).await?)
}

pub async fn insert(db: &impl ConnectionTrait, row: post::ActiveModel) -> DbResult<post::Model> {
    Ok(row.insert(db).await?)
}

pub async fn update(db: &impl ConnectionTrait, row: post::ActiveModel) -> DbResult<post::Model> {
    Ok(row.update(db).await?)
}

/// Visible posts: not deleted, not removed.
fn visible() -> Condition {
    Condition::all()
        .add(post::Column::DeletedAt.is_null())
        .add(post::Column::Removed.eq(false))
}

/// Posts anyone may read: the policy's rule for an anonymous reader.
fn open_to_anyone(db: &impl ConnectionTrait) -> Condition {
    ReadScope::Open.condition(
        db.get_database_backend(),
        post::Column::Visibility,
        post::Column::GroupId,
        post::Column::AuthorId,
    )
}

/// A group's threads that `scope` may read, most recently active first.
pub async fn threads_of_group(
    db: &impl ConnectionTrait,
    group_id: i64,
    scope: &ReadScope,
    page: Page,
) -> DbResult<Vec<post::Model>> {
    let query = post::Entity::find()
        .filter(post::Column::GroupId.eq(group_id))
        .filter(post::Column::InReplyTo.is_null())
        .filter(visible())
        .filter(scope.condition(
            db.get_database_backend(),
            post::Column::Visibility,
            post::Column::GroupId,
            post::Column::AuthorId,
        ));
    Ok(query
        .order_by_desc(post::Column::LastActivityAt)
        .offset(page.offset())
        .limit(page.size)
        .all(db)
        .await?)
}

/// Every reply of the threads that start at `root_ids` (deleted ones too: they
/// keep their place), oldest first.
pub async fn replies_in_threads(db: &impl ConnectionTrait, root_ids: Vec<i64>) -> DbResult<Vec<post::Model>> {
    Ok(post::Entity::find()
        .filter(super::id_among(
            db.get_database_backend(),
            post::Column::RootId,
            &root_ids,
        ))
        .order_by_asc(post::Column::Published)
        .order_by_asc(post::Column::Id)
        .all(db)
        .await?)
}

/// Replies that arrived before their parent and wait for it.
pub async fn waiting_for_parent(db: &impl ConnectionTrait, parent_ap_id: &str) -> DbResult<Vec<post::Model>> {
    Ok(post::Entity::find()
        .filter(post::Column::InReplyTo.eq(parent_ap_id))
        .filter(post::Column::ParentId.is_null())
        .all(db)
        .await?)
}

/// Attach a reply and everything below it to a thread.
pub async fn set_thread(
    db: &impl ConnectionTrait,
    post_id: i64,
    parent_id: i64,
    root_id: i64,
) -> DbResult<()> {
    post::Entity::update_many()
        .col_expr(post::Column::ParentId, Expr::value(parent_id))
        .col_expr(post::Column::RootId, Expr::value(root_id))
        .filter(post::Column::Id.eq(post_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every post of a garden item's discussion (deleted ones too: they keep
/// their place), oldest first.
pub async fn discussion_of(db: &impl ConnectionTrait, garden_item_id: i64) -> DbResult<Vec<post::Model>> {
    Ok(post::Entity::find()
        .filter(post::Column::GardenItemId.eq(garden_item_id))
        .order_by_asc(post::Column::Published)
        .order_by_asc(post::Column::Id)
        .all(db)
        .await?)
}

/// Mark a post as part of a garden item's discussion.
pub async fn set_garden_item(db: &impl ConnectionTrait, post_id: i64, garden_item_id: i64) -> DbResult<()> {
    post::Entity::update_many()
        .col_expr(post::Column::GardenItemId, Expr::value(garden_item_id))
        .filter(post::Column::Id.eq(post_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn children(db: &impl ConnectionTrait, parent_id: i64) -> DbResult<Vec<post::Model>> {
    Ok(post::Entity::find()
        .filter(post::Column::ParentId.eq(parent_id))
        .all(db)
        .await?)
}

/// Recount a thread's replies and move its last activity forward. The
/// count of a thread anyone may read counts only replies anyone may read, so
/// that it never tells of members-only replies.
pub async fn touch_thread(db: &impl ConnectionTrait, root_id: i64, at: DateTime<Utc>) -> DbResult<()> {
    let Some(root) = by_id(db, root_id).await? else {
        return Ok(());
    };
    let mut replies = post::Entity::find()
        .filter(post::Column::RootId.eq(root_id))
        .filter(visible());
    if root.visibility.is_open() {
        replies = replies.filter(open_to_anyone(db));
    }
    let replies = replies.count(db).await?;
    post::ActiveModel {
        id: Set(root_id),
        replies: Set(replies as i32),
        last_activity_at: Set(root.last_activity_at.max(at)),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Thread starts for a feed: in any of `group_ids` or by any of `author_ids`
/// (a member's home), or everywhere (`None`, the node's feeds), newest first.
pub async fn feed(db: &impl ConnectionTrait, scope: FeedScope, page: Page) -> DbResult<Vec<post::Model>> {
    let mut query = post::Entity::find()
        .filter(post::Column::InReplyTo.is_null())
        .filter(visible());
    query = match scope {
        FeedScope::Local => query
            .filter(post::Column::Local.eq(true))
            .filter(post::Column::Visibility.eq(Visibility::Public)),
        FeedScope::Federated => query.filter(post::Column::Visibility.eq(Visibility::Public)),
        FeedScope::Home { actor_ids, member_of } => query.filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(post::Column::AuthorId.is_in(actor_ids))
                        .add(open_to_anyone(db)),
                )
                .add(post::Column::GroupId.is_in(member_of)),
        ),
    };
    Ok(query
        .order_by_desc(post::Column::Published)
        .offset(page.offset())
        .limit(page.size)
        .all(db)
        .await?)
}

pub enum FeedScope {
    Local,
    Federated,
    Home {
        actor_ids: Vec<i64>,
        member_of: Vec<i64>,
    },
}

/// A local actor's public posts for its outbox: written by it, or (a group)
/// posted in it. Newest first.
/// What an actor's outbox lists: a person's open posts, or the open thread
/// starts of a working group (replies come with their thread's context).
fn outbox_filter(actor: &actor::Model) -> Condition {
    match actor.kind {
        ActorKind::Group => Condition::all()
            .add(post::Column::GroupId.eq(actor.id))
            .add(post::Column::ParentId.is_null()),
        _ => Condition::all().add(post::Column::AuthorId.eq(actor.id)),
    }
}

pub async fn outbox_of(
    db: &impl ConnectionTrait,
    actor: &actor::Model,
    page: Page,
) -> DbResult<Vec<post::Model>> {
    Ok(post::Entity::find()
        .filter(outbox_filter(actor))
        .filter(open_to_anyone(db))
        .filter(visible())
        .order_by_desc(post::Column::Published)
        .offset(page.offset())
        .limit(page.size)
        .all(db)
        .await?)
}

pub async fn count_outbox_of(db: &impl ConnectionTrait, actor: &actor::Model) -> DbResult<u64> {
    Ok(post::Entity::find()
        .filter(outbox_filter(actor))
        .filter(open_to_anyone(db))
        .filter(visible())
        .count(db)
        .await?)
}

/// Posts written here that anyone may read (NodeInfo's count tells nothing
/// of members-only groups).
pub async fn count_local(db: &impl ConnectionTrait) -> DbResult<u64> {
    Ok(post::Entity::find()
        .filter(post::Column::Local.eq(true))
        .filter(open_to_anyone(db))
        .filter(visible())
        .count(db)
        .await?)
}

pub async fn add_revision(
    db: &impl ConnectionTrait,
    before: &post::Model,
    at: DateTime<Utc>,
) -> DbResult<()> {
    post_revision::ActiveModel {
        post_id: Set(before.id),
        title: Set(before.title.clone()),
        content_html: Set(before.content_html.clone()),
        summary: Set(before.summary.clone()),
        edited_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn revisions(db: &impl ConnectionTrait, post_id: i64) -> DbResult<Vec<post_revision::Model>> {
    Ok(post_revision::Entity::find()
        .filter(post_revision::Column::PostId.eq(post_id))
        .order_by_asc(post_revision::Column::EditedAt)
        .all(db)
        .await?)
}

/// Replace a post's tags.
pub async fn set_tags(
    db: &impl ConnectionTrait,
    post_id: i64,
    tags: &[(TagKind, String, Option<String>)],
) -> DbResult<()> {
    post_tag::Entity::delete_many()
        .filter(post_tag::Column::PostId.eq(post_id))
        .exec(db)
        .await?;
    for (kind, name, href) in tags {
        post_tag::ActiveModel {
            post_id: Set(post_id),
            kind: Set(*kind),
            name: Set(name.clone()),
            href: Set(href.clone()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub async fn tags_of(db: &impl ConnectionTrait, post_ids: Vec<i64>) -> DbResult<Vec<post_tag::Model>> {
    Ok(post_tag::Entity::find()
        .filter(super::id_among(
            db.get_database_backend(),
            post_tag::Column::PostId,
            &post_ids,
        ))
        .order_by_asc(post_tag::Column::Id)
        .all(db)
        .await?)
}

/// Record a reaction once per actor and kind; returns whether it is new.
pub async fn add_reaction(
    db: &impl ConnectionTrait,
    post_id: i64,
    actor_id: i64,
    kind: ReactionKind,
    ap_id: Option<&str>,
) -> DbResult<bool> {
    let existing = reaction::Entity::find()
        .filter(reaction::Column::PostId.eq(post_id))
        .filter(reaction::Column::ActorId.eq(actor_id))
        .filter(reaction::Column::Kind.eq(kind))
        .one(db)
        .await?;
    if existing.is_some() {
        return Ok(false);
    }
    let inserted = reaction::ActiveModel {
        ap_id: Set(ap_id.map(str::to_owned)),
        post_id: Set(post_id),
        actor_id: Set(actor_id),
        kind: Set(kind),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => {}
        Err(err) if crate::is_unique_violation(&err) => return Ok(false),
        Err(err) => return Err(err.into()),
    }
    recount(db, post_id).await?;
    Ok(true)
}

pub async fn reaction_of(
    db: &impl ConnectionTrait,
    post_id: i64,
    actor_id: i64,
    kind: ReactionKind,
) -> DbResult<Option<reaction::Model>> {
    Ok(reaction::Entity::find()
        .filter(reaction::Column::PostId.eq(post_id))
        .filter(reaction::Column::ActorId.eq(actor_id))
        .filter(reaction::Column::Kind.eq(kind))
        .one(db)
        .await?)
}

/// Which of `post_ids` the actor has reacted to with `kind`.
pub async fn reacted_among(
    db: &impl ConnectionTrait,
    post_ids: Vec<i64>,
    actor_id: i64,
    kind: ReactionKind,
) -> DbResult<std::collections::HashSet<i64>> {
    Ok(reaction::Entity::find()
        .select_only()
        .column(reaction::Column::PostId)
        .filter(super::id_among(
            db.get_database_backend(),
            reaction::Column::PostId,
            &post_ids,
        ))
        .filter(reaction::Column::ActorId.eq(actor_id))
        .filter(reaction::Column::Kind.eq(kind))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

pub async fn reaction_by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<reaction::Model>> {
    Ok(reaction::Entity::find_by_id(id).one(db).await?)
}

pub async fn reaction_by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<reaction::Model>> {
    Ok(reaction::Entity::find()
        .filter(reaction::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn remove_reaction(db: &impl ConnectionTrait, reaction: &reaction::Model) -> DbResult<()> {
    reaction::Entity::delete_by_id(reaction.id).exec(db).await?;
    recount(db, reaction.post_id).await
}

async fn recount(db: &impl ConnectionTrait, post_id: i64) -> DbResult<()> {
    let count = |kind: ReactionKind| {
        reaction::Entity::find()
            .filter(reaction::Column::PostId.eq(post_id))
            .filter(reaction::Column::Kind.eq(kind))
            .count(db)
    };
    let (likes, dislikes, boosts) = (
        count(ReactionKind::Like).await?,
        count(ReactionKind::Dislike).await?,
        count(ReactionKind::Boost).await?,
    );
    post::Entity::update_many()
        .col_expr(post::Column::Likes, Expr::value(likes as i32))
        .col_expr(post::Column::Dislikes, Expr::value(dislikes as i32))
        .col_expr(post::Column::Boosts, Expr::value(boosts as i32))
        .filter(post::Column::Id.eq(post_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Public thread starts carrying a hashtag, newest first.
pub async fn tagged(db: &impl ConnectionTrait, tag: &str, page: Page) -> DbResult<Vec<post::Model>> {
    let ids: Vec<i64> = post_tag::Entity::find()
        .filter(post_tag::Column::Kind.eq(TagKind::Hashtag))
        .filter(post_tag::Column::Name.eq(tag))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.post_id)
        .collect();
    Ok(post::Entity::find()
        .filter(post::Column::Id.is_in(ids))
        .filter(post::Column::Visibility.eq(Visibility::Public))
        .filter(visible())
        .order_by_desc(post::Column::Published)
        .offset(page.offset())
        .limit(page.size)
        .all(db)
        .await?)
}
