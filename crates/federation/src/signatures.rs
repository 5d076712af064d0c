//! HTTP signatures, both ways, through `http-signature-normalization`.
//!
//! Signing and verifying go through [`sign_request_headers`] and
//! [`verify_with_key`] only, so the RSA backend can be swapped in one place.
//! Inbound checks go further than `activitypub_federation` does on axum: the
//! digest is compared with the raw body, the signed `Host` must be ours, the
//! Date must be inside the window both ways, and the signed header set must
//! cover what Mastodon signs.
//!
//! The RSA work is done by AWS-LC (`aws-lc-rs`): RSASSA-PKCS1-v1_5 with
//! SHA-256, as Mastodon signs, several times faster than RustCrypto's `rsa`
//! (which `activitypub_federation` uses for the rest). Parsed keys are kept
//! by their PEM, so each actor's key is decoded once.

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{self as lc, ParsedPublicKey, RsaKeyPair},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use http::HeaderMap;
use http_signature_normalization::Config;
use sha2::{Digest, Sha256};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, SystemTime},
};
use subtle::ConstantTimeEq;

/// Why an inbound signature was refused; `as_str` labels the metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request carries no Signature header")]
    Missing,
    #[error("the request carries more than one Signature header")]
    Duplicate,
    #[error("Authorization: Signature is not accepted; send a Signature header")]
    AuthorizationHeader,
    #[error("the Signature header cannot be parsed: {0}")]
    Malformed(String),
    #[error("the signature does not cover {0}")]
    HeaderNotSigned(&'static str),
    #[error("the Date header is missing or unparseable")]
    BadDate,
    #[error("the signature's date is outside the accepted window")]
    Expired,
    #[error("the signed Host is not this node")]
    WrongHost,
    #[error("the Digest header is missing or malformed")]
    BadDigest,
    #[error("the body does not match its Digest")]
    DigestMismatch,
    #[error("the key's owner is not the activity's actor")]
    KeyOwnerMismatch,
    #[error("the signature does not verify")]
    Invalid,
    #[error("the signing actor's key could not be fetched: {0}")]
    KeyUnavailable(String),
}

impl SignatureError {
    pub fn as_str(&self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Duplicate => "duplicate",
            SignatureError::AuthorizationHeader => "authorization_header",
            SignatureError::Malformed(_) => "malformed",
            SignatureError::HeaderNotSigned(_) => "header_not_signed",
            SignatureError::BadDate => "bad_date",
            SignatureError::Expired => "expired",
            SignatureError::WrongHost => "wrong_host",
            SignatureError::BadDigest => "bad_digest",
            SignatureError::DigestMismatch => "digest_mismatch",
            SignatureError::KeyOwnerMismatch => "key_owner_mismatch",
            SignatureError::Invalid => "invalid",
            SignatureError::KeyUnavailable(_) => "key_unavailable",
        }
    }
}

/// Slack on the old side of the window, for slow queues on the sender's side.
const PAST_SLACK: Duration = Duration::from_secs(5 * 60);

/// A parsed, not yet verified, signature: check the key, then [`verify_with_key`].
#[derive(Debug, Clone)]
pub struct PendingSignature {
    pub key_id: String,
    signature: String,
    signing_string: String,
}

/// Check everything about a signed request that needs no key. `body` is the
/// raw body for POST (its digest is required), `None` for GET.
pub fn check_request(
    headers: &HeaderMap,
    method: &str,
    path_and_query: &str,
    body: Option<&[u8]>,
    our_host: &str,
    window: Duration,
) -> Result<PendingSignature, SignatureError> {
    if headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.trim_start().starts_with("Signature")))
    {
        return Err(SignatureError::AuthorizationHeader);
    }
    let mut signature_headers = headers.get_all("signature").iter();
    if signature_headers.next().is_none() {
        return Err(SignatureError::Missing);
    }
    if signature_headers.next().is_some() {
        return Err(SignatureError::Duplicate);
    }

    let date = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .ok_or(SignatureError::BadDate)?;
    let now = SystemTime::now();
    let too_new = date.duration_since(now).is_ok_and(|ahead| ahead > window);
    let too_old = now
        .duration_since(date)
        .is_ok_and(|age| age > window + PAST_SLACK);
    if too_new || too_old {
        return Err(SignatureError::Expired);
    }

    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or(SignatureError::WrongHost)?;
    if !host.eq_ignore_ascii_case(our_host) {
        return Err(SignatureError::WrongHost);
    }

    if let Some(body) = body {
        check_digest(headers, body)?;
    }

    let mut map = BTreeMap::new();
    for (name, value) in headers {
        if name == http::header::AUTHORIZATION {
            continue;
        }
        let value = value
            .to_str()
            .map_err(|_| SignatureError::Malformed(format!("header {name} is not text")))?;
        map.entry(name.as_str().to_owned())
            .and_modify(|existing: &mut String| {
                existing.push_str(", ");
                existing.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    let unverified = verify_config(window + PAST_SLACK)
        .begin_verify(method, path_and_query, map)
        .map_err(|e| match e {
            http_signature_normalization::PrepareVerifyError::Validate(_) => SignatureError::Expired,
            other => SignatureError::Malformed(other.to_string()),
        })?;

    let signed: Vec<&str> = unverified
        .signing_string()
        .lines()
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .collect();
    let mut required: Vec<&'static str> = vec!["(request-target)", "host"];
    if !signed.contains(&"(created)") {
        required.push("date");
    }
    if body.is_some() {
        if signed.contains(&"content-digest") {
            required.push("content-digest");
        } else {
            required.push("digest");
        }
    }
    for name in required {
        if !signed.contains(&name) {
            return Err(SignatureError::HeaderNotSigned(name));
        }
    }

    Ok(PendingSignature {
        key_id: unverified.key_id().to_owned(),
        signature: unverified.signature().to_owned(),
        signing_string: unverified.signing_string().to_owned(),
    })
}

fn verify_config(expiry: Duration) -> Config {
    Config::new().set_expiration(expiry)
}

/// Compare the body with every digest header present (`Digest: SHA-256=…`,
/// `Content-Digest: sha-256=:…:`); at least one is required, and a request
/// carrying both must match both, so an unsigned one cannot vouch for a
/// swapped body.
fn check_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let expected = Sha256::digest(body);
    let mut checked = 0;
    for (header, wrapped) in [("digest", false), ("content-digest", true)] {
        let Some(value) = headers.get(header) else {
            continue;
        };
        let text = value.to_str().map_err(|_| SignatureError::BadDigest)?;
        let claimed = text
            .split(',')
            .filter_map(|part| part.trim().split_once('='))
            .find(|(alg, _)| alg.eq_ignore_ascii_case("sha-256"))
            .map(|(_, value)| {
                if wrapped {
                    value.trim().trim_matches(':')
                } else {
                    value.trim()
                }
            })
            .ok_or(SignatureError::BadDigest)?;
        let decoded = BASE64.decode(claimed).map_err(|_| SignatureError::BadDigest)?;
        if decoded.len() != 32 {
            return Err(SignatureError::BadDigest);
        }
        if !bool::from(decoded.as_slice().ct_eq(&expected[..])) {
            return Err(SignatureError::DigestMismatch);
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(SignatureError::BadDigest);
    }
    Ok(())
}

/// Verify a pending signature with the signer's public key (PEM, SPKI or PKCS#1).
pub fn verify_with_key(pending: &PendingSignature, public_key_pem: &str) -> bool {
    let Some(key) = public_key(public_key_pem) else {
        return false;
    };
    let Ok(signature) = BASE64.decode(&pending.signature) else {
        return false;
    };
    key.0
        .verify_sig(pending.signing_string.as_bytes(), &signature)
        .is_ok()
}

/// A parsed RSA public key, ready to verify signatures.
pub struct PublicKey(ParsedPublicKey);

/// An RSA public key from PEM: SPKI (`BEGIN PUBLIC KEY`, most servers) or
/// PKCS#1 (`BEGIN RSA PUBLIC KEY`, Funkwhale). Keys of 1,024 bits are still
/// accepted, as they were before, for old servers.
pub fn parse_public_key(pem: &str) -> Option<PublicKey> {
    let (label, der) = pem_der(pem)?;
    if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
        return None;
    }
    ParsedPublicKey::new(&lc::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, der)
        .ok()
        .map(PublicKey)
}

fn public_key(pem: &str) -> Option<Arc<PublicKey>> {
    static CACHE: OnceLock<KeyCache<PublicKey>> = OnceLock::new();
    CACHE
        .get_or_init(KeyCache::default)
        .get_or_parse(pem, |pem| parse_public_key(pem).ok_or(()))
        .ok()
}

/// Parsed keys by PEM, bounded: emptied when it grows past `LIMIT` keys.
struct KeyCache<K> {
    keys: Mutex<HashMap<String, Arc<K>>>,
}

impl<K> Default for KeyCache<K> {
    fn default() -> Self {
        KeyCache {
            keys: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> KeyCache<K> {
    const LIMIT: usize = 10_000;

    fn get_or_parse<E>(&self, pem: &str, parse: impl FnOnce(&str) -> Result<K, E>) -> Result<Arc<K>, E> {
        if let Some(key) = self.keys.lock().unwrap_or_else(|e| e.into_inner()).get(pem) {
            return Ok(key.clone());
        }
        // Parsed outside the lock: two threads may both parse a new key once.
        let key = Arc::new(parse(pem)?);
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= Self::LIMIT {
            keys.clear();
        }
        keys.insert(pem.to_owned(), key.clone());
        Ok(key)
    }
}

/// The label and DER bytes of a PEM block, however its lines were broken.
fn pem_der(pem: &str) -> Option<(String, Vec<u8>)> {
    let pem = normalize_pem(pem)?;
    let mut lines = pem.lines();
    let label = lines
        .next()?
        .strip_prefix("-----BEGIN ")?
        .strip_suffix("-----")?
        .to_owned();
    let body: String = lines.take_while(|line| !line.starts_with("-----END ")).collect();
    let der = BASE64.decode(body).ok()?;
    Some((label, der))
}

/// Rebuild a PEM block whose line breaks were lost or mangled (seen in the
/// wild as spaces): header, the base64 body in 64-column lines, footer.
fn normalize_pem(pem: &str) -> Option<String> {
    let pem = pem.trim();
    let start = pem.find("-----BEGIN ")?;
    let header_end = start + pem.get(start + 11..)?.find("-----")? + 16;
    let footer_start = pem.rfind("-----END ")?;
    // A footer before the header is no PEM block (and must not panic).
    let header = pem.get(start..header_end)?;
    let footer = pem.get(footer_start..)?.trim();
    let body: String = pem
        .get(header_end..footer_start)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|chunk| std::str::from_utf8(chunk).ok())
        .collect();
    Some(format!("{header}\n{}\n{footer}\n", lines.join("\n")))
}

/// The value for a `Digest` header over `body`.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the private key cannot be read: {0}")]
    Key(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Headers to add to an outgoing request: `Date`, `Digest` (with a body) and
/// `Signature` over `(request-target) host date [digest]`, as Mastodon signs.
pub fn sign_request_headers(
    method: &str,
    url: &url::Url,
    body: Option<&[u8]>,
    key_id: &str,
    private_key_pem: &str,
) -> Result<Vec<(&'static str, String)>, SignError> {
    let key = private_key(private_key_pem)?;
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let date = httpdate::fmt_http_date(SystemTime::now());
    let mut signed = BTreeMap::new();
    signed.insert("host".to_owned(), host);
    signed.insert("date".to_owned(), date.clone());
    let digest = body.map(digest_header);
    if let Some(digest) = &digest {
        signed.insert("digest".to_owned(), digest.clone());
    }
    let signature = Config::new()
        .mastodon_compat()
        .begin_sign(method, &path_and_query, signed)
        .map_err(|e| SignError::Sign(e.to_string()))?
        .sign(key_id.to_owned(), |signing_string| {
            let mut signature = vec![0; key.public_modulus_len()];
            key.sign(
                &lc::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_string.as_bytes(),
                &mut signature,
            )
            .map_err(|e| SignError::Sign(e.to_string()))?;
            Ok::<_, SignError>(BASE64.encode(signature))
        })?
        .signature_header();
    let mut headers = vec![("date", date), ("signature", signature)];
    if let Some(digest) = digest {
        headers.push(("digest", digest));
    }
    Ok(headers)
}

/// Seed AWS-LC's random generator, which signing draws on. Its first use
/// gathers entropy for about 50 ms on this kind of machine; done at start,
/// off the async workers, the first fan-out after a restart does not hold a
/// worker that long.
pub fn warm_up_signing() {
    let mut seed_check = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut seed_check).is_err() {
        tracing::warn!("the random generator could not be seeded at start; signing will try again");
    }
}

/// A private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what this node
/// writes) or PKCS#1 (`BEGIN RSA PRIVATE KEY`); parsed once per key.
fn private_key(pem: &str) -> Result<Arc<RsaKeyPair>, SignError> {
    static CACHE: OnceLock<KeyCache<RsaKeyPair>> = OnceLock::new();
    CACHE.get_or_init(KeyCache::default).get_or_parse(pem, |pem| {
        let (label, der) = pem_der(pem).ok_or_else(|| SignError::Key("not a PEM block".into()))?;
        match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            other => return Err(SignError::Key(format!("a {other} is not an RSA private key"))),
        }
        .map_err(|e| SignError::Key(e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::{
        Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey,
        pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey},
        pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding},
    };

    fn keypair() -> (String, String) {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("key");
        let public = RsaPublicKey::from(&private);
        (
            private.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
            public.to_public_key_pem(LineEnding::LF).expect("pem"),
        )
    }

    fn signed_post(body: &[u8], private: &str) -> HeaderMap {
        let url = url::Url::parse("https://alpha.test/inbox").expect("url");
        let mut headers = HeaderMap::new();
        headers.insert("host", "alpha.test".parse().expect("header"));
        for (name, value) in sign_request_headers(
            "POST",
            &url,
            Some(body),
            "https://beta.test/u/bob#main-key",
            private,
        )
        .expect("sign")
        {
            headers.insert(name, value.parse().expect("header"));
        }
        headers
    }

    const WINDOW: Duration = Duration::from_secs(3600);

    #[test]
    fn a_request_we_sign_verifies() {
        let (private, public) = keypair();
        let body = br#"{"type":"Follow"}"#;
        let headers = signed_post(body, &private);
        let pending =
            check_request(&headers, "POST", "/inbox", Some(body), "alpha.test", WINDOW).expect("checks pass");
        assert_eq!(pending.key_id, "https://beta.test/u/bob#main-key");
        assert!(verify_with_key(&pending, &public));
        let (_, other_public) = keypair();
        assert!(!verify_with_key(&pending, &other_public));
    }

    #[test]
    fn a_swapped_body_is_refused_even_with_a_valid_signature() {
        let (private, _) = keypair();
        let headers = signed_post(br#"{"type":"Follow"}"#, &private);
        let err = check_request(
            &headers,
            "POST",
            "/inbox",
            Some(br#"{"type":"Delete"}"#),
            "alpha.test",
            WINDOW,
        )
        .expect_err("must fail");
        assert_eq!(err, SignatureError::DigestMismatch);
    }

    #[test]
    fn another_host_a_stale_date_and_duplicates_are_refused() {
        let (private, _) = keypair();
        let body = b"{}";
        let headers = signed_post(body, &private);
        assert_eq!(
            check_request(&headers, "POST", "/inbox", Some(body), "gamma.test", WINDOW).expect_err("host"),
            SignatureError::WrongHost
        );

        let mut stale = headers.clone();
        let old = SystemTime::now() - Duration::from_secs(3 * 3600);
        stale.insert("date", httpdate::fmt_http_date(old).parse().expect("header"));
        assert_eq!(
            check_request(&stale, "POST", "/inbox", Some(body), "alpha.test", WINDOW).expect_err("stale"),
            SignatureError::Expired
        );

        let mut future = headers.clone();
        let ahead = SystemTime::now() + Duration::from_secs(2 * 3600);
        future.insert("date", httpdate::fmt_http_date(ahead).parse().expect("header"));
        assert_eq!(
            check_request(&future, "POST", "/inbox", Some(body), "alpha.test", WINDOW).expect_err("future"),
            SignatureError::Expired
        );

        let mut doubled = headers.clone();
        let copy = doubled.get("signature").cloned().expect("signature");
        doubled.append("signature", copy);
        assert_eq!(
            check_request(&doubled, "POST", "/inbox", Some(body), "alpha.test", WINDOW).expect_err("dup"),
            SignatureError::Duplicate
        );

        let mut no_digest = headers.clone();
        no_digest.remove("digest");
        assert_eq!(
            check_request(&no_digest, "POST", "/inbox", Some(body), "alpha.test", WINDOW)
                .expect_err("digest"),
            SignatureError::BadDigest
        );
    }

    #[test]
    fn an_unsigned_second_digest_cannot_vouch_for_a_swapped_body() {
        let (private, _) = keypair();
        let body = br#"{"type":"Follow"}"#;
        let swapped = br#"{"type":"Delete"}"#;
        let mut headers = signed_post(body, &private);
        let fake = format!("sha-256=:{}:", BASE64.encode(Sha256::digest(swapped)));
        headers.insert("content-digest", fake.parse().expect("header"));
        assert_eq!(
            check_request(&headers, "POST", "/inbox", Some(swapped), "alpha.test", WINDOW).expect_err("swap"),
            SignatureError::DigestMismatch
        );
    }

    #[test]
    fn a_signature_that_leaves_out_the_digest_is_refused() {
        let (private, _) = keypair();
        let key = RsaPrivateKey::from_pkcs8_pem(&private).expect("key");
        let body = b"{}";
        let date = httpdate::fmt_http_date(SystemTime::now());
        let mut signed = BTreeMap::new();
        signed.insert("host".to_owned(), "alpha.test".to_owned());
        signed.insert("date".to_owned(), date.clone());
        let signature = Config::new()
            .mastodon_compat()
            .begin_sign("POST", "/inbox", signed)
            .expect("begin")
            .sign::<_, rsa::Error>("https://beta.test/u/bob#main-key".into(), |s| {
                Ok(BASE64.encode(key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(s.as_bytes()))?))
            })
            .expect("sign")
            .signature_header();
        let mut headers = HeaderMap::new();
        headers.insert("host", "alpha.test".parse().expect("h"));
        headers.insert("date", date.parse().expect("h"));
        headers.insert("digest", digest_header(body).parse().expect("h"));
        headers.insert("signature", signature.parse().expect("h"));
        assert_eq!(
            check_request(&headers, "POST", "/inbox", Some(body), "alpha.test", WINDOW)
                .expect_err("unsigned digest"),
            SignatureError::HeaderNotSigned("digest")
        );
    }

    /// Mastodon's rsa-sha256 made by the old backend (RustCrypto `rsa`, as
    /// `activitypub_federation` and many servers sign) verifies with ours,
    /// and ours verifies with it.
    #[test]
    fn signatures_interoperate_with_the_rustcrypto_backend() {
        let (private, public) = keypair();
        let old_private = RsaPrivateKey::from_pkcs8_pem(&private).expect("key");
        let old_public = RsaPublicKey::from_public_key_pem(&public).expect("key");
        let message = b"(request-target): post /inbox\nhost: alpha.test\ndate: Tue, 24 Nov 2026 10:00:00 GMT";

        let pending = |signature: Vec<u8>| PendingSignature {
            key_id: "https://beta.test/u/bob#main-key".into(),
            signature: BASE64.encode(signature),
            signing_string: String::from_utf8(message.to_vec()).expect("text"),
        };
        let by_old = old_private
            .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
            .expect("old sign");
        assert!(verify_with_key(&pending(by_old.clone()), &public), "old → new");

        let key = private_key(&private).expect("new key");
        let mut by_new = vec![0; key.public_modulus_len()];
        key.sign(&lc::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut by_new)
            .expect("new sign");
        assert_eq!(by_new, by_old, "PKCS#1 v1.5 signatures are deterministic");
        old_public
            .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message), &by_new)
            .expect("new → old");

        // A whole request signed by the new backend checks with the old one.
        let body = br#"{"type":"Follow"}"#;
        let headers = signed_post(body, &private);
        let checked =
            check_request(&headers, "POST", "/inbox", Some(body), "alpha.test", WINDOW).expect("checks pass");
        let signature = BASE64.decode(&checked.signature).expect("base64");
        old_public
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(checked.signing_string.as_bytes()),
                &signature,
            )
            .expect("the request's signature verifies with the old backend");
    }

    #[test]
    fn pkcs1_keys_and_mangled_pem_still_work() {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("key");
        let public = RsaPublicKey::from(&private);
        let pkcs1_private = private.to_pkcs1_pem(LineEnding::LF).expect("pem").to_string();
        let pkcs1_public = public.to_pkcs1_pem(LineEnding::LF).expect("pem");
        let spki = public.to_public_key_pem(LineEnding::LF).expect("pem");
        assert!(pkcs1_public.contains("BEGIN RSA PUBLIC KEY"));
        let body = b"{}";
        let headers = signed_post(body, &pkcs1_private);
        let pending =
            check_request(&headers, "POST", "/inbox", Some(body), "alpha.test", WINDOW).expect("checks pass");
        assert!(verify_with_key(&pending, &pkcs1_public));
        assert!(verify_with_key(&pending, &spki));
        // Line breaks lost on the way, as seen in the wild.
        assert!(verify_with_key(&pending, &spki.replace('\n', " ")));
        assert!(parse_public_key("not a key").is_none());
        assert!(
            parse_public_key(&pkcs1_private).is_none(),
            "a private key is no public key"
        );
        assert!(matches!(
            sign_request_headers(
                "POST",
                &url::Url::parse("https://a.test/inbox").expect("url"),
                None,
                "k",
                &spki
            ),
            Err(SignError::Key(_))
        ));
    }
}
