//! Property tests: whatever arrives, the activity parsers and the signature
//! checks answer with a value or a typed error, never a panic; what parses
//! survives a round trip.

use healthcommons_federation::{
    activities::{InboxActivity, activity_type},
    inbox::check_array_caps,
    objects::{id_of, post::ApPost},
    resolve::parse_jrd,
    signatures::{check_request, parse_public_key},
};
use http::HeaderMap;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;

/// Any JSON value, a few levels deep, with ActivityStreams-looking keys.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("https://beta.test/u/bob"),
            Just("http://mastodon.test:1/users/mia/statuses/1"),
            Just("https://www.w3.org/ns/activitystreams#Public"),
            Just("Create"),
            Just("Note"),
            Just("not a url"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let key = prop_oneof![
            Just("id".to_owned()),
            Just("type".to_owned()),
            Just("actor".to_owned()),
            Just("object".to_owned()),
            Just("to".to_owned()),
            Just("cc".to_owned()),
            Just("attributedTo".to_owned()),
            Just("content".to_owned()),
            Just("inReplyTo".to_owned()),
            Just("tag".to_owned()),
            "[a-zA-Z]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Mastodon-shaped Create of a Note, the usual starting point of mutations.
fn create_note() -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "http://mastodon.test:1/users/mia/statuses/1/activity",
        "type": "Create",
        "actor": "http://mastodon.test:1/users/mia",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["http://beta.test:2/g/walkers"],
        "object": {
            "id": "http://mastodon.test:1/users/mia/statuses/1",
            "type": "Note",
            "attributedTo": "http://mastodon.test:1/users/mia",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["http://beta.test:2/g/walkers"],
            "content": "<p>Walk on Sunday</p>",
            "published": "2026-11-24T10:00:00Z"
        }
    })
}

const FIELDS: [&str; 8] = [
    "id",
    "type",
    "actor",
    "to",
    "cc",
    "object",
    "published",
    "@context",
];
const OBJECT_FIELDS: [&str; 7] = ["id", "type", "attributedTo", "to", "cc", "content", "published"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_parses_or_is_refused_without_panicking(value in json_value()) {
        let _ = activity_type(&value);
        let _ = id_of(&value);
        let _ = check_array_caps(&value);
        if let Ok(activity) = serde_json::from_value::<InboxActivity>(value.clone()) {
            // What parses serialises, and parses again the same way.
            let again = serde_json::to_value(&activity).expect("serialise");
            let reparsed: InboxActivity = serde_json::from_value(again.clone()).expect("reparse");
            prop_assert_eq!(serde_json::to_value(&reparsed).expect("serialise"), again);
        }
        let _ = serde_json::from_value::<ApPost>(value);
    }

    #[test]
    fn a_create_with_one_field_replaced_parses_or_is_refused(
        field in 0..FIELDS.len(),
        inner in 0..OBJECT_FIELDS.len(),
        replacement in json_value(),
        in_object in any::<bool>(),
    ) {
        let mut activity = create_note();
        if in_object {
            activity["object"][OBJECT_FIELDS[inner]] = replacement;
        } else {
            activity[FIELDS[field]] = replacement;
        }
        let _ = activity_type(&activity);
        let _ = check_array_caps(&activity);
        if let Ok(parsed) = serde_json::from_value::<InboxActivity>(activity.clone()) {
            let again = serde_json::to_value(&parsed).expect("serialise");
            prop_assert!(serde_json::from_value::<InboxActivity>(again).is_ok());
        }
        if let Ok(note) = serde_json::from_value::<ApPost>(activity["object"].clone()) {
            let again = serde_json::to_value(&note).expect("serialise");
            let reparsed: ApPost = serde_json::from_value(again.clone()).expect("reparse");
            prop_assert_eq!(serde_json::to_value(&reparsed).expect("serialise"), again);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_text_parsers(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<Value>(&bytes);
        let _ = parse_jrd(&bytes, Some("acct:ana@beta.test"), false);
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_public_key(&text);
    }

    #[test]
    fn pem_shaped_garbage_never_panics(
        parts in prop::collection::vec(
            prop_oneof![
                Just("-----BEGIN ".to_owned()), Just("-----END ".to_owned()), Just("-----".to_owned()),
                Just("PUBLIC KEY".to_owned()), Just("\n".to_owned()), Just(" ".to_owned()),
                Just("MIIB".to_owned()), "[A-Za-z0-9+/=]{0,12}",
            ],
            0..12,
        )
    ) {
        let _ = parse_public_key(&parts.concat());
    }

    #[test]
    fn arbitrary_signature_headers_give_a_typed_error(
        signature in "\\PC{0,200}",
        date in prop_oneof![Just("Tue, 24 Nov 2026 10:00:00 GMT".to_owned()), "\\PC{0,40}"],
        digest in prop_oneof![Just("SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".to_owned()), "\\PC{0,60}"],
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [("signature", &signature), ("date", &date), ("digest", &digest)] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        headers.insert("host", "beta.test".parse().expect("header"));
        let result = check_request(&headers, "POST", "/inbox", Some(&body), "beta.test", Duration::from_secs(3600));
        prop_assert!(result.is_err(), "nothing unsigned passes");
    }
}

#[test]
fn a_pem_whose_footer_comes_before_its_header_is_refused() {
    assert!(parse_public_key("-----END -----BEGIN PUBLIC KEY-----").is_none());
    assert!(parse_public_key("-----BEGIN PUBLIC KEY----------END ").is_none());
}
