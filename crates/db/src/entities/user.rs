use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: super::Role,
    pub approved: bool,
    pub suspended: bool,
    pub created_at: DateTimeUtc,
    /// SHA-256 of the key in the person's private calendar link, if any.
    pub calendar_key_hash: Option<String>,
    /// When the person opened the link sent to `email`; no notification
    /// mail goes to an address before.
    pub email_verified_at: Option<DateTimeUtc>,
    /// Since when the mail server refuses `email` for good; nothing is
    /// sent to it until the person gives another address.
    pub email_bouncing_since: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The account's person actor.
    #[sea_orm(has_many = "super::actor::Entity")]
    Actor,
}

impl Related<super::actor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
