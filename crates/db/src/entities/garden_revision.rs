use sea_orm::entity::prelude::*;

/// One revision of a garden item: the whole content as it stood, who wrote it and why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "garden_revision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub item_id: i64,
    pub number: i32,
    pub author_id: Option<i64>,
    pub message: String,
    /// `healthcommons_core::garden::Content` as JSON.
    pub content: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
