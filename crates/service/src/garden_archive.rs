//! No lock-in: a garden item as Markdown, the whole garden as a zip of
//! Markdown (for people) and `garden.json` (for machines), and the import of
//! such a zip into another node. An imported item is a fork of the item it
//! was exported from: it keeps the whole provenance chain, can see what
//! changed upstream and pull it, and its origin hears of it like of a fork.

use crate::{
    NodeContext, ServiceError, ServiceResult,
    accounts::Account,
    garden::{self, Origin, Planted},
    policy::{self, Viewer},
    publish::Publisher,
};
use chrono::{DateTime, Utc};
use healthcommons_core::garden::ItemStatus;
use healthcommons_core::garden::{Content, Kind};
use healthcommons_db::{
    entities::{actor, garden_item},
    queries,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{Cursor, Read, Write};
use url::Url;

/// What `garden.json` says it is.
pub const FORMAT: &str = "healthcommons-garden";
pub const VERSION: u32 = 1;
/// The biggest `garden.json` read from an archive, uncompressed.
pub const MAX_JSON: u64 = 64 * 1024 * 1024;
pub const MAX_ITEMS: usize = 10_000;

/// `garden.json`: the node it came from and every item, with its content as
/// the node stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Archive {
    pub format: String,
    pub version: u32,
    /// The base URL of the node that exported it.
    pub node: String,
    pub exported_at: DateTime<Utc>,
    pub items: Vec<ArchivedItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedItem {
    /// Its ActivityPub id where it was exported from.
    pub id: String,
    pub url: Option<String>,
    pub kind: String,
    /// `@name@host` of its author.
    pub author: Option<String>,
    pub group: Option<String>,
    pub revision: i32,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
    /// Where it came from before that, oldest first.
    #[serde(default)]
    pub provenance: Vec<Origin>,
    pub content: Content,
    /// Its Markdown file in the zip.
    pub markdown: String,
}

/// One item as a Markdown file: its content, with its id, author and
/// provenance in the front matter.
pub fn item_markdown(item: &garden_item::Model, author: Option<&actor::Model>) -> ServiceResult<String> {
    let kind = item.kind;
    let content = garden::parse_content(item)?;
    let mut extra = vec![
        ("id", Value::from(item.ap_id.as_str())),
        ("revision", Value::from(item.revision)),
        ("published", Value::from(item.published.to_rfc3339())),
    ];
    if let Some(url) = &item.url {
        extra.push(("url", Value::from(url.as_str())));
    }
    if let Some(author) = author {
        extra.push(("author", Value::from(author.handle())));
    }
    let provenance = garden::provenance_of(item);
    if !provenance.is_empty() {
        extra.push((
            "provenance",
            serde_json::to_value(&provenance).map_err(|e| ServiceError::Internal(e.to_string()))?,
        ));
    }
    Ok(content.to_markdown(kind, &extra))
}

/// The name of an item's Markdown file: its number here and its title.
pub fn markdown_file_name(item: &garden_item::Model) -> String {
    format!("{}-{}.md", item.id, slug(&item.title))
}

/// A file name from a title: lowercase ASCII words joined by `-`.
fn slug(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut slug = String::new();
    for word in words {
        if slug.len() + word.len() > 60 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word);
    }
    if slug.is_empty() { "item".into() } else { slug }
}

const ARCHIVE_README: &str = "A Health Commons garden, exported.\n\n\
`items/` holds every published item of the node as Markdown, one file each, \
with its id, author and provenance in the front matter.\n\
`garden.json` holds the same items as data: import this zip into another \
Health Commons node (Garden → Import) and each item becomes a fork there, \
keeping where it came from.\n";

fn zip_error(err: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("writing the garden zip: {err}"))
}

/// The node's published items that anyone may see, as a zip of Markdown and
/// `garden.json`. Members-only items are never exported: an archive carries
/// no visibility, and an import would plant them in the open.
pub async fn export(db: &impl ConnectionTrait, ctx: &NodeContext) -> ServiceResult<Vec<u8>> {
    let scope = policy::read_scope(db, Viewer::Anonymous).await?;
    let items: Vec<garden_item::Model> = queries::garden::local_items(db, &scope)
        .await?
        .into_iter()
        .filter(|i| i.status == ItemStatus::Published)
        .collect();
    let actors = queries::actors::map_by_ids(
        db,
        items
            .iter()
            .flat_map(|i| [i.author_id, i.group_id])
            .flatten()
            .collect(),
    )
    .await?;
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut archived = Vec::with_capacity(items.len());
    for item in &items {
        let author = item.author_id.and_then(|id| actors.get(&id));
        let folder = match item.kind {
            Kind::Pattern => "patterns",
            Kind::Metric => "metrics",
            Kind::Story => "stories",
        };
        let path = format!("items/{folder}/{}", markdown_file_name(item));
        zip.start_file(path.as_str(), options).map_err(zip_error)?;
        zip.write_all(item_markdown(item, author)?.as_bytes())
            .map_err(zip_error)?;
        archived.push(ArchivedItem {
            id: item.ap_id.clone(),
            url: item.url.clone(),
            kind: item.kind.as_str().to_owned(),
            author: author.map(actor::Model::handle),
            group: item
                .group_id
                .and_then(|id| actors.get(&id))
                .map(actor::Model::handle),
            revision: item.revision,
            published: item.published,
            updated: item.updated_at,
            provenance: garden::provenance_of(item),
            content: garden::parse_content(item)?,
            markdown: path,
        });
    }
    let archive = Archive {
        format: FORMAT.into(),
        version: VERSION,
        node: ctx.urls.base().to_owned(),
        exported_at: Utc::now(),
        items: archived,
    };
    zip.start_file("garden.json", options).map_err(zip_error)?;
    serde_json::to_writer_pretty(&mut zip, &archive).map_err(zip_error)?;
    zip.start_file("README.md", options).map_err(zip_error)?;
    zip.write_all(ARCHIVE_README.as_bytes()).map_err(zip_error)?;
    Ok(zip.finish().map_err(zip_error)?.into_inner())
}

/// Read `garden.json` from an uploaded zip, refusing what is not one of
/// ours, too big, or of a version we do not know.
pub fn read_archive(bytes: &[u8]) -> ServiceResult<Archive> {
    let not_ours = |why: String| ServiceError::validation(format!("not a garden export: {why}"));
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| not_ours(format!("not a zip ({e})")))?;
    let file = zip
        .by_name("garden.json")
        .map_err(|_| not_ours("it has no garden.json".into()))?;
    if file.size() > MAX_JSON {
        return Err(ServiceError::validation("garden.json is larger than 64 MiB"));
    }
    let mut json = Vec::new();
    // The size in the header may lie: read no more than the limit.
    file.take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| not_ours(format!("garden.json cannot be read ({e})")))?;
    if json.len() as u64 > MAX_JSON {
        return Err(ServiceError::validation("garden.json is larger than 64 MiB"));
    }
    let archive: Archive =
        serde_json::from_slice(&json).map_err(|e| not_ours(format!("garden.json does not parse ({e})")))?;
    if archive.format != FORMAT {
        return Err(not_ours(format!("its format is {:?}", archive.format)));
    }
    if archive.version != VERSION {
        return Err(ServiceError::validation(format!(
            "this node reads garden exports of version {VERSION}, not {}",
            archive.version
        )));
    }
    if archive.items.len() > MAX_ITEMS {
        return Err(ServiceError::validation(format!(
            "an import takes at most {MAX_ITEMS} items"
        )));
    }
    Ok(archive)
}

/// What became of one archived item.
#[derive(Debug, Clone)]
pub enum Imported {
    /// Now in this garden as a fork of `from`.
    Added {
        from: String,
        /// Its ActivityPub id here.
        id: String,
        /// Its row here, for a link to its page.
        local_id: i64,
        title: String,
    },
    Skipped {
        from: String,
        reason: String,
    },
}

/// Garden archives as the API and the pages see them.
pub struct GardenArchive<'p>(pub(crate) &'p crate::Processor);

impl GardenArchive<'_> {
    /// A node that does not answer is asked once.
    async fn learn_origins(&self, archive: &Archive) {
        let mut unreachable: std::collections::HashSet<String> = std::collections::HashSet::new();
        for item in &archive.items {
            let Ok(url) = url::Url::parse(&item.id) else {
                continue;
            };
            let host = url.host_str().unwrap_or_default().to_owned();
            if unreachable.contains(&host) {
                continue;
            }
            if let Err(err) = self.0.resolver().garden_item(&item.id).await {
                tracing::debug!(%err, origin = %item.id, "an imported item's origin could not be fetched");
                unreachable.insert(host);
            }
        }
    }

    /// Import every item of `archive` as a fork by `account`, each in its own
    /// transaction: one refused item does not stop the rest. The items'
    /// origins are fetched first where they can be reached, so that each
    /// import is a fork its origin hears of.
    pub async fn import(&self, account: &Account, archive: Archive) -> ServiceResult<Vec<Imported>> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        self.learn_origins(&archive).await;
        let mut report = Vec::with_capacity(archive.items.len());
        for archived in archive.items {
            let from = archived.id.clone();
            let outcome = match import_one(db, ctx, publisher, account, archived).await {
                Ok(item) => Imported::Added {
                    from,
                    id: item.ap_id,
                    local_id: item.id,
                    title: item.title,
                },
                Err(ServiceError::Rejected { message, .. }) => Imported::Skipped {
                    from,
                    reason: message,
                },
                Err(other) => return Err(other),
            };
            report.push(outcome);
        }
        Ok(report)
    }
}

async fn import_one(
    db: &DatabaseConnection,
    ctx: &NodeContext,
    publisher: &dyn Publisher,
    account: &Account,
    archived: ArchivedItem,
) -> ServiceResult<garden_item::Model> {
    let origin = Url::parse(&archived.id)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| ServiceError::validation("its id is not an http(s) URL"))?;
    let kind = Kind::parse(&archived.kind)
        .ok_or_else(|| ServiceError::validation(format!("unknown kind {:?}", archived.kind)))?;
    let content = garden::validated(archived.content, kind)?;
    if queries::garden::by_ap_id(db, origin.as_str())
        .await?
        .is_some_and(|i| i.local && i.deleted_at.is_none())
    {
        return Err(ServiceError::validation("it is this node's own item"));
    }
    if queries::garden::forks_of(db, origin.as_str())
        .await?
        .iter()
        .any(|f| f.local && f.deleted_at.is_none())
    {
        return Err(ServiceError::validation("it is already in this garden"));
    }
    let revision = archived.revision.max(1);
    let by = archived
        .author
        .as_deref()
        .map(|a| format!(" by {a}"))
        .unwrap_or_default();
    let message = garden::clean_message(
        None,
        &format!(
            "Imported from {} (revision {revision}{by})",
            archived.url.as_deref().unwrap_or(origin.as_str())
        ),
    );
    garden::plant_fork(
        db,
        ctx,
        publisher,
        account,
        Planted {
            kind,
            content,
            chain: archived.provenance,
            origin: Origin {
                id: origin.to_string(),
                revision,
            },
            message,
            // An archive carries only what its exporter could see publicly.
            kept_among: None,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_ascii_and_never_empty() {
        assert_eq!(
            slug("Walking prescriptions: GPs & walks"),
            "walking-prescriptions-gps-walks"
        );
        assert_eq!(slug("Zürich café"), "z-rich-caf");
        assert_eq!(slug("¿¡!"), "item");
        assert!(slug(&"word ".repeat(40)).len() <= 60);
    }

    #[test]
    fn an_upload_that_is_not_our_zip_is_refused_with_the_reason() {
        let refused = |bytes: &[u8]| read_archive(bytes).expect_err("refused").public_message();
        assert!(refused(b"not a zip at all").contains("not a zip"));

        let zip_with = |name: &str, body: &str| {
            let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("file");
            zip.write_all(body.as_bytes()).expect("write");
            zip.finish().expect("finish").into_inner()
        };
        assert!(refused(&zip_with("notes.txt", "hi")).contains("no garden.json"));
        assert!(refused(&zip_with("garden.json", "{")).contains("does not parse"));
        let other = r#"{"format":"something-else","version":1,"node":"https://a.example","exported_at":"2026-11-24T00:00:00Z","items":[]}"#;
        assert!(refused(&zip_with("garden.json", other)).contains("something-else"));
        let future = other
            .replace("something-else", FORMAT)
            .replace("\"version\":1", "\"version\":9");
        assert!(refused(&zip_with("garden.json", &future)).contains("version 1, not 9"));
        let fine = other.replace("something-else", FORMAT);
        assert!(read_archive(&zip_with("garden.json", &fine)).is_ok());
    }
}
