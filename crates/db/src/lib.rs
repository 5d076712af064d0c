//! Storage of a Health Commons node: SeaORM entities, the queries each
//! aggregate needs, and `connect`, which opens SQLite or PostgreSQL and brings
//! the schema up to date.

pub mod entities;
pub mod queries;

use healthcommons_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use std::time::Duration;

pub use sea_orm::{DatabaseConnection as Db, DatabaseTransaction, TransactionTrait};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("unsupported database url {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
}

impl DbError {
    /// True when the failure is a unique-constraint violation (a duplicate).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Database(err) => is_unique_violation(err),
            DbError::UnsupportedUrl(_) => false,
        }
    }
}

impl DbError {
    /// True when the database could not write because its disk is full
    /// (SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full` or a failed extend).
    pub fn is_storage_full(&self) -> bool {
        let DbError::Database(err) = self else {
            return false;
        };
        let text = err.to_string();
        [
            "database or disk is full",
            "No space left on device",
            "could not extend file",
            "53100",
        ]
        .iter()
        .any(|sign| text.contains(sign))
    }
}

pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

pub type DbResult<T> = Result<T, DbError>;

/// Open the database at `url` and run every pending migration.
pub async fn connect(url: &str) -> DbResult<DatabaseConnection> {
    let db = open(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Open the database without migrating (for `healthcommons migrate` and checks).
pub async fn open(url: &str) -> DbResult<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // One connection: SQLite has one writer anyway, and a second
        // connection's deferred transaction can fail at once with
        // SQLITE_BUSY when it upgrades from reading to writing. (For
        // `sqlite::memory:` a second connection would be another database.)
        options.max_connections(1).min_connections(1);
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        options.max_connections(16).min_connections(1);
    } else {
        return Err(DbError::UnsupportedUrl(url.to_owned()));
    }
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
        if !url.contains(":memory:") {
            // Readers beside the one writer; the setting is stored in the file.
            db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
        }
    }
    Ok(db)
}

/// Read-only connections beside the writer `open` gives, for pages and
/// reads that never write. SQLite has one writing connection, so without
/// these every query of every page waits its turn on it; WAL lets these
/// readers read while it writes, and a reader sees every commit made before
/// its query starts. On PostgreSQL (and an in-memory SQLite, which a second
/// connection could not see) it is the writer's own pool.
pub async fn open_readers(url: &str, writer: &DatabaseConnection) -> DbResult<DatabaseConnection> {
    if writer.get_database_backend() != DbBackend::Sqlite || url.contains(":memory:") {
        return Ok(writer.clone());
    }
    let mut options = ConnectOptions::new(read_only_url(url));
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .max_connections(SQLITE_READERS)
        .min_connections(1);
    Ok(Database::connect(options).await?)
}

/// Read-only connections to a SQLite file (two cores rarely keep more busy).
const SQLITE_READERS: u32 = 4;

/// `url` with its `mode` parameter (`rwc`, `rw`) replaced by `ro`.
fn read_only_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("mode="))
        .collect();
    params.push("mode=ro");
    format!("{base}?{}", params.join("&"))
}

/// Run pending migrations on an open connection.
pub async fn migrate(db: &DatabaseConnection) -> DbResult<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// True when every known migration has been applied.
pub async fn migrations_current(db: &DatabaseConnection) -> DbResult<bool> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

/// A fresh in-memory SQLite database with the schema, for tests.
pub async fn connect_in_memory() -> DbResult<DatabaseConnection> {
    connect("sqlite::memory:").await
}

/// The database the test suite runs against: PostgreSQL when
/// `HEALTHCOMMONS_TEST_POSTGRES_URL` is set (CI sets it), SQLite otherwise.
/// Each call gets a database of its own.
pub mod testing {
    use super::*;
    use sea_orm::Statement;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    static COUNTER: AtomicU32 = AtomicU32::new(0);
    static SWEPT: AtomicBool = AtomicBool::new(false);

    /// Every backend the suite should cover on this machine.
    pub fn backends() -> Vec<&'static str> {
        let mut list = vec!["sqlite"];
        if std::env::var("HEALTHCOMMONS_TEST_POSTGRES_URL").is_ok() {
            list.push("postgres");
        }
        list
    }

    /// A fresh, migrated database of the given backend.
    pub async fn fresh(backend: &str) -> DbResult<DatabaseConnection> {
        match backend {
            "postgres" => {
                let admin_url = std::env::var("HEALTHCOMMONS_TEST_POSTGRES_URL")
                    .map_err(|_| DbError::UnsupportedUrl("postgres (no test url)".into()))?;
                let url = fresh_postgres_database(&admin_url).await?;
                connect(&url).await
            }
            _ => connect_in_memory().await,
        }
    }

    /// Test databases of runs that have ended (their process is gone), so a
    /// developer's server does not fill up with them over the months.
    async fn drop_leftovers(admin: &DatabaseConnection) -> DbResult<()> {
        let rows = admin
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT datname FROM pg_database WHERE datname LIKE 'hc\\_test\\_%'",
            ))
            .await?;
        for row in rows {
            let Ok(name) = row.try_get::<String>("", "datname") else {
                continue;
            };
            let owner_alive = name
                .split('_')
                .nth(2)
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_none_or(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
            if !owner_alive {
                // Still in use by someone else: leave it for the next sweep.
                let _ = admin
                    .execute_raw(Statement::from_string(
                        DbBackend::Postgres,
                        format!("DROP DATABASE IF EXISTS \"{name}\""),
                    ))
                    .await;
            }
        }
        Ok(())
    }

    /// Create an empty PostgreSQL database next to `admin_url` and return its url.
    pub async fn fresh_postgres_database(admin_url: &str) -> DbResult<String> {
        let name = format!(
            "hc_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
        let admin = Database::connect(admin_url).await?;
        if !SWEPT.swap(true, Ordering::SeqCst) {
            drop_leftovers(&admin).await?;
        }
        admin
            .execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("CREATE DATABASE {name}"),
            ))
            .await?;
        admin.close().await?;
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(admin_url);
        Ok(format!("{base}/{name}"))
    }
}
