//! A Mastodon-shaped peer. Real Mastodon (Ruby, PostgreSQL, Redis, Sidekiq)
//! cannot run in this sandbox, so this peer reproduces what Mastodon does on
//! the wire: its actor and WebFinger documents, and HTTP signatures over
//! `(request-target) host date digest` with `algorithm="rsa-sha256"`, signed
//! and checked here by hand, independently of the node's own code.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use rsa::{
    Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey,
    pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

/// One POST the peer received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub body: Value,
    /// The signature verified with the key its keyId names, fetched from the sender.
    pub signature_valid: bool,
    pub key_id: String,
}

struct PeerState {
    base: String,
    /// The signing key and its public half; swapped by `rotate_key`.
    keys: Mutex<(RsaPrivateKey, String)>,
    delay: Duration,
    authorized_fetch: bool,
    received: Mutex<Vec<Delivery>>,
    /// Statuses served at their ids, as Mastodon serves them.
    statuses: Mutex<HashMap<String, Value>>,
}

pub struct MastodonPeer {
    pub base: String,
    pub domain: String,
    state: Arc<PeerState>,
}

impl MastodonPeer {
    /// Start the peer on mastodon.test; `delay` slows every inbox answer.
    pub async fn start(delay: Duration) -> MastodonPeer {
        Self::start_with(delay, false).await
    }

    /// With `authorized_fetch`, the peer answers GETs of its actors only when
    /// they are signed (Mastodon's secure mode), as Mastodon checks them.
    pub async fn start_with(delay: Duration, authorized_fetch: bool) -> MastodonPeer {
        let ip = crate::ip_of("mastodon.test");
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let domain = format!("mastodon.test:{port}");
        let base = format!("http://{domain}");
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("key");
        let public_pem = RsaPublicKey::from(&key)
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        let state = Arc::new(PeerState {
            base: base.clone(),
            keys: Mutex::new((key, public_pem)),
            delay,
            authorized_fetch,
            received: Mutex::new(Vec::new()),
            statuses: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/users/{name}", get(actor))
            .route("/users/{name}/inbox", post(inbox))
            .route("/users/{name}/statuses/{id}", get(status))
            .route("/inbox", post(inbox))
            .route("/.well-known/webfinger", get(webfinger))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MastodonPeer { base, domain, state }
    }

    pub fn actor_id(&self, name: &str) -> String {
        format!("{}/users/{name}", self.base)
    }

    /// Replace every actor's key, as an admin rotating keys would.
    pub fn rotate_key(&self) {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("key");
        let public_pem = RsaPublicKey::from(&key)
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        *self.state.keys.lock().expect("lock") = (key, public_pem);
    }

    /// A status by `name`, Mastodon-shaped, served at its id from now on.
    pub fn status(&self, name: &str, number: u32, mut note: Value) -> Value {
        let id = format!("{}/statuses/{number}", self.actor_id(name));
        if let Value::Object(map) = &mut note {
            map.insert("id".into(), json!(id));
            map.insert("type".into(), json!("Note"));
            map.insert("attributedTo".into(), json!(self.actor_id(name)));
            map.insert("url".into(), json!(format!("{}/@{name}/{number}", self.base)));
            map.insert("published".into(), json!("2026-11-24T10:00:00Z"));
            map.entry("to")
                .or_insert(json!(["https://www.w3.org/ns/activitystreams#Public"]));
        }
        self.state.statuses.lock().expect("lock").insert(id, note.clone());
        note
    }

    /// `Create` of a status, as Mastodon wraps it.
    pub fn create(&self, name: &str, note: &Value) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/activity", note["id"].as_str().unwrap_or_default()),
            "type": "Create",
            "actor": self.actor_id(name),
            "published": note["published"],
            "to": note["to"],
            "cc": note.get("cc").cloned().unwrap_or(json!([])),
            "object": note,
        })
    }

    pub fn received(&self) -> Vec<Delivery> {
        self.state.received.lock().expect("lock").clone()
    }

    /// Resolve `@name@host` the way Mastodon does: WebFinger, then the actor.
    pub async fn resolve(&self, handle: &str) -> Value {
        let client = crate::client();
        let acct = handle.trim_start_matches('@');
        let host = acct.split_once('@').map(|(_, h)| h).expect("handle");
        let jrd: Value = client
            .get(format!("http://{host}/.well-known/webfinger"))
            .query(&[("resource", format!("acct:{acct}"))])
            .send()
            .await
            .expect("webfinger")
            .json()
            .await
            .expect("jrd");
        assert_eq!(jrd["subject"], format!("acct:{acct}"));
        let href = jrd["links"]
            .as_array()
            .and_then(|links| {
                links
                    .iter()
                    .find(|l| l["rel"] == "self" && l["type"] == "application/activity+json")
            })
            .and_then(|l| l["href"].as_str())
            .expect("self link")
            .to_owned();
        client
            .get(&href)
            .header(
                "accept",
                r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#,
            )
            .send()
            .await
            .expect("actor")
            .json()
            .await
            .expect("actor json")
    }

    /// POST `activity` to `inbox`, signed as `actor_name` the way Mastodon signs.
    pub async fn deliver(&self, actor_name: &str, inbox: &str, activity: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(activity).expect("json");
        self.deliver_bytes(actor_name, inbox, &body, &body).await
    }

    /// Sign `signed_body` but send `sent_body` (to test tampering).
    pub async fn deliver_bytes(
        &self,
        actor_name: &str,
        inbox: &str,
        signed_body: &[u8],
        sent_body: &[u8],
    ) -> reqwest::Response {
        let url = url::Url::parse(inbox).expect("inbox url");
        let host = format!("{}:{}", url.host_str().expect("host"), url.port().expect("port"));
        let date = httpdate::fmt_http_date(SystemTime::now());
        let digest = format!("SHA-256={}", STANDARD.encode(Sha256::digest(signed_body)));
        let signing_string = format!(
            "(request-target): post {}\nhost: {host}\ndate: {date}\ndigest: {digest}",
            url.path()
        );
        let signature = self
            .state
            .keys
            .lock()
            .expect("lock")
            .0
            .sign(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(signing_string.as_bytes()),
            )
            .expect("sign");
        let header = format!(
            r#"keyId="{}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="{}""#,
            self.actor_id(actor_name),
            STANDARD.encode(signature)
        );
        crate::client()
            .post(inbox)
            .header("content-type", "application/activity+json")
            .header("date", date)
            .header("digest", digest)
            .header("signature", header)
            .body(sent_body.to_vec())
            .send()
            .await
            .expect("deliver")
    }
}

async fn status(State(state): State<Arc<PeerState>>, uri: Uri) -> impl IntoResponse {
    let id = format!("{}{}", state.base, uri.path());
    match state.statuses.lock().expect("lock").get(&id) {
        Some(note) => {
            let mut body = note.clone();
            if let Value::Object(map) = &mut body {
                map.insert("@context".into(), json!("https://www.w3.org/ns/activitystreams"));
            }
            ([("content-type", "application/activity+json")], Json(body)).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn actor(
    State(state): State<Arc<PeerState>>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    if state.authorized_fetch && !verify(&headers, "get", uri.path(), None).await.0 {
        return (StatusCode::UNAUTHORIZED, "Request not signed").into_response();
    }
    let id = format!("{}/users/{name}", state.base);
    let public_pem = state.keys.lock().expect("lock").1.clone();
    let body = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id,
        "type": "Person",
        "preferredUsername": name,
        "name": name,
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "followers": format!("{id}/followers"),
        "following": format!("{id}/following"),
        "endpoints": {"sharedInbox": format!("{}/inbox", state.base)},
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_pem},
    });
    (
        [("content-type", "application/activity+json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

async fn webfinger(
    State(state): State<Arc<PeerState>>,
    Query(query): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let resource = query.get("resource").cloned().unwrap_or_default();
    let name = resource
        .trim_start_matches("acct:")
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    Json(json!({
        "subject": resource,
        "links": [{"rel": "self", "type": "application/activity+json",
                   "href": format!("{}/users/{name}", state.base)}]
    }))
}

async fn inbox(State(state): State<Arc<PeerState>>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    tokio::time::sleep(state.delay).await;
    let (signature_valid, key_id) = verify(&headers, "post", uri.path(), Some(&body)).await;
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    state.received.lock().expect("lock").push(Delivery {
        path: uri.path().to_owned(),
        body,
        signature_valid,
        key_id,
    });
    StatusCode::ACCEPTED
}

/// Check a request's signature as Mastodon does: rebuild the signing string
/// from the listed headers, fetch the key's actor, verify RSA-SHA256.
async fn verify(headers: &HeaderMap, method: &str, path: &str, body: Option<&[u8]>) -> (bool, String) {
    let Some(signature) = headers.get("signature").and_then(|v| v.to_str().ok()) else {
        return (false, String::new());
    };
    let fields: HashMap<&str, &str> = signature
        .split(',')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect();
    let key_id = fields.get("keyId").copied().unwrap_or_default().to_owned();
    let listed = fields.get("headers").copied().unwrap_or("date");
    let digest_ok = match body {
        Some(body) => {
            listed.contains("digest")
                && headers
                    .get("digest")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|d| d == format!("SHA-256={}", STANDARD.encode(Sha256::digest(body))))
        }
        None => true,
    };
    let mut lines = Vec::new();
    for name in listed.split_whitespace() {
        if name == "(request-target)" {
            lines.push(format!("(request-target): {method} {path}"));
        } else {
            let value = headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            lines.push(format!("{name}: {value}"));
        }
    }
    let signing_string = lines.join("\n");
    let actor_url = key_id.split('#').next().unwrap_or_default().to_owned();
    let actor: Option<Value> = async {
        crate::client()
            .get(&actor_url)
            .header("accept", "application/activity+json")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    }
    .await;
    let Some(pem) = actor
        .as_ref()
        .and_then(|a| a["publicKey"]["publicKeyPem"].as_str())
    else {
        return (false, key_id);
    };
    let Ok(public) = RsaPublicKey::from_public_key_pem(pem) else {
        return (false, key_id);
    };
    let Ok(raw) = STANDARD.decode(fields.get("signature").copied().unwrap_or_default()) else {
        return (false, key_id);
    };
    let valid = public
        .verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(signing_string.as_bytes()),
            &raw,
        )
        .is_ok();
    (
        valid && digest_ok && listed.contains("host") && listed.contains("date"),
        key_id,
    )
}
