//! Issue 21: what servers that do not understand groups (Mastodon,
//! GoToSocial, Mitra, …) and Lemmy get from a working group, played with the
//! Mastodon-shaped peer and a group-aware node. What the real servers do with
//! it was checked by hand on the rig in `../shared/peers` (FEDERATION.md).

use healthcommons_federation::activities::InboxActivity;
use healthcommons_federation_tests::{Node, api, client, create, encoded, mastodon::MastodonPeer, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const NODE: &str = env!("CARGO_BIN_EXE_healthcommons-node");
const PATIENCE: Duration = Duration::from_secs(60);

/// A post's path in the API.
fn post_path(id: &str) -> String {
    format!("/api/v1/posts/{}", encoded(id))
}

/// An object as a server fetches it, unsigned.
async fn fetch_object(id: &str) -> Value {
    client()
        .get(id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("fetch")
        .json()
        .await
        .expect("json")
}

/// The Mastodon-shaped peer's `mia` follows `group_id`, and is accepted.
async fn peer_follows(peer: &MastodonPeer, group_id: &str) {
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/walkers", peer.base), "type": "Follow",
        "actor": peer.actor_id("mia"), "object": group_id,
    });
    let inbox = format!("{group_id}/inbox");
    assert_eq!(peer.deliver("mia", &inbox, &follow).await.status(), 202);
    wait_for("the Accept at the peer", PATIENCE, || async {
        peer.received().into_iter().find(|d| d.body["type"] == "Accept")
    })
    .await;
}

/// What the peer received of `kind` about `object` (an id, or an object with that id).
fn received(peer: &MastodonPeer, kind: &str, object: &str) -> Vec<Value> {
    peer.received()
        .into_iter()
        .filter(|d| d.body["type"] == kind)
        .filter(|d| d.body["object"] == object || d.body["object"]["id"] == object)
        .map(|d| {
            assert!(d.signature_valid, "{kind} signed: {}", d.body);
            d.body
        })
        .collect()
}

async fn wait_received(peer: &MastodonPeer, kind: &str, object: &str, what: &str) -> Value {
    wait_for(what, PATIENCE, || async {
        received(peer, kind, object).into_iter().next()
    })
    .await
}

#[tokio::test]
async fn a_mastodon_follower_reads_threads_events_and_garden_items_whole_and_sees_edits_and_removals() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let handle = format!("@walkers@{}", beta.domain);
    let ana = alpha.user("ana").await;
    let (status, _) = api(
        &alpha,
        &ana,
        Method::POST,
        "/api/v1/follows",
        Some(json!({"target": handle})),
    )
    .await;
    assert_eq!(status, 202);
    let peer = MastodonPeer::start(Duration::ZERO).await;
    peer_follows(&peer, &group_id).await;

    // A thread arrives unfolded: no `name` (GoToSocial would fold it under
    // its title), the title as a bold first paragraph.
    let thread = create(
        &beta,
        &organiser,
        "/api/v1/posts",
        json!({"group": "walkers", "title": "Route for Sunday", "content": "Along the river"}),
    )
    .await;
    let thread_id = thread["id"].as_str().expect("id").to_owned();
    wait_received(&peer, "Announce", &thread_id, "the boost").await;
    let note = fetch_object(&thread_id).await;
    assert_eq!(note["type"], "Note");
    assert!(note.get("name").is_none(), "{note}");
    assert_eq!(
        note["content"],
        "<p><strong>Route for Sunday</strong></p><p>Along the river</p>"
    );
    assert_eq!(note["source"]["content"], "Along the river", "Lemmy's body");
    // A node that understands groups reads the title back out of it.
    let on_alpha = wait_for("the thread on alpha", PATIENCE, || async {
        let (status, body) = api(&alpha, &ana, Method::GET, &post_path(&thread_id), None).await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(on_alpha["title"], "Route for Sunday");
    assert_eq!(on_alpha["content_html"], "<p>Along the river</p>");

    // The author's edit reaches the peer as the author's own Update, once.
    let (status, _) = api(
        &beta,
        &organiser,
        Method::PATCH,
        &post_path(&thread_id),
        Some(json!({"content": "Along the river, then the canal"})),
    )
    .await;
    assert_eq!(status, 200);
    let update = wait_received(&peer, "Update", &thread_id, "the author's Update").await;
    assert_eq!(update["actor"], format!("{}/u/organiser", beta.base));
    assert!(
        update["object"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("then the canal")),
        "{update}"
    );

    // A member's post removed by the moderator: gone on the peer too (from
    // its author, the only one Mastodon takes a Delete from), and on alpha
    // as a removal with its reason, as Lemmy reads one.
    let member = beta.user("mo").await;
    let (status, _) = api(
        &beta,
        &member,
        Method::POST,
        "/api/v1/follows",
        Some(json!({"target": handle})),
    )
    .await;
    assert_eq!(status, 200, "a local follow is answered at once");
    let stray = create(
        &beta,
        &member,
        "/api/v1/posts",
        json!({"group": "walkers", "title": "Selling shoes", "content": "Cheap"}),
    )
    .await;
    let stray_id = stray["id"].as_str().expect("id").to_owned();
    wait_received(&peer, "Announce", &stray_id, "the boost of the member's post").await;
    let (status, _) = api(&beta, &organiser, Method::DELETE, &post_path(&stray_id), None).await;
    assert_eq!(status, 204);
    let delete = wait_received(&peer, "Delete", &stray_id, "the author's Delete").await;
    assert_eq!(delete["actor"], format!("{}/u/mo", beta.base));
    wait_for("the boost withdrawn", PATIENCE, || async {
        peer.received()
            .into_iter()
            .find(|d| d.body["type"] == "Undo" && d.body["object"]["object"] == stray_id.as_str())
    })
    .await;
    wait_for("the removal on alpha", PATIENCE, || async {
        let (status, body) = api(&alpha, &ana, Method::GET, &post_path(&stray_id), None).await;
        (status == 200 && body["removed"] == true).then_some(())
    })
    .await;

    // The author deletes the thread: the peer gets the Delete, once.
    let (status, _) = api(&beta, &organiser, Method::DELETE, &post_path(&thread_id), None).await;
    assert_eq!(status, 204);
    let delete = wait_received(&peer, "Delete", &thread_id, "the author's Delete").await;
    assert_eq!(delete["actor"], format!("{}/u/organiser", beta.base));

    // An event reads whole as a status: when, where, what, and its page.
    let starts = chrono::DateTime::parse_from_rfc3339("2031-06-07T09:00:00Z").expect("date");
    let event = create(
        &beta,
        &organiser,
        "/api/v1/events",
        json!({
            "kind": "workshop", "group": "walkers", "title": "Walk leader training",
            "description": "Learn to lead a **health walk**.",
            "starts_at": starts.to_rfc3339(), "ends_at": (starts + chrono::Duration::hours(2)).to_rfc3339(),
            "timezone": "Europe/London",
            "place": {"name": "Community centre", "address": "1 High Street, Bristol"}
        }),
    )
    .await;
    let event_id = event["ap_id"].as_str().expect("ap id").to_owned();
    wait_received(&peer, "Announce", &event_id, "the event's boost").await;
    let object = fetch_object(&event_id).await;
    let content = object["content"].as_str().expect("content");
    assert!(
        content.starts_with("<p>When: Sat 7 Jun 2031, 10:00 – 12:00 (Europe/London)<br>Where: Community centre, 1 High Street, Bristol</p>"),
        "{content}"
    );
    assert!(content.contains("<strong>health walk</strong>"), "{content}");
    let page = object["url"].as_str().expect("url");
    assert!(
        content.ends_with(&format!("<a href=\"{page}\">{page}</a></p>")),
        "{content}"
    );
    assert_eq!(object["name"], "Walk leader training", "Mobilizon's title");
    assert_eq!(
        object["description"],
        "<p>Learn to lead a <strong>health walk</strong>.</p>"
    );
    // A change of time reaches the peer from the group, whose event it is
    // (`attributedTo`): Mitra refuses one from anyone else.
    let event_local_id = event["id"].as_i64().expect("id");
    let later = starts + chrono::Duration::hours(4);
    let (status, changed) = api(
        &beta,
        &organiser,
        Method::PUT,
        &format!("/api/v1/events/{event_local_id}"),
        Some(json!({
            "kind": "workshop", "group": "walkers", "title": "Walk leader training",
            "description": "Learn to lead a **health walk**.",
            "starts_at": later.to_rfc3339(), "ends_at": (later + chrono::Duration::hours(2)).to_rfc3339(),
            "timezone": "Europe/London",
            "place": {"name": "Community centre", "address": "1 High Street, Bristol"}
        })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let update = wait_received(&peer, "Update", &event_id, "the event's Update").await;
    assert_eq!(update["actor"], group_id.as_str());
    assert!(
        update["object"]["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("<p>When: Sat 7 Jun 2031, 14:00 – 16:00")),
        "{update}"
    );

    // A garden item: a Note with its title and link in its content, its
    // title and summary for Health Commons nodes in our own terms.
    let item = create(
        &beta,
        &organiser,
        "/api/v1/garden",
        json!({"kind": "story", "group": "walkers", "title": "The Monday walk",
               "summary": "Forty people walk weekly now.", "fields": {"narrative": "We started in May."}}),
    )
    .await;
    let item_id = item["id"].as_str().expect("id").to_owned();
    wait_received(&peer, "Announce", &item_id, "the garden item's boost").await;
    let object = fetch_object(&item_id).await;
    assert_eq!(object["type"], "Note");
    assert!(
        object.get("name").is_none() && object.get("summary").is_none(),
        "{object}"
    );
    assert_eq!(object["title"], "The Monday walk");
    assert_eq!(object["abstract"], "Forty people walk weekly now.");
    assert!(
        object["source"]["content"]
            .as_str()
            .is_some_and(|md| md.starts_with("Forty people walk weekly now.\n\n## What happened")),
        "Lemmy's body: {object}"
    );
    let content = object["content"].as_str().expect("content");
    assert!(
        content.starts_with("<p><strong>The Monday walk</strong></p><p>Forty people walk weekly now.</p>"),
        "{content}"
    );
    let page = object["url"].as_str().expect("url");
    assert!(content.contains(&format!("<a href=\"{page}\">")), "{content}");

    // Our own inbox types read everything we sent (built as JSON, parsed
    // as the types that receive it): nothing falls through to `Unhandled`.
    for delivery in peer.received() {
        let parsed: InboxActivity = serde_json::from_value(delivery.body.clone()).expect("an activity");
        assert!(
            !matches!(parsed, InboxActivity::Unhandled(_)),
            "our inbox would not read what we sent: {}",
            delivery.body
        );
    }

    // Nothing went to the peer's inbox twice.
    let mut ids: Vec<String> = peer
        .received()
        .into_iter()
        .filter_map(|d| d.body["id"].as_str().map(|id| format!("{} {id}", d.path)))
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "an activity reached one inbox twice");
}

#[tokio::test]
async fn a_group_outbox_lists_thread_starts_as_lemmy_reads_them() {
    let beta = Node::start(NODE, "beta.test", &[]).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let thread = create(
        &beta,
        &organiser,
        "/api/v1/posts",
        json!({"group": "walkers", "title": "Route for Sunday", "content": "Along the river"}),
    )
    .await;
    let thread_id = thread["id"].as_str().expect("id").to_owned();
    create(
        &beta,
        &organiser,
        "/api/v1/posts",
        json!({"in_reply_to": thread_id, "content": "Meet at nine"}),
    )
    .await;
    let outbox = fetch_object(&format!("{group_id}/outbox")).await;
    assert_eq!(outbox["totalItems"], 1, "{outbox}");
    let item = &outbox["orderedItems"][0];
    assert_eq!(item["type"], "Announce");
    assert_eq!(item["actor"], group_id.as_str());
    assert_eq!(
        item["to"],
        json!(["https://www.w3.org/ns/activitystreams#Public"])
    );
    assert_eq!(item["object"]["type"], "Create");
    assert_eq!(item["object"]["actor"], format!("{}/u/organiser", beta.base));
    assert_eq!(item["object"]["object"]["id"], thread_id.as_str());
    assert_eq!(item["object"]["object"]["audience"], group_id.as_str());
}

#[tokio::test]
async fn a_peer_that_refuses_our_signatures_is_shown_to_the_admin_until_it_takes_them() {
    let beta = Node::start(
        NODE,
        "beta.test",
        &[("HEALTHCOMMONS_DELIVERY_RETRY_BASE_SECS", "1")],
    )
    .await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let peer = MastodonPeer::start(Duration::ZERO).await;
    peer_follows(&peer, &group_id).await;
    let root = beta.admin_token().await;
    let peer_host = peer.domain.clone();

    peer.refuse_signatures(true);
    let thread = create(
        &beta,
        &organiser,
        "/api/v1/posts",
        json!({"group": "walkers", "title": "Route for Sunday", "content": "Along the river"}),
    )
    .await;
    let thread_id = thread["id"].as_str().expect("id").to_owned();
    let refusing = wait_for("the refusal on the admin view", PATIENCE, || async {
        let (_, queue) = api(&beta, &root, Method::GET, "/api/v1/admin/deliveries", None).await;
        queue["peers"]
            .as_array()?
            .iter()
            .find(|p| p["host"] == peer_host.as_str() && p["refusing_since"].is_string())
            .cloned()
    })
    .await;
    assert!(
        refusing["last_refusal"]
            .as_str()
            .is_some_and(|r| r.starts_with("HTTP 401")),
        "{refusing}"
    );
    assert!(
        beta.log().contains("a peer refuses our signed deliveries"),
        "logged as a warning"
    );

    // Once it takes our signatures again, the retried delivery lands and
    // the warning goes.
    peer.refuse_signatures(false);
    wait_received(&peer, "Announce", &thread_id, "the retried boost").await;
    wait_for("the refusal cleared", PATIENCE, || async {
        let (_, queue) = api(&beta, &root, Method::GET, "/api/v1/admin/deliveries", None).await;
        queue["peers"]
            .as_array()?
            .iter()
            .find(|p| p["host"] == peer_host.as_str() && p["refusing_since"].is_null())
            .map(|_| ())
    })
    .await;
}

/// An `Application` actor served by the peer, with the peer's key.
fn application_actor(peer: &MastodonPeer, path: &str, name: &str) -> String {
    let id = format!("{}{path}", peer.base);
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id, "type": "Application", "preferredUsername": name, "name": name,
        "inbox": format!("{}/inbox", peer.base), "outbox": format!("{id}/outbox"),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": peer.public_key_pem()},
    })
    .to_string()
}

#[tokio::test]
async fn an_application_actor_is_followable_unless_its_node_names_it_the_instance_actor() {
    let alpha = Node::start(NODE, "alpha.test", &[]).await;
    let ana = alpha.user("ana").await;
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let json_ld = [("content-type", "application/activity+json")];
    // A community calendar (Gancio's main actor is an Application) and the
    // node's own instance actor, which its NodeInfo names (FEP-2677).
    peer.serve(
        "/calendar",
        200,
        &json_ld,
        &application_actor(&peer, "/calendar", "calendar"),
    );
    peer.serve(
        "/actor",
        200,
        &json_ld,
        &application_actor(&peer, "/actor", "instance"),
    );
    peer.serve(
        "/.well-known/nodeinfo",
        200,
        &[("content-type", "application/json")],
        &json!({"links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{}/nodeinfo/2.0", peer.base)},
            {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": format!("{}/actor", peer.base)}
        ]})
        .to_string(),
    );
    let (status, body) = api(
        &alpha,
        &ana,
        Method::POST,
        "/api/v1/follows",
        Some(json!({"target": format!("{}/calendar", peer.base)})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let follow = wait_for("the Follow at the calendar", PATIENCE, || async {
        peer.received()
            .into_iter()
            .find(|d| d.body["type"] == "Follow" && d.body["object"] == format!("{}/calendar", peer.base))
    })
    .await;
    assert!(follow.signature_valid);
    let (status, body) = api(
        &alpha,
        &ana,
        Method::POST,
        "/api/v1/follows",
        Some(json!({"target": format!("{}/actor", peer.base)})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn a_follow_whose_actor_comes_embedded_is_accepted_by_the_actors_id() {
    // Hubzilla and Streams send the actor of a Follow whole (their
    // FEDERATION docs); only its id is taken, and the actor fetched.
    let beta = Node::start(NODE, "beta.test", &[]).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/embedded", peer.base), "type": "Follow",
        "actor": {"id": peer.actor_id("hub"), "type": "Person", "preferredUsername": "hub",
                  "inbox": format!("{}/inbox", peer.actor_id("hub"))},
        "object": {"id": group_id, "type": "Group"},
    });
    let response = peer.deliver("hub", &format!("{group_id}/inbox"), &follow).await;
    assert_eq!(response.status(), 202);
    let accept = wait_for("the Accept", PATIENCE, || async {
        peer.received().into_iter().find(|d| d.body["type"] == "Accept")
    })
    .await;
    assert_eq!(accept.body["object"]["actor"], peer.actor_id("hub"));
}

#[tokio::test]
async fn a_moderators_removal_reaches_a_lemmy_follower_once_announced_with_its_reason() {
    let beta = Node::start(NODE, "beta.test", &[]).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    // A peer that says it runs Lemmy, so the group treats it as group-aware.
    let lemmy = MastodonPeer::start(Duration::ZERO).await;
    lemmy.serve(
        "/.well-known/nodeinfo",
        200,
        &[("content-type", "application/json")],
        &json!({"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                           "href": format!("{}/nodeinfo/2.0", lemmy.base)}]})
        .to_string(),
    );
    lemmy.serve(
        "/nodeinfo/2.0",
        200,
        &[("content-type", "application/json")],
        &json!({"version": "2.0", "software": {"name": "lemmy", "version": "0.19.20"},
                "protocols": ["activitypub"], "usage": {"users": {}}, "openRegistrations": true})
        .to_string(),
    );
    peer_follows(&lemmy, &group_id).await;

    // Someone there posts in the group; a moderator here removes it.
    let post = lemmy.status(
        "mia",
        1,
        json!({"audience": group_id, "to": ["https://www.w3.org/ns/activitystreams#Public", group_id],
               "name": "Cheap shoes", "content": "<p>DM me</p>"}),
    );
    let post_id = post["id"].as_str().expect("id").to_owned();
    let inbox = format!("{group_id}/inbox");
    assert_eq!(
        lemmy
            .deliver("mia", &inbox, &lemmy.create("mia", &post))
            .await
            .status(),
        202
    );
    wait_for("the post stored", PATIENCE, || async {
        let (status, _) = api(&beta, &organiser, Method::GET, &post_path(&post_id), None).await;
        (status == 200).then_some(())
    })
    .await;
    let (status, _) = api(
        &beta,
        &organiser,
        Method::DELETE,
        &format!("{}?reason=Selling%20things", post_path(&post_id)),
        None,
    )
    .await;
    assert_eq!(status, 204);

    // Lemmy takes a removal as the community's announce of a moderator's
    // Delete with the reason as `summary`, and a second copy of it is a 400.
    let announce = wait_for("the announced removal", PATIENCE, || async {
        lemmy
            .received()
            .into_iter()
            .find(|d| d.body["type"] == "Announce" && d.body["object"]["type"] == "Delete")
    })
    .await;
    assert!(announce.signature_valid);
    assert_eq!(announce.body["actor"], group_id.as_str());
    assert_eq!(
        announce.body["object"]["actor"],
        format!("{}/u/organiser", beta.base)
    );
    assert_eq!(announce.body["object"]["object"], post_id.as_str());
    assert_eq!(announce.body["object"]["summary"], "Selling things");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let copies = lemmy
        .received()
        .into_iter()
        .filter(|d| {
            d.body["object"]["id"] == announce.body["object"]["id"]
                || d.body["id"] == announce.body["object"]["id"]
        })
        .count();
    assert_eq!(copies, 1, "the removal reached the node once");
    // Nor was the post itself announced back to where it came from.
    assert!(
        !lemmy
            .received()
            .iter()
            .any(|d| d.body["type"] == "Announce" && d.body["object"]["type"] == "Create"),
        "announced back to its origin"
    );
}
