use sea_orm::entity::prelude::*;

/// Another node as the directory knows it: how it was learned of, and the
/// profile of the initiative running it as last fetched from its NodeInfo.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "directory_node")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub host: String,
    /// 1: this node talked to it; 2: a peer of a peer; and so on.
    pub hops: i32,
    /// The peer whose list named it (none when met directly).
    pub learned_from: Option<String>,
    /// The admin keeps it off this node's map and list of peers.
    pub hidden: bool,
    /// None until a profile has been fetched.
    pub initiative_name: Option<String>,
    pub description: Option<String>,
    pub place_name: Option<String>,
    pub place_address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// JSON array of topics.
    pub topics: String,
    pub website: Option<String>,
    pub contact: Option<String>,
    /// NodeInfo `software.name`.
    pub software: Option<String>,
    pub first_seen_at: DateTimeUtc,
    /// Last successful fetch of its profile.
    pub fetched_at: Option<DateTimeUtc>,
    pub attempted_at: Option<DateTimeUtc>,
    /// Failed fetches since the last success.
    pub failures: i32,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
