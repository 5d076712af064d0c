//! Faults a node meets in production, on real processes and a real
//! PostgreSQL: two `serve` processes sharing one database behave as one node,
//! a database outage and a restart of the PostgreSQL server under load are
//! ridden out without an operator, dead peers do not hold up the others, a
//! full disk gives clear errors, and clocks that
//! disagree within the accepted window still federate. (A stopped peer, a
//! peer that comes back and `kill -9` in the middle of a fan-out are in
//! `federation.rs`.) These tests need PostgreSQL and say so when it is
//! missing; `.ci/run` starts one.

use healthcommons_federation_tests::{
    Node, client,
    mastodon::{Forged, MastodonPeer},
    wait_for,
};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    time::{Duration, SystemTime},
};

const NODE: &str = env!("CARGO_BIN_EXE_healthcommons-node");
const PATIENCE: Duration = Duration::from_secs(90);

fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("HEALTHCOMMONS_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        eprintln!(
            "NOTICE: HEALTHCOMMONS_TEST_POSTGRES_URL is not set; PostgreSQL fault test not run (CI sets it)"
        );
    }
    url
}

fn follow(peer: &MastodonPeer, member: &str, n: usize, group_id: &str) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/{n}", peer.base), "type": "Follow",
        "actor": peer.actor_id(member), "object": group_id,
    })
}

/// POST `activity` signed by `member` to `inbox` on `process`, with the Host
/// of the node (both processes answer for one domain, as behind a balancer).
async fn deliver_to(peer: &MastodonPeer, process: &Node, member: &str, path: &str, activity: &Value) -> u16 {
    let mut forged = Forged::new(member, &serde_json::to_vec(activity).expect("json"));
    forged.host = Some(process.domain.clone());
    peer.deliver_forged(&format!("{}{path}", process.base), &forged)
        .await
        .status()
        .as_u16()
}

/// Wait until the node's `/readyz` answers 200 again.
async fn wait_until_ready(node: &Node) {
    wait_for("the node to be ready again", PATIENCE, || async {
        let response = client().get(format!("{}/readyz", node.base)).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await;
}

/// Post a short thread titled `title` to the group *walkers*; the status.
async fn post_to_walkers(node: &Node, token: &str, title: &str) -> u16 {
    client()
        .post(format!("{}/api/v1/posts", node.base))
        .bearer_auth(token)
        .json(&json!({"group": "walkers", "title": title, "content": "Meet at the park."}))
        .send()
        .await
        .expect("post")
        .status()
        .as_u16()
}

/// How many Accepts the peer got for each follow id.
fn accepts_by_follow(peer: &MastodonPeer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for delivery in peer.received() {
        if delivery.body["type"] == "Accept"
            && let Some(id) = delivery.body["object"]["id"].as_str()
        {
            *counts.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test]
async fn two_processes_on_one_postgres_send_each_delivery_once_and_keep_one_copy_of_each_activity() {
    const FOLLOWERS: usize = 40;
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let url = healthcommons_db::testing::fresh_postgres_database(&admin_url)
        .await
        .expect("database");
    let first = Node::start(NODE, "beta.test", &[("HEALTHCOMMONS_DATABASE_URL", &url)]).await;
    let second = first.another_process().await;
    let organiser = first.user("organiser").await;
    let group_id = first.create_group(&organiser, "walkers").await;
    let path = url::Url::parse(&group_id).expect("group id").path().to_owned() + "/inbox";

    // Forty follows, half to each process; a slow peer keeps both delivery
    // workers busy with the Accepts at once.
    let peer = MastodonPeer::start(Duration::from_millis(50)).await;
    for n in 0..FOLLOWERS {
        let process = if n % 2 == 0 { &first } else { &second };
        let member = format!("member{n}");
        let status = deliver_to(
            &peer,
            process,
            &member,
            &path,
            &follow(&peer, &member, n, &group_id),
        )
        .await;
        assert_eq!(status, 202, "follow {n}");
    }
    let counts = wait_for("an Accept for every follow", PATIENCE, || async {
        let counts = accepts_by_follow(&peer);
        (counts.len() == FOLLOWERS).then_some(counts)
    })
    .await;
    // Give a duplicate time to show up before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let counts_later = accepts_by_follow(&peer);
    assert_eq!(counts_later, counts);
    assert!(
        counts.values().all(|n| *n == 1),
        "each Accept is sent once: {counts:?}"
    );

    // The same Create reaches both processes at once: one post is kept.
    let note = peer.status(
        "member0",
        1,
        json!({"content": "<p>Both doors at once</p>", "audience": group_id,
               "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [group_id]}),
    );
    let create = peer.create("member0", &note);
    let (a, b) = tokio::join!(
        deliver_to(&peer, &first, "member0", &path, &create),
        deliver_to(&peer, &second, "member0", &path, &create)
    );
    assert_eq!((a, b), (202, 202));
    let db = Database::connect(&url).await.expect("connect");
    let count = |sql: &'static str| {
        let db = &db;
        let note_id = note["id"].as_str().unwrap_or_default().to_owned();
        async move {
            db.query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [note_id.into()],
            ))
            .await
            .expect("count")
            .and_then(|row| row.try_get_by_index::<i64>(0).ok())
            .unwrap_or(-1)
        }
    };
    wait_for("the post", PATIENCE, || async {
        (count("SELECT COUNT(*) FROM post WHERE ap_id = $1").await == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count("SELECT COUNT(*) FROM post WHERE ap_id = $1").await, 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM inbox_activity WHERE ap_id = $1 || '/activity'").await,
        1,
        "the activity is stored once"
    );
}

#[tokio::test]
async fn a_postgres_outage_is_ridden_out_without_an_operator() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let url = healthcommons_db::testing::fresh_postgres_database(&admin_url)
        .await
        .expect("database");
    let database = url.rsplit('/').next().expect("name").to_owned();
    let node = Node::start(NODE, "gamma.test", &[("HEALTHCOMMONS_DATABASE_URL", &url)]).await;
    let organiser = node.user("organiser").await;
    let group_id = node.create_group(&organiser, "walkers").await;
    let inbox = format!("{group_id}/inbox");
    let peer = MastodonPeer::start(Duration::ZERO).await;
    assert_eq!(
        peer.deliver("mia", &inbox, &follow(&peer, "mia", 0, &group_id))
            .await
            .status(),
        202
    );
    wait_for("the first Accept", PATIENCE, || async {
        (accepts_by_follow(&peer).len() == 1).then_some(())
    })
    .await;

    // The database goes away: every connection is cut and new ones refused.
    let admin = Database::connect(&admin_url).await.expect("admin");
    let run = |sql: String| {
        let admin = &admin;
        async move {
            admin
                .execute_raw(Statement::from_string(DbBackend::Postgres, sql))
                .await
                .expect("admin statement");
        }
    };
    run(format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false")).await;
    run(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    ))
    .await;
    let ready = client()
        .get(format!("{}/readyz", node.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503, "not ready without its database");
    let refused = peer
        .deliver("max", &inbox, &follow(&peer, "max", 1, &group_id))
        .await;
    assert_eq!(
        refused.status(),
        503,
        "an inbox that cannot store says so, so the sender retries"
    );
    assert!(refused.headers().contains_key("retry-after"));

    // It comes back: the node serves again and the retried follow is answered.
    run(format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true")).await;
    wait_until_ready(&node).await;
    assert_eq!(
        peer.deliver("max", &inbox, &follow(&peer, "max", 1, &group_id))
            .await
            .status(),
        202
    );
    wait_for("the Accept after the outage", PATIENCE, || async {
        (accepts_by_follow(&peer).len() == 2).then_some(())
    })
    .await;
    assert_eq!(post_to_walkers(&node, &organiser, "Back").await, 201);
}

/// The PostgreSQL server itself restarts (`pg_ctlcluster … restart -m fast`)
/// while followers keep arriving. It runs on a cluster of its own, which
/// `.ci/run` creates and starts, because a restart cuts every database on
/// the server. Each follow is retried after a refusal, as a sender's queue
/// would.
#[tokio::test]
async fn a_postgres_restart_under_load_is_ridden_out_without_an_operator() {
    let (Ok(cluster), Ok(admin_url)) = (
        std::env::var("HEALTHCOMMONS_TEST_RESTARTABLE_POSTGRES"),
        std::env::var("HEALTHCOMMONS_TEST_RESTARTABLE_POSTGRES_URL"),
    ) else {
        eprintln!(
            "NOTICE: HEALTHCOMMONS_TEST_RESTARTABLE_POSTGRES(_URL) is not set; the PostgreSQL restart test did not run (.ci/run sets them)"
        );
        return;
    };
    let (version, name) = cluster.split_once(' ').expect("\"<version> <cluster>\"");
    let (version, name) = (version.to_owned(), name.to_owned());
    let url = healthcommons_db::testing::fresh_postgres_database(&admin_url)
        .await
        .expect("database");
    let node = Node::start(NODE, "gamma.test", &[("HEALTHCOMMONS_DATABASE_URL", &url)]).await;
    let organiser = node.user("organiser").await;
    let group_id = node.create_group(&organiser, "walkers").await;
    let inbox = format!("{group_id}/inbox");
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let started_at = || async {
        let admin = Database::connect(&admin_url).await.expect("admin");
        admin
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_postmaster_start_time()::text AS started",
            ))
            .await
            .expect("start time")
            .and_then(|row| row.try_get::<String>("", "started").ok())
            .expect("a start time")
    };
    let before = started_at().await;

    let restarted = std::sync::atomic::AtomicBool::new(false);
    let send_follows = async {
        let mut refusals = Vec::new();
        let mut n = 0;
        let mut after_restart = 0;
        // Follow steadily before, during and for twenty follows after the restart.
        while after_restart < 20 {
            let member = format!("member{n}");
            let activity = follow(&peer, &member, n, &group_id);
            loop {
                let response = peer.deliver(&member, &inbox, &activity).await;
                let status = response.status().as_u16();
                if status == 202 {
                    break;
                }
                assert_eq!(
                    status, 503,
                    "a refusal while the database restarts says: retry later"
                );
                assert!(response.headers().contains_key("retry-after"));
                refusals.push(n);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            n += 1;
            if restarted.load(std::sync::atomic::Ordering::SeqCst) {
                after_restart += 1;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        (n, refusals)
    };
    let restart = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let status = tokio::task::spawn_blocking(move || {
            std::process::Command::new("pg_ctlcluster")
                .args([version.as_str(), name.as_str(), "restart", "-m", "fast"])
                .status()
        })
        .await
        .expect("join")
        .expect("pg_ctlcluster");
        assert!(status.success(), "the cluster restarted");
        restarted.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let ((follows, refusals), ()) = tokio::join!(send_follows, restart);
    assert_ne!(started_at().await, before, "PostgreSQL really restarted");
    eprintln!(
        "{follows} follows; {} refusals (503) while PostgreSQL restarted",
        refusals.len()
    );

    // No operator: the node is ready again and every follow got one Accept.
    wait_until_ready(&node).await;
    wait_for("an Accept for every follow", PATIENCE, || async {
        (accepts_by_follow(&peer).len() == follows).then_some(())
    })
    .await;
    assert!(
        accepts_by_follow(&peer).values().all(|count| *count == 1),
        "one Accept each"
    );
    assert_eq!(post_to_walkers(&node, &organiser, "Back").await, 201);
}

#[tokio::test]
async fn clocks_that_disagree_within_the_window_still_federate() {
    let node = Node::start(NODE, "alpha.test", &[]).await;
    let organiser = node.user("organiser").await;
    let group_id = node.create_group(&organiser, "walkers").await;
    let inbox = format!("{group_id}/inbox");
    let peer = MastodonPeer::start(Duration::ZERO).await;
    // The peer's clock runs 55 minutes behind, then 55 minutes ahead: within
    // the node's hour both ways (a Date outside it is refused: hostile.rs).
    for (n, skew) in [(0, -3300i64), (1, 3300)] {
        let member = format!("member{n}");
        let body = serde_json::to_vec(&follow(&peer, &member, n, &group_id)).expect("json");
        let mut forged = Forged::new(&member, &body);
        forged.date = if skew < 0 {
            SystemTime::now() - Duration::from_secs(skew.unsigned_abs())
        } else {
            SystemTime::now() + Duration::from_secs(skew.unsigned_abs())
        };
        assert_eq!(
            peer.deliver_forged(&inbox, &forged).await.status(),
            202,
            "skew {skew}s"
        );
    }
    wait_for("both Accepts", PATIENCE, || async {
        (accepts_by_follow(&peer).len() == 2).then_some(())
    })
    .await;
}

/// Fill the file system under `dir` with one file until it refuses more.
/// Never more than 64 MiB: a directory that takes that much is not the
/// small file system this test must run on, and the test stops.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    const MOST: usize = 64 * 1024 * 1024;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 16 * 1024];
    let mut written = 0;
    while file.write_all(&chunk).and_then(|()| file.sync_all()).is_ok() {
        written += chunk.len();
        if written >= MOST {
            let _ = std::fs::remove_file(&path);
            panic!(
                "{} took 64 MiB without filling up: not a small file system",
                dir.display()
            );
        }
    }
    path
}

#[tokio::test]
async fn a_full_disk_gives_clear_errors_and_corrupts_nothing() {
    // A small file system of its own (`.ci/run` mounts one), so filling it
    // harms nothing else.
    let Ok(small) = std::env::var("HEALTHCOMMONS_TEST_SMALL_DISK") else {
        eprintln!("NOTICE: HEALTHCOMMONS_TEST_SMALL_DISK is not set; disk-full test not run (CI mounts one)");
        return;
    };
    let data = std::path::Path::new(&small).join(format!("node-{}", std::process::id()));
    std::fs::create_dir_all(&data).expect("data dir");
    let data_dir = data.to_string_lossy().into_owned();
    let node = Node::start(NODE, "alpha.test", &[("HEALTHCOMMONS_DATA_DIR", &data_dir)]).await;
    let organiser = node.user("organiser").await;
    let group_id = node.create_group(&organiser, "walkers").await;
    let post = |n: usize| {
        client()
            .post(format!("{}/api/v1/posts", node.base))
            .bearer_auth(&organiser)
            .json(&json!({"group": "walkers", "title": format!("Walk {n}"), "content": "Along the river. ".repeat(200)}))
            .send()
    };
    assert_eq!(post(0).await.expect("post").status(), 201);

    let filler = fill(&data);
    let mut kept = vec![0];
    let mut refusal = None;
    for n in 1..200 {
        let response = post(n).await.expect("post");
        match response.status().as_u16() {
            201 => kept.push(n),
            503 => {
                let retry = response.headers().contains_key("retry-after");
                let body: Value = response.json().await.expect("json");
                refusal = Some((retry, body));
                break;
            }
            other => panic!(
                "post {n} answered {other}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
    let (retry_after, body) = refusal.expect("a write refused once the disk is full");
    assert!(retry_after);
    assert_eq!(body["error"], "unavailable");
    assert_eq!(body["message"], "the node's storage is full, try again later");
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let follow_response = peer
        .deliver(
            "mia",
            &format!("{group_id}/inbox"),
            &follow(&peer, "mia", 0, &group_id),
        )
        .await;
    assert_eq!(follow_response.status(), 503);
    assert!(follow_response.headers().contains_key("retry-after"));

    // Space again: the node goes on, with every post it said it kept.
    std::fs::remove_file(filler).expect("free the disk");
    assert_eq!(post(1000).await.expect("post").status(), 201);
    assert_eq!(
        peer.deliver(
            "mia",
            &format!("{group_id}/inbox"),
            &follow(&peer, "mia", 0, &group_id)
        )
        .await
        .status(),
        202
    );
    let mut titles: Vec<String> = Vec::new();
    for page in 1.. {
        let threads: Value = client()
            .get(format!(
                "{}/api/v1/groups/walkers/threads?page={page}&per_page=100",
                node.base
            ))
            .send()
            .await
            .expect("threads")
            .json()
            .await
            .expect("json");
        let listed: Vec<String> = threads
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|p| p["title"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if listed.is_empty() {
            break;
        }
        titles.extend(listed);
    }
    for n in kept.iter().chain(&[1000]) {
        assert!(
            titles.contains(&format!("Walk {n}")),
            "Walk {n} is gone: {titles:?}"
        );
    }
    let db = Database::connect(format!("sqlite://{data_dir}/healthcommons.sqlite?mode=ro"))
        .await
        .expect("open the database");
    let check = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .expect("integrity check")
        .and_then(|row| row.try_get_by_index::<String>(0).ok());
    assert_eq!(check.as_deref(), Some("ok"));
    drop(node);
    let _ = std::fs::remove_dir_all(&data);
}

/// Peers that accept connections but never answer (each request runs into
/// the node's 10 s timeout) must not take the delivery slots the others
/// need. With 16 slots, the old limit of 8 per peer let two such peers hold
/// every slot; now a peer not heard from gets two and a failing one one.
#[tokio::test]
async fn dead_peers_do_not_hold_up_deliveries_to_the_others() {
    const POSTS: usize = 12;
    let alpha = Node::start(
        NODE,
        "alpha.test",
        &[("HEALTHCOMMONS_DELIVERY_CONCURRENCY", "16")],
    )
    .await;
    let token = alpha.user("ana").await;
    let group_id = alpha.create_group(&token, "walkers").await;
    let inbox = format!("{group_id}/inbox");
    let live = MastodonPeer::start(Duration::ZERO).await;
    let mut dead = Vec::new();
    for _ in 0..6 {
        dead.push(MastodonPeer::start(Duration::from_secs(600)).await);
    }
    for (n, peer) in std::iter::once(&live).chain(dead.iter()).enumerate() {
        let status = peer
            .deliver("mia", &inbox, &follow(peer, "mia", n, &group_id))
            .await
            .status();
        assert_eq!(status, 202, "follow from {}", peer.domain);
    }
    wait_for("the live peer's Accept", PATIENCE, || async {
        live.received()
            .iter()
            .any(|d| d.body["type"] == "Accept")
            .then_some(())
    })
    .await;

    let published = std::time::Instant::now();
    for i in 0..POSTS {
        assert_eq!(
            post_to_walkers(&alpha, &token, &format!("Walk {i}")).await,
            201,
            "post {i}"
        );
    }
    // Every post reaches the live peer well inside one timeout of the dead
    // ones, while their deliveries are still hanging or waiting to retry.
    let delivered_posts = || {
        live.received()
            .iter()
            .filter(|d| d.body["type"] == "Announce" || d.body["type"] == "Create")
            .count()
    };
    wait_for("every post at the live peer", Duration::from_secs(8), || async {
        (delivered_posts() >= POSTS).then_some(())
    })
    .await;
    let took = published.elapsed();
    assert!(
        dead.iter().all(|peer| peer.received().is_empty()),
        "the dead peers answered nothing"
    );
    let db = alpha.database().await;
    let pending = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM delivery WHERE state = 'pending'",
        ))
        .await
        .expect("count")
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    assert!(
        pending >= (POSTS * dead.len()) as i64,
        "the dead peers' deliveries are still owed ({pending} pending) after {took:?}"
    );
    assert!(live.received().iter().all(|d| d.signature_valid));
}
