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

use crate::{ServiceResult, accounts::Account};
use healthcommons_core::garden::ItemStatus;
use healthcommons_db::entities::{FollowState, GroupVisibility};
use healthcommons_db::{
    entities::{Visibility, actor, event, garden_item, group_settings, pledge, post, question},
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
