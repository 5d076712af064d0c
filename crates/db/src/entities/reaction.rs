use sea_orm::entity::prelude::*;

/// A like, dislike or boost of a post, one of each per actor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reaction")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The Like/Dislike/Announce activity, so its Undo can find it.
    pub ap_id: Option<String>,
    pub post_id: i64,
    pub actor_id: i64,
    pub kind: super::ReactionKind,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
