//! Followers are counted and listed by whom they follow (every group page,
//! every fan-out): an index on the target and state, so that is not a scan
//! of every follow on the node.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Follow {
    Table,
    TargetId,
    State,
}

const NAME: &str = "idx_follow_target_state";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Follow::Table)
                    .col(Follow::TargetId)
                    .col(Follow::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Follow::Table).to_owned())
            .await
    }
}
