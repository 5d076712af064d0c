//! Working groups' discussions: group settings and moderators, posts with
//! their revisions, tags and reactions, bans, reports, and what each peer's
//! software is (to decide how group activity is announced to it).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Actor {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Peer {
    Table,
    Software,
    GroupAware,
    SoftwareCheckedAt,
}

#[derive(DeriveIden)]
enum GroupSettings {
    Table,
    ActorId,
    PostingPolicy,
    Visibility,
    AnnounceReplies,
    ListFollowers,
    RulesHtml,
    Topics,
    PlaceName,
    PlaceAddress,
    Latitude,
    Longitude,
    IconUrl,
    ModeratorsUrl,
}

#[derive(DeriveIden)]
enum Moderator {
    Table,
    Id,
    GroupId,
    ActorId,
    AddedAt,
}

#[derive(DeriveIden)]
enum Post {
    Table,
    Id,
    ApId,
    Url,
    AuthorId,
    GroupId,
    InReplyTo,
    ParentId,
    RootId,
    Title,
    ContentHtml,
    Source,
    Summary,
    Sensitive,
    Language,
    Visibility,
    Local,
    Published,
    UpdatedAt,
    DeletedAt,
    Removed,
    Locked,
    Likes,
    Dislikes,
    Boosts,
    Replies,
    LastActivityAt,
}

#[derive(DeriveIden)]
enum PostRevision {
    Table,
    Id,
    PostId,
    Title,
    ContentHtml,
    Summary,
    EditedAt,
}

#[derive(DeriveIden)]
enum PostTag {
    Table,
    Id,
    PostId,
    Kind,
    Name,
    Href,
}

#[derive(DeriveIden)]
enum Reaction {
    Table,
    Id,
    ApId,
    PostId,
    ActorId,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden)]
enum GroupBan {
    Table,
    Id,
    ApId,
    GroupId,
    ActorId,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Report {
    Table,
    Id,
    ApId,
    ReporterId,
    TargetId,
    PostIds,
    GroupId,
    Content,
    State,
    Incoming,
    CreatedAt,
    ResolvedAt,
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

fn to_post(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Post::Table, Post::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            ColumnDef::new(Peer::Software).string_len(64).null().to_owned(),
            ColumnDef::new(Peer::GroupAware).boolean().null().to_owned(),
            ColumnDef::new(Peer::SoftwareCheckedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table(Peer::Table).add_column(column).to_owned())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(GroupSettings::Table)
                    .col(big_integer(GroupSettings::ActorId).primary_key())
                    .col(string_len(GroupSettings::PostingPolicy, 16))
                    .col(string_len(GroupSettings::Visibility, 16))
                    .col(boolean(GroupSettings::AnnounceReplies))
                    .col(boolean(GroupSettings::ListFollowers))
                    .col(text_null(GroupSettings::RulesHtml))
                    .col(text(GroupSettings::Topics))
                    .col(string_null(GroupSettings::PlaceName))
                    .col(string_null(GroupSettings::PlaceAddress))
                    .col(double_null(GroupSettings::Latitude))
                    .col(double_null(GroupSettings::Longitude))
                    .col(string_len_null(GroupSettings::IconUrl, 2048))
                    .col(string_len_null(GroupSettings::ModeratorsUrl, 2048))
                    .foreign_key(&mut to_actor(
                        GroupSettings::Table,
                        GroupSettings::ActorId,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Moderator::Table)
                    .col(big_integer(Moderator::Id).primary_key().auto_increment())
                    .col(big_integer(Moderator::GroupId))
                    .col(big_integer(Moderator::ActorId))
                    .col(timestamp_with_time_zone(Moderator::AddedAt))
                    .foreign_key(&mut to_actor(
                        Moderator::Table,
                        Moderator::GroupId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut to_actor(
                        Moderator::Table,
                        Moderator::ActorId,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_moderator_pair")
                    .table(Moderator::Table)
                    .col(Moderator::GroupId)
                    .col(Moderator::ActorId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Post::Table)
                    .col(big_integer(Post::Id).primary_key().auto_increment())
                    .col(string_len_uniq(Post::ApId, 2048))
                    .col(string_len_null(Post::Url, 2048))
                    // Null only for a Delete that arrived before its Create.
                    .col(big_integer_null(Post::AuthorId))
                    .col(big_integer_null(Post::GroupId))
                    .col(string_len_null(Post::InReplyTo, 2048))
                    .col(big_integer_null(Post::ParentId))
                    .col(big_integer_null(Post::RootId))
                    .col(text_null(Post::Title))
                    .col(text(Post::ContentHtml))
                    .col(text_null(Post::Source))
                    .col(text_null(Post::Summary))
                    .col(boolean(Post::Sensitive))
                    .col(string_len_null(Post::Language, 16))
                    .col(string_len(Post::Visibility, 16))
                    .col(boolean(Post::Local))
                    .col(timestamp_with_time_zone(Post::Published))
                    .col(timestamp_with_time_zone_null(Post::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Post::DeletedAt))
                    .col(boolean(Post::Removed))
                    .col(boolean(Post::Locked))
                    .col(integer(Post::Likes))
                    .col(integer(Post::Dislikes))
                    .col(integer(Post::Boosts))
                    .col(integer(Post::Replies))
                    .col(timestamp_with_time_zone(Post::LastActivityAt))
                    .foreign_key(&mut to_actor(
                        Post::Table,
                        Post::AuthorId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut to_actor(
                        Post::Table,
                        Post::GroupId,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_post_group_threads",
                vec![Post::GroupId, Post::RootId, Post::LastActivityAt],
            ),
            ("idx_post_root", vec![Post::RootId]),
            ("idx_post_in_reply_to", vec![Post::InReplyTo]),
            ("idx_post_published", vec![Post::Published]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Post::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(PostRevision::Table)
                    .col(big_integer(PostRevision::Id).primary_key().auto_increment())
                    .col(big_integer(PostRevision::PostId))
                    .col(text_null(PostRevision::Title))
                    .col(text(PostRevision::ContentHtml))
                    .col(text_null(PostRevision::Summary))
                    .col(timestamp_with_time_zone(PostRevision::EditedAt))
                    .foreign_key(&mut to_post(PostRevision::Table, PostRevision::PostId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PostTag::Table)
                    .col(big_integer(PostTag::Id).primary_key().auto_increment())
                    .col(big_integer(PostTag::PostId))
                    .col(string_len(PostTag::Kind, 16))
                    .col(string_len(PostTag::Name, 255))
                    .col(string_len_null(PostTag::Href, 2048))
                    .foreign_key(&mut to_post(PostTag::Table, PostTag::PostId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_post_tag_name")
                    .table(PostTag::Table)
                    .col(PostTag::Kind)
                    .col(PostTag::Name)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reaction::Table)
                    .col(big_integer(Reaction::Id).primary_key().auto_increment())
                    .col(string_len_null(Reaction::ApId, 2048))
                    .col(big_integer(Reaction::PostId))
                    .col(big_integer(Reaction::ActorId))
                    .col(string_len(Reaction::Kind, 16))
                    .col(timestamp_with_time_zone(Reaction::CreatedAt))
                    .foreign_key(&mut to_post(Reaction::Table, Reaction::PostId))
                    .foreign_key(&mut to_actor(
                        Reaction::Table,
                        Reaction::ActorId,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reaction_once")
                    .table(Reaction::Table)
                    .col(Reaction::PostId)
                    .col(Reaction::ActorId)
                    .col(Reaction::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupBan::Table)
                    .col(big_integer(GroupBan::Id).primary_key().auto_increment())
                    .col(string_len_null(GroupBan::ApId, 2048))
                    .col(big_integer(GroupBan::GroupId))
                    .col(big_integer(GroupBan::ActorId))
                    .col(text_null(GroupBan::Reason))
                    .col(timestamp_with_time_zone(GroupBan::CreatedAt))
                    .foreign_key(&mut to_actor(
                        GroupBan::Table,
                        GroupBan::GroupId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut to_actor(
                        GroupBan::Table,
                        GroupBan::ActorId,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_group_ban_pair")
                    .table(GroupBan::Table)
                    .col(GroupBan::GroupId)
                    .col(GroupBan::ActorId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Report::Table)
                    .col(big_integer(Report::Id).primary_key().auto_increment())
                    .col(string_len_uniq(Report::ApId, 2048))
                    .col(big_integer(Report::ReporterId))
                    .col(big_integer_null(Report::TargetId))
                    .col(text(Report::PostIds))
                    .col(big_integer_null(Report::GroupId))
                    .col(text(Report::Content))
                    .col(string_len(Report::State, 16))
                    .col(boolean(Report::Incoming))
                    .col(timestamp_with_time_zone(Report::CreatedAt))
                    .col(timestamp_with_time_zone_null(Report::ResolvedAt))
                    .foreign_key(&mut to_actor(
                        Report::Table,
                        Report::ReporterId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut to_actor(
                        Report::Table,
                        Report::TargetId,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Report::Table.into_iden(),
            GroupBan::Table.into_iden(),
            Reaction::Table.into_iden(),
            PostTag::Table.into_iden(),
            PostRevision::Table.into_iden(),
            Post::Table.into_iden(),
            Moderator::Table.into_iden(),
            GroupSettings::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [Peer::SoftwareCheckedAt, Peer::GroupAware, Peer::Software] {
            manager
                .alter_table(Table::alter().table(Peer::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
