//! A real node process answering over HTTP: discovery, content negotiation,
//! the API's error contract, CSRF, and the admin command line.

mod common;

use common::{TestNode, client, session_cookie};
use serde_json::{Value, json};

#[tokio::test]
async fn discovery_documents_describe_the_node() {
    let node = TestNode::start().await;
    let http = client();
    let created = http
        .post(format!("{}/api/v1/accounts", node.base))
        .json(&json!({"username": "ana", "password": "long enough"}))
        .send()
        .await
        .expect("register");
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.expect("json");
    assert_eq!(body["actor_id"], format!("https://{}/u/ana", node.domain));

    let links: Value = get_json(&http, format!("{}/.well-known/nodeinfo", node.base)).await;
    assert!(
        links["links"]
            .as_array()
            .expect("links")
            .iter()
            .any(|l| l["rel"].as_str().is_some_and(|r| r.ends_with("/2.1")))
    );
    for version in ["2.0", "2.1"] {
        let info: Value = get_json(&http, format!("{}/nodeinfo/{version}", node.base)).await;
        assert_eq!(info["version"], version);
        assert_eq!(info["software"]["name"], "healthcommons");
        assert_eq!(info["usage"]["users"]["total"], 1);
        assert_eq!(info["openRegistrations"], true);
        assert!(
            info["metadata"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
        );
    }

    let wf = http
        .get(format!("{}/.well-known/webfinger", node.base))
        .query(&[("resource", format!("acct:ana@{}", node.domain))])
        .send()
        .await
        .expect("webfinger");
    assert_eq!(wf.status(), 200);
    assert_eq!(wf.headers()["content-type"], "application/jrd+json");
    let jrd: Value = wf.json().await.expect("jrd");
    assert_eq!(jrd["subject"], format!("acct:ana@{}", node.domain));
    assert!(
        jrd["links"]
            .as_array()
            .expect("links")
            .iter()
            .any(|l| l["rel"] == "self" && l["href"] == body["actor_id"])
    );
    let missing = http
        .get(format!("{}/.well-known/webfinger", node.base))
        .query(&[("resource", format!("acct:nobody@{}", node.domain))])
        .send()
        .await
        .expect("webfinger");
    assert_eq!(missing.status(), 404);
    // The instance actor, as Mastodon names its own (issue 21: GoToSocial
    // looks up the signer of every request this way).
    let instance = http
        .get(format!("{}/.well-known/webfinger", node.base))
        .query(&[("resource", format!("acct:{0}@{0}", node.domain))])
        .send()
        .await
        .expect("webfinger");
    assert_eq!(instance.status(), 200);
    let jrd: Value = instance.json().await.expect("jrd");
    assert_eq!(jrd["subject"], format!("acct:{0}@{0}", node.domain));
    assert!(
        jrd["links"]
            .as_array()
            .expect("links")
            .iter()
            .any(|l| l["rel"] == "self"
                && l["properties"]["https://www.w3.org/ns/activitystreams#type"] == "Application"),
        "{jrd}"
    );
    let elsewhere = http
        .get(format!("{}/.well-known/webfinger", node.base))
        .query(&[("resource", "acct:ana@other.example")])
        .send()
        .await
        .expect("webfinger");
    assert_eq!(elsewhere.status(), 404);

    let host_meta = http
        .get(format!("{}/.well-known/host-meta", node.base))
        .send()
        .await
        .expect("host-meta");
    assert!(
        host_meta
            .text()
            .await
            .expect("text")
            .contains("/.well-known/webfinger?resource={uri}")
    );
}

#[tokio::test]
async fn one_url_serves_people_html_and_servers_json() {
    let node = TestNode::start().await;
    let http = client();
    node.register("ana", "long enough").await;
    let url = format!("{}/u/ana", node.base);
    for accept in [
        "application/activity+json",
        r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#,
    ] {
        let response = http.get(&url).header("accept", accept).send().await.expect("get");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/activity+json");
        let actor: Value = response.json().await.expect("json");
        assert_eq!(actor["type"], "Person");
        assert_eq!(actor["preferredUsername"], "ana");
        assert_eq!(actor["inbox"], format!("https://{}/u/ana/inbox", node.domain));
        assert_eq!(
            actor["endpoints"]["sharedInbox"],
            format!("https://{}/inbox", node.domain)
        );
        assert_eq!(actor["publicKey"]["owner"], actor["id"]);
        assert!(
            actor["publicKey"]["publicKeyPem"]
                .as_str()
                .is_some_and(|k| k.starts_with("-----BEGIN PUBLIC KEY"))
        );
        assert!(actor.get("privateKeyPem").is_none() && !actor.to_string().contains("PRIVATE"));
        assert_eq!(actor["manuallyApprovesFollowers"], false);
        // The terms the ActivityStreams context lacks are defined, as
        // Mastodon defines them, or JSON-LD readers (Fedify) drop them.
        let terms = &actor["@context"][2];
        assert_eq!(actor["@context"][1], "https://w3id.org/security/v1");
        assert_eq!(terms["manuallyApprovesFollowers"], "as:manuallyApprovesFollowers");
        assert_eq!(terms["discoverable"], "toot:discoverable");
        assert_eq!(terms["toot"], "http://joinmastodon.org/ns#");
        assert_eq!(terms["sensitive"], "as:sensitive");
        assert!(
            actor["published"].is_string()
                && actor["followers"].is_string()
                && actor["following"].is_string()
        );
    }
    let html = http
        .get(&url)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("get");
    assert!(
        html.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/html")
    );
    assert_eq!(html.headers()["vary"], "Accept");
    assert!(
        html.text()
            .await
            .expect("html")
            .contains(&format!("@ana@{}", node.domain))
    );

    let followers: Value = get_activity_json(&http, format!("{url}/followers")).await;
    assert_eq!(followers["type"], "OrderedCollection");
    assert_eq!(followers["totalItems"], 0);

    let instance: Value = get_activity_json(&http, format!("{}/actor", node.base)).await;
    assert_eq!(instance["type"], "Application");
    let missing = http
        .get(format!("{}/u/nobody", node.base))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
}

async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    http.get(url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

async fn get_activity_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    let response = http
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("get");
    response.json().await.expect("json")
}

/// (method, path, bearer token, body, expected status, expected error kind)
type Case<'a> = (&'a str, &'a str, Option<&'a str>, Body, u16, &'a str);

enum Body {
    None,
    Json(Value),
    Raw(&'static str, &'static str),
}

/// Send one request and check its status, and for errors the `{error, message}` shape.
async fn expect(http: &reqwest::Client, url: &str, (method, path, token, body, status, kind): Case<'_>) {
    let mut request = http.request(method.parse().expect("method"), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request = match body {
        Body::None => request,
        Body::Json(value) => request.json(&value),
        Body::Raw(content_type, text) => request.header("content-type", content_type).body(text),
    };
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), status, "{method} {path}");
    if status >= 400 {
        let body: Value = response.json().await.expect("error json");
        assert_eq!(body["error"], kind, "{method} {path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
}

#[tokio::test]
async fn the_api_answers_errors_in_one_shape() {
    let node = TestNode::start().await;
    let http = client();
    let api = |path: &str| format!("{}/api/v1{path}", node.base);

    let before_login: [Case; 10] = [
        (
            "POST",
            "/accounts",
            None,
            Body::Json(json!({"username": "Bad Name", "password": "long enough"})),
            422,
            "validation",
        ),
        (
            "POST",
            "/accounts",
            None,
            Body::Json(json!({"username": "ana", "password": "short"})),
            422,
            "validation",
        ),
        (
            "POST",
            "/accounts",
            None,
            Body::Raw("application/json", "{nope"),
            422,
            "validation",
        ),
        (
            "POST",
            "/accounts",
            None,
            Body::Raw("text/plain", "username=ana"),
            422,
            "validation",
        ),
        (
            "POST",
            "/accounts",
            None,
            Body::Json(json!({"username": "ana", "password": "long enough"})),
            201,
            "",
        ),
        (
            "POST",
            "/accounts",
            None,
            Body::Json(json!({"username": "ana", "password": "long enough"})),
            409,
            "conflict",
        ),
        (
            "POST",
            "/auth/token",
            None,
            Body::Json(json!({"username": "ana", "password": "wrong one"})),
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/groups",
            None,
            Body::Json(json!({"name": "walkers", "display_name": "W"})),
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/groups",
            Some("forged"),
            Body::Json(json!({"name": "walkers", "display_name": "W"})),
            401,
            "unauthorized",
        ),
        ("GET", "/groups/nothing", None, Body::None, 404, "not_found"),
    ];
    for case in before_login {
        expect(&http, &api(case.1), case).await;
    }

    let bearer = node.token("ana", "long enough").await;
    let token = Some(bearer.as_str());
    let after_login: [Case; 5] = [
        (
            "POST",
            "/groups",
            token,
            Body::Json(json!({"name": "walkers", "display_name": "Walkers",
            "summary": "<script>x()</script>\n\n**Walk**"})),
            201,
            "",
        ),
        (
            "POST",
            "/groups",
            token,
            Body::Json(json!({"name": "ana", "display_name": "Clash"})),
            409,
            "conflict",
        ),
        (
            "POST",
            "/follows",
            token,
            Body::Json(json!({"target": "not a handle"})),
            422,
            "validation",
        ),
        (
            "POST",
            "/follows",
            token,
            Body::Json(json!({"target": "@walkers@127.0.0.1:6379"})),
            422,
            "validation",
        ),
        (
            "PUT",
            "/admin/registration",
            token,
            Body::Json(json!({"mode": "closed"})),
            403,
            "forbidden",
        ),
    ];
    for case in after_login {
        expect(&http, &api(case.1), case).await;
    }
    let group: Value = get_json(&http, api("/groups/walkers")).await;
    assert_eq!(group["followers_count"], 0);
    assert_eq!(
        group["summary_html"], "<p><strong>Walk</strong></p>",
        "markdown rendered, script removed"
    );

    // Following a local group is accepted at once: 200, not 202.
    let follow = http
        .post(api("/follows"))
        .bearer_auth(&bearer)
        .json(&json!({"target": format!("@walkers@{}", node.domain)}))
        .send()
        .await
        .expect("r");
    assert_eq!(follow.status(), 200);
    let group: Value = get_json(&http, api("/groups/walkers")).await;
    assert_eq!(group["followers_count"], 1);

    let openapi: Value = get_json(&http, format!("{}/api/openapi.json", node.base)).await;
    for path in [
        "/api/v1/accounts",
        "/api/v1/auth/token",
        "/api/v1/instance",
        "/api/v1/groups",
        "/api/v1/groups/{name}",
        "/api/v1/follows",
        "/api/v1/events",
        "/api/v1/events/{id}/participation",
        "/api/v1/groups/{name}/agenda",
        "/api/v1/questions/{id}/votes",
        "/api/v1/pledges",
        "/api/v1/pledges/{id}/status",
        "/api/v1/pledges/{id}/backers",
        "/api/v1/groups/{name}/pledges",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(openapi["components"]["schemas"].get("ErrorBody").is_some());
}

#[tokio::test]
async fn registration_follows_the_admins_policy() {
    let node = TestNode::start().await;
    let out = node.admin(&[
        "admin",
        "create-user",
        "root",
        "--password",
        "long enough",
        "--admin",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let http = client();
    let token = node.token("root", "long enough").await;
    let api = |path: &str| format!("{}/api/v1{path}", node.base);

    let admin = Some(token.as_str());
    let approval: Case = (
        "PUT",
        "/admin/registration",
        admin,
        Body::Json(json!({"mode": "approval"})),
        204,
        "",
    );
    expect(&http, &api(approval.1), approval).await;
    let created: Value = http
        .post(api("/accounts"))
        .json(&json!({"username": "ben", "password": "long enough"}))
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    assert_eq!(created["state"], "awaiting_approval");
    let awaiting: Case = (
        "POST",
        "/auth/token",
        None,
        Body::Json(json!({"username": "ben", "password": "long enough"})),
        403,
        "forbidden",
    );
    expect(&http, &api(awaiting.1), awaiting).await;
    let out = node.admin(&["admin", "approve", "ben"]);
    assert!(out.status.success());
    node.token("ben", "long enough").await;

    // The same through the API: an admin sees who waits and approves them.
    let dee: Case = (
        "POST",
        "/accounts",
        None,
        Body::Json(json!({"username": "dee", "password": "long enough"})),
        201,
        "",
    );
    expect(&http, &api(dee.1), dee).await;
    let listed = http
        .get(api("/admin/accounts"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("r");
    let listed: Value = listed.json().await.expect("json");
    assert!(
        listed
            .as_array()
            .expect("list")
            .contains(&json!({"username": "dee", "role": "member", "state": "awaiting_approval"})),
        "{listed}"
    );
    let approvals: [Case; 3] = [
        (
            "POST",
            "/admin/accounts/dee/approve",
            None,
            Body::None,
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/admin/accounts/nobody/approve",
            admin,
            Body::None,
            404,
            "not_found",
        ),
        ("POST", "/admin/accounts/dee/approve", admin, Body::None, 204, ""),
    ];
    for case in approvals {
        expect(&http, &api(case.1), case).await;
    }
    node.token("dee", "long enough").await;

    let closing: [Case; 2] = [
        (
            "PUT",
            "/admin/registration",
            admin,
            Body::Json(json!({"mode": "closed"})),
            204,
            "",
        ),
        (
            "POST",
            "/accounts",
            None,
            Body::Json(json!({"username": "cai", "password": "long enough"})),
            403,
            "forbidden",
        ),
    ];
    for case in closing {
        expect(&http, &api(case.1), case).await;
    }
    let instance: Value = get_json(&http, api("/instance")).await;
    assert_eq!(instance["registration_mode"], "closed");
    assert_eq!(instance["software"]["name"], "healthcommons");

    let profile: Case = (
        "PUT",
        "/node/profile",
        admin,
        Body::Json(json!({
            "initiative_name": "Riverside Health Circle", "description": "Walking groups and peer support",
            "location": {"name": "Riverside", "latitude": 51.5, "longitude": -0.1}
        })),
        200,
        "",
    );
    expect(&http, &api(profile.1), profile).await;
    let instance: Value = get_json(&http, api("/instance")).await;
    assert_eq!(instance["initiative_name"], "Riverside Health Circle");
    assert_eq!(instance["location"]["latitude"], 51.5);
    let bad: Case = (
        "PUT",
        "/node/profile",
        admin,
        Body::Json(
            json!({"initiative_name": "X", "location": {"name": "Nowhere", "latitude": 123.0, "longitude": 0.0}}),
        ),
        422,
        "validation",
    );
    expect(&http, &api(bad.1), bad).await;

    let out = node.admin(&["admin", "list-users"]);
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed.contains("root\tadmin\tactive") && listed.contains("ben\tmember\tactive"),
        "{listed}"
    );
    let out = node.admin(&["admin", "set-role", "ben", "moderator"]);
    assert!(out.status.success());
    let out = node.admin(&["admin", "list-users"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ben\tmoderator"));
    let out = node.admin(&["admin", "set-role", "ben", "emperor"]);
    assert!(!out.status.success());

    let queue = http
        .get(api("/admin/deliveries"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("r");
    assert_eq!(queue.status(), 200);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let node = TestNode::start().await;
    let response = client()
        .post(format!("{}/register", node.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", "hc_csrf=the-real-token")
        .body("csrf=guess&username=eve&password=long+enough")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
    let check = client()
        .post(format!("{}/api/v1/auth/token", node.base))
        .json(&json!({"username": "eve", "password": "long enough"}))
        .send()
        .await
        .expect("token");
    assert_eq!(check.status(), 401, "no account was created");
}

#[test]
fn debug_config_shows_the_merged_configuration_without_secrets() {
    let dir = tempfile::tempdir().expect("dir");
    let output = common::command("health.example", 8080, dir.path(), &["debug", "config"])
        .env(
            "HEALTHCOMMONS_DATABASE_URL",
            "postgres://hc:topsecret@db.internal/hc",
        )
        .output()
        .expect("run");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("domain = \"health.example\""), "{text}");
    assert!(
        text.contains("db.internal") && !text.contains("topsecret"),
        "{text}"
    );

    let bad = common::command("health.example", 8080, dir.path(), &["debug", "config"])
        .env("HEALTHCOMMONS_DEV_FEDERATION", "perhaps")
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("HEALTHCOMMONS_DEV_FEDERATION"));
}

#[test]
fn a_database_keeps_the_domain_it_was_created_with() {
    let dir = tempfile::tempdir().expect("dir");
    let first = common::command("one.example", 8080, dir.path(), &["admin", "list-users"])
        .output()
        .expect("run");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let other = common::command("two.example", 8080, dir.path(), &["admin", "list-users"])
        .output()
        .expect("run");
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("one.example"));
}

#[tokio::test]
async fn readiness_and_metrics_are_served() {
    let metrics_port = common::free_port();
    let bind = format!("127.0.0.1:{metrics_port}");
    let node = TestNode::start_with(&[("HEALTHCOMMONS_METRICS_BIND", &bind)]).await;
    let http = client();
    assert_eq!(
        http.get(format!("{}/livez", node.base))
            .send()
            .await
            .expect("livez")
            .status(),
        200
    );
    let ready: Value = get_json(&http, format!("{}/readyz", node.base)).await;
    assert_eq!(
        ready,
        json!({"ready": true, "database": true, "migrations_current": true,
                             "delivery_worker": true, "inbox_worker": true, "email": "off"})
    );
    // An unsigned POST to the inbox counts as a signature failure.
    let refused = http
        .post(format!("{}/inbox", node.base))
        .header("content-type", "application/activity+json")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 401);
    let text = http
        .get(format!("http://{bind}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains("healthcommons_http_requests_total"), "{text}");
    assert!(
        text.contains(r#"healthcommons_signature_failures_total{reason="missing"} 1"#),
        "{text}"
    );
    // Metrics stay off the public address.
    assert_eq!(
        http.get(format!("{}/metrics", node.base))
            .send()
            .await
            .expect("r")
            .status(),
        404
    );
}

/// Every feature of a map.geojson document, read with the `geojson` crate:
/// (kind, name, [lon, lat]).
fn parse_map(text: &str) -> Vec<(String, String, Vec<f64>)> {
    let parsed: geojson::GeoJson = text.parse().expect("valid GeoJSON");
    let geojson::GeoJson::FeatureCollection(collection) = parsed else {
        panic!("not a FeatureCollection: {text}");
    };
    collection
        .features
        .iter()
        .map(|feature| {
            let geometry = feature.geometry.as_ref().expect("a geometry");
            let geojson::GeometryValue::Point { coordinates } = &geometry.value else {
                panic!("not a point: {text}");
            };
            let property = |key: &str| {
                feature
                    .property(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                property("kind"),
                property("name"),
                coordinates.as_slice().to_vec(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_node_profile_is_checked_published_and_put_on_the_map() {
    let node = TestNode::start().await;
    let out = node.admin(&[
        "admin",
        "create-user",
        "root",
        "--password",
        "long enough",
        "--admin",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let http = client();
    let admin = node.token("root", "long enough").await;
    let api = |path: &str| format!("{}/api/v1{path}", node.base);
    let member = {
        let created = http
            .post(api("/accounts"))
            .json(&json!({"username": "mia", "password": "long enough"}))
            .send()
            .await
            .expect("register");
        assert_eq!(created.status(), 201);
        node.token("mia", "long enough").await
    };

    let good = json!({
        "initiative_name": "Riverside\u{202e} Health Circle",
        "description": "Walking groups and peer support",
        "location": {"name": "Riverside", "address": "1 River Lane", "latitude": 51.5, "longitude": -0.1},
        "topics": ["#Walking", "walking", "peer_support"],
        "website": "https://riverside.example/",
        "contact": "hello@riverside.example"
    });
    let denied = http
        .put(api("/node/profile"))
        .bearer_auth(&member)
        .json(&good)
        .send()
        .await
        .expect("put");
    assert_eq!(denied.status(), 403);

    let hostile = [
        (
            json!({"initiative_name": "X", "location": {"name": "N", "latitude": 95.0, "longitude": 0.0}}),
            "latitude",
        ),
        (
            json!({"initiative_name": "X", "location": {"name": "N", "latitude": 0.0, "longitude": 181.0}}),
            "longitude",
        ),
        (
            json!({"initiative_name": "X", "location": {"name": "N", "latitude": 10.0}}),
            "latitude",
        ),
        (
            json!({"initiative_name": "X", "website": "javascript:alert(1)"}),
            "website",
        ),
        (
            json!({"initiative_name": "X", "website": "not a link"}),
            "website",
        ),
        (json!({"initiative_name": "\u{7}  "}), "initiative_name"),
        (
            json!({"initiative_name": "X", "topics": (0..30).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "topics",
        ),
        (
            json!({"initiative_name": "X", "location": {"name": "N", "latitude": "north", "longitude": 0.0}}),
            "latitude",
        ),
    ];
    for (body, field) in hostile {
        let response = http
            .put(api("/node/profile"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .expect("put");
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["error"], "validation", "{body}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(field)),
            "{body}: {error}"
        );
    }

    let saved: Value = http
        .put(api("/node/profile"))
        .bearer_auth(&admin)
        .json(&good)
        .send()
        .await
        .expect("put")
        .json()
        .await
        .expect("json");
    assert_eq!(saved["initiative_name"], "Riverside Health Circle");
    assert_eq!(saved["topics"], json!(["walking", "peer_support"]));
    assert_eq!(get_json(&http, api("/node/profile")).await, saved);

    let info: Value = get_json(&http, format!("{}/nodeinfo/2.1", node.base)).await;
    let initiative = &info["metadata"]["initiative"];
    assert_eq!(initiative["name"], "Riverside Health Circle");
    assert_eq!(initiative["location"]["latitude"], 51.5);
    assert_eq!(initiative["website"], "https://riverside.example/");
    assert_eq!(
        info["metadata"]["directoryPeers"],
        format!("https://{}/api/v1/directory/peers", node.domain)
    );

    let group = http
        .post(api("/groups"))
        .bearer_auth(&member)
        .json(&json!({"name": "walkers", "display_name": "Saturday walkers",
                      "place": {"name": "The park", "latitude": 51.51, "longitude": -0.12}}))
        .send()
        .await
        .expect("group");
    assert_eq!(group.status(), 201);

    let response = http.get(api("/map.geojson")).send().await.expect("geojson");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/geo+json");
    let features = parse_map(&response.text().await.expect("text"));
    assert_eq!(
        features,
        vec![
            (
                "initiative".into(),
                "Riverside Health Circle".into(),
                vec![-0.1, 51.5]
            ),
            ("group".into(), "Saturday walkers".into(), vec![-0.12, 51.51]),
        ]
    );
    let peers: Value = get_json(&http, api("/directory/peers")).await;
    assert_eq!(peers, json!([]));

    let openapi: Value = get_json(&http, format!("{}/api/openapi.json", node.base)).await;
    for path in [
        "/api/v1/node/profile",
        "/api/v1/map.geojson",
        "/api/v1/directory/peers",
        "/api/v1/admin/directory",
        "/api/v1/admin/directory/{host}/hidden",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} is in the OpenAPI document"
        );
    }
}

/// Sign in through the login form; returns the `Cookie` header of the session.
async fn page(http: &reqwest::Client, url: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = http.get(url).header("accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("get");
    let status = response.status().as_u16();
    assert!(
        response.headers().get("set-cookie").is_none() || cookie.is_some(),
        "an anonymous page sets no cookie, so that every anonymous reader gets the same one"
    );
    (status, response.text().await.expect("body"))
}

async fn thread_json(http: &reqwest::Client, node: &TestNode, id: &str, token: Option<&str>) -> (u16, Value) {
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let mut request = http.get(format!("{}/api/v1/posts/{encoded}", node.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("get");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn cached_anonymous_reads_follow_writes_and_never_cross_viewers() {
    let node = TestNode::start().await;
    let http = client();
    node.register("ana", "long enough").await;
    let token = node.token("ana", "long enough").await;
    let post = |body: Value| {
        let http = http.clone();
        let url = format!("{}/api/v1/posts", node.base);
        let token = token.clone();
        async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("post");
            assert_eq!(response.status(), 201);
            let created: Value = response.json().await.expect("json");
            created["id"].as_str().expect("id").to_owned()
        }
    };
    for (name, visibility) in [("walkers", "public"), ("club", "members")] {
        let created = http
            .post(format!("{}/api/v1/groups", node.base))
            .bearer_auth(&token)
            .json(&json!({"name": name, "display_name": name, "visibility": visibility}))
            .send()
            .await
            .expect("group");
        assert_eq!(created.status(), 201);
    }

    // A write through the API shows at once to an anonymous reader whose
    // earlier read was cached.
    let thread = post(json!({"group": "walkers", "title": "Winter routes", "content": "Where?"})).await;
    for _ in 0..3 {
        let (status, body) = thread_json(&http, &node, &thread, None).await;
        assert_eq!(status, 200);
        assert_eq!(body["replies"].as_array().map(Vec::len), Some(0));
    }
    let group_page = format!("{}/g/walkers", node.base);
    let (_, before) = page(&http, &group_page, None).await;
    assert!(before.contains("Winter routes") && !before.contains("Summer routes"));
    post(json!({"in_reply_to": thread, "content": "By the river."})).await;
    let (_, body) = thread_json(&http, &node, &thread, None).await;
    assert_eq!(
        body["replies"].as_array().map(Vec::len),
        Some(1),
        "the reply shows at once"
    );
    post(json!({"group": "walkers", "title": "Summer routes", "content": "Hills."})).await;
    let (_, after) = page(&http, &group_page, None).await;
    assert!(after.contains("Summer routes"), "the new thread shows at once");

    // A signed-in viewer's page is never served to an anonymous reader, nor
    // the other way round, whichever comes first.
    let cookie = session_cookie(&node, "ana", "long enough").await;
    for _ in 0..2 {
        let (_, anonymous) = page(&http, &group_page, None).await;
        assert!(!anonymous.contains("Start a thread") && anonymous.contains("Sign in</a> to join"));
        let (_, signed_in) = page(&http, &group_page, Some(&cookie)).await;
        assert!(signed_in.contains("Start a thread") && signed_in.contains("name=\"csrf\""));
    }

    // A members-only group's threads reach neither the anonymous page nor
    // the anonymous API, before or after a member has read them.
    let secret = post(json!({"group": "club", "title": "Secret plans", "content": "Shh."})).await;
    let club_page = format!("{}/g/club", node.base);
    for _ in 0..2 {
        let (_, anonymous) = page(&http, &club_page, None).await;
        assert!(!anonymous.contains("Secret plans"));
        let (_, member) = page(&http, &club_page, Some(&cookie)).await;
        assert!(member.contains("Secret plans"));
        assert_eq!(thread_json(&http, &node, &secret, None).await.0, 404);
        let (status, body) = thread_json(&http, &node, &secret, Some(&token)).await;
        assert_eq!((status, body["title"].as_str()), (200, Some("Secret plans")));
    }
}

/// Every kind of local object answers at its id the same way: JSON with a
/// context for servers, its page (or a redirect to it) for people, `410 Gone`
/// with a `Tombstone` once deleted, and a 404 for an id that names nothing.
#[tokio::test]
async fn every_object_is_served_at_its_id_the_same_way() {
    let node = TestNode::start().await;
    let http = client();
    node.register("ana", "long enough").await;
    let token = node.token("ana", "long enough").await;
    let create = |path: &'static str, body: Value| {
        let (http, token, base) = (&http, &token, &node.base);
        async move {
            let response = http
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("create");
            assert!(
                response.status().is_success(),
                "POST {path}: {}",
                response.status()
            );
            response.json::<Value>().await.expect("created")
        }
    };
    create(
        "/api/v1/groups",
        json!({"name": "walkers", "display_name": "Walkers"}),
    )
    .await;
    let thread = create(
        "/api/v1/posts",
        json!({"group": "walkers", "title": "Saturday", "content": "Who comes?"}),
    )
    .await;
    let starts = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let event = create(
        "/api/v1/events",
        json!({"kind": "workshop", "group": "walkers", "title": "Map reading",
               "description": "Bring a compass.", "starts_at": starts}),
    )
    .await;
    let question = create(
        "/api/v1/groups/walkers/agenda",
        json!({"question": "Longer walks?", "options": ["Yes", "No"]}),
    )
    .await;
    let pledge = create(
        "/api/v1/pledges",
        json!({"on": "event", "target_id": event["id"], "action": "bring maps"}),
    )
    .await;
    let item = create(
        "/api/v1/garden",
        json!({"kind": "story", "group": "walkers", "title": "Our first walk",
               "summary": "Six of us.", "fields": {"narrative": "We walked.", "outcome": "We came back."}}),
    )
    .await;
    let objects = [
        (thread["id"].as_str(), "Note", "/api/v1/posts/"),
        (event["ap_id"].as_str(), "Event", "/api/v1/events/"),
        (question["ap_id"].as_str(), "Question", ""),
        (pledge["ap_id"].as_str(), "Note", ""),
        (item["id"].as_str(), "Note", "/api/v1/garden/"),
    ];
    let local = |id: &str| id.replace(&format!("https://{}", node.domain), &node.base);
    for (id, kind, _) in objects {
        let id = id.expect("an id");
        let json = get_activity_json(&http, local(id)).await;
        assert_eq!(
            (json["id"].as_str(), json["type"].as_str()),
            (Some(id), Some(kind)),
            "{json}"
        );
        assert!(
            json["@context"].is_array() || json["@context"].is_string(),
            "{json}"
        );
        let page = http
            .get(local(id))
            .header("accept", "text/html")
            .send()
            .await
            .expect("page");
        assert!(
            page.status().is_success() || page.status().is_redirection(),
            "{id}: {}",
            page.status()
        );
        assert_eq!(page.headers()["vary"], "Accept", "{id}");
        let nothing = format!("{}x", local(id));
        for accept in ["application/activity+json", "text/html"] {
            let missing = http
                .get(&nothing)
                .header("accept", accept)
                .send()
                .await
                .expect("get");
            assert_eq!(missing.status(), 404, "{nothing} as {accept}");
        }
    }
    // Deleted: a Tombstone that says what it was.
    for (id, kind, api) in objects.into_iter().filter(|(_, _, api)| !api.is_empty()) {
        let id = id.expect("an id");
        let key = if api.contains("events") {
            event["id"].to_string()
        } else {
            urlencoding(id)
        };
        let deleted = http
            .delete(format!("{}{api}{key}", node.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("delete");
        assert!(deleted.status().is_success(), "delete {id}: {}", deleted.status());
        let gone = http
            .get(local(id))
            .header("accept", "application/activity+json")
            .send()
            .await
            .expect("get");
        assert_eq!(gone.status(), 410, "{id}");
        let tombstone: Value = gone.json().await.expect("tombstone");
        assert_eq!(tombstone["type"], "Tombstone", "{tombstone}");
        assert_eq!(tombstone["formerType"], kind, "{tombstone}");
        assert_eq!(tombstone["id"], id, "{tombstone}");
    }
}

fn urlencoding(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}
