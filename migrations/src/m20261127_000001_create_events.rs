//! Events (workshops, seminars, trainings, meetings) and who takes part in
//! them. A participation is one row per actor and event; its state follows
//! the organiser's answer to the `Join`.

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
    ApId,
    Url,
    Kind,
    AuthorId,
    GroupId,
    Title,
    DescriptionHtml,
    Source,
    StartsAt,
    EndsAt,
    Timezone,
    PlaceName,
    Address,
    Latitude,
    Longitude,
    OnlineUrl,
    Capacity,
    JoinMode,
    Status,
    ParticipantCount,
    Local,
    Published,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum EventParticipant {
    Table,
    Id,
    EventId,
    ActorId,
    ApId,
    State,
    Message,
    CreatedAt,
}

fn to_actor(
    table: impl IntoIden,
    column: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Actor::Table, Actor::Id)
        .on_delete(on_delete)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Event::Table)
                    .col(big_integer(Event::Id).primary_key().auto_increment())
                    .col(string_len_uniq(Event::ApId, 2048))
                    .col(string_len_null(Event::Url, 2048))
                    .col(string_len(Event::Kind, 16))
                    .col(big_integer_null(Event::AuthorId))
                    .col(big_integer_null(Event::GroupId))
                    .col(text(Event::Title))
                    .col(text(Event::DescriptionHtml))
                    .col(text_null(Event::Source))
                    .col(timestamp_with_time_zone(Event::StartsAt))
                    .col(timestamp_with_time_zone_null(Event::EndsAt))
                    .col(string_len_null(Event::Timezone, 64))
                    .col(string_null(Event::PlaceName))
                    .col(text_null(Event::Address))
                    .col(double_null(Event::Latitude))
                    .col(double_null(Event::Longitude))
                    .col(string_len_null(Event::OnlineUrl, 2048))
                    .col(integer_null(Event::Capacity))
                    .col(string_len(Event::JoinMode, 16))
                    .col(string_len(Event::Status, 16))
                    .col(integer(Event::ParticipantCount))
                    .col(boolean(Event::Local))
                    .col(timestamp_with_time_zone(Event::Published))
                    .col(timestamp_with_time_zone_null(Event::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Event::DeletedAt))
                    .foreign_key(&mut to_actor(
                        Event::Table,
                        Event::AuthorId,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut to_actor(
                        Event::Table,
                        Event::GroupId,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_starts_at")
                    .table(Event::Table)
                    .col(Event::StartsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_group")
                    .table(Event::Table)
                    .col(Event::GroupId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventParticipant::Table)
                    .col(big_integer(EventParticipant::Id).primary_key().auto_increment())
                    .col(big_integer(EventParticipant::EventId))
                    .col(big_integer(EventParticipant::ActorId))
                    .col(string_len(EventParticipant::ApId, 2048))
                    .col(string_len(EventParticipant::State, 16))
                    .col(text_null(EventParticipant::Message))
                    .col(timestamp_with_time_zone(EventParticipant::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventParticipant::Table, EventParticipant::EventId)
                            .to(Event::Table, Event::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut to_actor(
                        EventParticipant::Table,
                        EventParticipant::ActorId,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_participant_once")
                    .table(EventParticipant::Table)
                    .col(EventParticipant::EventId)
                    .col(EventParticipant::ActorId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_participant_ap_id")
                    .table(EventParticipant::Table)
                    .col(EventParticipant::ApId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EventParticipant::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Event::Table).to_owned())
            .await
    }
}
