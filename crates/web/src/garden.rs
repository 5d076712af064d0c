//! The garden API: items (patterns, metrics, stories), their revisions,
//! forks and adoptions, and search. Ids are ActivityPub ids, url-encoded in
//! paths. Also the garden's JSON-LD context document at `/ns/garden`.

use crate::{
    AppState,
    api::ApiJson,
    auth::{ApiAccount, MaybeApiAccount},
    error::{ApiError, ApiResult, ErrorBody},
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use healthcommons_core::{
    ErrorKind,
    garden::{Content, DiffLine, ItemStatus, Kind, Place, Relation, RelationKind, Resource},
};
use healthcommons_db::{entities::actor, queries::posts::Page};
use healthcommons_federation::objects::garden_item::garden_context;
use healthcommons_service::garden::{self, AdoptionInput, Draft, ItemView};
use healthcommons_service::policy;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/garden", post(create_item).get(list_items))
        .route(
            "/api/v1/garden/{id}",
            get(get_item).patch(edit_item).delete(delete_item),
        )
        .route("/api/v1/garden/{id}/revisions", get(item_revisions))
        .route("/api/v1/garden/{id}/discussion", get(item_discussion))
        .route("/api/v1/garden/{id}/diff", get(item_diff))
        .route("/api/v1/garden/{id}/revert", post(revert_item))
        .route("/api/v1/garden/{id}/fork", post(fork_item))
        .route("/api/v1/garden/{id}/share", post(share_item))
        .route("/api/v1/garden/{id}/upstream", get(upstream_changes))
        .route("/api/v1/garden/{id}/pull", post(pull_upstream))
        .route(
            "/api/v1/garden/{id}/adoptions",
            post(adopt_item).get(item_adoptions),
        )
        .route("/api/v1/search", get(search))
        .route("/ns/garden", get(context_document))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_item,
        list_items,
        get_item,
        edit_item,
        delete_item,
        item_revisions,
        item_discussion,
        item_diff,
        revert_item,
        fork_item,
        share_item,
        upstream_changes,
        pull_upstream,
        adopt_item,
        item_adoptions,
        search
    ),
    components(schemas(
        NewGardenItem,
        GardenItemEdit,
        GardenPlace,
        GardenResource,
        GardenRelation,
        CreatedItem,
        GardenItemDto,
        ItemSummaryDto,
        OriginDto,
        AdoptionDto,
        RelatedDto,
        RevisionDto,
        FieldChange,
        ChangedLine,
        RevertRequest,
        ForkRequest,
        UpstreamDto,
        PullResult,
        NewAdoption,
        SearchResults
    ))
)]
pub struct GardenDoc;

#[derive(Deserialize, Serialize, ToSchema, Clone)]
pub struct GardenPlace {
    pub name: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Deserialize, Serialize, ToSchema, Clone)]
pub struct GardenResource {
    pub title: String,
    /// An http or https link.
    pub href: String,
}

#[derive(Deserialize, Serialize, ToSchema, Clone)]
pub struct GardenRelation {
    /// `complements`, `alternative_to`, `part_of` (pattern to pattern),
    /// `evaluates` (metric to pattern), `applies` (story to pattern),
    /// `measured_by` (story to metric).
    pub kind: String,
    /// The related item's ActivityPub id.
    pub target: String,
}

#[derive(Deserialize, ToSchema)]
pub struct NewGardenItem {
    /// `pattern`, `metric` or `story`.
    pub kind: String,
    /// A working group on this node to publish it to (it announces it to its followers).
    pub group: Option<String>,
    /// `published` (default) or `draft` (only you see it; nothing is sent).
    pub status: Option<String>,
    /// Why: shown in the history. Defaults to "Planted".
    pub message: Option<String>,
    pub title: String,
    /// The essence in a few lines (what Mastodon shows).
    pub summary: String,
    /// Markdown by field: a pattern has `problem`, `context`, `forces`,
    /// `solution`, `evidence`; a metric `measures`, `rationale`, `method`;
    /// a story `narrative`, `outcome`.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// A metric's unit.
    pub unit: Option<String>,
    /// When a story happened.
    pub happened: Option<String>,
    #[serde(default)]
    pub resources: Vec<GardenResource>,
    #[serde(default)]
    pub relations: Vec<GardenRelation>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Defaults to CC-BY-SA-4.0.
    pub license: Option<String>,
    pub place: Option<GardenPlace>,
}

/// A new revision: what is given replaces what the item says; the rest stays.
#[derive(Deserialize, ToSchema, Default)]
pub struct GardenItemEdit {
    pub message: Option<String>,
    pub status: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    /// Replaces every field (a field left out is removed).
    pub fields: Option<BTreeMap<String, String>>,
    pub unit: Option<String>,
    pub happened: Option<String>,
    pub resources: Option<Vec<GardenResource>>,
    pub relations: Option<Vec<GardenRelation>>,
    pub tags: Option<Vec<String>>,
    pub license: Option<String>,
    pub place: Option<GardenPlace>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedItem {
    pub id: String,
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct OriginDto {
    pub id: String,
    pub revision: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ItemSummaryDto {
    pub id: String,
    /// Who it is for: `public`, `unlisted` or `members` (a members-only working group's).
    pub visibility: String,
    pub url: String,
    pub kind: String,
    pub status: String,
    pub title: String,
    pub summary: String,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub group: Option<String>,
    pub place: Option<GardenPlace>,
    pub local: bool,
    pub revision: i32,
    pub published: String,
    pub updated: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AdoptionDto {
    pub id: String,
    /// The item adopted: this one or a fork of it.
    pub item: String,
    pub by: Option<String>,
    pub context_html: String,
    pub outcome_html: String,
    pub story: Option<String>,
    pub metrics: Vec<String>,
    pub place: Option<GardenPlace>,
    pub published: String,
}

#[derive(Serialize, ToSchema)]
pub struct RelatedDto {
    pub relation: String,
    /// True when the other item names this one.
    pub incoming: bool,
    pub id: String,
    /// Known here: its title.
    pub title: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GardenItemDto {
    #[serde(flatten)]
    pub item: ItemSummaryDto,
    /// Markdown fields, resources, relations, unit, license, place.
    #[schema(value_type = Object)]
    pub content: Value,
    /// The whole item as sanitised HTML.
    pub content_html: String,
    pub license: String,
    /// The item forked from, and the chain above it (oldest first).
    pub forked_from: Option<String>,
    pub forked_revision: Option<i32>,
    pub provenance: Vec<OriginDto>,
    /// The item forked from was deleted at its origin.
    pub origin_gone: bool,
    pub forks: Vec<ItemSummaryDto>,
    pub adoptions: Vec<AdoptionDto>,
    pub related: Vec<RelatedDto>,
}

fn place_dto(name: Option<&String>, latitude: Option<f64>, longitude: Option<f64>) -> Option<GardenPlace> {
    (name.is_some() || latitude.is_some()).then(|| GardenPlace {
        name: name.cloned().unwrap_or_default(),
        latitude,
        longitude,
    })
}

/// Where an item is read: its id for items of this node, else the page the origin names.
fn item_url(view_url: Option<&str>, ap_id: &str) -> String {
    view_url.unwrap_or(ap_id).to_owned()
}

pub fn summary_dto(view: &ItemView) -> ItemSummaryDto {
    let item = &view.item;
    ItemSummaryDto {
        id: item.ap_id.clone(),
        visibility: item.visibility.as_str().to_owned(),
        url: item_url(item.url.as_deref(), &item.ap_id),
        kind: item.kind.as_str().to_owned(),
        status: item.status.as_str().to_owned(),
        title: item.title.clone(),
        summary: item.summary.clone(),
        tags: view.content.tags.clone(),
        author: view.author.as_ref().map(actor::Model::handle),
        group: view.group.as_ref().map(actor::Model::handle),
        place: place_dto(item.place_name.as_ref(), item.latitude, item.longitude),
        local: item.local,
        revision: item.revision,
        published: item.published.to_rfc3339(),
        updated: item.updated_at.map(|u| u.to_rfc3339()),
    }
}

fn parse_kind(raw: &str) -> ApiResult<Kind> {
    Kind::parse(raw).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Validation,
            format!("kind must be pattern, metric or story, not {raw:?}"),
        )
    })
}

fn parse_status(raw: Option<&str>) -> ApiResult<Option<ItemStatus>> {
    raw.map(|s| {
        ItemStatus::parse(s)
            .ok_or_else(|| ApiError::new(ErrorKind::Validation, "status must be draft or published"))
    })
    .transpose()
}

fn relations(input: &[GardenRelation]) -> ApiResult<Vec<Relation>> {
    input
        .iter()
        .map(|r| {
            Ok(Relation {
                kind: RelationKind::parse(&r.kind).ok_or_else(|| {
                    ApiError::new(ErrorKind::Validation, format!("unknown relation {:?}", r.kind))
                })?,
                target: r.target.trim().to_owned(),
            })
        })
        .collect()
}

fn resources(input: &[GardenResource]) -> Vec<Resource> {
    input
        .iter()
        .map(|r| Resource {
            title: r.title.clone(),
            href: r.href.clone(),
        })
        .collect()
}

fn place(input: &GardenPlace) -> Place {
    Place {
        name: input.name.clone(),
        latitude: input.latitude,
        longitude: input.longitude,
    }
}

pub fn new_content(body: &NewGardenItem) -> ApiResult<Content> {
    Ok(Content {
        title: body.title.clone(),
        summary: body.summary.clone(),
        fields: body.fields.clone(),
        unit: body.unit.clone(),
        happened: body.happened.clone(),
        resources: resources(&body.resources),
        relations: relations(&body.relations)?,
        tags: body.tags.clone(),
        license: body.license.clone().unwrap_or_default(),
        place: body.place.as_ref().map(place),
    })
}

/// Apply an edit to what an item says now.
pub fn edited_content(mut content: Content, edit: &GardenItemEdit) -> ApiResult<Content> {
    if let Some(title) = &edit.title {
        content.title = title.clone();
    }
    if let Some(summary) = &edit.summary {
        content.summary = summary.clone();
    }
    if let Some(fields) = &edit.fields {
        content.fields = fields.clone();
    }
    if let Some(unit) = &edit.unit {
        content.unit = Some(unit.clone());
    }
    if let Some(happened) = &edit.happened {
        content.happened = Some(happened.clone());
    }
    if let Some(list) = &edit.resources {
        content.resources = resources(list);
    }
    if let Some(list) = &edit.relations {
        content.relations = relations(list)?;
    }
    if let Some(tags) = &edit.tags {
        content.tags = tags.clone();
    }
    if let Some(license) = &edit.license {
        content.license = license.clone();
    }
    if let Some(new_place) = &edit.place {
        content.place = Some(place(new_place));
    }
    Ok(content)
}

pub async fn create(
    state: &AppState,
    account: &healthcommons_service::accounts::Account,
    body: &NewGardenItem,
) -> ApiResult<healthcommons_db::entities::garden_item::Model> {
    let draft = Draft {
        content: new_content(body)?,
        status: parse_status(body.status.as_deref())?.unwrap_or_default(),
        message: body.message.as_deref(),
    };
    Ok(state
        .processor
        .garden()
        .create(account, parse_kind(&body.kind)?, body.group.as_deref(), draft)
        .await?)
}

/// Add a pattern, metric or story to the garden.
#[utoipa::path(post, path = "/api/v1/garden", request_body = NewGardenItem, security(("bearer" = [])),
    responses((status = 201, body = CreatedItem), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_item(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<NewGardenItem>,
) -> ApiResult<Response> {
    let item = create(&state, &account, &body).await?;
    Ok(created(&item))
}

fn created(item: &healthcommons_db::entities::garden_item::Model) -> Response {
    let url = item_url(item.url.as_deref(), &item.ap_id);
    (
        StatusCode::CREATED,
        Json(CreatedItem {
            id: item.ap_id.clone(),
            url,
        }),
    )
        .into_response()
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Search words (all must match, as word prefixes).
    pub q: Option<String>,
    /// `pattern`, `metric` or `story`.
    pub kind: Option<String>,
    pub tag: Option<String>,
    /// Part of a place name.
    pub place: Option<String>,
    /// `draft` lists your own drafts; default `published`.
    pub status: Option<String>,
    pub page: Option<u64>,
}

pub async fn find(
    state: &AppState,
    viewer: Option<&actor::Model>,
    query: &ListQuery,
) -> ApiResult<Vec<ItemView>> {
    let kind = query
        .kind
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(parse_kind)
        .transpose()?;
    let drafts = parse_status(query.status.as_deref().filter(|s| !s.is_empty()))? == Some(ItemStatus::Draft);
    Ok(state
        .processor
        .garden()
        .search(
            policy::Viewer::from(viewer),
            garden::Query {
                text: query.q.as_deref().unwrap_or_default(),
                kind,
                tag: query.tag.as_deref().filter(|t| !t.is_empty()),
                place: query.place.as_deref(),
                drafts,
            },
            Page {
                number: query.page.unwrap_or(1).max(1),
                size: 50,
            },
        )
        .await?)
}

/// Browse and search the garden: items from this node and those learned from others.
#[utoipa::path(get, path = "/api/v1/garden", params(ListQuery),
    responses((status = 200, body = [ItemSummaryDto]), (status = 422, body = ErrorBody)))]
async fn list_items(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<ItemSummaryDto>>> {
    let views = find(&state, account.as_ref().map(|a| &a.person), &query).await?;
    Ok(Json(views.iter().map(summary_dto).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    pub garden: Vec<ItemSummaryDto>,
}

/// Full-text search (the garden's items, ranked: words in the title first).
#[utoipa::path(get, path = "/api/v1/search", params(ListQuery),
    responses((status = 200, body = SearchResults), (status = 422, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<SearchResults>> {
    let views = find(&state, account.as_ref().map(|a| &a.person), &query).await?;
    Ok(Json(SearchResults {
        garden: views.iter().map(summary_dto).collect(),
    }))
}

/// An item with its provenance, forks, adoptions and related items.
#[utoipa::path(get, path = "/api/v1/garden/{id}", params(("id" = String, Path, description = "url-encoded ActivityPub id")),
    responses((status = 200, body = GardenItemDto), (status = 404, body = ErrorBody)))]
async fn get_item(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<GardenItemDto>> {
    let page = state
        .processor
        .garden()
        .page(policy::Viewer::from(account.as_ref().map(|a| &a.person)), &id)
        .await?;
    let item = &page.view.item;
    Ok(Json(GardenItemDto {
        item: summary_dto(&page.view),
        content: serde_json::to_value(&page.view.content).unwrap_or_default(),
        content_html: item.content_html.clone(),
        license: item.license.clone(),
        forked_from: item.forked_from.clone(),
        forked_revision: item.forked_revision,
        provenance: page
            .view
            .provenance
            .iter()
            .map(|o| OriginDto {
                id: o.id.clone(),
                revision: o.revision,
            })
            .collect(),
        origin_gone: item.origin_gone,
        forks: page.forks.iter().map(summary_dto).collect(),
        adoptions: page
            .adoptions
            .iter()
            .map(|a| AdoptionDto {
                id: a.adoption.ap_id.clone(),
                item: a.item.ap_id.clone(),
                by: a.by.as_ref().map(actor::Model::handle),
                context_html: a.adoption.context_html.clone(),
                outcome_html: a.adoption.outcome_html.clone(),
                story: a.adoption.story.clone(),
                metrics: serde_json::from_str(&a.adoption.metrics).unwrap_or_default(),
                place: place_dto(
                    a.adoption.place_name.as_ref(),
                    a.adoption.latitude,
                    a.adoption.longitude,
                ),
                published: a.adoption.created_at.to_rfc3339(),
            })
            .collect(),
        related: page
            .related
            .iter()
            .map(|r| RelatedDto {
                relation: r.relation.as_str().to_owned(),
                incoming: r.incoming,
                id: r.target.clone(),
                title: r.item.as_ref().map(|i| i.title.clone()),
            })
            .collect(),
    }))
}

pub async fn edit(
    state: &AppState,
    account: &healthcommons_service::accounts::Account,
    id: &str,
    body: &GardenItemEdit,
) -> ApiResult<healthcommons_db::entities::garden_item::Model> {
    let current = state
        .processor
        .garden()
        .readable(policy::Viewer::from(Some(&account.person)), id)
        .await?;
    let content = edited_content(garden::parse_content(&current)?, body)?;
    let status = parse_status(body.status.as_deref())?.unwrap_or(current.status);
    Ok(state
        .processor
        .garden()
        .edit(
            account,
            id,
            Draft {
                content,
                status,
                message: body.message.as_deref(),
            },
        )
        .await?)
}

/// Revise an item you wrote: a new revision; its previous text stays in the history.
#[utoipa::path(patch, path = "/api/v1/garden/{id}", request_body = GardenItemEdit, params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ItemSummaryDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn edit_item(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GardenItemEdit>,
) -> ApiResult<Json<ItemSummaryDto>> {
    let item = edit(&state, &account, &id, &body).await?;
    Ok(Json(summary_dto(&state.processor.garden().view(item).await?)))
}

/// Delete an item you wrote. Forks on other nodes stay and show the origin as gone.
#[utoipa::path(delete, path = "/api/v1/garden/{id}", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_item(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.processor.garden().delete(&account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct RevisionDto {
    pub number: i32,
    pub message: String,
    pub author: Option<String>,
    pub created: String,
    #[schema(value_type = Object)]
    pub content: Value,
}

/// The item's discussion: each thread started by a reply to it (from here or
/// any node, Mastodon included), with its replies nested, oldest first. To
/// take part, `POST /api/v1/posts` with `in_reply_to` the item's id.
#[utoipa::path(get, path = "/api/v1/garden/{id}/discussion", params(("id" = String, Path)),
    responses((status = 200, body = [crate::discussions::PostDto]), (status = 404, body = ErrorBody)))]
async fn item_discussion(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<crate::discussions::PostDto>>> {
    let viewer = account.as_ref().map(|a| &a.person);
    let item = state
        .processor
        .garden()
        .readable(policy::Viewer::from(viewer), &id)
        .await?;
    let threads = state.processor.posts().discussion(viewer, &item).await?;
    Ok(Json(
        threads
            .iter()
            .map(|thread| {
                let mut start = crate::discussions::dto(&state, &thread.root);
                start.replies = crate::discussions::nest(&state, &thread.replies);
                start
            })
            .collect(),
    ))
}

/// Every revision of an item known here, newest first.
#[utoipa::path(get, path = "/api/v1/garden/{id}/revisions", params(("id" = String, Path)),
    responses((status = 200, body = [RevisionDto]), (status = 404, body = ErrorBody)))]
async fn item_revisions(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<RevisionDto>>> {
    let (_, revisions) = state
        .processor
        .garden()
        .revisions(policy::Viewer::from(account.as_ref().map(|a| &a.person)), &id)
        .await?;
    let authors = healthcommons_db::queries::actors::by_ids(
        state.db(),
        revisions.iter().filter_map(|r| r.author_id).collect(),
    )
    .await
    .map_err(healthcommons_service::ServiceError::from)?;
    Ok(Json(
        revisions
            .into_iter()
            .map(|r| RevisionDto {
                number: r.number,
                message: r.message,
                author: r
                    .author_id
                    .and_then(|id| authors.iter().find(|a| a.id == id))
                    .map(actor::Model::handle),
                created: r.created_at.to_rfc3339(),
                content: serde_json::from_str(&r.content).unwrap_or_default(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct DiffQuery {
    pub from: i32,
    pub to: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ChangedLine {
    /// `same`, `added` or `removed`.
    pub op: String,
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct FieldChange {
    /// `title`, `summary`, a field name, `resources`, `relations`, `tags`, `license`, `place`, …
    pub field: String,
    pub lines: Vec<ChangedLine>,
}

pub fn changes(diff: Vec<healthcommons_core::garden::FieldDiff>) -> Vec<FieldChange> {
    diff.into_iter()
        .map(|d| FieldChange {
            field: d.field,
            lines: d
                .lines
                .into_iter()
                .map(|line| {
                    let (op, text) = match line {
                        DiffLine::Same(t) => ("same", t),
                        DiffLine::Added(t) => ("added", t),
                        DiffLine::Removed(t) => ("removed", t),
                    };
                    ChangedLine { op: op.into(), text }
                })
                .collect(),
        })
        .collect()
}

/// What changed between two revisions.
#[utoipa::path(get, path = "/api/v1/garden/{id}/diff", params(("id" = String, Path), DiffQuery),
    responses((status = 200, body = [FieldChange]), (status = 404, body = ErrorBody)))]
async fn item_diff(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<String>,
    Query(query): Query<DiffQuery>,
) -> ApiResult<Json<Vec<FieldChange>>> {
    let diff = state
        .processor
        .garden()
        .diff(
            policy::Viewer::from(account.as_ref().map(|a| &a.person)),
            &id,
            query.from,
            query.to,
        )
        .await?;
    Ok(Json(changes(diff)))
}

#[derive(Deserialize, ToSchema)]
pub struct RevertRequest {
    pub revision: i32,
}

/// Bring back an earlier revision (as a new revision).
#[utoipa::path(post, path = "/api/v1/garden/{id}/revert", request_body = RevertRequest, params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ItemSummaryDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn revert_item(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RevertRequest>,
) -> ApiResult<Json<ItemSummaryDto>> {
    let item = state
        .processor
        .garden()
        .revert(&account, &id, body.revision)
        .await?;
    Ok(Json(summary_dto(&state.processor.garden().view(item).await?)))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct ForkRequest {
    pub message: Option<String>,
}

pub async fn fork(
    state: &AppState,
    account: &healthcommons_service::accounts::Account,
    id: &str,
    message: Option<&str>,
) -> ApiResult<healthcommons_db::entities::garden_item::Model> {
    Ok(state.processor.garden().fork(account, id, message).await?)
}

/// Fork an item (from this node or another) into this node's garden. Its
/// origin is told, and the fork keeps the whole chain it came from.
#[utoipa::path(post, path = "/api/v1/garden/{id}/fork", request_body = ForkRequest, params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 201, body = CreatedItem), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn fork_item(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Option<Json<ForkRequest>>,
) -> ApiResult<Response> {
    let message = body.and_then(|Json(b)| b.message);
    let item = fork(&state, &account, &id, message.as_deref()).await?;
    Ok(created(&item))
}

/// Share a members-only item of a working group with the whole commons (its
/// group's moderators only): it becomes public, and its history records who
/// shared it.
#[utoipa::path(post, path = "/api/v1/garden/{id}/share", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ItemSummaryDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn share_item(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<ItemSummaryDto>> {
    let item = state.processor.garden().share_with_commons(&account, &id).await?;
    Ok(Json(summary_dto(&state.processor.garden().view(item).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct UpstreamDto {
    /// The item forked from.
    pub origin: String,
    /// The revision this fork last took.
    pub since_revision: i32,
    /// The origin's revision now.
    pub upstream_revision: i32,
    /// What changed upstream since then.
    pub changes: Vec<FieldChange>,
}

pub async fn upstream(
    state: &AppState,
    viewer: Option<&actor::Model>,
    id: &str,
) -> ApiResult<garden::Upstream> {
    Ok(state
        .processor
        .garden()
        .upstream(policy::Viewer::from(viewer), id)
        .await?)
}

/// What changed upstream since this fork last took from it (fetched from the origin now).
#[utoipa::path(get, path = "/api/v1/garden/{id}/upstream", params(("id" = String, Path)),
    responses((status = 200, body = UpstreamDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upstream_changes(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<UpstreamDto>> {
    let upstream = upstream(&state, account.as_ref().map(|a| &a.person), &id).await?;
    Ok(Json(UpstreamDto {
        origin: upstream.origin.ap_id.clone(),
        since_revision: upstream.since_revision,
        upstream_revision: upstream.origin.revision,
        changes: changes(upstream.changes),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PullResult {
    pub revision: i32,
    /// Parts taken from upstream.
    pub taken: Vec<String>,
    /// Parts changed on both sides: this fork's text was kept.
    pub conflicts: Vec<String>,
}

pub async fn pull(
    state: &AppState,
    account: &healthcommons_service::accounts::Account,
    id: &str,
) -> ApiResult<PullResult> {
    let (item, merged) = state.processor.garden().pull(account, id).await?;
    Ok(PullResult {
        revision: item.revision,
        taken: merged.taken,
        conflicts: merged.conflicts,
    })
}

/// Take upstream's changes into your fork: parts only upstream changed are
/// taken, parts you changed are kept (and reported when upstream changed them too).
#[utoipa::path(post, path = "/api/v1/garden/{id}/pull", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = PullResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn pull_upstream(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<PullResult>> {
    Ok(Json(pull(&state, &account, &id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewAdoption {
    /// Markdown: where and how it was adopted.
    pub context: String,
    /// Markdown: what came of it.
    #[serde(default)]
    pub outcome: String,
    /// A story in the garden that tells how it went (its id).
    pub story: Option<String>,
    /// Metrics the outcome was measured by (their ids).
    #[serde(default)]
    pub metrics: Vec<String>,
    pub place: Option<GardenPlace>,
}

pub async fn adopt(
    state: &AppState,
    account: &healthcommons_service::accounts::Account,
    id: &str,
    body: &NewAdoption,
) -> ApiResult<healthcommons_db::entities::adoption::Model> {
    let input = AdoptionInput {
        context: &body.context,
        outcome: &body.outcome,
        story: body.story.as_deref(),
        metrics: body.metrics.iter().map(String::as_str).collect(),
        place: body.place.as_ref().map(place),
    };
    Ok(state.processor.garden().adopt(account, id, input).await?)
}

/// Record that your initiative adopted this item, with its context and outcome.
#[utoipa::path(post, path = "/api/v1/garden/{id}/adoptions", request_body = NewAdoption, params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 201, body = CreatedItem), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn adopt_item(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewAdoption>,
) -> ApiResult<Response> {
    let adoption = adopt(&state, &account, &id, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedItem {
            id: adoption.ap_id.clone(),
            url: adoption.ap_id,
        }),
    )
        .into_response())
}

/// Where an item (or any fork of it) has been adopted.
#[utoipa::path(get, path = "/api/v1/garden/{id}/adoptions", params(("id" = String, Path)),
    responses((status = 200, body = [AdoptionDto]), (status = 404, body = ErrorBody)))]
async fn item_adoptions(
    State(state): State<AppState>,
    account: MaybeApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AdoptionDto>>> {
    let Json(item) = get_item(State(state), account, Path(id)).await?;
    Ok(Json(item.adoptions))
}

/// The garden's JSON-LD context (our terms; see docs/garden-context.md).
async fn context_document() -> Response {
    (
        [(header::CONTENT_TYPE, "application/ld+json")],
        Json(json!({ "@context": garden_context() })),
    )
        .into_response()
}
