//! A real node under test: the `healthcommons serve` code in a child process
//! (this binary started again with [`NODE_ENV`] set), so its memory is its
//! own, and an HTTP client that reaches it and the loopback peers by name.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::{
    net::{IpAddr, Ipv4Addr, TcpListener},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Set in the child's environment: run the node instead of a benchmark (not
/// `HEALTHCOMMONS_…`, which the node reads as configuration).
pub const NODE_ENV: &str = "HC_BENCH_RUN_NODE";
/// Everything listens on this address; host names are mapped to it.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PASSWORD: &str = "correct horse battery staple";

/// A free port on loopback (bound once and released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((LOOPBACK, 0))?.local_addr()?.port())
}

/// The running node process; killed when dropped.
pub struct NodeProcess {
    child: Child,
    /// `bench.test:PORT`
    pub domain: String,
    /// `http://bench.test:PORT`
    pub base: String,
}

impl NodeProcess {
    /// Start a node on `database_url` whose HTTP client resolves each of
    /// `peers` (host names) to loopback, and wait until it is ready.
    pub async fn start(data_dir: &Path, database_url: &str, peers: &[String]) -> Result<NodeProcess> {
        let port = free_port()?;
        let domain = format!("bench.test:{port}");
        let resolve: Vec<String> = std::iter::once("bench.test".to_owned())
            .chain(peers.iter().cloned())
            .map(|host| format!("{host}={LOOPBACK}"))
            .collect();
        let log = std::fs::File::create(data_dir.join("node.log")).context("node log")?;
        let child = Command::new(std::env::current_exe().context("this benchmark's path")?)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(NODE_ENV, "1")
            .env("HEALTHCOMMONS_DOMAIN", &domain)
            .env("HEALTHCOMMONS_BIND", format!("{LOOPBACK}:{port}"))
            .env("HEALTHCOMMONS_DATA_DIR", data_dir)
            .env("HEALTHCOMMONS_DATABASE_URL", database_url)
            .env("HEALTHCOMMONS_DEV_FEDERATION", "true")
            .env("HEALTHCOMMONS_DEV_RESOLVE", resolve.join(","))
            .env("HEALTHCOMMONS_LOG", "warn")
            .env("HEALTHCOMMONS_DIRECTORY_CRAWL_INTERVAL_SECS", "86400")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting the node")?;
        let mut node = NodeProcess {
            child,
            base: format!("http://{domain}"),
            domain,
        };
        let client = client(&[])?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", node.base)).send().await
                && response.status().is_success()
            {
                return Ok(node);
            }
            if let Some(status) = node.child.try_wait()? {
                bail!(
                    "the node exited ({status}): {}",
                    std::fs::read_to_string(data_dir.join("node.log")).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                node.stop();
                bail!("the node was not ready within a minute");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node's peak and current resident memory, in KiB.
    pub fn memory(&self) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        Memory::parse(&status)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Register `username`, returning a bearer token.
    pub async fn user(&self, client: &reqwest::Client, username: &str) -> Result<String> {
        let created = client
            .post(format!("{}/api/v1/accounts", self.base))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await?;
        if created.status() != 201 {
            bail!("registering {username}: {}", created.text().await?);
        }
        let token: Value = client
            .post(format!("{}/api/v1/auth/token", self.base))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        Ok(token["token"].as_str().context("no token")?.to_owned())
    }

    /// Sign `username` in through the login form; the `Cookie` header that
    /// carries the session (and the CSRF cookie the form was checked against).
    pub async fn session(&self, client: &reqwest::Client, username: &str) -> Result<String> {
        let csrf = "bench-csrf";
        let response = client
            .post(format!("{}/login", self.base))
            .header("cookie", format!("hc_csrf={csrf}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={csrf}&username={username}&password={}",
                PASSWORD.replace(' ', "+")
            ))
            .send()
            .await?;
        let session = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("hc_session="))
            .and_then(|c| c.split(';').next())
            .with_context(|| format!("signing {username} in answered {}", response.status()))?
            .to_owned();
        Ok(format!("hc_csrf={csrf}; {session}"))
    }

    /// POST JSON to the API as the holder of `token`; the answer's JSON.
    pub async fn post(
        &self,
        client: &reqwest::Client,
        token: &str,
        path: &str,
        body: Value,
    ) -> Result<Value> {
        let response = client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resident memory from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmHWM`: the peak so far.
    pub peak_kib: u64,
    /// `VmRSS`: now.
    pub current_kib: u64,
}

impl Memory {
    pub fn parse(status: &str) -> Option<Memory> {
        let field = |name: &str| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(':')?;
                rest.split_whitespace().next()?.parse::<u64>().ok()
            })
        };
        Some(Memory {
            peak_kib: field("VmHWM")?,
            current_kib: field("VmRSS")?,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "peak {:.1} MiB (VmHWM), now {:.1} MiB",
            self.peak_kib as f64 / 1024.0,
            self.current_kib as f64 / 1024.0
        )
    }
}

/// A client for the benchmark itself that resolves the node and `peers` to loopback.
pub fn client(peers: &[String]) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .resolve("bench.test", (LOOPBACK, 0).into());
    for host in peers {
        builder = builder.resolve(host, (LOOPBACK, 0).into());
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_read_from_proc_status() {
        let status = "Name:\thealthcommons\nVmPeak:\t  900000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\n";
        assert_eq!(
            Memory::parse(status),
            Some(Memory {
                peak_kib: 81_234,
                current_kib: 70_000
            })
        );
        assert_eq!(Memory::parse("Name:\tx\n"), None);
        let own = std::fs::read_to_string("/proc/self/status").map(|s| Memory::parse(&s));
        if let Ok(own) = own {
            assert!(own.is_some_and(|m| m.peak_kib >= m.current_kib));
        }
    }
}
