//! Discussions: thread starts and replies in working groups, written here or
//! received from other nodes, with edits, deletes, reactions and who may see what.

use crate::{
    NodeContext, Processor, ServiceError, ServiceResult,
    accounts::Account,
    policy::{self, Action, Subject, Target, Under, Viewer},
    publish::Outgoing,
};
use chrono::{DateTime, Utc};
use healthcommons_core::garden::ItemStatus;
use healthcommons_core::{ErrorKind, text};
use healthcommons_db::entities::{ActorKind, ReactionKind, TagKind};
use healthcommons_db::{
    TransactionTrait,
    entities::{Visibility, actor, garden_item, post, post_revision, post_tag},
    queries::{self, audience::ReadScope, posts::Page},
};
use sea_orm::{ActiveValue::Set, ConnectionTrait};
use std::collections::{HashMap, HashSet};

pub const MAX_TITLE: usize = 200;
pub const MAX_CONTENT: usize = 50_000;
pub const MAX_SUMMARY: usize = 500;

/// What a member writes.
#[derive(Debug, Clone, Default)]
pub struct Compose<'a> {
    pub title: Option<&'a str>,
    /// Markdown.
    pub content: &'a str,
    /// The ActivityPub id of the post replied to.
    pub in_reply_to: Option<&'a str>,
    pub sensitive: bool,
    /// Content warning.
    pub summary: Option<&'a str>,
    pub language: Option<&'a str>,
    /// `public` (default), `unlisted` or `followers` (the group's members only).
    pub visibility: Option<&'a str>,
}

/// A post with who wrote it and where, ready to show.
#[derive(Debug, Clone)]
pub struct PostView {
    pub post: post::Model,
    pub author: Option<actor::Model>,
    pub group: Option<actor::Model>,
    pub tags: Vec<post_tag::Model>,
    /// Nesting below the thread start (0 for the start itself).
    pub depth: usize,
}

pub struct ThreadView {
    pub root: PostView,
    /// Depth first, each reply after its parent.
    pub replies: Vec<PostView>,
}

fn clean_title(title: Option<&str>) -> ServiceResult<Option<String>> {
    let Some(title) = title else { return Ok(None) };
    let title = text::plain_text(title, MAX_TITLE + 1);
    if title.chars().count() > MAX_TITLE {
        return Err(ServiceError::validation(format!(
            "title must be at most {MAX_TITLE} characters"
        )));
    }
    Ok((!title.is_empty()).then_some(title))
}

fn check_content(content: &str) -> ServiceResult<()> {
    if content.trim().is_empty() {
        return Err(ServiceError::validation("content must not be empty"));
    }
    if content.len() > MAX_CONTENT {
        return Err(ServiceError::validation(format!(
            "content must be at most {MAX_CONTENT} bytes"
        )));
    }
    Ok(())
}

fn clean_summary(summary: Option<&str>) -> Option<String> {
    summary
        .map(|s| text::plain_text(s, MAX_SUMMARY))
        .filter(|s| !s.is_empty())
}

/// Render a member's markdown, linking hashtags and the mentions of actors
/// this node knows; returns the HTML and the tags to store and federate.
async fn render(
    db: &impl ConnectionTrait,
    ctx: &NodeContext,
    markdown: &str,
) -> ServiceResult<(String, Vec<(TagKind, String, Option<String>)>)> {
    let found = text::find_tags(markdown);
    let mut known = HashMap::new();
    let mut tags = Vec::new();
    for (name, host) in &found.mentions {
        let local = host == &ctx.domain;
        let actor = if local {
            queries::actors::local_by_username(db, name).await?
        } else {
            queries::actors::by_username_and_host(db, name, host).await?
        };
        if let Some(actor) = actor {
            let href = actor.url.clone().unwrap_or_else(|| actor.ap_id.clone());
            tags.push((
                TagKind::Mention,
                format!("@{name}@{host}"),
                Some(actor.ap_id.clone()),
            ));
            known.insert((name.clone(), host.clone()), href);
        }
    }
    for tag in &found.hashtags {
        tags.push((TagKind::Hashtag, tag.clone(), Some(ctx.urls.tag(tag))));
    }
    let html = text::markdown_with_tags(
        markdown,
        |tag| ctx.urls.tag(tag),
        |name, host| known.get(&(name.to_owned(), host.to_ascii_lowercase())).cloned(),
    );
    Ok((html, tags))
}

/// Visibility of a new post in `group`: what its author asked for
/// (`public`, `unlisted`, or `followers`: in a working group its followers are
/// its members, so such a post is members-only), never wider than the policy
/// allows for its group and what it answers (a post or a garden item).
async fn visibility_in(
    db: &impl ConnectionTrait,
    group: Option<&actor::Model>,
    within: Option<Visibility>,
    requested: Option<&str>,
) -> ServiceResult<Visibility> {
    let requested = match requested.map(str::trim).unwrap_or_default() {
        "" | "public" => Visibility::Public,
        "unlisted" => Visibility::Unlisted,
        "followers" | "members" => Visibility::Members,
        _ => {
            return Err(ServiceError::validation(
                "visibility is one of public, unlisted, followers",
            ));
        }
    };
    policy::visibility_for_new(db, group, within, requested).await
}

/// A post that is still there and that `viewer` may read; anything else is
/// "not found", so members-only posts do not show they exist.
async fn readable_post(
    db: &impl ConnectionTrait,
    viewer: &actor::Model,
    ap_id: &str,
) -> ServiceResult<post::Model> {
    let post = queries::posts::by_ap_id(db, ap_id)
        .await?
        .filter(|p| !p.is_gone())
        .ok_or_else(|| ServiceError::not_found("no such post"))?;
    if !policy::visible_to(db, viewer.into(), Subject::Post(&post)).await? {
        return Err(ServiceError::not_found("no such post"));
    }
    Ok(post)
}

/// What a reply written here answers.
enum ReplyTarget {
    Post(post::Model),
    GardenItem(garden_item::Model),
}

/// A post `viewer` may read, or else a published garden item: replies to an
/// item are its discussion.
async fn reply_target(
    db: &impl ConnectionTrait,
    viewer: &actor::Model,
    ap_id: &str,
) -> ServiceResult<ReplyTarget> {
    let unknown = || ServiceError::not_found("the post replied to is not known here");
    match readable_post(db, viewer, ap_id).await {
        Ok(post) => return Ok(ReplyTarget::Post(post)),
        Err(err) if err.kind() != ErrorKind::NotFound => return Err(err),
        Err(_) => {}
    }
    let item = crate::garden::readable(db, Viewer::Actor(viewer), ap_id)
        .await
        .map_err(|err| {
            if err.kind() == ErrorKind::NotFound {
                unknown()
            } else {
                err
            }
        })?;
    if item.status != ItemStatus::Published {
        return Err(ServiceError::validation("a draft is not open for discussion yet"));
    }
    Ok(ReplyTarget::GardenItem(item))
}

/// Discussions as the API, the pages and the inbox see them.
pub struct Posts<'p>(pub(crate) &'p Processor);

impl Posts<'_> {
    /// A member writes a thread start (in `group`: a local name, `@name@host`
    /// or a URL) or a reply (`in_reply_to`: a post, or a garden item to
    /// discuss, fetched from its node when it is not known here yet).
    pub async fn create(
        &self,
        author: &Account,
        group: Option<&str>,
        compose: Compose<'_>,
    ) -> ServiceResult<post::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        // What needs no other node is checked before anything is fetched.
        check_content(compose.content)?;
        let title = clean_title(compose.title)?;
        let group = match group.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => Some(self.0.groups().find(name).await?),
            None => None,
        };
        let group = group.as_ref();
        if let Some(parent) = compose.in_reply_to {
            let url = url::Url::parse(parent.trim())
                .map_err(|_| ServiceError::validation("in_reply_to is not a URL"))?;
            self.0.resolver().reply_target(&url).await?;
        }
        let target = match compose.in_reply_to {
            Some(id) => Some(reply_target(db, &author.person, id).await?),
            None => None,
        };
        let (parent, item) = match &target {
            Some(ReplyTarget::Post(post)) => (Some(post), None),
            Some(ReplyTarget::GardenItem(item)) => (None, Some(item)),
            None => (None, None),
        };
        let target_group_id = parent.map(|p| p.group_id).or(item.map(|i| i.group_id));
        let group = match (target_group_id, group) {
            (Some(target_group_id), given) => {
                let target_group = match target_group_id {
                    Some(id) => queries::actors::by_id(db, id).await?,
                    None => None,
                };
                if let (Some(given), Some(actual)) = (given, &target_group)
                    && given.id != actual.id
                {
                    return Err(ServiceError::validation(
                        "the post replied to is in another working group",
                    ));
                }
                target_group.or_else(|| given.cloned())
            }
            (None, Some(group)) => Some(group.clone()),
            (None, None) => return Err(ServiceError::validation("a thread needs a working group")),
        };
        if target.is_none() && title.is_none() {
            return Err(ServiceError::validation("a thread needs a title"));
        }
        let under = match (parent, item) {
            (Some(parent), _) => Under::Post(parent),
            (None, Some(_)) => Under::Item,
            (None, None) => Under::Nothing,
        };
        if let Some(group) = &group {
            if group.kind != ActorKind::Group {
                return Err(ServiceError::validation("posts go to working groups"));
            }
            policy::require(db, author.into(), Action::Contribute(under), Target::Group(group)).await?;
        }
        if parent.is_some_and(|p| !p.is_placed()) {
            return Err(ServiceError::validation(
                "the post replied to is still waiting for its own parent",
            ));
        }
        let (content_html, tags) = render(db, ctx, compose.content).await?;
        let within = parent.map(|p| p.visibility).or(item.map(|i| i.visibility));
        let visibility = visibility_in(db, group.as_ref(), within, compose.visibility).await?;
        let now = Utc::now();
        let ap_id = ctx.urls.new_post();
        let txn = db.begin().await?;
        let row = queries::posts::insert(
            &txn,
            post::ActiveModel {
                ap_id: Set(ap_id.clone()),
                url: Set(Some(ap_id)),
                author_id: Set(Some(author.person.id)),
                group_id: Set(group.as_ref().map(|g| g.id)),
                in_reply_to: Set(parent.map(|p| p.ap_id.clone()).or(item.map(|i| i.ap_id.clone()))),
                parent_id: Set(parent.map(|p| p.id)),
                root_id: Set(parent.map(|p| p.root_id.unwrap_or(p.id))),
                garden_item_id: Set(parent.and_then(|p| p.garden_item_id).or(item.map(|i| i.id))),
                title: Set(if target.is_none() { title } else { None }),
                content_html: Set(content_html),
                source: Set(Some(compose.content.to_owned())),
                summary: Set(clean_summary(compose.summary)),
                sensitive: Set(compose.sensitive || compose.summary.is_some_and(|s| !s.trim().is_empty())),
                language: Set(compose
                    .language
                    .map(|l| text::plain_text(l, 16))
                    .filter(|l| !l.is_empty())),
                visibility: Set(visibility),
                local: Set(true),
                published: Set(now),
                updated_at: Set(None),
                deleted_at: Set(None),
                removed: Set(false),
                locked: Set(false),
                likes: Set(0),
                dislikes: Set(0),
                boosts: Set(0),
                replies: Set(0),
                last_activity_at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        queries::posts::set_tags(&txn, row.id, &tags).await?;
        if let Some(root_id) = row.root_id {
            queries::posts::touch_thread(&txn, root_id, now).await?;
        }
        publisher
            .publish(&txn, Outgoing::CreatePost { post_id: row.id })
            .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// The author edits a post; the previous text is kept as a revision.
    pub async fn edit(&self, account: &Account, ap_id: &str, edit: Edit<'_>) -> ServiceResult<post::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let before = own_post(db, account, ap_id).await?;
        let now = Utc::now();
        let mut row: post::ActiveModel = before.clone().into();
        let txn = db.begin().await?;
        if let Some(content) = edit.content {
            check_content(content)?;
            let (html, tags) = render(&txn, ctx, content).await?;
            row.content_html = Set(html);
            row.source = Set(Some(content.to_owned()));
            queries::posts::set_tags(&txn, before.id, &tags).await?;
        }
        if edit.title.is_some() && before.in_reply_to.is_none() {
            let title =
                clean_title(edit.title)?.ok_or_else(|| ServiceError::validation("a thread needs a title"))?;
            row.title = Set(Some(title));
        }
        if let Some(summary) = edit.summary {
            row.summary = Set(clean_summary(summary));
        }
        if let Some(sensitive) = edit.sensitive {
            row.sensitive = Set(sensitive);
        }
        row.updated_at = Set(Some(now));
        queries::posts::add_revision(&txn, &before, now).await?;
        let updated = queries::posts::update(&txn, row).await?;
        if let Some(root_id) = updated.root_id {
            queries::posts::touch_thread(&txn, root_id, now).await?;
        }
        publisher
            .publish(&txn, Outgoing::UpdatePost { post_id: updated.id })
            .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Which of `groups` `account` moderates, with one query for them all.
    pub async fn moderated_among(
        &self,
        account: &Account,
        groups: &[&actor::Model],
    ) -> ServiceResult<HashSet<i64>> {
        let db = self.0.readers();
        let listed =
            queries::groups::moderated_among(db, account.person.id, groups.iter().map(|g| g.id).collect())
                .await?;
        Ok(groups
            .iter()
            .filter(|group| policy::staff_moderates(account.into(), group, listed.contains(&group.id)))
            .map(|group| group.id)
            .collect())
    }

    /// Delete a post: its author deletes it; a moderator of its group removes it,
    /// with a `reason` when they give one. Either way a tombstone stays so the
    /// thread keeps its shape.
    pub async fn delete(&self, account: &Account, ap_id: &str, reason: Option<&str>) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let post = queries::posts::by_ap_id(db, ap_id)
            .await?
            .filter(|p| !p.is_gone())
            .ok_or_else(|| ServiceError::not_found("no such post"))?;
        let txn = db.begin().await?;
        let target = Target::Content(Subject::Post(&post));
        if policy::may(&txn, account.into(), Action::Edit, target).await? {
            tombstone(&txn, &post).await?;
            publisher
                .publish(&txn, Outgoing::DeletePost { post_id: post.id })
                .await?;
        } else if policy::may(&txn, account.into(), Action::Moderate, target).await? {
            set_removed(&txn, &post, true).await?;
            publisher
                .publish(
                    &txn,
                    Outgoing::RemovePost {
                        post_id: post.id,
                        moderator_id: account.person.id,
                        reason: reason
                            .map(|r| text::plain_text(r, MAX_SUMMARY))
                            .filter(|r| !r.is_empty()),
                    },
                )
                .await?;
        } else {
            return Err(ServiceError::forbidden(
                "only its author or a moderator of its working group may delete a post",
            ));
        }
        txn.commit().await?;
        Ok(())
    }

    /// A moderator locks or unlocks a thread.
    pub async fn set_locked(&self, account: &Account, ap_id: &str, locked: bool) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let post = queries::posts::by_ap_id(db, ap_id)
            .await?
            .filter(|p| !p.is_gone() && p.in_reply_to.is_none())
            .ok_or_else(|| ServiceError::not_found("no such thread"))?;
        if !policy::may(
            db,
            account.into(),
            Action::Moderate,
            Target::Content(Subject::Post(&post)),
        )
        .await?
        {
            return Err(ServiceError::forbidden(
                "only the working group's moderators may lock a thread",
            ));
        }
        let txn = db.begin().await?;
        queries::posts::update(
            &txn,
            post::ActiveModel {
                id: Set(post.id),
                locked: Set(locked),
                ..Default::default()
            },
        )
        .await?;
        publisher
            .publish(
                &txn,
                Outgoing::LockThread {
                    post_id: post.id,
                    moderator_id: account.person.id,
                    locked,
                },
            )
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A post's earlier versions, oldest first, for whoever may read it. A
    /// deleted or removed post has no history to show.
    pub async fn history(
        &self,
        viewer: Option<&actor::Model>,
        ap_id: &str,
    ) -> ServiceResult<(post::Model, Vec<post_revision::Model>)> {
        let db = self.0.readers();
        let post = queries::posts::by_ap_id(db, ap_id)
            .await?
            .filter(|p| !p.is_gone())
            .ok_or_else(|| ServiceError::not_found("no such post"))?;
        if !policy::visible_to(db, viewer.into(), Subject::Post(&post)).await? {
            return Err(ServiceError::not_found("no such post"));
        }
        let revisions = queries::posts::revisions(db, post.id).await?;
        Ok((post, revisions))
    }

    /// A member likes (or dislikes) a post, or takes it back.
    pub async fn react(
        &self,
        account: &Account,
        ap_id: &str,
        kind: ReactionKind,
        on: bool,
    ) -> ServiceResult<post::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        if kind == ReactionKind::Boost {
            return Err(ServiceError::validation("a reaction is a like or a dislike"));
        }
        let post = readable_post(db, &account.person, ap_id).await?;
        policy::require(
            db,
            account.into(),
            Action::TakePart,
            Target::Content(Subject::Post(&post)),
        )
        .await?;
        let txn = db.begin().await?;
        let existing = queries::posts::reaction_of(&txn, post.id, account.person.id, kind).await?;
        match (on, existing) {
            (true, None) => {
                let activity_id = ctx.urls.new_activity(kind.as_str());
                queries::posts::add_reaction(&txn, post.id, account.person.id, kind, Some(&activity_id))
                    .await?;
                if let Some(reaction) =
                    queries::posts::reaction_of(&txn, post.id, account.person.id, kind).await?
                {
                    publisher
                        .publish(
                            &txn,
                            Outgoing::React {
                                reaction_id: reaction.id,
                            },
                        )
                        .await?;
                }
            }
            (false, Some(reaction)) => {
                publisher
                    .publish(
                        &txn,
                        Outgoing::UndoReaction {
                            reaction: reaction.clone(),
                        },
                    )
                    .await?;
                queries::posts::remove_reaction(&txn, &reaction).await?;
            }
            // Already in the wanted state.
            _ => {}
        }
        let post = queries::posts::by_id(&txn, post.id)
            .await?
            .ok_or_else(|| ServiceError::not_found("no such post"))?;
        txn.commit().await?;
        Ok(post)
    }

    /// A thread: its start and every reply under it, nested. `ap_id` may name any
    /// post in the thread.
    pub async fn thread(&self, viewer: Option<&actor::Model>, ap_id: &str) -> ServiceResult<ThreadView> {
        let db = self.0.readers();
        let post = queries::posts::by_ap_id(db, ap_id)
            .await?
            .filter(|p| p.author_id.is_some())
            .ok_or_else(|| ServiceError::not_found("no such post"))?;
        let root = match post.root_id {
            Some(root_id) => queries::posts::by_id(db, root_id)
                .await?
                .ok_or_else(|| ServiceError::not_found("the thread is gone"))?,
            None => post,
        };
        // One scope for the start and every reply: a members-only reply (and
        // so everything below it) is left out for those who may not read it,
        // even in a public thread, without a query per reply.
        let scope = policy::read_scope(db, viewer.into()).await?;
        if !scope.allows(root.visibility, root.group_id, root.author_id) {
            return Err(ServiceError::not_found("no such post"));
        }
        let replies = queries::posts::replies_in_threads(db, vec![root.id]).await?;
        threads_of(db, &scope, vec![root], replies)
            .await?
            .pop()
            .ok_or_else(|| ServiceError::Internal("empty thread view".into()))
    }

    /// A group's threads that `viewer` may read, filtered in the query.
    pub async fn group_threads(
        &self,
        viewer: Viewer<'_>,
        group: &actor::Model,
        page: Page,
    ) -> ServiceResult<Vec<PostView>> {
        let db = self.0.readers();
        let scope = policy::read_scope(db, viewer).await?;
        let threads = queries::posts::threads_of_group(db, group.id, &scope, page).await?;
        views(db, threads.into_iter().map(|p| (p, 0)).collect()).await
    }

    pub async fn feed(&self, feed: Feed<'_>, page: Page) -> ServiceResult<Vec<PostView>> {
        let db = self.0.readers();
        let scope = match feed {
            Feed::Local => queries::posts::FeedScope::Local,
            Feed::Federated => queries::posts::FeedScope::Federated,
            Feed::Home(viewer) => {
                // Who the viewer follows and the groups they belong to, as the policy knows them.
                let member_of = match policy::read_scope(db, Viewer::Actor(viewer)).await? {
                    ReadScope::Actor { member_of, .. } => member_of,
                    ReadScope::Open | ReadScope::Everything => Vec::new(),
                };
                let mut actor_ids = member_of.clone();
                actor_ids.push(viewer.id);
                queries::posts::FeedScope::Home { actor_ids, member_of }
            }
        };
        let posts = queries::posts::feed(db, scope, page).await?;
        views(db, posts.into_iter().map(|p| (p, 0)).collect()).await
    }

    /// Public posts with a hashtag, here and from elsewhere.
    pub async fn tagged(&self, tag: &str, page: Page) -> ServiceResult<Vec<PostView>> {
        let db = self.0.readers();
        let posts = queries::posts::tagged(db, tag, page).await?;
        views(db, posts.into_iter().map(|p| (p, 0)).collect()).await
    }

    /// The discussion of a garden item: each thread started by a reply to it,
    /// as `viewer` may read them, oldest first.
    pub async fn discussion(
        &self,
        viewer: Option<&actor::Model>,
        item: &garden_item::Model,
    ) -> ServiceResult<Vec<ThreadView>> {
        let db = self.0.readers();
        let scope = policy::read_scope(db, viewer.into()).await?;
        let starts: Vec<post::Model> = queries::posts::discussion_of(db, item.id)
            .await?
            .into_iter()
            .filter(|start| start.parent_id.is_none() && start.author_id.is_some())
            .filter(|start| scope.allows(start.visibility, start.group_id, start.author_id))
            .collect();
        let replies = queries::posts::replies_in_threads(db, starts.iter().map(|s| s.id).collect()).await?;
        threads_of(db, &scope, starts, replies).await
    }
}

/// A local post by its id, for its author to change.
async fn own_post(db: &impl ConnectionTrait, account: &Account, ap_id: &str) -> ServiceResult<post::Model> {
    let post = queries::posts::by_ap_id(db, ap_id)
        .await?
        .filter(|p| !p.is_gone())
        .ok_or_else(|| ServiceError::not_found("no such post"))?;
    policy::require(
        db,
        account.into(),
        Action::Edit,
        Target::Content(Subject::Post(&post)),
    )
    .await?;
    Ok(post)
}

pub struct Edit<'a> {
    pub title: Option<&'a str>,
    pub content: Option<&'a str>,
    pub summary: Option<Option<&'a str>>,
    pub sensitive: Option<bool>,
}

/// Turn a post into a tombstone: its text is dropped, its place in the thread kept.
pub async fn tombstone(db: &impl ConnectionTrait, post: &post::Model) -> ServiceResult<()> {
    let now = Utc::now();
    queries::posts::update(
        db,
        post::ActiveModel {
            id: Set(post.id),
            deleted_at: Set(Some(now)),
            content_html: Set(String::new()),
            source: Set(None),
            title: Set(None),
            summary: Set(None),
            ..Default::default()
        },
    )
    .await?;
    if let Some(root_id) = post.root_id {
        queries::posts::touch_thread(db, root_id, now).await?;
    }
    Ok(())
}

pub async fn set_removed(db: &impl ConnectionTrait, post: &post::Model, removed: bool) -> ServiceResult<()> {
    queries::posts::update(
        db,
        post::ActiveModel {
            id: Set(post.id),
            removed: Set(removed),
            ..Default::default()
        },
    )
    .await?;
    if let Some(root_id) = post.root_id {
        queries::posts::touch_thread(db, root_id, Utc::now()).await?;
    }
    Ok(())
}

/// A lock (or unlock) of a post that arrived from elsewhere, already checked.
pub async fn receive_lock(
    db: &impl ConnectionTrait,
    post: &post::Model,
    locked: bool,
) -> ServiceResult<post::Model> {
    queries::posts::update(
        db,
        post::ActiveModel {
            id: Set(post.id),
            locked: Set(locked),
            ..Default::default()
        },
    )
    .await?;
    Ok(post::Model {
        locked,
        ..post.clone()
    })
}

/// Threads laid out for reading: each start followed by the replies `scope`
/// may read, depth first, oldest sibling first. A reply below one left out is
/// left out too. A fixed number of queries whatever the threads hold.
async fn threads_of(
    db: &impl ConnectionTrait,
    scope: &ReadScope,
    roots: Vec<post::Model>,
    mut replies: Vec<post::Model>,
) -> ServiceResult<Vec<ThreadView>> {
    replies.retain(|reply| scope.allows(reply.visibility, reply.group_id, reply.author_id));
    replies.sort_by_key(|p| (p.published, p.id));
    let mut children: HashMap<i64, Vec<post::Model>> = HashMap::new();
    for reply in replies {
        let parent = reply.parent_id.or(reply.root_id).unwrap_or_default();
        children.entry(parent).or_default().push(reply);
    }
    let mut laid_out = Vec::new();
    let mut lengths = Vec::with_capacity(roots.len());
    for root in roots {
        let before = laid_out.len();
        // The stack holds siblings reversed, so the oldest comes off first.
        let mut stack = vec![(root, 0)];
        while let Some((post, depth)) = stack.pop() {
            if let Some(kids) = children.remove(&post.id) {
                stack.extend(kids.into_iter().rev().map(|kid| (kid, depth + 1)));
            }
            laid_out.push((post, depth));
        }
        lengths.push(laid_out.len() - before);
    }
    // Every thread's authors, groups and tags in one go.
    let mut views = views(db, laid_out).await?.into_iter();
    let mut threads = Vec::with_capacity(lengths.len());
    for length in lengths {
        let mut thread = views.by_ref().take(length);
        let root = thread
            .next()
            .ok_or_else(|| ServiceError::Internal("empty thread view".into()))?;
        threads.push(ThreadView {
            root,
            replies: thread.collect(),
        });
    }
    Ok(threads)
}

/// Fill in authors, groups and tags for a list of posts.
async fn views(db: &impl ConnectionTrait, posts: Vec<(post::Model, usize)>) -> ServiceResult<Vec<PostView>> {
    let actor_ids = posts
        .iter()
        .flat_map(|(post, _)| post.author_id.into_iter().chain(post.group_id))
        .collect();
    // One query for every author and group, whatever the number of posts.
    let actors = queries::actors::map_by_ids(db, actor_ids).await?;
    let mut tags: HashMap<i64, Vec<post_tag::Model>> = HashMap::new();
    for tag in queries::posts::tags_of(db, posts.iter().map(|(p, _)| p.id).collect()).await? {
        tags.entry(tag.post_id).or_default().push(tag);
    }
    let lookup = |id: Option<i64>| id.and_then(|id| actors.get(&id).cloned());
    Ok(posts
        .into_iter()
        .map(|(post, depth)| PostView {
            author: lookup(post.author_id),
            group: lookup(post.group_id),
            tags: tags.remove(&post.id).unwrap_or_default(),
            post,
            depth,
        })
        .collect())
}

/// Which feed to read.
pub enum Feed<'a> {
    /// Threads in the groups a member belongs to and by the people they follow.
    Home(&'a actor::Model),
    /// Public threads written on this node.
    Local,
    /// Public threads from everywhere this node hears from.
    Federated,
}

/// A post learned from another node, already checked by the federation layer.
#[derive(Debug, Clone)]
pub struct RemotePost {
    pub ap_id: String,
    pub url: Option<String>,
    pub author: actor::Model,
    /// The group it was posted in, when it names one (`audience`, or a group
    /// among its recipients).
    pub group: Option<actor::Model>,
    pub in_reply_to: Option<String>,
    pub title: Option<String>,
    /// Untrusted HTML; sanitised here.
    pub content_html: String,
    pub summary: Option<String>,
    pub sensitive: bool,
    pub language: Option<String>,
    pub visibility: Visibility,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
    /// `(kind, name, href)`.
    pub tags: Vec<(TagKind, String, Option<String>)>,
}

/// The first line of a post's text, without the mentions that address it.
fn first_line(html: &str) -> Option<String> {
    text::html_to_text(html)
        .lines()
        .map(|line| {
            text::plain_text(line, MAX_CONTENT)
                .split_whitespace()
                .skip_while(|word| word.starts_with('@'))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .find(|line| !line.is_empty())
        .map(|line| line.chars().take(MAX_TITLE).collect())
}

/// What storing a remote post came to.
#[derive(Debug)]
pub enum StoredPost {
    Created(post::Model),
    Updated(post::Model),
    /// Already known, nothing newer.
    Unchanged(post::Model),
    /// Its Delete arrived first: the tombstone stays.
    AlreadyDeleted,
}

/// Store or refresh a post from another node. Its parent, when known, places
/// it in a thread; replies that were waiting for it are placed below it.
pub async fn store_remote(db: &impl ConnectionTrait, remote: RemotePost) -> ServiceResult<StoredPost> {
    let content_html = text::sanitize_html(&remote.content_html);
    let title = remote
        .title
        .as_deref()
        .map(|t| text::plain_text(t, MAX_TITLE))
        .filter(|t| !t.is_empty())
        // A thread started from Mastodon has no title: its first line is one, as Lemmy does.
        .or_else(|| {
            remote
                .in_reply_to
                .is_none()
                .then(|| first_line(&content_html))
                .flatten()
        });
    let summary = remote
        .summary
        .as_deref()
        .map(|s| text::plain_text(s, MAX_SUMMARY))
        .filter(|s| !s.is_empty());
    if let Some(existing) = queries::posts::by_ap_id(db, &remote.ap_id).await? {
        if existing.deleted_at.is_some() {
            return Ok(StoredPost::AlreadyDeleted);
        }
        if existing.author_id != Some(remote.author.id) {
            return Err(ServiceError::forbidden(
                "the post already exists with another author",
            ));
        }
        let changed =
            existing.content_html != content_html || existing.title != title || existing.summary != summary;
        let newer = remote
            .updated
            .is_some_and(|u| existing.updated_at.is_none_or(|seen| u > seen));
        if !changed || (!newer && existing.updated_at.is_some()) {
            return Ok(StoredPost::Unchanged(existing));
        }
        let at = remote.updated.unwrap_or_else(Utc::now);
        queries::posts::add_revision(db, &existing, at).await?;
        let updated = queries::posts::update(
            db,
            post::ActiveModel {
                id: Set(existing.id),
                title: Set(title),
                content_html: Set(content_html),
                summary: Set(summary),
                sensitive: Set(remote.sensitive),
                updated_at: Set(Some(at)),
                ..Default::default()
            },
        )
        .await?;
        queries::posts::set_tags(db, updated.id, &remote.tags).await?;
        if let Some(root_id) = updated.root_id {
            queries::posts::touch_thread(db, root_id, at).await?;
        }
        return Ok(StoredPost::Updated(updated));
    }
    let parent = match &remote.in_reply_to {
        Some(id) => queries::posts::by_ap_id(db, id).await?,
        None => None,
    };
    let item = match (&parent, &remote.in_reply_to) {
        (None, Some(id)) => queries::garden::by_ap_id(db, id)
            .await?
            .filter(|i| i.deleted_at.is_none()),
        _ => None,
    };
    // A reply belongs to its thread's group (or its item's), whatever it names.
    let group_id = parent
        .as_ref()
        .and_then(|p| p.group_id)
        .or(item.as_ref().and_then(|i| i.group_id))
        .or(remote.group.as_ref().map(|g| g.id));
    let placed = parent.as_ref().filter(|p| p.is_placed());
    // Never more visible than its group, the post it answers or the item it discusses.
    let group = match group_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    };
    let within = parent
        .as_ref()
        .map(|p| p.visibility)
        .or(item.as_ref().map(|i| i.visibility));
    let visibility = policy::visibility_for_new(db, group.as_ref(), within, remote.visibility).await?;
    let row = queries::posts::insert(
        db,
        post::ActiveModel {
            ap_id: Set(remote.ap_id.clone()),
            url: Set(remote.url.clone()),
            author_id: Set(Some(remote.author.id)),
            group_id: Set(group_id),
            in_reply_to: Set(remote.in_reply_to.clone()),
            parent_id: Set(parent.as_ref().map(|p| p.id)),
            root_id: Set(placed.map(|p| p.root_id.unwrap_or(p.id))),
            garden_item_id: Set(parent
                .as_ref()
                .and_then(|p| p.garden_item_id)
                .or(item.as_ref().map(|i| i.id))),
            title: Set(if remote.in_reply_to.is_none() { title } else { None }),
            content_html: Set(content_html),
            source: Set(None),
            summary: Set(summary),
            sensitive: Set(remote.sensitive),
            language: Set(remote.language.as_deref().map(|l| text::plain_text(l, 16))),
            visibility: Set(visibility),
            local: Set(false),
            published: Set(remote.published),
            updated_at: Set(remote.updated),
            deleted_at: Set(None),
            removed: Set(false),
            locked: Set(false),
            likes: Set(0),
            dislikes: Set(0),
            boosts: Set(0),
            replies: Set(0),
            last_activity_at: Set(remote.published),
            ..Default::default()
        },
    )
    .await?;
    queries::posts::set_tags(db, row.id, &remote.tags).await?;
    if let Some(root_id) = row.root_id {
        queries::posts::touch_thread(db, root_id, remote.published).await?;
    }
    place_waiting_replies(db, &row).await?;
    let row = queries::posts::by_id(db, row.id)
        .await?
        .ok_or_else(|| ServiceError::Internal("a stored post vanished".into()))?;
    Ok(StoredPost::Created(row))
}

/// Replies that arrived before `post` now hang below it, and so does
/// everything that was waiting below them.
async fn place_waiting_replies(db: &impl ConnectionTrait, post: &post::Model) -> ServiceResult<()> {
    let placed = post.is_placed();
    let root_id = post.root_id.unwrap_or(post.id);
    let mut touched = false;
    for waiting in queries::posts::waiting_for_parent(db, &post.ap_id).await? {
        queries::posts::set_thread(db, waiting.id, post.id, root_id).await?;
        if let Some(item_id) = post.garden_item_id {
            queries::posts::set_garden_item(db, waiting.id, item_id).await?;
        }
        touched = true;
        if placed {
            place_below(db, waiting.id, root_id, post.garden_item_id).await?;
        }
    }
    if touched && placed {
        queries::posts::touch_thread(db, root_id, post.last_activity_at).await?;
    }
    Ok(())
}

/// Everything below `top` joins the thread started by `root_id` (and the
/// discussion of `garden_item_id`).
async fn place_below(
    db: &impl ConnectionTrait,
    top: i64,
    root_id: i64,
    garden_item_id: Option<i64>,
) -> ServiceResult<()> {
    let mut below = vec![top];
    while let Some(parent) = below.pop() {
        for child in queries::posts::children(db, parent).await? {
            queries::posts::set_thread(db, child.id, parent, root_id).await?;
            if let Some(item_id) = garden_item_id {
                queries::posts::set_garden_item(db, child.id, item_id).await?;
            }
            below.push(child.id);
        }
    }
    Ok(())
}

/// A garden item from another node has arrived: replies to it that came
/// first start threads of its discussion, with what hangs below them.
pub async fn open_discussion(db: &impl ConnectionTrait, item: &garden_item::Model) -> ServiceResult<()> {
    for waiting in queries::posts::waiting_for_parent(db, &item.ap_id).await? {
        queries::posts::set_garden_item(db, waiting.id, item.id).await?;
        place_below(db, waiting.id, waiting.id, Some(item.id)).await?;
        queries::posts::touch_thread(db, waiting.id, waiting.last_activity_at).await?;
    }
    Ok(())
}

/// Another node deleted a post. `by` must be its author or a moderator of its
/// group (then it counts as a removal). An unknown id leaves a tombstone so a
/// late Create cannot bring it back.
pub async fn receive_delete(db: &impl ConnectionTrait, by: &actor::Model, ap_id: &str) -> ServiceResult<()> {
    match queries::posts::by_ap_id(db, ap_id).await? {
        Some(post) if post.deleted_at.is_some() => Ok(()),
        Some(post) if post.author_id == Some(by.id) => tombstone(db, &post).await,
        Some(post) => {
            let moderator = match post.group_id {
                Some(group_id) => {
                    queries::groups::is_moderator(db, group_id, by.id).await? || group_id == by.id
                }
                None => false,
            };
            if !moderator {
                return Err(ServiceError::forbidden(
                    "only its author or a moderator may delete a post",
                ));
            }
            set_removed(db, &post, true).await
        }
        None => {
            let now = Utc::now();
            queries::posts::insert(
                db,
                post::ActiveModel {
                    ap_id: Set(ap_id.to_owned()),
                    author_id: Set(None),
                    content_html: Set(String::new()),
                    sensitive: Set(false),
                    visibility: Set(Visibility::Public),
                    local: Set(false),
                    published: Set(now),
                    deleted_at: Set(Some(now)),
                    removed: Set(false),
                    locked: Set(false),
                    likes: Set(0),
                    dislikes: Set(0),
                    boosts: Set(0),
                    replies: Set(0),
                    last_activity_at: Set(now),
                    ..Default::default()
                },
            )
            .await?;
            Ok(())
        }
    }
}

/// A like, dislike or boost from another node; returns the post when counted.
pub async fn receive_reaction(
    db: &impl ConnectionTrait,
    actor: &actor::Model,
    post_ap_id: &str,
    kind: ReactionKind,
    activity_id: &str,
) -> ServiceResult<Option<post::Model>> {
    let Some(post) = queries::posts::by_ap_id(db, post_ap_id)
        .await?
        .filter(|p| !p.is_gone())
    else {
        return Err(ServiceError::not_found("the post reacted to is not known here"));
    };
    queries::posts::add_reaction(db, post.id, actor.id, kind, Some(activity_id)).await?;
    Ok(queries::posts::by_id(db, post.id).await?)
}

/// Undo of a reaction from another node, by the reaction's activity id or,
/// failing that, by the post and kind.
pub async fn receive_undo_reaction(
    db: &impl ConnectionTrait,
    actor: &actor::Model,
    activity_id: Option<&str>,
    post_ap_id: Option<&str>,
    kind: ReactionKind,
) -> ServiceResult<Option<post::Model>> {
    let mut reaction = match activity_id {
        Some(id) => queries::posts::reaction_by_ap_id(db, id).await?,
        None => None,
    };
    if reaction.is_none()
        && let Some(post_ap_id) = post_ap_id
        && let Some(post) = queries::posts::by_ap_id(db, post_ap_id).await?
    {
        reaction = queries::posts::reaction_of(db, post.id, actor.id, kind).await?;
    }
    let Some(reaction) = reaction else { return Ok(None) };
    if reaction.actor_id != actor.id {
        return Err(ServiceError::forbidden("only who reacted may undo a reaction"));
    }
    queries::posts::remove_reaction(db, &reaction).await?;
    Ok(queries::posts::by_id(db, reaction.post_id).await?)
}
