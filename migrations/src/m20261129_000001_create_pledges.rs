//! Pledges: a person offers to carry an action attached to an event, an
//! agenda question or a garden item, and others count on it (one row each).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Actor {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Event {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Question {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum GardenItem {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Pledge {
    Table,
    Id,
    ApId,
    Url,
    AuthorId,
    GroupId,
    EventId,
    QuestionId,
    GardenItemId,
    Action,
    DueOn,
    Status,
    BackersCount,
    Local,
    Published,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PledgeBacker {
    Table,
    Id,
    PledgeId,
    ActorId,
    ApId,
    CreatedAt,
}

fn reference(
    table: impl IntoIden,
    column: impl IntoIden,
    to: impl IntoIden,
    to_column: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(to, to_column)
        .on_delete(on_delete)
        .to_owned()
}

async fn index(manager: &SchemaManager<'_>, name: &str, column: Pledge) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .name(name)
                .table(Pledge::Table)
                .col(column)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        manager
            .create_table(
                Table::create()
                    .table(Pledge::Table)
                    .col(big_integer(Pledge::Id).primary_key().auto_increment())
                    .col(string_len_uniq(Pledge::ApId, 2048))
                    .col(string_len_null(Pledge::Url, 2048))
                    .col(big_integer(Pledge::AuthorId))
                    .col(big_integer_null(Pledge::GroupId))
                    .col(big_integer_null(Pledge::EventId))
                    .col(big_integer_null(Pledge::QuestionId))
                    .col(big_integer_null(Pledge::GardenItemId))
                    .col(text(Pledge::Action))
                    .col(date_null(Pledge::DueOn))
                    .col(string_len(Pledge::Status, 16))
                    .col(integer(Pledge::BackersCount))
                    .col(boolean(Pledge::Local))
                    .col(timestamp_with_time_zone(Pledge::Published))
                    .col(timestamp_with_time_zone_null(Pledge::UpdatedAt))
                    .foreign_key(&mut reference(
                        Pledge::Table,
                        Pledge::AuthorId,
                        Actor::Table,
                        Actor::Id,
                        Cascade,
                    ))
                    .foreign_key(&mut reference(
                        Pledge::Table,
                        Pledge::GroupId,
                        Actor::Table,
                        Actor::Id,
                        SetNull,
                    ))
                    .foreign_key(&mut reference(
                        Pledge::Table,
                        Pledge::EventId,
                        Event::Table,
                        Event::Id,
                        Cascade,
                    ))
                    .foreign_key(&mut reference(
                        Pledge::Table,
                        Pledge::QuestionId,
                        Question::Table,
                        Question::Id,
                        Cascade,
                    ))
                    .foreign_key(&mut reference(
                        Pledge::Table,
                        Pledge::GardenItemId,
                        GardenItem::Table,
                        GardenItem::Id,
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_pledge_group", Pledge::GroupId).await?;
        index(manager, "idx_pledge_event", Pledge::EventId).await?;
        index(manager, "idx_pledge_question", Pledge::QuestionId).await?;
        index(manager, "idx_pledge_garden_item", Pledge::GardenItemId).await?;
        manager
            .create_table(
                Table::create()
                    .table(PledgeBacker::Table)
                    .col(big_integer(PledgeBacker::Id).primary_key().auto_increment())
                    .col(big_integer(PledgeBacker::PledgeId))
                    .col(big_integer(PledgeBacker::ActorId))
                    .col(string_len(PledgeBacker::ApId, 2048))
                    .col(timestamp_with_time_zone(PledgeBacker::CreatedAt))
                    .foreign_key(&mut reference(
                        PledgeBacker::Table,
                        PledgeBacker::PledgeId,
                        Pledge::Table,
                        Pledge::Id,
                        Cascade,
                    ))
                    .foreign_key(&mut reference(
                        PledgeBacker::Table,
                        PledgeBacker::ActorId,
                        Actor::Table,
                        Actor::Id,
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_pledge_backer_once")
                    .table(PledgeBacker::Table)
                    .col(PledgeBacker::PledgeId)
                    .col(PledgeBacker::ActorId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PledgeBacker::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Pledge::Table).to_owned())
            .await
    }
}
