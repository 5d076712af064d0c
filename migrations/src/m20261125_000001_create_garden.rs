//! The knowledge garden: items (patterns, metrics, stories) with their
//! revisions, tags and relations, adoptions, and a full-text index (FTS5 on
//! SQLite, a `tsvector` with a GIN index on PostgreSQL).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Actor {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum GardenItem {
    Table,
    Id,
    ApId,
    Url,
    Kind,
    AuthorId,
    GroupId,
    Status,
    Title,
    Summary,
    Content,
    ContentHtml,
    License,
    PlaceName,
    Latitude,
    Longitude,
    Revision,
    ForkedFrom,
    ForkedRevision,
    BaseContent,
    Provenance,
    OriginGone,
    Local,
    Published,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum GardenRevision {
    Table,
    Id,
    ItemId,
    Number,
    AuthorId,
    Message,
    Content,
    CreatedAt,
}

#[derive(DeriveIden)]
enum GardenTag {
    Table,
    Id,
    ItemId,
    Name,
}

#[derive(DeriveIden)]
enum GardenRelation {
    Table,
    Id,
    ItemId,
    Kind,
    Target,
}

#[derive(DeriveIden)]
enum Adoption {
    Table,
    Id,
    ApId,
    ItemId,
    ActorId,
    ContextHtml,
    OutcomeHtml,
    Story,
    Metrics,
    PlaceName,
    Latitude,
    Longitude,
    Local,
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

fn to_item(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(GardenItem::Table, GardenItem::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .create_index(Index::create().name(name).table(table).col(column).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GardenItem::Table)
                    .col(big_integer(GardenItem::Id).primary_key().auto_increment())
                    .col(string_len_uniq(GardenItem::ApId, 2048))
                    .col(string_len_null(GardenItem::Url, 2048))
                    .col(string_len(GardenItem::Kind, 16))
                    .col(big_integer_null(GardenItem::AuthorId))
                    .col(big_integer_null(GardenItem::GroupId))
                    .col(string_len(GardenItem::Status, 16))
                    .col(text(GardenItem::Title))
                    .col(text(GardenItem::Summary))
                    .col(text(GardenItem::Content))
                    .col(text(GardenItem::ContentHtml))
                    .col(string_len(GardenItem::License, 100))
                    .col(string_null(GardenItem::PlaceName))
                    .col(double_null(GardenItem::Latitude))
                    .col(double_null(GardenItem::Longitude))
                    .col(integer(GardenItem::Revision))
                    .col(string_len_null(GardenItem::ForkedFrom, 2048))
                    .col(integer_null(GardenItem::ForkedRevision))
                    .col(text_null(GardenItem::BaseContent))
                    .col(text(GardenItem::Provenance))
                    .col(boolean(GardenItem::OriginGone))
                    .col(boolean(GardenItem::Local))
                    .col(timestamp_with_time_zone(GardenItem::Published))
                    .col(timestamp_with_time_zone_null(GardenItem::UpdatedAt))
                    .col(timestamp_with_time_zone_null(GardenItem::DeletedAt))
                    .foreign_key(&mut to_actor(
                        GardenItem::Table,
                        GardenItem::AuthorId,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut to_actor(
                        GardenItem::Table,
                        GardenItem::GroupId,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_garden_item_forked_from",
            GardenItem::Table,
            GardenItem::ForkedFrom,
        )
        .await?;
        index(
            manager,
            "idx_garden_item_published",
            GardenItem::Table,
            GardenItem::Published,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(GardenRevision::Table)
                    .col(big_integer(GardenRevision::Id).primary_key().auto_increment())
                    .col(big_integer(GardenRevision::ItemId))
                    .col(integer(GardenRevision::Number))
                    .col(big_integer_null(GardenRevision::AuthorId))
                    .col(text(GardenRevision::Message))
                    .col(text(GardenRevision::Content))
                    .col(timestamp_with_time_zone(GardenRevision::CreatedAt))
                    .foreign_key(&mut to_item(GardenRevision::Table, GardenRevision::ItemId))
                    .foreign_key(&mut to_actor(
                        GardenRevision::Table,
                        GardenRevision::AuthorId,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_garden_revision_number")
                    .table(GardenRevision::Table)
                    .col(GardenRevision::ItemId)
                    .col(GardenRevision::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GardenTag::Table)
                    .col(big_integer(GardenTag::Id).primary_key().auto_increment())
                    .col(big_integer(GardenTag::ItemId))
                    .col(string_len(GardenTag::Name, 64))
                    .foreign_key(&mut to_item(GardenTag::Table, GardenTag::ItemId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_garden_tag_name", GardenTag::Table, GardenTag::Name).await?;
        index(
            manager,
            "idx_garden_tag_item",
            GardenTag::Table,
            GardenTag::ItemId,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(GardenRelation::Table)
                    .col(big_integer(GardenRelation::Id).primary_key().auto_increment())
                    .col(big_integer(GardenRelation::ItemId))
                    .col(string_len(GardenRelation::Kind, 32))
                    .col(string_len(GardenRelation::Target, 2048))
                    .foreign_key(&mut to_item(GardenRelation::Table, GardenRelation::ItemId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_garden_relation_item",
            GardenRelation::Table,
            GardenRelation::ItemId,
        )
        .await?;
        index(
            manager,
            "idx_garden_relation_target",
            GardenRelation::Table,
            GardenRelation::Target,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Adoption::Table)
                    .col(big_integer(Adoption::Id).primary_key().auto_increment())
                    .col(string_len_uniq(Adoption::ApId, 2048))
                    .col(big_integer(Adoption::ItemId))
                    .col(big_integer(Adoption::ActorId))
                    .col(text(Adoption::ContextHtml))
                    .col(text(Adoption::OutcomeHtml))
                    .col(string_len_null(Adoption::Story, 2048))
                    .col(text(Adoption::Metrics))
                    .col(string_null(Adoption::PlaceName))
                    .col(double_null(Adoption::Latitude))
                    .col(double_null(Adoption::Longitude))
                    .col(boolean(Adoption::Local))
                    .col(timestamp_with_time_zone(Adoption::CreatedAt))
                    .foreign_key(&mut to_item(Adoption::Table, Adoption::ItemId))
                    .foreign_key(&mut to_actor(
                        Adoption::Table,
                        Adoption::ActorId,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_adoption_item", Adoption::Table, Adoption::ItemId).await?;

        // The same words go into both indexes (see core::garden::search_words),
        // so both find the same items.
        let search = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "CREATE TABLE garden_search (
                     item_id BIGINT PRIMARY KEY REFERENCES garden_item(id) ON DELETE CASCADE,
                     document TSVECTOR NOT NULL
                 );
                 CREATE INDEX idx_garden_search_document ON garden_search USING GIN (document);"
            }
            _ => {
                "CREATE VIRTUAL TABLE garden_search USING fts5(document, tokenize = 'unicode61 remove_diacritics 0');"
            }
        };
        manager.get_connection().execute_unprepared(search).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS garden_search")
            .await?;
        for table in [
            Adoption::Table.into_iden(),
            GardenRelation::Table.into_iden(),
            GardenTag::Table.into_iden(),
            GardenRevision::Table.into_iden(),
            GardenItem::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
