//! No lock-in, at the edge: an item as Markdown, the whole garden as a zip,
//! and the import of such a zip, as API and as pages. The format is in
//! `healthcommons_service::garden_archive`.

use crate::{
    AppState,
    auth::{self, ApiAccount, MaybeApiAccount, MaybeSession, Viewer},
    error::{ApiError, ApiResult, ErrorBody, PageError, PageResult},
    garden_pages::{item_by_local_id, item_path_of},
    pages::render,
    thread_pages::signed_in,
};
use askama::Template;
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Multipart, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_extra::extract::cookie::CookieJar;
use healthcommons_core::ErrorKind;
use healthcommons_db::{entities::garden_item, queries};
use healthcommons_service::{
    accounts::Account,
    garden_archive::{self, Imported},
    policy,
};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// The biggest zip an import takes.
pub const MAX_IMPORT: usize = 16 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/garden/export", get(export_api))
        .route(
            "/api/v1/garden/import",
            post(import_api).layer(DefaultBodyLimit::max(MAX_IMPORT)),
        )
        .route("/api/v1/garden/{id}/markdown", get(markdown_api))
        .route("/garden/export.zip", get(export_api))
        .route(
            "/garden/import",
            get(import_form)
                .post(import_page)
                .layer(DefaultBodyLimit::max(MAX_IMPORT)),
        )
        .route("/garden/items/{id}/markdown", get(markdown_page))
}

#[derive(OpenApi)]
#[openapi(
    paths(export_api, import_api, markdown_api),
    components(schemas(ImportReport, ImportedDto, SkippedDto))
)]
pub struct GardenArchiveDoc;

/// A download: `body` as `content_type`, saved as `file_name`.
fn attachment(content_type: &'static str, file_name: &str, body: impl IntoResponse) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn item_markdown(state: &AppState, item: &garden_item::Model) -> ApiResult<Response> {
    let author = match item.author_id {
        Some(id) => queries::actors::by_id(state.db(), id)
            .await
            .map_err(healthcommons_service::ServiceError::from)?,
        None => None,
    };
    let markdown = garden_archive::item_markdown(item, author.as_ref())?;
    Ok(attachment(
        "text/markdown; charset=utf-8",
        &garden_archive::markdown_file_name(item),
        markdown,
    ))
}

/// One item as a Markdown file, with its id, author and provenance in the
/// front matter.
#[utoipa::path(get, path = "/api/v1/garden/{id}/markdown", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 404, body = ErrorBody)))]
async fn markdown_api(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let item = state
        .processor
        .garden()
        .readable(policy::Viewer::from(account.as_ref().map(|a| &a.person)), &id)
        .await?;
    item_markdown(&state, &item).await
}

async fn markdown_page(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let item = item_by_local_id(&state, session.0.as_ref().map(|a| &a.person), id).await?;
    Ok(item_markdown(&state, &item).await?)
}

/// The node's whole garden (every published item written here) as a zip:
/// `items/` holds one Markdown file per item, `garden.json` the same items as
/// data, which `POST /api/v1/garden/import` reads on another node.
#[utoipa::path(get, path = "/api/v1/garden/export",
    responses((status = 200, content_type = "application/zip", body = Vec<u8>)))]
async fn export_api(State(state): State<AppState>) -> ApiResult<Response> {
    let node = &state.context().node;
    let zip = garden_archive::export(state.db(), node).await?;
    let name = format!(
        "garden-{}-{}.zip",
        node.domain.replace(':', "_"),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    Ok(attachment("application/zip", &name, zip))
}

#[derive(Serialize, ToSchema)]
pub struct ImportedDto {
    /// The id the item had where it was exported.
    pub from: String,
    /// Its id here.
    pub id: String,
}

#[derive(Serialize, ToSchema)]
pub struct SkippedDto {
    pub from: String,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportReport {
    pub imported: Vec<ImportedDto>,
    pub skipped: Vec<SkippedDto>,
}

async fn import(state: &AppState, account: &Account, zip: &[u8]) -> ApiResult<Vec<Imported>> {
    let archive = garden_archive::read_archive(zip)?;
    Ok(state.processor.garden_archive().import(account, archive).await?)
}

/// Import a garden export (the zip from `GET /api/v1/garden/export` on any
/// node) as the body, `Content-Type: application/zip`. Each item becomes a
/// fork here by the caller, keeping its provenance; items already here, or
/// that do not validate, are skipped with the reason.
#[utoipa::path(post, path = "/api/v1/garden/import", request_body(content = Vec<u8>, content_type = "application/zip"),
    security(("bearer" = [])),
    responses((status = 200, body = ImportReport), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_api(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/zip") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "send the garden export as application/zip",
        ));
    }
    let mut report = ImportReport {
        imported: Vec::new(),
        skipped: Vec::new(),
    };
    for outcome in import(&state, &account, &body).await? {
        match outcome {
            Imported::Added { from, id, .. } => report.imported.push(ImportedDto { from, id }),
            Imported::Skipped { from, reason } => report.skipped.push(SkippedDto { from, reason }),
        }
    }
    Ok(Json(report))
}

struct ImportLine {
    href: String,
    label: String,
}

#[derive(Template)]
#[template(path = "garden_import.html")]
struct ImportPage {
    viewer: Option<Viewer>,
    csrf: String,
    error: String,
    done: bool,
    imported: Vec<ImportLine>,
    skipped: Vec<ImportLine>,
}

impl ImportPage {
    /// The form, before anything was sent.
    fn blank(session: &MaybeSession, csrf: String) -> Self {
        ImportPage {
            viewer: Viewer::of(&session.0),
            csrf,
            error: String::new(),
            done: false,
            imported: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

async fn import_form(
    jar: CookieJar,
    State(state): State<AppState>,
    session: MaybeSession,
) -> PageResult<Response> {
    signed_in(&session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = ImportPage::blank(&session, csrf);
    Ok((jar, render(page)?).into_response())
}

/// The uploaded form: its CSRF token and the zip.
async fn read_upload(mut multipart: Multipart) -> Result<(String, Bytes), ApiError> {
    let bad =
        |e: axum::extract::multipart::MultipartError| ApiError::new(ErrorKind::Validation, e.body_text());
    let (mut csrf, mut zip) = (String::new(), Bytes::new());
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(bad)?,
            Some("archive") => zip = field.bytes().await.map_err(bad)?,
            _ => {}
        }
    }
    Ok((csrf, zip))
}

async fn import_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    multipart: Multipart,
) -> PageResult<Response> {
    let (csrf, zip) = read_upload(multipart).await?;
    auth::check_csrf(&jar, &csrf)?;
    let account = signed_in(&session)?;
    let mut page = ImportPage::blank(&session, csrf);
    if zip.is_empty() {
        page.error = "choose the zip of a garden export first".into();
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    }
    match import(&state, &account, &zip).await {
        Ok(outcomes) => {
            page.done = true;
            for outcome in outcomes {
                match outcome {
                    Imported::Added { local_id, title, .. } => page.imported.push(ImportLine {
                        href: item_path_of(local_id),
                        label: title,
                    }),
                    Imported::Skipped { from, reason } => page.skipped.push(ImportLine {
                        href: from,
                        label: reason,
                    }),
                }
            }
            Ok(render(page)?.into_response())
        }
        Err(err) if err.kind == ErrorKind::Validation => {
            page.error = err.message;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
        }
        Err(err) => Err(PageError(err)),
    }
}
