//! Replies to a garden item are threads: a post names the item it discusses,
//! so an item's page can list its discussion in one query.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Post {
    Table,
    GardenItemId,
}

const INDEX: &str = "idx_post_garden_item";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Post::Table)
                    .add_column(big_integer_null(Post::GardenItemId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Post::Table)
                    .col(Post::GardenItemId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Post::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Post::Table)
                    .drop_column(Post::GardenItemId)
                    .to_owned(),
            )
            .await
    }
}
