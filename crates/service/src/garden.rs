//! The knowledge garden: patterns, metrics and stories that anyone writes,
//! revises, forks from other nodes with their provenance, adopts, and finds.

use crate::{
    NodeContext, ServiceError, ServiceResult,
    accounts::Account,
    policy::{self, Action, Subject, Target, Under, Viewer},
    publish::{Outgoing, Publisher},
};
use chrono::{DateTime, Utc};
use healthcommons_core::{
    garden::{self, Content, FieldDiff, ItemStatus, Kind, Merged, Place},
    text,
};
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{
    TransactionTrait,
    entities::{Visibility, actor, adoption, garden_item, garden_revision},
    queries::{self, garden::Filter, posts::Page},
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// How deep a chain of forks is followed (provenance, adoptions of forks).
pub const MAX_FORK_DEPTH: usize = 16;
pub const MAX_MESSAGE: usize = 500;
pub const MAX_ADOPTION_TEXT: usize = 20_000;

/// One link in a fork's chain: an item and the revision taken from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub id: String,
    pub revision: i32,
}

/// An item with what a page or the API shows beside it.
#[derive(Debug, Clone)]
pub struct ItemView {
    pub item: garden_item::Model,
    pub kind: Kind,
    pub content: Content,
    pub author: Option<actor::Model>,
    pub group: Option<actor::Model>,
    /// From the first origin to the item forked from.
    pub provenance: Vec<Origin>,
}

/// An item's page: the item, its forks, where it was adopted, what it relates to.
#[derive(Debug, Clone)]
pub struct ItemPage {
    pub view: ItemView,
    /// Forks known here, each with who made it.
    pub forks: Vec<ItemView>,
    /// Adoptions of the item and of every fork below it.
    pub adoptions: Vec<AdoptionView>,
    /// Items this one names (`Some` when known here) and items that name it.
    pub related: Vec<RelatedItem>,
}

#[derive(Debug, Clone)]
pub struct RelatedItem {
    pub relation: garden::RelationKind,
    /// True when the other item names this one.
    pub incoming: bool,
    pub target: String,
    pub item: Option<garden_item::Model>,
}

#[derive(Debug, Clone)]
pub struct AdoptionView {
    pub adoption: adoption::Model,
    pub by: Option<actor::Model>,
    /// The item adopted (this one or a fork of it).
    pub item: garden_item::Model,
}

pub fn parse_content(row: &garden_item::Model) -> ServiceResult<Content> {
    serde_json::from_str(&row.content)
        .map_err(|e| ServiceError::Internal(format!("garden item {} has unreadable content: {e}", row.id)))
}

pub(crate) fn provenance_of(row: &garden_item::Model) -> Vec<Origin> {
    serde_json::from_str(&row.provenance).unwrap_or_default()
}

fn to_json<T: Serialize>(value: &T) -> ServiceResult<String> {
    serde_json::to_string(value).map_err(|e| ServiceError::Internal(e.to_string()))
}

pub(crate) fn validated(content: Content, kind: Kind) -> ServiceResult<Content> {
    content.validated(kind).map_err(|e| ServiceError::validation(e.0))
}

pub(crate) fn clean_message(message: Option<&str>, default: &str) -> String {
    let message = text::plain_text(message.unwrap_or_default(), MAX_MESSAGE);
    if message.is_empty() {
        default.to_owned()
    } else {
        message
    }
}

/// The columns that follow from an item's content.
fn set_content(row: &mut garden_item::ActiveModel, kind: Kind, content: &Content) -> ServiceResult<()> {
    row.title = Set(content.title.clone());
    row.summary = Set(content.summary.clone());
    row.content = Set(to_json(content)?);
    row.content_html = Set(content.to_html(kind));
    row.license = Set(content.license.clone());
    row.place_name = Set(content
        .place
        .as_ref()
        .map(|p| p.name.clone())
        .filter(|n| !n.is_empty()));
    row.latitude = Set(content.place.as_ref().and_then(|p| p.latitude));
    row.longitude = Set(content.place.as_ref().and_then(|p| p.longitude));
    Ok(())
}

/// Keep tags, relations and the search index in step with the current content.
async fn reindex(
    db: &impl ConnectionTrait,
    item: &garden_item::Model,
    content: &Content,
) -> ServiceResult<()> {
    if item.deleted_at.is_some() {
        queries::garden::remove_from_search(db, item.id).await?;
        return Ok(());
    }
    let relations: Vec<_> = content
        .relations
        .iter()
        .map(|r| (r.kind, r.target.clone()))
        .collect();
    queries::garden::index_item(db, item.id, &content.tags, &relations, &content.search_document()).await?;
    Ok(())
}

/// What a member writes: a new item, or a new revision of one.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub content: Content,
    pub status: ItemStatus,
    /// Why this revision (shown in the history).
    pub message: Option<&'a str>,
}

/// The garden as the API, the pages and the inbox see it.
pub struct Garden<'p>(pub(crate) &'p crate::Processor);

impl Garden<'_> {
    /// What changed at a fork's origin since the fork last took from it,
    /// with the origin fetched anew from its node.
    pub async fn upstream(&self, viewer: Viewer<'_>, fork_ap_id: &str) -> ServiceResult<Upstream> {
        let fork = readable(self.0.db(), viewer, fork_ap_id).await?;
        let origin = self.0.resolver().refresh_origin(&fork).await?;
        upstream_changes(self.0.db(), viewer, &fork, &origin).await
    }

    /// A member adds an item to the garden, optionally published to one of this
    /// node's working groups (which then announces it to its followers).
    ///
    /// `group` is a local name, `@name@host` or a URL.
    pub async fn create(
        &self,
        author: &Account,
        kind: Kind,
        group: Option<&str>,
        draft: Draft<'_>,
    ) -> ServiceResult<garden_item::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        // The item is checked before a remote group is fetched.
        let content = validated(draft.content, kind)?;
        let group = match group.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => Some(self.0.groups().find(name).await?),
            None => None,
        };
        let group = group.as_ref();
        if let Some(group) = group {
            check_group(db, group, author).await?;
        }
        let visibility = policy::visibility_for_new(db, group, None, Visibility::Public).await?;
        let ap_id = ctx.urls.new_garden_item();
        let message = clean_message(draft.message, "Planted");
        let txn = db.begin().await?;
        let item = insert_local(
            &txn,
            LocalItem {
                ap_id,
                kind,
                author_id: author.person.id,
                group_id: group.map(|g| g.id),
                visibility,
                status: draft.status,
                content: &content,
                origin: None,
            },
        )
        .await?;
        queries::garden::add_revision(
            &txn,
            item.id,
            1,
            Some(author.person.id),
            &message,
            &item.content,
            item.published,
        )
        .await?;
        reindex(&txn, &item, &content).await?;
        if draft.status == ItemStatus::Published {
            publisher
                .publish(&txn, Outgoing::CreateGardenItem { item_id: item.id })
                .await?;
        }
        txn.commit().await?;
        Ok(item)
    }

    /// The author edits an item: a new revision with a message. A published
    /// item cannot go back to draft (other nodes have it already).
    pub async fn edit(
        &self,
        account: &Account,
        ap_id: &str,
        draft: Draft<'_>,
    ) -> ServiceResult<garden_item::Model> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let before = editable(db, account, ap_id).await?;
        let content = validated(draft.content, before.kind)?;
        if before.status == ItemStatus::Published && draft.status == ItemStatus::Draft {
            return Err(ServiceError::validation(
                "a published item cannot go back to draft: other nodes have it already",
            ));
        }
        if content == parse_content(&before)? && draft.status == before.status {
            return Err(ServiceError::validation("nothing changed"));
        }
        let message = clean_message(draft.message, "Edited");
        let txn = db.begin().await?;
        let item = revise(
            &txn,
            publisher,
            account,
            &before,
            &content,
            draft.status,
            &message,
        )
        .await?;
        txn.commit().await?;
        Ok(item)
    }

    /// A moderator of its working group shares a members-only item with the
    /// whole commons: it becomes public, a revision records who shared it and
    /// when (its history shows it), and other nodes get it as new.
    pub async fn share_with_commons(
        &self,
        account: &Account,
        ap_id: &str,
    ) -> ServiceResult<garden_item::Model> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let before = readable(db, Viewer::Actor(&account.person), ap_id).await?;
        if before.visibility.is_open() {
            return Err(ServiceError::conflict(
                "this item is already shared with the commons",
            ));
        }
        if !policy::may(
            db,
            account.into(),
            Action::Share,
            Target::Content(Subject::GardenItem(&before)),
        )
        .await?
        {
            return Err(ServiceError::forbidden(
                "only a moderator of its working group may share it with the commons",
            ));
        }
        let now = Utc::now();
        let number = before.revision + 1;
        let message = format!("Shared with the whole commons by {}", account.person.handle());
        let txn = db.begin().await?;
        let mut row: garden_item::ActiveModel = before.into();
        row.visibility = Set(Visibility::Public);
        row.revision = Set(number);
        row.updated_at = Set(Some(now));
        let item = queries::garden::update(&txn, row).await?;
        queries::garden::add_revision(
            &txn,
            item.id,
            number,
            Some(account.person.id),
            &message,
            &item.content,
            now,
        )
        .await?;
        publisher
            .publish(&txn, Outgoing::CreateGardenItem { item_id: item.id })
            .await?;
        txn.commit().await?;
        Ok(item)
    }

    /// Bring back an earlier revision's content, as a new revision.
    pub async fn revert(
        &self,
        account: &Account,
        ap_id: &str,
        number: i32,
    ) -> ServiceResult<garden_item::Model> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let before = editable(db, account, ap_id).await?;
        let old = queries::garden::revision(db, before.id, number)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("this item has no revision {number}")))?;
        let content: Content = serde_json::from_str(&old.content)
            .map_err(|e| ServiceError::Internal(format!("revision {} is unreadable: {e}", old.id)))?;
        if content == parse_content(&before)? {
            return Err(ServiceError::validation(
                "that revision says what the item says now",
            ));
        }
        let status = before.status;
        let message = format!("Reverted to revision {number}");
        let txn = db.begin().await?;
        let item = revise(&txn, publisher, account, &before, &content, status, &message).await?;
        txn.commit().await?;
        Ok(item)
    }

    /// Delete a local item. Its forks elsewhere stay, with provenance that says
    /// the origin is gone.
    pub async fn delete(&self, account: &Account, ap_id: &str) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let item = editable(db, account, ap_id).await?;
        let txn = db.begin().await?;
        let gone = tombstone(&txn, &item).await?;
        if item.status == ItemStatus::Published {
            publisher
                .publish(&txn, Outgoing::DeleteGardenItem { item_id: gone.id })
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// A member forks an item (from this node or one learned from another) into
    /// this node's garden. The fork starts as a copy at the item's current
    /// revision and remembers the whole chain it came from.
    ///
    /// The source may be on another node; it is fetched when not known here.
    pub async fn fork(
        &self,
        account: &Account,
        source_ap_id: &str,
        message: Option<&str>,
    ) -> ServiceResult<garden_item::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let source = self.0.resolver().garden_item(source_ap_id).await?.ap_id;
        let source_ap_id = source.as_str();
        let source = readable(db, Viewer::Actor(&account.person), source_ap_id).await?;
        policy::require(
            db,
            account.into(),
            Action::TakePart,
            Target::Content(Subject::GardenItem(&source)),
        )
        .await?;
        if source.status != ItemStatus::Published {
            return Err(ServiceError::validation("publish a draft before forking it"));
        }
        let origin_name = source.url.as_deref().unwrap_or(&source.ap_id);
        let default_message = format!("Forked from {origin_name} (revision {})", source.revision);
        plant_fork(
            db,
            ctx,
            publisher,
            account,
            Planted {
                kind: source.kind,
                content: parse_content(&source)?,
                chain: provenance_of(&source),
                origin: Origin {
                    id: source.ap_id.clone(),
                    revision: source.revision,
                },
                message: clean_message(message, &default_message),
                // A fork of a members-only item stays among the same members.
                kept_among: (!source.visibility.is_open()).then_some((source.group_id, source.visibility)),
            },
        )
        .await
    }

    /// The fork's author takes upstream's changes: a three-way merge part by
    /// part, written as a new revision. Parts both sides changed keep the fork's
    /// text and are reported.
    ///
    /// The origin is fetched anew from its node first.
    pub async fn pull(
        &self,
        account: &Account,
        fork_ap_id: &str,
    ) -> ServiceResult<(garden_item::Model, Merged)> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let upstream = self.upstream(Viewer::Actor(&account.person), fork_ap_id).await?;
        let origin = &upstream.origin;
        let fork = editable(db, account, fork_ap_id).await?;
        if fork.forked_from.as_deref() != Some(origin.ap_id.as_str()) {
            return Err(ServiceError::validation("this item was not forked from that one"));
        }
        if !policy::visible_to(db, Viewer::Actor(&account.person), Subject::GardenItem(origin)).await? {
            return Err(ServiceError::not_found(
                "the item this was forked from is not visible to you",
            ));
        }
        // Its text may not become more visible by being pulled.
        if fork.visibility.narrowest(origin.visibility) != fork.visibility
            || (!origin.visibility.is_open() && fork.group_id != origin.group_id)
        {
            return Err(ServiceError::forbidden(
                "the item this was forked from is now kept among fewer people than this fork",
            ));
        }
        if origin.revision <= fork.forked_revision.unwrap_or(0) {
            return Err(ServiceError::validation("there is nothing new upstream"));
        }
        let base: Content = fork
            .base_content
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| ServiceError::Internal(format!("fork {} has an unreadable base: {e}", fork.id)))?
            .unwrap_or_default();
        let theirs = parse_content(origin)?;
        let merged = garden::merge(&base, &parse_content(&fork)?, &theirs);
        let kind = fork.kind;
        let content = validated(merged.content.clone(), kind)?;
        let mut message = format!("Pulled revision {} from upstream", origin.revision);
        if !merged.conflicts.is_empty() {
            message.push_str(&format!(
                "; kept this fork's {} (changed on both sides)",
                merged.conflicts.join(", ")
            ));
        }
        let txn = db.begin().await?;
        let mut item = revise(
            &txn,
            publisher,
            account,
            &fork,
            &content,
            ItemStatus::Published,
            &message,
        )
        .await?;
        let mut row: garden_item::ActiveModel = item.clone().into();
        row.forked_revision = Set(Some(origin.revision));
        row.base_content = Set(Some(origin.content.clone()));
        item = queries::garden::update(&txn, row).await?;
        txn.commit().await?;
        Ok((item, merged))
    }

    /// An initiative records that it adopted a pattern (or uses a metric, or
    /// lived a story). It goes to the item's origin and up its chain of forks.
    ///
    /// The item, its story and metrics may be on other nodes; they are
    /// fetched when not known here, and so is each link of the item's chain
    /// of forks, so that its author can be told.
    pub async fn adopt(
        &self,
        account: &Account,
        item_ap_id: &str,
        input: AdoptionInput<'_>,
    ) -> ServiceResult<adoption::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let resolver = self.0.resolver();
        let item = resolver.garden_item(item_ap_id).await?;
        for origin in view(db, item.clone()).await?.provenance {
            if let Err(err) = resolver.garden_item(&origin.id).await {
                tracing::debug!(%err, origin = %origin.id, "an origin of an adopted fork could not be fetched");
            }
        }
        let story = match input.story.map(str::trim).filter(|s| !s.is_empty()) {
            Some(story) => Some(resolver.garden_item(story).await?.ap_id),
            None => None,
        };
        let mut metrics = Vec::new();
        for metric in input.metrics.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
            metrics.push(resolver.garden_item(metric).await?.ap_id);
        }
        let input = AdoptionInput {
            story: story.as_deref(),
            metrics: metrics.iter().map(String::as_str).collect(),
            ..input
        };
        let item_ap_id = item.ap_id.as_str();
        let item = readable(db, Viewer::Actor(&account.person), item_ap_id).await?;
        policy::require(
            db,
            account.into(),
            Action::TakePart,
            Target::Content(Subject::GardenItem(&item)),
        )
        .await?;
        if item.status != ItemStatus::Published {
            return Err(ServiceError::validation(
                "publish a draft before recording adoptions",
            ));
        }
        if input.context.trim().is_empty() {
            return Err(ServiceError::validation("say where and how it was adopted"));
        }
        if input.context.len() > MAX_ADOPTION_TEXT || input.outcome.len() > MAX_ADOPTION_TEXT {
            return Err(ServiceError::validation(format!(
                "context and outcome must be at most {MAX_ADOPTION_TEXT} bytes each"
            )));
        }
        if let Some(story) = input.story {
            let story = readable(db, Viewer::Actor(&account.person), story)
                .await
                .map_err(|_| ServiceError::validation("the story is not in the garden here"))?;
            if story.kind != Kind::Story {
                return Err(ServiceError::validation("an adoption's story must be a story"));
            }
        }
        for metric in &input.metrics {
            let metric = readable(db, Viewer::Actor(&account.person), metric)
                .await
                .map_err(|_| ServiceError::validation("a metric named is not in the garden here"))?;
            if metric.kind != Kind::Metric {
                return Err(ServiceError::validation("an outcome is measured by metrics"));
            }
        }
        let place = check_place(input.place)?;
        let txn = db.begin().await?;
        let adoption = queries::garden::insert_adoption(
            &txn,
            adoption::ActiveModel {
                ap_id: Set(ctx.urls.new_adoption()),
                item_id: Set(item.id),
                actor_id: Set(account.person.id),
                context_html: Set(text::markdown_to_html(input.context)),
                outcome_html: Set(text::markdown_to_html(input.outcome)),
                story: Set(input.story.map(str::to_owned)),
                metrics: Set(to_json(&input.metrics)?),
                place_name: Set(place.as_ref().map(|p| p.name.clone()).filter(|n| !n.is_empty())),
                latitude: Set(place.as_ref().and_then(|p| p.latitude)),
                longitude: Set(place.as_ref().and_then(|p| p.longitude)),
                local: Set(true),
                created_at: Set(Utc::now()),
                ..Default::default()
            },
        )
        .await?;
        publisher
            .publish(
                &txn,
                Outgoing::Adopt {
                    adoption_id: adoption.id,
                },
            )
            .await?;
        txn.commit().await?;
        Ok(adoption)
    }
}

async fn check_group(db: &impl ConnectionTrait, group: &actor::Model, author: &Account) -> ServiceResult<()> {
    if group.kind != ActorKind::Group || !group.local {
        return Err(ServiceError::validation(
            "garden items are published to working groups on this node",
        ));
    }
    policy::require(
        db,
        author.into(),
        Action::Contribute(Under::Nothing),
        Target::Group(group),
    )
    .await
}

struct LocalItem<'a> {
    ap_id: String,
    kind: Kind,
    author_id: i64,
    group_id: Option<i64>,
    visibility: Visibility,
    status: ItemStatus,
    content: &'a Content,
    /// For a fork: the chain, the item forked and the content taken from it.
    origin: Option<(Vec<Origin>, &'a Content)>,
}

async fn insert_local(db: &impl ConnectionTrait, new: LocalItem<'_>) -> ServiceResult<garden_item::Model> {
    let now = Utc::now();
    let (provenance, forked_from, forked_revision, base_content) = match &new.origin {
        Some((chain, base)) => {
            let parent = chain.last();
            (
                to_json(chain)?,
                parent.map(|p| p.id.clone()),
                parent.map(|p| p.revision),
                Some(to_json(base)?),
            )
        }
        None => ("[]".to_owned(), None, None, None),
    };
    let mut row = garden_item::ActiveModel {
        ap_id: Set(new.ap_id.clone()),
        url: Set(Some(new.ap_id.clone())),
        kind: Set(new.kind),
        author_id: Set(Some(new.author_id)),
        group_id: Set(new.group_id),
        visibility: Set(new.visibility),
        status: Set(new.status),
        revision: Set(1),
        forked_from: Set(forked_from),
        forked_revision: Set(forked_revision),
        base_content: Set(base_content),
        provenance: Set(provenance),
        origin_gone: Set(false),
        local: Set(true),
        published: Set(now),
        updated_at: Set(None),
        deleted_at: Set(None),
        ..Default::default()
    };
    set_content(&mut row, new.kind, new.content)?;
    Ok(queries::garden::insert(db, row).await?)
}

pub(crate) async fn readable(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    ap_id: &str,
) -> ServiceResult<garden_item::Model> {
    let item = queries::garden::by_ap_id(db, ap_id)
        .await?
        .filter(|i| i.deleted_at.is_none())
        .ok_or_else(|| ServiceError::not_found("no such garden item"))?;
    if !policy::visible_to(db, viewer, Subject::GardenItem(&item)).await? {
        return Err(ServiceError::not_found("no such garden item"));
    }
    Ok(item)
}

/// A local item its author (or a moderator of this node) may change.
async fn editable(
    db: &impl ConnectionTrait,
    account: &Account,
    ap_id: &str,
) -> ServiceResult<garden_item::Model> {
    let item = readable(db, Viewer::Actor(&account.person), ap_id).await?;
    if !item.local {
        return Err(ServiceError::forbidden(
            "this item lives on another node: fork it to change it here",
        ));
    }
    if !policy::may(
        db,
        account.into(),
        Action::Edit,
        Target::Content(Subject::GardenItem(&item)),
    )
    .await?
    {
        return Err(ServiceError::forbidden(
            "only its author or a moderator of this node may change an item: fork it to make your own",
        ));
    }
    Ok(item)
}

/// Write a new revision of a local item and tell other nodes.
async fn revise(
    txn: &DatabaseTransaction,
    publisher: &dyn Publisher,
    account: &Account,
    before: &garden_item::Model,
    content: &Content,
    status: ItemStatus,
    message: &str,
) -> ServiceResult<garden_item::Model> {
    let kind = before.kind;
    let now = Utc::now();
    let number = before.revision + 1;
    let mut row: garden_item::ActiveModel = before.clone().into();
    set_content(&mut row, kind, content)?;
    row.revision = Set(number);
    row.status = Set(status);
    row.updated_at = Set(Some(now));
    let item = queries::garden::update(txn, row).await?;
    queries::garden::add_revision(
        txn,
        item.id,
        number,
        Some(account.person.id),
        message,
        &item.content,
        now,
    )
    .await?;
    reindex(txn, &item, content).await?;
    let outgoing = match (before.status, status) {
        (_, ItemStatus::Draft) => None,
        (ItemStatus::Draft, ItemStatus::Published) => Some(Outgoing::CreateGardenItem { item_id: item.id }),
        _ => Some(Outgoing::UpdateGardenItem { item_id: item.id }),
    };
    if let Some(outgoing) = outgoing {
        publisher.publish(txn, outgoing).await?;
    }
    Ok(item)
}

/// Mark an item deleted, drop it from search, and tell its forks here.
async fn tombstone(
    db: &impl ConnectionTrait,
    item: &garden_item::Model,
) -> ServiceResult<garden_item::Model> {
    let mut row: garden_item::ActiveModel = item.clone().into();
    row.deleted_at = Set(Some(Utc::now()));
    let gone = queries::garden::update(db, row).await?;
    queries::garden::remove_from_search(db, item.id).await?;
    queries::garden::mark_origin_gone(db, &item.ap_id).await?;
    Ok(gone)
}

pub(crate) async fn revisions(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    ap_id: &str,
) -> ServiceResult<(garden_item::Model, Vec<garden_revision::Model>)> {
    let item = readable(db, viewer, ap_id).await?;
    let revisions = queries::garden::revisions(db, item.id).await?;
    Ok((item, revisions))
}

pub(crate) async fn diff(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    ap_id: &str,
    from: i32,
    to: i32,
) -> ServiceResult<Vec<FieldDiff>> {
    let item = readable(db, viewer, ap_id).await?;
    let mut contents = Vec::with_capacity(2);
    for number in [from, to] {
        let revision = queries::garden::revision(db, item.id, number)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("this item has no revision {number} here")))?;
        let content: Content = serde_json::from_str(&revision.content)
            .map_err(|e| ServiceError::Internal(format!("revision {} is unreadable: {e}", revision.id)))?;
        contents.push(content);
    }
    Ok(garden::diff(&contents[0], &contents[1]))
}

/// What a fork (or an import, which is one) plants in this node's garden.
pub(crate) struct Planted {
    pub kind: Kind,
    pub content: Content,
    /// Where `origin` itself came from, oldest first.
    pub chain: Vec<Origin>,
    /// The item and revision copied.
    pub origin: Origin,
    pub message: String,
    /// The group and visibility of a members-only source, which its fork keeps.
    pub kept_among: Option<(Option<i64>, Visibility)>,
}

/// Plant a fork by `account`: a published copy with the whole chain it came
/// from (the oldest links dropped past [`MAX_FORK_DEPTH`]), its first
/// revision, its place in the index, and its `Create`, which tells the origin.
pub(crate) async fn plant_fork(
    db: &DatabaseConnection,
    ctx: &NodeContext,
    publisher: &dyn Publisher,
    account: &Account,
    planted: Planted,
) -> ServiceResult<garden_item::Model> {
    let Planted {
        kind,
        content,
        mut chain,
        origin,
        message,
        kept_among,
    } = planted;
    let (group_id, visibility) = kept_among.unwrap_or((None, Visibility::Public));
    chain.push(origin);
    if chain.len() > MAX_FORK_DEPTH {
        chain.drain(..chain.len() - MAX_FORK_DEPTH);
    }
    let txn = db.begin().await?;
    let item = insert_local(
        &txn,
        LocalItem {
            ap_id: ctx.urls.new_garden_item(),
            kind,
            author_id: account.person.id,
            group_id,
            visibility,
            status: ItemStatus::Published,
            content: &content,
            origin: Some((chain, &content)),
        },
    )
    .await?;
    queries::garden::add_revision(
        &txn,
        item.id,
        1,
        Some(account.person.id),
        &message,
        &item.content,
        item.published,
    )
    .await?;
    reindex(&txn, &item, &content).await?;
    publisher
        .publish(&txn, Outgoing::CreateGardenItem { item_id: item.id })
        .await?;
    txn.commit().await?;
    Ok(item)
}

/// What changed upstream since a fork last took from it.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub fork: garden_item::Model,
    /// The item forked from, as its origin has it now.
    pub origin: garden_item::Model,
    pub since_revision: i32,
    pub changes: Vec<FieldDiff>,
}

/// Compare a fork with the item it came from (`origin`, freshly fetched by the caller).
/// What changed at `fork`'s origin since it was taken, if `viewer` may see
/// the origin now (it may have become members-only since).
async fn upstream_changes(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    fork: &garden_item::Model,
    origin: &garden_item::Model,
) -> ServiceResult<Upstream> {
    if !policy::visible_to(db, viewer, Subject::GardenItem(origin)).await? {
        return Err(ServiceError::not_found(
            "the item this was forked from is not visible to you",
        ));
    }
    let base: Content = match &fork.base_content {
        Some(base) => serde_json::from_str(base)
            .map_err(|e| ServiceError::Internal(format!("fork {} has an unreadable base: {e}", fork.id)))?,
        None => return Err(ServiceError::validation("this item is not a fork")),
    };
    let current = parse_content(origin)?;
    Ok(Upstream {
        fork: fork.clone(),
        origin: origin.clone(),
        since_revision: fork.forked_revision.unwrap_or(0),
        changes: garden::diff(&base, &current),
    })
}

/// An adoption as a member records it.
#[derive(Debug, Clone, Default)]
pub struct AdoptionInput<'a> {
    /// Markdown: where and how it was adopted.
    pub context: &'a str,
    /// Markdown: what came of it.
    pub outcome: &'a str,
    /// A story in the garden telling how it went (its id).
    pub story: Option<&'a str>,
    /// Metrics the outcome was measured by (their ids).
    pub metrics: Vec<&'a str>,
    pub place: Option<Place>,
}

fn check_place(place: Option<Place>) -> ServiceResult<Option<Place>> {
    Ok(place
        .map(Place::validated)
        .transpose()
        .map_err(|e| ServiceError::validation(e.0))?
        .flatten())
}

async fn views(db: &impl ConnectionTrait, rows: Vec<garden_item::Model>) -> ServiceResult<Vec<ItemView>> {
    let actors = queries::actors::map_by_ids(
        db,
        rows.iter()
            .flat_map(|r| [r.author_id, r.group_id])
            .flatten()
            .collect(),
    )
    .await?;
    rows.into_iter()
        .map(|item| {
            Ok(ItemView {
                kind: item.kind,
                content: parse_content(&item)?,
                author: item.author_id.and_then(|id| actors.get(&id).cloned()),
                group: item.group_id.and_then(|id| actors.get(&id).cloned()),
                provenance: provenance_of(&item),
                item,
            })
        })
        .collect()
}

pub(crate) async fn view(db: &impl ConnectionTrait, item: garden_item::Model) -> ServiceResult<ItemView> {
    views(db, vec![item])
        .await?
        .pop()
        .ok_or_else(|| ServiceError::Internal("a garden item vanished".into()))
}

/// Every fork below `root` known here (forks of forks too), breadth first.
async fn descendants(
    db: &impl ConnectionTrait,
    root: &garden_item::Model,
) -> ServiceResult<Vec<garden_item::Model>> {
    let mut found = Vec::new();
    let mut seen = HashSet::from([root.ap_id.clone()]);
    let mut frontier = vec![root.ap_id.clone()];
    for _ in 0..MAX_FORK_DEPTH {
        let mut next = Vec::new();
        for ap_id in &frontier {
            for fork in queries::garden::forks_of(db, ap_id).await? {
                if seen.insert(fork.ap_id.clone()) {
                    next.push(fork.ap_id.clone());
                    found.push(fork);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(found)
}

async fn related(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    item: &garden_item::Model,
) -> ServiceResult<Vec<RelatedItem>> {
    let outgoing = queries::garden::relations_of(db, item.id).await?;
    let incoming = queries::garden::relations_to(db, &item.ap_id).await?;
    let mut wanted: Vec<String> = outgoing.iter().map(|r| r.target.clone()).collect();
    let sources = queries::garden::by_ids(db, incoming.iter().map(|r| r.item_id).collect()).await?;
    wanted.extend(sources.iter().map(|s| s.ap_id.clone()));
    let mut known: HashMap<String, garden_item::Model> = HashMap::new();
    for found in queries::garden::by_ap_ids(db, wanted).await? {
        if found.deleted_at.is_none()
            && found.status == ItemStatus::Published
            && policy::visible_to(db, viewer, Subject::GardenItem(&found)).await?
        {
            known.insert(found.ap_id.clone(), found);
        }
    }
    let source_ids: HashMap<i64, String> = sources.into_iter().map(|s| (s.id, s.ap_id)).collect();
    let mut out = Vec::new();
    for relation in outgoing {
        out.push(RelatedItem {
            relation: relation.kind,
            incoming: false,
            item: known.get(&relation.target).cloned(),
            target: relation.target,
        });
    }
    for relation in incoming {
        if let Some(source) = source_ids.get(&relation.item_id)
            && let Some(item) = known.get(source)
        {
            out.push(RelatedItem {
                relation: relation.kind,
                incoming: true,
                target: source.clone(),
                item: Some(item.clone()),
            });
        }
    }
    Ok(out)
}

/// What a search or a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    pub text: &'a str,
    pub kind: Option<Kind>,
    pub tag: Option<&'a str>,
    pub place: Option<&'a str>,
    /// The viewer's own drafts instead of published items.
    pub drafts: bool,
}

pub async fn search(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    query: Query<'_>,
    page: Page,
) -> ServiceResult<Vec<ItemView>> {
    let words: Vec<String> = garden::search_words(query.text).into_iter().take(16).collect();
    let drafts_of = match (query.drafts, viewer.actor()) {
        (false, _) => None,
        (true, Some(actor)) => Some(actor.id),
        (true, None) => return Err(ServiceError::unauthorized("log in to see your drafts")),
    };
    let filter = Filter {
        words: words.clone(),
        kind: query.kind,
        tag: query.tag.and_then(garden::clean_tag),
        place: query.place.map(|p| p.trim().to_owned()),
        drafts_of,
        scope: policy::read_scope(db, viewer).await?,
    };
    if words.is_empty() {
        let rows = queries::garden::find(db, &filter, page).await?;
        return views(db, rows).await;
    }
    // Rank every match on its title and summary, then load one page of them.
    let score = |text: &str| {
        let text_words = garden::search_words(text);
        words
            .iter()
            .filter(|w| text_words.iter().any(|t| t.starts_with(w.as_str())))
            .count()
    };
    let mut candidates = queries::garden::search_candidates(db, &filter).await?;
    candidates
        .sort_by_cached_key(|c| std::cmp::Reverse((score(&c.title), score(&c.summary), c.published, c.id)));
    let page_ids: Vec<i64> = candidates
        .iter()
        .skip(page.offset() as usize)
        .take(page.size as usize)
        .map(|c| c.id)
        .collect();
    let mut rows = queries::garden::by_ids(db, page_ids.clone()).await?;
    rows.sort_by_key(|r| page_ids.iter().position(|id| *id == r.id));
    views(db, rows).await
}

/// A garden item as another node sent it.
#[derive(Debug, Clone)]
pub struct RemoteItem {
    pub ap_id: String,
    /// As its addressing says (see `policy::visibility_for_new`, which narrows it).
    pub visibility: Visibility,
    pub url: Option<String>,
    pub kind: Kind,
    pub author: actor::Model,
    pub group: Option<actor::Model>,
    pub content: Content,
    pub revision: i32,
    pub message: Option<String>,
    pub provenance: Vec<Origin>,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub enum StoredItem {
    Created(garden_item::Model),
    Updated(garden_item::Model),
    /// Already at this revision or newer.
    Unchanged(garden_item::Model),
    /// Deleted here before: the tombstone wins.
    AlreadyDeleted,
}

/// Store or update an item learned from another node. Each newer revision
/// is kept, so its history here grows from the first revision we saw.
pub async fn store_remote(db: &impl ConnectionTrait, remote: RemoteItem) -> ServiceResult<StoredItem> {
    let content = validated(remote.content, remote.kind)?;
    let revision = remote.revision.max(1);
    let message = clean_message(remote.message.as_deref(), "Received");
    let visibility = policy::visibility_for_new(db, remote.group.as_ref(), None, remote.visibility).await?;
    let existing = queries::garden::by_ap_id(db, &remote.ap_id).await?;
    let item = match existing {
        Some(existing) if existing.deleted_at.is_some() => return Ok(StoredItem::AlreadyDeleted),
        Some(existing) if existing.local => {
            return Err(ServiceError::forbidden("this node's own items change only here"));
        }
        Some(existing) if existing.author_id != Some(remote.author.id) => {
            return Err(ServiceError::forbidden(
                "only its author may revise a garden item",
            ));
        }
        Some(existing) if existing.revision >= revision => return Ok(StoredItem::Unchanged(existing)),
        Some(existing) => {
            let mut row: garden_item::ActiveModel = existing.into();
            set_content(&mut row, remote.kind, &content)?;
            row.revision = Set(revision);
            row.url = Set(remote.url.clone());
            row.group_id = Set(remote.group.as_ref().map(|g| g.id));
            row.visibility = Set(visibility);
            row.updated_at = Set(Some(remote.updated.unwrap_or_else(Utc::now)));
            StoredItem::Updated(queries::garden::update(db, row).await?)
        }
        None => {
            let parent = remote.provenance.last();
            let mut row = garden_item::ActiveModel {
                ap_id: Set(remote.ap_id.clone()),
                url: Set(remote.url.clone()),
                kind: Set(remote.kind),
                author_id: Set(Some(remote.author.id)),
                group_id: Set(remote.group.as_ref().map(|g| g.id)),
                visibility: Set(visibility),
                status: Set(ItemStatus::Published),
                revision: Set(revision),
                forked_from: Set(parent.map(|p| p.id.clone())),
                forked_revision: Set(parent.map(|p| p.revision)),
                base_content: Set(None),
                provenance: Set(to_json(&remote.provenance)?),
                origin_gone: Set(false),
                local: Set(false),
                published: Set(remote.published),
                updated_at: Set(remote.updated),
                deleted_at: Set(None),
                ..Default::default()
            };
            set_content(&mut row, remote.kind, &content)?;
            let created = queries::garden::insert(db, row).await?;
            // A fork whose origin was deleted here before the fork arrived.
            if let Some(parent) = parent
                && queries::garden::by_ap_id(db, &parent.id)
                    .await?
                    .is_some_and(|p| p.deleted_at.is_some())
            {
                queries::garden::mark_origin_gone(db, &parent.id).await?;
            }
            StoredItem::Created(created)
        }
    };
    let (StoredItem::Created(row) | StoredItem::Updated(row)) = &item else {
        return Ok(item);
    };
    queries::garden::add_revision(
        db,
        row.id,
        revision,
        Some(remote.author.id),
        &message,
        &row.content,
        row.updated_at.unwrap_or(row.published),
    )
    .await?;
    reindex(db, row, &content).await?;
    if let StoredItem::Created(row) = &item {
        crate::posts::open_discussion(db, row).await?;
    }
    Ok(item)
}

/// Another node deleted one of its items (checked to be its author's by the caller).
pub async fn receive_delete(db: &impl ConnectionTrait, item: &garden_item::Model) -> ServiceResult<()> {
    if item.deleted_at.is_none() {
        tombstone(db, item).await?;
    }
    Ok(())
}

/// An adoption as another node sent it.
#[derive(Debug, Clone)]
pub struct RemoteAdoption {
    pub ap_id: String,
    pub item: garden_item::Model,
    pub actor: actor::Model,
    pub context_html: String,
    pub outcome_html: String,
    pub story: Option<String>,
    pub metrics: Vec<String>,
    pub place: Option<Place>,
    pub published: DateTime<Utc>,
}

/// Record an adoption from another node once.
pub async fn receive_adoption(
    db: &impl ConnectionTrait,
    remote: RemoteAdoption,
) -> ServiceResult<adoption::Model> {
    if let Some(existing) = queries::garden::adoption_by_ap_id(db, &remote.ap_id).await? {
        return Ok(existing);
    }
    if !policy::visible_to(
        db,
        Viewer::Actor(&remote.actor),
        Subject::GardenItem(&remote.item),
    )
    .await?
    {
        return Err(ServiceError::not_found("no such garden item"));
    }
    let place = check_place(remote.place)?;
    Ok(queries::garden::insert_adoption(
        db,
        adoption::ActiveModel {
            ap_id: Set(remote.ap_id),
            item_id: Set(remote.item.id),
            actor_id: Set(remote.actor.id),
            context_html: Set(text::sanitize_html(&remote.context_html)),
            outcome_html: Set(text::sanitize_html(&remote.outcome_html)),
            story: Set(remote.story),
            metrics: Set(to_json(&remote.metrics)?),
            place_name: Set(place.as_ref().map(|p| p.name.clone()).filter(|n| !n.is_empty())),
            latitude: Set(place.as_ref().and_then(|p| p.latitude)),
            longitude: Set(place.as_ref().and_then(|p| p.longitude)),
            local: Set(false),
            created_at: Set(remote.published),
            ..Default::default()
        },
    )
    .await?)
}

/// The way in for the pages and the API, on the processor's connections.
impl Garden<'_> {
    /// A visible item by id: published, or a draft its author asks for.
    pub async fn readable(&self, viewer: Viewer<'_>, ap_id: &str) -> ServiceResult<garden_item::Model> {
        readable(self.0.readers(), viewer, ap_id).await
    }

    /// An item's revisions, newest first.
    pub async fn revisions(
        &self,
        viewer: Viewer<'_>,
        ap_id: &str,
    ) -> ServiceResult<(garden_item::Model, Vec<garden_revision::Model>)> {
        revisions(self.0.readers(), viewer, ap_id).await
    }

    /// What changed between two revisions of an item.
    pub async fn diff(
        &self,
        viewer: Viewer<'_>,
        ap_id: &str,
        from: i32,
        to: i32,
    ) -> ServiceResult<Vec<FieldDiff>> {
        diff(self.0.readers(), viewer, ap_id, from, to).await
    }

    pub async fn view(&self, item: garden_item::Model) -> ServiceResult<ItemView> {
        view(self.0.readers(), item).await
    }

    /// An item's page: the item, its direct forks, adoptions of it and of every
    /// fork below it, and its related items in both directions.
    pub async fn page(&self, viewer: Viewer<'_>, ap_id: &str) -> ServiceResult<ItemPage> {
        let db = self.0.readers();
        let item = readable(db, viewer, ap_id).await?;
        let mut below = Vec::new();
        for fork in descendants(db, &item).await? {
            if policy::visible_to(db, viewer, Subject::GardenItem(&fork)).await? {
                below.push(fork);
            }
        }
        let forks = views(
            db,
            below
                .iter()
                .filter(|f| f.forked_from.as_deref() == Some(item.ap_id.as_str()) && f.deleted_at.is_none())
                .cloned()
                .collect(),
        )
        .await?;
        let mut by_id: HashMap<i64, garden_item::Model> = below.into_iter().map(|i| (i.id, i)).collect();
        by_id.insert(item.id, item.clone());
        let adoptions = queries::garden::adoptions_of(db, by_id.keys().copied().collect()).await?;
        let adopters =
            queries::actors::map_by_ids(db, adoptions.iter().map(|a| a.actor_id).collect()).await?;
        let adoptions = adoptions
            .into_iter()
            .filter_map(|adoption| {
                Some(AdoptionView {
                    by: adopters.get(&adoption.actor_id).cloned(),
                    item: by_id.get(&adoption.item_id)?.clone(),
                    adoption,
                })
            })
            .collect();
        let related = related(db, viewer, &item).await?;
        Ok(ItemPage {
            view: view(db, item).await?,
            forks,
            adoptions,
            related,
        })
    }

    /// Search and browse the garden (items from other nodes too). With words,
    /// matches are ranked the same way on every database: more query words in
    /// the title first, then in the summary, then newest.
    pub async fn search(
        &self,
        viewer: Viewer<'_>,
        query: Query<'_>,
        page: Page,
    ) -> ServiceResult<Vec<ItemView>> {
        search(self.0.readers(), viewer, query, page).await
    }
}
