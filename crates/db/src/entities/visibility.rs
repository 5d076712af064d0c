//! Who a piece of content is for, stored beside it. The rule that reads it
//! (who may see what) lives in the service's policy module; this is only the
//! stored state, as an enum so that a new case is a compile error wherever
//! it is matched.

use sea_orm::entity::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Visibility {
    /// Anyone, listed in public feeds and on the map.
    #[sea_orm(string_value = "public")]
    Public,
    /// Anyone with the link; left out of public feeds.
    #[sea_orm(string_value = "unlisted")]
    Unlisted,
    /// A working group's members and moderators (and its author).
    #[sea_orm(string_value = "members")]
    Members,
    /// A person's accepted followers (and the person).
    #[sea_orm(string_value = "followers")]
    Followers,
}

impl Visibility {
    /// Whether anyone at all may see it.
    pub fn is_open(self) -> bool {
        match self {
            Visibility::Public | Visibility::Unlisted => true,
            Visibility::Members | Visibility::Followers => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Members => "members",
            Visibility::Followers => "followers",
        }
    }

    /// The narrower of two: a reply, or a pledge on an event, is never more
    /// visible than what it belongs to.
    pub fn narrowest(self, other: Visibility) -> Visibility {
        fn rank(v: Visibility) -> u8 {
            match v {
                Visibility::Public => 0,
                Visibility::Unlisted => 1,
                Visibility::Followers => 2,
                Visibility::Members => 3,
            }
        }
        if rank(other) > rank(self) { other } else { self }
    }
}

impl std::fmt::Display for Visibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
