use sea_orm::entity::prelude::*;

/// One actor's request to take part in an event (their `Join`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_participant")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub event_id: i64,
    pub actor_id: i64,
    /// The id of the `Join` (ours, or as sent).
    pub ap_id: String,
    pub state: super::ParticipantState,
    /// What they wrote to the organiser (Mobilizon's `participationMessage`).
    pub message: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
