//! The ceilings the node's figures are set beside, measured in the same run:
//! OpenSSL's RSA-2048 sign and verify rates (`openssl speed`, one process per
//! core) and the database's batched insert rate.

use crate::support::BenchDb;
use anyhow::{Context, Result, bail};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use std::time::{Duration, Instant};

/// RSA-2048 operations per second, summed over the processes that ran at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RsaRates {
    pub sign: f64,
    pub verify: f64,
    pub processes: usize,
}

impl RsaRates {
    pub fn sign_per_core(&self) -> f64 {
        self.sign / self.processes.max(1) as f64
    }
}

/// Run `openssl speed -seconds <seconds> rsa2048` in `processes` processes
/// at once and add up their rates. `Ok(None)` when `openssl` is missing.
pub async fn openssl_rsa2048(processes: usize, seconds: u32) -> Result<Option<RsaRates>> {
    let mut children = Vec::new();
    for _ in 0..processes.max(1) {
        let spawned = tokio::process::Command::new("openssl")
            .args(["speed", "-seconds", &seconds.to_string(), "rsa2048"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        match spawned {
            Ok(child) => children.push(child),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).context("running openssl speed"),
        }
    }
    let mut total = RsaRates {
        sign: 0.0,
        verify: 0.0,
        processes: children.len(),
    };
    for child in children {
        let output = child.wait_with_output().await?;
        if !output.status.success() {
            bail!("openssl speed failed ({})", output.status);
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let (sign, verify) = parse_openssl_speed(&text)
            .with_context(|| format!("no rsa 2048 line in the output of openssl speed:\n{text}"))?;
        total.sign += sign;
        total.verify += verify;
    }
    Ok(Some(total))
}

/// Signs and verifies per second from `openssl speed rsa2048` output. The
/// table's header names the columns (`sign verify sign/s verify/s`, with
/// `encrypt decrypt encr./s decr./s` too since OpenSSL 3.2), so the rates
/// are found by name, not by position.
pub fn parse_openssl_speed(output: &str) -> Option<(f64, f64)> {
    let mut columns: Option<Vec<&str>> = None;
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.contains(&"sign/s") && words.contains(&"verify/s") {
            columns = Some(words);
            continue;
        }
        let Some(names) = &columns else { continue };
        // "rsa 2048 bits 0.000686s 0.000020s 1457.6 49130.0"
        let rest = match words.as_slice() {
            ["rsa", "2048", "bits", rest @ ..] => rest,
            _ => continue,
        };
        if rest.len() != names.len() {
            continue;
        }
        let value = |name: &str| {
            let at = names.iter().position(|n| *n == name)?;
            rest.get(at)?.trim_end_matches('s').parse::<f64>().ok()
        };
        return Some((value("sign/s")?, value("verify/s")?));
    }
    None
}

/// Rows like the inbox's, inserted in batches of `batch` rows, one statement
/// and one transaction per batch, into a scratch table of the same shape.
#[derive(Debug, Clone, Copy)]
pub struct InsertRate {
    pub rows: usize,
    pub batch: usize,
    pub elapsed: Duration,
}

impl InsertRate {
    pub fn per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

pub async fn batched_inserts(bench: &BenchDb, rows: usize, batch: usize, body: &str) -> Result<InsertRate> {
    let db = &bench.db;
    let backend = db.get_database_backend();
    let id = match backend {
        DbBackend::Postgres => "BIGSERIAL PRIMARY KEY",
        _ => "INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    db.execute_unprepared("DROP TABLE IF EXISTS bench_insert_ceiling")
        .await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE bench_insert_ceiling (id {id}, ap_id TEXT NOT NULL UNIQUE, actor_ap_id TEXT NOT NULL, \
         kind TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, received_at TEXT NOT NULL)"
    ))
    .await?;
    let batch = batch.max(1);
    let started = Instant::now();
    let mut done = 0;
    while done < rows {
        let n = batch.min(rows - done);
        let mut sql = String::from(
            "INSERT INTO bench_insert_ceiling (ap_id, actor_ap_id, kind, body, state, received_at) VALUES ",
        );
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(n * 6);
        for i in 0..n {
            let at = i * 6;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&match backend {
                DbBackend::Postgres => format!(
                    "(${},${},${},${},${},${})",
                    at + 1,
                    at + 2,
                    at + 3,
                    at + 4,
                    at + 5,
                    at + 6
                ),
                _ => "(?,?,?,?,?,?)".to_owned(),
            });
            let row = done + i;
            values.push(format!("https://s{}.test/activities/{row}", row % 16).into());
            values.push(format!("https://s{}.test/u/member", row % 16).into());
            values.push("Create{Note}".into());
            values.push(body.into());
            values.push("pending".into());
            values.push(chrono::Utc::now().to_rfc3339().into());
        }
        let txn = db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        txn.commit().await?;
        done += n;
    }
    let elapsed = started.elapsed();
    db.execute_unprepared("DROP TABLE bench_insert_ceiling").await?;
    Ok(InsertRate { rows, batch, elapsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENSSL_3_0: &str = "Doing 2048 bits private rsa's for 3s: 4335 2048 bits private RSA's in 2.99s
Doing 2048 bits public rsa's for 3s: 146851 2048 bits public RSA's in 3.00s
version: 3.0.19
built on: Tue Jan 27 00:00:00 2026 UTC
options: bn(64,64)
CPUbrand: AMD EPYC
                  sign    verify    sign/s verify/s
rsa 2048 bits 0.000690s 0.000020s   1449.8  48950.3
";

    const OPENSSL_3_5: &str = "version: 3.5.0
                   sign    verify    encrypt    decrypt   sign/s verify/s  encr./s  decr./s
rsa  2048 bits 0.000512s 0.000015s 0.000016s 0.000510s   1952.1  66410.2  63012.9   1960.8
";

    #[test]
    fn openssl_speed_output_is_parsed_by_column_name() {
        assert_eq!(parse_openssl_speed(OPENSSL_3_0), Some((1449.8, 48950.3)));
        assert_eq!(parse_openssl_speed(OPENSSL_3_5), Some((1952.1, 66410.2)));
        assert_eq!(
            parse_openssl_speed("rsa 2048 bits 0.1s 0.2s 10.0 5.0"),
            None,
            "no header"
        );
        assert_eq!(parse_openssl_speed(""), None);
        let other_size = OPENSSL_3_0.replace("rsa 2048 bits", "rsa 4096 bits");
        assert_eq!(parse_openssl_speed(&other_size), None);
    }

    #[test]
    fn per_core_rates_divide_by_the_processes() {
        let rates = RsaRates {
            sign: 3000.0,
            verify: 90_000.0,
            processes: 2,
        };
        assert_eq!(rates.sign_per_core(), 1500.0);
    }
}
