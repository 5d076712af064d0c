//! Email: the outgoing mail queue (written in the same transaction as what
//! caused each mail, sent by a worker, retried until accepted or refused for
//! good), one-time links for address checks and password resets (hashes
//! only), one-click unsubscribe links, the kinds of mail a person turned off,
//! and on the user, when the address was checked and since when it bounces.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OutgoingEmail {
    Table,
    Id,
    UserId,
    Recipient,
    Kind,
    MessageId,
    Subject,
    TextBody,
    HtmlBody,
    ListUnsubscribe,
    Attachments,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    SentAt,
    FailedPermanently,
}

#[derive(DeriveIden)]
enum EmailToken {
    Table,
    Id,
    TokenHash,
    UserId,
    Purpose,
    Email,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EmailUnsubscribe {
    Table,
    TokenHash,
    UserId,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EmailOptOut {
    Table,
    UserId,
    Kind,
    CreatedAt,
}

const USER_COLUMNS: [&str; 2] = ["email_verified_at", "email_bouncing_since"];

fn user_fk<T: IntoIden + 'static>(table: T, column: impl IntoIden + 'static) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(User::Table, User::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in USER_COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(User::Table)
                        .add_column(
                            ColumnDef::new(Alias::new(column))
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(OutgoingEmail::Table)
                    .col(big_integer(OutgoingEmail::Id).primary_key().auto_increment())
                    .col(big_integer_null(OutgoingEmail::UserId))
                    .col(string_len(OutgoingEmail::Recipient, 254))
                    .col(string_len(OutgoingEmail::Kind, 32))
                    .col(string_len(OutgoingEmail::MessageId, 255))
                    .col(text(OutgoingEmail::Subject))
                    .col(text(OutgoingEmail::TextBody))
                    .col(text(OutgoingEmail::HtmlBody))
                    .col(text_null(OutgoingEmail::ListUnsubscribe))
                    .col(text(OutgoingEmail::Attachments))
                    .col(integer(OutgoingEmail::Attempts))
                    .col(timestamp_with_time_zone(OutgoingEmail::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(OutgoingEmail::ClaimedUntil))
                    .col(text_null(OutgoingEmail::LastError))
                    .col(timestamp_with_time_zone(OutgoingEmail::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutgoingEmail::SentAt))
                    .col(boolean(OutgoingEmail::FailedPermanently))
                    .foreign_key(&mut user_fk(OutgoingEmail::Table, OutgoingEmail::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outgoing_email_due")
                    .table(OutgoingEmail::Table)
                    .col(OutgoingEmail::SentAt)
                    .col(OutgoingEmail::FailedPermanently)
                    .col(OutgoingEmail::NextAttemptAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmailToken::Table)
                    .col(big_integer(EmailToken::Id).primary_key().auto_increment())
                    .col(string_len_uniq(EmailToken::TokenHash, 64))
                    .col(big_integer(EmailToken::UserId))
                    .col(string_len(EmailToken::Purpose, 16))
                    .col(string_len(EmailToken::Email, 254))
                    .col(timestamp_with_time_zone(EmailToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EmailToken::UsedAt))
                    .col(timestamp_with_time_zone(EmailToken::CreatedAt))
                    .foreign_key(&mut user_fk(EmailToken::Table, EmailToken::UserId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmailUnsubscribe::Table)
                    .col(string_len(EmailUnsubscribe::TokenHash, 64).primary_key())
                    .col(big_integer(EmailUnsubscribe::UserId))
                    .col(string_len(EmailUnsubscribe::Kind, 32))
                    .col(timestamp_with_time_zone(EmailUnsubscribe::CreatedAt))
                    .foreign_key(&mut user_fk(EmailUnsubscribe::Table, EmailUnsubscribe::UserId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmailOptOut::Table)
                    .col(big_integer(EmailOptOut::UserId))
                    .col(string_len(EmailOptOut::Kind, 32))
                    .col(timestamp_with_time_zone(EmailOptOut::CreatedAt))
                    .primary_key(Index::create().col(EmailOptOut::UserId).col(EmailOptOut::Kind))
                    .foreign_key(&mut user_fk(EmailOptOut::Table, EmailOptOut::UserId))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EmailOptOut::Table.into_iden(),
            EmailUnsubscribe::Table.into_iden(),
            EmailToken::Table.into_iden(),
            OutgoingEmail::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in USER_COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(User::Table)
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
