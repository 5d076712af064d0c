//! The text pipeline: markdown written here becomes sanitised HTML, and HTML
//! that arrives from other nodes is sanitised with the same allow-list before
//! it is stored or shown.

use std::collections::HashSet;

/// Tags we keep, close to Mastodon's own allow-list for remote statuses.
const ALLOWED_TAGS: &[&str] = &[
    "p",
    "br",
    "span",
    "a",
    "del",
    "pre",
    "code",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
];

fn sanitizer() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(ALLOWED_TAGS.iter().copied().collect::<HashSet<_>>())
        .add_tag_attributes("a", ["href"])
        .add_tag_attributes("ol", ["start"])
        .add_allowed_classes("span", ["h-card", "mention", "hashtag", "invisible", "ellipsis"])
        .add_allowed_classes("a", ["mention", "hashtag", "u-url"])
        .url_schemes(["http", "https"].into_iter().collect())
        .link_rel(Some("nofollow noopener noreferrer ugc"))
        .strip_comments(true);
    builder
}

/// Sanitise HTML that came from anywhere outside this process.
pub fn sanitize_html(untrusted: &str) -> String {
    sanitizer().clean(untrusted).to_string()
}

/// Render markdown written by a member into sanitised HTML.
pub fn markdown_to_html(markdown: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    sanitize_html(&html).trim().to_owned()
}

/// Plain text for a name or label: control and bidi-override characters are
/// removed and the length is capped (in characters, never splitting one).
pub fn plain_text(untrusted: &str, max_chars: usize) -> String {
    untrusted
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_styles_and_handlers_are_removed() {
        let dirty =
            r#"<p onclick="x()">hi<script>alert(1)</script><style>p{}</style><img src=x onerror=y></p>"#;
        assert_eq!(sanitize_html(dirty), "<p>hi</p>");
    }

    #[test]
    fn links_keep_http_only_and_get_rel() {
        let out = sanitize_html(r#"<a href="javascript:alert(1)">x</a><a href="https://a.example/">y</a>"#);
        assert!(!out.contains("javascript"));
        assert!(out.contains(r#"href="https://a.example/""#));
        assert!(out.contains(r#"rel="nofollow noopener noreferrer ugc""#));
    }

    #[test]
    fn markdown_renders_and_raw_html_is_cleaned() {
        let out = markdown_to_html("**Walk** together\n\n<script>bad()</script>");
        assert!(out.contains("<strong>Walk</strong>"));
        assert!(!out.contains("script"));
    }

    #[test]
    fn plain_text_strips_bidi_and_caps_length() {
        assert_eq!(plain_text("a\u{202E}b\u{0007}c", 10), "abc");
        assert_eq!(plain_text("ééééé", 3), "ééé");
    }
}
