use sea_orm::entity::prelude::*;

/// A thread start or a reply, written here or learned from another node.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "post")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    /// The page to link to, when the origin names one.
    pub url: Option<String>,
    /// None only for a tombstone whose Create never arrived.
    pub author_id: Option<i64>,
    pub group_id: Option<i64>,
    /// The parent's ActivityPub id, kept even while the parent is unknown.
    pub in_reply_to: Option<String>,
    pub parent_id: Option<i64>,
    /// The thread start; None for a thread start and for an orphan reply.
    pub root_id: Option<i64>,
    pub title: Option<String>,
    /// Sanitised.
    pub content_html: String,
    /// Markdown, for posts written here.
    pub source: Option<String>,
    /// Content warning.
    pub summary: Option<String>,
    pub sensitive: bool,
    pub language: Option<String>,
    pub visibility: super::Visibility,
    pub local: bool,
    pub published: DateTimeUtc,
    pub updated_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
    /// Taken down by a moderator.
    pub removed: bool,
    /// A locked thread takes no new replies.
    pub locked: bool,
    pub likes: i32,
    pub dislikes: i32,
    pub boosts: i32,
    /// For a thread start: every reply in the thread.
    pub replies: i32,
    /// For a thread start: the newest reply or edit, to order threads by activity.
    pub last_activity_at: DateTimeUtc,
    /// The garden item this post discusses: set on a reply to the item (a
    /// thread start of its discussion) and on every reply below it.
    pub garden_item_id: Option<i64>,
}

impl Model {
    pub fn is_gone(&self) -> bool {
        self.deleted_at.is_some() || self.removed
    }

    /// In a thread: a thread start (of a group, or of a garden item's
    /// discussion) or a reply below one. A reply whose parent has not
    /// arrived yet is not.
    pub fn is_placed(&self) -> bool {
        self.root_id.is_some() || self.in_reply_to.is_none() || self.garden_item_id.is_some()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
