//! The words of an event: its kind, its status, how people join it, and
//! the time zone its times are given in.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// What sort of gathering it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum EventKind {
    #[sea_orm(string_value = "workshop")]
    Workshop,
    #[sea_orm(string_value = "seminar")]
    Seminar,
    #[sea_orm(string_value = "training")]
    Training,
    #[sea_orm(string_value = "meeting")]
    Meeting,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [Self::Workshop, Self::Seminar, Self::Training, Self::Meeting];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw.trim().to_ascii_lowercase())
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workshop => "workshop",
            Self::Seminar => "seminar",
            Self::Training => "training",
            Self::Meeting => "meeting",
        }
    }
    /// Mobilizon's category for it (Mobilizon has no finer words for learning).
    pub fn mobilizon_category(self) -> &'static str {
        match self {
            Self::Meeting => "MEETING",
            _ => "LEARNING",
        }
    }
    /// Our kind for a Mobilizon category; anything else is a meeting.
    pub fn from_mobilizon_category(category: &str) -> Self {
        match category.to_ascii_uppercase().as_str() {
            "LEARNING" | "WORKSHOPS" => Self::Workshop,
            _ => Self::Meeting,
        }
    }
}

/// Whether it takes place (iCalendar's `STATUS`, Mobilizon's `ical:status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum EventStatus {
    #[sea_orm(string_value = "tentative")]
    Tentative,
    #[sea_orm(string_value = "confirmed")]
    Confirmed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl EventStatus {
    pub const ALL: [EventStatus; 3] = [Self::Tentative, Self::Confirmed, Self::Cancelled];

    /// Either our word or iCalendar's (any case).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim().to_ascii_lowercase())
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tentative => "tentative",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn ical(self) -> &'static str {
        match self {
            Self::Tentative => "TENTATIVE",
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// How a request to take part is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum JoinMode {
    /// Accepted at once while places last.
    #[sea_orm(string_value = "free")]
    Free,
    /// The organiser approves each one.
    #[sea_orm(string_value = "restricted")]
    Restricted,
}

impl JoinMode {
    /// Mobilizon's words; its `invite` (by invitation only) is approval too.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "free" | "open" => Some(Self::Free),
            "restricted" | "approval" | "invite" => Some(Self::Restricted),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Restricted => "restricted",
        }
    }
}

/// An IANA time zone name (`Europe/Berlin`), if it is one.
pub fn time_zone(name: &str) -> Option<Tz> {
    name.trim().parse().ok()
}

/// A wall-clock time in `zone` as an instant. In the hour a clock goes back
/// the earlier instant is taken; a time skipped when it goes forward has none.
pub fn at_wall_clock(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// An instant as the wall-clock time in `zone`.
pub fn wall_clock(at: DateTime<Utc>, zone: Tz) -> NaiveDateTime {
    at.with_timezone(&zone).naive_local()
}

/// Where an event takes place, as people read it: its place and address,
/// whichever it has, joined.
pub fn place_text(place_name: Option<&str>, address: Option<&str>) -> String {
    [place_name, address]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// When an event takes place, as people read it: in the event's own time
/// zone (UTC when it has none), the end's date left out when it is the same day.
pub fn when_text(starts_at: DateTime<Utc>, ends_at: Option<DateTime<Utc>>, timezone: Option<&str>) -> String {
    let zone = timezone.and_then(time_zone);
    let show = |at: DateTime<Utc>| match zone {
        Some(zone) => wall_clock(at, zone).format("%a %-d %b %Y, %H:%M").to_string(),
        None => at.format("%a %-d %b %Y, %H:%M").to_string(),
    };
    let zone_name = zone.map(|z| z.name().to_owned()).unwrap_or_else(|| "UTC".into());
    match ends_at {
        Some(end) if end.date_naive() == starts_at.date_naive() => format!(
            "{} – {} ({zone_name})",
            show(starts_at),
            show(end).rsplit(", ").next().unwrap_or_default()
        ),
        Some(end) => format!("{} – {} ({zone_name})", show(starts_at), show(end)),
        None => format!("{} ({zone_name})", show(starts_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn words_round_trip_and_foreign_words_are_understood() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("Dance"), None);
        assert_eq!(EventKind::from_mobilizon_category("SPORTS"), EventKind::Meeting);
        assert_eq!(
            EventKind::from_mobilizon_category("learning"),
            EventKind::Workshop
        );
        assert_eq!(EventStatus::parse("CANCELLED"), Some(EventStatus::Cancelled));
        assert_eq!(EventStatus::parse("maybe"), None);
        assert_eq!(JoinMode::parse("invite"), Some(JoinMode::Restricted));
        assert_eq!(JoinMode::parse("free"), Some(JoinMode::Free));
    }

    #[test]
    fn wall_clock_times_follow_the_zone_and_its_summer_time() {
        let zone = time_zone("Europe/Berlin").expect("zone");
        let winter = NaiveDate::from_ymd_opt(2026, 1, 15)
            .and_then(|d| d.and_hms_opt(18, 0, 0))
            .expect("date");
        let summer = NaiveDate::from_ymd_opt(2026, 7, 15)
            .and_then(|d| d.and_hms_opt(18, 0, 0))
            .expect("date");
        assert_eq!(
            at_wall_clock(winter, zone).expect("t").to_rfc3339(),
            "2026-01-15T17:00:00+00:00"
        );
        assert_eq!(
            at_wall_clock(summer, zone).expect("t").to_rfc3339(),
            "2026-07-15T16:00:00+00:00"
        );
        let skipped = NaiveDate::from_ymd_opt(2026, 3, 29)
            .and_then(|d| d.and_hms_opt(2, 30, 0))
            .expect("date");
        assert_eq!(at_wall_clock(skipped, zone), None);
        let back = at_wall_clock(summer, zone).expect("t");
        assert_eq!(wall_clock(back, zone), summer);
        assert!(time_zone("Mars/Olympus").is_none());
    }
}
