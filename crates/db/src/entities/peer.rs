use sea_orm::entity::prelude::*;

/// What this node knows of another node's health and standing.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "peer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub host: String,
    pub failing_since: Option<DateTimeUtc>,
    pub consecutive_failures: i32,
    pub unreachable: bool,
    pub last_success_at: Option<DateTimeUtc>,
    pub last_seen_at: Option<DateTimeUtc>,
    pub blocked: bool,
    /// NodeInfo `software.name`, once asked.
    pub software: Option<String>,
    /// Whether it understands a group's `Announce{Create}` (FEP-1b12).
    pub group_aware: Option<bool>,
    pub software_checked_at: Option<DateTimeUtc>,
    /// Since when it answers our deliveries with 401 or 403: it cannot
    /// check our signatures, or will not. Cleared by a delivery that lands.
    pub refusing_since: Option<DateTimeUtc>,
    /// Its last such answer (status and the start of its body).
    #[sea_orm(column_type = "Text", nullable)]
    pub last_refusal: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
