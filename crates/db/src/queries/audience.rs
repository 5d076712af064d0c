//! The visibility rule as a query filter. The service's policy module is the
//! only place that builds a [`ReadScope`] (from who is reading); every list,
//! count, feed, search, map and calendar passes it here, so what a viewer may
//! not see is left out by the database before a page is cut.

use crate::entities::Visibility;
use sea_orm::{ColumnTrait, Condition, DbBackend};

/// What a viewer may read beyond what is open to anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReadScope {
    /// Public and unlisted content only.
    #[default]
    Open,
    /// Also members-only content of the groups in `member_of`, followers-only
    /// content of the people in `member_of`, and whatever `actor_id` wrote.
    Actor { actor_id: i64, member_of: Vec<i64> },
    /// Everything: the node itself, building what it delivers to members.
    Everything,
}

impl ReadScope {
    /// Whether members-only content of `group_id` is in scope.
    pub fn includes_group(&self, group_id: i64) -> bool {
        match self {
            ReadScope::Open => false,
            ReadScope::Actor { member_of, .. } => member_of.contains(&group_id),
            ReadScope::Everything => true,
        }
    }

    /// The same rule for a row already read (a thread's replies): the answer
    /// `condition` gives, without a query per row.
    pub fn allows(&self, visibility: Visibility, group: Option<i64>, author: Option<i64>) -> bool {
        match self {
            ReadScope::Everything => true,
            ReadScope::Open => visibility.is_open(),
            ReadScope::Actor { actor_id, member_of } => {
                let among = |id: Option<i64>| id.is_some_and(|id| member_of.contains(&id));
                match visibility {
                    Visibility::Public | Visibility::Unlisted => true,
                    Visibility::Members => author == Some(*actor_id) || among(group),
                    Visibility::Followers => author == Some(*actor_id) || among(author),
                }
            }
        }
    }

    /// The filter for a table with a visibility, a group and an author
    /// column. Mirrors `policy::visible_to`; a test in the service holds them
    /// to the same answers.
    pub fn condition<V, G, A>(&self, backend: DbBackend, visibility: V, group: G, author: A) -> Condition
    where
        V: ColumnTrait,
        G: ColumnTrait,
        A: ColumnTrait,
    {
        let open = visibility.is_in([Visibility::Public, Visibility::Unlisted]);
        match self {
            ReadScope::Everything => Condition::all(),
            ReadScope::Open => Condition::all().add(open),
            ReadScope::Actor { actor_id, member_of } => {
                let mut any = Condition::any().add(open).add(author.eq(*actor_id));
                if !member_of.is_empty() {
                    any = any
                        .add(
                            Condition::all()
                                .add(visibility.eq(Visibility::Members))
                                .add(super::id_among(backend, group, member_of)),
                        )
                        .add(
                            Condition::all()
                                .add(visibility.eq(Visibility::Followers))
                                .add(super::id_among(backend, author, member_of)),
                        );
                }
                any
            }
        }
    }
}
