use sea_orm::entity::prelude::*;

/// A report (ActivityPub `Flag`) filed here or received from another node.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    /// Who filed it: a local person, or a remote node's actor (Mastodon
    /// reports as its instance actor).
    pub reporter_id: i64,
    /// The reported actor, when known here.
    pub target_id: Option<i64>,
    /// JSON array of the reported posts' ActivityPub ids.
    pub post_ids: String,
    pub group_id: Option<i64>,
    /// The reporter's comment, plain text.
    pub content: String,
    pub state: super::ReportState,
    /// Arrived from another node.
    pub incoming: bool,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
