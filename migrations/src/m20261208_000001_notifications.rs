//! Notifications on the node (issue 23): one row per thing a person hears
//! of, naming what it is about by one of several nullable references, so a
//! deleted post, event, pledge, garden item, group or report takes its
//! notifications with it. Beside it, each person's choice per kind (on the
//! node, by email at once, in a daily digest, not at all). Event reminders and
//! closed agenda questions are found by a worker; a person hears of each once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Actor {
    Table,
    Id,
}
#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
#[derive(DeriveIden)]
enum Post {
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
enum Pledge {
    Table,
    Id,
}
#[derive(DeriveIden)]
enum GardenItem {
    Table,
    Id,
}
#[derive(DeriveIden)]
enum Report {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    RecipientId,
    Kind,
    CauseId,
    PostId,
    EventId,
    QuestionId,
    PledgeId,
    GardenItemId,
    GroupId,
    ReportId,
    Detail,
    GroupKey,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum NotificationPreference {
    Table,
    Id,
    UserId,
    Kind,
    Choice,
}

fn reference(column: Notification, to: impl IntoIden, to_column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Notification::Table, column)
        .to(to, to_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notification::Table)
                    .col(big_integer(Notification::Id).primary_key().auto_increment())
                    .col(big_integer(Notification::RecipientId))
                    .col(string_len(Notification::Kind, 32))
                    .col(big_integer_null(Notification::CauseId))
                    .col(big_integer_null(Notification::PostId))
                    .col(big_integer_null(Notification::EventId))
                    .col(big_integer_null(Notification::QuestionId))
                    .col(big_integer_null(Notification::PledgeId))
                    .col(big_integer_null(Notification::GardenItemId))
                    .col(big_integer_null(Notification::GroupId))
                    .col(big_integer_null(Notification::ReportId))
                    .col(string_len_null(Notification::Detail, 32))
                    .col(string_len(Notification::GroupKey, 128))
                    .col(timestamp_with_time_zone(Notification::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notification::ReadAt))
                    .foreign_key(&mut reference(Notification::RecipientId, Actor::Table, Actor::Id))
                    .foreign_key(&mut reference(Notification::CauseId, Actor::Table, Actor::Id))
                    .foreign_key(&mut reference(Notification::PostId, Post::Table, Post::Id))
                    .foreign_key(&mut reference(Notification::EventId, Event::Table, Event::Id))
                    .foreign_key(&mut reference(
                        Notification::QuestionId,
                        Question::Table,
                        Question::Id,
                    ))
                    .foreign_key(&mut reference(Notification::PledgeId, Pledge::Table, Pledge::Id))
                    .foreign_key(&mut reference(
                        Notification::GardenItemId,
                        GardenItem::Table,
                        GardenItem::Id,
                    ))
                    .foreign_key(&mut reference(Notification::GroupId, Actor::Table, Actor::Id))
                    .foreign_key(&mut reference(Notification::ReportId, Report::Table, Report::Id))
                    .to_owned(),
            )
            .await?;
        // A person's list, newest first, and their unread ones.
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_recipient_newest")
                    .table(Notification::Table)
                    .col(Notification::RecipientId)
                    .col((Notification::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_recipient_unread")
                    .table(Notification::Table)
                    .col(Notification::RecipientId)
                    .col(Notification::ReadAt)
                    .col((Notification::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationPreference::Table)
                    .col(
                        big_integer(NotificationPreference::Id)
                            .primary_key()
                            .auto_increment(),
                    )
                    .col(big_integer(NotificationPreference::UserId))
                    .col(string_len(NotificationPreference::Kind, 32))
                    .col(string_len(NotificationPreference::Choice, 16))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationPreference::Table, NotificationPreference::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_preference_once")
                    .table(NotificationPreference::Table)
                    .col(NotificationPreference::UserId)
                    .col(NotificationPreference::Kind)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(NotificationPreference::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Notification::Table).to_owned())
            .await
    }
}
