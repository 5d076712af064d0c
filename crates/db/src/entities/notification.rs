use sea_orm::entity::prelude::*;

/// Something a local person hears of: who caused it, of what kind, about
/// what (one of the subject references), when, and whether they read it.
/// Whether they may still see its subject is decided when it is read.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The local person told.
    pub recipient_id: i64,
    pub kind: super::NotificationKind,
    /// Who caused it, when a person did.
    pub cause_id: Option<i64>,
    pub post_id: Option<i64>,
    pub event_id: Option<i64>,
    pub question_id: Option<i64>,
    pub pledge_id: Option<i64>,
    pub garden_item_id: Option<i64>,
    pub group_id: Option<i64>,
    pub report_id: Option<i64>,
    /// A word on what happened (`accepted`, `cancelled`, `time`, …).
    pub detail: Option<String>,
    /// Notifications with the same key are shown as one ("12 people replied").
    pub group_key: String,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
