//! Hostile input against a real node over real HTTP: forged, stale, swapped,
//! oversized and malformed deliveries, impersonation, activities on what the
//! sender does not own, script in what others send, lookalike names, private
//! posts asked for by strangers, SSRF through every URL the node fetches, and
//! rate limits. Each case checks the status the node answers and that nothing
//! was stored or changed.

use healthcommons_db::entities::{
    actor, event, follow, garden_item, inbox_activity, post, post_revision, reaction, user,
};
use healthcommons_federation_tests::{
    Node, client, encoded,
    mastodon::{Forged, MastodonPeer},
    wait_for,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

const NODE: &str = env!("CARGO_BIN_EXE_healthcommons-node");
const PATIENCE: Duration = Duration::from_secs(60);
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// What the node holds, counted table by table, plus the one post others
/// try to change.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    actors: u64,
    users: u64,
    posts: u64,
    revisions: u64,
    follows: u64,
    reactions: u64,
    garden_items: u64,
    events: u64,
    inbox: u64,
    victim_post: Option<(String, bool)>,
}

async fn snapshot(node: &Node, victim_post: &str) -> Snapshot {
    let db = node.database().await;
    let victim = post::Entity::find()
        .filter(post::Column::ApId.eq(victim_post))
        .one(&db)
        .await
        .expect("post");
    Snapshot {
        actors: actor::Entity::find().count(&db).await.expect("count"),
        users: user::Entity::find().count(&db).await.expect("count"),
        posts: post::Entity::find().count(&db).await.expect("count"),
        revisions: post_revision::Entity::find().count(&db).await.expect("count"),
        follows: follow::Entity::find().count(&db).await.expect("count"),
        reactions: reaction::Entity::find().count(&db).await.expect("count"),
        garden_items: garden_item::Entity::find().count(&db).await.expect("count"),
        events: event::Entity::find().count(&db).await.expect("count"),
        inbox: inbox_activity::Entity::find().count(&db).await.expect("count"),
        victim_post: victim.map(|p| (p.content_html, p.deleted_at.is_some())),
    }
}

/// The stored inbox row of `ap_id` once the worker has tried it at least once.
async fn processed(node: &Node, ap_id: &str) -> inbox_activity::Model {
    let db = node.database().await;
    wait_for(&format!("{ap_id} to be processed"), PATIENCE, || async {
        inbox_activity::Entity::find()
            .filter(inbox_activity::Column::ApId.eq(ap_id))
            .one(&db)
            .await
            .ok()
            .flatten()
            .filter(|row| row.attempts > 0 || row.state == healthcommons_db::entities::InboxState::Done)
    })
    .await
}

/// How one hostile request is sent.
enum Sent {
    /// Signed by the peer as `Forged` says, to the working group's inbox.
    Forged(Box<Forged>),
    /// Not signed at all, to the working group's inbox.
    Unsigned {
        content_type: Option<&'static str>,
        body: Vec<u8>,
    },
}

fn signed_by_peer(forged: Forged) -> Sent {
    Sent::Forged(Box::new(forged))
}

/// What the node must do with it.
enum Expect {
    /// Refuse at once with this status and a message containing this text.
    Refused(u16, &'static str),
    /// Accept (202), then refuse it when processing, with this text in the
    /// recorded reason; nothing but the inbox row is kept.
    RefusedLater(&'static str),
    /// Accept (202) as a replay of what it already has; nothing changes.
    Duplicate,
}

struct Case {
    name: &'static str,
    send: Sent,
    expect: Expect,
}

fn activity_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("json")
}

fn deeply_nested(depth: usize, actor: &str, id: &str) -> Vec<u8> {
    let inner = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    format!(
        r#"{{"@context":"https://www.w3.org/ns/activitystreams","id":"{id}","type":"Like","actor":"{actor}","object":{inner}}}"#
    )
    .into_bytes()
}

#[tokio::test]
async fn hostile_deliveries_are_refused_and_change_nothing() {
    let beta = Node::start(NODE, "beta.test", &[]).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let inbox = format!("{group_id}/inbox");
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let mallory = peer.actor_id("mallory");

    // Mallory and Vic follow the working group; Vic starts a thread in it.
    let mut follows = Vec::new();
    for name in ["mallory", "vic"] {
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/{name}", peer.base), "type": "Follow",
            "actor": peer.actor_id(name), "object": group_id,
        });
        assert_eq!(peer.deliver(name, &inbox, &follow).await.status(), 202);
        follows.push(follow);
    }
    let vic_note = peer.status(
        "vic",
        1,
        json!({"cc": [group_id], "audience": group_id, "name": "Sunday walk", "content": "<p>Meet at the bridge</p>"}),
    );
    let vic_post = vic_note["id"].as_str().expect("id").to_owned();
    assert_eq!(
        peer.deliver("vic", &inbox, &peer.create("vic", &vic_note))
            .await
            .status(),
        202
    );
    let db = beta.database().await;
    wait_for("Vic's thread to be stored", PATIENCE, || async {
        post::Entity::find()
            .filter(post::Column::ApId.eq(vic_post.as_str()))
            .one(&db)
            .await
            .ok()
            .flatten()
    })
    .await;
    wait_for("both follows to be accepted", PATIENCE, || async {
        let n = follow::Entity::find()
            .filter(follow::Column::State.eq("accepted"))
            .count(&db)
            .await
            .ok()?;
        (n == 2).then_some(())
    })
    .await;

    let follow_like = |n: &str| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/likes/{n}", peer.base), "type": "Like",
            "actor": mallory, "object": vic_post,
        })
    };
    let signed = |value: &Value| Forged::new("mallory", &activity_bytes(value));
    let with = |value: &Value, change: &dyn Fn(&mut Forged)| {
        let mut forged = signed(value);
        change(&mut forged);
        forged
    };
    let note_create = |n: u32, object: Value| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/users/mallory/statuses/{n}/activity", peer.base), "type": "Create",
            "actor": mallory, "to": [PUBLIC], "cc": [group_id], "object": object,
        })
    };
    let note = |id: String, attributed_to: &str| {
        json!({"id": id, "type": "Note", "attributedTo": attributed_to, "to": [PUBLIC],
               "cc": [group_id], "audience": group_id, "content": "<p>Hello walkers</p>"})
    };
    let an_hour = Duration::from_secs(2 * 3600);

    // Documents the peer serves for the fetch cases: one whose id names
    // another host, one that redirects to another host.
    let liar_path = "/notes/900";
    peer.serve(
        liar_path,
        200,
        &[("content-type", "application/activity+json")],
        &note("http://gamma.test:9/notes/1".into(), &mallory).to_string(),
    );
    let moved_path = "/notes/901";
    peer.serve(
        moved_path,
        302,
        &[("location", "http://gamma.test:9/notes/2")],
        "",
    );

    let cases = vec![
        // Transport: the signature, its digest, date and host.
        Case {
            name: "missing signature",
            send: signed_by_peer(with(&follow_like("1"), &|f| f.send_signature = false)),
            expect: Expect::Refused(401, "no Signature header"),
        },
        Case {
            name: "malformed Signature header",
            send: signed_by_peer(with(&follow_like("2"), &|f| {
                f.signature = Some("this is not a signature".into())
            })),
            expect: Expect::Refused(401, "cannot be parsed"),
        },
        Case {
            name: "Signature header without keyId",
            send: signed_by_peer(with(&follow_like("3"), &|f| {
                f.signature = Some(
                    r#"algorithm="rsa-sha256",headers="(request-target) host date digest",signature="AAAA""#
                        .into(),
                )
            })),
            expect: Expect::Refused(401, "cannot be parsed"),
        },
        Case {
            name: "bad signature bytes",
            send: signed_by_peer(with(&follow_like("4"), &|f| {
                f.signature = Some(format!(
                    r#"keyId="{mallory}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="{}""#,
                    base64_zeros(256)
                ))
            })),
            expect: Expect::Refused(401, "does not verify"),
        },
        Case {
            name: "two Signature headers",
            send: signed_by_peer(with(&follow_like("5"), &|f| {
                f.extra_headers.push(("signature", "keyId=\"x\"".into()))
            })),
            expect: Expect::Refused(401, "more than one Signature"),
        },
        Case {
            name: "Authorization: Signature instead of Signature",
            send: signed_by_peer(with(&follow_like("6"), &|f| {
                f.extra_headers
                    .push(("authorization", format!("Signature keyId=\"{mallory}#main-key\"")))
            })),
            expect: Expect::Refused(401, "Authorization: Signature"),
        },
        Case {
            name: "body swapped after signing (Digest mismatch)",
            send: signed_by_peer(with(&follow_like("7"), &|f| {
                f.sent_body = Some(activity_bytes(&follow_like("7-swapped")))
            })),
            expect: Expect::Refused(401, "does not match its Digest"),
        },
        Case {
            name: "missing Digest",
            send: signed_by_peer(with(&follow_like("8"), &|f| f.send_digest = false)),
            expect: Expect::Refused(401, "Digest header is missing"),
        },
        Case {
            name: "Digest that is not base64",
            send: signed_by_peer(with(&follow_like("9"), &|f| {
                f.digest = Some("SHA-256=not*base64!".into())
            })),
            expect: Expect::Refused(401, "Digest header is missing or malformed"),
        },
        Case {
            name: "Digest of the wrong length",
            send: signed_by_peer(with(&follow_like("10"), &|f| {
                f.digest = Some(format!("SHA-256={}", base64_zeros(16)))
            })),
            expect: Expect::Refused(401, "Digest header is missing or malformed"),
        },
        Case {
            name: "Digest left out of the signed headers",
            send: signed_by_peer(with(&follow_like("11"), &|f| {
                f.signed_headers = "(request-target) host date"
            })),
            expect: Expect::Refused(401, "does not cover digest"),
        },
        Case {
            name: "Host left out of the signed headers",
            send: signed_by_peer(with(&follow_like("12"), &|f| {
                f.signed_headers = "(request-target) date digest"
            })),
            expect: Expect::Refused(401, "does not cover host"),
        },
        Case {
            name: "stale Date (two hours old)",
            send: signed_by_peer(with(&follow_like("13"), &|f| {
                f.date = SystemTime::now() - an_hour
            })),
            expect: Expect::Refused(401, "outside the accepted window"),
        },
        Case {
            name: "Date two hours in the future",
            send: signed_by_peer(with(&follow_like("14"), &|f| {
                f.date = SystemTime::now() + an_hour
            })),
            expect: Expect::Refused(401, "outside the accepted window"),
        },
        Case {
            name: "unparseable Date",
            send: signed_by_peer(with(&follow_like("15"), &|f| {
                f.date_text = Some("yesterday at noon".into())
            })),
            expect: Expect::Refused(401, "Date header is missing or unparseable"),
        },
        Case {
            name: "signed for another host",
            send: signed_by_peer(with(&follow_like("16"), &|f| {
                f.host = Some("gamma.test:9".into())
            })),
            expect: Expect::Refused(401, "signed Host is not this node"),
        },
        Case {
            name: "signed for another inbox path",
            send: signed_by_peer(with(&follow_like("16a"), &|f| {
                f.request_target = Some("post /inbox".into())
            })),
            expect: Expect::Refused(401, "does not verify"),
        },
        Case {
            name: "signed as a GET, sent as a POST",
            send: signed_by_peer(with(&follow_like("16b"), &|f| {
                f.request_target = Some(format!("get {}", url_path(&inbox)))
            })),
            expect: Expect::Refused(401, "does not verify"),
        },
        Case {
            name: "(request-target) left out of the signed headers",
            send: signed_by_peer(with(&follow_like("16c"), &|f| {
                f.signed_headers = "host date digest"
            })),
            expect: Expect::Refused(401, "request-target"),
        },
        // Who signs and who claims to act.
        Case {
            name: "key of another actor (keyId owner is not the actor)",
            send: signed_by_peer(with(&follow_like("17"), &|f| f.key_owner = "vic".into())),
            expect: Expect::Refused(401, "key's owner is not the activity's actor"),
        },
        Case {
            name: "keyId on another host than the actor",
            send: signed_by_peer(with(&follow_like("18"), &|f| {
                f.key_owner = "http://gamma.test:9/users/mallory".into()
            })),
            expect: Expect::Refused(401, "key's owner is not the activity's actor"),
        },
        Case {
            name: "activity id on another host than its actor",
            send: signed_by_peer(signed(&json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": "http://gamma.test:9/likes/1", "type": "Like", "actor": mallory, "object": vic_post,
            }))),
            expect: Expect::Refused(403, "different hosts"),
        },
        Case {
            name: "an actor of this very node claimed from outside",
            send: signed_by_peer({
                let local = format!("http://{}/u/organiser", beta.domain);
                let mut forged = signed(&json!({
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": format!("http://{}/likes/1", beta.domain), "type": "Like",
                    "actor": local, "object": vic_post,
                }));
                forged.key_owner = local;
                forged
            }),
            expect: Expect::Refused(403, "own actors"),
        },
        // The body itself.
        Case {
            name: "wrong content type (text/plain)",
            send: Sent::Unsigned {
                content_type: Some("text/plain"),
                body: activity_bytes(&follow_like("19")),
            },
            expect: Expect::Refused(415, "application/activity+json"),
        },
        Case {
            name: "plain application/json",
            send: signed_by_peer(with(&follow_like("20"), &|f| f.content_type = "application/json")),
            expect: Expect::Refused(415, "application/activity+json"),
        },
        Case {
            name: "no content type",
            send: Sent::Unsigned {
                content_type: None,
                body: activity_bytes(&follow_like("21")),
            },
            expect: Expect::Refused(415, "application/activity+json"),
        },
        Case {
            name: "oversized body, unsigned (300 KiB)",
            send: Sent::Unsigned {
                content_type: Some("application/activity+json"),
                body: vec![b' '; 300 * 1024],
            },
            expect: Expect::Refused(413, "larger than this inbox accepts"),
        },
        Case {
            name: "oversized body, signed (300 KiB of content)",
            send: signed_by_peer(
                signed(&note_create(
                    20,
                    note(format!("{}/users/mallory/statuses/20", peer.base), &mallory),
                ))
                .padded(300 * 1024),
            ),
            expect: Expect::Refused(413, "larger than this inbox accepts"),
        },
        Case {
            name: "invalid UTF-8",
            send: signed_by_peer(Forged::new("mallory", b"{\"type\":\"Like\",\"id\":\"\xff\xfe\"}")),
            expect: Expect::Refused(400, "not UTF-8"),
        },
        Case {
            name: "malformed JSON",
            send: signed_by_peer(Forged::new("mallory", b"{\"type\": \"Like\", ")),
            expect: Expect::Refused(400, "invalid JSON"),
        },
        Case {
            name: "deep JSON nesting (1000 levels)",
            send: signed_by_peer(Forged::new(
                "mallory",
                &deeply_nested(1000, &mallory, &format!("{}/likes/22", peer.base)),
            )),
            expect: Expect::Refused(400, "invalid JSON"),
        },
        Case {
            name: "a JSON array, not an activity",
            send: signed_by_peer(Forged::new("mallory", b"[1, 2, 3]")),
            expect: Expect::Refused(400, "not an activity"),
        },
        Case {
            name: "an activity without an id",
            send: signed_by_peer(signed(
                &json!({"type": "Like", "actor": mallory, "object": vic_post}),
            )),
            expect: Expect::Refused(400, "not an activity"),
        },
        Case {
            name: "an activity whose actor is not a URL",
            send: signed_by_peer(signed(&json!({
                "id": format!("{}/likes/23", peer.base), "type": "Like", "actor": 42, "object": vic_post,
            }))),
            expect: Expect::Refused(400, "names no actor"),
        },
        Case {
            name: "huge array (2,000 recipients in cc)",
            send: signed_by_peer(signed(&{
                let mut create = note_create(
                    24,
                    note(format!("{}/users/mallory/statuses/24", peer.base), &mallory),
                );
                create["cc"] = json!(vec![PUBLIC; 2000]);
                create
            })),
            expect: Expect::Refused(400, "more than"),
        },
        Case {
            name: "huge array (5,000 tags on the object)",
            send: signed_by_peer(signed(&{
                let mut object = note(format!("{}/users/mallory/statuses/25", peer.base), &mallory);
                object["tag"] = json!(vec![json!({"type": "Hashtag", "name": "#walk"}); 5000]);
                note_create(25, object)
            })),
            expect: Expect::Refused(400, "more than"),
        },
        // Replays.
        Case {
            name: "replayed Follow (same id twice)",
            send: signed_by_peer(signed(&follows[0])),
            expect: Expect::Duplicate,
        },
        Case {
            name: "replayed Create (same id twice)",
            send: signed_by_peer(Forged::new(
                "vic",
                &activity_bytes(&peer.create("vic", &vic_note)),
            )),
            expect: Expect::Duplicate,
        },
        // Verified, then refused by what it claims.
        Case {
            name: "impersonation: attributedTo is another actor",
            send: signed_by_peer(signed(&note_create(
                30,
                note(
                    format!("{}/users/mallory/statuses/30", peer.base),
                    &peer.actor_id("vic"),
                ),
            ))),
            expect: Expect::RefusedLater("author"),
        },
        Case {
            name: "object id on another host than its actor",
            send: signed_by_peer(signed(&note_create(
                31,
                note("http://gamma.test:9/notes/31".into(), &mallory),
            ))),
            expect: Expect::RefusedLater(""),
        },
        Case {
            name: "object sent by reference to another host",
            send: signed_by_peer(signed(&note_create(32, json!("http://gamma.test:9/notes/32")))),
            expect: Expect::RefusedLater("another host"),
        },
        Case {
            name: "object fetched from a URL whose id names another host",
            send: signed_by_peer(signed(&note_create(
                33,
                json!(format!("{}{liar_path}", peer.base)),
            ))),
            expect: Expect::RefusedLater("another id"),
        },
        Case {
            name: "object fetch redirected to another host",
            send: signed_by_peer(signed(&note_create(
                34,
                json!(format!("{}{moved_path}", peer.base)),
            ))),
            expect: Expect::RefusedLater(""),
        },
        Case {
            name: "object with an id on this node",
            send: signed_by_peer(signed(&note_create(
                35,
                note(format!("http://{}/p/forged", beta.domain), &mallory),
            ))),
            expect: Expect::RefusedLater(""),
        },
        Case {
            name: "Update of another actor's post",
            send: signed_by_peer(signed(&json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/users/mallory/updates/1", peer.base), "type": "Update", "actor": mallory,
                "to": [PUBLIC], "cc": [group_id],
                "object": {"id": vic_post, "type": "Note", "attributedTo": mallory, "to": [PUBLIC],
                           "cc": [group_id], "audience": group_id, "content": "<p>Hijacked</p>",
                           "updated": "2030-01-01T00:00:00Z"},
            }))),
            expect: Expect::RefusedLater(""),
        },
        Case {
            name: "Update of another actor's post, claiming to be its author",
            send: signed_by_peer(signed(&json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/users/mallory/updates/2", peer.base), "type": "Update", "actor": mallory,
                "object": {"id": vic_post, "type": "Note", "attributedTo": peer.actor_id("vic"),
                           "to": [PUBLIC], "audience": group_id, "content": "<p>Hijacked</p>",
                           "updated": "2030-01-01T00:00:00Z"},
            }))),
            expect: Expect::RefusedLater(""),
        },
        Case {
            name: "Delete of another actor's post",
            send: signed_by_peer(signed(&json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/users/mallory/deletes/1", peer.base), "type": "Delete", "actor": mallory,
                "to": [PUBLIC], "object": {"id": vic_post, "type": "Tombstone"},
            }))),
            expect: Expect::RefusedLater(""),
        },
    ];

    let mut failures = Vec::new();
    for case in cases {
        let before = snapshot(&beta, &vic_post).await;
        let activity_id = match &case.send {
            Sent::Forged(f) => serde_json::from_slice::<Value>(&f.body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned)),
            Sent::Unsigned { .. } => None,
        };
        let response = match case.send {
            Sent::Forged(forged) => peer.deliver_forged(&inbox, &forged).await,
            Sent::Unsigned { content_type, body } => {
                let mut request = client().post(&inbox).body(body);
                if let Some(ct) = content_type {
                    request = request.header("content-type", ct);
                }
                request.send().await.expect("post")
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match case.expect {
            Expect::Refused(want, says) => {
                if status != want || !text.contains(says) {
                    failures.push(format!(
                        "{}: {status} {text:?}, wanted {want} {says:?}",
                        case.name
                    ));
                }
                let after = snapshot(&beta, &vic_post).await;
                if after != before {
                    failures.push(format!("{}: changed {before:?} into {after:?}", case.name));
                }
            }
            Expect::Duplicate => {
                if status != 202 {
                    failures.push(format!("{}: {status} {text:?}, wanted 202", case.name));
                }
                let after = snapshot(&beta, &vic_post).await;
                if after != before {
                    failures.push(format!("{}: changed {before:?} into {after:?}", case.name));
                }
            }
            Expect::RefusedLater(says) => {
                if status != 202 {
                    failures.push(format!("{}: {status} {text:?}, wanted 202", case.name));
                    continue;
                }
                let id = activity_id.expect("the activity has an id");
                let row = processed(&beta, &id).await;
                let reason = row.last_error.clone().unwrap_or_default();
                if row.state == healthcommons_db::entities::InboxState::Done || !reason.contains(says) {
                    failures.push(format!(
                        "{}: processed as {} ({reason:?}), wanted a refusal saying {says:?}",
                        case.name, row.state
                    ));
                }
                let mut after = snapshot(&beta, &vic_post).await;
                if after.inbox == before.inbox + 1 {
                    after.inbox = before.inbox;
                }
                if after != before {
                    failures.push(format!("{}: changed {before:?} into {after:?}", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "cases failed:\n{}", failures.join("\n"));

    // Last, because it shuts the peer out: once its node is blocked, even a
    // well-signed Create and Like are refused with 403 and change nothing.
    let root = beta.admin_token().await;
    let blocked = client()
        .post(format!("{}/api/v1/admin/blocks", beta.base))
        .bearer_auth(&root)
        .json(&json!({"host": peer.domain}))
        .send()
        .await
        .expect("block");
    assert!(blocked.status().is_success(), "block: {}", blocked.status());
    let before = snapshot(&beta, &vic_post).await;
    let from_blocked = [
        note_create(
            90,
            note(format!("{}/users/mallory/statuses/90", peer.base), &mallory),
        ),
        follow_like("90"),
    ];
    for activity in &from_blocked {
        let response = peer.deliver("mallory", &inbox, activity).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 403, "from a blocked node: {text}");
        assert!(
            text.contains("does not accept activities from yours"),
            "the refusal says why: {text}"
        );
    }
    assert_eq!(
        snapshot(&beta, &vic_post).await,
        before,
        "a blocked node changes nothing"
    );
}

fn url_path(url: &str) -> String {
    url::Url::parse(url).expect("url").path().to_owned()
}

fn base64_zeros(len: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(vec![0u8; len])
}

trait Padded {
    fn padded(self, size: usize) -> Self;
}

impl Padded for Forged {
    /// The same activity with a long `content`, signed over the longer body.
    fn padded(mut self, size: usize) -> Self {
        let mut value: Value = serde_json::from_slice(&self.body).expect("json");
        value["object"]["content"] = json!("a".repeat(size));
        self.body = activity_bytes(&value);
        self
    }
}

async fn users(node: &Node) -> u64 {
    user::Entity::find()
        .count(&node.database().await)
        .await
        .expect("count")
}

async fn posts(node: &Node) -> u64 {
    post::Entity::find()
        .count(&node.database().await)
        .await
        .expect("count")
}

/// POST `body` as JSON to `path` on `node`, with a bearer token if given.
async fn post_json(node: &Node, token: Option<&str>, path: &str, body: &Value) -> (u16, Value) {
    let mut request = client().post(format!("{}{path}", node.base)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn script_lookalike_names_and_members_only_posts() {
    let beta = Node::start(NODE, "beta.test", &[]).await;
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let inbox = format!("{group_id}/inbox");
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/mia", peer.base), "type": "Follow",
        "actor": peer.actor_id("mia"), "object": group_id,
    });
    assert_eq!(peer.deliver("mia", &inbox, &follow).await.status(), 202);

    // Script, style, event handlers and javascript: URLs in what others send
    // are stored sanitised: (name, content, summary) sent → (title, content_html, summary) kept.
    let hostile = [
        (
            "script in content",
            json!({"content": "<p>Walk<script>alert(1)</script> today</p>"}),
            "<p>Walk today</p>",
        ),
        (
            "style element and attribute",
            json!({"content": "<style>body{display:none}</style><p style=\"color:red\">Walk</p>"}),
            "<p>Walk</p>",
        ),
        (
            "event handler attributes",
            json!({"content": "<p onclick=\"steal()\">Walk</p><img src=\"https://x.example/a.png\" onerror=\"steal()\">"}),
            "<p>Walk</p>",
        ),
        (
            "javascript: link",
            json!({"content": "<p><a href=\"javascript:alert(1)\">route</a></p>"}),
            "<p><a rel=\"nofollow noopener noreferrer ugc\">route</a></p>",
        ),
        (
            "iframe and form",
            json!({"content": "<iframe src=\"https://x.example\"></iframe><form action=\"https://x.example\"><input name=\"pw\"></form><p>Walk</p>"}),
            "<p>Walk</p>",
        ),
    ];
    let mut failures = Vec::new();
    for (n, (name, fields, want_html)) in hostile.iter().enumerate() {
        let mut object = json!({"cc": [group_id], "audience": group_id, "name": format!("Walk {n}")});
        if let (Value::Object(map), Value::Object(extra)) = (&mut object, fields) {
            map.extend(extra.clone());
        }
        let note = peer.status("mia", 100 + n as u32, object);
        let before = posts(&beta).await;
        let status = peer
            .deliver("mia", &inbox, &peer.create("mia", &note))
            .await
            .status();
        let id = note["id"].as_str().expect("id");
        let db = beta.database().await;
        let stored = wait_for(&format!("{name} to be stored"), PATIENCE, || async {
            post::Entity::find()
                .filter(post::Column::ApId.eq(id))
                .one(&db)
                .await
                .ok()
                .flatten()
        })
        .await;
        if status != 202 || stored.content_html != *want_html || posts(&beta).await != before + 1 {
            failures.push(format!("{name}: {status}, stored {:?}", stored.content_html));
        }
    }

    // In name and summary, markup is not interpreted: they are plain text.
    let note = peer.status(
        "mia",
        200,
        json!({"cc": [group_id], "audience": group_id, "name": "<script>alert(1)</script>Walk <b>now</b>",
               "summary": "<img src=x onerror=alert(1)>Mud <i>ahead</i>", "content": "<p>Boots</p>"}),
    );
    assert_eq!(
        peer.deliver("mia", &inbox, &peer.create("mia", &note))
            .await
            .status(),
        202
    );
    let db = beta.database().await;
    let id = note["id"].as_str().expect("id");
    let stored = wait_for("the titled post", PATIENCE, || async {
        post::Entity::find()
            .filter(post::Column::ApId.eq(id))
            .one(&db)
            .await
            .ok()
            .flatten()
    })
    .await;
    if stored.title.as_deref() != Some("Walk now") || stored.summary.as_deref() != Some("Mud ahead") {
        failures.push(format!(
            "name and summary: stored {:?} and {:?}",
            stored.title, stored.summary
        ));
    }
    let page = client()
        .get(format!("{}/api/v1/posts/{}", beta.base, encoded(id)))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    if page.contains("<script") || page.contains("onerror") {
        failures.push(format!("name and summary: served {page}"));
    }

    // Lookalike and invisible characters in a new name are refused, not normalised.
    let users_before = users(&beta).await;
    for (name, username, status, says) in [
        ("Cyrillic a", "\u{430}na", 422, "lowercase letters a-z"),
        (
            "fullwidth letters",
            "\u{ff41}\u{ff4e}\u{ff41}",
            422,
            "lowercase letters a-z",
        ),
        ("zero-width joiner", "ana\u{200d}", 422, "lowercase letters a-z"),
        (
            "right-to-left override",
            "\u{202e}ana",
            422,
            "lowercase letters a-z",
        ),
        (
            "Greek omicron in a Latin name",
            "r\u{3bf}ot",
            422,
            "lowercase letters a-z",
        ),
        (
            "upper case of a taken name",
            "Organiser",
            422,
            "lowercase letters a-z",
        ),
        ("the same name again", "organiser", 409, ""),
    ] {
        let (got, body) = post_json(
            &beta,
            None,
            "/api/v1/accounts",
            &json!({"username": username, "password": "correct horse battery"}),
        )
        .await;
        let message = body["message"].as_str().unwrap_or_default();
        if got != status || !message.contains(says) {
            failures.push(format!("username {name}: {got} {body}"));
        }
    }
    let (got, body) = post_json(
        &beta,
        Some(&organiser),
        "/api/v1/groups",
        &json!({"name": "w\u{430}lkers", "display_name": "Walkers"}),
    )
    .await;
    if got != 422 {
        failures.push(format!("working group with a Cyrillic a: {got} {body}"));
    }
    if users(&beta).await != users_before {
        failures.push("a lookalike account was created".into());
    }

    // A members-only post is not served to anyone who is not a member.
    let (status, created) = post_json(
        &beta,
        Some(&organiser),
        "/api/v1/posts",
        &json!({"group": "walkers", "title": "Our addresses", "content": "Flat 3", "visibility": "members"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let private = created["id"].as_str().expect("id").to_owned();
    let outsider = beta.user("outsider").await;
    let api_url = format!("{}/api/v1/posts/{}", beta.base, encoded(&private));
    let requests = [
        (
            "ActivityPub GET, unsigned",
            client()
                .get(&private)
                .header("accept", "application/activity+json"),
        ),
        ("HTML page, anonymous", client().get(&private)),
        ("API, anonymous", client().get(&api_url)),
        (
            "API, a local non-member",
            client().get(&api_url).bearer_auth(&outsider),
        ),
        (
            "context collection",
            client()
                .get(format!("{private}/context"))
                .header("accept", "application/activity+json"),
        ),
    ];
    for (name, request) in requests {
        let response = request.send().await.expect("get");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if status != 404 || text.contains("Flat 3") {
            failures.push(format!("members-only post, {name}: {status}"));
        }
    }
    let signed = peer.signed_get("stranger", &private).await;
    if signed.status() != 404 {
        failures.push(format!(
            "members-only post, signed GET by a stranger: {}",
            signed.status()
        ));
    }
    assert!(failures.is_empty(), "cases failed:\n{}", failures.join("\n"));
}

/// A loopback listener that counts the connections it gets: none may come.
async fn canary() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, hits)
}

#[tokio::test]
async fn nothing_is_fetched_from_private_addresses_without_dev_federation() {
    let alpha = Node::start(
        NODE,
        "alpha.test",
        &[
            ("HEALTHCOMMONS_DEV_FEDERATION", "false"),
            ("HEALTHCOMMONS_DEV_RESOLVE", ""),
        ],
    )
    .await;
    let ana = alpha.user("ana").await;
    let group_id = alpha.create_group(&ana, "walkers").await;
    let (port, hits) = canary().await;
    let targets = [
        format!("https://127.0.0.1:{port}/users/x"),
        "https://127.0.0.1/users/x".to_owned(),
        "https://10.0.0.1/users/x".to_owned(),
        "https://172.16.0.1/users/x".to_owned(),
        "https://192.168.1.1/users/x".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://100.64.0.1/users/x".to_owned(),
        "https://[::1]/users/x".to_owned(),
        "https://[fd00::1]/users/x".to_owned(),
        "https://[fe80::1]/users/x".to_owned(),
        "https://[::ffff:127.0.0.1]/users/x".to_owned(),
        "https://localhost/users/x".to_owned(),
        format!("https://localhost:{port}/users/x"),
        format!("http://localhost:{port}/users/x"),
        "https://localhost./users/x".to_owned(),
        "@x@localhost".to_owned(),
        format!("@x@localhost:{port}"),
        "@x@127.0.0.1".to_owned(),
        "@x@[::1]".to_owned(),
    ];
    let db = alpha.database().await;
    let actors_before = actor::Entity::find().count(&db).await.expect("count");
    let follows_before = follow::Entity::find().count(&db).await.expect("count");
    let posts_before = posts(&alpha).await;
    let mut failures = Vec::new();
    for target in &targets {
        // Following reaches out to the target (WebFinger, then the actor) …
        let (status, body) =
            post_json(&alpha, Some(&ana), "/api/v1/follows", &json!({"target": target})).await;
        if !(400..500).contains(&status) && status != 502 {
            failures.push(format!("follow {target}: {status} {body}"));
        }
        // … and so does a reply to something not known here.
        if target.starts_with("http") {
            let (status, body) = post_json(
                &alpha,
                Some(&ana),
                "/api/v1/posts",
                &json!({"group": "walkers", "content": "hi", "in_reply_to": target}),
            )
            .await;
            if !(400..500).contains(&status) && status != 502 {
                failures.push(format!("reply to {target}: {status} {body}"));
            }
            let (status, body) = post_json(
                &alpha,
                Some(&ana),
                &format!("/api/v1/garden/{}/fork", encoded(target)),
                &json!({}),
            )
            .await;
            if !(400..500).contains(&status) && status != 502 {
                failures.push(format!("fork {target}: {status} {body}"));
            }
        }
    }
    // A delivery from an actor on a private address: its key is never fetched.
    let peer = MastodonPeer::start(Duration::ZERO).await;
    for actor in [
        format!("https://localhost:{port}/users/x"),
        "https://localhost/users/x".to_owned(),
        format!("https://127.0.0.1:{port}/users/x"),
    ] {
        let like = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{actor}/likes/1"), "type": "Like", "actor": actor, "object": group_id,
        });
        let mut forged = Forged::new(&actor, &activity_bytes(&like));
        forged.key_owner = actor.clone();
        let response = peer
            .deliver_forged(&format!("{}/inbox", alpha.base), &forged)
            .await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if status != 401 || !text.contains("could not be fetched") {
            failures.push(format!("inbox delivery from {actor}: {status} {text}"));
        }
    }
    if hits.load(std::sync::atomic::Ordering::SeqCst) != 0 {
        failures.push("the node connected to the loopback canary".into());
    }
    if actor::Entity::find().count(&db).await.expect("count") != actors_before
        || follow::Entity::find().count(&db).await.expect("count") != follows_before
        || posts(&alpha).await != posts_before
        || inbox_activity::Entity::find().count(&db).await.expect("count") != 0
    {
        failures.push("something was stored".into());
    }
    assert!(failures.is_empty(), "cases failed:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn rate_limits_answer_429_per_address_and_per_remote_node() {
    let beta = Node::start(
        NODE,
        "beta.test",
        &[
            ("HEALTHCOMMONS_AUTH_RATE_LIMIT_PER_MINUTE", "3"),
            ("HEALTHCOMMONS_INBOX_RATE_LIMIT_PER_MINUTE", "3"),
        ],
    )
    .await;
    // Registering and signing in spend two of the address's three attempts.
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let (status, _) = post_json(
        &beta,
        None,
        "/api/v1/auth/token",
        &json!({"username": "organiser", "password": "wrong"}),
    )
    .await;
    assert_eq!(status, 401, "the third attempt is still answered");
    let users_before = users(&beta).await;
    for (path, body) in [
        (
            "/api/v1/auth/token",
            json!({"username": "organiser", "password": "correct horse battery"}),
        ),
        (
            "/api/v1/accounts",
            json!({"username": "ben", "password": "correct horse battery"}),
        ),
    ] {
        let response = client()
            .post(format!("{}{path}", beta.base))
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 429, "{path}");
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .expect("text")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "rate_limited");
    }
    let form = client()
        .post(format!("{}/login", beta.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=organiser&password=x")
        .send()
        .await
        .expect("post");
    assert_eq!(form.status(), 429, "the sign-in form shares the limit");
    assert_eq!(users(&beta).await, users_before, "no account was created");

    // Three activities from one remote node go through, the fourth waits.
    let peer = MastodonPeer::start(Duration::ZERO).await;
    let inbox = format!("{group_id}/inbox");
    let like = |who: &str, n: u32| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/likes/{n}", peer.actor_id(who)), "type": "Like",
            "actor": peer.actor_id(who), "object": group_id,
        })
    };
    for n in 0..3 {
        assert_eq!(peer.deliver("mia", &inbox, &like("mia", n)).await.status(), 202);
    }
    let db = beta.database().await;
    let stored = inbox_activity::Entity::find().count(&db).await.expect("count");
    let refused = peer.deliver("mia", &inbox, &like("mia", 3)).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        inbox_activity::Entity::find().count(&db).await.expect("count"),
        stored,
        "the refused activity is not stored"
    );
    // Another actor on the same node shares the node's budget.
    let other = peer.deliver("vic", &inbox, &like("vic", 4)).await;
    let status = other.status();
    assert_eq!(status, 429, "{}", other.text().await.unwrap_or_default());
}

#[tokio::test]
async fn authorized_fetch_requires_signed_gets() {
    let (alpha, beta) = tokio::join!(
        Node::start(NODE, "alpha.test", &[]),
        Node::start(NODE, "beta.test", &[("HEALTHCOMMONS_AUTHORIZED_FETCH", "true")])
    );
    let organiser = beta.user("organiser").await;
    let group_id = beta.create_group(&organiser, "walkers").await;
    let peer = MastodonPeer::start(Duration::ZERO).await;

    let unsigned = client()
        .get(&group_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("get");
    assert_eq!(unsigned.status(), 401, "unsigned ActivityPub GET");
    for path in ["/followers", "/outbox"] {
        let response = client()
            .get(format!("{group_id}{path}"))
            .header("accept", "application/activity+json")
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 401, "unsigned GET of {path}");
    }
    let page = client().get(&group_id).send().await.expect("get");
    assert_eq!(page.status(), 200, "people still see the page");
    let instance = client()
        .get(format!("{}/actor", beta.base))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("get");
    assert_eq!(instance.status(), 200, "the instance actor is served unsigned");

    let signed = peer.signed_get("mia", &group_id).await;
    assert_eq!(signed.status(), 200, "a signed GET");
    let body: Value = signed.json().await.expect("json");
    assert_eq!(body["id"], group_id);

    // Another node signs its fetches with its instance actor, so following works.
    let ana = alpha.user("ana").await;
    let (status, body) = post_json(
        &alpha,
        Some(&ana),
        "/api/v1/follows",
        &json!({"target": group_id}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let db = beta.database().await;
    wait_for("the follow to be accepted", PATIENCE, || async {
        let n = follow::Entity::find()
            .filter(follow::Column::State.eq("accepted"))
            .count(&db)
            .await
            .ok()?;
        (n == 1).then_some(())
    })
    .await;
}
