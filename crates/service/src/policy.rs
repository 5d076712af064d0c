//! Who may see what: the one place the rule lives.
//!
//! Every read of content (pages, the JSON API, ActivityPub GETs, feeds,
//! calendars, the map, search, exports) asks [`visible_to`] for one thing, or
//! filters a list in the database with the [`ReadScope`] that [`read_scope`]
//! makes for the viewer. New content takes its visibility from
//! [`visibility_for_new`], so what is made in a members-only working group is
//! members-only, and nothing is ever more visible than what it belongs to.
//!
//! The rule, for content with a visibility, a working group and an author:
//! - public and unlisted content: anyone;
//! - members-only content: the group's accepted members and its moderators,
//!   wherever they live (a remote actor counts once its HTTP signature on the
//!   request is verified), and the author;
//! - followers-only content: the author's accepted followers and the author;
//! - a garden draft: its author only.
//!
//! The node's admins get no exception: a carers' circle is private from the
//! people who run the server too. Pending and refused join requests see what
//! strangers see.
//!
//! Who may do what is here too: [`may`] and [`require`] decide every write
//! (post, reply, pledge, vote, RSVP, count on a pledge, edit, delete,
//! moderate, answer a request to join, share with the commons) for a person
//! of this node or another. Nobody acts on what they may not see: the node's
//! staff moderate a members-only group's content only if they belong to it.

use crate::{
    ServiceError, ServiceResult,
    accounts::{Account, Role},
};
use healthcommons_core::garden::ItemStatus;
use healthcommons_db::{
    entities::{
        FollowState, GroupVisibility, PostingPolicy, Visibility, actor, event, garden_item, group_settings,
        pledge, post, question,
    },
    queries::{self, audience::ReadScope},
};
use sea_orm::ConnectionTrait;

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    /// Nobody signed in, or an unsigned request.
    Anonymous,
    /// A local account's person, or a remote actor whose HTTP signature on
    /// this very request was verified. The rule is the same for both: what
    /// counts is whether the group accepted them.
    Actor(&'a actor::Model),
    /// The node itself, building what it delivers to members.
    Node,
}

impl<'a> Viewer<'a> {
    /// The person or remote actor asking, if any.
    pub fn actor(self) -> Option<&'a actor::Model> {
        match self {
            Viewer::Actor(actor) => Some(actor),
            Viewer::Anonymous | Viewer::Node => None,
        }
    }
}

impl<'a> From<Option<&'a actor::Model>> for Viewer<'a> {
    fn from(actor: Option<&'a actor::Model>) -> Self {
        actor.map_or(Viewer::Anonymous, Viewer::Actor)
    }
}

impl<'a> From<Option<&'a Account>> for Viewer<'a> {
    fn from(account: Option<&'a Account>) -> Self {
        account.map_or(Viewer::Anonymous, |a| Viewer::Actor(&a.person))
    }
}

impl<'a> From<&'a Account> for Viewer<'a> {
    fn from(account: &'a Account) -> Self {
        Viewer::Actor(&account.person)
    }
}

impl<'a> From<&'a actor::Model> for Viewer<'a> {
    fn from(actor: &'a actor::Model) -> Self {
        Viewer::Actor(actor)
    }
}

/// Something the rule decides on.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Post(&'a post::Model),
    Event(&'a event::Model),
    Question(&'a question::Model),
    Pledge(&'a pledge::Model),
    GardenItem(&'a garden_item::Model),
    /// Who belongs to a working group: its members and followers lists.
    Members(&'a actor::Model),
}

/// What the rule reads of a subject.
struct Audience {
    visibility: Visibility,
    group: Option<i64>,
    author: Option<i64>,
    /// Only its author may see it (a garden draft).
    author_only: bool,
}

impl Subject<'_> {
    async fn audience(self, db: &impl ConnectionTrait) -> ServiceResult<Audience> {
        let of = |visibility, group, author| Audience {
            visibility,
            group,
            author,
            author_only: false,
        };
        Ok(match self {
            Subject::Post(p) => of(p.visibility, p.group_id, p.author_id),
            Subject::Event(e) => of(e.visibility, e.group_id, e.author_id),
            Subject::Question(q) => of(q.visibility, q.group_id, q.author_id),
            Subject::Pledge(p) => of(p.visibility, p.group_id, Some(p.author_id)),
            Subject::GardenItem(i) => Audience {
                author_only: i.status == ItemStatus::Draft,
                ..of(i.visibility, i.group_id, i.author_id)
            },
            Subject::Members(group) => {
                let visibility = group_visibility(queries::groups::settings(db, group.id).await?.as_ref());
                of(visibility, Some(group.id), None)
            }
        })
    }
}

/// Whether `viewer` may see `subject`. Callers answer "not found" when not,
/// so that members-only content does not even show it exists.
pub async fn visible_to(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    subject: Subject<'_>,
) -> ServiceResult<bool> {
    let audience = subject.audience(db).await?;
    let actor = match viewer {
        Viewer::Node => return Ok(true),
        Viewer::Anonymous => None,
        Viewer::Actor(actor) => Some(actor),
    };
    let is_author = actor.is_some_and(|a| audience.author == Some(a.id));
    if audience.author_only {
        return Ok(is_author);
    }
    if audience.visibility.is_open() || is_author {
        return Ok(true);
    }
    let Some(actor) = actor else { return Ok(false) };
    match audience.visibility {
        Visibility::Public | Visibility::Unlisted => Ok(true),
        Visibility::Members => match audience.group {
            Some(group) => belongs_to(db, group, actor.id).await,
            None => Ok(false),
        },
        Visibility::Followers => match audience.author {
            Some(author) => is_accepted_follower(db, author, actor.id).await,
            None => Ok(false),
        },
    }
}

/// The same rule as a filter for lists: what `viewer` may read beyond open
/// content, in one query.
pub async fn read_scope(db: &impl ConnectionTrait, viewer: Viewer<'_>) -> ServiceResult<ReadScope> {
    Ok(match viewer {
        Viewer::Anonymous => ReadScope::Open,
        Viewer::Node => ReadScope::Everything,
        Viewer::Actor(actor) => {
            let mut member_of: Vec<i64> = queries::follows::of_follower(db, actor.id)
                .await?
                .into_iter()
                .filter(|f| f.state == FollowState::Accepted)
                .map(|f| f.target_id)
                .collect();
            member_of.extend(queries::groups::moderated_by(db, actor.id).await?);
            member_of.sort_unstable();
            member_of.dedup();
            ReadScope::Actor {
                actor_id: actor.id,
                member_of,
            }
        }
    })
}

/// Whether `actor` is one of a working group's own: an accepted member or a
/// moderator.
pub async fn belongs_to(db: &impl ConnectionTrait, group_id: i64, actor_id: i64) -> ServiceResult<bool> {
    Ok(is_accepted_follower(db, group_id, actor_id).await?
        || queries::groups::is_moderator(db, group_id, actor_id).await?)
}

/// Whether `follower` is an accepted follower of `target` (of a working
/// group: an accepted member).
pub async fn is_accepted_follower(
    db: &impl ConnectionTrait,
    target: i64,
    follower: i64,
) -> ServiceResult<bool> {
    Ok(queries::follows::between(db, follower, target)
        .await?
        .is_some_and(|f| f.state == FollowState::Accepted))
}

/// A working group's visibility as its settings say: members-only groups
/// keep everything in them among their members. Remote groups have no
/// settings here; what they send carries its own addressing.
pub fn group_visibility(settings: Option<&group_settings::Model>) -> Visibility {
    match settings {
        Some(s) if s.visibility == GroupVisibility::Members => Visibility::Members,
        _ => Visibility::Public,
    }
}

/// The visibility of something new: what its author asked for, never wider
/// than its group's or than what it belongs to (the post it answers, the
/// event a pledge is made on).
pub async fn visibility_for_new(
    db: &impl ConnectionTrait,
    group: Option<&actor::Model>,
    within: Option<Visibility>,
    requested: Visibility,
) -> ServiceResult<Visibility> {
    let mut visibility = requested;
    if let Some(group) = group {
        let settings = queries::groups::settings(db, group.id).await?;
        visibility = visibility.narrowest(group_visibility(settings.as_ref()));
        // In a working group its followers are its members.
        if visibility == Visibility::Followers {
            visibility = Visibility::Members;
        }
    }
    if let Some(within) = within {
        visibility = visibility.narrowest(within);
        if within == Visibility::Followers && group.is_some() {
            visibility = Visibility::Members;
        }
    }
    Ok(visibility)
}

/// Who acts: a person of this node (with the role their account has) or of
/// another node.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub person: &'a actor::Model,
    /// The node role of a local account; none for a remote actor.
    pub role: Option<Role>,
}

impl<'a> From<&'a Account> for Actor<'a> {
    fn from(account: &'a Account) -> Self {
        Actor {
            person: &account.person,
            role: Some(account.role()),
        }
    }
}

impl<'a> From<&'a actor::Model> for Actor<'a> {
    fn from(person: &'a actor::Model) -> Self {
        Actor { person, role: None }
    }
}

impl Actor<'_> {
    fn is_staff(self) -> bool {
        self.role.is_some_and(|role| role >= Role::Moderator)
    }
}

/// What a new contribution to a working group answers, for the group's rules.
#[derive(Debug, Clone, Copy)]
pub enum Under<'a> {
    /// Nothing: it starts a thread (or an event, a question, a garden item).
    Nothing,
    Post(&'a post::Model),
    /// Something already in the group (a garden item, an event, a
    /// question): it answers it, as a reply does.
    Item,
}

/// What someone wants to do. The subject is given beside it.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Contribute to a working group: start a thread, reply, publish an
    /// event, a question or a garden item, pledge, vote, take part.
    Contribute(Under<'a>),
    /// Take part in what is there: vote on a question, ask to join an event,
    /// count on a pledge. Whoever may see it, unless banned from its group.
    TakePart,
    /// Change or delete one's own content; for an event, also its group's
    /// moderators (they answer its participants); for a garden item, also
    /// the node's moderators.
    Edit,
    /// Remove others' content, lock a thread, ban: the group's moderators,
    /// and the node's staff for a group of this node.
    Moderate,
    /// Answer requests to join a working group.
    DecideJoin,
    /// Make a members-only garden item public to the whole commons.
    Share,
}

/// Something acted on: what is read ([`Subject`]), or a working group itself.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Group(&'a actor::Model),
    Content(Subject<'a>),
}

/// Whether `actor` may do `action` to `target`. Content the actor may not
/// see is out of reach whatever their role.
pub async fn may(
    db: &impl ConnectionTrait,
    actor: Actor<'_>,
    action: Action<'_>,
    target: Target<'_>,
) -> ServiceResult<bool> {
    match require(db, actor, action, target).await {
        Ok(()) => Ok(true),
        Err(ServiceError::Rejected { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// [`may`], as an error that says why not: "not found" for content the actor
/// may not see, "forbidden" with the rule otherwise.
pub async fn require(
    db: &impl ConnectionTrait,
    actor: Actor<'_>,
    action: Action<'_>,
    target: Target<'_>,
) -> ServiceResult<()> {
    if let Target::Content(subject) = target
        && !visible_to(db, Viewer::Actor(actor.person), subject).await?
    {
        return Err(ServiceError::not_found("no such thing here"));
    }
    let refuse = |why: &str| Err(ServiceError::forbidden(why));
    match (action, target) {
        (Action::Contribute(under), Target::Group(group)) => contribute(db, actor, group, under).await,
        (Action::Contribute(_), Target::Content(_)) => refuse("contributions go to a working group"),
        (Action::TakePart, Target::Content(subject)) => match subject.group_id() {
            Some(group) if queries::groups::ban(db, group, actor.person.id).await?.is_some() => {
                refuse("you are banned from this working group")
            }
            _ => Ok(()),
        },
        (Action::TakePart, Target::Group(_)) => refuse("one takes part in an event, a question or a pledge"),
        (Action::Edit, Target::Content(subject)) => {
            let allowed = match subject {
                Subject::Post(p) => p.local && p.author_id == Some(actor.person.id),
                Subject::Event(e) => {
                    e.local
                        && (e.author_id == Some(actor.person.id) || moderates(db, actor, e.group_id).await?)
                }
                Subject::Question(q) => q.local && q.author_id == Some(actor.person.id),
                Subject::Pledge(p) => p.local && p.author_id == actor.person.id,
                Subject::GardenItem(i) => {
                    i.local && (i.author_id == Some(actor.person.id) || actor.is_staff())
                }
                Subject::Members(_) => false,
            };
            if allowed {
                Ok(())
            } else {
                refuse("only its author may change this")
            }
        }
        (Action::Edit, Target::Group(group)) | (Action::Moderate, Target::Group(group)) => {
            if moderates(db, actor, Some(group.id)).await? {
                Ok(())
            } else {
                refuse("only the group's moderators may do this")
            }
        }
        (Action::Moderate, Target::Content(subject)) => {
            if moderates(db, actor, subject.group_id()).await? {
                Ok(())
            } else {
                refuse("only the working group's moderators may do this")
            }
        }
        (Action::DecideJoin, Target::Group(group)) => {
            if moderates(db, actor, Some(group.id)).await? {
                Ok(())
            } else {
                refuse("only the group's moderators answer requests to join")
            }
        }
        (Action::DecideJoin, Target::Content(_)) => refuse("requests to join are made to a working group"),
        (Action::Share, Target::Content(Subject::GardenItem(item))) => {
            let listed = match item.group_id {
                Some(group) => queries::groups::is_moderator(db, group, actor.person.id).await?,
                None => false,
            };
            if item.local && item.status == ItemStatus::Published && !item.visibility.is_open() && listed {
                Ok(())
            } else {
                refuse("only a moderator of its working group shares a members-only item with the commons")
            }
        }
        (Action::Share, _) => refuse("only garden items are shared with the commons"),
    }
}

/// The rules a local working group applies to a new contribution, wherever
/// its author lives. A group elsewhere decides on its posting policy itself;
/// what it would refuse anyway (a banned author, a locked thread) is refused
/// here already.
async fn contribute(
    db: &impl ConnectionTrait,
    actor: Actor<'_>,
    group: &actor::Model,
    under: Under<'_>,
) -> ServiceResult<()> {
    let author = actor.person;
    if queries::groups::ban(db, group.id, author.id).await?.is_some() {
        return Err(ServiceError::forbidden(
            "the author is banned from this working group",
        ));
    }
    if let Under::Post(parent) = under {
        thread_open(db, parent).await?;
    }
    if !group.local {
        return Ok(());
    }
    let Some(settings) = queries::groups::settings(db, group.id).await? else {
        return Ok(());
    };
    let moderator = queries::groups::is_moderator(db, group.id, author.id).await?;
    match settings.posting_policy {
        PostingPolicy::Moderators if matches!(under, Under::Nothing) && !moderator => Err(
            ServiceError::forbidden("only moderators start threads in this working group"),
        ),
        PostingPolicy::Members if !moderator && !is_accepted_follower(db, group.id, author.id).await? => Err(
            ServiceError::forbidden("only members post in this working group: join it first"),
        ),
        PostingPolicy::Open | PostingPolicy::Members | PostingPolicy::Moderators => Ok(()),
    }
}

/// A reply needs its thread unlocked and its parent still there.
async fn thread_open(db: &impl ConnectionTrait, parent: &post::Model) -> ServiceResult<()> {
    let root = match parent.root_id {
        Some(root_id) => queries::posts::by_id(db, root_id).await?,
        None => Some(parent.clone()),
    };
    if parent.locked || root.is_some_and(|r| r.locked) {
        return Err(ServiceError::forbidden("this thread is locked"));
    }
    if parent.is_gone() {
        return Err(ServiceError::validation("the post replied to has been deleted"));
    }
    Ok(())
}

/// Whether `actor` moderates a working group: its listed moderators, and the
/// node's staff for a group of this node.
async fn moderates(
    db: &impl ConnectionTrait,
    actor: Actor<'_>,
    group_id: Option<i64>,
) -> ServiceResult<bool> {
    let Some(group_id) = group_id else {
        return Ok(false);
    };
    if queries::groups::is_moderator(db, group_id, actor.person.id).await? {
        return Ok(true);
    }
    if !actor.is_staff() {
        return Ok(false);
    }
    Ok(queries::actors::by_id(db, group_id)
        .await?
        .is_some_and(|group| staff_moderates(actor, &group, false)))
}

/// [`moderates`] for a group whose moderator list the caller already holds:
/// `listed` says whether the actor is on it.
pub fn staff_moderates(actor: Actor<'_>, group: &actor::Model, listed: bool) -> bool {
    listed || (group.local && actor.is_staff())
}

impl Subject<'_> {
    /// The working group it lives in, if any.
    fn group_id(self) -> Option<i64> {
        match self {
            Subject::Post(p) => p.group_id,
            Subject::Event(e) => e.group_id,
            Subject::Question(q) => q.group_id,
            Subject::Pledge(p) => p.group_id,
            Subject::GardenItem(i) => i.group_id,
            Subject::Members(group) => Some(group.id),
        }
    }
}
