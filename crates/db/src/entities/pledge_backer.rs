use sea_orm::entity::prelude::*;

/// One actor counting on a pledge (a `Like` of it on the wire).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pledge_backer")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub pledge_id: i64,
    pub actor_id: i64,
    /// The `Like`'s id (ours, or as sent).
    pub ap_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
