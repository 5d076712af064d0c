//! Pledges: accountability offered as a gift. A person offers to carry an
//! action ("I will …, by …") attached to an event, an agenda question or a
//! garden item, moves it from offered to in progress to done (or releases
//! it), and others count on it and hear how it goes.

use crate::{
    ServiceError, ServiceResult,
    accounts::Account,
    policy::{self, Action, Subject, Target, Under, Viewer},
    publish::{Outgoing, Publisher},
};
use chrono::{DateTime, NaiveDate, Utc};
use healthcommons_core::garden::ItemStatus;
use healthcommons_core::{
    pledge::{PledgeStatus, PledgeTarget},
    text,
};
use healthcommons_db::{
    TransactionTrait,
    entities::{Visibility, actor, event, garden_item, pledge, pledge_backer, question},
    queries::{self, pledges::Listing},
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, IntoActiveModel};
use std::collections::{HashMap, HashSet};

/// The longest action, in characters.
pub const MAX_ACTION: usize = 500;

/// What a person offers to do.
#[derive(Debug, Clone)]
pub struct Offer {
    pub target: PledgeTarget,
    pub target_id: i64,
    /// "… run the next walking group" (a leading "I will" is dropped).
    pub action: String,
    pub due_on: Option<NaiveDate>,
}

/// What a pledge is attached to, as pages and the wire name it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRef {
    pub kind: PledgeTarget,
    pub id: i64,
    pub ap_id: String,
    pub title: String,
    pub group_id: Option<i64>,
    /// Who wrote it (told of pledges on it).
    pub author_id: Option<i64>,
    /// A pledge on it is never more visible than it.
    pub visibility: Visibility,
}

/// A pledge with who made it, its working group and what it is attached to.
#[derive(Debug, Clone)]
pub struct PledgeView {
    pub pledge: pledge::Model,
    pub author: Option<actor::Model>,
    pub group: Option<actor::Model>,
    pub target: Option<TargetRef>,
}

impl PledgeView {
    pub fn status(&self) -> PledgeStatus {
        self.pledge.status
    }
}

/// The action as stored: plain text, one line, without a leading "I will".
pub fn clean_action(raw: &str) -> ServiceResult<String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    let words = match words.as_slice() {
        [i, will, rest @ ..] if i.eq_ignore_ascii_case("i") && will.eq_ignore_ascii_case("will") => rest,
        all => all,
    };
    let action = text::plain_text(&words.join(" "), MAX_ACTION + 1)
        .trim_end_matches('.')
        .trim_end()
        .to_owned();
    if action.is_empty() {
        return Err(ServiceError::validation("say what you will do"));
    }
    if action.chars().count() > MAX_ACTION {
        return Err(ServiceError::validation(format!(
            "an action must be at most {MAX_ACTION} characters"
        )));
    }
    Ok(action)
}

/// A short title for what a question asks: its text without markup.
fn question_title(content_html: &str) -> String {
    let plain = text::html_to_text(content_html);
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut title = text::plain_text(&words.join(" "), 200);
    if title.chars().count() > 120 {
        title = title.chars().take(119).collect::<String>() + "…";
    }
    title
}

impl TargetRef {
    fn event(event: event::Model) -> Self {
        TargetRef {
            kind: PledgeTarget::Event,
            id: event.id,
            ap_id: event.ap_id,
            title: event.title,
            group_id: event.group_id,
            author_id: event.author_id,
            visibility: event.visibility,
        }
    }
    fn question(question: question::Model) -> Self {
        TargetRef {
            kind: PledgeTarget::Question,
            id: question.id,
            title: question_title(&question.content_html),
            ap_id: question.ap_id,
            group_id: question.group_id,
            author_id: question.author_id,
            visibility: question.visibility,
        }
    }
    fn garden_item(item: garden_item::Model) -> Self {
        TargetRef {
            kind: PledgeTarget::GardenItem,
            id: item.id,
            ap_id: item.ap_id,
            title: item.title,
            group_id: item.group_id,
            author_id: item.author_id,
            visibility: item.visibility,
        }
    }
}

/// Only what is still there (and, for a garden item, published) takes pledges.
fn live_event(event: event::Model) -> Option<TargetRef> {
    event.deleted_at.is_none().then(|| TargetRef::event(event))
}
fn live_question(question: question::Model) -> Option<TargetRef> {
    question
        .deleted_at
        .is_none()
        .then(|| TargetRef::question(question))
}
fn live_garden_item(item: garden_item::Model) -> Option<TargetRef> {
    (item.deleted_at.is_none() && item.status == ItemStatus::Published).then(|| TargetRef::garden_item(item))
}

pub(crate) async fn target(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    kind: PledgeTarget,
    id: i64,
) -> ServiceResult<TargetRef> {
    let not_found = || ServiceError::not_found(format!("no such {}", kind.noun()));
    let found = match kind {
        PledgeTarget::Event => match queries::events::by_id(db, id).await? {
            Some(event) if policy::visible_to(db, viewer, Subject::Event(&event)).await? => live_event(event),
            _ => None,
        },
        PledgeTarget::Question => match queries::agenda::by_id(db, id).await? {
            Some(q) if policy::visible_to(db, viewer, Subject::Question(&q)).await? => live_question(q),
            _ => None,
        },
        PledgeTarget::GardenItem => match queries::garden::by_id(db, id).await? {
            Some(item) if policy::visible_to(db, viewer, Subject::GardenItem(&item)).await? => {
                live_garden_item(item)
            }
            _ => None,
        },
    };
    found.ok_or_else(not_found)
}

/// What a pledge from elsewhere is attached to, if this node knows it and
/// it is still there.
pub async fn target_by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> ServiceResult<Option<TargetRef>> {
    if let Some(event) = queries::events::by_ap_id(db, ap_id).await? {
        return Ok(live_event(event));
    }
    if let Some(question) = queries::agenda::by_ap_id(db, ap_id).await? {
        return Ok(live_question(question));
    }
    Ok(queries::garden::by_ap_id(db, ap_id)
        .await?
        .and_then(live_garden_item))
}

/// A local working group takes pledges from those who may post in it.
async fn check_group(
    db: &impl ConnectionTrait,
    group_id: Option<i64>,
    author: &actor::Model,
) -> ServiceResult<()> {
    let Some(group) = match group_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    }
    .filter(|g| g.local) else {
        return Ok(());
    };
    // A pledge answers what it is attached to, as a reply does.
    policy::require(
        db,
        author.into(),
        Action::Contribute(Under::Item),
        Target::Group(&group),
    )
    .await
}

fn target_columns(row: &mut pledge::ActiveModel, target: &TargetRef) {
    let id_for = |kind| (target.kind == kind).then_some(target.id);
    row.event_id = Set(id_for(PledgeTarget::Event));
    row.question_id = Set(id_for(PledgeTarget::Question));
    row.garden_item_id = Set(id_for(PledgeTarget::GardenItem));
    row.group_id = Set(target.group_id);
}

/// Pledges as the API, the pages and the inbox see them.
pub struct Pledges<'p>(pub(crate) &'p crate::Processor);

impl Pledges<'_> {
    /// A member pledges an action.
    pub async fn offer(&self, account: &Account, offer: Offer) -> ServiceResult<pledge::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let target = target(db, Viewer::Actor(&account.person), offer.target, offer.target_id).await?;
        let action = clean_action(&offer.action)?;
        let now = Utc::now();
        if offer.due_on.is_some_and(|due| due < now.date_naive()) {
            return Err(ServiceError::validation("the date it is due by has passed"));
        }
        check_group(db, target.group_id, &account.person).await?;
        let group = match target.group_id {
            Some(id) => queries::actors::by_id(db, id).await?,
            None => None,
        };
        let visibility =
            policy::visibility_for_new(db, group.as_ref(), Some(target.visibility), Visibility::Public)
                .await?;
        let ap_id = ctx.urls.new_pledge();
        let mut row = pledge::ActiveModel {
            ap_id: Set(ap_id.clone()),
            url: Set(Some(ap_id)),
            author_id: Set(account.person.id),
            action: Set(action),
            due_on: Set(offer.due_on),
            status: Set(PledgeStatus::Offered),
            backers_count: Set(0),
            visibility: Set(visibility),
            local: Set(true),
            published: Set(now),
            updated_at: Set(None),
            ..Default::default()
        };
        target_columns(&mut row, &target);
        let txn = db.begin().await?;
        let stored = queries::pledges::insert(&txn, row).await?;
        publisher
            .publish(&txn, Outgoing::CreatePledge { pledge_id: stored.id })
            .await?;
        txn.commit().await?;
        Ok(stored)
    }

    /// The person who pledged moves it on (forward only; done and released end it).
    pub async fn set_status(
        &self,
        account: &Account,
        id: i64,
        next: PledgeStatus,
    ) -> ServiceResult<pledge::Model> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let pledge = by_id(db, id).await?;
        if pledge.author_id != account.person.id || !pledge.local {
            return Err(ServiceError::forbidden("only who pledged may change a pledge"));
        }
        let current = pledge.status;
        if !current.may_become(next) {
            return Err(ServiceError::conflict(format!(
                "a pledge that is {} cannot become {}",
                current.label(),
                next.label()
            )));
        }
        let txn = db.begin().await?;
        let mut row = pledge.into_active_model();
        row.status = Set(next);
        row.updated_at = Set(Some(Utc::now()));
        let stored = queries::pledges::update(&txn, row).await?;
        publisher
            .publish(&txn, Outgoing::UpdatePledge { pledge_id: stored.id })
            .await?;
        txn.commit().await?;
        Ok(stored)
    }

    /// A member counts on a pledge: they hear of every change to it. On a
    /// pledge made elsewhere the count changes when that node answers.
    pub async fn count_on(&self, account: &Account, id: i64) -> ServiceResult<pledge_backer::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let pledge = visible(db, Viewer::Actor(&account.person), id).await?;
        policy::require(
            db,
            account.into(),
            Action::TakePart,
            Target::Content(Subject::Pledge(&pledge)),
        )
        .await?;
        if pledge.author_id == account.person.id {
            return Err(ServiceError::validation("you cannot count on your own pledge"));
        }
        if pledge.status.is_final() {
            return Err(ServiceError::conflict(format!(
                "this pledge is {}",
                pledge.status.label()
            )));
        }
        if queries::pledges::backer(db, pledge.id, account.person.id)
            .await?
            .is_some()
        {
            return Err(ServiceError::conflict("you already count on this pledge"));
        }
        let txn = db.begin().await?;
        let backer = queries::pledges::insert_backer(
            &txn,
            pledge_backer::ActiveModel {
                pledge_id: Set(pledge.id),
                actor_id: Set(account.person.id),
                ap_id: Set(ctx.urls.new_activity("like")),
                created_at: Set(Utc::now()),
                ..Default::default()
            },
        )
        .await?;
        if pledge.local {
            queries::pledges::recount(&txn, pledge.id).await?;
            publisher
                .publish(&txn, Outgoing::UpdatePledge { pledge_id: pledge.id })
                .await?;
        } else {
            publisher
                .publish(&txn, Outgoing::CountOnPledge { backer_id: backer.id })
                .await?;
        }
        txn.commit().await?;
        Ok(backer)
    }

    /// A member no longer counts on a pledge.
    pub async fn stop_counting(&self, account: &Account, id: i64) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let pledge = by_id(db, id).await?;
        let backer = queries::pledges::backer(db, pledge.id, account.person.id)
            .await?
            .ok_or_else(|| ServiceError::not_found("you do not count on this pledge"))?;
        let txn = db.begin().await?;
        if pledge.local {
            queries::pledges::delete_backer(&txn, backer.id).await?;
            queries::pledges::recount(&txn, pledge.id).await?;
            publisher
                .publish(&txn, Outgoing::UpdatePledge { pledge_id: pledge.id })
                .await?;
        } else {
            // Sent while the row still names the Like being undone.
            publisher
                .publish(
                    &txn,
                    Outgoing::StopCountingOnPledge {
                        backer: backer.clone(),
                    },
                )
                .await?;
            queries::pledges::delete_backer(&txn, backer.id).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// A pledge by id.
pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> ServiceResult<pledge::Model> {
    queries::pledges::by_id(db, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("no such pledge"))
}

/// Someone on another node counts on a local pledge (a `Like` of it).
pub async fn receive_backer(
    db: &DatabaseConnection,
    publisher: &dyn Publisher,
    pledge: &pledge::Model,
    backer: &actor::Model,
    like_id: &str,
) -> ServiceResult<()> {
    if !pledge.local {
        return Err(ServiceError::not_found(
            "counting on a pledge goes to the node of who pledged",
        ));
    }
    policy::require(
        db,
        backer.into(),
        Action::TakePart,
        Target::Content(Subject::Pledge(pledge)),
    )
    .await?;
    if queries::pledges::backer(db, pledge.id, backer.id)
        .await?
        .is_some()
    {
        return Ok(());
    }
    if pledge.status.is_final() {
        return Err(ServiceError::conflict(format!(
            "this pledge is {}",
            pledge.status.label()
        )));
    }
    let txn = db.begin().await?;
    queries::pledges::insert_backer(
        &txn,
        pledge_backer::ActiveModel {
            pledge_id: Set(pledge.id),
            actor_id: Set(backer.id),
            ap_id: Set(like_id.to_owned()),
            created_at: Set(Utc::now()),
            ..Default::default()
        },
    )
    .await?;
    queries::pledges::recount(&txn, pledge.id).await?;
    publisher
        .publish(&txn, Outgoing::UpdatePledge { pledge_id: pledge.id })
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Someone on another node no longer counts on a local pledge (`Undo{Like}`).
pub async fn receive_stop(
    db: &DatabaseConnection,
    publisher: &dyn Publisher,
    pledge: &pledge::Model,
    backer: &actor::Model,
) -> ServiceResult<()> {
    let Some(row) = queries::pledges::backer(db, pledge.id, backer.id).await? else {
        return Ok(());
    };
    let txn = db.begin().await?;
    queries::pledges::delete_backer(&txn, row.id).await?;
    if pledge.local {
        queries::pledges::recount(&txn, pledge.id).await?;
        publisher
            .publish(&txn, Outgoing::UpdatePledge { pledge_id: pledge.id })
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// A pledge as another node describes it.
#[derive(Debug, Clone)]
pub struct RemotePledge {
    pub ap_id: String,
    /// As its addressing says (see `policy::visibility_for_new`, which narrows it).
    pub visibility: Visibility,
    pub url: Option<String>,
    pub author: actor::Model,
    /// The id of the event, question or garden item it is attached to.
    pub target_ap_id: String,
    /// Plain text.
    pub action: String,
    pub due_on: Option<NaiveDate>,
    pub status: PledgeStatus,
    pub backers_count: i32,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
}

/// Store a pledge from another node, or take its new status and count.
/// Returns the row, and its working group when that group is ours (it then
/// tells its followers).
pub async fn store_remote(
    db: &DatabaseConnection,
    remote: RemotePledge,
) -> ServiceResult<(pledge::Model, Option<actor::Model>)> {
    let existing = queries::pledges::by_ap_id(db, &remote.ap_id).await?;
    if existing.as_ref().is_some_and(|p| p.local) {
        return Err(ServiceError::forbidden("this pledge belongs to this node"));
    }
    if existing.as_ref().is_some_and(|p| p.author_id != remote.author.id) {
        return Err(ServiceError::forbidden("only who pledged may change a pledge"));
    }
    let target = target_by_ap_id(db, &remote.target_ap_id).await?.ok_or_else(|| {
        ServiceError::validation(format!(
            "the pledge is attached to {}, which this node does not know",
            remote.target_ap_id
        ))
    })?;
    let action = clean_action(&remote.action)?;
    if existing.is_none() {
        check_group(db, target.group_id, &remote.author).await?;
    }
    // Read before the transaction: SQLite's pool has one connection, which it holds.
    let group = match target.group_id {
        Some(id) => queries::actors::by_id(db, id).await?,
        None => None,
    };
    let visibility =
        policy::visibility_for_new(db, group.as_ref(), Some(target.visibility), remote.visibility).await?;
    let txn = db.begin().await?;
    let known = existing.is_some();
    let mut row = match existing {
        Some(existing) => existing.into_active_model(),
        None => pledge::ActiveModel {
            ap_id: Set(remote.ap_id.clone()),
            author_id: Set(remote.author.id),
            local: Set(false),
            ..Default::default()
        },
    };
    target_columns(&mut row, &target);
    row.visibility = Set(visibility);
    row.url = Set(remote.url);
    row.action = Set(action);
    row.due_on = Set(remote.due_on);
    row.status = Set(remote.status);
    row.backers_count = Set(remote.backers_count.max(0));
    row.published = Set(remote.published);
    row.updated_at = Set(remote.updated);
    let stored = if known {
        queries::pledges::update(&txn, row).await?
    } else {
        queries::pledges::insert(&txn, row).await?
    };
    txn.commit().await?;
    let group = match stored.group_id {
        Some(id) => queries::actors::by_id(db, id).await?.filter(|g| g.local),
        None => None,
    };
    Ok((stored, group))
}

async fn views_of(db: &impl ConnectionTrait, pledges: Vec<pledge::Model>) -> ServiceResult<Vec<PledgeView>> {
    let actors = queries::actors::map_by_ids(
        db,
        pledges
            .iter()
            .flat_map(|p| [Some(p.author_id), p.group_id])
            .flatten()
            .collect(),
    )
    .await?;
    let ids =
        |column: fn(&pledge::Model) -> Option<i64>| pledges.iter().filter_map(column).collect::<Vec<_>>();
    let mut targets: HashMap<(PledgeTarget, i64), TargetRef> = HashMap::new();
    let rows = queries::events::by_ids(db, ids(|p| p.event_id))
        .await?
        .into_iter()
        .map(TargetRef::event)
        .chain(
            queries::agenda::by_ids(db, ids(|p| p.question_id))
                .await?
                .into_iter()
                .map(TargetRef::question),
        )
        .chain(
            queries::garden::by_ids(db, ids(|p| p.garden_item_id))
                .await?
                .into_iter()
                .map(TargetRef::garden_item),
        );
    for target in rows {
        targets.insert((target.kind, target.id), target);
    }
    Ok(pledges
        .into_iter()
        .map(|pledge| {
            let key = [
                pledge.event_id.map(|id| (PledgeTarget::Event, id)),
                pledge.question_id.map(|id| (PledgeTarget::Question, id)),
                pledge.garden_item_id.map(|id| (PledgeTarget::GardenItem, id)),
            ]
            .into_iter()
            .flatten()
            .next();
            PledgeView {
                author: actors.get(&pledge.author_id).cloned(),
                group: pledge.group_id.and_then(|id| actors.get(&id).cloned()),
                target: key.and_then(|key| targets.get(&key).cloned()),
                pledge,
            }
        })
        .collect())
}

/// A pledge `viewer` may see; "not found" for one they may not.
pub async fn visible(db: &impl ConnectionTrait, viewer: Viewer<'_>, id: i64) -> ServiceResult<pledge::Model> {
    let pledge = by_id(db, id).await?;
    if !policy::visible_to(db, viewer, Subject::Pledge(&pledge)).await? {
        return Err(ServiceError::not_found("no such pledge"));
    }
    Ok(pledge)
}

pub async fn view(db: &impl ConnectionTrait, viewer: Viewer<'_>, id: i64) -> ServiceResult<PledgeView> {
    views_of(db, vec![visible(db, viewer, id).await?])
        .await?
        .pop()
        .ok_or_else(|| ServiceError::not_found("no such pledge"))
}

pub(crate) async fn list(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    listing: Listing,
) -> ServiceResult<Vec<PledgeView>> {
    let scope = policy::read_scope(db, viewer).await?;
    views_of(db, queries::pledges::list(db, &scope, listing).await?).await
}

pub async fn backers(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    id: i64,
) -> ServiceResult<Vec<actor::Model>> {
    visible(db, viewer, id).await?;
    let rows = queries::pledges::backers(db, id).await?;
    let actors = queries::actors::map_by_ids(db, rows.iter().map(|b| b.actor_id).collect()).await?;
    Ok(rows
        .iter()
        .filter_map(|b| actors.get(&b.actor_id).cloned())
        .collect())
}

/// The way in for the pages and the API, on the processor's connections.
impl Pledges<'_> {
    /// The live target of a local offer, if `viewer` may see it.
    pub async fn target(&self, viewer: Viewer<'_>, kind: PledgeTarget, id: i64) -> ServiceResult<TargetRef> {
        target(self.0.readers(), viewer, kind, id).await
    }

    pub async fn view(&self, viewer: Viewer<'_>, id: i64) -> ServiceResult<PledgeView> {
        view(self.0.readers(), viewer, id).await
    }

    /// Pledges `viewer` may see, newest first: of a working group, or attached
    /// to one thing.
    pub async fn list(&self, viewer: Viewer<'_>, listing: Listing) -> ServiceResult<Vec<PledgeView>> {
        list(self.0.readers(), viewer, listing).await
    }

    /// Which of the listed pledges the viewer counts on (none when signed out).
    pub async fn counted_on_by(
        &self,
        views: &[PledgeView],
        viewer: Option<&Account>,
    ) -> ServiceResult<HashSet<i64>> {
        let db = self.0.readers();
        let Some(viewer) = viewer else {
            return Ok(HashSet::new());
        };
        Ok(
            queries::pledges::backed_by(db, viewer.person.id, views.iter().map(|v| v.pledge.id).collect())
                .await?
                .into_iter()
                .map(|b| b.pledge_id)
                .collect(),
        )
    }

    /// Who counts on a pledge `viewer` may see.
    pub async fn backers(&self, viewer: Viewer<'_>, id: i64) -> ServiceResult<Vec<actor::Model>> {
        backers(self.0.readers(), viewer, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_is_one_plain_line_without_i_will() {
        assert_eq!(
            clean_action("I will run the walking\n group.").ok().as_deref(),
            Some("run the walking group")
        );
        assert_eq!(clean_action("i will  host").ok().as_deref(), Some("host"));
        assert_eq!(clean_action("bring soup").ok().as_deref(), Some("bring soup"));
        assert!(clean_action("I will ").is_err());
        assert!(clean_action(&"a".repeat(MAX_ACTION + 1)).is_err());
    }

    #[test]
    fn a_question_title_is_its_text_cut_short() {
        assert_eq!(question_title("<p>Which <em>day</em>?</p>"), "Which day?");
        let long = format!("<p>{}</p>", "word ".repeat(60));
        let title = question_title(&long);
        assert!(title.ends_with('…') && title.chars().count() == 120, "{title}");
    }
}
