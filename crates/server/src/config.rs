//! Configuration in layers: built-in defaults, then `healthcommons.toml`
//! (if present), then `HEALTHCOMMONS_*` environment variables, one per key.
//!
//! Why the merge is not `figment` (issue 22 looked at figment 0.10.19): its
//! `Env` provider reads the process environment (`std::env::vars_os`), where
//! `load` takes the environment as a map (the CLI passes it; the tests below
//! pass their own), and it reads only `true`/`false` as booleans, where
//! docs/admin.md promises `1`/`0`, `yes`/`no` and `on`/`off` too. Keeping
//! those, the error that names an unknown `HEALTHCOMMONS_*` variable and the
//! rule that a named file must exist would leave figment only the one line
//! that lays the file and the environment over the defaults.

use healthcommons_federation::{context::Limits, rate_limit::RateLimit};
use healthcommons_service::directory::CrawlPolicy;
use serde::{Deserialize, Serialize};
use std::{collections::HashMap, net::IpAddr, path::PathBuf, sync::Arc, time::Duration};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Public host[:port] used in every id.
    pub domain: String,
    /// Listen address.
    pub bind: String,
    /// Where the SQLite file lives (and, with SQLite, the actors' keys).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Plain-http ids and loopback peers, for tests and local trials only.
    pub dev_federation: bool,
    /// With dev federation: `name=ip` pairs resolved without DNS.
    pub dev_resolve: String,
    /// Where Prometheus metrics are served (e.g. `127.0.0.1:9464`); off if empty.
    pub metrics_bind: String,
    /// Log filter, e.g. `info` or `healthcommons=debug`.
    pub log: String,
    /// First retry delay of a failed delivery, in seconds (then doubling).
    pub delivery_retry_base_secs: u64,
    /// How long a failing delivery is retried, in hours.
    pub delivery_retry_hours: u64,
    /// How long a worker owns a claimed delivery, in seconds.
    pub delivery_claim_lease_secs: u64,
    /// Deliveries in flight at once.
    pub delivery_concurrency: usize,
    /// Map tiles, `{z}/{x}/{y}` filled in by the browser.
    pub map_tiles: String,
    /// The credit the tile provider asks for, shown on every map.
    pub map_attribution: String,
    /// Seconds between two rounds of the directory crawler; a failing node
    /// is retried after one round, then after twice as long, and so on.
    pub directory_crawl_interval_secs: u64,
    /// How long a fetched profile (and peer list) is kept before it is
    /// fetched again, in seconds.
    pub directory_refresh_secs: u64,
    /// How many hops away the directory reaches: 1 is the nodes this node
    /// dealt with, 2 their peers, and so on.
    pub directory_max_hops: u32,
    /// Require a signature on every ActivityPub GET (Mastodon's secure mode).
    pub authorized_fetch: bool,
    /// Activities one remote host may deliver per minute; 0 is no limit.
    pub inbox_rate_limit_per_minute: u64,
    /// Sign-ins and registrations one client address may attempt per minute; 0 is no limit.
    pub auth_rate_limit_per_minute: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed (comma-separated IPs).
    pub trusted_proxies: String,
    /// The SMTP server that sends the node's email; empty: no email at all.
    pub smtp_host: String,
    /// Its port; 0 picks the usual one for `smtp_tls` (25, 587 or 465).
    pub smtp_port: u16,
    /// How the connection is protected: `starttls`, `tls` or `none` (loopback only).
    pub smtp_tls: SmtpTls,
    /// The SMTP login, if the server asks for one.
    pub smtp_username: String,
    pub smtp_password: String,
    /// The sender, e.g. `Health Commons <hello@health.example>`; empty: `noreply@` the domain.
    pub smtp_from: String,
    /// First retry delay of an email the server did not take, in seconds (then doubling).
    pub mail_retry_base_secs: u64,
    /// How long an email is retried before it is given up, in hours.
    pub mail_retry_hours: u64,
    /// How long the mail worker owns the emails it claimed, in seconds; a
    /// worker that dies leaves them to be sent once this has passed.
    pub mail_claim_lease_secs: u64,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a server on the same machine or in tests.
    None,
}

impl SmtpTls {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: "localhost:8080".into(),
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            dev_federation: false,
            dev_resolve: String::new(),
            metrics_bind: String::new(),
            log: "info".into(),
            delivery_retry_base_secs: 30,
            delivery_retry_hours: 7 * 24,
            delivery_claim_lease_secs: 120,
            delivery_concurrency: 32,
            map_tiles: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into(),
            map_attribution: "© OpenStreetMap contributors".into(),
            directory_crawl_interval_secs: 300,
            directory_refresh_secs: 6 * 3600,
            directory_max_hops: 3,
            authorized_fetch: false,
            inbox_rate_limit_per_minute: healthcommons_federation::context::DEFAULT_INBOX_PER_MINUTE.into(),
            auth_rate_limit_per_minute: healthcommons_federation::context::DEFAULT_AUTH_PER_MINUTE.into(),
            trusted_proxies: String::new(),
            smtp_host: String::new(),
            smtp_port: 0,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_from: String::new(),
            mail_retry_base_secs: 30,
            mail_retry_hours: 72,
            mail_claim_lease_secs: 180,
        }
    }
}

pub const ENV_PREFIX: &str = "HEALTHCOMMONS_";
/// Names the configuration file; not itself a configuration key.
pub const CONFIG_FILE_VAR: &str = "HEALTHCOMMONS_CONFIG";

impl Config {
    /// Merge defaults, the file (explicit path, `$HEALTHCOMMONS_CONFIG`, or
    /// `./healthcommons.toml` if it exists) and the environment.
    pub fn load(explicit_file: Option<PathBuf>, env: &HashMap<String, String>) -> anyhow::Result<Config> {
        let mut merged = toml::Value::try_from(Config::default())?;
        let file = explicit_file
            .or_else(|| env.get(CONFIG_FILE_VAR).map(PathBuf::from))
            .or_else(|| {
                let default = PathBuf::from("healthcommons.toml");
                default.exists().then_some(default)
            });
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let from_file: toml::Table =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if let toml::Value::Table(base) = &mut merged {
                base.extend(from_file);
            }
        }
        if let toml::Value::Table(base) = &mut merged {
            for (name, value) in env {
                let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                    continue;
                };
                if name == CONFIG_FILE_VAR || key.starts_with("TEST_") {
                    continue;
                }
                let key = key.to_ascii_lowercase();
                let Some(default) = base.get(&key).cloned().or_else(|| {
                    // Optional keys have no default value to copy the type from.
                    (key == "database_url").then(|| toml::Value::String(String::new()))
                }) else {
                    anyhow::bail!("{name} is not a configuration setting");
                };
                base.insert(key, env_value(name, value, &default)?);
            }
        }
        let config: Config = merged.try_into()?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.domain.is_empty() || self.domain.contains('/') {
            anyhow::bail!("domain must be a host[:port], like health.example.org");
        }
        if !self.dev_federation && !self.dev_resolve.is_empty() {
            anyhow::bail!("dev_resolve needs dev_federation = true");
        }
        self.dev_resolve_map()?;
        self.trusted_proxy_list()?;
        self.smtp_sender()?;
        Ok(())
    }

    /// Whether the node sends email at all.
    pub fn email_enabled(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }

    /// The `From` of every email.
    pub fn smtp_sender(&self) -> anyhow::Result<lettre::message::Mailbox> {
        let from = if self.smtp_from.trim().is_empty() {
            let host = self.domain.split(':').next().unwrap_or(&self.domain);
            format!("Health Commons <noreply@{host}>")
        } else {
            self.smtp_from.trim().to_owned()
        };
        from.parse()
            .map_err(|e| anyhow::anyhow!("smtp_from {from:?} is not an email address: {e}"))
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("healthcommons.sqlite").display()
            ),
        }
    }

    pub fn dev_resolve_map(&self) -> anyhow::Result<HashMap<String, IpAddr>> {
        let mut map = HashMap::new();
        for pair in self
            .dev_resolve
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (name, ip) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("dev_resolve entry {pair:?} is not name=ip"))?;
            let ip: IpAddr = ip
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("dev_resolve entry {pair:?} has no valid IP"))?;
            map.insert(name.trim().to_ascii_lowercase(), ip);
        }
        Ok(map)
    }

    pub fn federation_settings(&self) -> anyhow::Result<healthcommons_federation::FederationSettings> {
        Ok(healthcommons_federation::FederationSettings {
            dev_federation: self.dev_federation,
            dev_resolve: self.dev_resolve_map()?,
            retry_base: Duration::from_secs(self.delivery_retry_base_secs.max(1)),
            retry_for: Duration::from_secs(self.delivery_retry_hours * 3600),
            claim_lease: Duration::from_secs(self.delivery_claim_lease_secs.max(1)),
            delivery_concurrency: self.delivery_concurrency.max(1),
            directory_interval: Duration::from_secs(self.directory_crawl_interval_secs.max(1)),
            directory_policy: CrawlPolicy {
                max_hops: self.directory_max_hops.clamp(1, 10) as i32,
                refresh: chrono::Duration::seconds(self.directory_refresh_secs.clamp(1, 365 * 86_400) as i64),
                retry_base: chrono::Duration::seconds(
                    self.directory_crawl_interval_secs.clamp(1, 86_400) as i64
                ),
                ..Default::default()
            },
            authorized_fetch: self.authorized_fetch,
            limits: Arc::new(Limits::new(
                RateLimit::per_minute(per_minute(self.inbox_rate_limit_per_minute)),
                RateLimit::per_minute(per_minute(self.auth_rate_limit_per_minute)),
            )),
            ..Default::default()
        })
    }

    /// The reverse proxies named in `trusted_proxies`.
    pub fn trusted_proxy_list(&self) -> anyhow::Result<Vec<IpAddr>> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse()
                    .map_err(|_| anyhow::anyhow!("trusted_proxies entry {p:?} is not an IP address"))
            })
            .collect()
    }

    /// The configuration as TOML with secrets (database passwords) hidden.
    pub fn redacted(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(redact_url(&self.database_url()));
        if !shown.smtp_password.is_empty() {
            shown.smtp_password = "********".into();
        }
        toml::to_string_pretty(&shown).unwrap_or_default()
    }
}

fn per_minute(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn env_value(name: &str, raw: &str, default: &toml::Value) -> anyhow::Result<toml::Value> {
    Ok(match default {
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" | "" => false,
            _ => anyhow::bail!("{name} must be true or false"),
        }),
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{name} must be a whole number"))?,
        ),
        _ => toml::Value::String(raw.to_owned()),
    })
}

fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("********"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_file_and_no_environment() {
        let config = Config::load(None, &env(&[])).expect("defaults load");
        assert_eq!(config.domain, "localhost:8080");
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert!(!config.dev_federation);
        assert!(
            config
                .database_url()
                .starts_with("sqlite://./data/healthcommons.sqlite")
        );
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("hc.toml");
        std::fs::write(&file, "domain = \"file.example\"\nbind = \"127.0.0.1:9000\"\n").expect("write");
        let config = Config::load(
            Some(file),
            &env(&[
                ("HEALTHCOMMONS_DOMAIN", "env.example"),
                ("HEALTHCOMMONS_DEV_FEDERATION", "true"),
                (
                    "HEALTHCOMMONS_DEV_RESOLVE",
                    "alpha.test=127.0.0.2, beta.test=127.0.0.3",
                ),
                ("HEALTHCOMMONS_DATABASE_URL", "postgres://hc:secret@localhost/hc"),
                ("HEALTHCOMMONS_DELIVERY_RETRY_BASE_SECS", "2"),
                ("HEALTHCOMMONS_SMTP_HOST", "smtp.example"),
                ("HEALTHCOMMONS_SMTP_TLS", "tls"),
                ("HEALTHCOMMONS_SMTP_PASSWORD", "mail-secret"),
            ]),
        )
        .expect("loads");
        assert_eq!(config.domain, "env.example");
        assert_eq!(config.bind, "127.0.0.1:9000");
        assert!(config.dev_federation);
        assert_eq!(config.delivery_retry_base_secs, 2);
        let map = config.dev_resolve_map().expect("map");
        assert_eq!(map.get("beta.test"), Some(&"127.0.0.3".parse().expect("ip")));
        assert!(config.email_enabled());
        assert_eq!(config.smtp_tls, SmtpTls::Tls);
        assert_eq!(config.smtp_tls.default_port(), 465);
        let shown = config.redacted();
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn bad_settings_are_named() {
        let err =
            Config::load(None, &env(&[("HEALTHCOMMONS_DEV_FEDERATION", "maybe")])).expect_err("bad bool");
        assert!(err.to_string().contains("HEALTHCOMMONS_DEV_FEDERATION"));
        let err = Config::load(None, &env(&[("HEALTHCOMMONS_NO_SUCH_KEY", "1")])).expect_err("unknown");
        assert!(err.to_string().contains("HEALTHCOMMONS_NO_SUCH_KEY"));
        let err =
            Config::load(None, &env(&[("HEALTHCOMMONS_DEV_RESOLVE", "a.test=127.0.0.2")])).expect_err("dev");
        assert!(err.to_string().contains("dev_federation"));
        let err = Config::load(None, &env(&[("HEALTHCOMMONS_SMTP_TLS", "maybe")])).expect_err("tls mode");
        assert!(err.to_string().contains("maybe"), "{err}");
        let err =
            Config::load(None, &env(&[("HEALTHCOMMONS_SMTP_FROM", "not an address")])).expect_err("from");
        assert!(err.to_string().contains("smtp_from"), "{err}");
    }

    #[test]
    fn email_is_off_until_an_smtp_server_is_named() {
        let config = Config::load(None, &env(&[])).expect("defaults load");
        assert!(!config.email_enabled());
        assert_eq!(
            config.smtp_sender().expect("a sender").email.to_string(),
            "noreply@localhost"
        );
    }
}
