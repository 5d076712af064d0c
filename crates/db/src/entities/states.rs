//! The states and kinds stored as words in a column, as enums: an entity
//! holds the enum, so a new case is a compile error wherever it is matched.
//! The words of the domain (event, garden and pledge states) live in the
//! core crate; these are the ones only the database and the service use.

use sea_orm::entity::prelude::*;

/// One stored enum: its variants, the word each is stored (and serialised) as.
macro_rules! stored_words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $word)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            pub fn parse(raw: &str) -> Option<$name> {
                match raw {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_words! {
    /// What kind of actor it is.
    ActorKind {
        Person = "person",
        /// A working group.
        Group = "group",
        /// A node's own actor (ours signs fetches; Mastodon's files reports).
        Application = "application",
    }
}

stored_words! {
    /// Where a follow stands; of a working group, where a request to join stands.
    FollowState {
        /// Asked, not yet answered: sees what strangers see.
        Pending = "pending",
        /// Following; of a working group, a member.
        Accepted = "accepted",
        Rejected = "rejected",
    }
}

stored_words! {
    /// Who may start a thread in a working group.
    PostingPolicy {
        /// Anyone; a mention of the group is enough.
        Open = "open",
        Members = "members",
        Moderators = "moderators",
    }
}

stored_words! {
    /// Who sees what is said in a working group.
    GroupVisibility {
        Public = "public",
        /// Members only, and joining takes a moderator's approval.
        Members = "members",
    }
}

stored_words! {
    /// Where a request to take part in an event stands.
    ParticipantState {
        Pending = "pending",
        Accepted = "accepted",
        Rejected = "rejected",
    }
}

stored_words! {
    /// What a reaction to a post is.
    ReactionKind {
        Like = "like",
        Dislike = "dislike",
        Boost = "boost",
    }
}

stored_words! {
    /// What a post's tag is.
    TagKind {
        /// `@name@node`.
        Mention = "mention",
        Hashtag = "hashtag",
    }
}

stored_words! {
    /// Where a report stands.
    ReportState {
        Open = "open",
        Resolved = "resolved",
    }
}

stored_words! {
    /// What a local account may do on the node, from least to most trusted.
    #[derive(PartialOrd, Ord)]
    Role {
        Member = "member",
        Moderator = "moderator",
        Admin = "admin",
    }
}

stored_words! {
    /// Where one outgoing delivery stands.
    DeliveryState {
        Pending = "pending",
        Delivered = "delivered",
        /// Given up on (final); kept for the admin view.
        Failed = "failed",
    }
}

stored_words! {
    /// Where one received activity stands.
    InboxState {
        Pending = "pending",
        Done = "done",
        /// Kept for the admin, never dropped.
        Failed = "failed",
    }
}
