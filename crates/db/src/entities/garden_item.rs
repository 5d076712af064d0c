use sea_orm::entity::prelude::*;

/// A pattern, metric or story in the garden, written here or learned from
/// another node. `content` is the current revision's
/// `healthcommons_core::garden::Content` as JSON.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "garden_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    pub url: Option<String>,
    pub kind: healthcommons_core::garden::Kind,
    pub author_id: Option<i64>,
    /// The working group it was published to, if any.
    pub group_id: Option<i64>,
    /// A draft is seen by its author only and never federated.
    pub status: healthcommons_core::garden::ItemStatus,
    /// Who it is for: members-only in a members-only working group.
    pub visibility: super::Visibility,
    pub title: String,
    pub summary: String,
    pub content: String,
    /// Sanitised, rendered from `content`.
    pub content_html: String,
    pub license: String,
    pub place_name: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The number of the current revision (1 for a new item).
    pub revision: i32,
    /// The item this one was forked from (its ActivityPub id).
    pub forked_from: Option<String>,
    /// The revision of `forked_from` this fork last took (at the fork, or at the latest pull).
    pub forked_revision: Option<i32>,
    /// `forked_from`'s content at `forked_revision`: the base of a three-way pull.
    pub base_content: Option<String>,
    /// JSON list of `{id, revision}`, the whole chain of forks from the first
    /// origin to `forked_from`.
    pub provenance: String,
    /// The item forked from was deleted at its origin.
    pub origin_gone: bool,
    pub local: bool,
    pub published: DateTimeUtc,
    pub updated_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
