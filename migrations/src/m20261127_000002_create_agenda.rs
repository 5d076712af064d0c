//! The community agenda: questions a working group asks (Mastodon's polls
//! on the wire), their options, and one row per vote so one actor's vote
//! counts once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Actor {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Question {
    Table,
    Id,
    ApId,
    Url,
    AuthorId,
    GroupId,
    ContentHtml,
    Source,
    Multiple,
    ClosesAt,
    VotersCount,
    Local,
    Published,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum QuestionOption {
    Table,
    Id,
    QuestionId,
    Position,
    Name,
    Votes,
}

#[derive(DeriveIden)]
enum Vote {
    Table,
    Id,
    QuestionId,
    OptionId,
    ActorId,
    ApId,
    CreatedAt,
}

fn cascade(
    table: impl IntoIden,
    column: impl IntoIden,
    to: impl IntoIden,
    to_column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
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
                    .table(Question::Table)
                    .col(big_integer(Question::Id).primary_key().auto_increment())
                    .col(string_len_uniq(Question::ApId, 2048))
                    .col(string_len_null(Question::Url, 2048))
                    .col(big_integer_null(Question::AuthorId))
                    .col(big_integer_null(Question::GroupId))
                    .col(text(Question::ContentHtml))
                    .col(text_null(Question::Source))
                    .col(boolean(Question::Multiple))
                    .col(timestamp_with_time_zone_null(Question::ClosesAt))
                    .col(integer(Question::VotersCount))
                    .col(boolean(Question::Local))
                    .col(timestamp_with_time_zone(Question::Published))
                    .col(timestamp_with_time_zone_null(Question::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Question::DeletedAt))
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(Question::Table, Question::AuthorId)
                            .to(Actor::Table, Actor::Id)
                            .on_delete(ForeignKeyAction::SetNull)
                            .to_owned(),
                    )
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(Question::Table, Question::GroupId)
                            .to(Actor::Table, Actor::Id)
                            .on_delete(ForeignKeyAction::SetNull)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_question_group")
                    .table(Question::Table)
                    .col(Question::GroupId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QuestionOption::Table)
                    .col(big_integer(QuestionOption::Id).primary_key().auto_increment())
                    .col(big_integer(QuestionOption::QuestionId))
                    .col(integer(QuestionOption::Position))
                    .col(string_len(QuestionOption::Name, 200))
                    .col(integer(QuestionOption::Votes))
                    .foreign_key(&mut cascade(
                        QuestionOption::Table,
                        QuestionOption::QuestionId,
                        Question::Table,
                        Question::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_question_option_position")
                    .table(QuestionOption::Table)
                    .col(QuestionOption::QuestionId)
                    .col(QuestionOption::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Vote::Table)
                    .col(big_integer(Vote::Id).primary_key().auto_increment())
                    .col(big_integer(Vote::QuestionId))
                    .col(big_integer(Vote::OptionId))
                    .col(big_integer(Vote::ActorId))
                    .col(string_len(Vote::ApId, 2048))
                    .col(timestamp_with_time_zone(Vote::CreatedAt))
                    .foreign_key(&mut cascade(
                        Vote::Table,
                        Vote::QuestionId,
                        Question::Table,
                        Question::Id,
                    ))
                    .foreign_key(&mut cascade(
                        Vote::Table,
                        Vote::OptionId,
                        QuestionOption::Table,
                        QuestionOption::Id,
                    ))
                    .foreign_key(&mut cascade(Vote::Table, Vote::ActorId, Actor::Table, Actor::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_vote_once")
                    .table(Vote::Table)
                    .col(Vote::QuestionId)
                    .col(Vote::ActorId)
                    .col(Vote::OptionId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Vote::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(QuestionOption::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Question::Table).to_owned())
            .await
    }
}
