//! Inbox activities are claimed in id order among the pending ones. The index
//! on state and time hands PostgreSQL every pending row to sort before the
//! claim's `LIMIT`, so a backlog made each claim slower; this partial index
//! gives the pending rows in id order, and the claim stops after those it
//! takes.
//!
//! PostgreSQL only: on SQLite every index ends with the rowid, which is the
//! id, so `idx_inbox_activity_due` already gives that order.

use crate::postgres_only;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_inbox_activity_pending_order";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        postgres_only::execute(
            manager,
            &format!("CREATE INDEX {NAME} ON inbox_activity (id) WHERE state = 'pending'"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        postgres_only::execute(manager, &format!("DROP INDEX {NAME}")).await
    }
}
