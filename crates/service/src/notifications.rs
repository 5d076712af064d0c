//! Notifications on the node: a person hears of replies, mentions, requests
//! to join, answers, changes to what they take part in or count on, forks
//! and adoptions of their garden items, and reports to moderate.
//!
//! Two rules hold them to the privacy of what they are about:
//! - nobody is told of what they may not see: [`notify`] asks the policy
//!   module before it writes, inside the transaction of what caused it;
//! - what one may see changes (a member leaves or is removed, a post is
//!   taken down), so a notification is shown only while its subject is
//!   still readable, decided again when the list is read, under the same
//!   rule ([`ReadScope::allows`]), for a whole page in a fixed number of
//!   queries.
//!
//! Nobody is notified of their own action. Email is not sent from here: the
//! choice per kind is stored so that a mailer can read it.

use crate::{
    ServiceError, ServiceResult,
    accounts::{Account, Role},
    policy::{self, Subject, Viewer},
};
use chrono::{DateTime, Utc};
use healthcommons_core::garden::ItemStatus;
use healthcommons_db::{
    entities::{
        ActorKind, NotificationChoice, NotificationKind, ParticipantState, actor, event, garden_item,
        notification, pledge, post, question, report,
    },
    queries::{
        self,
        audience::ReadScope,
        notifications::{Filter, NewNotification, Subjects},
    },
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Iterable};
use std::collections::HashMap;

/// The most notifications one page shows.
pub const MAX_PAGE: u64 = 80;
/// The unread count stops here ("99+").
pub const MAX_UNREAD_COUNTED: u64 = 100;

/// What a notification is about.
#[derive(Debug, Clone, Copy)]
pub enum About<'a> {
    Post(&'a post::Model),
    Event(&'a event::Model),
    Question(&'a question::Model),
    Pledge(&'a pledge::Model),
    GardenItem(&'a garden_item::Model),
    /// A working group (a request to join it, the answer to one).
    Group(&'a actor::Model),
    Report(&'a report::Model),
}

impl About<'_> {
    fn key(self) -> String {
        match self {
            About::Post(p) => format!("post:{}", p.id),
            About::Event(e) => format!("event:{}", e.id),
            About::Question(q) => format!("question:{}", q.id),
            About::Pledge(p) => format!("pledge:{}", p.id),
            About::GardenItem(i) => format!("garden_item:{}", i.id),
            About::Group(g) => format!("group:{}", g.id),
            About::Report(r) => format!("report:{}", r.id),
        }
    }

    fn references(self, new: &mut NewNotification) {
        match self {
            About::Post(p) => {
                new.post_id = Some(p.id);
                new.group_id = p.group_id;
            }
            About::Event(e) => new.event_id = Some(e.id),
            About::Question(q) => new.question_id = Some(q.id),
            About::Pledge(p) => new.pledge_id = Some(p.id),
            About::GardenItem(i) => new.garden_item_id = Some(i.id),
            About::Group(g) => new.group_id = Some(g.id),
            About::Report(r) => {
                new.report_id = Some(r.id);
                new.group_id = r.group_id;
            }
        }
    }
}

/// One thing to tell one person.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub kind: NotificationKind,
    /// Who caused it.
    pub cause: Option<i64>,
    pub about: About<'a>,
    /// A word on what happened (`accepted`, `time`, `cancelled`, …).
    pub detail: Option<&'a str>,
    /// What notices of this kind are grouped on when it is not what they are
    /// about: the post replied to, for replies.
    pub grouped_on: Option<About<'a>>,
}

impl<'a> Notice<'a> {
    pub fn new(kind: NotificationKind, cause: Option<i64>, about: About<'a>) -> Self {
        Notice {
            kind,
            cause,
            about,
            detail: None,
            grouped_on: None,
        }
    }
}

/// Tell the local person `recipient_id` of `notice`, unless they caused it,
/// chose not to hear of its kind, or may not see what it is about. Runs on
/// the connection (the transaction) of what caused it. Returns whether a
/// notification was written.
pub async fn notify(db: &impl ConnectionTrait, recipient_id: i64, notice: Notice<'_>) -> ServiceResult<bool> {
    if notice.cause == Some(recipient_id) {
        return Ok(false);
    }
    let Some(recipient) = queries::actors::by_id(db, recipient_id).await? else {
        return Ok(false);
    };
    let Some(user_id) = recipient
        .user_id
        .filter(|_| recipient.local && recipient.kind == ActorKind::Person)
    else {
        return Ok(false);
    };
    if queries::notifications::preference(db, user_id, notice.kind).await? == Some(NotificationChoice::Off) {
        return Ok(false);
    }
    let viewer = Viewer::Actor(&recipient);
    let visible = match notice.about {
        About::Post(p) => !p.is_gone() && policy::visible_to(db, viewer, Subject::Post(p)).await?,
        About::Event(e) => policy::visible_to(db, viewer, Subject::Event(e)).await?,
        About::Question(q) => policy::visible_to(db, viewer, Subject::Question(q)).await?,
        About::Pledge(p) => policy::visible_to(db, viewer, Subject::Pledge(p)).await?,
        About::GardenItem(i) => policy::visible_to(db, viewer, Subject::GardenItem(i)).await?,
        // Who hears of these is chosen by the caller: a group's moderators,
        // the person who asked to join, the node's staff.
        About::Group(_) | About::Report(_) => true,
    };
    if !visible {
        return Ok(false);
    }
    let mut new = NewNotification {
        recipient_id,
        cause_id: notice.cause,
        detail: notice.detail.map(str::to_owned),
        group_key: format!(
            "{}:{}",
            notice.kind,
            notice.grouped_on.unwrap_or(notice.about).key()
        ),
        ..NewNotification::default()
    };
    notice.about.references(&mut new);
    queries::notifications::insert(db, notice.kind, new).await?;
    Ok(true)
}

/// A post was written here or arrived: the author of what it answers hears
/// of the reply, and the local people it mentions of the mention (once: the
/// person replied to is not also told of being mentioned).
pub async fn post_created(db: &impl ConnectionTrait, post: &post::Model) -> ServiceResult<()> {
    let mut told = Vec::new();
    let parent = match post.parent_id {
        Some(id) => queries::posts::by_id(db, id).await?,
        None => None,
    };
    if let Some(parent) = &parent
        && let Some(author) = parent.author_id
    {
        let notice = Notice {
            grouped_on: Some(About::Post(parent)),
            ..Notice::new(NotificationKind::Reply, post.author_id, About::Post(post))
        };
        if notify(db, author, notice).await? {
            told.push(author);
        }
    } else if parent.is_none()
        && post.in_reply_to.is_some()
        && let Some(item_id) = post.garden_item_id
        && let Some(item) = queries::garden::by_id(db, item_id).await?
        && post.in_reply_to.as_deref() == Some(item.ap_id.as_str())
        && let Some(author) = item.author_id
    {
        // A thread start of a garden item's discussion answers the item.
        let notice = Notice {
            grouped_on: Some(About::GardenItem(&item)),
            ..Notice::new(NotificationKind::Reply, post.author_id, About::Post(post))
        };
        if notify(db, author, notice).await? {
            told.push(author);
        }
    }
    let mentioned: Vec<String> = queries::posts::tags_of(db, vec![post.id])
        .await?
        .into_iter()
        .filter(|t| t.kind == healthcommons_db::entities::TagKind::Mention)
        .filter_map(|t| t.href)
        .collect();
    for ap_id in mentioned {
        let Some(person) = queries::actors::by_ap_id(db, &ap_id).await? else {
            continue;
        };
        if !person.local || told.contains(&person.id) {
            continue;
        }
        told.push(person.id);
        notify(
            db,
            person.id,
            Notice::new(NotificationKind::Mention, post.author_id, About::Post(post)),
        )
        .await?;
    }
    Ok(())
}

/// Someone asks to join a working group of this node: its moderators hear of it.
pub async fn join_requested(
    db: &impl ConnectionTrait,
    group: &actor::Model,
    requester_id: i64,
) -> ServiceResult<()> {
    for moderator in queries::groups::moderator_actors(db, group.id).await? {
        notify(
            db,
            moderator.id,
            Notice::new(
                NotificationKind::JoinRequest,
                Some(requester_id),
                About::Group(group),
            ),
        )
        .await?;
    }
    Ok(())
}

/// A working group answered someone's request to join it.
pub async fn join_answered(
    db: &impl ConnectionTrait,
    group: &actor::Model,
    follower_id: i64,
    decided_by: Option<i64>,
    accepted: bool,
) -> ServiceResult<()> {
    if group.kind != ActorKind::Group {
        return Ok(());
    }
    let notice = Notice {
        detail: Some(if accepted { "accepted" } else { "rejected" }),
        ..Notice::new(
            NotificationKind::JoinAnswer,
            decided_by.or(Some(group.id)),
            About::Group(group),
        )
    };
    notify(db, follower_id, notice).await?;
    Ok(())
}

/// The organisers answered someone's request to take part in an event.
pub async fn participation_answered(
    db: &impl ConnectionTrait,
    event: &event::Model,
    participant_id: i64,
    decided_by: Option<i64>,
    accepted: bool,
) -> ServiceResult<()> {
    let notice = Notice {
        detail: Some(if accepted { "accepted" } else { "rejected" }),
        ..Notice::new(
            NotificationKind::ParticipationAnswer,
            decided_by,
            About::Event(event),
        )
    };
    notify(db, participant_id, notice).await?;
    Ok(())
}

/// What changed in an event that its participants must hear of, if anything.
fn event_change(before: &event::Model, after: &event::Model) -> Option<&'static str> {
    use healthcommons_core::event::EventStatus;
    if after.deleted_at.is_some() && before.deleted_at.is_none() {
        return Some("deleted");
    }
    if after.status == EventStatus::Cancelled && before.status != EventStatus::Cancelled {
        return Some("cancelled");
    }
    if after.starts_at != before.starts_at || after.ends_at != before.ends_at {
        return Some("time");
    }
    let place = |e: &event::Model| {
        (
            e.place_name.clone(),
            e.address.clone(),
            e.online_url.clone(),
            e.latitude.map(f64::to_bits),
            e.longitude.map(f64::to_bits),
        )
    };
    if place(after) != place(before) {
        return Some("place");
    }
    None
}

/// An event changed (its time, its place) or was cancelled: those taking
/// part hear of it.
pub async fn event_changed(
    db: &impl ConnectionTrait,
    before: &event::Model,
    after: &event::Model,
    changed_by: Option<i64>,
) -> ServiceResult<()> {
    let Some(change) = event_change(before, after) else {
        return Ok(());
    };
    for participant in queries::events::participants(db, after.id).await? {
        if participant.state != ParticipantState::Accepted {
            continue;
        }
        let notice = Notice {
            detail: Some(change),
            ..Notice::new(NotificationKind::EventChanged, changed_by, About::Event(after))
        };
        notify(db, participant.actor_id, notice).await?;
    }
    Ok(())
}

/// Someone counts on a pledge: who pledged hears of it.
pub async fn pledge_backed(
    db: &impl ConnectionTrait,
    pledge: &pledge::Model,
    backer_id: i64,
) -> ServiceResult<()> {
    notify(
        db,
        pledge.author_id,
        Notice::new(
            NotificationKind::PledgeBacked,
            Some(backer_id),
            About::Pledge(pledge),
        ),
    )
    .await?;
    Ok(())
}

/// A pledge moved on (in progress, done, released): those counting on it hear of it.
pub async fn pledge_changed(
    db: &impl ConnectionTrait,
    before: &pledge::Model,
    after: &pledge::Model,
) -> ServiceResult<()> {
    if before.status == after.status && before.action == after.action && before.due_on == after.due_on {
        return Ok(());
    }
    let detail = if before.status != after.status {
        after.status.label()
    } else {
        "changed"
    };
    for backer in queries::pledges::backers(db, after.id).await? {
        let notice = Notice {
            detail: Some(detail),
            ..Notice::new(
                NotificationKind::PledgeChanged,
                Some(after.author_id),
                About::Pledge(after),
            )
        };
        notify(db, backer.actor_id, notice).await?;
    }
    Ok(())
}

/// A garden item was forked: the author of the original hears of it.
pub async fn garden_forked(
    db: &impl ConnectionTrait,
    origin: &garden_item::Model,
    fork: &garden_item::Model,
) -> ServiceResult<()> {
    let Some(author) = origin.author_id else {
        return Ok(());
    };
    let notice = Notice {
        grouped_on: Some(About::GardenItem(origin)),
        ..Notice::new(
            NotificationKind::GardenFork,
            fork.author_id,
            About::GardenItem(fork),
        )
    };
    notify(db, author, notice).await?;
    Ok(())
}

/// A garden item was adopted by a group somewhere: its author hears of it.
pub async fn garden_adopted(
    db: &impl ConnectionTrait,
    item: &garden_item::Model,
    adopter_id: Option<i64>,
) -> ServiceResult<()> {
    let Some(author) = item.author_id else {
        return Ok(());
    };
    notify(
        db,
        author,
        Notice::new(
            NotificationKind::GardenAdoption,
            adopter_id,
            About::GardenItem(item),
        ),
    )
    .await?;
    Ok(())
}

/// A report was filed here or arrived: the moderators of its group and the
/// node's staff hear of it.
pub async fn report_filed(db: &impl ConnectionTrait, report: &report::Model) -> ServiceResult<()> {
    let mut recipients: Vec<i64> = Vec::new();
    if let Some(group_id) = report.group_id {
        recipients.extend(
            queries::groups::moderator_actors(db, group_id)
                .await?
                .into_iter()
                .filter(|m| m.local)
                .map(|m| m.id),
        );
    }
    for user in queries::users::all(db).await? {
        if user.role >= Role::Moderator
            && !user.suspended
            && let Some(person) = queries::actors::person_of_user(db, user.id).await?
        {
            recipients.push(person.id);
        }
    }
    recipients.sort_unstable();
    recipients.dedup();
    for recipient in recipients {
        notify(
            db,
            recipient,
            Notice::new(
                NotificationKind::Report,
                Some(report.reporter_id),
                About::Report(report),
            ),
        )
        .await?;
    }
    Ok(())
}

/// How far ahead an event's participants are reminded of it.
pub const REMINDER_AHEAD: chrono::Duration = chrono::Duration::hours(24);
/// How long after it closed a question is still told of (a node that was
/// down for a while catches up; an old one is not news).
pub const CLOSED_RECENTLY: chrono::Duration = chrono::Duration::days(7);

/// What the clock brings rather than a person: reminders of events starting
/// within a day to those taking part, and agenda questions that closed to
/// whoever asked or voted. Each person is told of each once, however often
/// this runs; the worker calls it every minute. Returns how many were told.
pub async fn send_due(db: &DatabaseConnection, now: DateTime<Utc>) -> ServiceResult<u64> {
    let mut told = 0;
    for event in queries::notifications::events_starting(db, now, now + REMINDER_AHEAD).await? {
        let key = format!(
            "{}:{}",
            NotificationKind::EventReminder,
            About::Event(&event).key()
        );
        for participant in queries::events::participants(db, event.id).await? {
            if participant.state != ParticipantState::Accepted
                || queries::notifications::already_told(db, participant.actor_id, &key).await?
            {
                continue;
            }
            let notice = Notice::new(NotificationKind::EventReminder, None, About::Event(&event));
            told += u64::from(notify(db, participant.actor_id, notice).await?);
        }
    }
    for question in queries::notifications::questions_closed(db, now - CLOSED_RECENTLY, now).await? {
        if question.deleted_at.is_some() {
            continue;
        }
        let key = format!(
            "{}:{}",
            NotificationKind::QuestionClosed,
            About::Question(&question).key()
        );
        let mut recipients = queries::agenda::voter_ids(db, question.id).await?;
        recipients.extend(question.author_id);
        recipients.sort_unstable();
        recipients.dedup();
        for recipient in recipients {
            if queries::notifications::already_told(db, recipient, &key).await? {
                continue;
            }
            let notice = Notice::new(NotificationKind::QuestionClosed, None, About::Question(&question));
            told += u64::from(notify(db, recipient, notice).await?);
        }
    }
    Ok(told)
}

/// What a notification is about, as a list shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubjectView {
    /// `post`, `event`, `question`, `pledge`, `garden_item`, `group` or `report`.
    pub kind: &'static str,
    pub id: i64,
    /// Its ActivityPub id, when it has one.
    pub ap_id: Option<String>,
    /// A title or first words, plain text.
    pub title: String,
    /// The path of its page on this node.
    pub link: String,
}

/// One notification as its recipient sees it.
#[derive(Debug, Clone)]
pub struct NotificationView {
    pub id: i64,
    pub kind: NotificationKind,
    pub created_at: DateTime<Utc>,
    pub read: bool,
    pub detail: Option<String>,
    pub cause: Option<actor::Model>,
    pub subject: SubjectView,
    /// The working group it happened in, if any.
    pub group: Option<actor::Model>,
    pub group_key: String,
}

/// Notifications of one kind on one subject, shown as one.
#[derive(Debug, Clone)]
pub struct NotificationGroup {
    /// The newest of them.
    pub latest: NotificationView,
    /// Everyone who caused them, newest first, each once.
    pub causes: Vec<actor::Model>,
    pub count: usize,
    pub unread: bool,
}

/// A page of a person's notifications.
#[derive(Debug, Clone, Default)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// Pass as `max_id` for the page after this one, if there is one.
    pub next_max_id: Option<i64>,
}

impl NotificationPage {
    /// The page's notifications, those of one kind on one subject as one
    /// group, in the order of their newest.
    pub fn grouped(&self) -> Vec<NotificationGroup> {
        let mut groups: Vec<NotificationGroup> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for item in &self.items {
            let index = *at.entry(item.group_key.as_str()).or_insert_with(|| {
                groups.push(NotificationGroup {
                    latest: item.clone(),
                    causes: Vec::new(),
                    count: 0,
                    unread: false,
                });
                groups.len() - 1
            });
            let group = &mut groups[index];
            group.count += 1;
            group.unread |= !item.read;
            if let Some(cause) = &item.cause
                && !group.causes.iter().any(|c| c.id == cause.id)
            {
                group.causes.push(cause.clone());
            }
        }
        groups
    }
}

/// Which notifications to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub kinds: Vec<NotificationKind>,
    pub max_id: Option<i64>,
    pub limit: Option<u64>,
}

/// What the viewer may still read, for a page of notifications: the policy's
/// scope, and what they may moderate.
struct Reach<'a> {
    account: &'a Account,
    scope: ReadScope,
    moderates: Vec<i64>,
}

impl Reach<'_> {
    fn is_staff(&self) -> bool {
        self.account.role() >= Role::Moderator
    }

    /// The notification as its recipient may see it now, or None.
    fn view(&self, row: &notification::Model, subjects: &Subjects) -> Option<NotificationView> {
        let viewer_id = self.account.person.id;
        let actor = |id: Option<i64>| id.and_then(|id| subjects.actors.get(&id).cloned());
        let (subject, group_id) = if let Some(id) = row.post_id {
            let post = subjects.posts.get(&id)?;
            if post.is_gone() || !self.scope.allows(post.visibility, post.group_id, post.author_id) {
                return None;
            }
            // The thread's title, unless the thread start is out of reach
            // (a followers-only post of someone else the viewer does not follow).
            let root = post
                .root_id
                .and_then(|r| subjects.roots.get(&r))
                .filter(|r| !r.is_gone() && self.scope.allows(r.visibility, r.group_id, r.author_id));
            let title = root
                .or(Some(post))
                .and_then(|p| p.title.clone())
                .unwrap_or_else(|| first_words(&post.content_html));
            let subject = SubjectView {
                kind: "post",
                id: post.id,
                ap_id: Some(post.ap_id.clone()),
                title,
                link: format!("/threads/{}", post.root_id.unwrap_or(post.id)),
            };
            (subject, post.group_id)
        } else if let Some(id) = row.event_id {
            let event = subjects.events.get(&id)?;
            if !self
                .scope
                .allows(event.visibility, event.group_id, event.author_id)
            {
                return None;
            }
            let subject = SubjectView {
                kind: "event",
                id: event.id,
                ap_id: Some(event.ap_id.clone()),
                title: event.title.clone(),
                link: format!("/events/{}", event.id),
            };
            (subject, event.group_id)
        } else if let Some(id) = row.question_id {
            let question = subjects.questions.get(&id)?;
            if question.deleted_at.is_some()
                || !self
                    .scope
                    .allows(question.visibility, question.group_id, question.author_id)
            {
                return None;
            }
            let subject = SubjectView {
                kind: "question",
                id: question.id,
                ap_id: Some(question.ap_id.clone()),
                title: first_words(&question.content_html),
                link: format!("/questions/{}", question.id),
            };
            (subject, question.group_id)
        } else if let Some(id) = row.pledge_id {
            let pledge = subjects.pledges.get(&id)?;
            if !self
                .scope
                .allows(pledge.visibility, pledge.group_id, Some(pledge.author_id))
            {
                return None;
            }
            let subject = SubjectView {
                kind: "pledge",
                id: pledge.id,
                ap_id: Some(pledge.ap_id.clone()),
                title: pledge.action.clone(),
                link: format!("/pledges/{}", pledge.id),
            };
            (subject, pledge.group_id)
        } else if let Some(id) = row.garden_item_id {
            let item = subjects.garden_items.get(&id)?;
            let draft_of_another = item.status == ItemStatus::Draft && item.author_id != Some(viewer_id);
            if item.deleted_at.is_some()
                || draft_of_another
                || !self.scope.allows(item.visibility, item.group_id, item.author_id)
            {
                return None;
            }
            let subject = SubjectView {
                kind: "garden_item",
                id: item.id,
                ap_id: Some(item.ap_id.clone()),
                title: item.title.clone(),
                link: format!("/garden/items/{}", item.id),
            };
            (subject, item.group_id)
        } else if let Some(id) = row.report_id {
            let report = subjects.reports.get(&id)?;
            let moderates = report.group_id.is_some_and(|g| self.moderates.contains(&g));
            if !self.is_staff() && !moderates {
                return None;
            }
            let subject = SubjectView {
                kind: "report",
                id: report.id,
                ap_id: None,
                title: "a report".into(),
                link: "/admin/reports".into(),
            };
            (subject, report.group_id)
        } else {
            let group = actor(row.group_id)?;
            if row.kind == NotificationKind::JoinRequest {
                let listed = self.moderates.contains(&group.id);
                if !policy::staff_moderates(self.account.into(), &group, listed) {
                    return None;
                }
            }
            let link = if row.kind == NotificationKind::JoinRequest && group.local {
                format!("/g/{}/settings", group.username)
            } else if group.local {
                format!("/g/{}", group.username)
            } else {
                group.url.clone().unwrap_or_else(|| group.ap_id.clone())
            };
            let subject = SubjectView {
                kind: "group",
                id: group.id,
                ap_id: Some(group.ap_id.clone()),
                title: group
                    .display_name
                    .clone()
                    .unwrap_or_else(|| group.username.clone()),
                link,
            };
            (subject, Some(group.id))
        };
        Some(NotificationView {
            id: row.id,
            kind: row.kind,
            created_at: row.created_at,
            read: row.read_at.is_some(),
            detail: row.detail.clone(),
            cause: actor(row.cause_id),
            subject,
            group: actor(group_id),
            group_key: row.group_key.clone(),
        })
    }
}

/// The first words of a post without a title, plain text.
fn first_words(html: &str) -> String {
    let text = healthcommons_core::text::html_to_text(html);
    let words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = words.chars().take(80).collect();
    if short.len() < words.len() {
        short.push('…');
    }
    short
}

/// Notifications as the API and the pages see them.
pub struct Notifications<'p>(pub(crate) &'p crate::Processor);

impl Notifications<'_> {
    async fn reach<'a>(&self, account: &'a Account) -> ServiceResult<Reach<'a>> {
        let db = self.0.readers();
        Ok(Reach {
            account,
            scope: policy::read_scope(db, Viewer::Actor(&account.person)).await?,
            moderates: queries::groups::moderated_by(db, account.person.id).await?,
        })
    }

    /// The viewer's notifications, newest first, that they may still see.
    pub async fn list(&self, account: &Account, query: ListQuery) -> ServiceResult<NotificationPage> {
        let db = self.0.readers();
        let limit = query.limit.unwrap_or(40).clamp(1, MAX_PAGE);
        let filter = Filter {
            kinds: query.kinds,
            max_id: query.max_id,
            unread_only: false,
        };
        let rows = queries::notifications::page(db, account.person.id, &filter, limit).await?;
        let next_max_id = (rows.len() as u64 == limit)
            .then(|| rows.last().map(|r| r.id))
            .flatten();
        let subjects = queries::notifications::subjects_of(db, &rows).await?;
        let reach = self.reach(account).await?;
        let items = rows.iter().filter_map(|row| reach.view(row, &subjects)).collect();
        Ok(NotificationPage { items, next_max_id })
    }

    /// How many unread notifications the viewer may still see, up to
    /// [`MAX_UNREAD_COUNTED`].
    pub async fn unread_count(&self, account: &Account) -> ServiceResult<u64> {
        let db = self.0.readers();
        let filter = Filter {
            unread_only: true,
            ..Filter::default()
        };
        let rows = queries::notifications::page(db, account.person.id, &filter, MAX_UNREAD_COUNTED).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let subjects = queries::notifications::subjects_of(db, &rows).await?;
        let reach = self.reach(account).await?;
        Ok(rows
            .iter()
            .filter(|row| reach.view(row, &subjects).is_some())
            .count() as u64)
    }

    /// Mark one of the viewer's notifications read.
    pub async fn mark_read(&self, account: &Account, id: i64) -> ServiceResult<()> {
        if queries::notifications::mark_read(self.0.db(), account.person.id, id).await? {
            Ok(())
        } else {
            Err(ServiceError::not_found("no such notification"))
        }
    }

    /// Mark all of the viewer's notifications read; how many were unread.
    pub async fn mark_all_read(&self, account: &Account) -> ServiceResult<u64> {
        Ok(queries::notifications::mark_all_read(self.0.db(), account.person.id).await?)
    }

    /// The viewer's choice for every kind (on the node unless they chose otherwise).
    pub async fn preferences(
        &self,
        account: &Account,
    ) -> ServiceResult<Vec<(NotificationKind, NotificationChoice)>> {
        let chosen = queries::notifications::preferences(self.0.readers(), account.user.id).await?;
        Ok(NotificationKind::iter()
            .map(|kind| {
                (
                    kind,
                    chosen.get(&kind).copied().unwrap_or(NotificationChoice::OnNode),
                )
            })
            .collect())
    }

    /// Change the viewer's choices for the kinds given.
    pub async fn set_preferences(
        &self,
        account: &Account,
        choices: &[(NotificationKind, NotificationChoice)],
    ) -> ServiceResult<()> {
        use healthcommons_db::TransactionTrait;
        let txn = self.0.db().begin().await?;
        for (kind, choice) in choices {
            queries::notifications::set_preference(&txn, account.user.id, *kind, *choice).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
