//! Deliveries are claimed in `(next_attempt_at, id)` order among the pending
//! ones. A fan-out enqueues thousands of rows with one `next_attempt_at`, so
//! an index on the state and time alone leaves every claim to read and sort
//! all of them before its `LIMIT`; this partial index hands them over in
//! claim order, and the claim stops after the rows it takes.
//!
//! PostgreSQL only: on SQLite every index ends with the rowid, which is the
//! id, so `idx_delivery_due` already gives that order.

use crate::postgres_only;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_delivery_pending_claim_order";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        postgres_only::execute(
            manager,
            &format!("CREATE INDEX {NAME} ON delivery (next_attempt_at, id) WHERE state = 'pending'"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        postgres_only::execute(manager, &format!("DROP INDEX {NAME}")).await
    }
}
