//! The test rig: real nodes as separate processes, each with its own host
//! name (resolved to its own loopback address through the nodes' dev
//! resolver), data directory and database; and a Mastodon-shaped peer.

pub mod mastodon;
pub mod third_party;

use std::{
    net::{IpAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Host names of the rig and the loopback address each one lives on
/// (`fedify.test` and `pasture.test` for the third-party tools).
pub const HOSTS: [(&str, &str); 6] = [
    ("alpha.test", "127.0.0.2"),
    ("beta.test", "127.0.0.3"),
    ("gamma.test", "127.0.0.4"),
    ("mastodon.test", "127.0.0.5"),
    ("fedify.test", "127.0.0.6"),
    ("pasture.test", "127.0.0.7"),
];

pub fn ip_of(name: &str) -> IpAddr {
    HOSTS
        .iter()
        .find(|(host, _)| *host == name)
        .and_then(|(_, ip)| ip.parse().ok())
        .unwrap_or_else(|| panic!("{name} is not a rig host"))
}

/// A free port on `ip` (bound once and released).
pub fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `name=ip` for every rig host, as `HEALTHCOMMONS_DEV_RESOLVE` takes it.
pub fn dev_resolve() -> String {
    HOSTS
        .iter()
        .map(|(name, ip)| format!("{name}={ip}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// An HTTP client for the test itself that knows the rig's host names.
pub fn client() -> reqwest::Client {
    client_with_timeout(Duration::from_secs(20))
}

/// [`client`] with another timeout per request.
pub fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    for (name, ip) in HOSTS {
        builder = builder.resolve(name, (ip.parse::<IpAddr>().expect("ip"), 0).into());
    }
    builder.build().expect("client")
}

/// `method path` on `node` as the holder of `token` (nobody when empty):
/// the status and the body as text.
pub async fn call(
    node: &Node,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let mut request = client().request(method, format!("{}{path}", node.base));
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The same, with the body read as JSON (`null` when it is not).
pub async fn api(
    node: &Node,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let (status, text) = call(node, token, method, path, body).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// POST as the holder of `token`, expecting 201: what was made.
pub async fn create(node: &Node, token: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, made) = api(node, token, reqwest::Method::POST, path, Some(body)).await;
    assert_eq!(status, 201, "POST {path}: {made}");
    made
}

/// An id as one path segment (`/api/v1/posts/{encoded(id)}`).
pub fn encoded(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// Poll `check` until it returns `Some`, or panic with `what` after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One node process.
pub struct Node {
    binary: &'static str,
    pub name: &'static str,
    pub domain: String,
    pub base: String,
    data_dir: PathBuf,
    /// Where this process writes its log (one file per process).
    log_file: PathBuf,
    port: u16,
    extra_env: Vec<(String, String)>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Node {
    /// Start the node binary (a test passes `env!("CARGO_BIN_EXE_healthcommons-node")`)
    /// as `name` (e.g. `alpha.test`) with its own data directory.
    pub async fn start(binary: &'static str, name: &'static str, extra_env: &[(&str, &str)]) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port(ip_of(name));
        let mut node = Node {
            binary,
            name,
            domain: format!("{name}:{port}"),
            base: format!("http://{name}:{port}"),
            data_dir: dir.path().to_path_buf(),
            log_file: dir.path().join("node.log"),
            port,
            extra_env: extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            _dir: Some(dir),
        };
        node.spawn().await;
        node
    }

    /// A second `serve` process of the same node: same domain, data and
    /// settings (so the same database), listening on a port of its own.
    /// Start it once the first has migrated the database.
    pub async fn another_process(&self) -> Node {
        let port = free_port(ip_of(self.name));
        let mut node = Node {
            binary: self.binary,
            name: self.name,
            domain: self.domain.clone(),
            base: format!("http://{}:{port}", self.name),
            data_dir: self.data_dir.clone(),
            log_file: self.data_dir.join(format!("node-{port}.log")),
            port,
            extra_env: self.extra_env.clone(),
            child: None,
            _dir: None,
        };
        node.spawn().await;
        node
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.binary);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HEALTHCOMMONS_DOMAIN", &self.domain)
            .env(
                "HEALTHCOMMONS_BIND",
                format!("{}:{}", ip_of(self.name), self.port),
            )
            .env("HEALTHCOMMONS_DATA_DIR", &self.data_dir)
            .env("HEALTHCOMMONS_DEV_FEDERATION", "true")
            .env("HEALTHCOMMONS_DEV_RESOLVE", dev_resolve())
            .env("HEALTHCOMMONS_LOG", "warn,healthcommons_federation=info")
            .stdin(Stdio::null());
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    /// Start (or restart) the process and wait until it is ready.
    pub async fn spawn(&mut self) {
        let log = std::fs::File::create(&self.log_file).expect("log file");
        let err = log.try_clone().expect("log file");
        let child = self
            .command(&["serve"])
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("start the node binary");
        self.child = Some(child);
        let client = client();
        let url = format!("{}/readyz", self.base);
        let name = self.name;
        wait_for(&format!("{name} to be ready"), Duration::from_secs(60), || {
            let client = client.clone();
            let url = url.clone();
            async move {
                let response = client.get(&url).send().await.ok()?;
                response.status().is_success().then_some(())
            }
        })
        .await;
    }

    /// Run a one-off command (`admin …`) against this node's data.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("run the node binary");
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Stop gracefully (SIGTERM) and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// A connection to this node's own SQLite database, for assertions.
    pub async fn database(&self) -> healthcommons_db::Db {
        let url = format!(
            "sqlite://{}?mode=rw",
            self.data_dir.join("healthcommons.sqlite").display()
        );
        healthcommons_db::open(&url)
            .await
            .expect("open the node's database")
    }

    /// Register `username` through the API and return a bearer token.
    pub async fn user(&self, username: &str) -> String {
        let client = client();
        let created = client
            .post(format!("{}/api/v1/accounts", self.base))
            .json(&serde_json::json!({"username": username, "password": "correct horse battery"}))
            .send()
            .await
            .expect("register");
        assert_eq!(
            created.status(),
            201,
            "register {username}: {}",
            created.text().await.unwrap_or_default()
        );
        let token: serde_json::Value = client
            .post(format!("{}/api/v1/auth/token", self.base))
            .json(&serde_json::json!({"username": username, "password": "correct horse battery"}))
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        token["token"].as_str().expect("token").to_owned()
    }

    /// A bearer token of `root`, an administrator made with the admin command.
    pub async fn admin_token(&self) -> String {
        self.run(&[
            "admin",
            "create-user",
            "root",
            "--password",
            "long enough",
            "--admin",
        ]);
        let body: serde_json::Value = client()
            .post(format!("{}/api/v1/auth/token", self.base))
            .json(&serde_json::json!({"username": "root", "password": "long enough"}))
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Create the working group `name` as the holder of `token`; its actor id.
    pub async fn create_group(&self, token: &str, name: &str) -> String {
        let response = client()
            .post(format!("{}/api/v1/groups", self.base))
            .bearer_auth(token)
            .json(&serde_json::json!({
                "name": name, "display_name": "Walking for health", "summary": "We **walk** together.",
            }))
            .send()
            .await
            .expect("create group");
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.expect("json");
        body["actor_id"].as_str().expect("actor id").to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}
