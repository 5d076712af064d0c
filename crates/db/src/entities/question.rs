use sea_orm::entity::prelude::*;

/// A question on a working group's agenda (a Mastodon poll on the wire),
/// asked here or learned from another node.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "question")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    pub url: Option<String>,
    pub author_id: Option<i64>,
    /// The working group whose agenda it is on.
    pub group_id: Option<i64>,
    /// The question itself, sanitised.
    pub content_html: String,
    pub source: Option<String>,
    /// Several choices (`anyOf`) rather than one (`oneOf`).
    pub multiple: bool,
    pub closes_at: Option<DateTimeUtc>,
    /// Distinct actors who voted (as the asking node last said, for remote questions).
    pub voters_count: i32,
    /// Who it is for: members-only in a members-only working group.
    pub visibility: super::Visibility,
    pub local: bool,
    pub published: DateTimeUtc,
    pub updated_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
