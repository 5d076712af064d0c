use sea_orm::entity::prelude::*;

/// A person banned from a working group.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_ban")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The group's Block activity.
    pub ap_id: Option<String>,
    pub group_id: i64,
    pub actor_id: i64,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
