//! The visibility matrix: what is said in a members-only working group
//! reaches its members and nobody else, on every route the node serves.
//!
//! A members-only group gets one of each kind of content (a thread, an event
//! with an address and a place on the map, an agenda question, a pledge and
//! a garden story with a place), every one carrying a marker word. Then every
//! GET route of the router, read from the web crate's sources so that a new
//! route is probed the day it is added, is asked by every kind of viewer, as
//! a page, as API JSON and as ActivityPub JSON. Only the group's members and
//! its moderator may ever see the marker; the test also checks that they do
//! see it, so a marker that never shows cannot make it pass.
//!
//! Runs on SQLite, and on PostgreSQL too when `HEALTHCOMMONS_TEST_POSTGRES_URL`
//! is set (`.ci/run` sets it). Remote viewers (signed GETs of members and
//! non-members on other nodes) are in `federation-tests`.

mod common;

use common::{TestNode, client, session_cookie};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// In every piece of members-only content, and nowhere else.
const MARKER: &str = "Quillwort";
/// A public group's content, to show the probes reach real content.
const OPEN_MARKER: &str = "Meadowsweet";

struct Viewer {
    name: &'static str,
    token: Option<String>,
    cookie: Option<String>,
    /// Whether the group keeps its content among this viewer.
    belongs: bool,
}

#[tokio::test]
async fn members_only_content_is_seen_by_members_only_on_every_route_sqlite() {
    let node = TestNode::start().await;
    members_only_content_is_seen_by_members_only(&node).await;
}

#[tokio::test]
async fn members_only_content_is_seen_by_members_only_on_every_route_postgres() {
    let Ok(admin_url) = std::env::var("HEALTHCOMMONS_TEST_POSTGRES_URL") else {
        eprintln!("NOTICE: HEALTHCOMMONS_TEST_POSTGRES_URL is not set; the PostgreSQL matrix did not run");
        return;
    };
    let url = healthcommons_db::testing::fresh_postgres_database(&admin_url)
        .await
        .expect("a fresh PostgreSQL database");
    let node = TestNode::start_with(&[("HEALTHCOMMONS_DATABASE_URL", &url)]).await;
    members_only_content_is_seen_by_members_only(&node).await;
}

async fn members_only_content_is_seen_by_members_only(node: &TestNode) {
    let made = node.admin(&[
        "admin",
        "create-user",
        "ada",
        "--password",
        "admin passphrase",
        "--admin",
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    for name in ["olga", "mia", "pat", "nina"] {
        let response = client()
            .post(format!("{}/api/v1/accounts", node.base))
            .json(&json!({"username": name, "password": "walking together"}))
            .send()
            .await
            .expect("register");
        assert!(response.status().is_success(), "register {name}");
    }
    let olga = node.token("olga", "walking together").await;
    let mia = node.token("mia", "walking together").await;
    let pat = node.token("pat", "walking together").await;

    // Olga starts a survivors' circle that keeps everything among its members.
    call(
        node,
        &olga,
        "POST",
        "/api/v1/groups",
        json!({"name": "circle", "display_name": "Survivors' circle", "visibility": "members",
               "manually_approves_followers": true, "posting_policy": "members"}),
    )
    .await;
    let handle = format!("@circle@{}", node.domain);
    call(node, &mia, "POST", "/api/v1/follows", json!({"target": handle})).await;
    call(node, &pat, "POST", "/api/v1/follows", json!({"target": handle})).await;
    let mia_request = request_to_join(node, &olga, "mia").await;
    call(
        node,
        &olga,
        "POST",
        &format!("/api/v1/groups/circle/requests/{mia_request}"),
        json!({"accept": true}),
    )
    .await;

    // One of each kind, made first so that they have the low local ids.
    let starts = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let thread = call(
        node,
        &mia,
        "POST",
        "/api/v1/posts",
        json!({"group": "circle", "title": format!("{MARKER} evening"), "content": format!("We talk of {MARKER}. #quillwort")}),
    )
    .await;
    let event = call(
        node,
        &olga,
        "POST",
        "/api/v1/events",
        json!({"kind": "meeting", "group": "circle", "title": format!("{MARKER} meeting"),
               "description": "Our monthly meeting.", "starts_at": starts,
               "place": {"name": "Olga's flat", "address": format!("4 {MARKER} Lane"), "latitude": 51.5, "longitude": -0.1}}),
    )
    .await;
    let question = call(
        node,
        &olga,
        "POST",
        "/api/v1/groups/circle/agenda",
        json!({"question": format!("Shall we invite {MARKER}?"), "options": ["Yes", "No"]}),
    )
    .await;
    let pledge = call(
        node,
        &mia,
        "POST",
        "/api/v1/pledges",
        json!({"on": "event", "target_id": event["id"], "action": format!("bring {MARKER} tea")}),
    )
    .await;
    let story = call(
        node,
        &olga,
        "POST",
        "/api/v1/garden",
        json!({"kind": "story", "group": "circle", "title": format!("{MARKER} story"), "summary": "How we began.",
               "place": {"name": "Riverside", "latitude": 51.4, "longitude": -0.2}}),
    )
    .await;
    for made in [&event, &question, &pledge] {
        assert_eq!(made["visibility"], "members", "members-only by default: {made}");
    }
    // Notifications about it: the moderator replies, mentioning a stranger
    // and a pending requester, who are told nothing; a member reports the
    // thread, which the node's admin hears of without its content.
    let mentions = format!("@nina@{0} @pat@{0} @mia@{0} welcome", node.domain);
    call(
        node,
        &olga,
        "POST",
        "/api/v1/posts",
        json!({"in_reply_to": thread["id"], "content": mentions}),
    )
    .await;
    call(
        node,
        &mia,
        "POST",
        "/api/v1/reports",
        json!({"post": thread["id"], "comment": "a test report"}),
    )
    .await;
    // A public group's content beside it.
    call(
        node,
        &olga,
        "POST",
        "/api/v1/groups",
        json!({"name": "walkers", "display_name": "Walkers"}),
    )
    .await;
    call(
        node,
        &olga,
        "POST",
        "/api/v1/events",
        json!({"kind": "meeting", "group": "walkers", "title": format!("{OPEN_MARKER} walk"),
               "description": "Along the river.", "starts_at": starts,
               "place": {"name": "Park", "latitude": 51.6, "longitude": -0.3}}),
    )
    .await;

    let ap_ids: Vec<String> = [
        &thread["id"],
        &event["ap_id"],
        &question["ap_id"],
        &pledge["ap_id"],
        &story["id"],
    ]
    .iter()
    .map(|v| v.as_str().expect("an ap id").to_owned())
    .collect();
    let viewers = vec![
        viewer(node, "anonymous", None, false).await,
        viewer(node, "nina (signed in, not a member)", Some("nina"), false).await,
        viewer(node, "pat (asked to join, pending)", Some("pat"), false).await,
        viewer(node, "ada (the node's admin)", Some("ada"), false).await,
        viewer(node, "mia (member)", Some("mia"), true).await,
        viewer(node, "olga (the group's moderator)", Some("olga"), true).await,
    ];

    let routes = get_routes();
    assert!(routes.len() > 60, "the router's GET routes were read: {routes:?}");
    let mut urls = BTreeSet::new();
    for route in &routes {
        urls.extend(concrete(route, node, &ap_ids));
    }
    let http = client();
    let mut seen_by_members = BTreeSet::new();
    let mut leaks = Vec::new();
    for url in &urls {
        for accept in ["text/html", "application/json", "application/activity+json"] {
            for viewer in &viewers {
                let mut request = http.get(format!("{}{url}", node.base)).header("accept", accept);
                if let Some(token) = &viewer.token {
                    request = request.bearer_auth(token);
                }
                if let Some(cookie) = &viewer.cookie {
                    request = request.header("cookie", cookie);
                }
                let response = request.send().await.expect("get");
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                assert!(
                    status < 500,
                    "{url} ({accept}) for {} answered {status}: {body}",
                    viewer.name
                );
                if !body.contains(MARKER) {
                    continue;
                }
                if viewer.belongs {
                    seen_by_members.insert(url.clone());
                } else {
                    leaks.push(format!(
                        "{url} ({accept}) showed members-only content to {}",
                        viewer.name
                    ));
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "members-only content leaked:\n{}",
        leaks.join("\n")
    );

    // Members do see it where it lives, so the marker is real.
    let event_id = event["id"].as_i64().expect("event id");
    let question_id = question["id"].as_i64().expect("question id");
    let pledge_id = pledge["id"].as_i64().expect("pledge id");
    for expected in [
        "/g/circle".to_owned(),
        "/api/v1/groups/circle/threads".to_owned(),
        "/events".to_owned(),
        "/events.ics".to_owned(),
        "/api/v1/events".to_owned(),
        format!("/events/{event_id}"),
        "/g/circle/agenda".to_owned(),
        format!("/questions/{question_id}"),
        "/api/v1/groups/circle/pledges".to_owned(),
        format!("/pledges/{pledge_id}"),
        "/garden".to_owned(),
        "/api/v1/garden".to_owned(),
        "/api/v1/map.geojson".to_owned(),
        "/notifications".to_owned(),
        "/api/v1/notifications".to_owned(),
    ] {
        assert!(
            seen_by_members.contains(&expected),
            "members should see the group's content on {expected}; they saw it on {seen_by_members:?}"
        );
    }
    // Whom the reply and the report told: mia of the reply, the admin of a
    // report; the stranger and the pending requester of nothing at all.
    let told = |prefix: &'static str| {
        let token = viewers
            .iter()
            .find(|v| v.name.starts_with(prefix))
            .and_then(|v| v.token.clone())
            .expect("a viewer's token");
        let http = &http;
        async move {
            let (status, body) =
                get(http, &format!("{}/api/v1/notifications", node.base), Some(&token)).await;
            assert_eq!(status, 200, "{body}");
            let list: Vec<Value> = serde_json::from_str(&body).expect("a list");
            list.iter()
                .map(|n| n["type"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(told("nina").await, Vec::<String>::new());
    assert_eq!(told("pat").await, Vec::<String>::new());
    assert_eq!(told("ada").await, vec!["report"]);
    assert!(told("mia").await.contains(&"reply".to_owned()));

    // And strangers see public content on the same routes.
    let (_, events) = get(&http, &format!("{}/api/v1/events", node.base), None).await;
    assert!(events.contains(OPEN_MARKER), "{events}");
    assert!(!events.contains(MARKER), "{events}");

    // The node's admin may moderate the group, but not admit herself.
    let ada = node.token("ada", "admin passphrase").await;
    call(node, &ada, "POST", "/api/v1/follows", json!({"target": handle})).await;
    let own = request_to_join(node, &ada, "ada").await;
    let refused = client()
        .post(format!("{}/api/v1/groups/circle/requests/{own}", node.base))
        .bearer_auth(&ada)
        .json(&json!({"accept": true}))
        .send()
        .await
        .expect("decide");
    assert_eq!(refused.status(), 403, "nobody admits themselves");

    // Sharing the story with the whole commons is its group's moderator's
    // act, recorded in its history; a member may not.
    let story_id = story["id"].as_str().expect("story id");
    let story_path = format!("/api/v1/garden/{}", encode(story_id));
    let refused = client()
        .post(format!("{}{story_path}/share", node.base))
        .bearer_auth(&mia)
        .send()
        .await
        .expect("share");
    assert_eq!(refused.status(), 403, "a member may not share it");
    let shared = call(node, &olga, "POST", &format!("{story_path}/share"), Value::Null).await;
    assert_eq!(shared["visibility"], "public", "{shared}");
    let (status, body) = get(&http, &format!("{}{story_path}", node.base), None).await;
    assert_eq!(status, 200, "anyone reads it now: {body}");
    let (_, history) = get(&http, &format!("{}{story_path}/revisions", node.base), None).await;
    assert!(
        history.contains("Shared with the whole commons by") && history.contains("olga"),
        "{history}"
    );

    // A public group made private later takes what it already holds with it.
    let organiser_cookie = viewers
        .iter()
        .find(|v| v.name.starts_with("olga"))
        .and_then(|v| v.cookie.clone())
        .expect("olga's session");
    let saved = http
        .post(format!("{}/g/walkers/settings", node.base))
        .header("cookie", organiser_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=test-token&display_name=Walkers&posting_policy=open&visibility=members")
        .send()
        .await
        .expect("settings");
    let page = saved.text().await.unwrap_or_default();
    assert!(page.contains("Settings saved."), "settings saved: {page}");
    let (_, events) = get(&http, &format!("{}/api/v1/events", node.base), None).await;
    assert!(
        !events.contains(OPEN_MARKER),
        "an event of a group made private: {events}"
    );
    let (_, events) = get(&http, &format!("{}/api/v1/events", node.base), Some(&olga)).await;
    assert!(
        events.contains(OPEN_MARKER),
        "its organiser still sees it: {events}"
    );

    // A calendar program has no session: a member's private link shows the
    // circle's meeting; a pending requester's link, a wrong key and a link
    // replaced by a new one do not.
    let link_of = |token: String| async move {
        let made = call(node, &token, "POST", "/api/v1/calendar_key", json!({})).await;
        let link = made["events"].as_str().expect("the private link");
        // The link names the node's public address; the test node listens here.
        let path = &link[link.find("/events.ics").expect("a calendar path")..];
        format!("{}{path}", node.base)
    };
    let mia_link = link_of(mia.clone()).await;
    let (status, calendar) = get(&http, &mia_link, None).await;
    assert_eq!(status, 200, "{calendar}");
    assert!(
        calendar.contains(MARKER),
        "a member's private calendar: {calendar}"
    );
    let group_link = mia_link.replace("/events.ics", "/g/circle/events.ics");
    let (_, calendar) = get(&http, &group_link, None).await;
    assert!(
        calendar.contains(MARKER),
        "the circle's calendar, privately: {calendar}"
    );
    let (_, calendar) = get(&http, &format!("{}/events.ics", node.base), None).await;
    assert!(!calendar.contains(MARKER), "the public calendar: {calendar}");
    let pat_link = link_of(pat.clone()).await;
    let (status, calendar) = get(&http, &pat_link, None).await;
    assert_eq!(status, 200);
    assert!(
        !calendar.contains(MARKER),
        "a pending requester's calendar: {calendar}"
    );
    let (status, _) = get(&http, &format!("{}/events.ics?key=not-a-key", node.base), None).await;
    assert_eq!(
        status, 404,
        "a wrong key is refused, not answered with the public calendar"
    );
    let renewed = link_of(mia.clone()).await;
    assert_ne!(renewed, mia_link);
    let (status, _) = get(&http, &mia_link, None).await;
    assert_eq!(status, 404, "a replaced link stops working");
    let (_, calendar) = get(&http, &renewed, None).await;
    assert!(calendar.contains(MARKER), "the new link works: {calendar}");
    // The button on the events page makes one too, and shows it once.
    let mia_cookie = viewers
        .iter()
        .find(|v| v.name.starts_with("mia"))
        .and_then(|v| v.cookie.clone())
        .expect("mia's session");
    let (_, events_page) = get(&http, &format!("{}/events", node.base), None).await;
    assert!(
        !events_page.contains("calendar-key-form"),
        "no button for a visitor"
    );
    let page = http
        .post(format!("{}/events/calendar-key", node.base))
        .header("cookie", mia_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=test-token")
        .send()
        .await
        .expect("calendar key page")
        .text()
        .await
        .unwrap_or_default();
    let shown = page
        .split("id=\"calendar-key-link\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the link on the page");
    let path = &shown[shown.find("/events.ics").expect("a calendar path")..];
    let (_, calendar) = get(&http, &format!("{}{path}", node.base), None).await;
    assert!(calendar.contains(MARKER), "the page's link works: {calendar}");
    let (status, _) = get(&http, &renewed, None).await;
    assert_eq!(status, 404, "and replaced the one before");
}

async fn viewer(node: &TestNode, name: &'static str, user: Option<&str>, belongs: bool) -> Viewer {
    let Some(user) = user else {
        return Viewer {
            name,
            token: None,
            cookie: None,
            belongs,
        };
    };
    let password = if user == "ada" {
        "admin passphrase"
    } else {
        "walking together"
    };
    Viewer {
        name,
        token: Some(node.token(user, password).await),
        cookie: Some(session_cookie(node, user, password).await),
        belongs,
    }
}

async fn get(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("get");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// The id of `name`'s pending request to join the circle, as a moderator
/// (or the node's staff, `token`) lists them.
async fn request_to_join(node: &TestNode, token: &str, name: &str) -> i64 {
    let requests = call(node, token, "GET", "/api/v1/groups/circle/requests", Value::Null).await;
    requests
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["handle"].as_str().is_some_and(|h| h.contains(name)))
        })
        .and_then(|r| r["id"].as_i64())
        .unwrap_or_else(|| panic!("{name}'s request to join: {requests}"))
}

/// An API call that must succeed; its JSON answer.
async fn call(node: &TestNode, token: &str, method: &str, path: &str, body: Value) -> Value {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client()
        .request(method.clone(), format!("{}{path}", node.base))
        .bearer_auth(token);
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.expect("call");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn encode(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// Every path the web crate routes with a GET, read from where the router
/// is built: each `.route("…", …)` whose method router has `get(`.
fn get_routes() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/src");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("the web crate's sources") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("source");
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let call = balanced(rest);
            let Some(open) = call.find('"') else { continue };
            let Some(close) = call[open + 1..].find('"') else {
                continue;
            };
            let route = &call[open + 1..open + 1 + close];
            if call.contains("get(") {
                routes.insert(route.to_owned());
            }
        }
    }
    routes
}

/// The text of a call's arguments, up to its closing parenthesis.
fn balanced(text: &str) -> &str {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    text
}

/// The URLs to probe for a route: every placeholder filled with each value
/// that names something of the members-only group. A placeholder this test
/// does not know fails it, so a new kind of route gets a case.
fn concrete(route: &str, node: &TestNode, ap_ids: &[String]) -> Vec<String> {
    let tokens: Vec<String> = ap_ids
        .iter()
        .filter_map(|id| id.rsplit('/').next().map(str::to_owned))
        .collect();
    let mut ids: Vec<String> = (1..=3).map(|n| n.to_string()).collect();
    ids.extend(ap_ids.iter().map(|id| encode(id)));
    let mut urls = vec![String::new()];
    for segment in route.split('/').skip(1) {
        let values: Vec<String> = match segment {
            "{name}" => vec!["circle".into()],
            "{id}" => ids.clone(),
            "{token}" => tokens.clone(),
            "{collection}" => ["followers", "following", "outbox", "moderators"]
                .map(String::from)
                .to_vec(),
            "{feed}" => ["home", "local", "federated"].map(String::from).to_vec(),
            "{tag}" => vec!["quillwort".into()],
            "{host}" => vec![node.domain.clone()],
            "{person}" | "{participant}" => vec!["1".into(), "2".into()],
            other if other.starts_with('{') => {
                panic!("the visibility matrix has no values for {other} in {route}")
            }
            literal => vec![literal.to_owned()],
        };
        urls = urls
            .iter()
            .flat_map(|prefix| values.iter().map(move |v| format!("{prefix}/{v}")))
            .collect();
    }
    if route == "/" {
        urls = vec!["/".into()];
    }
    urls
}
