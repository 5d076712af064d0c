//! Inbox activities are claimed in id order among the pending ones. The index
//! on state and time hands PostgreSQL every pending row to sort before the
//! claim's `LIMIT`, so a backlog made each claim slower; this partial index
//! gives the pending rows in id order, and the claim stops after those it
//! takes.
//!
//! PostgreSQL only: on SQLite every index ends with the rowid, which is the
//! id, so `idx_inbox_activity_due` already gives that order.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_inbox_activity_pending_order";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {NAME} ON inbox_activity (id) WHERE state = 'pending'"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX {NAME}"))
            .await?;
        Ok(())
    }
}
