//! A real SMTP server for the email tests: aiosmtpd, run by
//! `tests/smtp_sink.py` on a loopback port, writing each message it accepts
//! to a directory as JSON that the tests read.
//!
//! CI (`.ci/run`) installs aiosmtpd and sets HEALTHCOMMONS_TEST_AIOSMTPD to a
//! Python that imports it. Without that variable, Debian's /usr/bin/python3
//! is used if it has the module; otherwise the tests say they did not run.

use super::free_port;
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");

/// The Python to run aiosmtpd with, if there is one.
pub fn aiosmtpd_python() -> Option<String> {
    if let Ok(python) = std::env::var("HEALTHCOMMONS_TEST_AIOSMTPD") {
        return Some(python);
    }
    let debian = "/usr/bin/python3";
    Command::new(debian)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        .then(|| debian.to_owned())
}

/// One received email, as `smtp_sink.py` parsed it.
#[derive(Debug, Clone)]
pub struct Received(pub Value);

impl Received {
    pub fn recipients(&self) -> Vec<String> {
        self.0["rcpt_tos"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.0["headers"].as_array().and_then(|headers| {
            headers.iter().find_map(|pair| {
                (pair[0].as_str()?.eq_ignore_ascii_case(name)).then(|| pair[1].as_str().map(str::to_owned))?
            })
        })
    }
    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }
    pub fn text(&self) -> String {
        self.0["text"].as_str().unwrap_or_default().to_owned()
    }
    pub fn html(&self) -> String {
        self.0["html"].as_str().unwrap_or_default().to_owned()
    }
    pub fn attachments(&self) -> Vec<Value> {
        self.0["attachments"].as_array().cloned().unwrap_or_default()
    }
    /// The path of the first link in the text part that contains `marker`
    /// (links name the node's public address; tests call its listen address).
    pub fn link_path(&self, marker: &str) -> String {
        let text = self.text();
        let at = text
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} link in {text}"));
        text[at..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

/// aiosmtpd on a fixed loopback port, which can be stopped and started again.
pub struct MailSink {
    python: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    rejected: Vec<String>,
    child: Option<Child>,
}

impl MailSink {
    /// Start on a free port; mail to a `rejected` address gets a 550.
    pub fn start(python: &str, rejected: &[&str]) -> MailSink {
        let mut sink = MailSink {
            python: python.to_owned(),
            port: free_port(),
            dir: tempfile::tempdir().expect("mail dir"),
            rejected: rejected.iter().map(|r| (*r).to_owned()).collect(),
            child: None,
        };
        sink.resume();
        sink
    }

    /// Start again on the same port, keeping what arrived.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "the mail server is already running");
        let mut command = Command::new(&self.python);
        command
            .arg(SCRIPT)
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path());
        for address in &self.rejected {
            command.args(["--reject", address]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("aiosmtpd starts");
        let stdout = child.stdout.take().expect("its output");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("aiosmtpd says it is ready");
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
        self.child = Some(child);
    }

    /// Stop the server: connections to its port are refused until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("mail dir")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .filter_map(|text| serde_json::from_str(&text).ok())
            .map(Received)
            .collect()
    }

    /// The messages to `to` whose subject contains `subject`.
    pub fn to(&self, to: &str, subject: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.recipients().iter().any(|r| r == to) && m.subject().contains(subject))
            .collect()
    }

    /// Wait until `count` such messages arrived; they are returned.
    pub async fn wait_for(&self, to: &str, subject: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self.to(to, subject);
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{count} mail(s) to {to} about {subject:?} did not arrive; all: {:?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node's settings to send through this server.
    pub fn node_env(&self) -> Vec<(String, String)> {
        [
            ("HEALTHCOMMONS_SMTP_HOST", "127.0.0.1".to_owned()),
            ("HEALTHCOMMONS_SMTP_PORT", self.port.to_string()),
            ("HEALTHCOMMONS_SMTP_TLS", "none".to_owned()),
            (
                "HEALTHCOMMONS_SMTP_FROM",
                "Test Node <node@example.test>".to_owned(),
            ),
            ("HEALTHCOMMONS_MAIL_RETRY_BASE_SECS", "1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        self.stop();
    }
}
