//! Content negotiation: one URL serves HTML to browsers and ActivityStreams
//! JSON to servers, decided by a proper parse of `Accept`.

pub const AP_CONTENT_TYPE: &str = "application/activity+json";
pub const LD_CONTENT_TYPE: &str = r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#;

struct MediaRange<'a> {
    essence: String,
    profile: Option<&'a str>,
    q: f32,
}

fn parse_accept(accept: &str) -> Vec<MediaRange<'_>> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let essence = pieces.next()?.trim().to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let mut q = 1.0;
            let mut profile = None;
            for param in pieces {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "q" => q = value.parse().unwrap_or(0.0),
                    "profile" => profile = Some(value),
                    _ => {}
                }
            }
            Some(MediaRange { essence, profile, q })
        })
        .collect()
}

fn is_activity_streams(range: &MediaRange<'_>) -> bool {
    match range.essence.as_str() {
        "application/activity+json" => true,
        "application/ld+json" => range.profile.is_none_or(|p| {
            p.split_whitespace()
                .any(|p| p == "https://www.w3.org/ns/activitystreams")
        }),
        _ => false,
    }
}

/// True when the client prefers ActivityStreams JSON over HTML.
pub fn wants_activity_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let ranges = parse_accept(accept);
    let best_ap = ranges
        .iter()
        .filter(|r| is_activity_streams(r))
        .map(|r| r.q)
        .fold(0.0_f32, f32::max);
    let best_html = ranges
        .iter()
        .filter(|r| {
            matches!(
                r.essence.as_str(),
                "text/html" | "application/xhtml+xml" | "text/*" | "*/*"
            )
        })
        .map(|r| r.q)
        .fold(0.0_f32, f32::max);
    best_ap > 0.0 && best_ap >= best_html
}

/// True for a `Content-Type` an inbox accepts.
pub fn is_activity_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    parse_accept(content_type)
        .first()
        .is_some_and(is_activity_streams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_get_json_and_browsers_get_html() {
        assert!(wants_activity_json(Some("application/activity+json")));
        assert!(wants_activity_json(Some(LD_CONTENT_TYPE)));
        assert!(wants_activity_json(Some(
            "application/activity+json, application/ld+json"
        )));
        assert!(!wants_activity_json(Some(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!wants_activity_json(Some("*/*")));
        assert!(!wants_activity_json(None));
        assert!(!wants_activity_json(Some(
            r#"application/ld+json; profile="http://other""#
        )));
        assert!(wants_activity_json(Some(
            "text/html;q=0.5, application/activity+json"
        )));
    }

    #[test]
    fn inbox_content_types() {
        assert!(is_activity_content_type(Some("application/activity+json")));
        assert!(is_activity_content_type(Some(
            "application/activity+json; charset=utf-8"
        )));
        assert!(is_activity_content_type(Some(LD_CONTENT_TYPE)));
        assert!(!is_activity_content_type(Some("text/plain")));
        assert!(!is_activity_content_type(Some("application/json")));
        assert!(!is_activity_content_type(None));
    }
}
