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

stored_words! {
    /// What a notification tells a person of.
    NotificationKind {
        /// Someone replied to their post.
        Reply = "reply",
        /// Someone mentioned them.
        Mention = "mention",
        /// Someone asks to join a working group they moderate.
        JoinRequest = "join_request",
        /// Their request to join a working group was answered.
        JoinAnswer = "join_answer",
        /// Their request to take part in an event was answered.
        ParticipationAnswer = "participation_answer",
        /// An event they take part in changed (time, place) or was cancelled.
        EventChanged = "event_changed",
        /// An event they take part in starts within a day.
        EventReminder = "event_reminder",
        /// An agenda question they asked or voted on has closed.
        QuestionClosed = "question_closed",
        /// Someone counts on their pledge.
        PledgeBacked = "pledge_backed",
        /// A pledge they count on changed.
        PledgeChanged = "pledge_changed",
        /// Someone forked their garden item.
        GardenFork = "garden_fork",
        /// Someone adopted their garden item.
        GardenAdoption = "garden_adoption",
        /// A report to moderate.
        Report = "report",
    }
}

stored_words! {
    /// How a person wants to hear of one kind of notification.
    NotificationChoice {
        /// On the node's notifications page only.
        OnNode = "on_node",
        /// On the node and by email at once.
        EmailNow = "email_now",
        /// On the node and in a daily email digest.
        EmailDigest = "email_digest",
        /// Not at all.
        Off = "off",
    }
}
