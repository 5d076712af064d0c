//! Real third-party fediverse software against a real node, so that the
//! interop checks do not rest on code written here:
//!
//! - **Fedify** (npm `@fedify/fedify` and `@fedify/vocab`, on Node.js 22),
//!   driven as its CLI's `fedify lookup` and `fedify inbox` drive it
//!   (`federation-tests/src/third_party/fedify.mjs` says why not the CLI
//!   itself): it looks up our actors and posts, unsigned and with signed
//!   fetch, and follows a working group from an ephemeral inbox that checks
//!   the signatures of what it receives.
//! - **fediverse-pasture** (PyPI), its `verify_actor`: six test actors of
//!   its own fetch our actor and post to its inbox, signed and unsigned,
//!   some fetchable only with a signature, and it checks our WebFinger.
//!
//! `.ci/run` installs both; `federation-tests/src/third_party.rs` finds them.

use healthcommons_federation_tests::{
    Node, client,
    third_party::{Fedify, Pasture},
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const NODE: &str = env!("CARGO_BIN_EXE_healthcommons-node");
const PATIENCE: Duration = Duration::from_secs(60);
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// POST `body` to `path` as the holder of `token`; the JSON answer.
async fn post(node: &Node, token: &str, path: &str, body: Value) -> Value {
    let response = client()
        .post(format!("{}{path}", node.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "POST {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// What a test looks up: a person, a working group with a thread and a
/// sensitive reply, and the instance actor.
struct Scene {
    person: String,
    group: String,
    instance: String,
    thread: String,
    reply: String,
}

impl Scene {
    fn urls(&self) -> Vec<String> {
        [
            &self.person,
            &self.group,
            &self.instance,
            &self.thread,
            &self.reply,
        ]
        .map(String::clone)
        .to_vec()
    }
}

async fn scene(node: &Node) -> Scene {
    let ana = node.user("ana").await;
    let group = node.create_group(&ana, "walkers").await;
    let handle = format!("@walkers@{}", node.domain);
    let thread = post(
        node,
        &ana,
        "/api/v1/posts",
        json!({"group": handle, "title": "Saturday walk", "content": "Meet at the **park**"}),
    )
    .await["id"]
        .as_str()
        .expect("thread id")
        .to_owned();
    let reply = post(
        node,
        &ana,
        "/api/v1/posts",
        json!({"in_reply_to": thread, "content": "Blisters: what to look out for", "sensitive": true}),
    )
    .await["id"]
        .as_str()
        .expect("reply id")
        .to_owned();
    Scene {
        person: format!("{}/u/ana", node.base),
        group,
        instance: format!("{}/actor", node.base),
        thread,
        reply,
    }
}

/// The `lookup` events, in the order of the URLs.
fn lookups(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "lookup").collect()
}

/// What Fedify made of each of the scene's objects: the same whether it
/// fetched them signed or not.
fn check_lookups(node: &Node, scene: &Scene, events: &[Value]) {
    let found = lookups(events);
    assert_eq!(found.len(), 5, "{events:#?}");
    for lookup in &found {
        assert_eq!(
            lookup["found"], true,
            "Fedify found nothing at {}: {lookup:#}",
            lookup["url"]
        );
    }
    let [person, group, instance, thread, reply] = [0, 1, 2, 3, 4].map(|i| &found[i]["object"]);

    for (actor, kind, id, username) in [
        (person, "Person", &scene.person, "ana"),
        (group, "Group", &scene.group, "walkers"),
        (instance, "Application", &scene.instance, node.domain.as_str()),
    ] {
        assert_eq!(actor["type"], kind, "{actor:#}");
        assert_eq!(actor["id"], id.as_str());
        assert_eq!(actor["preferredUsername"], username);
        assert_eq!(actor["inbox"], format!("{id}/inbox"));
        assert_eq!(actor["outbox"], format!("{id}/outbox"));
        assert_eq!(actor["sharedInbox"], format!("{}/inbox", node.base));
        assert_eq!(
            actor["publicKey"],
            json!({"id": format!("{id}#main-key"), "owner": id, "algorithm": "RSASSA-PKCS1-v1_5"}),
            "Fedify could not read {id}'s key"
        );
    }
    assert_eq!(person["followers"], format!("{}/followers", scene.person));
    assert_eq!(group["followers"], format!("{}/followers", scene.group));
    assert_eq!(group["name"], "Walking for health");
    // Mastodon's terms, which the ActivityStreams context does not define:
    // Fedify reads them only when our @context defines them.
    assert_eq!(person["manuallyApprovesFollowers"], false, "{person:#}");
    assert_eq!(group["manuallyApprovesFollowers"], false, "{group:#}");
    assert_eq!(instance["manuallyApprovesFollowers"], true, "{instance:#}");
    assert_eq!(person["discoverable"], true);
    assert_eq!(instance["discoverable"], false);

    assert_eq!(thread["type"], "Note", "{thread:#}");
    assert_eq!(thread["id"], scene.thread.as_str());
    assert_eq!(thread["attributedTo"], json!([scene.person]));
    // The title leads the content, in bold; no `name` (FEDERATION.md, Posts).
    assert_eq!(thread["name"], Value::Null);
    assert_eq!(
        thread["content"],
        "<p><strong>Saturday walk</strong></p><p>Meet at the <strong>park</strong></p>"
    );
    assert_eq!(thread["audience"], json!([scene.group]));
    assert!(
        thread["to"]
            .as_array()
            .is_some_and(|to| to.contains(&json!(PUBLIC))),
        "{thread:#}"
    );
    assert_eq!(thread["sensitive"], false);
    assert_eq!(reply["type"], "Note", "{reply:#}");
    assert_eq!(reply["inReplyTo"], scene.thread.as_str());
    assert_eq!(
        reply["sensitive"], true,
        "Fedify lost the reply's sensitive flag: {reply:#}"
    );
}

#[tokio::test]
async fn fedify_looks_up_a_person_a_working_group_the_instance_actor_and_posts() {
    let Some(fedify) = Fedify::find() else { return };
    let started = Instant::now();
    let node = Node::start(NODE, "alpha.test", &[]).await;
    let scene = scene(&node).await;
    let urls = scene.urls();

    let (ok, events) = fedify.lookup(&urls).await;
    check_lookups(&node, &scene, &events);
    assert!(ok);
    // Signed, the same.
    let signed = [Fedify::signed("draft-cavage-http-signatures-12"), urls].concat();
    let (ok, events) = fedify.lookup(&signed).await;
    check_lookups(&node, &scene, &events);
    assert!(ok);
    eprintln!("{} ({}): {:?}", module_path!(), fedify.version, started.elapsed());
}

#[tokio::test]
async fn fedify_needs_a_signature_for_all_but_the_instance_actor_in_authorized_fetch_mode() {
    let Some(fedify) = Fedify::find() else { return };
    let started = Instant::now();
    let node = Node::start(NODE, "alpha.test", &[("HEALTHCOMMONS_AUTHORIZED_FETCH", "true")]).await;
    let scene = scene(&node).await;
    let urls = scene.urls();

    // Unsigned: only the instance actor, whose key every server must be
    // able to fetch.
    let (ok, events) = fedify.lookup(&urls).await;
    assert!(!ok);
    let found: Vec<(String, bool)> = lookups(&events)
        .iter()
        .map(|l| {
            (
                l["url"].as_str().unwrap_or_default().to_owned(),
                l["found"] == true,
            )
        })
        .collect();
    let expected: Vec<(String, bool)> = urls.iter().map(|u| (u.clone(), *u == scene.instance)).collect();
    assert_eq!(found, expected, "{events:#?}");

    // Signed by a one-time actor on fedify.test, whose key the node fetches
    // (signing that fetch with its own instance actor).
    for first_knock in ["draft-cavage-http-signatures-12", "rfc9421"] {
        let signed = [Fedify::signed(first_knock), urls.clone()].concat();
        let (ok, events) = fedify.lookup(&signed).await;
        check_lookups(&node, &scene, &events);
        assert!(ok, "{first_knock}: {events:#?}");
        // The actor's own URL; the node may also ask for NodeInfo (unsigned).
        let key_fetches: Vec<&Value> = events
            .iter()
            .filter(|e| e["event"] == "signer-fetched" && e["path"] == "/")
            .collect();
        assert!(
            !key_fetches.is_empty() && key_fetches.iter().all(|e| e["signed"] == true),
            "the node should fetch the signer's key, signed: {events:#?}"
        );
    }
    eprintln!("{} ({}): {:?}", module_path!(), fedify.version, started.elapsed());
}

#[tokio::test]
async fn a_fedify_inbox_follows_a_working_group_and_receives_its_posts() {
    let Some(fedify) = Fedify::find() else { return };
    let started = Instant::now();
    let node = Node::start(NODE, "alpha.test", &[]).await;
    let ana = node.user("ana").await;
    let group = node.create_group(&ana, "walkers").await;
    let mut inbox = fedify.inbox(&group);

    let listening = inbox
        .wait_for_event("the inbox to listen", PATIENCE, |e| e["event"] == "listening")
        .await;
    let followed = inbox
        .wait_for_event("the Follow to be sent", PATIENCE, |e| e["event"] == "followed")
        .await;
    assert_eq!(followed["target"]["type"], "Group");
    assert_eq!(followed["target"]["id"], group.as_str());
    // The Accept, its signature checked by Fedify, names the Follow sent.
    let accept = inbox
        .wait_for_event("the group's Accept", PATIENCE, |e| {
            e["event"] == "activity" && e["type"] == "Accept"
        })
        .await;
    assert_eq!(accept["actor"], group.as_str());
    assert_eq!(accept["object"], followed["id"]);
    assert_eq!(accept["body"]["object"]["type"], "Follow", "{accept:#}");
    assert_eq!(accept["body"]["object"]["actor"], listening["actor"]);

    // A thread started in the group reaches the follower as the group's
    // Announce of it, which Fedify dereferences to the post.
    let thread = post(
        &node,
        &ana,
        "/api/v1/posts",
        json!({"group": format!("@walkers@{}", node.domain), "title": "Saturday walk", "content": "Meet at the **park**"}),
    )
    .await["id"]
        .as_str()
        .expect("thread id")
        .to_owned();
    let announce = inbox
        .wait_for_event("the group's Announce of the thread", PATIENCE, |e| {
            e["event"] == "activity" && e["type"] == "Announce"
        })
        .await;
    assert_eq!(announce["actor"], group.as_str(), "{announce:#}");
    assert_eq!(announce["object"], thread.as_str());
    assert_eq!(announce["chain"], json!(["Announce", "Note"]));
    let note = &announce["innermost"];
    assert_eq!(note["id"], thread.as_str());
    assert!(
        note["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("<p><strong>Saturday walk</strong></p>")),
        "{note:#}"
    );
    assert_eq!(note["attributedTo"], json!([format!("{}/u/ana", node.base)]));
    assert_eq!(note["audience"], json!([group]));

    // Every delivery passed Fedify's signature check; nothing failed.
    for kind in ["Accept", "Announce"] {
        let answered = inbox
            .wait_for_event(&format!("Fedify's answer to the {kind}"), PATIENCE, |e| {
                e["event"] == "post" && e["type"] == kind
            })
            .await;
        assert_eq!(answered["status"], 202, "{answered:#}");
    }
    let events = inbox.events();
    let statuses: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "post")
        .map(|e| &e["status"])
        .collect();
    assert!(
        statuses.len() >= 2 && statuses.iter().all(|s| *s == 202),
        "{events:#?}"
    );
    assert!(!events.iter().any(|e| e["event"] == "inbox-error"), "{events:#?}");
    eprintln!("{} ({}): {:?}", module_path!(), fedify.version, started.elapsed());
}

/// pasture's own rules (the warnings its page shows), for one of our actors.
fn check_pasture(actor: &str, verdict: &Value, unsigned_get: bool) {
    let result = &verdict["result"];
    let steps = &verdict["messages"];
    // alice and dean post unsigned: refused.
    for name in ["alice", "dean"] {
        assert_eq!(
            result[name]["post_inbox"], false,
            "{actor}: {name} posted unsigned: {steps:#}"
        );
        assert_eq!(
            result[name]["get_actor"], unsigned_get,
            "{actor}: {name}'s unsigned GET: {steps:#}"
        );
    }
    // bob signs; claire signs and serves her key only to a signed fetch.
    for name in ["bob", "claire"] {
        assert_eq!(
            result[name],
            json!({"get_actor": true, "post_inbox": true}),
            "{actor}: {name}: {steps:#}"
        );
    }
    assert_eq!(result["webfinger"], true, "{actor}: WebFinger: {steps:#}");
}

async fn pasture_checks(node: &Node, pasture: &Pasture, authorized_fetch: bool) {
    let ana = node.user("ana").await;
    let group = node.create_group(&ana, "walkers").await;
    let instance = format!("{}/actor", node.base);
    for actor in [format!("{}/u/ana", node.base), group, instance.clone()] {
        let verdict = pasture.verify(&actor).await;
        // In authorized-fetch mode only the instance actor is served unsigned.
        let unsigned_get = !authorized_fetch || actor == instance;
        check_pasture(&actor, &verdict, unsigned_get);
        // emily and frank, actors without a preferredUsername, are refused
        // (as Mastodon refuses them); FEDERATION.md says why.
        for name in ["emily", "frank"] {
            eprintln!("{actor}: pasture's {name}: {}", verdict["result"][name]);
        }
    }
}

#[tokio::test]
async fn fediverse_pasture_verifies_our_person_group_and_instance_actor() {
    let started = Instant::now();
    let Some(pasture) = Pasture::start().await else {
        return;
    };
    let node = Node::start(NODE, "alpha.test", &[]).await;
    pasture_checks(&node, &pasture, false).await;
    eprintln!("{}: {:?}", module_path!(), started.elapsed());
}

#[tokio::test]
async fn fediverse_pasture_verifies_our_actors_in_authorized_fetch_mode() {
    let started = Instant::now();
    let Some(pasture) = Pasture::start().await else {
        return;
    };
    let node = Node::start(NODE, "alpha.test", &[("HEALTHCOMMONS_AUTHORIZED_FETCH", "true")]).await;
    pasture_checks(&node, &pasture, true).await;
    eprintln!("{}: {:?}", module_path!(), started.elapsed());
}
