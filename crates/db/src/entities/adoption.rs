use sea_orm::entity::prelude::*;

/// "We adopted this pattern": who, in what context, with what outcome.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "adoption")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    /// The garden item adopted.
    pub item_id: i64,
    /// Who recorded it.
    pub actor_id: i64,
    /// Sanitised.
    pub context_html: String,
    /// Sanitised.
    pub outcome_html: String,
    /// A story that tells how it went (ActivityPub id).
    pub story: Option<String>,
    /// JSON list of the metrics (ActivityPub ids) the outcome was measured by.
    pub metrics: String,
    pub place_name: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub local: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
