//! iCalendar (RFC 5545) feeds of events. Times are written in UTC, which
//! every calendar reads without a `VTIMEZONE`; the event's own zone goes in
//! its description and in `X-WR-TIMEZONE` of a one-event feed.
//!
//! The `icalendar` crate writes the feed: it escapes TEXT values (§3.3.11),
//! quotes parameters and folds lines. What it leaves to us is written here:
//! it keeps control characters (a `\r` would end a line early), it writes
//! `X-` properties unescaped, and it lets `"` through in a parameter. Its
//! folding (0.17.17) leaves a 76-octet continuation line when what remains is
//! exactly 75 octets (`every_length_folds_within_75_octets` shows it), so its
//! output is unfolded and folded again here.

use chrono::{DateTime, Utc};
use icalendar::{Component, EventLike, Property};

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
    let mut feed = icalendar::Calendar::empty();
    feed.append_property(("VERSION", "2.0"))
        .append_property(("PRODID", "-//Health Commons//Events//EN"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .append_property(Property::new("X-WR-CALNAME", x_text(name)));
    if let Some(zone) = time_zone {
        feed.append_property(Property::new("X-WR-TIMEZONE", x_text(zone)));
    }
    for event in events {
        feed.push(vevent(event, now));
    }
    refold(&feed.to_string())
}

/// Undoes the crate's folding (a CRLF and one space: no value holds a CR,
/// see [`text`]) and folds each content line again at 75 octets (§3.1)
/// without splitting a character.
fn refold(ics: &str) -> String {
    let unfolded = ics.replace("\r\n ", "");
    let mut out = String::with_capacity(unfolded.len() + unfolded.len() / 25);
    for content in unfolded.split_terminator("\r\n") {
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
        out.push_str("\r\n");
    }
    out
}

fn vevent(event: &CalendarEvent, now: DateTime<Utc>) -> icalendar::Event {
    let mut vevent = icalendar::Event::new();
    // Both set by us: the crate would otherwise make up a random UID and
    // stamp the feed with the wall clock rather than `now`.
    vevent
        .uid(&text(&event.uid))
        .timestamp(now)
        .starts(event.starts_at)
        .created(event.created)
        .summary(&text(&event.summary))
        .add_property("STATUS", event.status)
        .url(&uri(&event.url));
    if let Some(ends_at) = event.ends_at.filter(|e| *e > event.starts_at) {
        vevent.ends(ends_at);
    }
    if let Some(modified) = event.last_modified {
        vevent.last_modified(modified);
    }
    if !event.description.trim().is_empty() {
        vevent.description(&text(&event.description));
    }
    if let Some(location) = event.location.as_deref().filter(|l| !l.trim().is_empty()) {
        vevent.location(&text(location));
    }
    if let Some((lat, lon)) = event.geo {
        vevent.add_property("GEO", format!("{lat:.6};{lon:.6}"));
    }
    if !event.categories.is_empty() {
        vevent.categories(event.categories.iter().map(|c| text(c)));
    }
    if let Some(organizer) = &event.organizer {
        vevent.append_property(
            Property::new("ORGANIZER", uri(&organizer.uri))
                .add_parameter("CN", &param(&organizer.name))
                .done(),
        );
    }
    vevent.done()
}

/// A TEXT value before the crate escapes it: carriage returns and other
/// controls cannot be written in a content line and are left out; `\n`
/// stays, for the crate writes it as `\\n`.
fn text(value: &str) -> String {
    value.chars().filter(|c| *c == '\n' || !c.is_control()).collect()
}

/// An `X-` property's value, which the crate writes as it is: escaped here
/// as TEXT (backslash, semicolon, comma and newline), controls left out.
fn x_text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A parameter value: quoted, since it may hold `:` `;` `,`; quotes and
/// controls cannot be written inside and are left out. The crate writes a
/// value that comes quoted as it is.
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

    #[test]
    fn long_unbroken_values_and_hostile_text_stay_inside_their_lines() {
        let mut event = sample();
        event.summary = "x".repeat(300);
        event.url = format!("https://alpha.test/{}", "é".repeat(100));
        event.location = Some("Room 1\r\nBEGIN:VEVENT\rEND".into());
        event.organizer = Some(Organizer {
            name: "\"a\":b;c,d\r\nX-EVIL:1".into(),
            uri: "https://alpha.test/g/w\r\nX-EVIL:2".into(),
        });
        let name = "Evil\r\nBEGIN:VEVENT\nUID:x, y; z\\";
        let ics = calendar(name, Some("Europe/Berlin\r\nX-EVIL:3"), &[event], Utc::now());
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "{l:?} is {} octets", l.len());
            assert!(!l.contains('\n') && !l.contains('\r'), "{l:?}");
        }
        let unfolded = parser::unfold(&ics);
        assert!(!unfolded.contains("\nX-EVIL"), "{unfolded}");
        assert_eq!(
            unfolded
                .lines()
                .filter(|l| l.trim_end() == "BEGIN:VEVENT")
                .count(),
            1,
            "{unfolded}"
        );
        let parsed = parser::read_calendar(&unfolded).expect("parses");
        let calendar: icalendar::Calendar = parsed.into();
        assert_eq!(
            calendar.property_value("X-WR-CALNAME"),
            Some("Evil\\nBEGIN:VEVENT\\nUID:x\\, y\\; z\\\\")
        );
        let events: Vec<_> = calendar.components.iter().filter_map(|c| c.as_event()).collect();
        assert_eq!(events[0].get_summary(), Some("x".repeat(300).as_str()));
        assert_eq!(events[0].get_location(), Some("Room 1\nBEGIN:VEVENTEND"));
    }

    #[test]
    fn every_length_folds_within_75_octets() {
        for n in 60..=240 {
            let mut event = sample();
            event.summary = "x".repeat(n);
            event.description = "ü".repeat(n);
            let ics = calendar("Walkers", None, &[event], Utc::now());
            for l in ics.split("\r\n") {
                assert!(l.len() <= 75, "{n}: {l:?} is {} octets", l.len());
            }
        }
    }
}
