use sea_orm::entity::prelude::*;

/// Every actor this node knows: its own persons, working groups and instance
/// actor (`local = true`, with a private key), and remote ones it has fetched.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "actor")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    pub kind: super::ActorKind,
    pub local: bool,
    pub username: String,
    pub host: String,
    pub display_name: Option<String>,
    pub summary_html: Option<String>,
    pub url: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub outbox: Option<String>,
    pub followers_url: Option<String>,
    pub following_url: Option<String>,
    pub public_key_id: String,
    pub public_key_pem: String,
    pub private_key_pem: Option<String>,
    pub user_id: Option<i64>,
    pub manually_approves_followers: bool,
    pub discoverable: bool,
    pub published: DateTimeUtc,
    pub last_fetched_at: DateTimeUtc,
    /// For a local working group: the actor who created it (its first moderator).
    pub created_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// A local person's account.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// `@name@host`: how people write an actor's address.
    pub fn handle(&self) -> String {
        format!("@{}@{}", self.username, self.host)
    }
}
