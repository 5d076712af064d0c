//! The pages in a real browser: Debian's Chromium, headless, driven through
//! ChromeDriver's W3C WebDriver protocol (plain JSON over HTTP).
//!
//! CI (`.ci/run`) installs both and sets HEALTHCOMMONS_TEST_CHROMIUM and
//! HEALTHCOMMONS_TEST_CHROMEDRIVER; then a missing browser fails the test.
//! Without those variables and without /usr/bin/chromium the test says so and
//! does nothing, so `cargo test` still runs on a machine without a browser.

mod common;

use common::{TestNode, client, free_port};
use serde_json::{Value, json};
use std::{
    io::{Read, Write},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    driver: Child,
    port: u16,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(chromium: &str, chromedriver: &str) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && let Ok(status) = r.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Browser {
            driver,
            port,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self.raw(method, path, body).await;
        if response["value"].get("error").is_some() {
            panic!("webdriver {path}: {response}");
        }
        response["value"].clone()
    }

    async fn raw(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        self.http
            .request(method, url)
            .json(&body)
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("webdriver json")
    }

    /// Poll until `check` holds: clicks return before the next page loads.
    async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css`, or None if there is none yet.
    async fn try_text(&self, css: &str) -> Option<String> {
        let found = self
            .raw(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let id = found["value"][ELEMENT].as_str()?.to_owned();
        let text = self
            .raw(reqwest::Method::GET, &format!("/element/{id}/text"), json!({}))
            .await;
        text["value"].as_str().map(str::to_owned)
    }

    async fn wait_text(&self, css: &str, predicate: impl Fn(&str) -> bool) -> String {
        let mut last = None;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(text) = self.try_text(css).await {
                if predicate(&text) {
                    return text;
                }
                last = Some(text);
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {css}; last text {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let value = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        value[ELEMENT].as_str().expect("element id").to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn clear(&self, css: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), json!({}))
            .await;
    }

    /// Set an input's value directly (a `datetime-local` input's typed
    /// format depends on the browser's locale).
    async fn set_value(&self, css: &str, value: &str) {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "document.querySelector(arguments[0]).value = arguments[1];", "args": [css, value]}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// Sign in through the form and wait for the greeting.
    async fn sign_in(&self, site: &str, username: &str, password: &str) {
        self.go(&format!("{site}/login")).await;
        self.type_into("#username", username).await;
        self.type_into("#password", password).await;
        self.click("#login-submit").await;
        self.wait_text("#greeting", |t| t.contains(&format!("@{username}")))
            .await;
    }

    /// How many elements match `css` now.
    async fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            json!({"using": "css selector", "value": css}),
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Browser {
    /// End the session first: chromedriver then closes Chromium, which
    /// would otherwise outlive a killed chromedriver and keep running after
    /// the suite. Plain blocking HTTP, since `drop` cannot await (and runs on
    /// a panic too).
    fn drop(&mut self) {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                self.session, self.port
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn browser_paths() -> Option<(String, String)> {
    let chromium = std::env::var("HEALTHCOMMONS_TEST_CHROMIUM").ok();
    let driver = std::env::var("HEALTHCOMMONS_TEST_CHROMEDRIVER").ok();
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ if std::path::Path::new("/usr/bin/chromium").exists()
            && std::path::Path::new("/usr/bin/chromedriver").exists() =>
        {
            Some(("/usr/bin/chromium".into(), "/usr/bin/chromedriver".into()))
        }
        _ => None,
    }
}

#[tokio::test]
async fn a_person_registers_signs_out_signs_in_and_joins_a_working_group() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        eprintln!("NOTICE: no Chromium/ChromeDriver here; browser test not run (CI installs them)");
        return;
    };
    let node = TestNode::start().await;
    let site = format!("http://{}", node.domain);
    let browser = Browser::start(&chromium, &chromedriver).await;

    // Registration through the form lands on the new person's page, signed in.
    browser.go(&format!("{site}/register")).await;
    browser.type_into("#username", "rosa").await;
    browser.type_into("#password", "a long password").await;
    browser.click("#register-submit").await;
    browser
        .until("the person page", || async {
            browser.url().await.ends_with("/u/rosa")
        })
        .await;
    let handle = format!("@rosa@{}", node.domain);
    browser.wait_text("#handle", |t| t == handle).await;
    browser.wait_text("#nav-profile", |t| t == "@rosa").await;

    browser.go(&format!("{site}/")).await;
    browser.wait_text("#greeting", |t| t.contains("@rosa")).await;
    browser.click("#logout").await;
    browser.wait_text("#nav-login", |t| t == "Sign in").await;

    // The same name again is refused on the form, with the reason.
    browser.go(&format!("{site}/register")).await;
    browser.type_into("#username", "rosa").await;
    browser.type_into("#password", "another long one").await;
    browser.click("#register-submit").await;
    browser
        .wait_text("#form-error", |t| t == "that name is taken")
        .await;

    // A wrong password is refused; the right one signs in.
    browser.go(&format!("{site}/login")).await;
    browser.type_into("#username", "rosa").await;
    browser.type_into("#password", "not the password").await;
    browser.click("#login-submit").await;
    browser
        .wait_text("#form-error", |t| t == "wrong name or password")
        .await;
    browser.type_into("#password", "a long password").await;
    browser.click("#login-submit").await;
    browser.wait_text("#greeting", |t| t.contains("@rosa")).await;

    // A working group made through the API shows on the start page; joining
    // it from its page makes rosa its first member.
    let token = node.token("rosa", "a long password").await;
    let created = client()
        .post(format!("{}/api/v1/groups", node.base))
        .bearer_auth(&token)
        .json(&json!({"name": "walkers", "display_name": "Walking for health", "summary": "We *walk*."}))
        .send()
        .await
        .expect("group");
    assert_eq!(created.status(), 201);
    browser.go(&format!("{site}/")).await;
    browser.click("ul.groups a").await;
    browser
        .wait_text("#display-name", |t| t == "Walking for health")
        .await;
    let handle = format!("@walkers@{}", node.domain);
    browser.wait_text("#handle", |t| t == handle).await;
    browser.wait_text("#members", |t| t == "0 members").await;
    browser.click("#join").await;
    browser.wait_text("#members", |t| t == "1 member").await;
    browser.wait_text("#leave", |t| t == "Leave").await;
}

#[tokio::test]
async fn a_member_writes_previews_replies_likes_edits_reports_and_deletes_in_a_thread() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        eprintln!("NOTICE: no Chromium/ChromeDriver here; browser test not run (CI installs them)");
        return;
    };
    let node = TestNode::start().await;
    let site = format!("http://{}", node.domain);
    node.register("noor", "a long password").await;
    let token = node.token("noor", "a long password").await;
    let created = client()
        .post(format!("{}/api/v1/groups", node.base))
        .bearer_auth(&token)
        .json(&json!({"name": "carers", "display_name": "Carers", "topics": ["care"]}))
        .send()
        .await
        .expect("group");
    assert_eq!(created.status(), 201);

    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.sign_in(&site, "noor", "a long password").await;

    // Start a thread on the group page, previewing the markdown first.
    browser.go(&format!("{site}/g/carers")).await;
    browser
        .wait_text("#threads .empty", |t| t == "No threads yet.")
        .await;
    browser.type_into("#thread-title", "Respite at weekends").await;
    browser
        .type_into("#thread-content", "Who covers **Saturday**? #care")
        .await;
    browser.click("#preview-button").await;
    browser.wait_text("#preview strong", |t| t == "Saturday").await;
    browser.click("#post-button").await;
    browser
        .wait_text(".post-title", |t| t == "Respite at weekends")
        .await;
    browser
        .wait_text(".depth-0 .content strong", |t| t == "Saturday")
        .await;
    browser
        .wait_text(".depth-0 .content a.hashtag", |t| t == "#care")
        .await;

    // Reply with a preview; the reply nests below the thread start.
    browser.click(".depth-0 .actions details.reply summary").await;
    browser
        .type_into(".depth-0 .actions details.reply textarea", "I can, *until noon*.")
        .await;
    browser
        .click(".depth-0 .actions details.reply .preview-button")
        .await;
    browser
        .wait_text("details.reply .preview em", |t| t == "until noon")
        .await;
    browser.click("details[open].reply .post-button").await;
    browser
        .wait_text(".depth-1 .content em", |t| t == "until noon")
        .await;
    browser
        .wait_text(".depth-0 .reply-count", |t| t == "1 replies")
        .await;

    // Like, then edit the thread start.
    browser.click(".depth-0 .actions button.like").await;
    browser.wait_text(".depth-0 .likes", |t| t == "1 likes").await;
    browser.click(".depth-0 .actions a.edit").await;
    browser.clear("#content").await;
    browser
        .type_into("#content", "Who covers **Sunday**? #care")
        .await;
    browser.click("#save").await;
    browser
        .wait_text(".depth-0 .content strong", |t| t == "Sunday")
        .await;
    browser
        .wait_text(".depth-0 .meta", |t| t.contains("edited"))
        .await;
    // The edit history keeps the first version.
    browser.click(".depth-0 .meta a.history").await;
    browser
        .wait_text(".version:last-of-type .content strong", |t| t == "Saturday")
        .await;
    browser
        .wait_text(".version:first-of-type .content strong", |t| t == "Sunday")
        .await;
    browser.click("#back-to-thread").await;

    // Report the reply; as the group's moderator noor sees it in the queue.
    browser.click(".depth-1 .actions details.report summary").await;
    browser
        .type_into(".depth-1 .actions details.report textarea", "Testing the queue")
        .await;
    browser.click(".depth-1 .actions details.report button").await;
    browser
        .until("the report to be filed", || async {
            browser.url().await.contains("reported=1")
        })
        .await;
    browser.go(&format!("{site}/admin/reports")).await;
    browser.wait_text(".report-row .state", |t| t == "open").await;
    browser.click(".report-row button").await;
    browser.wait_text(".report-row .state", |t| t == "resolved").await;

    // Delete the reply: a tombstone keeps its place.
    browser.go(&format!("{site}/g/carers")).await;
    browser.click(".post-title a").await;
    browser.click(".depth-1 .actions button.delete").await;
    browser
        .wait_text(".depth-1 .gone-note", |t| t.contains("deleted by its author"))
        .await;

    // The node's feed and the tag page list the thread.
    browser.go(&format!("{site}/feed/local")).await;
    browser
        .wait_text(".post-title", |t| t == "Respite at weekends")
        .await;
    browser.go(&format!("{site}/tags/care")).await;
    browser
        .wait_text(".post-title", |t| t == "Respite at weekends")
        .await;
}

#[tokio::test]
async fn an_organiser_starts_and_moderates_a_group_and_an_admin_suspends_an_account() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        eprintln!("NOTICE: no Chromium/ChromeDriver here; browser test not run (CI installs them)");
        return;
    };
    let node = TestNode::start().await;
    let site = format!("http://{}", node.domain);
    let out = node.admin(&[
        "admin",
        "create-user",
        "root",
        "--password",
        "long enough",
        "--admin",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["lena", "omar"] {
        node.register(name, "a long password").await;
    }
    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.sign_in(&site, "lena", "a long password").await;

    // Start a group from the form; a bad name is refused with the reason.
    browser.click("#nav-new-group").await;
    browser.type_into("#group-name", "no spaces please").await;
    browser
        .type_into("#group-display-name", "Social prescribing")
        .await;
    browser.click("#create-group").await;
    browser.wait_text("#group-error", |t| !t.is_empty()).await;
    browser.clear("#group-name").await;
    browser.type_into("#group-name", "prescribers").await;
    browser
        .type_into("#group-summary", "Link workers *compare notes*.")
        .await;
    browser.type_into("#group-topics", "#prescribing linkwork").await;
    browser.type_into("#group-rules", "Be kind.").await;
    browser.click("#create-group").await;
    browser
        .until("the group page", || async {
            browser.url().await.ends_with("/g/prescribers")
        })
        .await;
    browser
        .wait_text("#display-name", |t| t == "Social prescribing")
        .await;
    browser
        .wait_text(".topics", |t| {
            t.contains("#prescribing") && t.contains("#linkwork")
        })
        .await;
    browser.wait_text(".moderators", |t| t.contains("@lena@")).await;

    // A thread for members only, from the compose form.
    browser.type_into("#thread-title", "Caseloads").await;
    browser
        .type_into("#thread-content", "How many do you carry?")
        .await;
    browser.click("#thread-visibility option[value=followers]").await;
    browser.click("#post-button").await;
    browser
        .wait_text(".depth-0 .meta", |t| t.contains("members only"))
        .await;
    let public_list: Value = client()
        .get(format!("{}/api/v1/groups/prescribers/threads", node.base))
        .send()
        .await
        .expect("threads")
        .json()
        .await
        .expect("json");
    assert_eq!(
        public_list,
        json!([]),
        "members-only threads are not listed to strangers"
    );

    // Settings: make it an announcement group; appoint omar; ban and unban someone.
    browser.go(&format!("{site}/g/prescribers")).await;
    browser.click("#group-settings").await;
    browser.clear("#group-display-name").await;
    browser.type_into("#group-display-name", "Link workers").await;
    browser
        .click("#group-posting-policy option[value=moderators]")
        .await;
    // A refused change keeps what was typed: fix the one field and save.
    browser.type_into("#group-latitude", "north").await;
    browser.click("#save-settings").await;
    browser
        .wait_text("#settings-error", |t| t.contains("latitude"))
        .await;
    browser.clear("#group-latitude").await;
    browser.click("#save-settings").await;
    browser
        .wait_text("#settings-notice", |t| t == "Settings saved.")
        .await;
    browser.type_into("#moderator-person", "omar").await;
    browser.click("#add-moderator").await;
    browser
        .wait_text("#settings-notice", |t| t == "Moderator added.")
        .await;
    browser
        .wait_text("#moderators ul", |t| t.contains("@omar@"))
        .await;
    browser.type_into("#ban-person", "root").await;
    browser.type_into("#ban-reason", "testing bans").await;
    browser.click("#ban-button").await;
    browser
        .wait_text("#bans ul", |t| t.contains("@root@") && t.contains("testing bans"))
        .await;
    browser.click("#bans li.ban button").await;
    browser
        .wait_text("#bans .empty", |t| t == "No one is banned.")
        .await;
    browser.type_into("#ban-person", "nobody-here").await;
    browser.click("#ban-button").await;
    browser
        .wait_text("#settings-error", |t| t.contains("nobody-here"))
        .await;
    browser.go(&format!("{site}/g/prescribers")).await;
    browser.wait_text("#display-name", |t| t == "Link workers").await;
    browser
        .wait_text(".compose .hint", |t| t.contains("Only moderators start threads"))
        .await;

    // The admin suspends omar: his token stops working at once.
    let omar = node.token("omar", "a long password").await;
    browser.go(&format!("{site}/")).await;
    browser.click("#logout").await;
    // Wait for the sign-out to land before going on, or it may land after.
    browser.wait_text("#nav-login", |t| t == "Sign in").await;
    browser.sign_in(&site, "root", "long enough").await;
    browser.click("#nav-accounts").await;
    browser.click("#suspend-omar").await;
    browser
        .wait_text("#account-omar .state", |t| t == "suspended")
        .await;
    let refused = client()
        .post(format!("{}/api/v1/posts", node.base))
        .bearer_auth(&omar)
        .json(&json!({"group": "prescribers", "title": "Still here?", "content": "No"}))
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 401, "a suspended account cannot post");
    browser.type_into("#block-host", "spam.example").await;
    browser.click("#block-button").await;
    browser
        .wait_text(".blocked-node", |t| t.contains("spam.example"))
        .await;
}

#[tokio::test]
async fn a_member_plants_previews_revises_compares_reverts_forks_adopts_and_finds_a_pattern() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        eprintln!("NOTICE: no Chromium/ChromeDriver here; browser test not run (CI installs them)");
        return;
    };
    let node = TestNode::start().await;
    let site = format!("http://{}", node.domain);
    node.register("lea", "a long password").await;

    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.sign_in(&site, "lea", "a long password").await;

    // Plant a pattern: the preview renders the markdown and drops the script;
    // a bad latitude is refused with the reason and keeps what was typed.
    browser.go(&format!("{site}/garden/new?kind=pattern")).await;
    browser.type_into("#garden-title", "Walking prescriptions").await;
    browser
        .type_into("#garden-summary", "GPs prescribe a weekly group walk.")
        .await;
    browser
        .type_into(
            "#garden-solution",
            "Walk **together** on Mondays.<script>alert(1)</script>",
        )
        .await;
    browser.type_into("#garden-tags", "walking, prescribing").await;
    browser.type_into("#garden-latitude", "north").await;
    browser.click("#garden-save").await;
    browser
        .wait_text("#garden-error", |t| t.contains("latitude is a number"))
        .await;
    browser.clear("#garden-latitude").await;
    browser.click("#garden-preview-button").await;
    browser
        .wait_text("#garden-preview strong", |t| t == "together")
        .await;
    assert!(browser.try_text("#garden-preview script").await.is_none());
    browser.click("#garden-save").await;
    browser
        .wait_text("#item-title", |t| t == "Walking prescriptions")
        .await;
    let item_page = browser.url().await;

    // Revise it, compare the two revisions, then revert to the first.
    browser.click("#edit-link").await;
    browser.clear("#garden-solution").await;
    browser
        .type_into("#garden-solution", "Walk together on Mondays and Thursdays.")
        .await;
    browser.type_into("#garden-message", "Twice a week").await;
    browser.click("#garden-save").await;
    browser
        .wait_text("#garden-item", |t| t.contains("Mondays and Thursdays"))
        .await;
    browser.click("#history-link").await;
    browser
        .wait_text("#revisions", |t| {
            t.contains("Twice a week") && t.contains("Planted")
        })
        .await;
    browser.click("#compare").await;
    browser
        .wait_text("section.diff", |t| {
            t.contains("- Walk **together** on Mondays.")
                && t.contains("+ Walk together on Mondays and Thursdays.")
        })
        .await;
    browser.go(&format!("{item_page}/history")).await;
    browser.click("#revert-button").await;
    browser
        .wait_text("#garden-item strong", |t| t == "together")
        .await;
    browser
        .wait_text("#garden-item .meta", |t| t.contains("revision 3"))
        .await;

    // Fork it: the fork names where it came from, and the original lists the fork.
    browser.go(&item_page).await;
    browser.type_into("#fork-message", "For the allotments").await;
    browser.click("#fork-button").await;
    browser
        .wait_text("#provenance", |t| {
            t.contains("Walking prescriptions") && t.contains("revision 3")
        })
        .await;
    browser.go(&item_page).await;
    browser.wait_text("#forks", |t| t.contains("@lea@")).await;

    // Record an adoption, with a place; it shows with the place on the map list.
    browser.click("#adopt-link").await;
    browser.type_into("#adopt-context", "   ").await;
    browser.click("#adopt-button").await;
    browser
        .wait_text("#adopt-error", |t| t.contains("where and how"))
        .await;
    browser.clear("#adopt-context").await;
    browser
        .type_into("#adopt-context", "Our *Tuesday* group in Leeds")
        .await;
    browser.type_into("#adopt-place", "Leeds").await;
    browser.type_into("#adopt-latitude", "53.8").await;
    browser.type_into("#adopt-longitude", "-1.55").await;
    browser.click("#adopt-button").await;
    browser
        .wait_text("#adoptions .adoption", |t| {
            t.contains("@lea@") && t.contains("Tuesday")
        })
        .await;
    browser
        .wait_text("#adoption-places", |t| t.contains("Leeds"))
        .await;
    // The map draws the place (its tiles cannot load here: no network).
    browser
        .until("the adoption's marker on the map", || async {
            browser
                .count("#adoption-map .hc-marker[aria-label*='Leeds']")
                .await
                == 1
        })
        .await;

    // Discuss it: a blank thread is refused with the reason, a real one shows
    // under the item and its thread page leads back to the item.
    browser.type_into("#discuss-content", "   ").await;
    browser.click("#discuss-button").await;
    browser
        .wait_text("#discuss-error", |t| t.contains("must not be empty"))
        .await;
    browser.clear("#discuss-content").await;
    browser
        .type_into("#discuss-content", "Did the **rain** stop anyone?")
        .await;
    browser.click("#discuss-button").await;
    browser
        .wait_text("#discussion .post", |t| t.contains("Did the rain stop anyone?"))
        .await;
    let landed = browser.url().await;
    let post_id = landed
        .rsplit_once("#post-")
        .expect("the page lands on the new post")
        .1
        .to_owned();
    browser.go(&format!("{site}/threads/{post_id}")).await;
    browser
        .wait_text("#discusses", |t| t.contains("Walking prescriptions"))
        .await;
    browser.click("#discusses a").await;
    browser
        .wait_text("#discussion", |t| t.contains("Did the rain stop anyone?"))
        .await;

    // Search finds both; the tag filter too; a word that is nowhere finds nothing.
    browser.go(&format!("{site}/garden")).await;
    browser.type_into("#garden-q", "walk prescr").await;
    browser.click("#garden-search").await;
    browser
        .wait_text("#garden-items", |t| {
            t.matches("Walking prescriptions").count() == 2
        })
        .await;
    browser
        .go(&format!("{site}/garden?tag=walking&kind=pattern"))
        .await;
    browser
        .wait_text("#garden-items", |t| t.contains("Walking prescriptions"))
        .await;
    browser.go(&format!("{site}/garden?q=zebra")).await;
    browser
        .wait_text("#garden-empty", |t| t == "Nothing here yet.")
        .await;

    // Export and import: the garden's zip, uploaded through the form, is
    // read; this node's own items are skipped with the reason.
    let export = reqwest::get(format!("{site}/garden/export.zip"))
        .await
        .expect("export")
        .bytes()
        .await
        .expect("zip");
    let folder = tempfile::tempdir().expect("tempdir");
    let zip_path = folder.path().join("garden.zip");
    std::fs::write(&zip_path, &export).expect("write the zip");
    browser.click("#garden-import").await;
    browser.wait_text("h1", |t| t == "Import a garden").await;
    browser.click("#import-button").await;
    browser
        .wait_text("#import-error", |t| t.contains("choose the zip"))
        .await;
    browser
        .type_into("#import-file", zip_path.to_str().expect("a path"))
        .await;
    browser.click("#import-button").await;
    browser
        .wait_text("#import-report", |t| {
            t.contains("Imported 0") && t.contains("Skipped 2") && t.contains("this node's own item")
        })
        .await;
}

#[tokio::test]
async fn an_admin_sets_the_node_profile_and_the_map_shows_it_with_its_list() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        eprintln!("NOTICE: no Chromium/ChromeDriver here; browser test not run (CI installs them)");
        return;
    };
    let node = TestNode::start().await;
    let site = format!("http://{}", node.domain);
    let out = node.admin(&[
        "admin",
        "create-user",
        "root",
        "--password",
        "long enough",
        "--admin",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = node.token("root", "long enough").await;
    let group = client()
        .post(format!("{}/api/v1/groups", node.base))
        .bearer_auth(&token)
        .json(&json!({"name": "walkers", "display_name": "Saturday walkers",
                      "place": {"name": "The park", "latitude": 53.81, "longitude": -1.55}}))
        .send()
        .await
        .expect("group");
    assert_eq!(group.status(), 201);

    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.sign_in(&site, "root", "long enough").await;
    browser.click("#nav-node").await;
    browser.wait_text("#profile-form", |_| true).await;
    browser.clear("#profile-name").await;
    browser.type_into("#profile-name", "Leeds Health Circle").await;
    browser.type_into("#profile-place", "Hyde Park Centre").await;
    browser.type_into("#profile-latitude", "95").await;
    browser.type_into("#profile-longitude", "-1.55").await;
    browser
        .type_into("#profile-website", "https://leeds.example")
        .await;
    browser.click("#profile-save").await;
    browser
        .wait_text("#profile-error", |t| t.contains("latitude"))
        .await;
    // The form comes back with what was typed, to be corrected.
    browser.clear("#profile-latitude").await;
    browser.type_into("#profile-latitude", "53.8").await;
    browser.click("#profile-save").await;
    browser.wait_text("#profile-saved", |t| !t.is_empty()).await;

    browser.click("#nav-map").await;
    browser
        .wait_text("#map-initiatives", |t| {
            t.contains("Leeds Health Circle") && t.contains("Hyde Park Centre")
        })
        .await;
    browser
        .wait_text("#map-groups", |t| t.contains("Saturday walkers"))
        .await;
    browser
        .wait_text("#map-stories", |t| t.contains("None with a place yet"))
        .await;
    browser
        .until("both markers on the map", || async {
            browser.count("#directory-map .hc-marker").await == 2
        })
        .await;
    assert_eq!(
        browser
            .count("#directory-map .hc-marker[aria-label*='Leeds Health Circle']")
            .await,
        1
    );
}

#[tokio::test]
async fn an_organiser_plans_an_event_members_answer_it_and_the_agenda_takes_votes() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        eprintln!("NOTICE: no Chromium/ChromeDriver here; browser test not run (CI installs them)");
        return;
    };
    let node = TestNode::start().await;
    let site = format!("http://{}", node.domain);
    for name in ["ines", "yusuf"] {
        node.register(name, "a long password").await;
    }
    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.sign_in(&site, "ines", "a long password").await;
    browser.go(&format!("{site}/groups/new")).await;
    browser.type_into("#group-name", "carers").await;
    browser.type_into("#group-display-name", "Carers together").await;
    browser.click("#create-group").await;
    browser
        .wait_text("#display-name", |t| t == "Carers together")
        .await;

    // Organise a workshop: a wrong latitude is refused with the reason.
    browser.go(&format!("{site}/events/new?group=carers")).await;
    browser
        .type_into("#event-title-input", "First aid for carers")
        .await;
    browser
        .type_into("#event-description", "Bring a **friend**.")
        .await;
    let starts = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%dT18:30")
        .to_string();
    browser.set_value("#event-starts", &starts).await;
    browser.clear("#event-timezone").await;
    browser.type_into("#event-timezone", "Europe/Berlin").await;
    browser.type_into("#event-place", "Nachbarschaftshaus").await;
    browser.type_into("#event-latitude", "north").await;
    browser.type_into("#event-longitude", "13.4").await;
    browser.type_into("#event-capacity", "1").await;
    browser.click("#event-save").await;
    browser
        .wait_text("#event-error", |t| t.contains("latitude is a number"))
        .await;
    browser.clear("#event-latitude").await;
    browser.type_into("#event-latitude", "52.5").await;
    browser.click("#event-save").await;
    browser
        .wait_text("#event-title", |t| t == "First aid for carers")
        .await;
    let event_page = browser.url().await;
    let when = browser.wait_text("#event-when", |_| true).await;
    assert!(
        when.contains("18:30") && when.contains("(Europe/Berlin)"),
        "{when}"
    );
    assert_eq!(browser.count(".hc-map").await, 1);

    // The organiser takes the one place; the event is listed with its calendar.
    browser.click("#rsvp-join").await;
    browser.wait_text("#rsvp-state", |t| t == "You take part.").await;
    let taking_part = browser.wait_text("#event-taking-part", |_| true).await;
    assert_eq!(taking_part, "1 of 1 places taken, 0 left");
    browser.go(&format!("{site}/g/carers/events")).await;
    browser
        .wait_text("#events-list", |t| t.contains("First aid for carers"))
        .await;
    let calendar = client()
        .get(format!("{}/g/carers/events.ics", node.base))
        .send()
        .await
        .expect("calendar")
        .text()
        .await
        .expect("text");
    assert!(
        calendar.contains("SUMMARY:First aid for carers\r\n"),
        "{calendar}"
    );

    // A question on the agenda.
    browser.go(&format!("{site}/g/carers/agenda")).await;
    browser
        .type_into("#ask-question", "What should we learn next?")
        .await;
    browser.type_into("#ask-options", "Lifting safely").await;
    browser.click("#ask-button").await;
    browser
        .wait_text("#ask-error", |t| t.contains("2 to 10 options"))
        .await;
    browser.type_into("#ask-options", "\nSleep").await;
    browser.click("#ask-button").await;
    browser
        .wait_text("#agenda", |t| t.contains("What should we learn next?"))
        .await;

    browser.go(&format!("{site}/")).await;
    browser.wait_text("#greeting", |t| t.contains("@ines")).await;
    browser.click("#logout").await;
    browser.wait_text("#nav-login", |t| t == "Sign in").await;
    browser.sign_in(&site, "yusuf", "a long password").await;

    // The event is full for yusuf; he votes on the agenda instead, once.
    browser.go(&event_page).await;
    browser.click("#rsvp-join").await;
    browser
        .wait_text("#rsvp-error", |t| t == "this event is full")
        .await;
    browser.go(&format!("{site}/g/carers/agenda")).await;
    browser.click(".question-link").await;
    browser
        .wait_text("#question-content", |t| t.contains("What should we learn next?"))
        .await;
    browser.click("#vote-button").await;
    browser
        .wait_text("#vote-error", |t| t == "choose an option")
        .await;
    browser.click("#choice-1").await;
    browser.click("#vote-button").await;
    browser.wait_text("#vote-done", |t| t.contains("Sleep")).await;
    let results = browser.wait_text("#question-results", |_| true).await;
    assert!(results.starts_with("Sleep: 1 (100%)"), "{results}");
    assert_eq!(browser.count("#vote-form").await, 0);
}

#[tokio::test]
async fn a_member_pledges_on_a_question_another_counts_on_it_and_it_is_done() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        eprintln!("NOTICE: no Chromium/ChromeDriver here; browser test not run (CI installs them)");
        return;
    };
    let node = TestNode::start().await;
    let site = format!("http://{}", node.domain);
    for name in ["ines", "yusuf"] {
        node.register(name, "a long password").await;
    }
    let ines = node.token("ines", "a long password").await;
    let authed = |path: &str| client().post(format!("{}{path}", node.base)).bearer_auth(&ines);
    let group = authed("/api/v1/groups")
        .json(&json!({"name": "carers", "display_name": "Carers together"}))
        .send()
        .await
        .expect("group");
    assert_eq!(group.status(), 201);
    let question: serde_json::Value = authed("/api/v1/groups/carers/agenda")
        .json(&json!({"question": "Where do we meet?", "options": ["Library", "Clinic"]}))
        .send()
        .await
        .expect("question")
        .json()
        .await
        .expect("json");
    let question_page = format!("{site}/questions/{}", question["id"]);

    // ines pledges from the question's page; a date that is not one is refused.
    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.sign_in(&site, "ines", "a long password").await;
    browser.go(&question_page).await;
    browser
        .wait_text("#pledges-none", |t| t.contains("No one has pledged"))
        .await;
    browser.click("#pledge-link").await;
    browser
        .wait_text("#pledge-form-target", |t| t == "Where do we meet?")
        .await;
    browser
        .type_into("#pledge-action-input", "I will ask the library for a room")
        .await;
    browser.type_into("#pledge-due-input", "next week").await;
    browser.click("#pledge-button").await;
    browser
        .wait_text("#pledge-form-error", |t| t == "give the date as YYYY-MM-DD")
        .await;
    let due = (chrono::Utc::now() + chrono::Duration::days(14)).date_naive();
    browser.clear("#pledge-due-input").await;
    browser.type_into("#pledge-due-input", &due.to_string()).await;
    browser.click("#pledge-button").await;
    let heading = browser.wait_text("#pledge-action", |_| true).await;
    assert_eq!(
        heading,
        format!(
            "@ines@{} will ask the library for a room, by {}",
            node.domain,
            due.format("%-d %B %Y")
        )
    );
    let pledge_page = browser.url().await;
    browser.wait_text("#pledge-status", |t| t == "offered").await;
    assert_eq!(browser.count("#count-on").await, 0);

    browser.go(&format!("{site}/")).await;
    browser.wait_text("#greeting", |t| t.contains("@ines")).await;
    browser.click("#logout").await;
    browser.wait_text("#nav-login", |t| t == "Sign in").await;

    // yusuf finds it in the group's pledges and counts on it, once.
    browser.sign_in(&site, "yusuf", "a long password").await;
    browser.go(&format!("{site}/g/carers")).await;
    browser.click("#group-pledges").await;
    let table = browser
        .wait_text("#pledges", |t| t.contains("ask the library for a room"))
        .await;
    assert!(
        table.contains("agenda question Where do we meet?") && table.contains("offered"),
        "{table}"
    );
    browser.go(&pledge_page).await;
    browser.click("#count-on").await;
    browser
        .wait_text("#pledge-backers", |t| t == "1 counting on it")
        .await;
    assert_eq!(browser.count("#stop-counting").await, 1);
    assert_eq!(browser.count("#pledge-status-form").await, 0);

    browser.go(&format!("{site}/")).await;
    browser.wait_text("#greeting", |t| t.contains("@yusuf")).await;
    browser.click("#logout").await;
    browser.wait_text("#nav-login", |t| t == "Sign in").await;

    // ines moves it on to done; the question's page lists it as done.
    browser.sign_in(&site, "ines", "a long password").await;
    browser.go(&pledge_page).await;
    browser.click("#status-in_progress").await;
    browser.click("#pledge-status-button").await;
    browser.wait_text("#pledge-status", |t| t == "in progress").await;
    assert_eq!(browser.count("#status-offered").await, 0);
    browser.click("#status-done").await;
    browser.click("#pledge-status-button").await;
    browser.wait_text("#pledge-status", |t| t == "done").await;
    assert_eq!(browser.count("#pledge-status-form").await, 0);
    browser.go(&question_page).await;
    let listed = browser.wait_text("#pledges", |_| true).await;
    assert!(
        listed.contains("will ask the library for a room") && listed.contains("done · 1 counting on it"),
        "{listed}"
    );
}

impl Browser {
    /// Make the window as narrow as a small phone.
    async fn phone_sized(&self) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": 360, "height": 780}),
        )
        .await;
    }

    /// Whether the page at `url` fits the window without sideways scrolling.
    async fn fits_the_width(&self, url: &str) -> (bool, Value) {
        self.go(url).await;
        let measured = self
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                json!({"script": "const d = document.documentElement; \
                   return {scroll: d.scrollWidth, client: d.clientWidth, window: window.innerWidth};",
                       "args": []}),
            )
            .await;
        let scroll = measured["scroll"].as_i64().unwrap_or(i64::MAX);
        let client = measured["client"].as_i64().unwrap_or(0);
        let window = measured["window"].as_i64().unwrap_or(i64::MAX);
        assert!(window <= 360, "the window is phone-sized: {measured}");
        (scroll <= 360 && scroll <= client, measured)
    }

    async fn is_checked(&self, css: &str) -> bool {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "return document.querySelector(arguments[0]).checked;", "args": [css]}),
        )
        .await
            == Value::Bool(true)
    }
}

#[tokio::test]
async fn a_member_reads_her_notifications_and_chooses_them_on_a_phone() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        eprintln!("NOTICE: no Chromium/ChromeDriver here; browser test not run (CI installs them)");
        return;
    };
    let node = TestNode::start().await;
    let site = format!("http://{}", node.domain);
    for name in ["ines", "yusuf"] {
        node.register(name, "a long password").await;
    }
    let ines = node.token("ines", "a long password").await;
    let yusuf = node.token("yusuf", "a long password").await;
    let post = |token: &str, path: &str, body: Value| {
        client()
            .post(format!("{}{path}", node.base))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let group = post(
        &ines,
        "/api/v1/groups",
        json!({"name": "carers", "display_name": "Carers together"}),
    )
    .await
    .expect("group");
    assert_eq!(group.status(), 201);
    let thread: Value = post(
        &ines,
        "/api/v1/posts",
        json!({"group": "carers", "title": "Respite care tips", "content": "What helps you?"}),
    )
    .await
    .expect("thread")
    .json()
    .await
    .expect("json");
    let thread_id = thread["id"].as_str().expect("thread id").to_owned();
    let reply = |text: &'static str| {
        post(
            &yusuf,
            "/api/v1/posts",
            json!({"in_reply_to": thread_id, "content": text}),
        )
    };
    for text in ["A neighbour sits in", "The day centre on Fridays"] {
        assert_eq!(reply(text).await.expect("reply").status(), 201);
    }

    let browser = Browser::start(&chromium, &chromedriver).await;
    browser.phone_sized().await;
    let (fits, measured) = browser.fits_the_width(&format!("{site}/")).await;
    assert!(fits, "the start page at 360 px, signed out: {measured}");
    browser.sign_in(&site, "ines", "a long password").await;
    browser.wait_text("#nav-unread", |t| t == "2").await;
    for path in ["/", "/notifications", "/settings/notifications", "/g/carers"] {
        let (fits, measured) = browser.fits_the_width(&format!("{site}{path}")).await;
        assert!(fits, "{path} at 360 px, signed in: {measured}");
    }

    // Two replies to one post are one line, unread, linking to the thread.
    browser.click("#nav-notifications").await;
    let listed = browser
        .wait_text("#notifications", |t| t.contains("replied to your post"))
        .await;
    assert!(
        listed.contains("yusuf replied to your post Respite care tips in Carers together (2)"),
        "{listed}"
    );
    assert_eq!(browser.count("#notifications li").await, 1);
    assert_eq!(browser.count("#notifications li.unread").await, 1);
    browser.click("#notifications li.unread .read-one").await;
    browser
        .until("read", || async {
            browser.count("#notifications li.unread").await == 0
        })
        .await;
    assert_eq!(browser.count("#nav-unread").await, 0, "nothing unread now");
    browser.click("#notifications a.subject").await;
    browser
        .until("the thread", || async {
            browser.url().await.contains("/threads/")
        })
        .await;

    // Replies off, mentions by email in a daily digest.
    browser.go(&format!("{site}/notifications")).await;
    browser.click("#notification-settings").await;
    // On a phone each kind lists its four choices under it.
    let row = browser
        .wait_text("#preference-reply", |t| t.contains("Replies to my posts"))
        .await;
    for choice in ["On the node", "Email at once", "Email daily digest", "Not at all"] {
        assert!(row.contains(choice), "{row}");
    }
    assert!(
        browser.is_checked("#reply-on_node").await,
        "on the node unless chosen"
    );
    browser.click("#reply-off").await;
    browser.click("#mention-email_digest").await;
    browser.click("#save-preferences").await;
    browser.wait_text("#preferences-saved", |t| t == "Saved.").await;
    browser.go(&format!("{site}/settings/notifications")).await;
    assert!(browser.is_checked("#reply-off").await);
    assert!(browser.is_checked("#mention-email_digest").await);

    // A new reply tells her nothing now; a mention still shows, and all is read at once.
    assert_eq!(reply("Ask the council").await.expect("reply").status(), 201);
    let mention = format!("@ines@{} is this yours?", node.domain);
    let mentioned = post(
        &yusuf,
        "/api/v1/posts",
        json!({"group": "carers", "title": "Lost umbrella", "content": mention}),
    )
    .await
    .expect("mention");
    assert_eq!(mentioned.status(), 201);
    browser.go(&format!("{site}/notifications")).await;
    let listed = browser
        .wait_text("#notifications", |t| t.contains("mentioned you"))
        .await;
    assert!(
        listed.contains("yusuf mentioned you in Lost umbrella"),
        "{listed}"
    );
    assert_eq!(browser.count("#notifications li.unread").await, 1, "{listed}");
    browser.wait_text("#nav-unread", |t| t == "1").await;
    browser.click("#read-all").await;
    browser
        .until("all read", || async {
            browser.count("#notifications li.unread").await == 0
        })
        .await;
    assert_eq!(browser.count("#read-all").await, 0);
}
