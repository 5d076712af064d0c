//! Email end to end: the real node binary sends through a real SMTP server
//! (aiosmtpd, see `common/mail.rs`), and the tests read what arrives and
//! follow its links like a person would.

mod common;

use chrono::Utc;
use common::{
    TestNode, client,
    mail::{MailSink, aiosmtpd_python},
    session_cookie,
};
use healthcommons_core::calendar::CalendarEvent;
use healthcommons_db::{entities::email_token, entities::outgoing_email, queries};
use healthcommons_service::{
    NodeContext,
    mail::{self, Email, Enqueued, EventReminder, Message, Skipped},
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::time::{Duration, Instant};

const NOTICE: &str = "NOTICE: aiosmtpd is not installed (HEALTHCOMMONS_TEST_AIOSMTPD unset and /usr/bin/python3 \
                      cannot import it); the email test did not run (CI installs it)";

/// A node sending through `sink`, with `extra` settings.
async fn node_for(sink: &MailSink, extra: &[(&str, &str)]) -> TestNode {
    let mut env = sink.node_env();
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestNode::start_with(&env).await
}

fn create_user(node: &TestNode, name: &str, password: &str, email: &str) {
    let made = node.admin(&[
        "admin",
        "create-user",
        name,
        "--password",
        password,
        "--email",
        email,
    ]);
    assert!(made.status.success(), "{made:?}");
}

/// A form POST with the test CSRF token; `cookie` adds a session.
async fn post_form(node: &TestNode, path: &str, cookie: Option<&str>, body: &str) -> (u16, String) {
    let cookie = cookie.map_or_else(|| "hc_csrf=test-token".to_owned(), str::to_owned);
    let response = client()
        .post(format!("{}{path}", node.base))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf=test-token&{body}"))
        .send()
        .await
        .expect("post");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn get(node: &TestNode, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = client().get(format!("{}{path}", node.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("get");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn login_status(node: &TestNode, name: &str, password: &str) -> u16 {
    post_form(
        node,
        "/login",
        None,
        &format!("username={name}&password={}", password.replace(' ', "+")),
    )
    .await
    .0
}

async fn database(node: &TestNode) -> healthcommons_db::Db {
    healthcommons_db::open(&node.database_url())
        .await
        .expect("the node's database")
}

/// Wait until the node's queue holds no mail waiting to be sent.
async fn until_queue_is_empty(node: &TestNode) {
    let db = database(node).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while queries::email::count_pending(&db).await.expect("count") > 0 {
        assert!(
            Instant::now() < deadline,
            "the mail queue did not drain: {}",
            node.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn until_log_contains(node: &TestNode, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !node.log().contains(text) {
        assert!(
            Instant::now() < deadline,
            "the node never logged {text:?}: {}",
            node.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn registering_with_an_email_sends_a_link_that_confirms_the_address_sqlite() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!("{NOTICE}");
        return;
    };
    let sink = MailSink::start(&python, &[]);
    let node = node_for(&sink, &[]).await;
    let (_, ready) = get(&node, "/readyz", None).await;
    assert!(ready.contains(r#""email":"running""#), "{ready}");
    registering_with_an_email_sends_a_link_that_confirms_the_address(&node, &sink).await;
}

#[tokio::test]
async fn registering_with_an_email_sends_a_link_that_confirms_the_address_postgres() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!("{NOTICE}");
        return;
    };
    let Ok(admin_url) = std::env::var("HEALTHCOMMONS_TEST_POSTGRES_URL") else {
        eprintln!(
            "NOTICE: HEALTHCOMMONS_TEST_POSTGRES_URL is not set; the PostgreSQL email test did not run"
        );
        return;
    };
    let url = healthcommons_db::testing::fresh_postgres_database(&admin_url)
        .await
        .expect("a fresh PostgreSQL database");
    let sink = MailSink::start(&python, &[]);
    let node = node_for(&sink, &[("HEALTHCOMMONS_DATABASE_URL", &url)]).await;
    registering_with_an_email_sends_a_link_that_confirms_the_address(&node, &sink).await;
}

async fn registering_with_an_email_sends_a_link_that_confirms_the_address(node: &TestNode, sink: &MailSink) {
    let (status, _) = post_form(
        node,
        "/register",
        None,
        "username=rosa&password=a+long+password&email=Rosa%40Example.test",
    )
    .await;
    assert_eq!(status, 303, "registered");
    let mail = sink
        .wait_for("rosa@example.test", "Please confirm your email address", 1)
        .await
        .remove(0);
    let link = mail.link_path("/email/verify/");
    assert!(mail.text().contains("Hello rosa"), "{}", mail.text());
    assert!(
        mail.html().contains(&link),
        "the HTML part has the link: {}",
        mail.html()
    );
    assert!(
        mail.header("List-Unsubscribe").is_none(),
        "an address check is transactional"
    );
    assert_eq!(
        mail.header("From").as_deref(),
        Some("Test Node <node@example.test>")
    );

    let cookie = session_cookie(node, "rosa", "a long password").await;
    let (_, settings) = get(node, "/settings/email", Some(&cookie)).await;
    assert!(settings.contains("not confirmed yet"), "{settings}");

    let (status, page) = get(node, &link, None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("rosa@example.test is confirmed"), "{page}");
    let (_, settings) = get(node, "/settings/email", Some(&cookie)).await;
    assert!(settings.contains("confirmed"), "{settings}");
    assert!(!settings.contains("not confirmed yet"), "{settings}");
    let (status, _) = get(node, &link, None).await;
    assert_eq!(status, 404, "the link works once");

    // A new address gets its own link; the old one stays until it is opened.
    let (status, page) = post_form(
        node,
        "/settings/email",
        Some(&cookie),
        "email=rosa%40elsewhere.test",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("We sent a link to rosa@elsewhere.test"), "{page}");
    assert!(
        page.contains("Your address is <strong>rosa@example.test</strong>"),
        "{page}"
    );
    let mail = sink
        .wait_for("rosa@elsewhere.test", "Please confirm your email address", 1)
        .await
        .remove(0);
    let (status, _) = get(node, &mail.link_path("/email/verify/"), None).await;
    assert_eq!(status, 200);
    let (_, settings) = get(node, "/settings/email", Some(&cookie)).await;
    assert!(
        settings.contains("Your address is <strong>rosa@elsewhere.test</strong>, confirmed"),
        "{settings}"
    );
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mail() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!("{NOTICE}");
        return;
    };
    let sink = MailSink::start(&python, &[]);
    let node = node_for(&sink, &[]).await;
    create_user(&node, "mia", "old password", "mia@example.test");
    let old_session = session_cookie(&node, "mia", "old password").await;

    // The same answer whether the account exists or not.
    let (status, known) = post_form(&node, "/password/forgot", None, "name_or_email=mia").await;
    assert_eq!(status, 200);
    let (status, unknown) = post_form(&node, "/password/forgot", None, "name_or_email=nobody").await;
    assert_eq!(status, 200);
    assert_eq!(known, unknown, "the answer tells nothing about accounts");
    assert!(known.contains("id=\"reset-sent\""), "{known}");

    let mail = sink
        .wait_for("mia@example.test", "Choose a new password", 1)
        .await
        .remove(0);
    let link = mail.link_path("/password/reset/");
    assert!(mail.html().contains(&link), "{}", mail.html());
    let (status, form) = get(&node, &link, None).await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("id=\"reset-submit\""), "{form}");

    let (status, page) = post_form(&node, &link, None, "password=short").await;
    assert_eq!(status, 422, "too short: {page}");
    let (status, page) = post_form(&node, &link, None, "password=a+new+password").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your new password is saved"), "{page}");

    assert_eq!(login_status(&node, "mia", "a new password").await, 303);
    assert_eq!(login_status(&node, "mia", "old password").await, 401);
    let (status, _) = get(&node, "/settings/email", Some(&old_session)).await;
    assert_eq!(status, 401, "the session from before the reset ended");
    let (status, _) = post_form(&node, &link, None, "password=another+password").await;
    assert_eq!(status, 404, "the link works once");
    assert_eq!(login_status(&node, "mia", "another password").await, 401);

    // A link older than its hour is refused.
    post_form(
        &node,
        "/password/forgot",
        None,
        "name_or_email=mia%40example.test",
    )
    .await;
    let mail = sink
        .wait_for("mia@example.test", "Choose a new password", 2)
        .await
        .remove(1);
    let link = mail.link_path("/password/reset/");
    let db = database(&node).await;
    email_token::Entity::update_many()
        .col_expr(
            email_token::Column::ExpiresAt,
            (Utc::now() - chrono::Duration::minutes(1)).into(),
        )
        .filter(email_token::Column::Purpose.eq(queries::email::RESET))
        .exec(&db)
        .await
        .expect("expire the links");
    let (status, page) = get(&node, &link, None).await;
    assert_eq!(status, 404);
    assert!(page.contains("expired or was already used"), "{page}");
    let (status, _) = post_form(&node, &link, None, "password=expired+password").await;
    assert_eq!(status, 404);
    assert_eq!(login_status(&node, "mia", "expired password").await, 401);
    assert_eq!(login_status(&node, "mia", "a new password").await, 303);
}

#[tokio::test]
async fn mail_queued_while_the_mail_server_is_down_arrives_once_even_across_a_restart() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!("{NOTICE}");
        return;
    };
    let mut sink = MailSink::start(&python, &[]);
    // A short lease: what the killed node had claimed is sent by the next one soon.
    let mut node = node_for(&sink, &[("HEALTHCOMMONS_MAIL_CLAIM_LEASE_SECS", "5")]).await;
    create_user(&node, "ada", "ada password", "ada@example.test");
    create_user(&node, "ben", "ben password", "ben@example.test");
    until_queue_is_empty(&node).await;

    sink.stop();
    post_form(&node, "/password/forgot", None, "name_or_email=ada").await;
    post_form(&node, "/password/forgot", None, "name_or_email=ben").await;
    until_log_contains(&node, "an email will be tried again").await;

    // The node dies and starts again while the mail server is still down.
    node.restart().await;
    post_form(&node, "/password/forgot", None, "name_or_email=ada").await;
    until_log_contains(&node, "an email will be tried again").await;
    assert!(sink.to("ada@example.test", "Choose a new password").is_empty());

    sink.resume();
    sink.wait_for("ada@example.test", "Choose a new password", 2)
        .await;
    sink.wait_for("ben@example.test", "Choose a new password", 1)
        .await;
    until_queue_is_empty(&node).await;
    let resets: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|m| m.subject().contains("Choose a new password"))
        .collect();
    assert_eq!(resets.len(), 3, "nothing lost, nothing twice: {resets:?}");
    let mut ids: Vec<String> = resets.iter().filter_map(|m| m.header("Message-ID")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three different mails");
    let db = database(&node).await;
    let sent = outgoing_email::Entity::find()
        .filter(outgoing_email::Column::SentAt.is_not_null())
        .filter(outgoing_email::Column::Kind.eq("password_reset"))
        .count(&db)
        .await
        .expect("count");
    assert_eq!(sent, 3);
}

#[tokio::test]
async fn an_address_the_mail_server_refuses_for_good_stops_getting_mail_and_its_owner_is_told() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!("{NOTICE}");
        return;
    };
    let sink = MailSink::start(&python, &["gone@example.test"]);
    let node = node_for(&sink, &[]).await;
    create_user(&node, "gus", "gus password", "gone@example.test");
    let cookie = session_cookie(&node, "gus", "gus password").await;

    // The address check is refused with 550: the address bounces.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, page) = get(&node, "/", Some(&cookie)).await;
        if page.contains("id=\"email-bouncing\"") {
            break;
        }
        assert!(Instant::now() < deadline, "no bounce notice: {}", node.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, page) = get(&node, "/u/gus", Some(&cookie)).await;
    assert!(
        page.contains("Emails to your address bounce"),
        "on every page: {page}"
    );
    let (_, settings) = get(&node, "/settings/email", Some(&cookie)).await;
    assert!(settings.contains("but mail to it bounces"), "{settings}");

    // Nothing more is queued for it.
    post_form(&node, "/password/forgot", None, "name_or_email=gus").await;
    let db = database(&node).await;
    let queued = outgoing_email::Entity::find()
        .filter(outgoing_email::Column::Recipient.eq("gone@example.test"))
        .count(&db)
        .await
        .expect("count");
    assert_eq!(queued, 1, "only the refused address check");
    assert!(sink.received().is_empty());

    // A new, confirmed address ends the notice.
    post_form(
        &node,
        "/settings/email",
        Some(&cookie),
        "email=gus%40example.test",
    )
    .await;
    let mail = sink
        .wait_for("gus@example.test", "Please confirm", 1)
        .await
        .remove(0);
    get(&node, &mail.link_path("/email/verify/"), None).await;
    let (_, page) = get(&node, "/", Some(&cookie)).await;
    assert!(!page.contains("id=\"email-bouncing\""), "{page}");
}

#[tokio::test]
async fn an_event_reminder_carries_the_event_and_a_one_click_unsubscribe() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!("{NOTICE}");
        return;
    };
    let sink = MailSink::start(&python, &[]);
    let node = node_for(&sink, &[]).await;
    create_user(&node, "eva", "eva password", "eva@example.test");
    let check = sink
        .wait_for("eva@example.test", "Please confirm", 1)
        .await
        .remove(0);
    let db = database(&node).await;
    let user = queries::users::by_username(&db, "eva")
        .await
        .expect("query")
        .expect("eva");
    let ctx = NodeContext::new(&node.domain, false).with_email(true);
    let reminder = || Email {
        to_user: user.id,
        message: Message::EventReminder(EventReminder::new(
            &CalendarEvent {
                uid: format!("http://{}/events/1", node.domain),
                url: format!("http://{}/events/1", node.domain),
                summary: "Walk in the park".into(),
                description: "Bring water.".into(),
                starts_at: Utc::now() + chrono::Duration::days(1),
                ends_at: None,
                location: Some("Park gate".into()),
                geo: None,
                status: "CONFIRMED",
                organizer: None,
                categories: vec![],
                created: Utc::now(),
                last_modified: None,
            },
            Some("Europe/Berlin"),
        )),
    };
    assert_eq!(
        mail::enqueue(&db, &ctx, reminder()).await.expect("enqueue"),
        Enqueued::Skipped(Skipped::AddressNotChecked),
        "no reminders before the address is confirmed"
    );
    get(&node, &check.link_path("/email/verify/"), None).await;
    assert!(matches!(
        mail::enqueue(&db, &ctx, reminder()).await.expect("enqueue"),
        Enqueued::Queued(_)
    ));

    let mail = sink
        .wait_for("eva@example.test", "Reminder: Walk in the park", 1)
        .await
        .remove(0);
    assert!(mail.text().contains("Where: Park gate"), "{}", mail.text());
    assert!(mail.html().contains("Walk in the park"), "{}", mail.html());
    let attachments = mail.attachments();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0]["filename"], "event.ics");
    assert_eq!(attachments[0]["content_type"], "text/calendar");
    let ics = attachments[0]["content"].as_str().unwrap_or_default();
    assert!(
        ics.contains("BEGIN:VEVENT") && ics.contains("SUMMARY:Walk in the park"),
        "{ics}"
    );

    let header = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let url = header.trim_start_matches('<').trim_end_matches('>');
    let prefix = format!("http://{}/unsubscribe/", node.domain);
    assert!(url.starts_with(&prefix), "{header}");
    assert!(mail.text().contains(url), "the text part links it too");
    let path = &url[url.find("/unsubscribe/").expect("path")..];

    // RFC 8058: a mail program POSTs, without cookies or a CSRF token.
    let response = client()
        .post(format!("{}{path}", node.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("one-click");
    assert_eq!(response.status(), 200);
    assert_eq!(
        mail::enqueue(&db, &ctx, reminder()).await.expect("enqueue"),
        Enqueued::Skipped(Skipped::TurnedOff)
    );
    let cookie = session_cookie(&node, "eva", "eva password").await;
    let (_, settings) = get(&node, "/settings/email", Some(&cookie)).await;
    assert!(settings.contains("event reminders"), "{settings}");
    let (status, _) = post_form(&node, "/settings/email", Some(&cookie), "turn_on=event_reminder").await;
    assert_eq!(status, 200);
    assert!(matches!(
        mail::enqueue(&db, &ctx, reminder()).await.expect("enqueue"),
        Enqueued::Queued(_)
    ));
    let (status, _) = get(&node, "/unsubscribe/not-a-token", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn without_an_smtp_server_the_node_works_and_says_email_is_off() {
    let node = TestNode::start().await;
    let made = node.admin(&[
        "admin",
        "create-user",
        "ada",
        "--password",
        "admin passphrase",
        "--admin",
    ]);
    assert!(made.status.success(), "{made:?}");
    let admin = session_cookie(&node, "ada", "admin passphrase").await;
    let (_, page) = get(&node, "/admin/node", Some(&admin)).await;
    assert_eq!(page.matches("Email is off").count(), 1, "said once: {page}");
    let (_, page) = get(&node, "/password/forgot", None).await;
    assert!(page.contains("id=\"email-off\""), "{page}");

    let (status, _) = post_form(
        &node,
        "/register",
        None,
        "username=rosa&password=a+long+password&email=rosa%40example.test",
    )
    .await;
    assert_eq!(status, 303, "registration with an address works as before");
    let cookie = session_cookie(&node, "rosa", "a long password").await;
    let (_, settings) = get(&node, "/settings/email", Some(&cookie)).await;
    assert!(settings.contains("rosa@example.test"), "{settings}");
    let db = database(&node).await;
    assert_eq!(queries::email::count_pending(&db).await.expect("count"), 0);
}
