//! The node's spine: settings, users, actors, follows, sessions and tokens,
//! and the two durable queues (outgoing activities with their deliveries,
//! incoming activities awaiting processing).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Setting {
    Table,
    Key,
    Value,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    Role,
    Approved,
    Suspended,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Actor {
    Table,
    Id,
    ApId,
    Kind,
    Local,
    Username,
    Host,
    DisplayName,
    SummaryHtml,
    Url,
    Inbox,
    SharedInbox,
    Outbox,
    FollowersUrl,
    FollowingUrl,
    PublicKeyId,
    PublicKeyPem,
    PrivateKeyPem,
    UserId,
    ManuallyApprovesFollowers,
    Discoverable,
    Published,
    LastFetchedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Follow {
    Table,
    Id,
    ApId,
    FollowerId,
    TargetId,
    State,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Session {
    Table,
    TokenHash,
    UserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    TokenHash,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OutboxActivity {
    Table,
    Id,
    ApId,
    ActorId,
    Kind,
    Json,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Delivery {
    Table,
    Id,
    OutboxActivityId,
    Inbox,
    PeerHost,
    State,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastStatus,
    LastError,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Peer {
    Table,
    Host,
    FailingSince,
    ConsecutiveFailures,
    Unreachable,
    LastSuccessAt,
    LastSeenAt,
    Blocked,
}

#[derive(DeriveIden)]
enum InboxActivity {
    Table,
    Id,
    ApId,
    ActorApId,
    Kind,
    Body,
    State,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    ReceivedAt,
    ProcessedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Setting::Table)
                    .col(string(Setting::Key).primary_key())
                    .col(text(Setting::Value))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(big_integer(User::Id).primary_key().auto_increment())
                    .col(string_len_uniq(User::Username, 30))
                    .col(string_null(User::Email))
                    .col(string(User::PasswordHash))
                    .col(string_len(User::Role, 16))
                    .col(boolean(User::Approved))
                    .col(boolean(User::Suspended))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Actor::Table)
                    .col(big_integer(Actor::Id).primary_key().auto_increment())
                    .col(string_len_uniq(Actor::ApId, 2048))
                    .col(string_len(Actor::Kind, 16))
                    .col(boolean(Actor::Local))
                    .col(string_len(Actor::Username, 255))
                    .col(string_len(Actor::Host, 255))
                    .col(string_null(Actor::DisplayName))
                    .col(text_null(Actor::SummaryHtml))
                    .col(string_len_null(Actor::Url, 2048))
                    .col(string_len(Actor::Inbox, 2048))
                    .col(string_len_null(Actor::SharedInbox, 2048))
                    .col(string_len_null(Actor::Outbox, 2048))
                    .col(string_len_null(Actor::FollowersUrl, 2048))
                    .col(string_len_null(Actor::FollowingUrl, 2048))
                    .col(string_len(Actor::PublicKeyId, 2048))
                    .col(text(Actor::PublicKeyPem))
                    .col(text_null(Actor::PrivateKeyPem))
                    .col(big_integer_null(Actor::UserId))
                    .col(boolean(Actor::ManuallyApprovesFollowers))
                    .col(boolean(Actor::Discoverable))
                    .col(timestamp_with_time_zone(Actor::Published))
                    .col(timestamp_with_time_zone(Actor::LastFetchedAt))
                    .col(big_integer_null(Actor::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Actor::Table, Actor::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_actor_username_host")
                    .table(Actor::Table)
                    .col(Actor::Username)
                    .col(Actor::Host)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Follow::Table)
                    .col(big_integer(Follow::Id).primary_key().auto_increment())
                    .col(string_len(Follow::ApId, 2048))
                    .col(big_integer(Follow::FollowerId))
                    .col(big_integer(Follow::TargetId))
                    .col(string_len(Follow::State, 16))
                    .col(timestamp_with_time_zone(Follow::CreatedAt))
                    .col(timestamp_with_time_zone(Follow::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Follow::Table, Follow::FollowerId)
                            .to(Actor::Table, Actor::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Follow::Table, Follow::TargetId)
                            .to(Actor::Table, Actor::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_follow_pair")
                    .table(Follow::Table)
                    .col(Follow::FollowerId)
                    .col(Follow::TargetId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_follow_ap_id")
                    .table(Follow::Table)
                    .col(Follow::ApId)
                    .to_owned(),
            )
            .await?;

        for (table, token, user, created, expires) in [
            (
                Session::Table.into_iden(),
                Session::TokenHash.into_iden(),
                Session::UserId.into_iden(),
                Session::CreatedAt.into_iden(),
                Some(Session::ExpiresAt.into_iden()),
            ),
            (
                ApiToken::Table.into_iden(),
                ApiToken::TokenHash.into_iden(),
                ApiToken::UserId.into_iden(),
                ApiToken::CreatedAt.into_iden(),
                None,
            ),
        ] {
            let mut create = Table::create();
            create
                .table(table.clone())
                .col(string_len(token, 64).primary_key())
                .col(big_integer(user.clone()))
                .col(timestamp_with_time_zone(created))
                .foreign_key(
                    ForeignKey::create()
                        .from(table, user)
                        .to(User::Table, User::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                );
            if let Some(expires) = expires {
                create.col(timestamp_with_time_zone(expires));
            }
            manager.create_table(create.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(OutboxActivity::Table)
                    .col(big_integer(OutboxActivity::Id).primary_key().auto_increment())
                    .col(string_len_uniq(OutboxActivity::ApId, 2048))
                    .col(big_integer(OutboxActivity::ActorId))
                    .col(string_len(OutboxActivity::Kind, 32))
                    .col(text(OutboxActivity::Json))
                    .col(timestamp_with_time_zone(OutboxActivity::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OutboxActivity::Table, OutboxActivity::ActorId)
                            .to(Actor::Table, Actor::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Delivery::Table)
                    .col(big_integer(Delivery::Id).primary_key().auto_increment())
                    .col(big_integer(Delivery::OutboxActivityId))
                    .col(string_len(Delivery::Inbox, 2048))
                    .col(string_len(Delivery::PeerHost, 255))
                    .col(string_len(Delivery::State, 16))
                    .col(integer(Delivery::Attempts))
                    .col(timestamp_with_time_zone(Delivery::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Delivery::ClaimedUntil))
                    .col(integer_null(Delivery::LastStatus))
                    .col(text_null(Delivery::LastError))
                    .col(timestamp_with_time_zone(Delivery::CreatedAt))
                    .col(timestamp_with_time_zone_null(Delivery::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Delivery::Table, Delivery::OutboxActivityId)
                            .to(OutboxActivity::Table, OutboxActivity::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_delivery_due")
                    .table(Delivery::Table)
                    .col(Delivery::State)
                    .col(Delivery::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_delivery_once_per_inbox")
                    .table(Delivery::Table)
                    .col(Delivery::OutboxActivityId)
                    .col(Delivery::Inbox)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Peer::Table)
                    .col(string_len(Peer::Host, 255).primary_key())
                    .col(timestamp_with_time_zone_null(Peer::FailingSince))
                    .col(integer(Peer::ConsecutiveFailures))
                    .col(boolean(Peer::Unreachable))
                    .col(timestamp_with_time_zone_null(Peer::LastSuccessAt))
                    .col(timestamp_with_time_zone_null(Peer::LastSeenAt))
                    .col(boolean(Peer::Blocked))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InboxActivity::Table)
                    .col(big_integer(InboxActivity::Id).primary_key().auto_increment())
                    .col(string_len_uniq(InboxActivity::ApId, 2048))
                    .col(string_len(InboxActivity::ActorApId, 2048))
                    .col(string_len(InboxActivity::Kind, 64))
                    .col(text(InboxActivity::Body))
                    .col(string_len(InboxActivity::State, 16))
                    .col(integer(InboxActivity::Attempts))
                    .col(timestamp_with_time_zone(InboxActivity::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(InboxActivity::ClaimedUntil))
                    .col(text_null(InboxActivity::LastError))
                    .col(timestamp_with_time_zone(InboxActivity::ReceivedAt))
                    .col(timestamp_with_time_zone_null(InboxActivity::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_inbox_activity_due")
                    .table(InboxActivity::Table)
                    .col(InboxActivity::State)
                    .col(InboxActivity::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            InboxActivity::Table.into_iden(),
            Peer::Table.into_iden(),
            Delivery::Table.into_iden(),
            OutboxActivity::Table.into_iden(),
            ApiToken::Table.into_iden(),
            Session::Table.into_iden(),
            Follow::Table.into_iden(),
            Actor::Table.into_iden(),
            User::Table.into_iden(),
            Setting::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
