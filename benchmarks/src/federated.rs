//! Inbox, fan-out and reads: a real node (the `serve` code, in a child
//! process) on loopback HTTP, each figure printed beside its ceiling measured
//! in the same run.
//!
//! - inbox: pre-signed activities from 16 remote actors POSTed to the shared
//!   inbox by concurrent clients; what counts is a 202, which the node gives
//!   after the signature, digest, date and host checks, the dedupe by id and
//!   the insert. Ceilings: OpenSSL's RSA-2048 verify rate on every core, and
//!   the database's batched insert rate for rows of the same shape.
//! - fan-out: a working group with 10,000 followers on 1,000 loopback nodes
//!   (one receiver answering for every host name) publishes a public post
//!   (one delivery per node's shared inbox) and a members-only one (one per
//!   follower's own inbox). Ceiling: OpenSSL's RSA-2048 sign rate on two cores.
//! - reads: the group page (HTML), a thread with 20 replies (JSON API) and
//!   the group actor (ActivityPub JSON) under concurrent load, anonymously
//!   (which the node may answer from its cache) and as a signed-in member
//!   (never cached). Ceiling: the node's `/livez`, a handler that answers
//!   "ok" through the same server.
//! - memory: the node's peak resident set after each.

use crate::{
    ceilings::{self, InsertRate, RsaRates},
    load::{self, LoadResult},
    node::{self, Memory, NodeProcess},
    receivers,
    support::{BenchDb, Table, ms},
};
use anyhow::{Context, Result, bail};
use chrono::Utc;
use healthcommons_db::entities::{actor, follow, inbox_activity, peer};
use healthcommons_federation::signatures;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

/// Remote actors who send to the inbox, each on a node of its own.
const SENDERS: usize = 16;
/// Key pairs among them (generation is slow; verifying costs the same).
const SENDER_KEYS: usize = 4;
/// Replies in the thread the reads benchmark asks for.
const THREAD_REPLIES: usize = 20;
/// Rows per statement for the database's insert ceiling.
const INSERT_BATCH: usize = 500;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Signed activities POSTed to the inbox (one in ten a replay of an earlier one).
    #[arg(long, default_value_t = 10_000)]
    pub inbox_activities: usize,
    /// Concurrent clients POSTing to the inbox.
    #[arg(long, default_value_t = 64)]
    pub inbox_concurrency: usize,
    /// Followers of the working group in the fan-out.
    #[arg(long, default_value_t = 10_000)]
    pub followers: usize,
    /// Receiving nodes the followers are spread over.
    #[arg(long, default_value_t = 1_000)]
    pub nodes: usize,
    /// Seconds each read is loaded (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    pub reads_seconds: u64,
    /// Concurrent clients for the reads.
    #[arg(long, default_value_t = 32)]
    pub reads_concurrency: usize,
    /// Seconds `openssl speed` spends on signing, and again on verifying.
    #[arg(long, default_value_t = 3)]
    pub openssl_seconds: u32,
    /// Rows inserted to measure the database's batched insert rate.
    #[arg(long, default_value_t = 50_000)]
    pub insert_rows: usize,
    /// Also run on this PostgreSQL server, where the user may create
    /// databases; the benchmark makes a database of its own and drops it.
    #[arg(long, env = "HEALTHCOMMONS_BENCH_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
}

/// Which of the three to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Which {
    pub inbox: bool,
    pub fanout: bool,
    pub reads: bool,
}

impl Which {
    pub const ALL: Which = Which {
        inbox: true,
        fanout: true,
        reads: true,
    };
}

/// Targets, as fractions of the ceiling.
const INBOX_TARGET: f64 = 0.5;
const FANOUT_TARGET: f64 = 0.6;
const READS_TARGET: f64 = 0.3;

pub async fn run(args: Args, which: Which) -> Result<()> {
    let begun = Instant::now();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("# Ceilings: OpenSSL");
    println!();
    let rsa = ceilings::openssl_rsa2048(cores, args.openssl_seconds).await?;
    match &rsa {
        Some(rates) => println!(
            "`openssl speed -seconds {} rsa2048` in {} processes at once: {:.0} signs/s ({:.0} per core), \
             {:.0} verifies/s ({:.0} per core).",
            args.openssl_seconds,
            rates.processes,
            rates.sign,
            rates.sign_per_core(),
            rates.verify,
            rates.verify / rates.processes.max(1) as f64,
        ),
        None => println!("openssl is not installed: the RSA ceilings are missing from this run."),
    }
    println!();
    let mut results = Vec::new();
    let sqlite = BenchDb::sqlite().await?;
    results.push(backend(sqlite, &args, which, rsa).await?);
    match &args.postgres_url {
        Some(url) => {
            let postgres = BenchDb::postgres(url).await?;
            results.push(backend(postgres, &args, which, rsa).await?);
        }
        None => {
            println!("## PostgreSQL: skipped");
            println!();
            println!(
                "Set HEALTHCOMMONS_BENCH_POSTGRES_URL to a server where the user may create databases \
                 (e.g. postgres://postgres:postgres@127.0.0.1:5432/postgres) to run it there too."
            );
            println!();
        }
    }
    print_summary(&results);
    println!();
    println!("The whole run took {:.0} s.", begun.elapsed().as_secs_f64());
    Ok(())
}

/// One figure beside its ceiling.
struct Figure {
    what: String,
    value: f64,
    unit: &'static str,
    ceiling: Option<(f64, String)>,
    target: Option<f64>,
    note: String,
}

struct BackendResult {
    backend: &'static str,
    figures: Vec<Figure>,
}

async fn backend(bench: BenchDb, args: &Args, which: Which, rsa: Option<RsaRates>) -> Result<BackendResult> {
    let outcome = run_on(&bench, args, which, rsa).await;
    let finished = bench.finish().await;
    let result = outcome?;
    finished?;
    Ok(result)
}

/// Everything the benchmarks share on one backend.
struct Rig {
    node: NodeProcess,
    client: reqwest::Client,
    token: String,
    group_ap_id: String,
    group_key_pem: String,
    thread_ap_id: String,
    receiver_port: u16,
    received: Arc<receivers::Received>,
}

async fn run_on(bench: &BenchDb, args: &Args, which: Which, rsa: Option<RsaRates>) -> Result<BackendResult> {
    println!("## {}", bench.name());
    println!();
    println!("{}", bench.describe().await?);
    println!();
    let mut figures = Vec::new();

    let sample_body = inbox_body("http://s0.test:1", 0);
    let inserts = ceilings::batched_inserts(bench, args.insert_rows, INSERT_BATCH, &sample_body).await?;
    println!(
        "Batched inserts (ceiling): {} rows of {} bytes like the inbox's, {} rows per INSERT and transaction, \
         in {:.2} s: {:.0} rows/s.",
        inserts.rows,
        sample_body.len(),
        inserts.batch,
        inserts.elapsed.as_secs_f64(),
        inserts.per_second()
    );
    println!();

    let rig = start_rig(bench, args).await?;
    let mut memory = Vec::new();
    memory.push(("start", rig.node.memory()));

    if which.inbox {
        figures.push(inbox(bench, &rig, args, rsa, inserts).await?);
        memory.push(("after inbox", rig.node.memory()));
    }
    if which.fanout {
        figures.extend(fanout(bench, &rig, args, rsa).await?);
        memory.push(("after fan-out", rig.node.memory()));
    }
    if which.reads {
        figures.extend(reads(&rig, args).await?);
        memory.push(("after reads", rig.node.memory()));
    }
    println!("### Memory of the node");
    println!();
    for (when, seen) in &memory {
        match seen {
            Some(m) => println!("- {when}: {}", m.describe()),
            None => println!("- {when}: unknown (no /proc)"),
        }
    }
    println!();
    if let Some(Some(Memory { peak_kib, .. })) = memory.last().map(|(_, m)| m) {
        figures.push(Figure {
            what: "peak RSS of the node".into(),
            value: *peak_kib as f64 / 1024.0,
            unit: "MiB",
            ceiling: None,
            target: None,
            note: "VmHWM through everything above".into(),
        });
    }
    drop(rig);
    Ok(BackendResult {
        backend: bench.name(),
        figures,
    })
}

/// Start the receivers and the node, make the group, its thread and its followers.
async fn start_rig(bench: &BenchDb, args: &Args) -> Result<Rig> {
    let receiver_port = node::free_port()?;
    let received = receivers::start(receiver_port).await?;
    let mut peers: Vec<String> = (0..args.nodes).map(|i| format!("r{i:04}.test")).collect();
    peers.extend((0..SENDERS).map(|i| format!("s{i}.test")));
    let data_dir = tempfile::Builder::new()
        .prefix("healthcommons-bench-node-")
        .tempdir()?;
    let node = NodeProcess::start(data_dir.path(), &bench.url(), &peers).await?;
    // The node keeps its log and keys there; it lives as long as the process.
    let _kept = data_dir.keep();
    let client = node::client(&[])?;

    let token = node.user(&client, "organiser").await?;
    let group = node
        .post(
            &client,
            &token,
            "/api/v1/groups",
            json!({"name": "walkers", "display_name": "Walking for health",
                   "summary": "We **walk** together, every week, whatever the weather."}),
        )
        .await?;
    let group_ap_id = group["actor_id"].as_str().context("no actor id")?.to_owned();
    // The thread is written before the group has followers, so it sends nothing.
    let thread = node
        .post(
            &client,
            &token,
            "/api/v1/posts",
            json!({"group": "walkers", "title": "Routes for the winter",
                   "content": long_text(0)}),
        )
        .await?;
    let thread_ap_id = thread["id"].as_str().context("no post id")?.to_owned();
    for i in 0..THREAD_REPLIES {
        node.post(
            &client,
            &token,
            "/api/v1/posts",
            json!({"in_reply_to": thread_ap_id, "content": long_text(i + 1)}),
        )
        .await?;
    }
    let actor: Value = client
        .get(&group_ap_id)
        .header("accept", "application/activity+json")
        .send()
        .await?
        .json()
        .await?;
    let group_key_pem = actor["publicKey"]["publicKeyPem"]
        .as_str()
        .context("the group has no public key")?
        .to_owned();

    let group_id = actor::Entity::find()
        .filter(actor::Column::ApId.eq(&group_ap_id))
        .one(&bench.db)
        .await?
        .context("the group's row")?
        .id;
    let seeded = Instant::now();
    seed_followers(bench, group_id, args, receiver_port).await?;
    println!(
        "Node {} started; group {group_ap_id} with a thread of {THREAD_REPLIES} replies; \
         {} followers on {} nodes seeded in {:.1} s.",
        node.domain,
        args.followers,
        args.nodes,
        seeded.elapsed().as_secs_f64()
    );
    println!();
    Ok(Rig {
        node,
        client,
        token,
        group_ap_id,
        group_key_pem,
        thread_ap_id,
        receiver_port,
        received,
    })
}

fn long_text(n: usize) -> String {
    format!(
        "Walk number {n}: we meet at the library at ten, take the **river path** to the old mill and \
         come back through the park. It is about five kilometres, flat, with benches every few hundred \
         metres. Bring water and a coat; we stop for tea halfway. Everyone is welcome, whatever the pace."
    )
}

/// `followers` remote people spread over `nodes` receiving nodes (group-aware
/// peers with shared inboxes), all following the group.
async fn seed_followers(bench: &BenchDb, group_id: i64, args: &Args, port: u16) -> Result<()> {
    let now = Utc::now();
    let public_key_pem = signatures_test_key();
    let mut peers = Vec::new();
    for i in 0..args.nodes {
        peers.push(peer::ActiveModel {
            host: Set(format!("r{i:04}.test:{port}")),
            failing_since: Set(None),
            consecutive_failures: Set(0),
            unreachable: Set(false),
            last_success_at: Set(None),
            last_seen_at: Set(Some(now)),
            blocked: Set(false),
            software: Set(Some("healthcommons".into())),
            group_aware: Set(Some(true)),
            software_checked_at: Set(Some(now)),
            refusing_since: Set(None),
            last_refusal: Set(None),
        });
    }
    for chunk in peers.chunks(500) {
        peer::Entity::insert_many(chunk.to_vec()).exec(&bench.db).await?;
    }
    let mut actors = Vec::new();
    for i in 0..args.followers {
        let node = i % args.nodes.max(1);
        let host = format!("r{node:04}.test:{port}");
        let base = format!("http://{host}");
        let name = format!("walker{i}");
        actors.push(remote_actor(&base, &host, &name, &public_key_pem, now));
    }
    for chunk in actors.chunks(500) {
        actor::Entity::insert_many(chunk.to_vec()).exec(&bench.db).await?;
    }
    let ids: Vec<i64> = actor::Entity::find()
        .select_only()
        .column(actor::Column::Id)
        .filter(actor::Column::Local.eq(false))
        .filter(actor::Column::Username.starts_with("walker"))
        .into_tuple()
        .all(&bench.db)
        .await?;
    let follows: Vec<follow::ActiveModel> = ids
        .iter()
        .map(|id| follow::ActiveModel {
            ap_id: Set(format!("http://follows.test/{id}")),
            follower_id: Set(*id),
            target_id: Set(group_id),
            state: Set(healthcommons_db::entities::FollowState::Accepted),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in follows.chunks(500) {
        follow::Entity::insert_many(chunk.to_vec())
            .exec(&bench.db)
            .await?;
    }
    Ok(())
}

fn remote_actor(
    base: &str,
    host: &str,
    name: &str,
    public_key_pem: &str,
    now: chrono::DateTime<Utc>,
) -> actor::ActiveModel {
    let ap_id = format!("{base}/users/{name}");
    actor::ActiveModel {
        ap_id: Set(ap_id.clone()),
        kind: Set(healthcommons_db::entities::ActorKind::Person),
        local: Set(false),
        username: Set(name.to_owned()),
        host: Set(host.to_owned()),
        display_name: Set(Some(name.to_owned())),
        summary_html: Set(None),
        url: Set(Some(ap_id.clone())),
        inbox: Set(format!("{ap_id}/inbox")),
        shared_inbox: Set(Some(format!("{base}/inbox"))),
        outbox: Set(Some(format!("{ap_id}/outbox"))),
        followers_url: Set(Some(format!("{ap_id}/followers"))),
        following_url: Set(Some(format!("{ap_id}/following"))),
        public_key_id: Set(format!("{ap_id}#main-key")),
        public_key_pem: Set(public_key_pem.to_owned()),
        private_key_pem: Set(None),
        user_id: Set(None),
        manually_approves_followers: Set(false),
        discoverable: Set(true),
        published: Set(now),
        last_fetched_at: Set(now),
        created_by: Set(None),
        ..Default::default()
    }
}

/// The key the seeded followers are said to have: they never sign
/// anything here, so it is never checked.
fn signatures_test_key() -> String {
    "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
        .to_owned()
}

/// What one sender posts: an Audio to the group, which the node stores and
/// later keeps without acting on, so background processing stays light.
fn inbox_body(base: &str, n: usize) -> String {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{base}/activities/{n}"),
        "type": "Create",
        "actor": format!("{base}/users/sender"),
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": format!("{base}/audio/{n}"),
            "type": "Audio",
            "attributedTo": format!("{base}/users/sender"),
            "name": format!("Walking song number {n}"),
            "content": "<p>A song we sing on the river path, recorded last Sunday by the group.</p>",
            "url": format!("{base}/media/{n}.mp3"),
        },
    })
    .to_string()
}

struct SignedPost {
    body: String,
    headers: Vec<(&'static str, String)>,
}

async fn inbox(
    bench: &BenchDb,
    rig: &Rig,
    args: &Args,
    rsa: Option<RsaRates>,
    inserts: InsertRate,
) -> Result<Figure> {
    println!("### Inbox");
    println!();
    let prepared = Instant::now();
    let mut keys = Vec::new();
    for _ in 0..SENDER_KEYS {
        keys.push(
            healthcommons_service::keys::generate()
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        );
    }
    let now = Utc::now();
    let bases: Vec<String> = (0..SENDERS)
        .map(|i| format!("http://s{i}.test:{}", rig.receiver_port))
        .collect();
    let senders: Vec<actor::ActiveModel> = bases
        .iter()
        .enumerate()
        .map(|(i, base)| {
            let host = base.trim_start_matches("http://");
            remote_actor(base, host, "sender", &keys[i % SENDER_KEYS].public_pem, now)
        })
        .collect();
    actor::Entity::insert_many(senders).exec(&bench.db).await?;

    // Sign everything first, on every core, so the load is only the node's work.
    let inbox_url = url::Url::parse(&format!("{}/inbox", rig.node.base))?;
    let unique = args.inbox_activities - args.inbox_activities / 10;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let signed: Vec<SignedPost> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|core| {
                let (bases, keys, inbox_url) = (&bases, &keys, &inbox_url);
                scope.spawn(move || -> Result<Vec<(usize, SignedPost)>> {
                    let mut out = Vec::new();
                    for n in (core..unique).step_by(cores) {
                        let sender = n % SENDERS;
                        let body = inbox_body(&bases[sender], n);
                        let headers = signatures::sign_request_headers(
                            "POST",
                            inbox_url,
                            Some(body.as_bytes()),
                            &format!("{}/users/sender#main-key", bases[sender]),
                            &keys[sender % SENDER_KEYS].private_pem,
                        )?;
                        out.push((n, SignedPost { body, headers }));
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??;
            all.extend(part);
        }
        all.sort_by_key(|(n, _)| *n);
        Ok::<_, anyhow::Error>(all.into_iter().map(|(_, post)| post).collect())
    })?;
    println!(
        "{} activities from {SENDERS} actors ({SENDER_KEYS} RSA-2048 keys) signed beforehand in {:.1} s; \
         every tenth request is a replay of an earlier activity, {} in all.",
        signed.len(),
        prepared.elapsed().as_secs_f64(),
        args.inbox_activities
    );
    let signed = Arc::new(signed);
    let total = args.inbox_activities;
    let client = rig.client.clone();
    let posts = signed.clone();
    let result = load::run(args.inbox_concurrency, Duration::from_secs(300), 202, move |i| {
        if i >= total {
            return None;
        }
        // Every tenth request replays one sent earlier.
        let which = if i % 10 == 9 {
            (i / 10) % posts.len()
        } else {
            i - i / 10
        };
        let post = posts.get(which.min(posts.len().saturating_sub(1)))?;
        let mut request = client
            .post(inbox_url.clone())
            .header("content-type", "application/activity+json")
            .body(post.body.clone());
        for (name, value) in &post.headers {
            request = request.header(*name, value);
        }
        Some(request)
    })
    .await;
    let stored = inbox_activity::Entity::find()
        .filter(inbox_activity::Column::ActorApId.contains("/users/sender"))
        .count(&bench.db)
        .await?;
    report_load("accepted (202)", &result);
    println!(
        "Stored: {stored} distinct activities (of {unique} distinct sent); the replays were answered 202 \
         and dropped as duplicates."
    );
    if result.failed > 0 {
        bail!(
            "{} inbox requests failed, e.g. {}",
            result.failed,
            result.first_failure.unwrap_or_default()
        );
    }
    let drained = wait_inbox_drained(bench, Duration::from_secs(60)).await?;
    println!(
        "The node's inbox worker then finished processing them {:.1} s after the last was accepted.",
        drained.as_secs_f64()
    );
    println!();
    let verify = rsa.map(|r| r.verify);
    let insert = inserts.per_second();
    let (ceiling, label) = match verify {
        Some(v) if v < insert => (
            v,
            format!("RSA-2048 verify, {} cores", rsa.map_or(0, |r| r.processes)),
        ),
        _ => (insert, format!("batched INSERT of {INSERT_BATCH} rows")),
    };
    Ok(Figure {
        what: "inbox: signed activities accepted/s".into(),
        value: result.per_second(),
        unit: "/s",
        ceiling: Some((ceiling, label)),
        target: Some(INBOX_TARGET),
        note: format!(
            "p99 {} ms at {} clients; verify ceiling {}, insert ceiling {insert:.0}/s",
            ms(result.latencies.p99),
            args.inbox_concurrency,
            verify.map_or("unknown".into(), |v| format!("{v:.0}/s"))
        ),
    })
}

/// Wait until no inbox activity is pending; how long that took.
async fn wait_inbox_drained(bench: &BenchDb, limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let pending = inbox_activity::Entity::find()
            .filter(inbox_activity::Column::State.eq("pending"))
            .count(&bench.db)
            .await?;
        if pending == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            println!("(still {pending} inbox activities pending after {limit:?}; going on)");
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fanout(bench: &BenchDb, rig: &Rig, args: &Args, rsa: Option<RsaRates>) -> Result<Vec<Figure>> {
    println!("### Fan-out");
    println!();
    let two_core_sign = rsa.map(|r| r.sign_per_core() * 2.0);
    let mut figures = Vec::new();
    for (label, visibility, inboxes) in [
        ("shared inboxes", "public", args.nodes.min(args.followers)),
        ("personal inboxes", "members", args.followers),
    ] {
        rig.received.reset(&rig.group_key_pem);
        let posts_before = rig.received.posts.load(Ordering::Relaxed);
        let started = Instant::now();
        let post = rig
            .node
            .post(
                &rig.client,
                &rig.token,
                "/api/v1/posts",
                json!({"group": "walkers", "title": format!("News for everyone ({label})"),
                       "content": long_text(99), "visibility": visibility}),
            )
            .await?;
        let accepted = started.elapsed();
        let deadline = started + Duration::from_secs(240);
        while rig.received.inboxes() < inboxes {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {inboxes} inboxes had the {label} post after {:?}",
                    rig.received.inboxes(),
                    started.elapsed()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let all = started.elapsed();
        let posts = rig.received.posts.load(Ordering::Relaxed) - posts_before;
        let rate = inboxes as f64 / all.as_secs_f64();
        println!(
            "{label} ({visibility} post {}): the API answered in {} ms; all {inboxes} inboxes had it after \
             {:.2} s ({posts} POSTs arrived): {rate:.0} deliveries/s.",
            post["id"].as_str().unwrap_or_default(),
            ms(accepted),
            all.as_secs_f64()
        );
        println!("{}", arrival_timeline(started, &rig.received.arrival_times()));
        figures.push(Figure {
            what: format!("fan-out, {label}: deliveries/s"),
            value: rate,
            unit: "/s",
            ceiling: two_core_sign.map(|s| (s, "RSA-2048 sign, 2 cores".to_owned())),
            target: Some(FANOUT_TARGET),
            note: format!(
                "{} followers on {} nodes: {inboxes} deliveries, all in {:.2} s",
                args.followers,
                args.nodes,
                all.as_secs_f64()
            ),
        });
    }
    let checked = rig.received.signatures_checked.load(Ordering::Relaxed);
    let bad = rig.received.signatures_bad.load(Ordering::Relaxed);
    println!(
        "The receivers checked the signature of {checked} deliveries (one in fifty): {bad} did not verify."
    );
    let pending = healthcommons_db::queries::deliveries::count_pending(&bench.db).await?;
    println!("Deliveries still pending afterwards: {pending}.");
    println!();
    if bad > 0 {
        bail!("{bad} deliveries carried signatures that do not verify");
    }
    Ok(figures)
}

/// When the first inbox, a tenth, half, nine tenths and the last were
/// reached, counted from the API call: where a fan-out's time goes.
fn arrival_timeline(started: Instant, arrivals: &[Instant]) -> String {
    let Some(last) = arrivals.len().checked_sub(1) else {
        return "No inbox was reached.".to_owned();
    };
    let marks: Vec<String> = [
        (0.0, "first"),
        (0.1, "10%"),
        (0.5, "50%"),
        (0.9, "90%"),
        (1.0, "last"),
    ]
    .into_iter()
    .map(|(share, name)| {
        let index = ((last as f64) * share).round() as usize;
        let at = arrivals[index].saturating_duration_since(started);
        format!("{name} {} ms", ms(at))
    })
    .collect();
    format!("Inboxes reached after: {}.", marks.join(", "))
}

async fn reads(rig: &Rig, args: &Args) -> Result<Vec<Figure>> {
    println!("### Reads");
    println!();
    let base = rig.node.base.clone();
    let thread = format!(
        "{base}/api/v1/posts/{}",
        url::form_urlencoded::byte_serialize(rig.thread_ap_id.as_bytes()).collect::<String>()
    );
    // Anonymous reads may come from the node's cache; a member's never do.
    let session = rig.node.session(&rig.client, "organiser").await?;
    let targets = [
        (
            "trivial handler (/livez)",
            format!("{base}/livez"),
            "text/plain",
            None,
        ),
        ("group page, HTML", format!("{base}/g/walkers"), "text/html", None),
        ("thread, JSON API", thread.clone(), "application/json", None),
        (
            "group actor, ActivityPub JSON",
            rig.group_ap_id.clone(),
            "application/activity+json",
            None,
        ),
        (
            "group page, HTML, signed in",
            format!("{base}/g/walkers"),
            "text/html",
            Some(Credential::Cookie(session.clone())),
        ),
        (
            "thread, JSON API, with a token",
            thread,
            "application/json",
            Some(Credential::Bearer(rig.token.clone())),
        ),
        (
            "group actor, ActivityPub JSON, signed in",
            rig.group_ap_id.clone(),
            "application/activity+json",
            Some(Credential::Cookie(session)),
        ),
    ];
    let mut table = Table::new(&[
        "read",
        "requests/s",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "max ms",
        "bytes",
    ]);
    let mut results: Vec<(String, LoadResult)> = Vec::new();
    for (what, url, accept, credential) in targets {
        let check = with_credential(rig.client.get(&url), credential.as_ref())
            .header("accept", accept)
            .send()
            .await?;
        let status = check.status();
        let bytes = check.bytes().await?.len();
        if !status.is_success() {
            bail!("GET {url} answered {status}");
        }
        for (seconds, timed) in [(1, false), (args.reads_seconds, true)] {
            let client = rig.client.clone();
            let target = url.clone();
            let credential = credential.clone();
            let result = load::run(
                args.reads_concurrency,
                Duration::from_secs(seconds),
                200,
                move |_| {
                    Some(with_credential(client.get(&target), credential.as_ref()).header("accept", accept))
                },
            )
            .await;
            if result.failed > 0 {
                bail!(
                    "{} reads of {url} failed, e.g. {:?}",
                    result.failed,
                    result.first_failure
                );
            }
            if timed {
                table.row(vec![
                    what.to_owned(),
                    format!("{:.0}", result.per_second()),
                    ms(result.latencies.mean),
                    ms(result.latencies.p50),
                    ms(result.latencies.p99),
                    ms(result.latencies.max),
                    bytes.to_string(),
                ]);
                results.push((what.to_owned(), result));
            }
        }
    }
    println!(
        "{} concurrent clients, {} s each after 1 s of warm-up:",
        args.reads_concurrency, args.reads_seconds
    );
    println!();
    table.print();
    println!();
    let Some((_, trivial)) = results.first() else {
        bail!("no trivial handler result");
    };
    let ceiling = trivial.per_second();
    Ok(results
        .iter()
        .skip(1)
        .map(|(what, result)| Figure {
            what: format!("reads, {what}: requests/s"),
            value: result.per_second(),
            unit: "/s",
            ceiling: Some((ceiling, "trivial handler on the same server".into())),
            target: Some(READS_TARGET),
            note: format!(
                "p99 {} ms (trivial: {} ms), {} clients",
                ms(result.latencies.p99),
                ms(trivial.latencies.p99),
                args.reads_concurrency
            ),
        })
        .collect())
}

/// How a member proves who they are: a session cookie (pages) or an API token.
#[derive(Clone)]
enum Credential {
    Cookie(String),
    Bearer(String),
}

fn with_credential(
    request: reqwest::RequestBuilder,
    credential: Option<&Credential>,
) -> reqwest::RequestBuilder {
    match credential {
        Some(Credential::Cookie(cookie)) => request.header("cookie", cookie),
        Some(Credential::Bearer(token)) => request.bearer_auth(token),
        None => request,
    }
}

fn report_load(what: &str, result: &LoadResult) {
    println!(
        "{} {what} in {:.2} s: {:.0}/s; latency mean {} ms, p50 {} ms, p99 {} ms, max {} ms; {} failed.",
        result.ok,
        result.elapsed.as_secs_f64(),
        result.per_second(),
        ms(result.latencies.mean),
        ms(result.latencies.p50),
        ms(result.latencies.p99),
        ms(result.latencies.max),
        result.failed
    );
}

/// Whether `value` reaches `target` of `ceiling`, as printed.
pub fn verdict(value: f64, ceiling: f64, target: f64) -> (f64, &'static str) {
    if ceiling <= 0.0 {
        return (0.0, "no ceiling");
    }
    let share = value / ceiling;
    (share, if share >= target { "met" } else { "missed" })
}

fn print_summary(results: &[BackendResult]) {
    println!("## Summary");
    println!();
    let mut table = Table::new(&[
        "backend", "figure", "value", "ceiling", "share", "target", "", "notes",
    ]);
    for result in results {
        for figure in &result.figures {
            let (ceiling, share, target, verdict_text) = match (&figure.ceiling, figure.target) {
                (Some((ceiling, label)), Some(target)) => {
                    let (share, verdict_text) = verdict(figure.value, *ceiling, target);
                    (
                        format!("{ceiling:.0}{} ({label})", figure.unit),
                        format!("{:.0}%", share * 100.0),
                        format!("≥{:.0}%", target * 100.0),
                        verdict_text.to_owned(),
                    )
                }
                _ => ("–".into(), "–".into(), "–".into(), String::new()),
            };
            table.row(vec![
                result.backend.to_owned(),
                figure.what.clone(),
                format!("{:.0} {}", figure.value, figure.unit).replace(" /s", "/s"),
                ceiling,
                share,
                target,
                verdict_text,
                figure.note.clone(),
            ]);
        }
    }
    table.print();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_compare_the_share_with_the_target() {
        assert_eq!(verdict(600.0, 1000.0, 0.6), (0.6, "met"));
        assert_eq!(verdict(599.0, 1000.0, 0.6).1, "missed");
        assert_eq!(verdict(5.0, 0.0, 0.5), (0.0, "no ceiling"));
    }

    #[test]
    fn the_inbox_body_is_an_activity_of_its_sender() {
        let body: Value = serde_json::from_str(&inbox_body("http://s3.test:9", 7)).expect("json");
        assert_eq!(body["id"], "http://s3.test:9/activities/7");
        assert_eq!(body["actor"], "http://s3.test:9/users/sender");
        assert_eq!(body["object"]["type"], "Audio");
    }

    #[test]
    fn the_arrival_timeline_reads_its_marks_from_the_ordered_arrivals() {
        let started = Instant::now();
        let arrivals: Vec<Instant> = (0..=10)
            .map(|n| started + Duration::from_millis(n * 100))
            .collect();
        assert_eq!(
            arrival_timeline(started, &arrivals),
            "Inboxes reached after: first 0.000 ms, 10% 100.000 ms, 50% 500.000 ms, \
             90% 900.000 ms, last 1000.000 ms."
        );
        assert_eq!(arrival_timeline(started, &[]), "No inbox was reached.");
    }
}
