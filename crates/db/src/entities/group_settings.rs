use sea_orm::entity::prelude::*;

/// What a working group (local, or remote as last fetched) is about and who
/// may post in it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "group_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor_id: i64,
    pub posting_policy: super::PostingPolicy,
    pub visibility: super::GroupVisibility,
    /// Whether replies are announced too, or only new threads.
    pub announce_replies: bool,
    /// Whether the followers collection lists its members or only counts them.
    pub list_followers: bool,
    pub rules_html: Option<String>,
    /// JSON array of hashtags, without `#`.
    pub topics: String,
    pub place_name: Option<String>,
    pub place_address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub icon_url: Option<String>,
    /// A remote group's moderators collection.
    pub moderators_url: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
