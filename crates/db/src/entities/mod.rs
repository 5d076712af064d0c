//! One module per table. Column names match the migrations.

pub mod actor;
pub mod adoption;
pub mod api_token;
pub mod delivery;
pub mod directory_node;
pub mod email_opt_out;
pub mod email_token;
pub mod email_unsubscribe;
pub mod event;
pub mod event_participant;
pub mod follow;
pub mod garden_item;
pub mod garden_relation;
pub mod garden_revision;
pub mod garden_tag;
pub mod group_ban;
pub mod group_settings;
pub mod inbox_activity;
pub mod moderator;
pub mod notification;
pub mod notification_preference;
pub mod outbox_activity;
pub mod outgoing_email;
pub mod peer;
pub mod pledge;
pub mod pledge_backer;
pub mod post;
pub mod post_revision;
pub mod post_tag;
pub mod question;
pub mod question_option;
pub mod reaction;
pub mod report;
pub mod session;
pub mod setting;
pub mod states;
pub mod user;
pub mod visibility;
pub mod vote;

pub use states::{
    ActorKind, DeliveryState, FollowState, GroupVisibility, InboxState, NotificationChoice, NotificationKind,
    ParticipantState, PostingPolicy, ReactionKind, ReportState, Role, TagKind,
};
pub use visibility::Visibility;
