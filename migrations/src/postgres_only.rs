//! Statements that only PostgreSQL needs (partial indexes SQLite's rowid
//! order makes unnecessary); on SQLite the migration does nothing.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

pub async fn execute(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}
