//! The knowledge garden: items, their revisions, tags and relations,
//! adoptions, and the full-text index.

use crate::{
    DbResult,
    entities::{adoption, garden_item, garden_relation, garden_revision, garden_tag},
    queries::audience::ReadScope,
    queries::posts::Page,
};
use chrono::{DateTime, Utc};
use healthcommons_core::garden::ItemStatus;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
    sea_query::{Expr, ExprTrait, Func},
};

/// How many matches a search ranks at most: far more than any garden holds
/// today; a bound on the work one query can ask for.
pub const MAX_CANDIDATES: u64 = 50_000;

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<garden_item::Model>> {
    Ok(garden_item::Entity::find()
        .filter(garden_item::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<garden_item::Model>> {
    Ok(garden_item::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: Vec<i64>) -> DbResult<Vec<garden_item::Model>> {
    Ok(garden_item::Entity::find()
        .filter(garden_item::Column::Id.is_in(ids))
        .all(db)
        .await?)
}

pub async fn by_ap_ids(db: &impl ConnectionTrait, ap_ids: Vec<String>) -> DbResult<Vec<garden_item::Model>> {
    Ok(garden_item::Entity::find()
        .filter(garden_item::Column::ApId.is_in(ap_ids))
        .all(db)
        .await?)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    row: garden_item::ActiveModel,
) -> DbResult<garden_item::Model> {
    Ok(row.insert(db).await?)
}

pub async fn update(
    db: &impl ConnectionTrait,
    row: garden_item::ActiveModel,
) -> DbResult<garden_item::Model> {
    Ok(row.update(db).await?)
}

pub async fn add_revision(
    db: &impl ConnectionTrait,
    item_id: i64,
    number: i32,
    author_id: Option<i64>,
    message: &str,
    content: &str,
    at: DateTime<Utc>,
) -> DbResult<garden_revision::Model> {
    Ok(garden_revision::ActiveModel {
        item_id: Set(item_id),
        number: Set(number),
        author_id: Set(author_id),
        message: Set(message.to_owned()),
        content: Set(content.to_owned()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Every revision of an item, newest first.
pub async fn revisions(db: &impl ConnectionTrait, item_id: i64) -> DbResult<Vec<garden_revision::Model>> {
    Ok(garden_revision::Entity::find()
        .filter(garden_revision::Column::ItemId.eq(item_id))
        .order_by_desc(garden_revision::Column::Number)
        .all(db)
        .await?)
}

pub async fn revision(
    db: &impl ConnectionTrait,
    item_id: i64,
    number: i32,
) -> DbResult<Option<garden_revision::Model>> {
    Ok(garden_revision::Entity::find()
        .filter(garden_revision::Column::ItemId.eq(item_id))
        .filter(garden_revision::Column::Number.eq(number))
        .one(db)
        .await?)
}

/// Replace an item's tags, relations and search words with the current revision's.
pub async fn index_item(
    db: &impl ConnectionTrait,
    item_id: i64,
    tags: &[String],
    relations: &[(healthcommons_core::garden::RelationKind, String)],
    search_document: &str,
) -> DbResult<()> {
    garden_tag::Entity::delete_many()
        .filter(garden_tag::Column::ItemId.eq(item_id))
        .exec(db)
        .await?;
    for name in tags {
        garden_tag::ActiveModel {
            item_id: Set(item_id),
            name: Set(name.clone()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    garden_relation::Entity::delete_many()
        .filter(garden_relation::Column::ItemId.eq(item_id))
        .exec(db)
        .await?;
    for (kind, target) in relations {
        garden_relation::ActiveModel {
            item_id: Set(item_id),
            kind: Set(*kind),
            target: Set(target.clone()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    set_search_document(db, item_id, search_document).await
}

/// Put an item's words into the full-text index. The words are used as they
/// are, never parsed again by the database, so both backends index the same.
async fn set_search_document(db: &impl ConnectionTrait, item_id: i64, document: &str) -> DbResult<()> {
    let backend = db.get_database_backend();
    let mut words: Vec<&str> = document.split(' ').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    words.dedup();
    let words = words.join(" ");
    match backend {
        DbBackend::Postgres => {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO garden_search (item_id, document) \
                 VALUES ($1, array_to_tsvector(string_to_array($2, ' '))) \
                 ON CONFLICT (item_id) DO UPDATE SET document = EXCLUDED.document",
                [item_id.into(), words.into()],
            ))
            .await?;
        }
        _ => {
            remove_from_search(db, item_id).await?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO garden_search (rowid, document) VALUES (?, ?)",
                [item_id.into(), words.into()],
            ))
            .await?;
        }
    }
    Ok(())
}

pub async fn remove_from_search(db: &impl ConnectionTrait, item_id: i64) -> DbResult<()> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "DELETE FROM garden_search WHERE item_id = $1",
        _ => "DELETE FROM garden_search WHERE rowid = ?",
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, [item_id.into()]))
        .await?;
    Ok(())
}

/// The condition "the item's indexed words match all of `words` (each as a
/// prefix)", as a subquery on the full-text index. `words` hold letters and
/// digits only (core::garden::search_words), so quoting each makes a query
/// neither syntax can misread.
fn full_text_match(backend: DbBackend, words: &[String]) -> sea_orm::sea_query::SimpleExpr {
    match backend {
        DbBackend::Postgres => {
            let query = words
                .iter()
                .map(|w| format!("'{w}':*"))
                .collect::<Vec<_>>()
                .join(" & ");
            Expr::cust_with_values(
                "garden_item.id IN (SELECT item_id FROM garden_search WHERE document @@ CAST($1 AS tsquery))",
                [query],
            )
        }
        _ => {
            let query = words
                .iter()
                .map(|w| format!("\"{w}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            Expr::cust_with_values(
                "garden_item.id IN (SELECT rowid FROM garden_search WHERE garden_search MATCH ?)",
                [query],
            )
        }
    }
}

/// What a listing or a search asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Search words (see `core::garden::search_words`); empty lists everything.
    pub words: Vec<String>,
    pub kind: Option<healthcommons_core::garden::Kind>,
    pub tag: Option<String>,
    /// Part of a place name, any case.
    pub place: Option<String>,
    /// `Some(author)`: that author's drafts instead of published items.
    pub drafts_of: Option<i64>,
    /// Who is reading (see the service's policy module).
    pub scope: ReadScope,
}

/// The items `scope` may read.
pub(crate) fn scope_of(backend: DbBackend, scope: &ReadScope) -> Condition {
    scope.condition(
        backend,
        garden_item::Column::Visibility,
        garden_item::Column::GroupId,
        garden_item::Column::AuthorId,
    )
}

/// Every condition of `filter` in one query, the full-text match included,
/// so that a limit applies to what matches all of them.
fn filtered(backend: DbBackend, filter: &Filter) -> sea_orm::Select<garden_item::Entity> {
    let mut query = garden_item::Entity::find()
        .filter(garden_item::Column::DeletedAt.is_null())
        .filter(scope_of(backend, &filter.scope));
    if !filter.words.is_empty() {
        query = query.filter(full_text_match(backend, &filter.words));
    }
    query = match filter.drafts_of {
        Some(author) => query
            .filter(garden_item::Column::Status.eq(ItemStatus::Draft))
            .filter(garden_item::Column::AuthorId.eq(author)),
        None => query.filter(garden_item::Column::Status.eq(ItemStatus::Published)),
    };
    if let Some(kind) = &filter.kind {
        query = query.filter(garden_item::Column::Kind.eq(kind.as_str()));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(
            garden_item::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(garden_tag::Column::ItemId)
                    .from(garden_tag::Entity)
                    .and_where(garden_tag::Column::Name.eq(tag.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(place) = filter.place.as_deref().filter(|p| !p.is_empty()) {
        let pattern = format!("%{}%", place.to_lowercase().replace(['%', '_'], ""));
        query = query.filter(
            Condition::all()
                .add(Expr::expr(Func::lower(Expr::col(garden_item::Column::PlaceName))).like(pattern)),
        );
    }
    query
}

/// Items matching `filter`, newest first, one page. Deleted items never appear.
pub async fn find(
    db: &impl ConnectionTrait,
    filter: &Filter,
    page: Page,
) -> DbResult<Vec<garden_item::Model>> {
    Ok(filtered(db.get_database_backend(), filter)
        .order_by_desc(garden_item::Column::Published)
        .order_by_desc(garden_item::Column::Id)
        .offset(page.offset())
        .limit(page.size)
        .all(db)
        .await?)
}

/// What a search ranks an item by: only these columns, so that thousands of
/// matches are ranked without loading their content.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct Candidate {
    pub id: i64,
    pub title: String,
    pub summary: String,
    pub published: DateTime<Utc>,
}

/// Every item matching `filter` (up to [`MAX_CANDIDATES`], newest first), to rank.
pub async fn search_candidates(db: &impl ConnectionTrait, filter: &Filter) -> DbResult<Vec<Candidate>> {
    Ok(filtered(db.get_database_backend(), filter)
        .select_only()
        .column(garden_item::Column::Id)
        .column(garden_item::Column::Title)
        .column(garden_item::Column::Summary)
        .column(garden_item::Column::Published)
        .order_by_desc(garden_item::Column::Published)
        .order_by_desc(garden_item::Column::Id)
        .limit(MAX_CANDIDATES)
        .into_model::<Candidate>()
        .all(db)
        .await?)
}

pub async fn tags_of(db: &impl ConnectionTrait, item_ids: Vec<i64>) -> DbResult<Vec<garden_tag::Model>> {
    Ok(garden_tag::Entity::find()
        .filter(garden_tag::Column::ItemId.is_in(item_ids))
        .order_by_asc(garden_tag::Column::Name)
        .all(db)
        .await?)
}

pub async fn relations_of(db: &impl ConnectionTrait, item_id: i64) -> DbResult<Vec<garden_relation::Model>> {
    Ok(garden_relation::Entity::find()
        .filter(garden_relation::Column::ItemId.eq(item_id))
        .order_by_asc(garden_relation::Column::Id)
        .all(db)
        .await?)
}

/// Relations from other items that point at `ap_id`.
pub async fn relations_to(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Vec<garden_relation::Model>> {
    Ok(garden_relation::Entity::find()
        .filter(garden_relation::Column::Target.eq(ap_id))
        .order_by_asc(garden_relation::Column::Id)
        .all(db)
        .await?)
}

/// Items forked from `ap_id` (deleted forks too: they show as gone).
pub async fn forks_of(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Vec<garden_item::Model>> {
    Ok(garden_item::Entity::find()
        .filter(garden_item::Column::ForkedFrom.eq(ap_id))
        .order_by_asc(garden_item::Column::Published)
        .all(db)
        .await?)
}

/// The origin of these forks was deleted.
pub async fn mark_origin_gone(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<()> {
    garden_item::Entity::update_many()
        .col_expr(garden_item::Column::OriginGone, Expr::value(true))
        .filter(garden_item::Column::ForkedFrom.eq(ap_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_adoption(
    db: &impl ConnectionTrait,
    row: adoption::ActiveModel,
) -> DbResult<adoption::Model> {
    Ok(row.insert(db).await?)
}

pub async fn adoption_by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<adoption::Model>> {
    Ok(adoption::Entity::find()
        .filter(adoption::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn adoption_by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<adoption::Model>> {
    Ok(adoption::Entity::find_by_id(id).one(db).await?)
}

/// Adoptions of any of `item_ids`, newest first.
pub async fn adoptions_of(db: &impl ConnectionTrait, item_ids: Vec<i64>) -> DbResult<Vec<adoption::Model>> {
    Ok(adoption::Entity::find()
        .filter(adoption::Column::ItemId.is_in(item_ids))
        .order_by_desc(adoption::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Every local item, for an export (drafts included: they are the node's too).
/// Items written here that `scope` may read, oldest first.
pub async fn local_items(db: &impl ConnectionTrait, scope: &ReadScope) -> DbResult<Vec<garden_item::Model>> {
    Ok(garden_item::Entity::find()
        .filter(scope_of(db.get_database_backend(), scope))
        .filter(garden_item::Column::Local.eq(true))
        .filter(garden_item::Column::DeletedAt.is_null())
        .order_by_asc(garden_item::Column::Id)
        .all(db)
        .await?)
}
