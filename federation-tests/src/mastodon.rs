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
    /// Anything else served, by path (see `MastodonPeer::serve`).
    documents: Mutex<HashMap<String, Served>>,
    /// Answer every delivery 401, as GoToSocial does when it cannot look up
    /// the signer (see `MastodonPeer::refuse_signatures`).
    refusing: std::sync::atomic::AtomicBool,
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
            documents: Mutex::new(HashMap::new()),
            refusing: std::sync::atomic::AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/users/{name}", get(actor))
            .route("/users/{name}/inbox", post(inbox))
            .route("/users/{name}/statuses/{id}", get(status))
            .route("/inbox", post(inbox))
            .route("/.well-known/webfinger", get(webfinger))
            .fallback(document)
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
        let mut forged = Forged::new(actor_name, signed_body);
        forged.sent_body = Some(sent_body.to_vec());
        self.deliver_forged(inbox, &forged).await
    }

    /// POST to `inbox` signed as `forged` describes, the way Mastodon signs
    /// unless `forged` says otherwise (to test what the node refuses).
    pub async fn deliver_forged(&self, inbox: &str, forged: &Forged) -> reqwest::Response {
        let url = url::Url::parse(inbox).expect("inbox url");
        let host = forged
            .host
            .clone()
            .unwrap_or_else(|| format!("{}:{}", url.host_str().expect("host"), url.port().expect("port")));
        let date = forged
            .date_text
            .clone()
            .unwrap_or_else(|| httpdate::fmt_http_date(forged.date));
        let digest = format!("SHA-256={}", STANDARD.encode(Sha256::digest(&forged.body)));
        let header = self.signature_header(
            &forged.key_owner,
            &forged
                .request_target
                .clone()
                .unwrap_or_else(|| format!("post {}", url.path())),
            &[("host", &host), ("date", &date), ("digest", &digest)],
            forged.signed_headers,
        );
        let mut request = crate::client()
            .post(inbox)
            .header("content-type", forged.content_type)
            .header("date", date);
        if forged.host.is_some() {
            request = request.header("host", host);
        }
        if forged.send_digest {
            request = request.header("digest", forged.digest.clone().unwrap_or(digest));
        }
        if forged.send_signature {
            request = request.header("signature", forged.signature.clone().unwrap_or(header));
        }
        for (name, value) in &forged.extra_headers {
            request = request.header(*name, value);
        }
        request
            .body(forged.sent_body.clone().unwrap_or_else(|| forged.body.clone()))
            .send()
            .await
            .expect("deliver")
    }

    /// GET `url` signed as `actor_name` over `(request-target) host date`,
    /// as Mastodon signs its fetches.
    pub async fn signed_get(&self, actor_name: &str, url: &str) -> reqwest::Response {
        let parsed = url::Url::parse(url).expect("url");
        let host = format!(
            "{}:{}",
            parsed.host_str().expect("host"),
            parsed.port().expect("port")
        );
        let date = httpdate::fmt_http_date(SystemTime::now());
        let header = self.signature_header(
            actor_name,
            &format!("get {}", parsed.path()),
            &[("host", &host), ("date", &date)],
            "(request-target) host date",
        );
        crate::client()
            .get(url)
            .header("accept", "application/activity+json")
            .header("date", date)
            .header("signature", header)
            .send()
            .await
            .expect("signed get")
    }

    /// A `Signature` header over `listed` headers, with this peer's key and
    /// `actor_name`'s keyId.
    fn signature_header(
        &self,
        actor_name: &str,
        request_target: &str,
        values: &[(&str, &str)],
        listed: &str,
    ) -> String {
        let lines: Vec<String> = listed
            .split_whitespace()
            .map(|name| match name {
                "(request-target)" => format!("(request-target): {request_target}"),
                other => {
                    let value = values
                        .iter()
                        .find(|(n, _)| *n == other)
                        .map(|(_, v)| *v)
                        .unwrap_or_default();
                    format!("{other}: {value}")
                }
            })
            .collect();
        let signature = self
            .state
            .keys
            .lock()
            .expect("lock")
            .0
            .sign(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(lines.join("\n").as_bytes()),
            )
            .expect("sign");
        // A full URL names an actor elsewhere (to test keys of other hosts).
        let owner = if actor_name.contains("://") {
            actor_name.to_owned()
        } else {
            self.actor_id(actor_name)
        };
        format!(
            r#"keyId="{owner}#main-key",algorithm="rsa-sha256",headers="{listed}",signature="{}""#,
            STANDARD.encode(signature)
        )
    }

    /// From now on answer deliveries 401 and keep nothing (`true`), or take
    /// them again (`false`).
    pub fn refuse_signatures(&self, refuse: bool) {
        self.state
            .refusing
            .store(refuse, std::sync::atomic::Ordering::SeqCst);
    }

    /// The public half of the key every actor here signs with.
    pub fn public_key_pem(&self) -> String {
        self.state.keys.lock().expect("lock").1.clone()
    }

    /// Serve `body` at `path` on this peer with `status` and `headers` (a
    /// document that lies about its id, a redirect elsewhere, …).
    pub fn serve(&self, path: &str, status: u16, headers: &[(&str, &str)], body: &str) {
        self.state.documents.lock().expect("lock").insert(
            path.to_owned(),
            Served {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.to_owned(),
            },
        );
    }
}

/// How to sign (or mis-sign) one delivery; `Forged::new` signs as Mastodon does.
#[derive(Debug, Clone)]
pub struct Forged {
    /// Whose keyId the signature names (the peer signs with its one key).
    pub key_owner: String,
    /// The body the Digest and signature are computed over.
    pub body: Vec<u8>,
    /// What is sent instead of `body`, if anything.
    pub sent_body: Option<Vec<u8>>,
    pub date: SystemTime,
    /// A Date header to sign and send as it is (e.g. one that does not parse).
    pub date_text: Option<String>,
    /// The Host header to sign and send instead of the inbox's.
    pub host: Option<String>,
    /// The `(request-target)` to sign instead of `post <inbox path>`.
    pub request_target: Option<String>,
    pub signed_headers: &'static str,
    pub content_type: &'static str,
    pub send_digest: bool,
    /// A Digest value to send instead of the right one.
    pub digest: Option<String>,
    pub send_signature: bool,
    /// A Signature header to send instead of the computed one.
    pub signature: Option<String>,
    pub extra_headers: Vec<(&'static str, String)>,
}

impl Forged {
    pub fn new(key_owner: &str, body: &[u8]) -> Forged {
        Forged {
            key_owner: key_owner.to_owned(),
            body: body.to_vec(),
            sent_body: None,
            date: SystemTime::now(),
            date_text: None,
            host: None,
            request_target: None,
            signed_headers: "(request-target) host date digest",
            content_type: "application/activity+json",
            send_digest: true,
            digest: None,
            send_signature: true,
            signature: None,
            extra_headers: Vec::new(),
        }
    }
}

struct Served {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

async fn document(State(state): State<Arc<PeerState>>, uri: Uri) -> axum::response::Response {
    let served = state
        .documents
        .lock()
        .expect("lock")
        .get(uri.path())
        .map(|s| (s.status, s.headers.clone(), s.body.clone()));
    let Some((status, headers, body)) = served else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
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
    if state.refusing.load(std::sync::atomic::Ordering::SeqCst) {
        return StatusCode::UNAUTHORIZED;
    }
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
