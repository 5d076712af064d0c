use sea_orm::entity::prelude::*;

/// A person's offer to carry an action ("I will …, by …"), attached to one
/// event, agenda question or garden item; made here or learned from a peer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pledge")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    pub url: Option<String>,
    /// Who pledged.
    pub author_id: i64,
    /// The working group of what it is attached to.
    pub group_id: Option<i64>,
    /// Exactly one of the three is set.
    pub event_id: Option<i64>,
    pub question_id: Option<i64>,
    pub garden_item_id: Option<i64>,
    /// What the person will do, as plain text.
    pub action: String,
    pub due_on: Option<Date>,
    pub status: healthcommons_core::pledge::PledgeStatus,
    /// How many count on it (as the pledger's node last said, for remote pledges).
    pub backers_count: i32,
    /// Who it is for: members-only in a members-only working group.
    pub visibility: super::Visibility,
    pub local: bool,
    pub published: DateTimeUtc,
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
