// Shared by several test binaries; each uses only part of it.
#![allow(dead_code)]

//! A node process for the server's own tests, on 127.0.0.1 with a fresh
//! data directory.

pub mod mail;

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub const BINARY: &str = env!("CARGO_BIN_EXE_healthcommons");

pub struct TestNode {
    pub base: String,
    pub domain: String,
    pub dir: tempfile::TempDir,
    /// The extra environment it was started with, which admin commands get too.
    env: Vec<(String, String)>,
    child: Child,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn command(domain: &str, port: u16, dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HEALTHCOMMONS_DOMAIN", domain)
        .env("HEALTHCOMMONS_BIND", format!("127.0.0.1:{port}"))
        .env("HEALTHCOMMONS_DATA_DIR", dir)
        .env("HEALTHCOMMONS_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// `healthcommons serve`, its output in `node.log` (started anew each time).
fn spawn_serve(domain: &str, port: u16, dir: &std::path::Path, env: &[(String, String)]) -> Child {
    let log = std::fs::File::create(dir.join("node.log")).expect("log");
    command(domain, port, dir, &["serve"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn")
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

impl TestNode {
    /// A local-trial node: domain `localhost:PORT`, as README's first command runs it.
    pub async fn start() -> TestNode {
        Self::start_with(&[]).await
    }

    /// The same, with extra environment variables.
    pub async fn start_with(env: &[(&str, &str)]) -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let domain = format!("localhost:{port}");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = spawn_serve(&domain, port, dir.path(), &env);
        let node = TestNode {
            base: format!("http://127.0.0.1:{port}"),
            domain,
            dir,
            env,
            child,
        };
        node.until_ready().await;
        node
    }

    /// Stop the process (as a crash would: SIGKILL) and start it again on
    /// the same port and data directory.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_serve(&self.domain, self.port(), self.dir.path(), &self.env);
        self.until_ready().await;
    }

    async fn until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client().get(format!("{}/readyz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node did not become ready: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    /// The database the node runs on (its own SQLite file unless told otherwise).
    pub fn database_url(&self) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == "HEALTHCOMMONS_DATABASE_URL")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}?mode=rw",
                    self.dir.path().join("healthcommons.sqlite").display()
                )
            })
    }

    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// Run an admin command against this node's data directory.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        command(&self.domain, self.port(), self.dir.path(), args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run")
    }

    /// Register `username` through the API, as a new member would.
    pub async fn register(&self, username: &str, password: &str) {
        let registered = client()
            .post(format!("{}/api/v1/accounts", self.base))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("register");
        assert_eq!(registered.status(), 201, "register {username}");
    }

    pub async fn token(&self, username: &str, password: &str) -> String {
        let response = client()
            .post(format!("{}/api/v1/auth/token", self.base))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("token");
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sign in through the login form; the cookie header a page request sends.
pub async fn session_cookie(node: &TestNode, username: &str, password: &str) -> String {
    let response = client()
        .post(format!("{}/login", node.base))
        .header("cookie", "hc_csrf=test-token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf=test-token&username={username}&password={}",
            password.replace(' ', "+")
        ))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303, "{username} signed in");
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("hc_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    format!("hc_csrf=test-token; {session}")
}
