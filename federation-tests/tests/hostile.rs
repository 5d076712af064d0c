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
    Node, client,
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
            .filter(|row| row.attempts > 0 || row.state == "done")
    })
    .await
}

async fn create_group(node: &Node, token: &str, name: &str) -> String {
    let response = client()
        .post(format!("{}/api/v1/groups", node.base))
        .bearer_auth(token)
        .json(&json!({"name": name, "display_name": "Walkers", "summary": "We walk."}))
        .send()
        .await
        .expect("create group");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    body["actor_id"].as_str().expect("actor id").to_owned()
}

/// How one hostile request is sent.
enum Sent {
    /// Signed by the peer as `Forged` says, to the working group's inbox.
    Forged(Forged),
    /// Not signed at all, to the working group's inbox.
    Unsigned {
        content_type: Option<&'static str>,
        body: Vec<u8>,
    },
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
    let group_id = create_group(&beta, &organiser, "walkers").await;
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
            send: Sent::Forged(with(&follow_like("1"), &|f| f.send_signature = false)),
            expect: Expect::Refused(401, "no Signature header"),
        },
        Case {
            name: "malformed Signature header",
            send: Sent::Forged(with(&follow_like("2"), &|f| {
                f.signature = Some("this is not a signature".into())
            })),
            expect: Expect::Refused(401, "cannot be parsed"),
        },
        Case {
            name: "Signature header without keyId",
            send: Sent::Forged(with(&follow_like("3"), &|f| {
                f.signature = Some(
                    r#"algorithm="rsa-sha256",headers="(request-target) host date digest",signature="AAAA""#
                        .into(),
                )
            })),
            expect: Expect::Refused(401, "cannot be parsed"),
        },
        Case {
            name: "bad signature bytes",
            send: Sent::Forged(with(&follow_like("4"), &|f| {
                f.signature = Some(format!(
                    r#"keyId="{mallory}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="{}""#,
                    base64_zeros(256)
                ))
            })),
            expect: Expect::Refused(401, "does not verify"),
        },
        Case {
            name: "two Signature headers",
            send: Sent::Forged(with(&follow_like("5"), &|f| {
                f.extra_headers.push(("signature", "keyId=\"x\"".into()))
            })),
            expect: Expect::Refused(401, "more than one Signature"),
        },
        Case {
            name: "Authorization: Signature instead of Signature",
            send: Sent::Forged(with(&follow_like("6"), &|f| {
                f.extra_headers
                    .push(("authorization", format!("Signature keyId=\"{mallory}#main-key\"")))
            })),
            expect: Expect::Refused(401, "Authorization: Signature"),
        },
        Case {
            name: "body swapped after signing (Digest mismatch)",
            send: Sent::Forged(with(&follow_like("7"), &|f| {
                f.sent_body = Some(activity_bytes(&follow_like("7-swapped")))
            })),
            expect: Expect::Refused(401, "does not match its Digest"),
        },
        Case {
            name: "missing Digest",
            send: Sent::Forged(with(&follow_like("8"), &|f| f.send_digest = false)),
            expect: Expect::Refused(401, "Digest header is missing"),
        },
        Case {
            name: "Digest that is not base64",
            send: Sent::Forged(with(&follow_like("9"), &|f| {
                f.digest = Some("SHA-256=not*base64!".into())
            })),
            expect: Expect::Refused(401, "Digest header is missing or malformed"),
        },
        Case {
            name: "Digest of the wrong length",
            send: Sent::Forged(with(&follow_like("10"), &|f| {
                f.digest = Some(format!("SHA-256={}", base64_zeros(16)))
            })),
            expect: Expect::Refused(401, "Digest header is missing or malformed"),
        },
        Case {
            name: "Digest left out of the signed headers",
            send: Sent::Forged(with(&follow_like("11"), &|f| {
                f.signed_headers = "(request-target) host date"
            })),
            expect: Expect::Refused(401, "does not cover digest"),
        },
        Case {
            name: "Host left out of the signed headers",
            send: Sent::Forged(with(&follow_like("12"), &|f| {
                f.signed_headers = "(request-target) date digest"
            })),
            expect: Expect::Refused(401, "does not cover host"),
        },
        Case {
            name: "stale Date (two hours old)",
            send: Sent::Forged(with(&follow_like("13"), &|f| {
                f.date = SystemTime::now() - an_hour
            })),
            expect: Expect::Refused(401, "outside the accepted window"),
        },
        Case {
            name: "Date two hours in the future",
            send: Sent::Forged(with(&follow_like("14"), &|f| {
                f.date = SystemTime::now() + an_hour
            })),
            expect: Expect::Refused(401, "outside the accepted window"),
        },
        Case {
            name: "unparseable Date",
            send: Sent::Forged(with(&follow_like("15"), &|f| {
                f.date_text = Some("yesterday at noon".into())
            })),
            expect: Expect::Refused(401, "Date header is missing or unparseable"),
        },
        Case {
            name: "signed for another host",
            send: Sent::Forged(with(&follow_like("16"), &|f| {
                f.host = Some("gamma.test:9".into())
            })),
            expect: Expect::Refused(401, "signed Host is not this node"),
        },
        // Who signs and who claims to act.
        Case {
            name: "key of another actor (keyId owner is not the actor)",
            send: Sent::Forged(with(&follow_like("17"), &|f| f.key_owner = "vic".into())),
            expect: Expect::Refused(401, "key's owner is not the activity's actor"),
        },
        Case {
            name: "keyId on another host than the actor",
            send: Sent::Forged(with(&follow_like("18"), &|f| {
                f.key_owner = "http://gamma.test:9/users/mallory".into()
            })),
            expect: Expect::Refused(401, "key's owner is not the activity's actor"),
        },
        Case {
            name: "activity id on another host than its actor",
            send: Sent::Forged(signed(&json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": "http://gamma.test:9/likes/1", "type": "Like", "actor": mallory, "object": vic_post,
            }))),
            expect: Expect::Refused(403, "different hosts"),
        },
        Case {
            name: "an actor of this very node claimed from outside",
            send: Sent::Forged({
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
            send: Sent::Forged(with(&follow_like("20"), &|f| f.content_type = "application/json")),
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
            send: Sent::Forged(signed(&note_create(
                20,
                note(
                    format!("{}/users/mallory/statuses/20", peer.base),
                    &mallory,
                ),
            ))
            .padded(300 * 1024)),
            expect: Expect::Refused(413, "larger than this inbox accepts"),
        },
        Case {
            name: "invalid UTF-8",
            send: Sent::Forged(Forged::new(
                "mallory",
                b"{\"type\":\"Like\",\"id\":\"\xff\xfe\"}",
            )),
            expect: Expect::Refused(400, "not UTF-8"),
        },
        Case {
            name: "malformed JSON",
            send: Sent::Forged(Forged::new("mallory", b"{\"type\": \"Like\", ")),
            expect: Expect::Refused(400, "invalid JSON"),
        },
        Case {
            name: "deep JSON nesting (1000 levels)",
            send: Sent::Forged(Forged::new(
                "mallory",
                &deeply_nested(1000, &mallory, &format!("{}/likes/22", peer.base)),
            )),
            expect: Expect::Refused(400, "invalid JSON"),
        },
        Case {
            name: "a JSON array, not an activity",
            send: Sent::Forged(Forged::new("mallory", b"[1, 2, 3]")),
            expect: Expect::Refused(400, "not an activity"),
        },
        Case {
            name: "an activity without an id",
            send: Sent::Forged(signed(&json!({"type": "Like", "actor": mallory, "object": vic_post}))),
            expect: Expect::Refused(400, "not an activity"),
        },
        Case {
            name: "an activity whose actor is not a URL",
            send: Sent::Forged(signed(&json!({
                "id": format!("{}/likes/23", peer.base), "type": "Like", "actor": 42, "object": vic_post,
            }))),
            expect: Expect::Refused(400, "names no actor"),
        },
        Case {
            name: "huge array (2,000 recipients in cc)",
            send: Sent::Forged(signed(&{
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
            send: Sent::Forged(signed(&{
                let mut object = note(format!("{}/users/mallory/statuses/25", peer.base), &mallory);
                object["tag"] = json!(vec![json!({"type": "Hashtag", "name": "#walk"}); 5000]);
                note_create(25, object)
            })),
            expect: Expect::Refused(400, "more than"),
        },
        // Replays.
        Case {
            name: "replayed Follow (same id twice)",
            send: Sent::Forged(signed(&follows[0])),
            expect: Expect::Duplicate,
        },
        Case {
            name: "replayed Create (same id twice)",
            send: Sent::Forged(Forged::new("vic", &activity_bytes(&peer.create("vic", &vic_note)))),
            expect: Expect::Duplicate,
        },
        // Verified, then refused by what it claims.
        Case {
            name: "impersonation: attributedTo is another actor",
            send: Sent::Forged(signed(&note_create(
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
            send: Sent::Forged(signed(&note_create(
                31,
                note("http://gamma.test:9/notes/31".into(), &mallory),
            ))),
            expect: Expect::RefusedLater(""),
        },
        Case {
            name: "object sent by reference to another host",
            send: Sent::Forged(signed(&note_create(32, json!("http://gamma.test:9/notes/32")))),
            expect: Expect::RefusedLater("another host"),
        },
        Case {
            name: "object fetched from a URL whose id names another host",
            send: Sent::Forged(signed(&note_create(
                33,
                json!(format!("{}{liar_path}", peer.base)),
            ))),
            expect: Expect::RefusedLater("another id"),
        },
        Case {
            name: "object fetch redirected to another host",
            send: Sent::Forged(signed(&note_create(
                34,
                json!(format!("{}{moved_path}", peer.base)),
            ))),
            expect: Expect::RefusedLater(""),
        },
        Case {
            name: "object with an id on this node",
            send: Sent::Forged(signed(&note_create(
                35,
                note(format!("http://{}/p/forged", beta.domain), &mallory),
            ))),
            expect: Expect::RefusedLater(""),
        },
        Case {
            name: "Update of another actor's post",
            send: Sent::Forged(signed(&json!({
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
            send: Sent::Forged(signed(&json!({
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
            send: Sent::Forged(signed(&json!({
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
                    failures.push(format!("{}: {status} {text:?}, wanted {want} {says:?}", case.name));
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
                if row.state == "done" || !reason.contains(says) {
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
