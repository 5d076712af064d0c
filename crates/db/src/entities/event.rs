use sea_orm::entity::prelude::*;

/// A workshop, seminar, training or meeting, organised here or learned
/// from another node (Mobilizon's `Event` on the wire).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    pub url: Option<String>,
    pub kind: healthcommons_core::event::EventKind,
    /// The person who created it.
    pub author_id: Option<i64>,
    /// The working group organising it; the author organises it when none.
    pub group_id: Option<i64>,
    pub title: String,
    /// Sanitised.
    pub description_html: String,
    /// What the author wrote (Markdown), for local events.
    pub source: Option<String>,
    pub starts_at: DateTimeUtc,
    pub ends_at: Option<DateTimeUtc>,
    /// IANA name of the time zone it is held in, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    pub place_name: Option<String>,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub online_url: Option<String>,
    /// Places available; none is unlimited.
    pub capacity: Option<i32>,
    pub join_mode: healthcommons_core::event::JoinMode,
    pub status: healthcommons_core::event::EventStatus,
    /// Who it is for: members-only in a members-only working group.
    pub visibility: super::Visibility,
    /// Accepted participants (as the organiser's node last said, for remote events).
    pub participant_count: i32,
    pub local: bool,
    pub published: DateTimeUtc,
    pub updated_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
