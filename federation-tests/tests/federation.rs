//! Real nodes on loopback, each under its own host name with its own
//! database, and a Mastodon-shaped peer: what crosses between them.

use healthcommons_db::{
    entities::{delivery, inbox_activity, outbox_activity},
    queries,
};
use healthcommons_federation_tests::{Node, client, encoded, mastodon::MastodonPeer, wait_for};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::Duration;

const NODE: &str = env!("CARGO_BIN_EXE_healthcommons-node");
const PATIENCE: Duration = Duration::from_secs(60);

/// POST /api/v1/follows as the holder of `token`.
async fn follow(node: &Node, token: &str, target: &str) -> reqwest::Response {
    client()
        .post(format!("{}/api/v1/follows", node.base))
        .bearer_auth(token)
        .json(&json!({"target": target}))
        .send()
        .await
        .expect("follow")
}

/// DELETE /api/v1/follows?target=… as the holder of `token`.
async fn unfollow(node: &Node, token: &str, target: &str) -> reqwest::Response {
    client()
        .delete(format!("{}/api/v1/follows", node.base))
        .query(&[("target", target)])
        .bearer_auth(token)
        .send()
        .await
        .expect("unfollow")
}

async fn followers_count(node: &Node, group: &str) -> u64 {
    let body: Value = client()
        .get(format!("{}/api/v1/groups/{group}", node.base))
        .send()
        .await
        .expect("group")
        .json()
        .await
        .expect("json");
    body["followers_count"].as_u64().expect("count")
}

async fn follow_states(node: &Node, token: &str) -> Vec<(String, String)> {
    let body: Value = client()
        .get(format!("{}/api/v1/follows", node.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("follows")
        .json()
        .await
        .expect("json");
    body.as_array()
        .expect("list")
        .iter()
        .map(|f| {
            (
                f["target"].as_str().unwrap_or_default().to_owned(),
                f["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A moderator admits the `expected` requests to join a members-only group
/// (joining one always takes a moderator's yes).
async fn admit(node: &Node, moderator: &str, group: &str, expected: usize) {
    let requests: Vec<Value> = wait_for("the requests to join", PATIENCE, || async {
        let list: Value = client()
            .get(format!("{}/api/v1/groups/{group}/requests", node.base))
            .bearer_auth(moderator)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let list = list.as_array()?.clone();
        (list.len() == expected).then_some(list)
    })
    .await;
    for request in requests {
        let response = client()
            .post(format!(
                "{}/api/v1/groups/{group}/requests/{}",
                node.base, request["id"]
            ))
            .bearer_auth(moderator)
            .json(&json!({"accept": true}))
            .send()
            .await
            .expect("decide");
        assert_eq!(response.status(), 204);
    }
}

async fn wait_for_count(node: &Node, group: &str, expected: u64) {
    wait_for(
        &format!("{group} on {} to have {expected} followers", node.name),
        PATIENCE,
        || async { (followers_count(node, group).await == expected).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn people_on_two_nodes_join_a_working_group_on_a_third() {
    let (alpha, beta, gamma) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[]),
        Node::start(NODE, "gamma.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let handle = format!("@walkers@{}", beta.domain);

    let ana = alpha.user("ana").await;
    let response = follow(&alpha, &ana, &handle).await;
    assert_eq!(response.status(), 202, "a remote follow waits for the Accept");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["state"], "pending");
    assert_eq!(body["target"], group_id);

    wait_for_membership(&alpha, &ana, &group_id).await;
    wait_for_count(&beta, "walkers", 1).await;

    // Lemmy's form for a community, `!name@host`, finds the group too.
    let ben = alpha.user("ben").await;
    let response = follow(&alpha, &ben, &format!("!walkers@{}", beta.domain)).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["target"], group_id);
    wait_for_count(&beta, "walkers", 2).await;
    let response = unfollow(&alpha, &ben, &group_id).await;
    assert_eq!(response.status(), 204);
    wait_for_count(&beta, "walkers", 1).await;

    // gamma follows by actor URL rather than handle.
    let gus = gamma.user("gus").await;
    let response = follow(&gamma, &gus, &group_id).await;
    assert_eq!(response.status(), 202);
    wait_for_count(&beta, "walkers", 2).await;

    // Leaving is federated too.
    let response = unfollow(&alpha, &ana, &group_id).await;
    assert_eq!(response.status(), 204);
    wait_for_count(&beta, "walkers", 1).await;
    assert!(follow_states(&alpha, &ana).await.is_empty());
}

#[tokio::test]
async fn a_mastodon_shaped_peer_resolves_follows_and_gets_a_signed_accept() {
    let beta = Node::start(NODE, "beta.test", &[]).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    // Secure mode: the peer serves its actors only to signed requests, so the
    // node must sign its fetch with its instance actor to check the Follow.
    let peer = MastodonPeer::start_with(Duration::ZERO, true).await;
    let unsigned = client().get(peer.actor_id("mia")).send().await.expect("get");
    assert_eq!(unsigned.status(), 401, "the peer refuses unsigned fetches");

    let group = peer.resolve(&format!("@walkers@{}", beta.domain)).await;
    assert_eq!(group["id"], group_id);
    assert_eq!(group["type"], "Group");
    assert_eq!(group["preferredUsername"], "walkers");
    assert!(
        group["publicKey"]["publicKeyPem"]
            .as_str()
            .is_some_and(|p| p.contains("PUBLIC KEY"))
    );
    let inbox = group["inbox"].as_str().expect("inbox").to_owned();

    let follow_id = format!("{}/follows/1", peer.base);
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": follow_id, "type": "Follow", "actor": peer.actor_id("mia"), "object": group_id,
    });
    let response = peer.deliver("mia", &inbox, &follow).await;
    assert_eq!(response.status(), 202);

    let accept = wait_for("the Accept at the peer", PATIENCE, || async {
        peer.received().into_iter().find(|d| d.body["type"] == "Accept")
    })
    .await;
    assert!(accept.signature_valid, "the Accept must carry a valid signature");
    assert_eq!(accept.key_id, format!("{group_id}#main-key"));
    assert_eq!(accept.path, "/users/mia/inbox");
    assert_eq!(accept.body["actor"], group_id);
    assert_eq!(accept.body["object"]["id"], follow_id);
    assert_eq!(accept.body["object"]["actor"], peer.actor_id("mia"));
    wait_for_count(&beta, "walkers", 1).await;

    // A replay of the same Follow is accepted as a duplicate and changes nothing.
    let response = peer.deliver("mia", &inbox, &follow).await;
    assert_eq!(response.status(), 202);
    assert_eq!(followers_count(&beta, "walkers").await, 1);

    // What this node does not act on yet is kept and shown to admins with the reason.
    let note = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/statuses/1/activity", peer.base), "type": "Create", "actor": peer.actor_id("mia"),
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [group_id],
        "object": {"id": format!("{}/statuses/1", peer.base), "type": "Audio", "attributedTo": peer.actor_id("mia"),
                   "name": "Our walking song", "url": format!("{}/media/1.mp3", peer.base)},
    });
    assert_eq!(peer.deliver("mia", &inbox, &note).await.status(), 202);
    let token = beta.admin_token().await;
    let kept = wait_for("the Create to be recorded", PATIENCE, || async {
        let rows: Value = client()
            .get(format!("{}/api/v1/admin/inbox", beta.base))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        rows.as_array()?
            .iter()
            .find(|r| r["kind"] == "Create{Audio}")
            .cloned()
    })
    .await;
    assert!(
        kept["reason"].as_str().is_some_and(|r| r.contains("not handled")),
        "{kept}"
    );
}

#[tokio::test]
async fn unsigned_tampered_and_malformed_posts_are_refused_and_leave_no_trace() {
    let beta = Node::start(NODE, "beta.test", &[]).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let inbox = format!("{group_id}/inbox");
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/9", peer.base), "type": "Follow",
        "actor": peer.actor_id("mallory"), "object": group_id,
    });
    let body = serde_json::to_vec(&follow).expect("json");

    let unsigned = client()
        .post(&inbox)
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), 401, "unsigned");

    let mut swapped = follow.clone();
    swapped["id"] = json!(format!("{}/follows/10", peer.base));
    let tampered = peer
        .deliver_bytes(
            "mallory",
            &inbox,
            &body,
            &serde_json::to_vec(&swapped).expect("json"),
        )
        .await;
    assert_eq!(tampered.status(), 401, "body swapped after signing");

    let wrong_type = client()
        .post(&inbox)
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(wrong_type.status(), 415, "wrong content type");

    let oversized = client()
        .post(&inbox)
        .header("content-type", "application/activity+json")
        .body(vec![b' '; 300 * 1024])
        .send()
        .await
        .expect("post");
    assert_eq!(oversized.status(), 413, "oversized body");

    let malformed = peer
        .deliver_bytes("mallory", &inbox, b"{not json", b"{not json")
        .await;
    assert_eq!(malformed.status(), 400, "malformed JSON");

    // Another actor's name on an activity signed with mallory's key.
    let mut impersonation = follow.clone();
    impersonation["actor"] = json!(peer.actor_id("victim"));
    let response = peer.deliver("mallory", &inbox, &impersonation).await;
    assert_eq!(response.status(), 401, "key owner is not the actor");

    let db = beta.database().await;
    assert_eq!(
        inbox_activity::Entity::find().count(&db).await.expect("count"),
        0,
        "nothing stored"
    );
    assert_eq!(followers_count(&beta, "walkers").await, 0);

    // The same Follow, properly signed, goes through.
    assert_eq!(peer.deliver("mallory", &inbox, &follow).await.status(), 202);
    wait_for_count(&beta, "walkers", 1).await;
}

#[tokio::test]
async fn deliveries_wait_for_a_stopped_node_and_arrive_exactly_as_sent() {
    let (alpha, mut beta) = tokio::join!(
        Node::start(
            NODE,
            "alpha.test",
            &[("HEALTHCOMMONS_DELIVERY_RETRY_BASE_SECS", "1")]
        ),
        Node::start(NODE, "beta.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let mut tokens = Vec::new();
    for name in ["ana", "ben", "cai"] {
        let token = alpha.user(name).await;
        let response = follow(&alpha, &token, &group_id).await;
        assert_eq!(response.status(), 202);
        tokens.push(token);
    }
    wait_for_count(&beta, "walkers", 3).await;

    beta.stop();
    for token in &tokens {
        let response = unfollow(&alpha, token, &group_id).await;
        assert_eq!(response.status(), 204);
    }
    let alpha_db = alpha.database().await;
    let peer_host = beta.domain.clone();
    wait_for(
        "alpha to fail delivering to the stopped beta",
        PATIENCE,
        || async {
            let peer = queries::peers::get(&alpha_db, &peer_host).await.ok().flatten()?;
            (peer.consecutive_failures > 0).then_some(())
        },
    )
    .await;
    assert_eq!(
        queries::deliveries::count_pending(&alpha_db)
            .await
            .expect("count"),
        3
    );

    beta.spawn().await;
    wait_for_count(&beta, "walkers", 0).await;

    // Every Undo arrived byte for byte as alpha stored it.
    let beta_db = beta.database().await;
    let sent = outbox_activity::Entity::find()
        .filter(outbox_activity::Column::Kind.eq("Undo"))
        .all(&alpha_db)
        .await
        .expect("outbox");
    assert_eq!(sent.len(), 3);
    for activity in sent {
        let received = queries::inbox::by_ap_id(&beta_db, &activity.ap_id)
            .await
            .expect("query")
            .unwrap_or_else(|| panic!("{} never arrived", activity.ap_id));
        assert_eq!(received.body, activity.json);
    }
    wait_for("alpha's queue to drain", PATIENCE, || async {
        (queries::deliveries::count_pending(&alpha_db).await.ok()? == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn kill_9_in_the_middle_of_a_fan_out_loses_no_delivery() {
    const FOLLOWERS: usize = 1_000;
    let mut beta = Node::start(
        NODE,
        "beta.test",
        &[
            ("HEALTHCOMMONS_DELIVERY_CLAIM_LEASE_SECS", "2"),
            ("HEALTHCOMMONS_DELIVERY_RETRY_BASE_SECS", "1"),
        ],
    )
    .await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    // A slow peer, so the fan-out of Accepts is still under way when beta dies.
    let peer = MastodonPeer::start(Duration::from_millis(100)).await;
    let inbox = format!("{group_id}/inbox");
    let mut follow_ids = Vec::new();
    for i in 0..FOLLOWERS {
        let follow_id = format!("{}/follows/{i}", peer.base);
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": follow_id, "type": "Follow", "actor": peer.actor_id(&format!("member{i}")), "object": group_id,
        });
        assert_eq!(
            peer.deliver(&format!("member{i}"), &inbox, &follow)
                .await
                .status(),
            202
        );
        follow_ids.push(follow_id);
    }
    let received_some = wait_for("the first Accepts", PATIENCE, || async {
        let n = peer.received().len();
        (n >= 3).then_some(n)
    })
    .await;
    assert!(
        received_some < FOLLOWERS,
        "the fan-out must still be running when beta is killed"
    );
    beta.kill9();
    let before_restart = peer.received().len();
    assert!(
        before_restart < FOLLOWERS,
        "killed mid fan-out ({before_restart} of {FOLLOWERS} delivered)"
    );

    beta.spawn().await;
    wait_for(
        "every Accept after the restart",
        Duration::from_secs(120),
        || async {
            let answered: std::collections::HashSet<String> = peer
                .received()
                .iter()
                .filter(|d| d.body["type"] == "Accept")
                .filter_map(|d| d.body["object"]["id"].as_str().map(str::to_owned))
                .collect();
            follow_ids.iter().all(|id| answered.contains(id)).then_some(())
        },
    )
    .await;
    assert!(
        peer.received().iter().all(|d| d.signature_valid),
        "every delivery signed"
    );
    assert_eq!(followers_count(&beta, "walkers").await, FOLLOWERS as u64);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_again_and_accepted() {
    let beta = Node::start(NODE, "beta.test", &[]).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let inbox = format!("{group_id}/inbox");
    let follow = |n: u32| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/{n}", peer.base), "type": "Follow",
            "actor": peer.actor_id("mia"), "object": group_id,
        })
    };
    assert_eq!(peer.deliver("mia", &inbox, &follow(1)).await.status(), 202);
    wait_for_count(&beta, "walkers", 1).await;

    // beta holds mia's old key; a request signed with the new one makes it
    // fetch mia again instead of refusing her for good.
    peer.rotate_key();
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/1/undo", peer.base), "type": "Undo", "actor": peer.actor_id("mia"),
        "object": follow(1),
    });
    assert_eq!(peer.deliver("mia", &inbox, &undo).await.status(), 202);
    wait_for_count(&beta, "walkers", 0).await;
}

#[tokio::test]
async fn a_peer_that_speaks_again_gets_its_deliveries_at_once() {
    // A first retry five minutes out: only the "it is back" signal can make
    // the delivery arrive within this test's patience.
    let (alpha, mut beta) = tokio::join!(
        Node::start(
            NODE,
            "alpha.test",
            &[("HEALTHCOMMONS_DELIVERY_RETRY_BASE_SECS", "300")]
        ),
        Node::start(NODE, "beta.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let ana = alpha.user("ana").await;
    let response = follow(&alpha, &ana, &group_id).await;
    assert_eq!(response.status(), 202);
    wait_for_count(&beta, "walkers", 1).await;

    beta.stop();
    let response = unfollow(&alpha, &ana, &group_id).await;
    assert_eq!(response.status(), 204);
    let alpha_db = alpha.database().await;
    let peer_host = beta.domain.clone();
    wait_for("alpha to fail once", PATIENCE, || async {
        let peer = queries::peers::get(&alpha_db, &peer_host).await.ok().flatten()?;
        (peer.consecutive_failures > 0).then_some(())
    })
    .await;

    beta.spawn().await;
    assert_eq!(
        followers_count(&beta, "walkers").await,
        1,
        "the Undo waits in alpha's queue"
    );
    // beta sends alpha something signed: one of its people follows ana.
    let bea = beta.user("bea").await;
    let response = follow(&beta, &bea, &format!("@ana@{}", alpha.domain)).await;
    assert_eq!(response.status(), 202);
    wait_for_count(&beta, "walkers", 0).await;
}

#[tokio::test]
async fn debug_resolve_prints_a_remote_actor() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let printed = alpha.run(&["debug", "resolve", &format!("@walkers@{}", beta.domain)]);
    let actor: Value = serde_json::from_str(&printed).expect("JSON on stdout");
    assert_eq!(actor["id"], group_id);
    assert_eq!(actor["type"], "Group");
}

#[tokio::test]
async fn a_group_that_approves_members_by_hand_answers_each_request() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let response = client()
        .post(format!("{}/api/v1/groups", beta.base))
        .bearer_auth(&organiser)
        .json(
            &json!({"name": "circle", "display_name": "Carers' circle", "manually_approves_followers": true}),
        )
        .send()
        .await
        .expect("create group");
    assert_eq!(response.status(), 201);
    let group_id = response.json::<Value>().await.expect("json")["actor_id"]
        .as_str()
        .expect("id")
        .to_owned();

    let ana = alpha.user("ana").await;
    let ben = alpha.user("ben").await;
    for token in [&ana, &ben] {
        let response = follow(&alpha, token, &group_id).await;
        assert_eq!(response.status(), 202);
    }
    let requests: Vec<Value> = wait_for("both requests at beta", PATIENCE, || async {
        let list: Value = client()
            .get(format!("{}/api/v1/groups/circle/requests", beta.base))
            .bearer_auth(&organiser)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let list = list.as_array()?.clone();
        (list.len() == 2).then_some(list)
    })
    .await;
    assert_eq!(
        followers_count(&beta, "circle").await,
        0,
        "nobody is in before a moderator says so"
    );

    // A person who is not a moderator cannot answer.
    let stranger = beta.user("stranger").await;
    let refused = client()
        .post(format!(
            "{}/api/v1/groups/circle/requests/{}",
            beta.base, requests[0]["id"]
        ))
        .bearer_auth(&stranger)
        .json(&json!({"accept": true}))
        .send()
        .await
        .expect("decide");
    assert_eq!(refused.status(), 403);

    for request in &requests {
        let accept = request["handle"].as_str().is_some_and(|h| h.starts_with("@ana@"));
        let response = client()
            .post(format!(
                "{}/api/v1/groups/circle/requests/{}",
                beta.base, request["id"]
            ))
            .bearer_auth(&organiser)
            .json(&json!({"accept": accept}))
            .send()
            .await
            .expect("decide");
        assert_eq!(response.status(), 204);
    }
    for (token, expected) in [(&ana, "accepted"), (&ben, "rejected")] {
        wait_for(&format!("alpha to see {expected}"), PATIENCE, || async {
            follow_states(&alpha, token)
                .await
                .contains(&(group_id.clone(), expected.to_owned()))
                .then_some(())
        })
        .await;
    }
    assert_eq!(followers_count(&beta, "circle").await, 1);
}

async fn api<T: Into<Value> + Clone>(
    node: &Node,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&T>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", node.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body.clone().into());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The thread `id` as `node` shows it to the holder of `token`, once `check` holds.
async fn wait_for_thread(
    node: &Node,
    token: &str,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(&format!("{what} on {}", node.name), PATIENCE, || async {
        let (status, body) = api::<Value>(
            node,
            token,
            reqwest::Method::GET,
            &format!("/api/v1/posts/{}", encoded(id)),
            None,
        )
        .await;
        (status == 200 && check(&body)).then_some(body)
    })
    .await
}

fn reply_ids(thread: &Value) -> Vec<String> {
    thread["replies"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_discussion_in_a_working_group_spans_three_nodes() {
    let (alpha, beta, gamma) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[]),
        Node::start(NODE, "gamma.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let handle = format!("@walkers@{}", beta.domain);
    let (ana, gus) = (alpha.user("ana").await, gamma.user("gus").await);
    assert_eq!(follow(&alpha, &ana, &handle).await.status(), 202);
    assert_eq!(follow(&gamma, &gus, &handle).await.status(), 202);
    wait_for_count(&beta, "walkers", 2).await;
    for (node, token) in [(&alpha, &ana), (&gamma, &gus)] {
        wait_for("the Accept", PATIENCE, || async {
            follow_states(node, token)
                .await
                .contains(&(group_id.clone(), "accepted".to_owned()))
                .then_some(())
        })
        .await;
    }

    // A member on alpha starts a thread in the group on beta.
    let (status, created) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"group": handle, "title": "Saturday walk", "content": "Meet at the **park** #walking"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let thread_id = created["id"].as_str().expect("id").to_owned();
    assert!(
        thread_id.starts_with(&alpha.base),
        "the post is the author's node's"
    );

    let on_beta = wait_for_thread(&beta, &organiser, &thread_id, "the thread", |_| true).await;
    assert_eq!(on_beta["title"], "Saturday walk");
    assert!(
        on_beta["content_html"]
            .as_str()
            .is_some_and(|c| c.contains("<strong>park</strong>"))
    );
    assert_eq!(on_beta["hashtags"], json!(["walking"]));
    let listed = api::<Value>(
        &beta,
        &organiser,
        reqwest::Method::GET,
        "/api/v1/groups/walkers/threads",
        None,
    )
    .await
    .1;
    assert_eq!(listed[0]["id"], thread_id.as_str());
    // gamma follows the group: the group's announce brings it there.
    wait_for_thread(&gamma, &gus, &thread_id, "the announced thread", |t| {
        t["title"] == "Saturday walk"
    })
    .await;
    // ...and never back to alpha, where it came from.
    let beta_db = beta.database().await;
    let announces: Vec<i64> = outbox_activity::Entity::find()
        .filter(outbox_activity::Column::Kind.eq("Announce"))
        .all(&beta_db)
        .await
        .expect("outbox")
        .into_iter()
        .map(|a| a.id)
        .collect();
    let announced_to: Vec<String> = delivery::Entity::find()
        .filter(delivery::Column::OutboxActivityId.is_in(announces))
        .all(&beta_db)
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| d.peer_host)
        .collect();
    assert!(
        announced_to.contains(&gamma.domain.to_string()),
        "{announced_to:?}"
    );
    assert!(
        !announced_to.contains(&alpha.domain.to_string()),
        "{announced_to:?}"
    );

    // gus replies from gamma; the reply shows under the thread on alpha and beta.
    let (status, reply) = api(
        &gamma,
        &gus,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"in_reply_to": thread_id, "content": "I will bring water."})),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let reply_id = reply["id"].as_str().expect("id").to_owned();
    for (node, token) in [(&alpha, &ana), (&beta, &organiser)] {
        let thread = wait_for_thread(node, token, &thread_id, "the reply", |t| {
            reply_ids(t).contains(&reply_id) && t["replies_count"] == 1
        })
        .await;
        assert_eq!(thread["replies"][0]["in_reply_to"], thread_id.as_str());
        assert_eq!(thread["replies_count"], 1, "{}: {thread}", node.name);
    }
    // A reply to the reply nests below it everywhere.
    let (status, nested) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"in_reply_to": reply_id, "content": "Thanks!"})),
    )
    .await;
    assert_eq!(status, 201, "{nested}");
    let nested_id = nested["id"].as_str().expect("id").to_owned();
    for (node, token) in [(&beta, &organiser), (&gamma, &gus)] {
        wait_for_thread(node, token, &thread_id, "the nested reply", |t| {
            t["replies"][0]["replies"][0]["id"] == nested_id.as_str()
        })
        .await;
    }

    // gus likes the thread: counted on beta and alpha.
    let (status, _) = api::<Value>(
        &gamma,
        &gus,
        reqwest::Method::POST,
        &format!("/api/v1/posts/{}/like", encoded(&thread_id)),
        None,
    )
    .await;
    assert_eq!(status, 200);
    for (node, token) in [(&alpha, &ana), (&beta, &organiser)] {
        wait_for_thread(node, token, &thread_id, "the like", |t| t["likes"] == 1).await;
    }

    // ana edits: the new text reaches beta and gamma.
    let (status, _) = api(
        &alpha,
        &ana,
        reqwest::Method::PATCH,
        &format!("/api/v1/posts/{}", encoded(&thread_id)),
        Some(&json!({"content": "Meet at the **lake** instead"})),
    )
    .await;
    assert_eq!(status, 200);
    for (node, token) in [(&beta, &organiser), (&gamma, &gus)] {
        let thread = wait_for_thread(node, token, &thread_id, "the edit", |t| {
            t["content_html"].as_str().is_some_and(|c| c.contains("lake"))
        })
        .await;
        assert!(thread["updated"].is_string());
    }

    // gus deletes his reply: a tombstone everywhere, the nested reply keeps its place.
    let (status, _) = api::<Value>(
        &gamma,
        &gus,
        reqwest::Method::DELETE,
        &format!("/api/v1/posts/{}", encoded(&reply_id)),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for (node, token) in [(&alpha, &ana), (&beta, &organiser)] {
        let thread = wait_for_thread(node, token, &thread_id, "the delete", |t| {
            t["replies"][0]["deleted"] == true
        })
        .await;
        assert_eq!(thread["replies"][0]["content_html"], "");
        assert_eq!(thread["replies"][0]["replies"][0]["id"], nested_id.as_str());
    }
    let gone = client()
        .get(&reply_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("fetch");
    assert_eq!(gone.status(), 410, "a deleted post answers 410 Gone");

    // The organiser removes ana's thread as moderator: removed on alpha and gamma too.
    let (status, _) = api::<Value>(
        &beta,
        &organiser,
        reqwest::Method::DELETE,
        &format!("/api/v1/posts/{}", encoded(&thread_id)),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for (node, token) in [(&alpha, &ana), (&gamma, &gus)] {
        wait_for_thread(node, token, &thread_id, "the removal", |t| t["removed"] == true).await;
    }

    // A members-only group: its posts reach members only and are served to no one else.
    let (status, _) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/groups",
        Some(&json!({"name": "circle", "display_name": "Carers' circle", "visibility": "members", "posting_policy": "members"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        follow(&alpha, &ana, &format!("@circle@{}", beta.domain))
            .await
            .status(),
        202
    );
    admit(&beta, &organiser, "circle", 1).await;
    wait_for_count(&beta, "circle", 1).await;
    let (status, private) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"group": "circle", "title": "Between us", "content": "Only for the circle"})),
    )
    .await;
    assert_eq!(status, 201, "{private}");
    let private_id = private["id"].as_str().expect("id").to_owned();
    let seen = wait_for_thread(&alpha, &ana, &private_id, "the members-only post", |_| true).await;
    assert_eq!(seen["visibility"], "members");
    let unsigned = client()
        .get(&private_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("fetch");
    assert_eq!(unsigned.status(), 404, "never served as JSON");
    let anonymous = client()
        .get(format!("{}/api/v1/posts/{}", beta.base, encoded(&private_id)))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 404);
    let outsider = api::<Value>(
        &gamma,
        &gus,
        reqwest::Method::GET,
        &format!("/api/v1/posts/{}", encoded(&private_id)),
        None,
    )
    .await;
    assert_eq!(outsider.0, 404, "gamma never received it");
    let (status, threads) = api::<Value>(
        &beta,
        &gus,
        reqwest::Method::GET,
        "/api/v1/groups/circle/threads",
        None,
    )
    .await;
    assert_eq!(
        (status, threads.as_array().map(Vec::len)),
        (401, None),
        "gus's token is not beta's"
    );
    let public_list: Value = client()
        .get(format!("{}/api/v1/groups/circle/threads", beta.base))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(public_list, json!([]));
    let outbox: Value = client()
        .get(format!("{}/g/circle/outbox", beta.base))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("outbox")
        .json()
        .await
        .expect("json");
    assert_eq!(outbox["totalItems"], 0);

    // An event of the circle, with the address of the flat it meets in,
    // reaches its member on alpha members-only, and nobody else.
    let starts = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    let (status, meeting) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/events",
        Some(
            &json!({"kind": "meeting", "group": "circle", "title": "Circle meeting",
                     "description": "Tea and talk.", "starts_at": starts,
                     "place": {"name": "Flat 3", "address": "3 Hidden Row"}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{meeting}");
    assert_eq!(meeting["visibility"], "members");
    let meeting_id = meeting["ap_id"].as_str().expect("ap id").to_owned();
    let received = wait_for_event(&alpha, &ana, &meeting_id, "the members-only event", |_| true).await;
    assert_eq!(
        received["visibility"], "members",
        "stored members-only where it arrived"
    );
    let listed = client()
        .get(format!("{}/api/v1/events", alpha.base))
        .send()
        .await
        .expect("events")
        .text()
        .await
        .expect("text");
    assert!(
        !listed.contains("Hidden Row"),
        "alpha shows it to no one but the member: {listed}"
    );
    let (_, listed) = api::<Value>(&gamma, &gus, reqwest::Method::GET, "/api/v1/events", None).await;
    assert!(
        !listed.to_string().contains("Hidden Row"),
        "gamma never got it: {listed}"
    );
    let unsigned = client()
        .get(&meeting_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("fetch");
    assert_eq!(unsigned.status(), 404, "not served to an unsigned fetch");

    // beta blocks gamma: what gamma sends is refused, and nothing more goes there.
    let root = beta.admin_token().await;
    let (status, _) = api(
        &beta,
        &root,
        reqwest::Method::POST,
        "/api/v1/admin/blocks",
        Some(&json!({"host": gamma.domain})),
    )
    .await;
    assert!((200..300).contains(&status), "block: {status}");
    let (status, late) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"group": handle, "title": "After the block", "content": "Not for gamma"})),
    )
    .await;
    assert_eq!(status, 201);
    let late_id = late["id"].as_str().expect("id").to_owned();
    wait_for_thread(&beta, &organiser, &late_id, "the new thread", |_| true).await;
    let (status, blocked_reply) = api(
        &gamma,
        &gus,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"in_reply_to": nested_id, "content": "From a blocked node"})),
    )
    .await;
    assert_eq!(status, 201, "gamma stores its own reply: {blocked_reply}");
    let blocked_id = blocked_reply["id"].as_str().expect("id").to_owned();
    // Give the announce to alpha time to land; gamma must not have it, and
    // beta must not have gamma's reply.
    wait_for_thread(&alpha, &ana, &late_id, "the new thread", |_| true).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let on_beta = api::<Value>(
        &beta,
        &organiser,
        reqwest::Method::GET,
        &format!("/api/v1/posts/{}", encoded(&blocked_id)),
        None,
    )
    .await;
    assert_eq!(on_beta.0, 404, "nothing is accepted from a blocked node");
    let on_gamma = api::<Value>(
        &gamma,
        &gus,
        reqwest::Method::GET,
        &format!("/api/v1/posts/{}", encoded(&late_id)),
        None,
    )
    .await;
    assert_eq!(on_gamma.0, 404, "nothing is sent to a blocked node");
}

#[tokio::test]
async fn mastodon_users_follow_post_reply_like_and_report_in_a_working_group() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let handle = format!("@walkers@{}", beta.domain);
    let ana = alpha.user("ana").await;
    assert_eq!(follow(&alpha, &ana, &handle).await.status(), 202);
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let inbox = format!("{group_id}/inbox");
    let follow_activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/1", peer.base), "type": "Follow", "actor": peer.actor_id("mia"), "object": group_id,
    });
    assert_eq!(peer.deliver("mia", &inbox, &follow_activity).await.status(), 202);
    wait_for_count(&beta, "walkers", 2).await;

    // A new thread reaches the Mastodon follower as a signed boost of the post.
    let (status, created) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"group": "walkers", "title": "Route for Sunday", "content": "Along the river"})),
    )
    .await;
    assert_eq!(status, 201);
    let thread_id = created["id"].as_str().expect("id").to_owned();
    let boost = wait_for("the boost at the peer", PATIENCE, || async {
        peer.received()
            .into_iter()
            .find(|d| d.body["type"] == "Announce" && d.body["object"] == thread_id.as_str())
    })
    .await;
    assert!(boost.signature_valid, "signed by the group");
    assert_eq!(boost.body["actor"], group_id.as_str());
    // Mastodon fetches the boosted post: a Note whose content is the whole text, title first.
    let note: Value = client()
        .get(&thread_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("note")
        .json()
        .await
        .expect("json");
    assert_eq!(note["type"], "Note");
    assert!(
        note.get("name").is_none(),
        "GoToSocial folds a status under its name"
    );
    assert_eq!(
        note["content"],
        "<p><strong>Route for Sunday</strong></p><p>Along the river</p>"
    );
    assert_eq!(note["audience"], group_id.as_str());
    assert!(note["context"].as_str().is_some_and(|c| c.ends_with("/context")));
    // The group-aware node gets the Create itself, announced.
    wait_for_thread(&alpha, &ana, &thread_id, "the thread", |t| {
        t["title"] == "Route for Sunday"
    })
    .await;

    // A public Mastodon post that mentions the group starts a thread titled by its first line.
    let mention = peer.status(
        "mia",
        1,
        json!({
            "cc": [group_id, format!("{}/followers", peer.actor_id("mia"))],
            "content": format!("<p><span class=\"h-card\"><a href=\"{group_id}\" class=\"u-url mention\">@<span>walkers</span></a></span> Walking with a pram?</p><p>Which paths are flat enough?<script>alert(1)</script></p>"),
            "tag": [{"type": "Mention", "href": group_id, "name": handle}],
        }),
    );
    assert_eq!(
        peer.deliver("mia", &inbox, &peer.create("mia", &mention))
            .await
            .status(),
        202
    );
    let mention_id = mention["id"].as_str().expect("id").to_owned();
    let started = wait_for_thread(&beta, &organiser, &mention_id, "the mention thread", |_| true).await;
    assert_eq!(started["title"], "Walking with a pram?");
    assert_eq!(started["group"], handle.as_str());
    assert!(
        !started["content_html"]
            .as_str()
            .unwrap_or_default()
            .contains("<script")
    );
    // … and is announced to the other followers.
    wait_for_thread(&alpha, &ana, &mention_id, "the mention thread", |t| {
        t["title"] == "Walking with a pram?"
    })
    .await;

    // A Mastodon reply lands in the thread and is re-announced.
    let reply = peer.status(
        "mia",
        2,
        json!({"inReplyTo": thread_id, "cc": [format!("{}/followers", peer.actor_id("mia"))], "content": "<p>Count me in</p>"}),
    );
    assert_eq!(
        peer.deliver("mia", &inbox, &peer.create("mia", &reply))
            .await
            .status(),
        202
    );
    let reply_id = reply["id"].as_str().expect("id").to_owned();
    for (node, token) in [(&beta, &organiser), (&alpha, &ana)] {
        wait_for_thread(node, token, &thread_id, "the Mastodon reply", |t| {
            reply_ids(t).contains(&reply_id)
        })
        .await;
    }

    // Likes and boosts from Mastodon are counted.
    let like = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/likes/1", peer.base),
                      "type": "Like", "actor": peer.actor_id("mia"), "object": thread_id});
    assert_eq!(peer.deliver("mia", &inbox, &like).await.status(), 202);
    let reblog = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/statuses/3/activity", peer.actor_id("mia")),
                        "type": "Announce", "actor": peer.actor_id("mia"), "object": thread_id,
                        "to": ["https://www.w3.org/ns/activitystreams#Public"]});
    assert_eq!(peer.deliver("mia", &inbox, &reblog).await.status(), 202);
    wait_for_thread(&beta, &organiser, &thread_id, "the like and boost", |t| {
        t["likes"] == 1 && t["boosts"] == 1
    })
    .await;

    // A report forwarded from Mastodon reaches the reports queue.
    let flag = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/reports/1", peer.base),
                      "type": "Flag", "actor": peer.actor_id("mia"),
                      "object": [format!("{}/u/organiser", beta.base), thread_id], "content": "Off topic"});
    assert_eq!(peer.deliver("mia", &inbox, &flag).await.status(), 202);
    let root = beta.admin_token().await;
    let report = wait_for("the report", PATIENCE, || async {
        let (_, queue) = api::<Value>(&beta, &root, reqwest::Method::GET, "/api/v1/reports", None).await;
        queue
            .as_array()?
            .iter()
            .find(|r| r["comment"] == "Off topic")
            .cloned()
    })
    .await;
    assert_eq!(report["incoming"], true);
    assert_eq!(report["posts"], json!([thread_id]));
}

/// Wait until `node` has processed an incoming activity of `kind`; fail
/// with the reason if it refused it.
async fn wait_for_processed(node: &Node, kind: &str) {
    let admin = node.admin_token().await;
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (_, failed) = api::<Value>(
            node,
            &admin,
            reqwest::Method::GET,
            "/api/v1/admin/inbox?state=failed",
            None,
        )
        .await;
        if let Some(row) = failed
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["kind"] == kind))
        {
            panic!("{} refused a {kind}: {row}", node.name);
        }
        let (_, done) = api::<Value>(
            node,
            &admin,
            reqwest::Method::GET,
            "/api/v1/admin/inbox?state=done",
            None,
        )
        .await;
        if done
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["kind"] == kind))
        {
            return;
        }
        if std::time::Instant::now() > deadline {
            let (_, pending) = api::<Value>(
                node,
                &admin,
                reqwest::Method::GET,
                "/api/v1/admin/inbox?state=pending",
                None,
            )
            .await;
            panic!(
                "no {kind} processed on {}; pending: {pending}; done: {done}",
                node.name
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait until `attempt` answers `status`, retrying while news travels.
async fn wait_for_status(what: &str, status: u16, attempt: impl AsyncFn() -> (u16, Value)) -> Value {
    wait_for(what, PATIENCE, || async {
        let (got, body) = attempt().await;
        (got == status).then_some(body)
    })
    .await
}

#[tokio::test]
async fn moderators_ban_and_appoint_across_nodes_and_a_late_member_catches_up() {
    let (alpha, beta, gamma) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[]),
        Node::start(NODE, "gamma.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "benches").await;
    let handle = format!("@benches@{}", beta.domain);
    let (ana, gus) = (alpha.user("ana").await, gamma.user("gus").await);
    assert_eq!(follow(&alpha, &ana, &handle).await.status(), 202);
    wait_for_membership(&alpha, &ana, &group_id).await;
    let new_thread =
        |title: &'static str| json!({"group": handle, "title": title, "content": "Which benches need work?"});
    let (status, thread) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&new_thread("Bench repairs")),
    )
    .await;
    assert_eq!(status, 201, "{thread}");
    let thread_id = thread["id"].as_str().expect("id").to_owned();
    wait_for_thread(&beta, &organiser, &thread_id, "the thread", |_| true).await;
    let (status, reply) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"in_reply_to": thread_id, "content": "The one by the pond."})),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let reply_id = reply["id"].as_str().expect("id").to_owned();

    // gus joins later: gamma fetches the group's recent threads from its
    // outbox and each thread's replies from its context collection.
    assert_eq!(follow(&gamma, &gus, &handle).await.status(), 202);
    let caught_up = wait_for_thread(&gamma, &gus, &thread_id, "the backlog", |t| {
        reply_ids(t).contains(&reply_id)
    })
    .await;
    assert_eq!(caught_up["title"], "Bench repairs");
    assert_eq!(caught_up["group"], handle.as_str());

    // A members-only reply in a public thread: members see it, strangers do not.
    let (status, private_reply) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"in_reply_to": thread_id, "content": "Between members", "visibility": "followers"})),
    )
    .await;
    assert_eq!(status, 201, "{private_reply}");
    let private_reply_id = private_reply["id"].as_str().expect("id").to_owned();
    let seen = wait_for_thread(&beta, &organiser, &thread_id, "the members-only reply", |t| {
        reply_ids(t).contains(&private_reply_id)
    })
    .await;
    assert_eq!(seen["replies"][1]["visibility"], "members", "{seen}");
    let public_view: Value = client()
        .get(format!("{}/api/v1/posts/{}", beta.base, encoded(&thread_id)))
        .send()
        .await
        .expect("thread")
        .json()
        .await
        .expect("json");
    assert_eq!(
        reply_ids(&public_view),
        vec![reply_id.clone()],
        "a stranger sees only the public reply"
    );

    // Followers are counted, not listed, unless the group chooses to list them.
    let followers = |group: String| async move {
        client()
            .get(format!("{group}/followers"))
            .header("accept", "application/activity+json")
            .send()
            .await
            .expect("followers")
            .json::<Value>()
            .await
            .expect("json")
    };
    let counted = followers(group_id.clone()).await;
    assert_eq!(
        (counted["totalItems"].clone(), counted.get("orderedItems")),
        (json!(2), None)
    );
    let (status, _) = api(
        &beta,
        &organiser,
        reqwest::Method::PATCH,
        "/api/v1/groups/benches/settings",
        Some(&json!({"list_followers": true})),
    )
    .await;
    assert_eq!(status, 204);
    let listed = followers(group_id.clone()).await;
    assert!(
        listed["orderedItems"]
            .as_array()
            .is_some_and(|items| items.contains(&json!(format!("{}/u/gus", gamma.base)))),
        "{listed}"
    );

    // A new display name reaches the members' nodes as an Update of the group.
    let (status, body) = api(
        &beta,
        &organiser,
        reqwest::Method::PATCH,
        "/api/v1/groups/benches/settings",
        Some(&json!({"display_name": "Bench menders", "summary": "We *mend* benches.", "icon_url": "https://example.org/bench.png"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let actor: Value = client()
        .get(&group_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("group")
        .json()
        .await
        .expect("json");
    assert_eq!(actor["icon"]["url"], "https://example.org/bench.png");
    assert_eq!(actor["attributedTo"], format!("{group_id}/moderators"));
    for (node, token) in [(&alpha, &ana), (&gamma, &gus)] {
        wait_for("the renamed group", PATIENCE, || async {
            let (_, follows) = api::<Value>(node, token, reqwest::Method::GET, "/api/v1/follows", None).await;
            follows
                .as_array()?
                .iter()
                .any(|f| f["name"] == "Bench menders")
                .then_some(())
        })
        .await;
    }

    // The organiser bans ana: alpha learns it and refuses her posts in the group.
    let ana_handle = format!("@ana@{}", alpha.domain);
    let (status, body) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/groups/benches/bans",
        Some(&json!({"person": ana_handle, "reason": "spam"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, bans) = api::<Value>(
        &beta,
        &organiser,
        reqwest::Method::GET,
        "/api/v1/groups/benches/bans",
        None,
    )
    .await;
    assert_eq!(bans[0]["reason"], "spam");
    wait_for_processed(&alpha, "Block").await;
    let (status, refused) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&new_thread("Banned")),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["message"].as_str().is_some_and(|e| e.contains("banned")),
        "{refused}"
    );
    // The ban is lifted: ana posts again and beta takes it.
    let (status, _) = api::<Value>(
        &beta,
        &organiser,
        reqwest::Method::DELETE,
        &format!("/api/v1/groups/benches/bans/{}", encoded(&ana_handle)),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let welcome_back = wait_for_status("the lifted ban on alpha", 201, || async {
        api(
            &alpha,
            &ana,
            reqwest::Method::POST,
            "/api/v1/posts",
            Some(&new_thread("Back again")),
        )
        .await
    })
    .await;
    let welcome_id = welcome_back["id"].as_str().expect("id").to_owned();
    wait_for_thread(&beta, &organiser, &welcome_id, "the post after the ban", |_| true).await;

    // gus on gamma is made a moderator: gamma learns it, and his removal
    // and lock, sent from gamma, are carried out by the group on beta.
    let gus_handle = format!("@gus@{}", gamma.domain);
    let (status, body) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/groups/benches/moderators",
        Some(&json!({"person": gus_handle})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let moderators: Value = client()
        .get(format!("{group_id}/moderators"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("moderators")
        .json()
        .await
        .expect("json");
    assert_eq!(moderators["totalItems"], 2);
    wait_for_thread(&gamma, &gus, &welcome_id, "the announced thread", |_| true).await;
    wait_for_status("gus's removal", 204, || async {
        api::<Value>(
            &gamma,
            &gus,
            reqwest::Method::DELETE,
            &format!("/api/v1/posts/{}", encoded(&thread_id)),
            None,
        )
        .await
    })
    .await;
    for (node, token) in [(&beta, &organiser), (&alpha, &ana)] {
        wait_for_thread(node, token, &thread_id, "the remote moderator's removal", |t| {
            t["removed"] == true
        })
        .await;
    }
    let (status, _) = api(
        &gamma,
        &gus,
        reqwest::Method::POST,
        &format!("/api/v1/posts/{}/lock", encoded(&welcome_id)),
        Some(&json!({"locked": true})),
    )
    .await;
    assert_eq!(status, 204);
    wait_for_thread(&alpha, &ana, &welcome_id, "the lock", |t| t["locked"] == true).await;
    let (status, _) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"in_reply_to": welcome_id, "content": "Too late"})),
    )
    .await;
    assert_eq!(status, 403, "a locked thread takes no replies");

    // gus is removed as a moderator: gamma learns that too.
    let (status, _) = api::<Value>(
        &beta,
        &organiser,
        reqwest::Method::DELETE,
        &format!("/api/v1/groups/benches/moderators/{}", encoded(&gus_handle)),
        None,
    )
    .await;
    assert_eq!(status, 204);
    wait_for_processed(&gamma, "Remove").await;
    let (status, _) = api(
        &gamma,
        &gus,
        reqwest::Method::POST,
        &format!("/api/v1/posts/{}/lock", encoded(&welcome_id)),
        Some(&json!({"locked": false})),
    )
    .await;
    assert_eq!(status, 403, "gus no longer moderates");
}

#[tokio::test]
async fn replies_that_arrive_before_their_parent_end_in_the_right_state() {
    let (alpha, beta, gamma) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[]),
        Node::start(NODE, "gamma.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let handle = format!("@walkers@{}", beta.domain);
    let (ana, gus) = (alpha.user("ana").await, gamma.user("gus").await);
    assert_eq!(follow(&alpha, &ana, &handle).await.status(), 202);
    assert_eq!(follow(&gamma, &gus, &handle).await.status(), 202);
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let inbox = format!("{group_id}/inbox");
    let follow_walkers = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/follows/1", peer.base),
                                "type": "Follow", "actor": peer.actor_id("mia"), "object": group_id});
    assert_eq!(peer.deliver("mia", &inbox, &follow_walkers).await.status(), 202);
    wait_for_count(&beta, "walkers", 3).await;
    // Posts in the group as Mastodon addresses a group it mentions.
    let in_group = |group: &str, to: Value, extra: Value| {
        let mut note = json!({
            "to": to,
            "cc": [group],
            "audience": group,
            "tag": [{"type": "Mention", "href": group}],
        });
        if let (Value::Object(map), Value::Object(more)) = (&mut note, extra) {
            map.extend(more);
        }
        note
    };
    let public = json!(["https://www.w3.org/ns/activitystreams#Public"]);

    // Removal: max's reply reaches beta before mia's thread start. beta
    // fetches the parent from its origin, relays both, and the later removal
    // and the late Create of the parent leave it removed everywhere.
    let start = peer.status(
        "mia",
        1,
        in_group(
            &group_id,
            public.clone(),
            json!({"content": "<p>Where can we rest on the way?</p>"}),
        ),
    );
    let reply = peer.status(
        "max",
        2,
        in_group(
            &group_id,
            public.clone(),
            json!({"inReplyTo": start["id"], "content": "<p>By the oak</p>"}),
        ),
    );
    let (start_id, reply_id) = (
        start["id"].as_str().expect("id").to_owned(),
        reply["id"].as_str().expect("id").to_owned(),
    );
    assert_eq!(
        peer.deliver("max", &inbox, &peer.create("max", &reply))
            .await
            .status(),
        202
    );
    for (node, token) in [(&beta, &organiser), (&alpha, &ana), (&gamma, &gus)] {
        let thread = wait_for_thread(node, token, &start_id, "the parent fetched for its reply", |t| {
            reply_ids(t).contains(&reply_id)
        })
        .await;
        assert_eq!(thread["title"], "Where can we rest on the way?", "{}", node.name);
    }
    let (status, _) = api::<Value>(
        &beta,
        &organiser,
        reqwest::Method::DELETE,
        &format!("/api/v1/posts/{}", encoded(&start_id)),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for (node, token) in [(&alpha, &ana), (&gamma, &gus)] {
        wait_for_thread(node, token, &start_id, "the removal", |t| t["removed"] == true).await;
    }
    assert_eq!(
        peer.deliver("mia", &inbox, &peer.create("mia", &start))
            .await
            .status(),
        202
    );
    // A marker after the late Create: once it is in, the Create has been processed.
    let marker = peer.status(
        "mia",
        3,
        in_group(
            &group_id,
            public.clone(),
            json!({"inReplyTo": reply_id, "content": "<p>Marker</p>"}),
        ),
    );
    assert_eq!(
        peer.deliver("mia", &inbox, &peer.create("mia", &marker))
            .await
            .status(),
        202
    );
    let marker_id = marker["id"].as_str().expect("id").to_owned();
    let thread = wait_for_thread(&beta, &organiser, &start_id, "the marker", |t| {
        t["replies"][0]["replies"][0]["id"] == marker_id.as_str()
    })
    .await;
    assert_eq!(thread["removed"], true, "the late Create does not bring it back");

    // Members only: mia joins the circle; her reply arrives before her
    // thread start. Members see both; gamma, not a member, gets neither, and
    // beta serves neither to anyone who is not a member.
    let (status, _) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/groups",
        Some(&json!({"name": "circle", "display_name": "Carers' circle", "visibility": "members", "posting_policy": "members"})),
    )
    .await;
    assert_eq!(status, 201);
    let circle_id = format!("{}/g/circle", beta.base);
    assert_eq!(
        follow(&alpha, &ana, &format!("@circle@{}", beta.domain))
            .await
            .status(),
        202
    );
    let join = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/follows/2", peer.base),
                      "type": "Follow", "actor": peer.actor_id("mia"), "object": circle_id});
    assert_eq!(
        peer.deliver("mia", &format!("{circle_id}/inbox"), &join)
            .await
            .status(),
        202
    );
    admit(&beta, &organiser, "circle", 2).await;
    wait_for_count(&beta, "circle", 2).await;
    let private_start = peer.status(
        "mia",
        4,
        in_group(
            &circle_id,
            json!([circle_id]),
            json!({"content": "<p>Respite care\nWho has tried it?</p>"}),
        ),
    );
    let private_reply = peer.status(
        "mia",
        5,
        in_group(
            &circle_id,
            json!([circle_id]),
            json!({"inReplyTo": private_start["id"], "content": "<p>I can share notes</p>"}),
        ),
    );
    let (private_start_id, private_reply_id) = (
        private_start["id"].as_str().expect("id").to_owned(),
        private_reply["id"].as_str().expect("id").to_owned(),
    );
    assert_eq!(
        peer.deliver(
            "mia",
            &format!("{circle_id}/inbox"),
            &peer.create("mia", &private_reply)
        )
        .await
        .status(),
        202
    );
    for (node, token) in [(&beta, &organiser), (&alpha, &ana)] {
        let thread = wait_for_thread(node, token, &private_start_id, "the members-only thread", |t| {
            reply_ids(t).contains(&private_reply_id)
        })
        .await;
        assert_eq!(thread["visibility"], "members", "{}", node.name);
    }
    let anonymous = client()
        .get(format!(
            "{}/api/v1/posts/{}",
            beta.base,
            encoded(&private_start_id)
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 404);
    // gamma is told about everything else in walkers, so it would have it by now if it leaked.
    let (status, later) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"group": "walkers", "title": "Later", "content": "Public again"})),
    )
    .await;
    assert_eq!(status, 201);
    let later_id = later["id"].as_str().expect("id").to_owned();
    wait_for_thread(&gamma, &gus, &later_id, "the public thread", |_| true).await;
    wait_for("the boost at the peer", PATIENCE, || async {
        peer.received()
            .into_iter()
            .find(|d| d.body["type"] == "Announce" && d.body["object"] == later_id.as_str())
    })
    .await;
    for id in [&private_start_id, &private_reply_id] {
        let (status, _) = api::<Value>(
            &gamma,
            &gus,
            reqwest::Method::GET,
            &format!("/api/v1/posts/{}", encoded(id)),
            None,
        )
        .await;
        assert_eq!(status, 404, "a non-member's node never gets {id}");
    }

    // A members-only post written on beta is served to a member's signed
    // fetch, and to no one else: not to another actor of the same server,
    // not unsigned.
    let (status, local_private) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"group": "circle", "title": "Rota", "content": "Who takes Tuesday?"})),
    )
    .await;
    assert_eq!(status, 201, "{local_private}");
    let local_private_id = local_private["id"].as_str().expect("id").to_owned();
    let member_fetch = peer.signed_get("mia", &local_private_id).await;
    assert_eq!(member_fetch.status(), 200, "a member's signed fetch");
    let note: Value = member_fetch.json().await.expect("note");
    assert!(
        note["content"].as_str().is_some_and(|c| c.contains("Tuesday")),
        "{note}"
    );
    assert!(
        !note["to"].to_string().contains("Public") && !note["cc"].to_string().contains("Public"),
        "members-only, never public: {note}"
    );
    assert_eq!(
        peer.signed_get("max", &local_private_id).await.status(),
        404,
        "a non-member's signed fetch"
    );
    let unsigned = client()
        .get(&local_private_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("fetch");
    assert_eq!(unsigned.status(), 404, "an unsigned fetch");

    // Block: beta blocks the peer's node. A reply from there to a thread
    // beta has never seen is refused without fetching its parent, and the
    // next thread is not sent there.
    let root = beta.admin_token().await;
    let (status, _) = api(
        &beta,
        &root,
        reqwest::Method::POST,
        "/api/v1/admin/blocks",
        Some(&json!({"host": peer.domain})),
    )
    .await;
    assert!((200..300).contains(&status), "block: {status}");
    let unseen = peer.status(
        "mia",
        6,
        in_group(&group_id, public.clone(), json!({"content": "<p>Never seen</p>"})),
    );
    let blocked_reply = peer.status(
        "max",
        7,
        in_group(
            &group_id,
            public.clone(),
            json!({"inReplyTo": unseen["id"], "content": "<p>Blocked</p>"}),
        ),
    );
    let refused = peer
        .deliver("max", &inbox, &peer.create("max", &blocked_reply))
        .await;
    assert_eq!(refused.status(), 403, "a blocked node's activities are refused");
    let delivered_before = peer.received().len();
    let (status, next) = api(
        &beta,
        &organiser,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"group": "walkers", "title": "After the block", "content": "Not for the peer"})),
    )
    .await;
    assert_eq!(status, 201);
    wait_for_thread(
        &gamma,
        &gus,
        next["id"].as_str().expect("id"),
        "the thread after the block",
        |_| true,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for id in [
        unseen["id"].as_str().expect("id"),
        blocked_reply["id"].as_str().expect("id"),
    ] {
        let (status, _) = api::<Value>(
            &beta,
            &organiser,
            reqwest::Method::GET,
            &format!("/api/v1/posts/{}", encoded(id)),
            None,
        )
        .await;
        assert_eq!(status, 404, "{id} is not on beta");
    }
    assert_eq!(
        peer.received().len(),
        delivered_before,
        "nothing is sent to a blocked node"
    );
}

/// GET a garden item through the API of `node`, once `check` holds.
/// Until `node` has the Accept of its member's follow of `group_id`.
async fn wait_for_membership(node: &Node, token: &str, group_id: &str) {
    wait_for(&format!("the membership on {}", node.name), PATIENCE, || async {
        follow_states(node, token)
            .await
            .contains(&(group_id.to_owned(), "accepted".to_owned()))
            .then_some(())
    })
    .await;
}

async fn wait_for_item(node: &Node, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("{what} on {}", node.name), PATIENCE, || async {
        let response = client()
            .get(format!("{}/api/v1/garden/{}", node.base, encoded(id)))
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        check(&body).then_some(body)
    })
    .await
}

/// Expand a JSON-LD document with pyld (Debian's python3-pyld). The
/// ActivityStreams context is served from a stand-in (its terms under the AS
/// namespace) because the suite has no network; our own context is embedded.
fn expand_json_ld(document: &Value) -> Value {
    let script = r#"
import json, sys
from pyld import jsonld
def loader(url, options=None):
    if url.startswith("https://www.w3.org/ns/activitystreams"):
        return {"contextUrl": None, "documentUrl": url, "document": {"@context": {
            "@vocab": "https://www.w3.org/ns/activitystreams#", "id": "@id", "type": "@type",
            "as": "https://www.w3.org/ns/activitystreams#"}}}
    raise Exception("no network in the suite: " + url)
jsonld.set_document_loader(loader)
print(json.dumps(jsonld.expand(json.load(sys.stdin))))
"#;
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with pyld (apt-get install python3-pyld; .ci/run installs it)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(document.to_string().as_bytes()).expect("write");
    }
    let output = child.wait_with_output().expect("pyld");
    assert!(output.status.success(), "pyld failed");
    serde_json::from_slice(&output.stdout).expect("expanded JSON-LD")
}

#[tokio::test]
async fn a_pattern_is_forked_revised_pulled_adopted_and_deleted_across_three_nodes() {
    let (alpha, beta, gamma) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[]),
        Node::start(NODE, "gamma.test", &[])
    );
    let ana = alpha.user("ana").await;
    let group_id = alpha.create_group(&ana, "commons").await;
    let handle = format!("@commons@{}", alpha.domain);
    let bea = beta.user("bea").await;
    assert_eq!(follow(&beta, &bea, &handle).await.status(), 202);
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let follow_activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/1", peer.base), "type": "Follow", "actor": peer.actor_id("mia"), "object": group_id,
    });
    assert_eq!(
        peer.deliver("mia", &format!("{group_id}/inbox"), &follow_activity)
            .await
            .status(),
        202
    );
    wait_for_count(&alpha, "commons", 2).await;
    wait_for_membership(&beta, &bea, &group_id).await;

    // A pattern planted on alpha, published to the group.
    let (status, created) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/garden",
        Some(&json!({
            "kind": "pattern", "group": "commons", "title": "Walking prescriptions",
            "summary": "GPs prescribe a weekly group walk instead of a pill.",
            "fields": {"problem": "Isolation makes people ill.", "context": "Neighbourhood practices.",
                       "forces": "Time\nWeather", "solution": "Walk **together** every Monday.",
                       "evidence": "Fewer visits to the GP."},
            "resources": [{"title": "Guide", "href": "https://guide.example/walks"}],
            "relations": [{"kind": "complements", "target": "https://elsewhere.example/garden/1"}],
            "tags": ["walking", "Prescribing"], "place": {"name": "Leeds", "latitude": 53.8, "longitude": -1.55}
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let pattern = created["id"].as_str().expect("id").to_owned();

    // It reaches beta through the group.
    let on_beta = wait_for_item(&beta, &pattern, "the pattern", |i| {
        i["title"] == "Walking prescriptions"
    })
    .await;
    assert_eq!(
        on_beta["content"]["fields"]["solution"],
        "Walk **together** every Monday."
    );
    assert_eq!(on_beta["tags"], json!(["prescribing", "walking"]));
    assert_eq!(on_beta["local"], false);

    // The Mastodon follower gets a boost of the item; the item reads as an
    // Article with its title, its essence and a link to a page that works.
    wait_for("the boost at the peer", PATIENCE, || async {
        peer.received()
            .into_iter()
            .find(|d| d.body["type"] == "Announce" && d.body["object"] == pattern.as_str())
    })
    .await;
    let article: Value = client()
        .get(&pattern)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("article")
        .json()
        .await
        .expect("json");
    // A Note whose content Mastodon-API servers show whole, title first.
    assert_eq!(article["type"], "Note");
    assert_eq!(article["title"], "Walking prescriptions");
    assert_eq!(
        article["abstract"],
        "GPs prescribe a weekly group walk instead of a pill."
    );
    assert!(
        article["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("<p><strong>Walking prescriptions</strong></p>")),
        "{article}"
    );
    let link = article["url"].as_str().expect("url");
    let page = client().get(link).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Walking prescriptions") && html.contains("<strong>together</strong>"));
    // The related items, drawn as a graph with the relation on each edge.
    assert!(
        html.contains("id=\"related-graph\"") && html.contains("class=\"edge-label\">complements</text>"),
        "{html}"
    );

    // Expanded by a JSON-LD processor, every structured part has our IRI.
    let expanded = expand_json_ld(&article);
    let node = &expanded[0];
    let ns = "https://w3id.org/healthcommons/ns#";
    for term in [
        "gardenKind",
        "title",
        "abstract",
        "revision",
        "license",
        "problem",
        "context",
        "forces",
        "solution",
        "evidence",
        "resources",
        "complements",
    ] {
        assert!(
            node.get(format!("{ns}{term}")).is_some(),
            "{term} expands to {ns}{term}: {node}"
        );
    }
    assert_eq!(
        node[format!("{ns}complements")][0]["@id"],
        "https://elsewhere.example/garden/1"
    );
    let context_doc: Value = client()
        .get(format!("{}/ns/garden", alpha.base))
        .send()
        .await
        .expect("context")
        .json()
        .await
        .expect("json");
    assert_eq!(context_doc["@context"]["solution"], "hc:solution");

    // bea forks it into beta's garden; alpha hears of it.
    let (status, forked) = api(
        &beta,
        &bea,
        reqwest::Method::POST,
        &format!("/api/v1/garden/{}/fork", encoded(&pattern)),
        Some(&json!({"message": "For our rural practice"})),
    )
    .await;
    assert_eq!(status, 201, "{forked}");
    let fork = forked["id"].as_str().expect("id").to_owned();
    assert!(fork.starts_with(&beta.base));
    let on_alpha = wait_for_item(&alpha, &pattern, "the fork", |i| {
        i["forks"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["id"] == fork.as_str()))
    })
    .await;
    assert!(
        on_alpha["forks"][0]["author"]
            .as_str()
            .is_some_and(|a| a.starts_with("@bea@"))
    );

    // bea changes the forces; ana revises the solution and the forces on alpha.
    let (status, _) = api(
        &beta,
        &bea,
        reqwest::Method::PATCH,
        &format!("/api/v1/garden/{}", encoded(&fork)),
        Some(&json!({"fields": {"problem": "Isolation makes people ill.", "context": "Neighbourhood practices.",
                                 "forces": "Distance", "solution": "Walk **together** every Monday.",
                                 "evidence": "Fewer visits to the GP."}, "message": "Rural forces"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = api(
        &alpha,
        &ana,
        reqwest::Method::PATCH,
        &format!("/api/v1/garden/{}", encoded(&pattern)),
        Some(&json!({"fields": {"problem": "Isolation makes people ill.", "context": "Neighbourhood practices.",
                                 "forces": "Time\nWeather\nDogs", "solution": "Walk together every Monday and Thursday.",
                                 "evidence": "Fewer visits to the GP."}, "message": "Twice a week"})),
    )
    .await;
    assert_eq!(status, 200);
    wait_for_item(&beta, &pattern, "the revision", |i| i["revision"] == 2).await;
    let (status, upstream) = api::<Value>(
        &beta,
        &bea,
        reqwest::Method::GET,
        &format!("/api/v1/garden/{}/upstream", encoded(&fork)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{upstream}");
    assert_eq!(
        (
            upstream["since_revision"].as_i64(),
            upstream["upstream_revision"].as_i64()
        ),
        (Some(1), Some(2))
    );
    let changed: Vec<&str> = upstream["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(changed, vec!["forces", "solution"]);
    let (status, pulled) = api::<Value>(
        &beta,
        &bea,
        reqwest::Method::POST,
        &format!("/api/v1/garden/{}/pull", encoded(&fork)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{pulled}");
    assert_eq!(pulled["taken"], json!(["solution"]));
    assert_eq!(pulled["conflicts"], json!(["forces"]));
    let fork_now = wait_for_item(&beta, &fork, "the pulled fork", |_| true).await;
    assert_eq!(
        fork_now["content"]["fields"]["solution"],
        "Walk together every Monday and Thursday."
    );
    assert_eq!(fork_now["content"]["fields"]["forces"], "Distance");
    assert_eq!(fork_now["forked_revision"], 2);

    // gus on gamma adopts beta's fork with a story; alpha and beta both show it.
    let gus = gamma.user("gus").await;
    let (status, story) = api(
        &gamma,
        &gus,
        reqwest::Method::POST,
        "/api/v1/garden",
        Some(
            &json!({"kind": "story", "title": "Dales walkers", "summary": "Forty people walk weekly now.",
                     "fields": {"narrative": "We started in May."}, "happened": "2026"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{story}");
    let story = story["id"].as_str().expect("id").to_owned();
    let (status, adopted) = api(
        &gamma,
        &gus,
        reqwest::Method::POST,
        &format!("/api/v1/garden/{}/adoptions", encoded(&fork)),
        Some(
            &json!({"context": "Three villages in the Dales", "outcome": "GP visits down a fifth",
                     "story": story, "place": {"name": "Skipton", "latitude": 53.96, "longitude": -2.02}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{adopted}");
    let adoption = adopted["id"].as_str().expect("id").to_owned();
    for (node, id) in [(&beta, &fork), (&alpha, &pattern)] {
        let item = wait_for_item(node, id, "the adoption", |i| {
            i["adoptions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["id"] == adoption.as_str()))
        })
        .await;
        let recorded = &item["adoptions"][0];
        assert_eq!(recorded["item"], fork.as_str());
        assert_eq!(recorded["story"], story.as_str());
        assert_eq!(recorded["place"]["name"], "Skipton");
        assert!(recorded["by"].as_str().is_some_and(|b| b.starts_with("@gus@")));
    }

    // Deleting the pattern on alpha leaves the fork with provenance that says the origin is gone.
    let (status, _) = api::<Value>(
        &alpha,
        &ana,
        reqwest::Method::DELETE,
        &format!("/api/v1/garden/{}", encoded(&pattern)),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let fork_after = wait_for_item(&beta, &fork, "the origin gone", |i| i["origin_gone"] == true).await;
    assert_eq!(fork_after["provenance"][0]["id"], pattern.as_str());
    assert_eq!(
        fork_after["content"]["fields"]["solution"],
        "Walk together every Monday and Thursday."
    );
    let gone = client()
        .get(&pattern)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("tombstone");
    assert_eq!(gone.status(), 410);
    let (status, _) = api::<Value>(
        &beta,
        &bea,
        reqwest::Method::GET,
        &format!("/api/v1/garden/{}/upstream", encoded(&fork)),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// The discussion of a garden item: a thread started from Mastodon (which
/// names no group, only the item's author) and one started on beta, with a
/// reply from alpha, all reach both nodes through the item's group.
#[tokio::test]
async fn a_garden_item_is_discussed_from_another_node_and_from_mastodon() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let ana = alpha.user("ana").await;
    let group_id = alpha.create_group(&ana, "walkers").await;
    let bea = beta.user("bea").await;
    assert_eq!(
        follow(&beta, &bea, &format!("@walkers@{}", alpha.domain))
            .await
            .status(),
        202
    );
    wait_for_membership(&beta, &bea, &group_id).await;
    let (status, created) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/garden",
        Some(&json!({"kind": "story", "group": "walkers", "title": "The Monday walk",
                     "summary": "Forty people walk every Monday.", "fields": {"narrative": "We started with four."}})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let story = created["id"].as_str().expect("id").to_owned();
    wait_for_item(&beta, &story, "the story", |i| i["title"] == "The Monday walk").await;

    // Mastodon: a reply to the Article, to its author's inbox.
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let ana_id = format!("{}/u/ana", alpha.base);
    let comment = peer.status(
        "mia",
        1,
        json!({"inReplyTo": story, "cc": [ana_id, format!("{}/followers", peer.actor_id("mia"))],
               "content": "<p>We do this in Bristol too!</p>"}),
    );
    let comment_id = comment["id"].as_str().expect("id").to_owned();
    assert_eq!(
        peer.deliver("mia", &format!("{ana_id}/inbox"), &peer.create("mia", &comment))
            .await
            .status(),
        202
    );

    // bea starts a thread about it on beta; ana answers it on alpha.
    let (status, body) = api(
        &beta,
        &bea,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"in_reply_to": story, "content": "How did you find the first four?"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let question = body["id"].as_str().expect("id").to_owned();
    let question_page = body["url"].as_str().expect("url").to_owned();
    let discussion_on = |node: &Node, token: &str| {
        let (node, token) = (node.base.clone(), token.to_owned());
        let story = story.clone();
        async move {
            client()
                .get(format!("{node}/api/v1/garden/{}/discussion", encoded(&story)))
                .bearer_auth(token)
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()
        }
    };
    let on_alpha = wait_for("both threads on alpha", PATIENCE, || async {
        discussion_on(&alpha, &ana)
            .await
            .filter(|d| d.as_array().is_some_and(|a| a.len() == 2))
    })
    .await;
    let starts: Vec<&str> = on_alpha
        .as_array()
        .expect("threads")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(
        starts.contains(&comment_id.as_str()) && starts.contains(&question.as_str()),
        "{on_alpha}"
    );
    let (status, body) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/posts",
        Some(&json!({"in_reply_to": question, "content": "We put up posters in the surgery."})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let answer = body["id"].as_str().expect("id").to_owned();

    // beta gets the Mastodon thread through the group, and ana's answer under bea's question.
    let on_beta = wait_for("the discussion on beta", PATIENCE, || async {
        discussion_on(&beta, &bea).await.filter(|d| {
            d.as_array().is_some_and(|threads| {
                threads.len() == 2
                    && threads.iter().any(|t| {
                        t["id"] == question.as_str()
                            && t["replies"]
                                .as_array()
                                .is_some_and(|r| r.iter().any(|r| r["id"] == answer.as_str()))
                    })
            })
        })
    })
    .await;
    assert!(
        on_beta.to_string().contains("We do this in Bristol too!"),
        "{on_beta}"
    );

    // The item's page shows its discussion; a thread links back to the item.
    let page = client()
        .get(format!("{}/garden/items/1", alpha.base))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("We do this in Bristol too!") && page.contains("We put up posters in the surgery.")
    );
    let thread = client()
        .get(&question_page)
        .send()
        .await
        .expect("thread page")
        .text()
        .await
        .expect("html");
    assert!(
        thread.contains("Part of the discussion of") && thread.contains("The Monday walk"),
        "{thread}"
    );
}

/// No lock-in: an item as Markdown, the whole garden as a zip of Markdown
/// and JSON, imported on another node as forks that keep their provenance
/// (and that the origin lists), refused clearly when it is not an export.
#[tokio::test]
async fn a_garden_is_exported_and_imported_into_another_node_keeping_provenance() {
    use std::io::Read;
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let ana = alpha.user("ana").await;
    let bea = beta.user("bea").await;
    let mut planted = Vec::new();
    for (kind, title, status) in [
        ("pattern", "Walking prescriptions", "published"),
        ("story", "The Monday walk: forty people", "published"),
        ("metric", "A draft metric", "draft"),
    ] {
        let (code, created) = api(
            &alpha,
            &ana,
            reqwest::Method::POST,
            "/api/v1/garden",
            Some(
                &json!({"kind": kind, "title": title, "summary": format!("About {title}."), "status": status,
                         "tags": ["walking"]}),
            ),
        )
        .await;
        assert_eq!(code, 201, "{created}");
        planted.push(created["id"].as_str().expect("id").to_owned());
    }

    // One item as Markdown.
    let markdown = client()
        .get(format!(
            "{}/api/v1/garden/{}/markdown",
            alpha.base,
            encoded(&planted[0])
        ))
        .send()
        .await
        .expect("markdown");
    assert_eq!(markdown.status(), 200);
    assert!(
        markdown.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/markdown")
    );
    let text = markdown.text().await.expect("text");
    assert!(
        text.starts_with("---\nkind: \"pattern\"\ntitle: \"Walking prescriptions\"\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("id: \"{}\"", planted[0])) && text.contains("author: \"@ana@alpha.test"),
        "{text}"
    );
    assert!(text.contains("\n# Walking prescriptions\n"));

    // The whole garden: published items only, as Markdown and in garden.json.
    let export = client()
        .get(format!("{}/api/v1/garden/export", alpha.base))
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "application/zip");
    let zip_bytes = export.bytes().await.expect("zip").to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.clone())).expect("a zip");
    let names: Vec<String> = zip
        .file_names()
        .map(|name| name.expect("a file name").into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("items/patterns/") && n.ends_with("-walking-prescriptions.md")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("items/stories/")), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("draft")), "{names:?}");
    let mut garden_json = String::new();
    zip.by_name("garden.json")
        .expect("garden.json")
        .read_to_string(&mut garden_json)
        .expect("read");
    let garden: Value = serde_json::from_str(&garden_json).expect("json");
    assert_eq!(garden["format"], "healthcommons-garden");
    assert_eq!(garden["items"].as_array().map(Vec::len), Some(2));

    // Refused clearly: the wrong media type, and a body that is not an export.
    let import = |body: Vec<u8>, content_type: &'static str| {
        let (base, token) = (beta.base.clone(), bea.clone());
        async move {
            let response = client()
                .post(format!("{base}/api/v1/garden/import"))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("import");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };
    let (status, body) = import(zip_bytes.clone(), "application/json").await;
    assert_eq!(status, 415, "{body}");
    let (status, body) = import(b"PK but not really".to_vec(), "application/zip").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("not a zip")),
        "{body}"
    );
    let (status, _) = import(vec![0; 17 * 1024 * 1024], "application/zip").await;
    assert_eq!(status, 413);
    let (status, items) = api::<Value>(&beta, &bea, reqwest::Method::GET, "/api/v1/garden", None).await;
    assert_eq!(
        (status, items.as_array().map(Vec::len)),
        (200, Some(0)),
        "nothing stored: {items}"
    );

    // Imported on beta: forks by bea that keep where they came from.
    let (status, report) = import(zip_bytes.clone(), "application/zip").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"].as_array().map(Vec::len), Some(2), "{report}");
    let copy = report["imported"]
        .as_array()
        .expect("imported")
        .iter()
        .find(|i| i["from"] == planted[0].as_str())
        .and_then(|i| i["id"].as_str())
        .expect("the pattern's copy")
        .to_owned();
    assert!(copy.starts_with(&beta.base));
    let (_, on_beta) = api::<Value>(
        &beta,
        &bea,
        reqwest::Method::GET,
        &format!("/api/v1/garden/{}", encoded(&copy)),
        None,
    )
    .await;
    assert_eq!(on_beta["forked_from"], planted[0].as_str(), "{on_beta}");
    assert_eq!(on_beta["provenance"][0]["id"], planted[0].as_str());
    assert_eq!(on_beta["provenance"][0]["revision"], 1);
    assert_eq!(on_beta["title"], "Walking prescriptions");
    let (status, upstream) = api::<Value>(
        &beta,
        &bea,
        reqwest::Method::GET,
        &format!("/api/v1/garden/{}/upstream", encoded(&copy)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{upstream}");
    assert_eq!(upstream["changes"], json!([]));

    // alpha lists the copy among the pattern's forks.
    wait_for_item(&alpha, &planted[0], "the imported copy", |i| {
        i["forks"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["id"] == copy.as_str()))
    })
    .await;

    // The same export again changes nothing.
    let (status, again) = import(zip_bytes, "application/zip").await;
    assert_eq!(status, 200);
    assert_eq!(again["imported"], json!([]));
    assert!(
        again["skipped"]
            .as_array()
            .is_some_and(|s| s.len() == 2 && s.iter().all(|s| s["reason"] == "it is already in this garden")),
        "{again}"
    );
}

/// The event `ap_id` as `node` lists it, once `check` holds.
async fn wait_for_event(
    node: &Node,
    token: &str,
    ap_id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(&format!("{what} on {}", node.name), PATIENCE, || async {
        let (_, events) = api::<Value>(node, token, reqwest::Method::GET, "/api/v1/events", None).await;
        let event = events.as_array()?.iter().find(|e| e["ap_id"] == ap_id)?.clone();
        check(&event).then_some(event)
    })
    .await
}

/// Read an iCalendar feed back with a standard parser: its events' summaries.
async fn calendar_summaries(url: &str) -> Vec<String> {
    use icalendar::{Component, parser};
    let response = client().get(url).send().await.expect("calendar");
    assert_eq!(response.status(), 200, "{url}");
    assert!(
        response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/calendar")),
        "{url}"
    );
    let body = response.text().await.expect("text");
    assert!(body.lines().all(|l| l.len() <= 76), "{url}: a line is not folded");
    let unfolded = parser::unfold(&body);
    let calendar: icalendar::Calendar = parser::read_calendar(&unfolded)
        .unwrap_or_else(|e| panic!("{url} does not parse: {e}"))
        .into();
    calendar
        .components
        .iter()
        .filter_map(|c| c.as_event())
        .map(|e| e.get_summary().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_event_takes_rsvps_from_two_other_nodes_within_its_capacity() {
    let (alpha, beta, gamma) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[]),
        Node::start(NODE, "gamma.test", &[])
    );
    let ana = alpha.user("ana").await;
    let ali = alpha.user("ali").await;
    let group_id = alpha.create_group(&ana, "walkers").await;
    let (bea, cai, cid) = tokio::join!(beta.user("bea"), gamma.user("cai"), gamma.user("cid"));
    let handle = format!("@walkers@{}", alpha.domain);
    for (node, token) in [(&beta, &bea), (&gamma, &cai)] {
        assert_eq!(follow(node, token, &handle).await.status(), 202);
        wait_for_membership(node, token, &group_id).await;
    }
    let starts = chrono::Utc::now() + chrono::Duration::days(7);
    let (status, created) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/events",
        Some(&json!({
            "kind": "workshop", "group": "walkers", "title": "Walk leader training",
            "description": "Learn to lead a **health walk**.",
            "starts_at": starts.to_rfc3339(), "ends_at": (starts + chrono::Duration::hours(2)).to_rfc3339(),
            "timezone": "Europe/London",
            "place": {"name": "Community centre", "address": "1 High Street, Bristol", "latitude": 51.45, "longitude": -2.58},
            "capacity": 2
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let ap_id = created["ap_id"].as_str().expect("ap id").to_owned();
    let local_id = created["id"].as_i64().expect("id");
    assert_eq!(created["places_left"], 2);

    // The event reaches both nodes through the working group.
    let on_beta = wait_for_event(&beta, &bea, &ap_id, "the event", |e| {
        e["title"] == "Walk leader training"
    })
    .await;
    let on_gamma = wait_for_event(&gamma, &cai, &ap_id, "the event", |_| true).await;
    assert_eq!(on_beta["capacity"], 2);
    assert_eq!(on_beta["timezone"], "Europe/London");
    assert_eq!(on_beta["place"]["latitude"], 51.45);
    assert_eq!(on_beta["group"], format!("@walkers@{}", alpha.domain));
    // It has a place, so it is on beta's map too, a valid GeoJSON point.
    let map: geojson::FeatureCollection = client()
        .get(format!("{}/api/v1/map.geojson", beta.base))
        .send()
        .await
        .expect("map")
        .text()
        .await
        .expect("text")
        .parse::<geojson::GeoJson>()
        .expect("valid GeoJSON")
        .try_into()
        .expect("a feature collection");
    let on_map = map
        .features
        .iter()
        .find(|f| f.property("kind").and_then(Value::as_str) == Some("event"))
        .expect("the event on the map");
    assert_eq!(
        on_map.property("name").and_then(Value::as_str),
        Some("Walk leader training")
    );
    assert_eq!(
        serde_json::to_value(&on_map.geometry).expect("geometry"),
        json!({"type": "Point", "coordinates": [-2.58, 51.45]})
    );
    let rsvp = |node: &Node, token: &str, event: &Value| {
        let path = format!("/api/v1/events/{}/participation", event["id"]);
        let (node, token) = (node.base.clone(), token.to_owned());
        async move {
            let response = client()
                .post(format!("{node}{path}"))
                .bearer_auth(token)
                .json(&json!({"message": "See you there"}))
                .send()
                .await
                .expect("rsvp");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // bea (beta) and cai (gamma) take the two places.
    let (status, body) = rsvp(&beta, &bea, &on_beta).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("pending")), "{body}");
    wait_for_event(&beta, &bea, &ap_id, "bea's acceptance", |e| {
        e["participation"] == "accepted"
    })
    .await;
    let (status, _) = rsvp(&gamma, &cai, &on_gamma).await;
    assert_eq!(status, 200);
    wait_for_event(&gamma, &cai, &ap_id, "cai's acceptance", |e| {
        e["participation"] == "accepted"
    })
    .await;

    // cid (gamma) asks for a third place: refused by alpha; ali (alpha) is told at once.
    let (status, _) = rsvp(&gamma, &cid, &on_gamma).await;
    assert_eq!(status, 200);
    wait_for_event(&gamma, &cid, &ap_id, "cid's refusal", |e| {
        e["participation"] == "rejected"
    })
    .await;
    let (status, body) = api(
        &alpha,
        &ali,
        reqwest::Method::POST,
        &format!("/api/v1/events/{local_id}/participation"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["message"], "this event is full");
    let (_, on_alpha) = api::<Value>(
        &alpha,
        &ana,
        reqwest::Method::GET,
        &format!("/api/v1/events/{local_id}"),
        None,
    )
    .await;
    assert_eq!(
        (
            on_alpha["participant_count"].as_i64(),
            on_alpha["places_left"].as_i64()
        ),
        (Some(2), Some(0))
    );
    let (_, participants) = api::<Value>(
        &alpha,
        &ana,
        reqwest::Method::GET,
        &format!("/api/v1/events/{local_id}/participants"),
        None,
    )
    .await;
    let states: Vec<(String, String)> = participants
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            (
                p["actor"].as_str().unwrap_or_default().to_owned(),
                p["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (format!("@bea@{}", beta.domain), "accepted".to_owned()),
            (format!("@cai@{}", gamma.domain), "accepted".to_owned()),
            (format!("@cid@{}", gamma.domain), "rejected".to_owned()),
        ]
    );
    assert_eq!(participants[0]["message"], "See you there");
    // The count reaches the other nodes with the organiser's Update.
    wait_for_event(&beta, &bea, &ap_id, "the count", |e| {
        e["participant_count"] == 2 && e["places_left"] == 0
    })
    .await;

    // bea cannot come after all: her place goes to cid, who asks again.
    let (status, _) = api::<Value>(
        &beta,
        &bea,
        reqwest::Method::DELETE,
        &format!("/api/v1/events/{}/participation", on_beta["id"]),
        None,
    )
    .await;
    assert_eq!(status, 204);
    wait_for_event(&gamma, &cid, &ap_id, "the freed place", |e| {
        e["participant_count"] == 1
    })
    .await;
    let (status, _) = rsvp(&gamma, &cid, &on_gamma).await;
    assert_eq!(status, 200);
    wait_for_event(&gamma, &cid, &ap_id, "cid's acceptance", |e| {
        e["participation"] == "accepted"
    })
    .await;

    // Cancelled: every node shows it, and no one can join any more.
    let mut change = json!({
        "kind": "workshop", "title": "Walk leader training", "description": "Postponed.",
        "starts_at": starts.to_rfc3339(), "timezone": "Europe/London", "capacity": 2, "status": "cancelled"
    });
    let (status, body) = api(
        &alpha,
        &ana,
        reqwest::Method::PUT,
        &format!("/api/v1/events/{local_id}"),
        Some(&change),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    wait_for_event(&beta, &bea, &ap_id, "the cancellation", |e| {
        e["status"] == "cancelled"
    })
    .await;
    let (status, body) = rsvp(&beta, &bea, &on_beta).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some("this event has been cancelled"))
    );
    change["capacity"] = json!(1);
    let (status, body) = api(
        &alpha,
        &ana,
        reqwest::Method::PUT,
        &format!("/api/v1/events/{local_id}"),
        Some(&change),
    )
    .await;
    assert_eq!(
        status, 422,
        "two take part, so the capacity cannot drop to one: {body}"
    );

    // The calendars read back with a standard parser.
    assert_eq!(
        calendar_summaries(&format!("{}/events/{local_id}/calendar.ics", alpha.base)).await,
        vec!["Walk leader training"]
    );
    assert_eq!(
        calendar_summaries(&format!("{}/g/walkers/events.ics", alpha.base)).await,
        vec!["Walk leader training"]
    );
    assert_eq!(
        calendar_summaries(&format!("{}/events.ics", beta.base)).await,
        vec!["Walk leader training"]
    );

    // Deleted by its organiser: gone everywhere.
    let (status, _) = api::<Value>(
        &alpha,
        &ana,
        reqwest::Method::DELETE,
        &format!("/api/v1/events/{local_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    wait_for("the deletion on beta", PATIENCE, || async {
        let (_, events) = api::<Value>(&beta, &bea, reqwest::Method::GET, "/api/v1/events", None).await;
        events
            .as_array()?
            .iter()
            .all(|e| e["ap_id"] != ap_id.as_str())
            .then_some(())
    })
    .await;
}

/// The options of `question` on `node`'s agenda of the group `group` as (name, votes), once `check` holds.
async fn wait_for_totals(
    node: &Node,
    token: &str,
    group: &str,
    question: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(&format!("the totals on {}", node.name), PATIENCE, || async {
        let (_, agenda) = api::<Value>(
            node,
            token,
            reqwest::Method::GET,
            &format!("/api/v1/groups/{group}/agenda"),
            None,
        )
        .await;
        let found = agenda
            .as_array()?
            .iter()
            .find(|q| q["ap_id"] == question)?
            .clone();
        check(&found).then_some(found)
    })
    .await
}

fn totals(question: &Value) -> Vec<(String, i64)> {
    question["options"]
        .as_array()
        .map(|options| {
            options
                .iter()
                .map(|o| {
                    (
                        o["name"].as_str().unwrap_or_default().to_owned(),
                        o["votes"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_agenda_question_takes_one_vote_each_from_another_node_and_from_mastodon() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let ana = alpha.user("ana").await;
    let group_id = alpha.create_group(&ana, "walkers").await;
    let bea = beta.user("bea").await;
    let remote_group = format!("walkers@{}", alpha.domain);
    assert_eq!(
        follow(&beta, &bea, &format!("@{remote_group}")).await.status(),
        202
    );
    wait_for_membership(&beta, &bea, &group_id).await;
    let ask = |question: &str, options: Value| {
        json!({"question": question, "options": options,
               "closes_at": (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339()})
    };
    let (status, created) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/groups/walkers/agenda",
        Some(&ask(
            "When should we walk?",
            json!(["Monday walks", "Saturday walks", "Both"]),
        )),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let question = created["ap_id"].as_str().expect("ap id").to_owned();
    let local_id = created["id"].as_i64().expect("id");
    let (status, body) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/groups/walkers/agenda",
        Some(&ask("One option only?", json!(["Yes"]))),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("a question offers 2 to 10 options"))
    );
    let (status, second) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/groups/walkers/agenda",
        Some(&ask("Which routes?", json!(["Park", "River"]))),
    )
    .await;
    assert_eq!(status, 201, "{second}");

    // bea votes from beta, once.
    let on_beta = wait_for_totals(&beta, &bea, &remote_group, &question, |_| true).await;
    assert_eq!(on_beta["content_html"], "<p>When should we walk?</p>");
    let vote_path = format!("/api/v1/questions/{}/votes", on_beta["id"]);
    let (status, body) = api(
        &beta,
        &bea,
        reqwest::Method::POST,
        &vote_path,
        Some(&json!({"choices": [1]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["your_choices"], json!([1]));
    let (status, body) = api(
        &beta,
        &bea,
        reqwest::Method::POST,
        &vote_path,
        Some(&json!({"choices": [0]})),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some("you have already voted"))
    );

    // mia votes from Mastodon (a Note named after the option), then tries again.
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let ana_id = format!("{}/u/ana", alpha.base);
    let ana_inbox = format!("{ana_id}/inbox");
    let vote = |number: u32, option: &str| {
        let note = json!({"id": format!("{}#votes/{number}", peer.actor_id("mia")), "type": "Note",
                          "name": option, "inReplyTo": question, "attributedTo": peer.actor_id("mia"), "to": ana_id});
        json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}#votes/{number}/activity", peer.actor_id("mia")),
               "type": "Create", "actor": peer.actor_id("mia"), "to": ana_id, "object": note})
    };
    assert_eq!(
        peer.deliver("mia", &ana_inbox, &vote(1, "Monday walks"))
            .await
            .status(),
        202
    );
    let on_alpha = wait_for_totals(&alpha, &ana, "walkers", &question, |q| q["voters_count"] == 2).await;
    assert_eq!(
        totals(&on_alpha),
        vec![
            ("Monday walks".to_owned(), 1),
            ("Saturday walks".to_owned(), 1),
            ("Both".to_owned(), 0)
        ]
    );
    assert_eq!(
        peer.deliver("mia", &ana_inbox, &vote(2, "Both")).await.status(),
        202
    );
    assert_eq!(
        peer.deliver("mia", &ana_inbox, &vote(3, "Tuesday walks"))
            .await
            .status(),
        202
    );
    // Both are refused, each with its reason, and change nothing.
    let admin = alpha.admin_token().await;
    let refusals = wait_for("the refused votes", PATIENCE, || async {
        let (_, failed) = api::<Value>(
            &alpha,
            &admin,
            reqwest::Method::GET,
            "/api/v1/admin/inbox?state=failed",
            None,
        )
        .await;
        let reasons: Vec<String> = failed
            .as_array()?
            .iter()
            .filter(|r| r["id"].as_str().is_some_and(|id| id.contains("#votes/")))
            .map(|r| r["reason"].as_str().unwrap_or_default().to_owned())
            .collect();
        (reasons.len() == 2).then_some(reasons)
    })
    .await;
    assert!(
        refusals.iter().any(|r| r.contains("you have already voted")),
        "{refusals:?}"
    );
    assert!(
        refusals.iter().any(|r| r.contains("is not an option")),
        "{refusals:?}"
    );
    let (_, after) = api::<Value>(
        &alpha,
        &ana,
        reqwest::Method::GET,
        &format!("/api/v1/questions/{local_id}"),
        None,
    )
    .await;
    assert_eq!(
        totals(&after),
        totals(&on_alpha),
        "a second vote from mia counted"
    );
    assert_eq!(after["voters_count"], 2);

    // The totals reach beta and Mastodon with the author's Update.
    let on_beta = wait_for_totals(&beta, &bea, &remote_group, &question, |q| q["voters_count"] == 2).await;
    assert_eq!(totals(&on_beta), totals(&on_alpha));
    assert_eq!(on_beta["your_choices"], json!([1]));
    let update = wait_for("the Update at Mastodon", PATIENCE, || async {
        peer.received().into_iter().rev().find(|d| {
            d.body["type"] == "Update"
                && d.body["object"]["id"] == question.as_str()
                && d.body["object"]["votersCount"] == 2
        })
    })
    .await;
    assert!(update.signature_valid);
    let one_of: Vec<(String, i64)> = update.body["object"]["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap_or_default().to_owned(),
                o["replies"]["totalItems"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(one_of, totals(&on_alpha));

    // The agenda ranks the supported question first, its options by votes.
    let (_, agenda) = api::<Value>(
        &alpha,
        &ana,
        reqwest::Method::GET,
        "/api/v1/groups/walkers/agenda",
        None,
    )
    .await;
    let ranked: Vec<&str> = agenda
        .as_array()
        .expect("agenda")
        .iter()
        .map(|q| q["ap_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        ranked,
        vec![question.as_str(), second["ap_id"].as_str().unwrap_or_default()]
    );
    assert_eq!(agenda[0]["ranked"][2]["name"], "Both");
}

/// The initiatives on `node`'s map.geojson, read with the `geojson` crate,
/// as (name, [lon, lat]).
async fn initiatives_on_map(node: &Node) -> Vec<(String, Vec<f64>)> {
    let response = client()
        .get(format!("{}/api/v1/map.geojson", node.base))
        .send()
        .await
        .expect("map.geojson");
    assert_eq!(response.headers()["content-type"], "application/geo+json");
    let text = response.text().await.expect("text");
    let geojson::GeoJson::FeatureCollection(collection) = text.parse().expect("valid GeoJSON") else {
        panic!("not a FeatureCollection: {text}");
    };
    let mut found: Vec<(String, Vec<f64>)> = collection
        .features
        .iter()
        .filter(|f| f.property("kind").and_then(Value::as_str) == Some("initiative"))
        .filter_map(|f| {
            let name = f.property("name")?.as_str()?.to_owned();
            match &f.geometry.as_ref()?.value {
                geojson::GeometryValue::Point { coordinates } => {
                    Some((name, coordinates.as_slice().to_vec()))
                }
                _ => None,
            }
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[tokio::test]
async fn three_nodes_that_know_one_neighbour_each_map_all_three_initiatives() {
    // Crawl every second and refetch after two, so the test sees in seconds
    // what takes hours in production.
    let fast = [
        ("HEALTHCOMMONS_DIRECTORY_CRAWL_INTERVAL_SECS", "1"),
        ("HEALTHCOMMONS_DIRECTORY_REFRESH_SECS", "2"),
    ];
    let (alpha, beta, gamma) = tokio::join!(
        Node::start(NODE, "alpha.test", &fast),
        Node::start(NODE, "beta.test", &fast),
        Node::start(NODE, "gamma.test", &fast)
    );
    let profiles = [
        (&alpha, "Alpha Walkers", 51.5, -0.1),
        (&beta, "Beta Carers", 48.85, 2.35),
        (&gamma, "Gamma Gardens", 52.52, 13.4),
    ];
    let mut admins = Vec::new();
    for (node, name, latitude, longitude) in profiles {
        let admin = node.admin_token().await;
        let response = client()
            .put(format!("{}/api/v1/node/profile", node.base))
            .bearer_auth(&admin)
            .json(
                &json!({"initiative_name": name, "description": "Health, together.",
                          "location": {"name": name, "latitude": latitude, "longitude": longitude}}),
            )
            .send()
            .await
            .expect("profile");
        assert_eq!(response.status(), 200);
        admins.push(admin);
    }

    // Beta knows alpha only: Bea joins a working group there.
    let ana = alpha.user("ana").await;
    let walkers = alpha.create_group(&ana, "walkers").await;
    let bea = beta.user("bea").await;
    follow(&beta, &bea, &walkers).await;
    wait_for_membership(&beta, &bea, &walkers).await;
    // Gamma knows beta only: Gil joins a working group there.
    let carers = beta.create_group(&bea, "carers").await;
    let gil = gamma.user("gil").await;
    follow(&gamma, &gil, &carers).await;
    wait_for_membership(&gamma, &gil, &carers).await;

    let everyone = vec![
        ("Alpha Walkers".to_owned(), vec![-0.1, 51.5]),
        ("Beta Carers".to_owned(), vec![2.35, 48.85]),
        ("Gamma Gardens".to_owned(), vec![13.4, 52.52]),
    ];
    for node in [&alpha, &beta, &gamma] {
        wait_for(
            &format!("all three initiatives on {}'s map", node.name),
            PATIENCE,
            || async { (initiatives_on_map(node).await == everyone).then_some(()) },
        )
        .await;
        let page = client()
            .get(format!("{}/map", node.base))
            .send()
            .await
            .expect("map page")
            .text()
            .await
            .expect("html");
        let list = page
            .split("id=\"map-initiatives\"")
            .nth(1)
            .expect("the list of initiatives");
        for (name, _) in &everyone {
            assert!(
                list.contains(name.as_str()),
                "{name} is listed on {}'s map page",
                node.name
            );
        }
    }
    // Alpha learned of gamma only through beta's list.
    let directory: Value = client()
        .get(format!("{}/api/v1/admin/directory", alpha.base))
        .bearer_auth(&admins[0])
        .send()
        .await
        .expect("directory")
        .json()
        .await
        .expect("json");
    let gamma_entry = directory
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["host"] == gamma.domain)
        .expect("gamma is in alpha's directory");
    assert_eq!(gamma_entry["hops"], 2);
    assert_eq!(gamma_entry["learned_from"], beta.domain);

    // Hidden on alpha: gone from alpha's map and from the peers beta reads
    // from alpha; still on the others' maps.
    let hidden = client()
        .put(format!(
            "{}/api/v1/admin/directory/{}/hidden",
            alpha.base, beta.domain
        ))
        .bearer_auth(&admins[0])
        .send()
        .await
        .expect("hide");
    assert_eq!(hidden.status(), 204);
    let names: Vec<String> = initiatives_on_map(&alpha)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["Alpha Walkers", "Gamma Gardens"]);
    let published: Value = client()
        .get(format!("{}/api/v1/directory/peers", alpha.base))
        .send()
        .await
        .expect("peers")
        .json()
        .await
        .expect("json");
    assert_eq!(published, json!([]), "alpha met only beta, and hid it");
    assert_eq!(initiatives_on_map(&gamma).await, everyone);

    // Blocked on gamma: beta's initiative leaves gamma's map at once.
    let blocked = client()
        .post(format!("{}/api/v1/admin/blocks", gamma.base))
        .bearer_auth(&admins[2])
        .json(&json!({"host": beta.domain}))
        .send()
        .await
        .expect("block");
    assert_eq!(blocked.status(), 204);
    let names: Vec<String> = initiatives_on_map(&gamma)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["Alpha Walkers", "Gamma Gardens"]);
}

/// The pledge `ap_id` in `group`'s pledges on `node`, once `check` holds.
async fn wait_for_pledge(
    node: &Node,
    token: &str,
    group: &str,
    ap_id: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(&format!("the pledge on {}", node.name), PATIENCE, || async {
        let (_, pledges) = api::<Value>(
            node,
            token,
            reqwest::Method::GET,
            &format!("/api/v1/groups/{group}/pledges"),
            None,
        )
        .await;
        let found = pledges.as_array()?.iter().find(|p| p["ap_id"] == ap_id)?.clone();
        check(&found).then_some(found)
    })
    .await
}

#[tokio::test]
async fn a_pledge_on_alpha_shows_on_beta_and_people_there_and_on_mastodon_count_on_it() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let ana = alpha.user("ana").await;
    let group_id = alpha.create_group(&ana, "walkers").await;
    let bea = beta.user("bea").await;
    let remote_group = format!("walkers@{}", alpha.domain);
    assert_eq!(
        follow(&beta, &bea, &format!("@{remote_group}")).await.status(),
        202
    );
    wait_for_membership(&beta, &bea, &group_id).await;
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let follow_activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/1", peer.base), "type": "Follow", "actor": peer.actor_id("mia"), "object": group_id,
    });
    assert_eq!(
        peer.deliver("mia", &format!("{group_id}/inbox"), &follow_activity)
            .await
            .status(),
        202
    );
    wait_for_count(&alpha, "walkers", 2).await;

    let (status, question) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/groups/walkers/agenda",
        Some(&json!({"question": "Where do we meet in winter?", "options": ["Library", "Clinic"]})),
    )
    .await;
    assert_eq!(status, 201, "{question}");
    let due = (chrono::Utc::now() + chrono::Duration::days(20)).date_naive();
    let pledge_on = |target_id: &Value, action: &str| json!({"on": "question", "target_id": target_id, "action": action, "due_on": due.to_string()});
    let (status, body) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/pledges",
        Some(&pledge_on(&question["id"], "I will ")),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("say what you will do"))
    );
    let (status, body) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/pledges",
        Some(&pledge_on(&json!(999_999), "ask the library")),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("no such agenda question"))
    );
    let (status, created) = api(
        &alpha,
        &ana,
        reqwest::Method::POST,
        "/api/v1/pledges",
        Some(&pledge_on(&question["id"], "I will ask the library for a room.")),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["action"], "ask the library for a room");
    assert_eq!(created["status"], "offered");
    assert_eq!(created["target"]["title"], "Where do we meet in winter?");
    let pledge = created["ap_id"].as_str().expect("ap id").to_owned();
    let alpha_path = format!("/api/v1/pledges/{}", created["id"]);

    // The pledge reaches beta through the group, attached to beta's copy of the question.
    let on_beta = wait_for_pledge(&beta, &bea, &remote_group, &pledge, |_| true).await;
    assert_eq!(on_beta["author"], format!("@ana@{}", alpha.domain));
    assert_eq!(on_beta["action"], "ask the library for a room");
    assert_eq!(on_beta["due_on"], due.to_string());
    assert_eq!(on_beta["status"], "offered");
    assert_eq!(on_beta["target"]["kind"], "question");
    assert_eq!(on_beta["target"]["ap_id"], question["ap_id"]);
    assert_eq!(on_beta["local"], false);

    // Mastodon gets a boost of it, and its id answers a Note in reply to the question.
    wait_for("the boost of the pledge at Mastodon", PATIENCE, || async {
        peer.received().into_iter().find(|d| {
            d.body["type"] == "Announce"
                && (d.body["object"] == pledge.as_str()
                    || d.body["object"]["object"]["id"] == pledge.as_str())
        })
    })
    .await;
    let note: Value = client()
        .get(&pledge)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("the pledge's id")
        .json()
        .await
        .expect("JSON");
    assert_eq!(note["type"], "Note");
    assert_eq!(note["inReplyTo"], question["ap_id"]);
    assert_eq!(note["pledgeStatus"], "offered");
    assert!(
        note["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("<p>I will ask the library for a room, by ")),
        "{note}"
    );

    // bea counts on it from beta, once; mia counts on it with a favourite.
    let beta_backers = format!("/api/v1/pledges/{}/backers", on_beta["id"]);
    let (status, body) = api::<Value>(&beta, &bea, reqwest::Method::POST, &beta_backers, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counting_on"], true);
    let (status, body) = api::<Value>(&beta, &bea, reqwest::Method::POST, &beta_backers, None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some("you already count on this pledge"))
    );
    // mia and max count on it with a favourite; max takes it back. Those
    // counting on it hear of every change from ana.
    let ana_inbox = format!("{}/u/ana/inbox", alpha.base);
    let like = |who: &str| {
        json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/likes/{who}", peer.base),
               "type": "Like", "actor": peer.actor_id(who), "object": pledge})
    };
    for who in ["mia", "max"] {
        assert_eq!(peer.deliver(who, &ana_inbox, &like(who)).await.status(), 202);
    }
    wait_for_pledge(&alpha, &ana, "walkers", &pledge, |p| p["backers_count"] == 3).await;
    let on_beta = wait_for_pledge(&beta, &bea, &remote_group, &pledge, |p| p["backers_count"] == 3).await;
    assert_eq!(on_beta["counting_on"], true);
    let undo = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/likes/max/undo", peer.base),
                      "type": "Undo", "actor": peer.actor_id("max"), "object": like("max")});
    assert_eq!(peer.deliver("max", &ana_inbox, &undo).await.status(), 202);
    wait_for_pledge(&alpha, &ana, "walkers", &pledge, |p| p["backers_count"] == 2).await;

    // Only ana moves it, forward only; beta and Mastodon hear where it stands.
    let status_path = format!("{alpha_path}/status");
    let move_to = |status: &str| json!({"status": status});
    let (status, body) = api(
        &beta,
        &bea,
        reqwest::Method::PUT,
        &format!("/api/v1/pledges/{}/status", on_beta["id"]),
        Some(&move_to("done")),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("only who pledged may change a pledge"))
    );
    for next in ["in_progress", "done"] {
        let (status, body) = api(
            &alpha,
            &ana,
            reqwest::Method::PUT,
            &status_path,
            Some(&move_to(next)),
        )
        .await;
        assert_eq!((status, body["status"].as_str()), (200, Some(next)), "{body}");
    }
    let (status, body) = api(
        &alpha,
        &ana,
        reqwest::Method::PUT,
        &status_path,
        Some(&move_to("offered")),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some("a pledge that is done cannot become offered"))
    );
    wait_for_pledge(&beta, &bea, &remote_group, &pledge, |p| p["status"] == "done").await;
    let update = wait_for("the Update at Mastodon", PATIENCE, || async {
        peer.received().into_iter().find(|d| {
            d.body["type"] == "Update"
                && d.body["object"]["id"] == pledge.as_str()
                && d.body["object"]["pledgeStatus"] == "done"
        })
    })
    .await;
    assert!(update.signature_valid);

    // bea pledges from beta on the same question; alpha's group lists it.
    let (status, from_beta) = api(
        &beta,
        &bea,
        reqwest::Method::POST,
        "/api/v1/pledges",
        Some(&json!({"on": "question", "target_id": on_beta["target"]["id"], "action": "bring the key"})),
    )
    .await;
    assert_eq!(status, 201, "{from_beta}");
    let bea_pledge = from_beta["ap_id"].as_str().expect("ap id").to_owned();
    let on_alpha = wait_for_pledge(&alpha, &ana, "walkers", &bea_pledge, |_| true).await;
    assert_eq!(on_alpha["author"], format!("@bea@{}", beta.domain));
    assert_eq!(on_alpha["target"]["ap_id"], question["ap_id"]);
    assert_eq!(on_alpha["due_on"], Value::Null);
}
