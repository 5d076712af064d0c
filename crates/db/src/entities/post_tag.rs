use sea_orm::entity::prelude::*;

/// A mention (`@name@node`) or hashtag of a post.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "post_tag")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub post_id: i64,
    pub kind: super::TagKind,
    /// `@name@host` for a mention, the tag without `#` (lowercase) for a hashtag.
    pub name: String,
    pub href: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
