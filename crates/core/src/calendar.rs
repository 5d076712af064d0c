//! iCalendar (RFC 5545) feeds of events. Times are written in UTC, which
//! every calendar reads without a `VTIMEZONE`; the event's own zone goes in
//! its description and in `X-WR-TIMEZONE` of a one-event feed.

use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// One `VEVENT`.
#[derive(Debug, Clone)]
pub struct CalendarEvent {
    /// Globally unique: the event's ActivityPub id.
    pub uid: String,
    pub url: String,
    pub summary: String,
    /// Plain text.
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub geo: Option<(f64, f64)>,
    /// `TENTATIVE`, `CONFIRMED` or `CANCELLED`.
    pub status: &'static str,
    pub organizer: Option<Organizer>,
    pub categories: Vec<String>,
    pub created: DateTime<Utc>,
    pub last_modified: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Organizer {
    pub name: String,
    /// A URI (the organiser's profile).
    pub uri: String,
}

/// A whole calendar: `name` is shown by calendar apps as its title.
pub fn calendar(name: &str, time_zone: Option<&str>, events: &[CalendarEvent], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Health Commons//Events//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", text(name)));
    if let Some(zone) = time_zone {
        line(&mut out, &format!("X-WR-TIMEZONE:{}", text(zone)));
    }
    for event in events {
        vevent(&mut out, event, now);
    }
    line(&mut out, "END:VCALENDAR");
    out
}

fn vevent(out: &mut String, event: &CalendarEvent, now: DateTime<Utc>) {
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{}", text(&event.uid)));
    line(out, &format!("DTSTAMP:{}", stamp(now)));
    line(out, &format!("DTSTART:{}", stamp(event.starts_at)));
    if let Some(ends_at) = event.ends_at.filter(|e| *e > event.starts_at) {
        line(out, &format!("DTEND:{}", stamp(ends_at)));
    }
    line(out, &format!("CREATED:{}", stamp(event.created)));
    if let Some(modified) = event.last_modified {
        line(out, &format!("LAST-MODIFIED:{}", stamp(modified)));
    }
    line(out, &format!("SUMMARY:{}", text(&event.summary)));
    if !event.description.trim().is_empty() {
        line(out, &format!("DESCRIPTION:{}", text(&event.description)));
    }
    if let Some(location) = event.location.as_deref().filter(|l| !l.trim().is_empty()) {
        line(out, &format!("LOCATION:{}", text(location)));
    }
    if let Some((lat, lon)) = event.geo {
        line(out, &format!("GEO:{lat:.6};{lon:.6}"));
    }
    line(out, &format!("STATUS:{}", event.status));
    if !event.categories.is_empty() {
        let joined: Vec<String> = event.categories.iter().map(|c| text(c)).collect();
        line(out, &format!("CATEGORIES:{}", joined.join(",")));
    }
    if let Some(organizer) = &event.organizer {
        line(
            out,
            &format!("ORGANIZER;CN={}:{}", param(&organizer.name), uri(&organizer.uri)),
        );
    }
    line(out, &format!("URL:{}", uri(&event.url)));
    line(out, "END:VEVENT");
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and newline escaped.
fn text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A parameter value: quoted, since it may hold `:` `;` `,`; quotes and
/// controls cannot be written inside and are left out.
fn param(value: &str) -> String {
    let clean: String = value.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{clean}\"")
}

/// A URI value: nothing to escape, but no controls or spaces.
fn uri(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .collect()
}

/// A content line, folded at 75 octets (§3.1) without splitting a character.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    let _ = write!(out, "\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use icalendar::{Component, EventLike, parser};

    fn sample() -> CalendarEvent {
        let starts_at = DateTime::parse_from_rfc3339("2026-12-03T17:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        CalendarEvent {
            uid: "https://alpha.test/events/1".into(),
            url: "https://alpha.test/events/1".into(),
            summary: "Walking group; training, part 1 \\ Übung".into(),
            description: format!("Line one\nLine two, with a comma. {}", "Lang ".repeat(40)),
            starts_at,
            ends_at: Some(starts_at + chrono::Duration::hours(2)),
            location: Some("Café Zentral, Hauptstraße 1; Berlin".into()),
            geo: Some((52.52, 13.405)),
            status: "CONFIRMED",
            organizer: Some(Organizer {
                name: "Walkers \"Berlin\"".into(),
                uri: "https://alpha.test/g/walkers".into(),
            }),
            categories: vec!["training".into()],
            created: starts_at,
            last_modified: None,
        }
    }

    #[test]
    fn lines_are_folded_at_75_octets_and_end_in_crlf() {
        let ics = calendar("Walkers", Some("Europe/Berlin"), &[sample()], Utc::now());
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "{l:?} is {} octets", l.len());
            assert!(!l.contains('\n'), "{l:?}");
        }
    }

    #[test]
    fn a_standard_parser_reads_back_every_field() {
        let ics = calendar("Walkers, Berlin", None, &[sample(), sample()], Utc::now());
        let unfolded = parser::unfold(&ics);
        let parsed = parser::read_calendar(&unfolded).expect("parses");
        let calendar: icalendar::Calendar = parsed.into();
        let events: Vec<_> = calendar.components.iter().filter_map(|c| c.as_event()).collect();
        assert_eq!(events.len(), 2);
        let event = events[0];
        assert_eq!(
            event.get_summary(),
            Some("Walking group; training, part 1 \\ Übung")
        );
        assert_eq!(event.get_location(), Some("Café Zentral, Hauptstraße 1; Berlin"));
        assert!(
            event
                .get_description()
                .is_some_and(|d| d.starts_with("Line one\nLine two, with a comma."))
        );
        assert_eq!(event.get_uid(), Some("https://alpha.test/events/1"));
        assert_eq!(event.property_value("STATUS"), Some("CONFIRMED"));
        assert_eq!(event.property_value("DTSTART"), Some("20261203T170000Z"));
        assert_eq!(event.property_value("GEO"), Some("52.520000;13.405000"));
    }
}
