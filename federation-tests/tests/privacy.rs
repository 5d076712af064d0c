//! Issue 20: what a members-only working group says stays among its members.
//! Three nodes and a Mastodon-shaped peer; a carers' circle on beta that
//! approves members by hand. One member on alpha; on gamma a person whose
//! request waits and one who only follows the organiser; on Mastodon one
//! accepted member (Mastodon does not understand groups) and one who waits.

use healthcommons_federation_tests::{
    Node, api, call, client, create, encoded, mastodon::MastodonPeer, wait_for,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const NODE: &str = env!("CARGO_BIN_EXE_healthcommons-node");
const PATIENCE: Duration = Duration::from_secs(60);

/// Ask to follow `target` (a handle or an actor id) from `node`.
async fn follow(node: &Node, token: &str, target: &str) {
    let (status, body) = api(
        node,
        token,
        Method::POST,
        "/api/v1/follows",
        Some(json!({"target": target})),
    )
    .await;
    assert_eq!(status, 202, "follow {target}: {body}");
}

/// The state of the follow of `target` by the holder of `token` on `node`, once it is `state`.
async fn wait_for_follow(node: &Node, token: &str, target: &str, state: &str) {
    wait_for(
        &format!("{target} {state} on {}", node.name),
        PATIENCE,
        || async {
            let (_, follows) = api(node, token, Method::GET, "/api/v1/follows", None).await;
            follows
                .as_array()?
                .iter()
                .any(|f| f["target"] == target && f["state"] == state)
                .then_some(())
        },
    )
    .await;
}

/// The object `id` as `node` shows it to the holder of `token` at `path`: the
/// element of a list whose `ap_id` or `id` it is, or the object itself.
async fn wait_for_object(node: &Node, token: &str, path: &str, id: &str) -> Value {
    wait_for(&format!("{id} in {path} on {}", node.name), PATIENCE, || async {
        match api(node, token, Method::GET, path, None).await {
            (200, Value::Array(items)) => items.into_iter().find(|i| i["ap_id"] == id || i["id"] == id),
            (200, object) if object["id"] == id || object["ap_id"] == id => Some(object),
            _ => None,
        }
    })
    .await
}

/// Fail when `text` (what `what` answered) names any of `secrets`.
fn assert_hidden(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "{what} shows {secret:?}: {text}");
    }
}

#[tokio::test]
async fn a_members_only_circle_keeps_everything_among_its_members() {
    let (alpha, beta, gamma) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[]),
        Node::start(NODE, "gamma.test", &[])
    );
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let organiser = beta.user("organiser").await;
    let group = create(
        &beta,
        &organiser,
        "/api/v1/groups",
        json!({"name": "circle", "display_name": "Carers' circle", "visibility": "members",
               "posting_policy": "members", "manually_approves_followers": true}),
    )
    .await;
    let group_id = group["actor_id"].as_str().expect("actor id").to_owned();
    let remote = format!("circle@{}", beta.domain);

    // Four ask to join: ana (alpha), gus (gamma), mia and max (Mastodon).
    // gwen on gamma only follows the organiser.
    let (ana, gus, gwen) = (
        alpha.user("ana").await,
        gamma.user("gus").await,
        gamma.user("gwen").await,
    );
    follow(&alpha, &ana, &format!("@{remote}")).await;
    follow(&gamma, &gus, &format!("@{remote}")).await;
    for name in ["mia", "max"] {
        let request = json!({
            "@context": "https://www.w3.org/ns/activitystreams", "type": "Follow",
            "id": format!("{}/follows/{name}", peer.base), "actor": peer.actor_id(name), "object": group_id,
        });
        let response = peer.deliver(name, &format!("{group_id}/inbox"), &request).await;
        assert_eq!(response.status(), 202);
    }
    let organiser_id = format!("{}/u/organiser", beta.base);
    follow(&gamma, &gwen, &format!("@organiser@{}", beta.domain)).await;
    wait_for_follow(&gamma, &gwen, &organiser_id, "accepted").await;

    // The organiser lets in ana and mia, and leaves gus and max waiting.
    let requests: Vec<Value> = wait_for("four requests at beta", PATIENCE, || async {
        let (_, list) = api(
            &beta,
            &organiser,
            Method::GET,
            "/api/v1/groups/circle/requests",
            None,
        )
        .await;
        let list = list.as_array()?.clone();
        (list.len() == 4).then_some(list)
    })
    .await;
    let admitted = [format!("{}/u/ana", alpha.base), peer.actor_id("mia")];
    for request in requests
        .iter()
        .filter(|r| admitted.iter().any(|a| r["actor_id"] == a.as_str()))
    {
        let path = format!("/api/v1/groups/circle/requests/{}", request["id"]);
        let (status, _) = api(
            &beta,
            &organiser,
            Method::POST,
            &path,
            Some(json!({"accept": true})),
        )
        .await;
        assert_eq!(status, 204);
    }
    wait_for_follow(&alpha, &ana, &group_id, "accepted").await;
    wait_for("mia's Accept at Mastodon", PATIENCE, || async {
        peer.received()
            .iter()
            .any(|d| d.path == "/users/mia/inbox" && d.body["type"] == "Accept")
            .then_some(())
    })
    .await;
    let (_, circle) = api(&beta, &organiser, Method::GET, "/api/v1/groups/circle", None).await;
    assert_eq!(circle["followers_count"], 2, "ana and mia are in: {circle}");
    wait_for_follow(&gamma, &gus, &group_id, "pending").await;

    // The organiser writes five things in the circle, each with words found nowhere else.
    let thread = create(
        &beta,
        &organiser,
        "/api/v1/posts",
        json!({"group": "circle", "title": "Marigold's rota", "content": "Who sits with Marigold on Tuesdays?"}),
    )
    .await;
    let starts = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    let event = create(
        &beta,
        &organiser,
        "/api/v1/events",
        json!({"kind": "meeting", "group": "circle", "title": "Quillfeather meeting",
               "description": "Tea and talk.", "starts_at": starts,
               "place": {"name": "Flat 3", "address": "3 Hidden Row"}}),
    )
    .await;
    let question = create(
        &beta,
        &organiser,
        "/api/v1/groups/circle/agenda",
        json!({"question": "Shall we invite Dr Vantablack?", "options": ["Yes", "Not yet"]}),
    )
    .await;
    let story = create(
        &beta,
        &organiser,
        "/api/v1/garden",
        json!({"kind": "story", "group": "circle", "title": "Hidden kitchen of Thistlewood",
               "summary": "Thistlewood carers cook together.",
               "fields": {"narrative": "We cooked for Thistlewood.", "outcome": "Fewer lonely meals."}}),
    )
    .await;
    let ids: Vec<String> = [&thread["id"], &event["ap_id"], &question["ap_id"], &story["id"]]
        .iter()
        .map(|id| id.as_str().expect("id").to_owned())
        .collect();
    let (thread_id, event_id, question_id, story_id) = (&ids[0], &ids[1], &ids[2], &ids[3]);

    // ana on alpha receives each, members-only.
    let on_alpha = [
        (format!("/api/v1/posts/{}", encoded(thread_id)), thread_id),
        ("/api/v1/events".to_owned(), event_id),
        (format!("/api/v1/groups/{remote}/agenda"), question_id),
        (format!("/api/v1/garden/{}", encoded(story_id)), story_id),
    ];
    for (path, id) in &on_alpha {
        let seen = wait_for_object(&alpha, &ana, path, id).await;
        assert_eq!(seen["visibility"], "members", "{path} on alpha: {seen}");
    }
    // A pledge on the event, once alpha knows the event.
    let pledge = create(
        &beta,
        &organiser,
        "/api/v1/pledges",
        json!({"on": "event", "target_id": event["id"], "action": "bring the Larkspur casserole"}),
    )
    .await;
    let pledge_id = pledge["ap_id"].as_str().expect("ap id").to_owned();
    let seen = wait_for_object(
        &alpha,
        &ana,
        &format!("/api/v1/groups/{remote}/pledges"),
        &pledge_id,
    )
    .await;
    assert_eq!(seen["visibility"], "members", "the pledge on alpha: {seen}");
    assert_eq!(seen["action"], "bring the Larkspur casserole");

    let mut secrets = vec![
        "Marigold".to_owned(),
        "Quillfeather".to_owned(),
        "Hidden Row".to_owned(),
        "Vantablack".to_owned(),
        "Larkspur".to_owned(),
        "Thistlewood".to_owned(),
    ];
    secrets.extend(ids.iter().cloned());
    secrets.push(pledge_id.clone());
    let every_id = [thread_id, event_id, question_id, story_id, &pledge_id];

    // Everything had time to go wherever it would go.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // gamma has none of it: not for gus (waiting), gwen (the organiser's
    // follower), nor anyone.
    for (who, token) in [("gus", gus.as_str()), ("gwen", gwen.as_str()), ("nobody", "")] {
        for path in [
            format!("/api/v1/posts/{}", encoded(thread_id)),
            format!("/api/v1/garden/{}", encoded(story_id)),
        ] {
            let (status, text) = call(&gamma, token, Method::GET, &path, None).await;
            assert_eq!(status, 404, "{path} on gamma for {who}: {text}");
        }
        for path in [
            "/api/v1/events".to_owned(),
            "/api/v1/pledges".to_owned(),
            "/api/v1/garden".to_owned(),
            "/api/v1/search?q=Hidden".to_owned(),
            "/api/v1/feeds/federated".to_owned(),
            format!(
                "/api/v1/feeds/{}",
                if token.is_empty() { "local" } else { "home" }
            ),
            format!("/api/v1/groups/{remote}/agenda"),
            format!("/api/v1/groups/{remote}/pledges"),
        ] {
            let (status, text) = call(&gamma, token, Method::GET, &path, None).await;
            assert_eq!(status, 200, "{path} on gamma for {who}: {text}");
            assert_hidden(&format!("{path} on gamma for {who}"), &text, &secrets);
        }
    }
    for path in ["/", "/events", "/events.ics", "/garden", "/map"] {
        let (status, text) = call(&gamma, "", Method::GET, path, None).await;
        assert_eq!(status, 200, "gamma's {path}");
        assert_hidden(&format!("gamma's page {path}"), &text, &secrets);
    }

    // Mastodon got the Accept for mia, and nothing of the circle's, member or not.
    for delivery in peer.received() {
        assert_hidden(
            &format!("a delivery to Mastodon's {}", delivery.path),
            &delivery.body.to_string(),
            &secrets,
        );
    }

    // beta serves none of it to an unsigned fetch, nor to a Mastodon user
    // who is not a member; a member's signed fetch gets it.
    for id in every_id {
        let unsigned = client()
            .get(id.as_str())
            .header("accept", "application/activity+json")
            .send()
            .await
            .expect("fetch");
        assert_eq!(unsigned.status(), 404, "unsigned GET {id}");
        assert_eq!(
            peer.signed_get("max", id).await.status(),
            404,
            "GET {id} signed by max"
        );
        assert_eq!(
            peer.signed_get("mia", id).await.status(),
            200,
            "GET {id} signed by mia"
        );
    }

    // beta's lists show each to the organiser and none to a visitor.
    for (path, mark) in [
        ("/api/v1/groups/circle/threads", "Marigold"),
        ("/api/v1/events", "Hidden Row"),
        ("/api/v1/groups/circle/agenda", "Vantablack"),
        ("/api/v1/groups/circle/pledges", "Larkspur"),
        ("/api/v1/pledges", "Larkspur"),
        ("/api/v1/garden", "Thistlewood"),
        ("/api/v1/search?q=Hidden", "Thistlewood"),
    ] {
        let (status, text) = call(&beta, &organiser, Method::GET, path, None).await;
        assert!(
            status == 200 && text.contains(mark),
            "{path} for the organiser: {text}"
        );
        let (status, text) = call(&beta, "", Method::GET, path, None).await;
        assert_eq!(status, 200, "{path} for a visitor: {text}");
        assert_hidden(&format!("beta's {path} for a visitor"), &text, &secrets);
    }
    for path in [
        "/api/v1/feeds/local",
        "/api/v1/feeds/federated",
        "/",
        "/events",
        "/events.ics",
        "/garden",
        "/g/circle",
        "/g/circle/agenda",
        "/g/circle/pledges",
    ] {
        let (status, text) = call(&beta, "", Method::GET, path, None).await;
        assert_eq!(status, 200, "beta's {path}");
        assert_hidden(&format!("beta's page {path} for a visitor"), &text, &secrets);
    }
    let outbox = client()
        .get(format!("{}/g/circle/outbox", beta.base))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("outbox")
        .text()
        .await
        .expect("text");
    assert_hidden("the circle's outbox", &outbox, &secrets);

    // A ban in the circle is the members' business: the Block, the Undo that
    // lifts it and the Block inside that Undo are all addressed to them.
    let bans = "/api/v1/groups/circle/bans";
    let mia_handle = format!("@mia@{}", peer.domain);
    let reason = json!({"person": mia_handle, "reason": "Snapdragon rota dispute"});
    let (status, text) = call(&beta, &organiser, Method::POST, bans, Some(reason)).await;
    assert_eq!(status, 204, "ban mia: {text}");
    let lift = format!("{bans}/{}", encoded(&mia_handle));
    let (status, text) = call(&beta, &organiser, Method::DELETE, &lift, None).await;
    assert_eq!(status, 204, "lift mia's ban: {text}");
    let undo = wait_for("the lifted ban at Mastodon", PATIENCE, || async {
        peer.received()
            .into_iter()
            .find(|d| d.body["type"] == "Undo" && d.body["object"]["type"] == "Block")
    })
    .await;
    let public = "https://www.w3.org/ns/activitystreams#Public";
    for addressed in [&undo.body, &undo.body["object"]] {
        for field in ["to", "cc"] {
            assert!(
                !addressed[field].to_string().contains(public),
                "{field} of {addressed}"
            );
        }
    }
}
