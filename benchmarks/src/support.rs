//! What every benchmark needs: a description of the machine, fresh databases
//! made the way the test suite makes them, and latency figures.

use anyhow::{Context, Result};
use healthcommons_db::Db;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Print the machine the figures come from.
pub fn print_machine() {
    println!("# Machine");
    println!();
    for (label, value) in machine() {
        println!("- {label}: {value}");
    }
    if let Some((one, _)) = load_average() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        if one > cores / 2.0 {
            println!();
            println!(
                "WARNING: the machine is busy (load {one:.2} on {cores} cores): other work shares the CPU \
                 and the figures will be slower and noisier than on an idle machine."
            );
        }
    }
    if cfg!(debug_assertions) {
        println!();
        println!("WARNING: a debug build; figures mean little. Run with `cargo run --release`.");
    }
    println!();
}

fn machine() -> Vec<(&'static str, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| {
            let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|release| {
            release.lines().find_map(|line| {
                line.strip_prefix("PRETTY_NAME=")
                    .map(|name| name.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let load = load_average().map_or_else(|| "unknown".to_owned(), |(_, all)| all);
    vec![
        ("CPU", model),
        ("cores available", cores.to_string()),
        ("RAM", ram),
        ("OS", format!("{os}, Linux {kernel}")),
        ("rustc", env!("HEALTHCOMMONS_BENCH_RUSTC").to_owned()),
        ("load average at start (1, 5, 15 min)", load),
        (
            "build",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
        ),
    ]
}

/// The 1-minute load average, and all three as printed.
pub fn load_average() -> Option<(f64, String)> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let three: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    Some((three.first()?.parse().ok()?, three.join(", ")))
}

/// A fresh, migrated database that is removed again when the benchmark ends.
pub struct BenchDb {
    pub db: Db,
    store: Store,
}

enum Store {
    /// A file in a temporary directory, removed with it.
    Sqlite { dir: tempfile::TempDir, file: PathBuf },
    /// A database of its own on the server, dropped at the end.
    Postgres { admin_url: String, name: String },
}

impl BenchDb {
    /// SQLite in a file, opened as a node opens it (WAL, one connection).
    pub async fn sqlite() -> Result<BenchDb> {
        let dir = tempfile::Builder::new()
            .prefix("healthcommons-bench-")
            .tempdir()
            .context("making a temporary directory")?;
        let file = dir.path().join("healthcommons.sqlite");
        let db = healthcommons_db::connect(&format!("sqlite://{}?mode=rwc", file.display()))
            .await
            .context("opening SQLite")?;
        Ok(BenchDb {
            db,
            store: Store::Sqlite { dir, file },
        })
    }

    /// A new database on the PostgreSQL server at `admin_url`, where the user
    /// may create databases (as `healthcommons_db::testing` does for tests).
    pub async fn postgres(admin_url: &str) -> Result<BenchDb> {
        let name = format!(
            "hc_bench_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let admin = Database::connect(admin_url)
            .await
            .context("connecting to HEALTHCOMMONS_BENCH_POSTGRES_URL")?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .context("creating the benchmark's database")?;
        admin.close().await?;
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
        let db = healthcommons_db::connect(&format!("{base}/{name}"))
            .await
            .context("opening the benchmark's PostgreSQL database")?;
        Ok(BenchDb {
            db,
            store: Store::Postgres {
                admin_url: admin_url.to_owned(),
                name,
            },
        })
    }

    /// The URL a node opens this database with.
    pub fn url(&self) -> String {
        match &self.store {
            Store::Sqlite { file, .. } => format!("sqlite://{}?mode=rwc", file.display()),
            Store::Postgres { admin_url, name } => {
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                format!("{base}/{name}")
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self.store {
            Store::Sqlite { .. } => "SQLite",
            Store::Postgres { .. } => "PostgreSQL",
        }
    }

    /// The database's version and where it keeps its data.
    pub async fn describe(&self) -> Result<String> {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => "SELECT version() AS v",
            _ => "SELECT 'SQLite ' || sqlite_version() AS v",
        };
        let version: String = self
            .db
            .query_one_raw(Statement::from_string(backend, sql))
            .await?
            .context("no version")?
            .try_get("", "v")?;
        Ok(match &self.store {
            Store::Sqlite { file, .. } => format!(
                "{version}, file {} on {}, WAL, one connection (as a node opens it)",
                file.display(),
                filesystem_of(file)
            ),
            Store::Postgres { name, .. } => {
                format!("{version}, fresh database {name}, pool of 16 (as a node opens it)")
            }
        })
    }

    /// How much room the database takes, in bytes.
    pub async fn size(&self) -> Result<u64> {
        Ok(match &self.store {
            Store::Sqlite { dir, .. } => {
                let mut total = 0;
                for entry in std::fs::read_dir(dir.path())? {
                    total += entry?.metadata()?.len();
                }
                total
            }
            Store::Postgres { .. } => {
                let row = self
                    .db
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT pg_database_size(current_database()) AS n",
                    ))
                    .await?
                    .context("no size")?;
                u64::try_from(row.try_get::<i64>("", "n")?)?
            }
        })
    }

    /// Close the database and remove it.
    pub async fn finish(self) -> Result<()> {
        self.db.close().await?;
        match self.store {
            Store::Sqlite { dir, .. } => dir.close()?,
            Store::Postgres { admin_url, name } => {
                let admin = Database::connect(admin_url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                    .await
                    .with_context(|| format!("dropping {name}"))?;
                admin.close().await?;
            }
        }
        Ok(())
    }
}

/// The type of the file system `path` lives on (`tmpfs`, `ext4`…).
fn filesystem_of(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_, point, kind) = (parts.next()?, parts.next()?, parts.next()?);
            path.starts_with(point).then(|| (point.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "an unknown file system".to_owned(), |(_, kind)| kind)
}

/// Mean and percentiles of a set of timings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub runs: usize,
    pub mean: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    /// Nearest-rank percentiles; `None` without samples.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let rank = |p: f64| {
            let index = (p / 100.0 * sorted.len() as f64).ceil() as usize;
            sorted[index.clamp(1, sorted.len()) - 1]
        };
        let total: Duration = sorted.iter().sum();
        Some(Summary {
            runs: sorted.len(),
            mean: total / u32::try_from(sorted.len()).unwrap_or(u32::MAX),
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: sorted[sorted.len() - 1],
        })
    }
}

/// Milliseconds with three decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1000.0)
}

/// A Markdown table whose columns line up in a terminal too.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            println!("| {} |", padded.join(" | "));
        };
        line(&self.header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        println!("|-{}-|", rule.join("-|-"));
        for row in &self.rows {
            line(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let summary = Summary::of(&samples).expect("samples");
        assert_eq!(summary.p50, Duration::from_millis(50));
        assert_eq!(summary.p95, Duration::from_millis(95));
        assert_eq!(summary.p99, Duration::from_millis(99));
        assert_eq!(summary.max, Duration::from_millis(100));
        assert_eq!(summary.mean, Duration::from_micros(50_500));
        assert_eq!(Summary::of(&[]), None);
    }
}
