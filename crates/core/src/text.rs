//! The text pipeline: markdown written here becomes sanitised HTML, and HTML
//! that arrives from other nodes is sanitised with the same allow-list before
//! it is stored or shown.

use std::{collections::HashSet, ops::Range};

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
    let parser = pulldown_cmark::Parser::new_ext(markdown, MARKDOWN_OPTIONS);
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

/// The text of sanitised HTML, one line per paragraph or line break, for
/// titles and previews.
pub fn html_to_text(html: &str) -> String {
    let with_breaks = html
        .replace("<br>", "\n")
        .replace("<br/>", "\n")
        .replace("<br />", "\n")
        .replace("</p>", "</p>\n");
    let stripped = ammonia::Builder::empty().clean(&with_breaks).to_string();
    stripped
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
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

/// Mentions (`@name@host`) and hashtags (`#tag`) found in a member's markdown.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tags {
    /// `(name, host)`, in order of appearance, without repeats.
    pub mentions: Vec<(String, String)>,
    /// Lowercase, without `#`, without repeats.
    pub hashtags: Vec<String>,
}

enum Token<'a> {
    Text(&'a str),
    Hashtag(&'a str),
    Mention {
        whole: &'a str,
        name: &'a str,
        host: &'a str,
    },
}

/// The markdown options of [`markdown_to_html`]: tags are looked for in the
/// same reading of the text that is rendered.
const MARKDOWN_OPTIONS: pulldown_cmark::Options = pulldown_cmark::Options::ENABLE_STRIKETHROUGH;

/// The byte ranges of `markdown` that pulldown-cmark reads as prose: its
/// `Text` events outside code blocks (fenced or indented), adjacent ones
/// joined. Inline code is a `Code` event and raw HTML an `Html` event, so
/// neither is prose.
fn prose_ranges(markdown: &str) -> Vec<Range<usize>> {
    use pulldown_cmark::{Event, Tag, TagEnd};
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut code_blocks = 0usize;
    for (event, range) in pulldown_cmark::Parser::new_ext(markdown, MARKDOWN_OPTIONS).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(_)) => code_blocks += 1,
            Event::End(TagEnd::CodeBlock) => code_blocks = code_blocks.saturating_sub(1),
            Event::Text(_) if code_blocks == 0 => match ranges.last_mut() {
                Some(last) if last.end == range.start => last.end = range.end,
                Some(last) if range.start < last.end => {}
                _ => ranges.push(range),
            },
            _ => {}
        }
    }
    ranges
}

/// Split markdown into text, hashtags and mentions. A tag starts after
/// whitespace or an opening bracket, and lies wholly in prose (see
/// [`prose_ranges`]): never in code of any kind.
fn tokenize(markdown: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut text_start = 0;
    for prose in prose_ranges(markdown) {
        let Some(slice) = markdown.get(prose.clone()) else {
            continue;
        };
        let mut previous: Option<char> = markdown[..prose.start].chars().next_back();
        let mut iter = slice.char_indices().map(|(j, c)| (prose.start + j, c)).peekable();
        while let Some((i, c)) = iter.next() {
            let at_boundary = previous.is_none_or(|p| p.is_whitespace() || "([{\"'".contains(p));
            previous = Some(c);
            if !at_boundary || (c != '#' && c != '@') {
                continue;
            }
            let rest = &markdown[i + 1..prose.end];
            let word_len = |s: &str, allowed: &dyn Fn(char) -> bool| {
                s.char_indices()
                    .find(|(_, ch)| !allowed(*ch))
                    .map_or(s.len(), |(j, _)| j)
            };
            let token_end = if c == '#' {
                let len = word_len(rest, &|ch| ch.is_alphanumeric() || ch == '_');
                let tag = &rest[..len];
                if len == 0 || tag.chars().all(|ch| ch.is_ascii_digit()) {
                    continue;
                }
                tokens.push(Token::Text(&markdown[text_start..i]));
                tokens.push(Token::Hashtag(tag));
                i + 1 + len
            } else {
                let name_len = word_len(rest, &|ch| {
                    ch.is_ascii_alphanumeric() || ch == '_' || ch == '.' || ch == '-'
                });
                let after_name = &rest[name_len..];
                if name_len == 0 || !after_name.starts_with('@') {
                    continue;
                }
                let host_part = &after_name[1..];
                let mut host_len = word_len(host_part, &|ch| {
                    ch.is_ascii_alphanumeric() || ch == '.' || ch == '-' || ch == ':'
                });
                while host_len > 0 && matches!(host_part.as_bytes()[host_len - 1], b'.' | b':') {
                    host_len -= 1;
                }
                let host = &host_part[..host_len];
                if !host.contains('.') && !host.contains(':') && host != "localhost" {
                    continue;
                }
                let end = i + 1 + name_len + 1 + host_len;
                tokens.push(Token::Text(&markdown[text_start..i]));
                tokens.push(Token::Mention {
                    whole: &markdown[i..end],
                    name: &rest[..name_len],
                    host,
                });
                end
            };
            text_start = token_end;
            while iter.peek().is_some_and(|(j, _)| *j < token_end) {
                iter.next();
            }
            previous = markdown[..token_end].chars().next_back();
        }
    }
    tokens.push(Token::Text(&markdown[text_start..]));
    tokens
}

/// The mentions and hashtags of a member's markdown.
pub fn find_tags(markdown: &str) -> Tags {
    let mut tags = Tags::default();
    for token in tokenize(markdown) {
        match token {
            Token::Hashtag(tag) => {
                let tag = tag.to_lowercase();
                if !tags.hashtags.contains(&tag) {
                    tags.hashtags.push(tag);
                }
            }
            Token::Mention { name, host, .. } => {
                let pair = (name.to_owned(), host.to_ascii_lowercase());
                if !tags.mentions.contains(&pair) {
                    tags.mentions.push(pair);
                }
            }
            Token::Text(_) => {}
        }
    }
    tags
}

/// Text made safe to put in HTML, in an element or a quoted attribute.
pub fn escape_html(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Render markdown with hashtags and known mentions turned into links the way
/// Mastodon marks them up (so its clients style them), then sanitise.
pub fn markdown_with_tags(
    markdown: &str,
    hashtag_href: impl Fn(&str) -> String,
    mention_href: impl Fn(&str, &str) -> Option<String>,
) -> String {
    let mut linked = String::with_capacity(markdown.len() + 64);
    for token in tokenize(markdown) {
        match token {
            Token::Text(text) => linked.push_str(text),
            Token::Hashtag(tag) => linked.push_str(&format!(
                r#"<a href="{}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>"#,
                escape_html(&hashtag_href(&tag.to_lowercase()))
            )),
            Token::Mention { whole, name, host } => match mention_href(name, host) {
                Some(href) => linked.push_str(&format!(
                    r#"<span class="h-card"><a href="{}" class="u-url mention">@<span>{name}</span></a></span>"#,
                    escape_html(&href)
                )),
                None => linked.push_str(whole),
            },
        }
    }
    markdown_to_html(&linked)
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    #[test]
    fn html_becomes_lines_of_text() {
        assert_eq!(
            html_to_text("<p>Title &amp; more</p><p>second<br>third</p>"),
            "Title & more\nsecond\nthird\n"
        );
    }

    #[test]
    fn finds_mentions_and_hashtags_but_not_emails_or_code() {
        let tags =
            find_tags("Hi @ana@alpha.test and @bo@localhost:8080. #Health #health #2024 mail a@b.c `#code`");
        assert_eq!(
            tags.mentions,
            vec![
                ("ana".into(), "alpha.test".into()),
                ("bo".into(), "localhost:8080".into())
            ]
        );
        assert_eq!(tags.hashtags, vec!["health".to_owned()]);
    }

    #[test]
    fn links_tags_and_leaves_unknown_mentions_as_text() {
        let html = markdown_with_tags(
            "See #care with @ana@alpha.test and @who@nowhere.test",
            |tag| format!("https://n.test/tags/{tag}"),
            |name, host| (name == "ana").then(|| format!("https://{host}/u/{name}")),
        );
        assert!(html.contains(r#"href="https://n.test/tags/care""#), "{html}");
        assert!(html.contains(r#"class="mention hashtag""#), "{html}");
        assert!(html.contains(r#"href="https://alpha.test/u/ana""#), "{html}");
        assert!(html.contains("@who@nowhere.test"), "{html}");
    }

    /// Tags in every kind of code are ignored; the same tags in prose
    /// around the code are found.
    /// (what kind of code, markdown, hashtags found, mentions found)
    type Case = (
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
    );

    #[test]
    fn tags_in_code_of_any_kind_are_ignored() {
        let cases: [Case; 12] = [
            ("inline", "`#a @x@alpha.test` #b", &["b"], &[]),
            (
                "inline, double backticks",
                "``#a ` @x@alpha.test`` #b",
                &["b"],
                &[],
            ),
            (
                "two spans",
                "`x` #b `#a` @y@beta.test",
                &["b"],
                &[("y", "beta.test")],
            ),
            (
                "fenced",
                "#b\n\n```\n#a @x@alpha.test\n```\n\n#c",
                &["b", "c"],
                &[],
            ),
            (
                "fenced, tildes, info",
                "~~~rust\n#a @x@alpha.test\n~~~\n#c",
                &["c"],
                &[],
            ),
            ("fenced, unclosed", "#b\n```\n#a @x@alpha.test", &["b"], &[]),
            ("indented", "#b\n\n    #a @x@alpha.test\n\n#c", &["b", "c"], &[]),
            ("indented in a list", "- #b\n\n      #a\n- #c", &["b", "c"], &[]),
            ("fenced in a quote", "> #b\n> ```\n> #a\n> ```", &["b"], &[]),
            ("unmatched backtick", "it`s #b", &["b"], &[]),
            (
                "emphasis and links",
                "**bold** #b [#c](https://a.test/#d) and @y@beta.test",
                &["b", "c"],
                &[("y", "beta.test")],
            ),
            ("raw html", "<span>#a</span> <code>#a</code> #b", &["b"], &[]),
        ];
        for (kind, markdown, hashtags, mentions) in cases {
            let tags = find_tags(markdown);
            assert_eq!(tags.hashtags, hashtags.to_vec(), "{kind}: {markdown:?}");
            let mentions: Vec<(String, String)> = mentions
                .iter()
                .map(|(n, h)| ((*n).to_owned(), (*h).to_owned()))
                .collect();
            assert_eq!(tags.mentions, mentions, "{kind}: {markdown:?}");
            let html = markdown_with_tags(
                markdown,
                |tag| format!("https://n.test/tags/{tag}"),
                |name, host| Some(format!("https://{host}/u/{name}")),
            );
            assert!(!html.contains("tags/a\""), "{kind}: {html}");
            assert!(!html.contains("/u/x\""), "{kind}: {html}");
            for tag in hashtags {
                assert!(html.contains(&format!("tags/{tag}\"")), "{kind}: {html}");
            }
        }
    }
}
