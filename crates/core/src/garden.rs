//! The knowledge garden's vocabulary: the three kinds of item (pattern,
//! metric, story), what each holds, and the pure operations on an item's
//! content that revisions, forks and search need (diff, three-way merge,
//! search words).

use crate::text;
use askama::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};

pub const MAX_TITLE: usize = 200;
pub const MAX_SUMMARY: usize = 600;
pub const MAX_FIELD: usize = 50_000;
pub const MAX_RESOURCES: usize = 50;
pub const MAX_RELATIONS: usize = 100;
pub const MAX_TAGS: usize = 20;
pub const DEFAULT_LICENSE: &str = "CC-BY-SA-4.0";

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Hash,
    sea_orm::EnumIter,
    sea_orm::DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[sea_orm(string_value = "pattern")]
    Pattern,
    #[sea_orm(string_value = "metric")]
    Metric,
    #[sea_orm(string_value = "story")]
    Story,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Pattern, Kind::Metric, Kind::Story];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pattern => "pattern",
            Kind::Metric => "metric",
            Kind::Story => "story",
        }
    }

    pub fn parse(raw: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The long fields of this kind, in reading order: (key, label).
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Pattern => &[
                ("problem", "Problem"),
                ("context", "Context"),
                ("forces", "Forces"),
                ("solution", "Solution"),
                ("evidence", "Evidence and outcomes"),
            ],
            Kind::Metric => &[
                ("measures", "What it measures"),
                ("rationale", "Why it matters"),
                ("method", "How to collect it"),
            ],
            Kind::Story => &[("narrative", "What happened"), ("outcome", "Outcome")],
        }
    }

    /// The relations that make sense from an item of this kind.
    pub fn relations(self) -> &'static [RelationKind] {
        match self {
            Kind::Pattern => &[
                RelationKind::Complements,
                RelationKind::AlternativeTo,
                RelationKind::PartOf,
            ],
            Kind::Metric => &[RelationKind::Evaluates],
            Kind::Story => &[RelationKind::Applies, RelationKind::MeasuredBy],
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Default,
    sea_orm::EnumIter,
    sea_orm::DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[default]
    #[sea_orm(string_value = "published")]
    Published,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Draft => "draft",
            ItemStatus::Published => "published",
        }
    }
    pub fn parse(raw: &str) -> Option<ItemStatus> {
        match raw {
            "draft" => Some(ItemStatus::Draft),
            "published" => Some(ItemStatus::Published),
            _ => None,
        }
    }
}

/// How one garden item relates to another.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Hash,
    PartialOrd,
    Ord,
    sea_orm::EnumIter,
    sea_orm::DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// Pattern to pattern: works well together.
    #[sea_orm(string_value = "complements")]
    Complements,
    /// Pattern to pattern: another way to the same end.
    #[sea_orm(string_value = "alternative_to")]
    AlternativeTo,
    /// Pattern to pattern: a piece of a larger practice.
    #[sea_orm(string_value = "part_of")]
    PartOf,
    /// Metric to pattern: the metric helps evaluate the pattern.
    #[sea_orm(string_value = "evaluates")]
    Evaluates,
    /// Story to pattern: the story applied the pattern.
    #[sea_orm(string_value = "applies")]
    Applies,
    /// Story to metric: the outcome was measured by the metric.
    #[sea_orm(string_value = "measured_by")]
    MeasuredBy,
}

impl RelationKind {
    pub const ALL: [RelationKind; 6] = [
        RelationKind::Complements,
        RelationKind::AlternativeTo,
        RelationKind::PartOf,
        RelationKind::Evaluates,
        RelationKind::Applies,
        RelationKind::MeasuredBy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Complements => "complements",
            RelationKind::AlternativeTo => "alternative_to",
            RelationKind::PartOf => "part_of",
            RelationKind::Evaluates => "evaluates",
            RelationKind::Applies => "applies",
            RelationKind::MeasuredBy => "measured_by",
        }
    }

    pub fn parse(raw: &str) -> Option<RelationKind> {
        RelationKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            RelationKind::Complements => "complements",
            RelationKind::AlternativeTo => "alternative to",
            RelationKind::PartOf => "part of",
            RelationKind::Evaluates => "helps evaluate",
            RelationKind::Applies => "applied",
            RelationKind::MeasuredBy => "measured by",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub title: String,
    pub href: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    pub kind: RelationKind,
    /// The ActivityPub id of the related item.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
}

impl Place {
    /// A plain-text name and coordinates in range (both or neither);
    /// `None` when it names nothing.
    pub fn validated(mut self) -> Result<Option<Place>, Invalid> {
        self.name = text::plain_text(&self.name, 200);
        if self.latitude.is_some_and(|l| !(-90.0..=90.0).contains(&l))
            || self.longitude.is_some_and(|l| !(-180.0..=180.0).contains(&l))
        {
            return Err(invalid("latitude must be within ±90 and longitude within ±180"));
        }
        if self.latitude.is_some() != self.longitude.is_some() {
            return Err(invalid("give both latitude and longitude, or neither"));
        }
        Ok((!self.name.is_empty() || self.latitude.is_some()).then_some(self))
    }
}

/// Everything an author writes in one revision of an item. Long fields are
/// markdown; a revision stores this whole value, so a diff, a revert or a
/// merge works on it alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Content {
    pub title: String,
    /// The essence in a few lines: what Mastodon and previews show.
    pub summary: String,
    /// Long fields by key (see [`Kind::fields`]), markdown.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
    /// A metric's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// When a story happened (free text such as "2025" or "spring 2024").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub happened: Option<String>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub relations: Vec<Relation>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub license: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
}

/// [`Content::to_html`]'s template (`templates/garden_item.html`); askama
/// escapes every value but `sections`, which is sanitised markdown.
#[derive(Template)]
#[template(path = "garden_item.html")]
struct ItemHtml<'a> {
    summary: &'a str,
    unit: Option<&'a str>,
    happened: Option<&'a str>,
    place: Option<&'a str>,
    /// (heading, HTML)
    sections: Vec<(&'static str, String)>,
    resources: &'a [Resource],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Text for a Markdown heading or link: one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

/// A hashtag-like name: lowercase letters, digits, `-` and `_`.
pub fn clean_tag(raw: &str) -> Option<String> {
    let tag: String = raw
        .trim()
        .trim_start_matches('#')
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .take(50)
        .collect();
    (!tag.is_empty()).then_some(tag)
}

fn is_web_link(href: &str) -> bool {
    url_scheme(href).is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
        && !href.chars().any(char::is_whitespace)
}

fn url_scheme(href: &str) -> Option<&str> {
    href.split_once("://").map(|(scheme, _)| scheme)
}

impl Content {
    /// Check and normalise what an author (or another node) sent: plain-text
    /// names, known fields only, web links only, tags cleaned, limits kept.
    pub fn validated(mut self, kind: Kind) -> Result<Content, Invalid> {
        self.title = text::plain_text(&self.title, MAX_TITLE + 1);
        if self.title.is_empty() {
            return Err(invalid("an item needs a title"));
        }
        if self.title.chars().count() > MAX_TITLE {
            return Err(invalid(format!(
                "the title must be at most {MAX_TITLE} characters"
            )));
        }
        self.summary = self.summary.trim().to_owned();
        if self.summary.is_empty() {
            return Err(invalid("an item needs a summary: its essence in a few lines"));
        }
        if self.summary.chars().count() > MAX_SUMMARY {
            return Err(invalid(format!(
                "the summary must be at most {MAX_SUMMARY} characters"
            )));
        }
        let known: Vec<&str> = kind.fields().iter().map(|(key, _)| *key).collect();
        if let Some(unknown) = self.fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(invalid(format!(
                "a {} has no field {unknown:?} (it has {})",
                kind.as_str(),
                known.join(", ")
            )));
        }
        self.fields.retain(|_, value| !value.trim().is_empty());
        if self.fields.values().any(|v| v.len() > MAX_FIELD) {
            return Err(invalid(format!("each field must be at most {MAX_FIELD} bytes")));
        }
        self.unit = self
            .unit
            .filter(|_| kind == Kind::Metric)
            .map(|u| text::plain_text(&u, 100))
            .filter(|u| !u.is_empty());
        self.happened = self
            .happened
            .filter(|_| kind == Kind::Story)
            .map(|h| text::plain_text(&h, 100))
            .filter(|h| !h.is_empty());
        if self.resources.len() > MAX_RESOURCES {
            return Err(invalid(format!("at most {MAX_RESOURCES} resources")));
        }
        for resource in &mut self.resources {
            resource.href = resource.href.trim().to_owned();
            if !is_web_link(&resource.href) {
                return Err(invalid(format!(
                    "resource links must be http or https: {:?}",
                    resource.href
                )));
            }
            resource.title = text::plain_text(&resource.title, 200);
            if resource.title.is_empty() {
                resource.title = resource.href.clone();
            }
        }
        if self.relations.len() > MAX_RELATIONS {
            return Err(invalid(format!("at most {MAX_RELATIONS} related items")));
        }
        for relation in &self.relations {
            if !kind.relations().contains(&relation.kind) {
                return Err(invalid(format!(
                    "a {} cannot be {} another item",
                    kind.as_str(),
                    relation.kind.label()
                )));
            }
            if !is_web_link(&relation.target) {
                return Err(invalid(format!(
                    "related items are named by their id (a URL): {:?}",
                    relation.target
                )));
            }
        }
        self.relations.dedup();
        let mut tags: Vec<String> = self.tags.iter().filter_map(|t| clean_tag(t)).collect();
        tags.sort();
        tags.dedup();
        if tags.len() > MAX_TAGS {
            return Err(invalid(format!("at most {MAX_TAGS} tags")));
        }
        self.tags = tags;
        self.license = text::plain_text(&self.license, 100);
        if self.license.is_empty() {
            self.license = DEFAULT_LICENSE.to_owned();
        }
        self.place = self.place.map(Place::validated).transpose()?.flatten();
        Ok(self)
    }

    /// The whole item as sanitised HTML: the summary, then each field under
    /// its heading, then the resources. This is what other servers show.
    pub fn to_html(&self, kind: Kind) -> String {
        let page = ItemHtml {
            summary: &self.summary,
            unit: self.unit.as_deref(),
            happened: self.happened.as_deref(),
            place: self
                .place
                .as_ref()
                .map(|p| p.name.as_str())
                .filter(|name| !name.is_empty()),
            sections: kind
                .fields()
                .iter()
                .filter_map(|(key, label)| Some((*label, text::markdown_to_html(self.fields.get(*key)?))))
                .collect(),
            resources: &self.resources,
        };
        // Rendering into a String fails only if a Display impl does, and
        // every value here is a string.
        text::sanitize_html(&page.render().unwrap_or_default())
    }

    /// The item as one Markdown file, for people and for other tools: a
    /// front matter block (YAML; every value is written as JSON, which YAML
    /// reads too) with the item's data and `extra` (its id, author, …), then
    /// its parts as sections.
    pub fn to_markdown(&self, kind: Kind, extra: &[(&str, Value)]) -> String {
        let mut front: Vec<(&str, Value)> = vec![
            ("kind", Value::from(kind.as_str())),
            ("title", Value::from(self.title.as_str())),
            ("summary", Value::from(self.summary.as_str())),
            ("license", Value::from(self.license.as_str())),
        ];
        if !self.tags.is_empty() {
            front.push(("tags", Value::from(self.tags.clone())));
        }
        if let Some(unit) = &self.unit {
            front.push(("unit", Value::from(unit.as_str())));
        }
        if let Some(happened) = &self.happened {
            front.push(("happened", Value::from(happened.as_str())));
        }
        if let Some(place) = &self.place {
            front.push(("place", serde_json::to_value(place).unwrap_or(Value::Null)));
        }
        front.extend(extra.iter().cloned());
        let mut out = String::from("---\n");
        for (key, value) in front {
            out.push_str(&format!("{key}: {value}\n"));
        }
        out.push_str(&format!("---\n\n# {}\n\n", one_line(&self.title)));
        out.push_str(&self.body_markdown(kind));
        out
    }

    /// The item below its title as Markdown: the summary, each part under
    /// its heading, the resources and the related items.
    pub fn body_markdown(&self, kind: Kind) -> String {
        let mut out = format!("{}\n", self.summary.trim());
        for (key, label) in kind.fields() {
            if let Some(markdown) = self.fields.get(*key) {
                out.push_str(&format!("\n## {label}\n\n{}\n", markdown.trim_end()));
            }
        }
        if !self.resources.is_empty() {
            out.push_str("\n## Resources\n\n");
            for resource in &self.resources {
                out.push_str(&format!(
                    "- [{}](<{}>)\n",
                    one_line(&resource.title).replace(['[', ']'], ""),
                    resource.href.replace(['<', '>', ' '], "")
                ));
            }
        }
        if !self.relations.is_empty() {
            out.push_str("\n## Related\n\n");
            for relation in &self.relations {
                out.push_str(&format!("- {}: <{}>\n", relation.kind.label(), relation.target));
            }
        }
        out
    }

    /// The words full-text search indexes: title, summary, fields, tags and
    /// place, lowercased, split on anything that is not a letter or digit.
    pub fn search_document(&self) -> String {
        let mut all = vec![self.title.as_str(), self.summary.as_str()];
        all.extend(self.fields.values().map(String::as_str));
        all.extend(self.tags.iter().map(String::as_str));
        all.extend(self.unit.as_deref());
        all.extend(self.place.as_ref().map(|p| p.name.as_str()));
        search_words(&all.join(" ")).join(" ")
    }

    /// As a JSON object, for field-wise comparison.
    fn as_map(&self) -> serde_json::Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }
}

/// Lowercase words of letters and digits, in order: the one tokenizer both
/// databases' full-text indexes see, so they find the same items.
pub fn search_words(raw: &str) -> Vec<String> {
    raw.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "op", content = "text")]
pub enum DiffLine {
    Same(String),
    Added(String),
    Removed(String),
}

/// The changed lines of one part of an item between two revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    pub field: String,
    pub lines: Vec<DiffLine>,
}

/// What changed from `old` to `new`, part by part (title, summary, each field,
/// resources, relations, tags, license, place), line by line.
pub fn diff(old: &Content, new: &Content) -> Vec<FieldDiff> {
    let (old, new) = (old.as_map(), new.as_map());
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    let mut push = |field: String, before: Option<&Value>, after: Option<&Value>| {
        if before == after {
            return;
        }
        out.push(FieldDiff {
            field,
            lines: diff_lines(&lines_of(before), &lines_of(after)),
        });
    };
    for key in keys {
        if key == "fields" {
            let empty = serde_json::Map::new();
            let before = old.get(key).and_then(Value::as_object).unwrap_or(&empty);
            let after = new.get(key).and_then(Value::as_object).unwrap_or(&empty);
            let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
            names.sort();
            names.dedup();
            for name in names {
                push(name.clone(), before.get(name), after.get(name));
            }
        } else {
            push(key.clone(), old.get(key), new.get(key));
        }
    }
    out
}

fn lines_of(value: Option<&Value>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.lines().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items.iter().map(compact).collect(),
        Some(other) => vec![compact(other)],
    }
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) => map.values().map(compact).collect::<Vec<_>>().join(" · "),
        other => other.to_string(),
    }
}

/// A line diff by `similar` (Myers: a shortest edit script, as the
/// longest common subsequence gave). The deadline bounds the time a huge
/// item can take; past it the diff is coarser but still correct.
fn diff_lines(old: &[String], new: &[String]) -> Vec<DiffLine> {
    let deadline = Instant::now() + Duration::from_millis(250);
    similar::capture_diff_slices_deadline(similar::Algorithm::Myers, old, new, Some(deadline))
        .iter()
        .flat_map(|op| op.iter_changes(old, new))
        .map(|change| match change.tag() {
            similar::ChangeTag::Equal => DiffLine::Same(change.value()),
            similar::ChangeTag::Insert => DiffLine::Added(change.value()),
            similar::ChangeTag::Delete => DiffLine::Removed(change.value()),
        })
        .collect()
}

/// The result of pulling upstream changes into a fork.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub content: Content,
    /// Parts changed both upstream and in the fork: the fork's text was kept.
    pub conflicts: Vec<String>,
    /// Parts taken from upstream.
    pub taken: Vec<String>,
}

/// Three-way merge, part by part: where only upstream changed a part since
/// `base` (the revision the fork last took), take upstream's; where only the
/// fork changed it, keep the fork's; where both did, keep the fork's and
/// report a conflict.
pub fn merge(base: &Content, ours: &Content, theirs: &Content) -> Merged {
    let (base_map, mut our_map, their_map) = (base.as_map(), ours.as_map(), theirs.as_map());
    let mut conflicts = Vec::new();
    let mut taken = Vec::new();
    let mut keys: Vec<String> = base_map
        .keys()
        .chain(our_map.keys())
        .chain(their_map.keys())
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        if key == "fields" {
            let empty = serde_json::Map::new();
            let base_fields = base_map.get(&key).and_then(Value::as_object).unwrap_or(&empty);
            let their_fields = their_map.get(&key).and_then(Value::as_object).unwrap_or(&empty);
            let mut our_fields = our_map
                .get(&key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut names: Vec<String> = base_fields
                .keys()
                .chain(our_fields.keys())
                .chain(their_fields.keys())
                .cloned()
                .collect();
            names.sort();
            names.dedup();
            for name in names {
                merge_one(
                    &name,
                    base_fields.get(&name),
                    their_fields.get(&name),
                    &mut our_fields,
                    &mut conflicts,
                    &mut taken,
                );
            }
            our_map.insert(key, Value::Object(our_fields));
        } else {
            let (base_value, their_value) = (base_map.get(&key).cloned(), their_map.get(&key).cloned());
            merge_one(
                &key,
                base_value.as_ref(),
                their_value.as_ref(),
                &mut our_map,
                &mut conflicts,
                &mut taken,
            );
        }
    }
    let content = serde_json::from_value(Value::Object(our_map)).unwrap_or_else(|_| ours.clone());
    Merged {
        content,
        conflicts,
        taken,
    }
}

fn merge_one(
    key: &str,
    base: Option<&Value>,
    theirs: Option<&Value>,
    ours: &mut serde_json::Map<String, Value>,
    conflicts: &mut Vec<String>,
    taken: &mut Vec<String>,
) {
    let our_value = ours.get(key).cloned();
    if theirs == base || theirs == our_value.as_ref() {
        return;
    }
    if our_value.as_ref() == base {
        match theirs {
            Some(value) => ours.insert(key.to_owned(), value.clone()),
            None => ours.remove(key),
        };
        taken.push(key.to_owned());
    } else {
        conflicts.push(key.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(solution: &str, forces: &str) -> Content {
        Content {
            title: "Walking group".into(),
            summary: "Neighbours walk together weekly.".into(),
            fields: [
                ("solution".to_owned(), solution.to_owned()),
                ("forces".to_owned(), forces.to_owned()),
            ]
            .into(),
            license: DEFAULT_LICENSE.into(),
            ..Default::default()
        }
    }

    #[test]
    fn markdown_export_has_front_matter_in_json_values_and_the_parts_in_order() {
        let mut item = pattern("Walk **together**.", "Time\nWeather");
        item.title = "Walking\ngroup: \"Mondays\"".into();
        item.tags = vec!["walking".into()];
        item.resources.push(Resource {
            title: "The [guide]".into(),
            href: "https://guide.example/walks".into(),
        });
        let markdown = item.to_markdown(
            Kind::Pattern,
            &[("id", Value::from("https://a.example/garden/1"))],
        );
        let (front, body) = markdown
            .strip_prefix("---\n")
            .and_then(|rest| rest.split_once("---\n"))
            .expect("front matter");
        // Every value parses as JSON, so a title with a colon or quotes is safe.
        for line in front.lines() {
            let (_, value) = line.split_once(": ").expect("key: value");
            serde_json::from_str::<Value>(value).expect(line);
        }
        assert!(front.contains("title: \"Walking\\ngroup: \\\"Mondays\\\"\"\n"));
        assert!(front.contains("id: \"https://a.example/garden/1\""));
        assert!(body.starts_with("\n# Walking group: \"Mondays\"\n"));
        let forces = body.find("## Forces").expect("forces");
        let solution = body.find("## Solution").expect("solution");
        assert!(forces < solution, "in the kind's order: {body}");
        assert!(body.contains("- [The guide](<https://guide.example/walks>)"));
    }

    #[test]
    fn validation_refuses_unknown_fields_bad_links_and_wrong_relations() {
        let mut unknown = pattern("a", "b");
        unknown.fields.insert("unit".into(), "x".into());
        assert!(unknown.validated(Kind::Pattern).is_err());

        let mut link = pattern("a", "b");
        link.resources.push(Resource {
            title: "x".into(),
            href: "javascript:alert(1)".into(),
        });
        assert!(
            link.validated(Kind::Pattern)
                .expect_err("a javascript link")
                .0
                .contains("http")
        );

        let mut relation = pattern("a", "b");
        relation.relations.push(Relation {
            kind: RelationKind::MeasuredBy,
            target: "https://a.example/garden/1".into(),
        });
        assert!(relation.validated(Kind::Pattern).is_err());

        let mut tags = pattern("a", "b");
        tags.tags = vec!["#Walking".into(), "walking".into(), "  ".into()];
        tags.title = "  Walking\u{202e} group ".into();
        let clean = tags.validated(Kind::Pattern).expect("valid");
        assert_eq!(clean.tags, vec!["walking".to_owned()]);
        assert_eq!(clean.title, "Walking group");
    }

    #[test]
    fn html_is_sanitised_and_has_every_section() {
        let item = pattern("Meet at <script>alert(1)</script> **nine**", "Weather");
        let html = item.to_html(Kind::Pattern);
        assert!(!html.contains("<script"));
        assert!(html.contains("<strong>nine</strong>"));
        assert!(html.find("Forces").expect("forces") < html.find("Solution").expect("solution"));
    }

    #[test]
    fn html_escapes_hostile_values_and_keeps_the_order_of_parts() {
        let mut item = pattern("**one**", "two");
        item.summary = r#"<b>"Hi" & 'bye'</b><script>x()</script>"#.into();
        item.unit = Some("<i>kg</i>".into());
        item.happened = Some("2025 & after".into());
        item.place = Some(Place {
            name: "Park <x>".into(),
            latitude: None,
            longitude: None,
        });
        item.resources.push(Resource {
            title: r#""><script>alert(1)</script>"#.into(),
            href: r#"https://a.test/?q="x"&y=<z>"#.into(),
        });
        assert_eq!(
            item.to_html(Kind::Pattern),
            concat!(
                r#"<p>&lt;b&gt;"Hi" &amp; 'bye'&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt;</p>"#,
                "<p><strong>Unit:</strong> &lt;i&gt;kg&lt;/i&gt;</p>",
                "<p><strong>When:</strong> 2025 &amp; after</p>",
                "<p><strong>Where:</strong> Park &lt;x&gt;</p>",
                "<h2>Forces</h2><p>two</p><h2>Solution</h2><p><strong>one</strong></p>",
                r#"<h2>Resources</h2><ul><li><a href="https://a.test/?q=&quot;x&quot;&amp;y=&lt;z&gt;" "#,
                r#"rel="nofollow noopener noreferrer ugc">"&gt;&lt;script&gt;alert(1)&lt;/script&gt;</a></li></ul>"#,
            )
        );
    }

    #[test]
    fn diff_shows_changed_lines_only_for_changed_parts() {
        let old = pattern("one\ntwo\nthree", "same");
        let new = pattern("one\n2\nthree", "same");
        let changes = diff(&old, &new);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "solution");
        assert_eq!(
            changes[0].lines,
            vec![
                DiffLine::Same("one".into()),
                DiffLine::Removed("two".into()),
                DiffLine::Added("2".into()),
                DiffLine::Same("three".into()),
            ]
        );
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    /// Both sides read back from a diff: old is `Same` + `Removed`, new is
    /// `Same` + `Added`, in order.
    fn sides(diff: &[DiffLine]) -> (Vec<String>, Vec<String>) {
        let (mut old, mut new) = (Vec::new(), Vec::new());
        for line in diff {
            match line {
                DiffLine::Same(t) => {
                    old.push(t.clone());
                    new.push(t.clone());
                }
                DiffLine::Removed(t) => old.push(t.clone()),
                DiffLine::Added(t) => new.push(t.clone()),
            }
        }
        (old, new)
    }

    #[test]
    fn line_diffs_are_shortest_and_give_back_both_sides() {
        use DiffLine::{Added as A, Removed as R, Same as S};
        let cases: [(&str, &str, Vec<DiffLine>); 6] = [
            ("", "", vec![]),
            ("", "a\nb", vec![A("a".into()), A("b".into())]),
            ("a\nb", "", vec![R("a".into()), R("b".into())]),
            (
                "a\nb\nc",
                "x\na\nb\nc",
                vec![A("x".into()), S("a".into()), S("b".into()), S("c".into())],
            ),
            (
                "a\nb\nc",
                "a\nc",
                vec![S("a".into()), R("b".into()), S("c".into())],
            ),
            (
                "a\nb",
                "c\nd",
                vec![R("a".into()), R("b".into()), A("c".into()), A("d".into())],
            ),
        ];
        for (old, new, expected) in cases {
            let diff = diff_lines(&lines(old), &lines(new));
            assert_eq!(diff, expected, "{old:?} → {new:?}");
            assert_eq!(sides(&diff), (lines(old), lines(new)));
        }
        let old: Vec<String> = (0..20_000).map(|i| format!("line {i}")).collect();
        let new: Vec<String> = (0..20_000).map(|i| format!("line {}", i * 7 % 20_001)).collect();
        let diff = diff_lines(&old, &new);
        assert_eq!(sides(&diff), (old, new));
    }

    #[test]
    fn merge_takes_upstream_where_the_fork_did_not_change_and_reports_conflicts() {
        let base = pattern("base solution", "base forces");
        let mut ours = pattern("base solution", "our forces");
        ours.tags = vec!["ours".into()];
        let mut theirs = pattern("their solution", "their forces");
        theirs.title = "Walking groups".into();
        let merged = merge(&base, &ours, &theirs);
        assert_eq!(merged.content.fields["solution"], "their solution");
        assert_eq!(merged.content.fields["forces"], "our forces");
        assert_eq!(merged.content.title, "Walking groups");
        assert_eq!(merged.content.tags, vec!["ours".to_owned()]);
        assert_eq!(merged.conflicts, vec!["forces".to_owned()]);
        assert!(merged.taken.contains(&"solution".to_owned()));
    }

    #[test]
    fn search_words_split_like_both_indexes() {
        assert_eq!(
            search_words("Self-help, Café; 24/7!"),
            vec!["self", "help", "café", "24", "7"]
        );
    }
}
