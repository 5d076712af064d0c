use sea_orm::entity::prelude::*;

/// One outgoing activity to one inbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub outbox_activity_id: i64,
    pub inbox: String,
    pub peer_host: String,
    pub state: super::DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A worker owns the row until then; a crashed worker's claim just expires.
    pub claimed_until: Option<DateTimeUtc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
