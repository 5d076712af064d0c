use sea_orm::entity::prelude::*;

/// An activity this node sent, exactly as its bytes go on the wire (unsigned:
/// signatures are made at send time).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_activity")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    pub actor_id: i64,
    pub kind: String,
    pub json: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Entity {
    /// The join from an activity to the actor that signs it.
    pub fn belongs_to_actor() -> RelationDef {
        Entity::belongs_to(super::actor::Entity)
            .from(Column::ActorId)
            .to(super::actor::Column::Id)
            .into()
    }
}
