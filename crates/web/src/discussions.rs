//! The discussions API: posts and threads, feeds, reactions, moderation and
//! reports. Ids of posts are their ActivityPub ids, url-encoded in paths.

use crate::{
    AppState,
    api::ApiJson,
    auth::{ApiAccount, MaybeApiAccount},
    error::{ApiError, ApiResult, ErrorBody},
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use healthcommons_core::ErrorKind;
use healthcommons_db::entities::{ReactionKind, TagKind};
use healthcommons_db::{entities::actor, queries::posts::Page};
use healthcommons_service::{
    accounts::Account,
    groups,
    posts::{Compose, Edit, Feed, PostView},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/posts", post(create_post))
        .route(
            "/api/v1/posts/{id}",
            get(get_post).patch(edit_post).delete(delete_post),
        )
        .route("/api/v1/posts/{id}/like", post(like_post).delete(unlike_post))
        .route("/api/v1/posts/{id}/revisions", get(post_revisions))
        .route("/api/v1/posts/{id}/lock", post(lock_thread))
        .route("/api/v1/groups/{name}/threads", get(group_threads))
        .route(
            "/api/v1/groups/{name}/settings",
            axum::routing::patch(update_group_settings),
        )
        .route("/api/v1/feeds/{feed}", get(read_feed))
        .route("/api/v1/reports", post(file_report).get(report_queue))
        .route("/api/v1/reports/{id}/resolve", post(resolve_report))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_post,
        get_post,
        post_revisions,
        edit_post,
        delete_post,
        like_post,
        unlike_post,
        lock_thread,
        group_threads,
        update_group_settings,
        read_feed,
        file_report,
        report_queue,
        resolve_report
    ),
    components(schemas(
        NewPost,
        CreatedPost,
        PostDto,
        PostEdit,
        Revision,
        Reaction,
        LockRequest,
        GroupSettingsUpdate,
        GroupUpdate,
        PlaceInput,
        NewReport,
        ReportDto
    ))
)]
pub struct DiscussionsDoc;

#[derive(Deserialize, ToSchema)]
pub struct NewPost {
    /// A local group's name, `@name@host`, or an actor URL. Optional for a reply.
    pub group: Option<String>,
    /// Required for a thread start.
    pub title: Option<String>,
    /// Markdown.
    pub content: String,
    /// The ActivityPub id of the post replied to, or of a garden item to
    /// discuss (a reply to it starts a thread of its discussion).
    pub in_reply_to: Option<String>,
    #[serde(default)]
    pub sensitive: bool,
    /// Content warning.
    pub summary: Option<String>,
    pub language: Option<String>,
    /// `public` (default), `unlisted` (left out of public feeds), or
    /// `followers`: only the working group's members see it.
    pub visibility: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedPost {
    /// The ActivityPub id.
    pub id: String,
    /// The page to read it on.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct PostDto {
    pub id: String,
    pub url: String,
    pub title: Option<String>,
    /// Sanitised HTML; empty for a deleted or removed post.
    pub content_html: String,
    pub summary: Option<String>,
    pub sensitive: bool,
    pub language: Option<String>,
    pub author: Option<String>,
    pub author_id: Option<String>,
    pub group: Option<String>,
    pub in_reply_to: Option<String>,
    pub visibility: String,
    pub published: String,
    pub updated: Option<String>,
    pub deleted: bool,
    pub removed: bool,
    pub locked: bool,
    pub likes: i32,
    pub dislikes: i32,
    pub boosts: i32,
    pub replies_count: i32,
    pub mentions: Vec<String>,
    pub hashtags: Vec<String>,
    /// Nested replies (only when reading one thread).
    #[schema(no_recursion)]
    pub replies: Vec<PostDto>,
}

/// Where a post is read on this node: its thread's page, at the post.
pub fn thread_path(post: &healthcommons_db::entities::post::Model) -> String {
    format!("/threads/{}#post-{}", post.root_id.unwrap_or(post.id), post.id)
}

fn thread_url(state: &AppState, post: &healthcommons_db::entities::post::Model) -> String {
    format!("{}{}", state.context().node.urls.base(), thread_path(post))
}

pub fn dto(state: &AppState, view: &PostView) -> PostDto {
    let post = &view.post;
    let gone = post.is_gone();
    PostDto {
        id: post.ap_id.clone(),
        url: thread_url(state, &view.post),
        title: if gone { None } else { post.title.clone() },
        content_html: if gone {
            String::new()
        } else {
            post.content_html.clone()
        },
        summary: post.summary.clone(),
        sensitive: post.sensitive,
        language: post.language.clone(),
        author: view.author.as_ref().map(actor::Model::handle),
        author_id: view.author.as_ref().map(|a| a.ap_id.clone()),
        group: view.group.as_ref().map(actor::Model::handle),
        in_reply_to: post.in_reply_to.clone(),
        visibility: post.visibility.as_str().to_owned(),
        published: post.published.to_rfc3339(),
        updated: post.updated_at.map(|u| u.to_rfc3339()),
        deleted: post.deleted_at.is_some(),
        removed: post.removed,
        locked: post.locked,
        likes: post.likes,
        dislikes: post.dislikes,
        boosts: post.boosts,
        replies_count: post.replies,
        mentions: view
            .tags
            .iter()
            .filter(|t| t.kind == TagKind::Mention)
            .map(|t| t.name.clone())
            .collect(),
        hashtags: view
            .tags
            .iter()
            .filter(|t| t.kind == TagKind::Hashtag)
            .map(|t| t.name.clone())
            .collect(),
        replies: Vec::new(),
    }
}

/// Nest a depth-first list of replies under their parents.
pub fn nest(state: &AppState, replies: &[PostView]) -> Vec<PostDto> {
    fn take(state: &AppState, replies: &[PostView], index: &mut usize, depth: usize) -> Vec<PostDto> {
        let mut level = Vec::new();
        while *index < replies.len() && replies[*index].depth == depth {
            let mut item = dto(state, &replies[*index]);
            *index += 1;
            item.replies = take(state, replies, index, depth + 1);
            level.push(item);
        }
        level
    }
    let mut index = 0;
    take(state, replies, &mut index, 1)
}

impl NewPost {
    pub fn compose(&self) -> Compose<'_> {
        Compose {
            title: self.title.as_deref(),
            content: &self.content,
            in_reply_to: self.in_reply_to.as_deref(),
            sensitive: self.sensitive,
            summary: self.summary.as_deref(),
            language: self.language.as_deref(),
            visibility: self.visibility.as_deref(),
        }
    }
}

/// Start a thread in a working group, or reply to a post.
#[utoipa::path(post, path = "/api/v1/posts", request_body = NewPost, security(("bearer" = [])),
    responses((status = 201, body = CreatedPost), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_post(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<NewPost>,
) -> ApiResult<Response> {
    let row = state
        .processor
        .posts()
        .create(&account, body.group.as_deref(), body.compose())
        .await?;
    let url = thread_url(&state, &row);
    Ok((StatusCode::CREATED, Json(CreatedPost { id: row.ap_id, url })).into_response())
}

/// A post with its thread's replies nested below it (the whole thread when
/// the id is a thread start).
#[utoipa::path(get, path = "/api/v1/posts/{id}", params(("id" = String, Path, description = "url-encoded ActivityPub id")),
    responses((status = 200, body = PostDto), (status = 404, body = ErrorBody)))]
async fn get_post(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<PostDto>> {
    let viewer = account.as_ref().map(|a| &a.person);
    let thread = state.processor.posts().thread(viewer, &id).await?;
    if thread.root.post.ap_id == id {
        let mut root = dto(&state, &thread.root);
        root.replies = nest(&state, &thread.replies);
        return Ok(Json(root));
    }
    // A reply: it and what hangs below it.
    let position = thread
        .replies
        .iter()
        .position(|r| r.post.ap_id == id)
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "no such post"))?;
    let depth = thread.replies[position].depth;
    let end = thread.replies[position + 1..]
        .iter()
        .position(|r| r.depth <= depth)
        .map_or(thread.replies.len(), |offset| position + 1 + offset);
    let mut item = dto(&state, &thread.replies[position]);
    let below: Vec<PostView> = thread.replies[position + 1..end]
        .iter()
        .map(|r| PostView {
            depth: r.depth - depth,
            ..r.clone()
        })
        .collect();
    item.replies = nest(&state, &below);
    Ok(Json(item))
}

#[derive(Deserialize, ToSchema)]
pub struct PostEdit {
    pub title: Option<String>,
    pub content: Option<String>,
    /// Content warning; an empty string removes it.
    pub summary: Option<String>,
    pub sensitive: Option<bool>,
}

/// Edit your post; the previous text is kept in its history.
#[utoipa::path(patch, path = "/api/v1/posts/{id}", request_body = PostEdit, params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = CreatedPost), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn edit_post(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostEdit>,
) -> ApiResult<Json<CreatedPost>> {
    let row = state
        .processor
        .posts()
        .edit(
            &account,
            &id,
            Edit {
                title: body.title.as_deref(),
                content: body.content.as_deref(),
                summary: body.summary.as_deref().map(|s| Some(s).filter(|s| !s.is_empty())),
                sensitive: body.sensitive,
            },
        )
        .await?;
    let url = thread_url(&state, &row);
    Ok(Json(CreatedPost { id: row.ap_id, url }))
}

#[derive(Deserialize)]
pub struct RemovalQuery {
    /// Why a moderator removes the post (sent with the removal, as Lemmy shows it).
    reason: Option<String>,
}

/// Delete your post, or remove one as a moderator of its working group.
#[utoipa::path(delete, path = "/api/v1/posts/{id}",
    params(("id" = String, Path), ("reason" = Option<String>, Query, description = "why a moderator removes it")),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_post(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    Query(query): Query<RemovalQuery>,
) -> ApiResult<StatusCode> {
    state
        .processor
        .posts()
        .delete(&account, &id, query.reason.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Default)]
pub struct Reaction {
    /// A dislike (Lemmy's downvote) instead of a like.
    #[serde(default)]
    pub dislike: bool,
}

async fn react(
    state: &AppState,
    account: &Account,
    id: &str,
    dislike: bool,
    on: bool,
) -> ApiResult<Json<PostDto>> {
    let kind = if dislike {
        ReactionKind::Dislike
    } else {
        ReactionKind::Like
    };
    state.processor.posts().react(account, id, kind, on).await?;
    let thread = state.processor.posts().thread(Some(&account.person), id).await?;
    let view = std::iter::once(&thread.root)
        .chain(&thread.replies)
        .find(|v| v.post.ap_id == id)
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "no such post"))?;
    Ok(Json(dto(state, view)))
}

/// Like (or dislike) a post.
#[utoipa::path(post, path = "/api/v1/posts/{id}/like", request_body = Reaction, params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = PostDto), (status = 404, body = ErrorBody)))]
async fn like_post(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Option<Json<Reaction>>,
) -> ApiResult<Json<PostDto>> {
    let dislike = body.map(|Json(b)| b.dislike).unwrap_or(false);
    react(&state, &account, &id, dislike, true).await
}

#[derive(Deserialize, IntoParams)]
pub struct UnlikeQuery {
    #[serde(default)]
    pub dislike: bool,
}

/// Take back a like (or, with `?dislike=true`, a dislike).
#[utoipa::path(delete, path = "/api/v1/posts/{id}/like", params(("id" = String, Path), UnlikeQuery),
    security(("bearer" = [])), responses((status = 200, body = PostDto), (status = 404, body = ErrorBody)))]
async fn unlike_post(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    Query(query): Query<UnlikeQuery>,
) -> ApiResult<Json<PostDto>> {
    react(&state, &account, &id, query.dislike, false).await
}

#[derive(Deserialize, ToSchema)]
pub struct LockRequest {
    pub locked: bool,
}

/// Lock or unlock a thread (moderators of its group).
#[utoipa::path(post, path = "/api/v1/posts/{id}/lock", request_body = LockRequest, params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn lock_thread(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LockRequest>,
) -> ApiResult<StatusCode> {
    state
        .processor
        .posts()
        .set_locked(&account, &id, body.locked)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct PageQuery {
    /// From 1.
    pub page: Option<u64>,
    /// At most 100; default 20.
    pub per_page: Option<u64>,
}

impl PageQuery {
    pub fn page(&self) -> Page {
        Page {
            number: self.page.unwrap_or(1).max(1),
            size: self.per_page.unwrap_or(20).clamp(1, 100),
        }
    }
}

/// A local working group's threads, most recently active first.
#[utoipa::path(get, path = "/api/v1/groups/{name}/threads", params(("name" = String, Path), PageQuery),
    responses((status = 200, body = Vec<PostDto>), (status = 404, body = ErrorBody)))]
async fn group_threads(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(name): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<Vec<PostDto>>> {
    let group = state.processor.groups().local(&name).await?;
    let threads = state
        .processor
        .posts()
        .group_threads(account.as_ref().into(), &group, query.page())
        .await?;
    Ok(Json(threads.iter().map(|v| dto(&state, v)).collect()))
}

#[derive(Deserialize, ToSchema, Clone)]
pub struct PlaceInput {
    pub name: String,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct GroupSettingsUpdate {
    /// `open` (anyone, a mention is enough), `members` or `moderators`.
    pub posting_policy: Option<String>,
    /// `public` or `members` (posts go to members only).
    pub visibility: Option<String>,
    /// Boost replies to followers on Mastodon and similar servers too.
    pub announce_replies: Option<bool>,
    /// Publish who follows the group in its `followers` collection (by
    /// default only their number is published).
    pub list_followers: Option<bool>,
    /// Markdown.
    pub rules: Option<String>,
    pub topics: Option<Vec<String>>,
    pub place: Option<PlaceInput>,
    pub icon_url: Option<String>,
}

impl GroupSettingsUpdate {
    pub fn as_settings(&self) -> groups::Settings<'_> {
        groups::Settings {
            posting_policy: self.posting_policy.as_deref(),
            visibility: self.visibility.as_deref(),
            announce_replies: self.announce_replies,
            list_followers: self.list_followers,
            rules: self.rules.as_deref(),
            topics: self.topics.clone(),
            place: self.place.clone().map(|p| healthcommons_service::node::Place {
                name: p.name,
                address: p.address,
                latitude: p.latitude,
                longitude: p.longitude,
            }),
            icon_url: self.icon_url.as_deref(),
        }
    }
}

/// Change a working group's settings (its moderators).
#[utoipa::path(patch, path = "/api/v1/groups/{name}/settings", request_body = GroupUpdate,
    params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_group_settings(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<GroupUpdate>,
) -> ApiResult<StatusCode> {
    let changes = groups::GroupChanges {
        display_name: body.display_name.as_deref(),
        summary: body.summary.as_deref(),
        settings: body.settings.as_settings(),
    };
    state.processor.groups().update(&account, &name, &changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A change to a working group: its profile (sent to its followers' nodes
/// as an `Update`) and its settings.
#[derive(Deserialize, ToSchema)]
pub struct GroupUpdate {
    pub display_name: Option<String>,
    /// Markdown.
    pub summary: Option<String>,
    #[serde(flatten)]
    pub settings: GroupSettingsUpdate,
}

/// `home` (signed in: your groups and the people you follow), `local` or `federated`.
#[utoipa::path(get, path = "/api/v1/feeds/{feed}", params(("feed" = String, Path), PageQuery),
    responses((status = 200, body = Vec<PostDto>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn read_feed(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(feed): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<Vec<PostDto>>> {
    let feed =
        match feed.as_str() {
            "home" => Feed::Home(account.as_ref().map(|a| &a.person).ok_or_else(|| {
                ApiError::new(ErrorKind::Unauthorized, "the home feed needs a bearer token")
            })?),
            "local" => Feed::Local,
            "federated" => Feed::Federated,
            _ => {
                return Err(ApiError::new(
                    ErrorKind::NotFound,
                    "feeds are home, local and federated",
                ));
            }
        };
    let items = state.processor.posts().feed(feed, query.page()).await?;
    Ok(Json(items.iter().map(|v| dto(&state, v)).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewReport {
    /// The reported post's ActivityPub id.
    pub post: Option<String>,
    /// The reported actor's ActivityPub id (defaults to the post's author).
    pub actor: Option<String>,
    pub comment: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReportDto {
    pub id: i64,
    pub activity_id: String,
    pub reporter: Option<String>,
    pub target: Option<String>,
    pub posts: Vec<String>,
    pub comment: String,
    /// `open` or `resolved`.
    pub state: String,
    /// It arrived from another node.
    pub incoming: bool,
    pub created_at: String,
}

/// Report a post or a person to the moderators (and to their node).
#[utoipa::path(post, path = "/api/v1/reports", request_body = NewReport, security(("bearer" = [])),
    responses((status = 201, body = ReportDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn file_report(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<NewReport>,
) -> ApiResult<Response> {
    let row = state
        .processor
        .reports()
        .file(
            &account,
            body.post.as_deref(),
            body.actor.as_deref(),
            &body.comment,
        )
        .await?;
    let created = ReportDto {
        id: row.id,
        activity_id: row.ap_id,
        reporter: Some(account.person.handle()),
        target: None,
        posts: serde_json::from_str(&row.post_ids).unwrap_or_default(),
        comment: row.content,
        state: row.state.to_string(),
        incoming: row.incoming,
        created_at: row.created_at.to_rfc3339(),
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The reports queue: all of it for node moderators and admins, the reports
/// about their groups for group moderators.
#[utoipa::path(get, path = "/api/v1/reports", security(("bearer" = [])),
    responses((status = 200, body = Vec<ReportDto>), (status = 403, body = ErrorBody)))]
async fn report_queue(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
) -> ApiResult<Json<Vec<ReportDto>>> {
    let queue = state.processor.reports().queue(&account).await?;
    Ok(Json(
        queue
            .into_iter()
            .map(|r| ReportDto {
                id: r.report.id,
                activity_id: r.report.ap_id,
                reporter: r.reporter.as_ref().map(actor::Model::handle),
                target: r.target.as_ref().map(actor::Model::handle),
                posts: r.post_ids,
                comment: r.report.content,
                state: r.report.state.to_string(),
                incoming: r.report.incoming,
                created_at: r.report.created_at.to_rfc3339(),
            })
            .collect(),
    ))
}

/// Mark a report resolved.
#[utoipa::path(post, path = "/api/v1/reports/{id}/resolve", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn resolve_report(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.processor.reports().resolve(&account, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An earlier version of a post.
#[derive(Serialize, ToSchema)]
pub struct Revision {
    pub title: Option<String>,
    /// Sanitised HTML.
    pub content_html: String,
    pub summary: Option<String>,
    /// When this version was replaced by the next.
    pub replaced_at: String,
}

#[utoipa::path(get, path = "/api/v1/posts/{id}/revisions", params(("id" = String, Path, description = "url-encoded ActivityPub id")),
    description = "A post's earlier versions, oldest first (the current one is the post itself).",
    responses((status = 200, body = [Revision]), (status = 404, body = ErrorBody)))]
async fn post_revisions(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Revision>>> {
    let (_, revisions) = state
        .processor
        .posts()
        .history(account.as_ref().map(|a| &a.person), &id)
        .await?;
    Ok(Json(
        revisions
            .into_iter()
            .map(|r| Revision {
                title: r.title,
                content_html: r.content_html,
                summary: r.summary,
                replaced_at: r.edited_at.to_rfc3339(),
            })
            .collect(),
    ))
}
