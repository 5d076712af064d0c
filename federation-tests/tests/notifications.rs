//! Issue 23: people hear of what concerns them when it comes from other
//! nodes. A member on beta starts a thread in a working group; a Mastodon
//! user replies to it (mentioning the group's organiser) and so does a
//! member of alpha. The thread's author finds both replies in
//! `GET /api/v1/notifications`, as one group, with a link that works; the
//! organiser finds the mention.

use healthcommons_federation_tests::{Node, api, client, create, mastodon::MastodonPeer, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const NODE: &str = env!("CARGO_BIN_EXE_healthcommons-node");
const PATIENCE: Duration = Duration::from_secs(60);

/// The notifications of the holder of `token` on `node`, once `check` holds.
async fn wait_for_notifications(
    node: &Node,
    token: &str,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    wait_for(&format!("{what} on {}", node.name), PATIENCE, || async {
        match api(node, token, Method::GET, "/api/v1/notifications", None).await {
            (200, Value::Array(list)) if check(&list) => Some(list),
            _ => None,
        }
    })
    .await
}

#[tokio::test]
async fn a_member_hears_of_replies_from_mastodon_and_from_another_node() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[])
    );
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let rosa = beta.user("rosa").await;
    let thread = create(
        &beta,
        &rosa,
        "/api/v1/posts",
        json!({"group": "walkers", "title": "Sunday by the river", "content": "Who is coming?"}),
    )
    .await;
    let thread_id = thread["id"].as_str().expect("thread id").to_owned();

    // A Mastodon user replies, mentioning the organiser.
    let organiser_id = format!("{}/u/organiser", beta.base);
    let reply = peer.status(
        "mia",
        1,
        json!({
            "inReplyTo": thread_id,
            "cc": [organiser_id, format!("{}/followers", peer.actor_id("mia"))],
            "content": format!("<p><span class=\"h-card\"><a href=\"{organiser_id}\" class=\"u-url mention\">@organiser</a></span> Count me in</p>"),
            "tag": [{"type": "Mention", "href": organiser_id, "name": format!("@organiser@{}", beta.domain)}],
        }),
    );
    let inbox = format!("{group_id}/inbox");
    let delivered = peer.deliver("mia", &inbox, &peer.create("mia", &reply)).await;
    assert_eq!(delivered.status(), 202);
    let reply_id = reply["id"].as_str().expect("reply id").to_owned();

    let told = wait_for_notifications(&beta, &rosa, "the Mastodon reply", |list| !list.is_empty()).await;
    assert_eq!(told.len(), 1, "{told:?}");
    let notification = &told[0];
    assert_eq!(notification["type"], "reply");
    assert_eq!(notification["read"], false);
    assert_eq!(notification["subject"]["kind"], "post");
    assert_eq!(notification["subject"]["ap_id"], reply_id.as_str());
    assert_eq!(notification["subject"]["title"], "Sunday by the river");
    assert_eq!(notification["account"]["id"], peer.actor_id("mia"));
    let peer_host = peer.base.trim_start_matches("http://");
    assert_eq!(notification["account"]["acct"], format!("mia@{peer_host}"));
    // The link leads to the thread, with the reply in it.
    let link = notification["subject"]["url"].as_str().expect("a link");
    assert!(link.starts_with(&beta.base), "{link}");
    let page = client().get(link).send().await.expect("the thread page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap_or_default().contains("Count me in"));

    // The organiser was mentioned, and is told so (and not of a reply).
    let told = wait_for_notifications(&beta, &organiser, "the mention", |list| !list.is_empty()).await;
    let kinds: Vec<&str> = told.iter().filter_map(|n| n["type"].as_str()).collect();
    assert_eq!(kinds, vec!["mention"]);

    // A member of alpha replies too: the same post, so the same group.
    let ana = alpha.user("ana").await;
    let answered = create(
        &alpha,
        &ana,
        "/api/v1/posts",
        json!({"in_reply_to": thread_id, "content": "I'll bring a flask"}),
    )
    .await;
    assert!(answered["id"].is_string(), "{answered}");
    let told = wait_for_notifications(&beta, &rosa, "alpha's reply", |list| list.len() == 2).await;
    assert_eq!(told[0]["type"], "reply");
    assert_eq!(told[0]["account"]["id"], format!("{}/u/ana", alpha.base));
    assert_eq!(told[0]["group_key"], told[1]["group_key"], "grouped as one");
    let (_, count) = api(
        &beta,
        &rosa,
        Method::GET,
        "/api/v1/notifications/unread_count",
        None,
    )
    .await;
    assert_eq!(count["count"], 2);

    // Read all, through the API; only replies when asked for them.
    let (status, after) = api(
        &beta,
        &rosa,
        Method::POST,
        "/api/v1/notifications/read",
        Some(json!({"all": true})),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["count"], 0);
    let (_, mentions) = api(
        &beta,
        &rosa,
        Method::GET,
        "/api/v1/notifications?types[]=mention",
        None,
    )
    .await;
    assert_eq!(mentions, json!([]));
}
