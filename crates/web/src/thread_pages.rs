//! Pages for discussions: threads with nested replies, writing with a
//! markdown preview, likes, edits, deletes, reports, feeds and the reports
//! queue. No JavaScript: every action is a form.

use crate::auth::CheckedForm;
use crate::{
    AppState,
    auth::{self, MaybeSession, Viewer},
    discussions,
    error::{ApiError, PageError, PageResult},
    pages::{CsrfForm, render},
};
use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::cookie::CookieJar;
use healthcommons_core::{ErrorKind, text};
use healthcommons_db::entities::ReactionKind;
use healthcommons_db::{
    entities::{Visibility, actor, post},
    queries::{self, posts::Page},
};
use healthcommons_service::{
    accounts::Account,
    posts::{Compose, Edit, Feed, PostView},
};
use serde::Deserialize;
use std::collections::HashSet;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/threads/{id}", get(thread_by_id))
        .route("/g/{name}/threads", post(start_thread))
        .route("/posts/{id}/reply", post(reply))
        .route("/posts/{id}/like", post(like))
        .route("/posts/{id}/delete", post(delete))
        .route("/posts/{id}/lock", post(lock))
        .route("/posts/{id}/report", post(report))
        .route("/posts/{id}/edit", get(edit_form).post(edit))
        .route("/posts/{id}/history", get(history))
        .route("/feed/{feed}", get(feed))
        .route("/tags/{tag}", get(tag))
        .route("/admin/reports", get(report_queue))
        .route("/admin/reports/{id}/resolve", post(resolve_report))
}

pub(crate) fn signed_in(session: &MaybeSession) -> PageResult<Account> {
    session
        .0
        .clone()
        .ok_or_else(|| PageError(ApiError::new(ErrorKind::Unauthorized, "sign in first")))
}

/// A post as a page shows it.
pub struct PostItem {
    pub id: i64,
    pub ap_id: String,
    pub thread_id: i64,
    pub title: String,
    pub content_html: String,
    pub summary: String,
    pub sensitive: bool,
    pub author: String,
    pub author_url: String,
    pub group: String,
    pub group_url: String,
    pub published: String,
    pub edited: bool,
    /// Why it shows no text: deleted or removed.
    pub gone: String,
    pub depth: usize,
    pub likes: i32,
    pub dislikes: i32,
    pub boosts: i32,
    pub replies: i32,
    pub locked: bool,
    pub members_only: bool,
    pub liked: bool,
    pub mine: bool,
    pub moderator: bool,
}

/// What a signed-in viewer's buttons need to know of a list of posts, read
/// once for the whole list.
#[derive(Default)]
struct ViewerFacts {
    liked: HashSet<i64>,
    moderated_groups: HashSet<i64>,
}

impl ViewerFacts {
    async fn of(state: &AppState, viewer: Option<&Account>, views: &[PostView]) -> PageResult<Self> {
        let Some(account) = viewer else {
            return Ok(Self::default());
        };
        let post_ids = views.iter().map(|v| v.post.id).collect();
        let liked =
            queries::posts::reacted_among(state.read_db(), post_ids, account.person.id, ReactionKind::Like)
                .await?;
        let mut groups: Vec<&actor::Model> = views.iter().filter_map(|v| v.group.as_ref()).collect();
        groups.sort_unstable_by_key(|g| g.id);
        groups.dedup_by_key(|g| g.id);
        let moderated_groups = state.processor.posts().moderated_among(account, &groups).await?;
        Ok(Self {
            liked,
            moderated_groups,
        })
    }
}

fn item(viewer: Option<&Account>, facts: &ViewerFacts, view: &PostView) -> PostItem {
    let post = &view.post;
    let gone = if post.deleted_at.is_some() {
        "deleted by its author"
    } else if post.removed {
        "removed by a moderator"
    } else {
        ""
    };
    let liked = facts.liked.contains(&post.id);
    let moderator = post
        .group_id
        .is_some_and(|group_id| facts.moderated_groups.contains(&group_id));
    let page_of = |a: &healthcommons_db::entities::actor::Model| {
        if a.local {
            a.ap_id.clone()
        } else {
            a.url.clone().unwrap_or_else(|| a.ap_id.clone())
        }
    };
    PostItem {
        id: post.id,
        ap_id: post.ap_id.clone(),
        thread_id: post.root_id.unwrap_or(post.id),
        title: post.title.clone().unwrap_or_default(),
        content_html: if gone.is_empty() {
            post.content_html.clone()
        } else {
            String::new()
        },
        summary: post.summary.clone().unwrap_or_default(),
        sensitive: post.sensitive,
        author: view.author.as_ref().map(|a| a.handle()).unwrap_or_default(),
        author_url: view.author.as_ref().map(page_of).unwrap_or_default(),
        group: view
            .group
            .as_ref()
            .map(|g| g.display_name.clone().unwrap_or_else(|| g.username.clone()))
            .unwrap_or_default(),
        group_url: view.group.as_ref().map(page_of).unwrap_or_default(),
        published: post.published.format("%Y-%m-%d %H:%M UTC").to_string(),
        edited: post.updated_at.is_some(),
        gone: gone.into(),
        depth: view.depth.min(8),
        likes: post.likes,
        dislikes: post.dislikes,
        boosts: post.boosts,
        replies: post.replies,
        locked: post.locked,
        members_only: post.visibility == Visibility::Members,
        liked,
        mine: viewer.is_some_and(|a| post.author_id == Some(a.person.id) && post.local),
        moderator,
    }
}

pub async fn items_for(
    state: &AppState,
    viewer: Option<&Account>,
    views: &[PostView],
) -> PageResult<Vec<PostItem>> {
    items(state, viewer, views).await
}

async fn items(state: &AppState, viewer: Option<&Account>, views: &[PostView]) -> PageResult<Vec<PostItem>> {
    let facts = ViewerFacts::of(state, viewer, views).await?;
    Ok(views.iter().map(|view| item(viewer, &facts, view)).collect())
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    viewer: Option<Viewer>,
    csrf: String,
    posts: Vec<PostItem>,
    /// The garden item this thread discusses (its page and title), if any.
    discusses: Option<(String, String)>,
    /// The post a reply is being previewed for, with its text.
    preview_for: i64,
    preview_html: String,
    draft: String,
    error: String,
}

async fn render_thread(
    state: &AppState,
    session: &MaybeSession,
    csrf: String,
    ap_id: &str,
    preview: Option<(i64, String, String)>,
) -> PageResult<Html<String>> {
    let viewer = session.0.as_ref();
    let thread = state
        .processor
        .posts()
        .thread(viewer.map(|a| &a.person), ap_id)
        .await?;
    let discusses = match thread.root.post.garden_item_id {
        Some(item_id) => queries::garden::by_id(state.db(), item_id)
            .await?
            .filter(|i| i.deleted_at.is_none())
            .map(|i| (crate::garden_pages::item_path(&i), i.title)),
        None => None,
    };
    let mut views = vec![thread.root];
    views.extend(thread.replies);
    let (preview_for, draft, error) = preview.unwrap_or((0, String::new(), String::new()));
    render(ThreadPage {
        viewer: session.viewer(),
        csrf,
        posts: items(state, viewer, &views).await?,
        discusses,
        preview_for,
        preview_html: if draft.is_empty() {
            String::new()
        } else {
            text::markdown_to_html(&draft)
        },
        draft,
        error,
    })
}

/// The thread page of a post (used at the post's own URL too).
pub async fn thread_page(
    state: &AppState,
    session: MaybeSession,
    headers: &HeaderMap,
    ap_id: &str,
) -> PageResult<Response> {
    let (jar, csrf) =
        auth::csrf_token_if_signed_in(CookieJar::from_headers(headers), &session, state.secure_cookies);
    let page = render_thread(state, &session, csrf, ap_id, None).await?;
    Ok((jar, page).into_response())
}

async fn post_by_local_id(state: &AppState, id: i64) -> PageResult<post::Model> {
    queries::posts::by_id(state.db(), id)
        .await?
        .filter(|p| p.author_id.is_some())
        .ok_or_else(|| PageError(ApiError::new(ErrorKind::NotFound, "no such post")))
}

async fn thread_by_id(
    State(state): State<AppState>,
    session: MaybeSession,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let post = post_by_local_id(&state, id).await?;
    thread_page(&state, session, &headers, &post.ap_id).await
}

#[derive(Deserialize)]
struct ComposeForm {
    csrf: String,
    #[serde(default)]
    title: String,
    content: String,
    #[serde(default)]
    summary: String,
    /// `public`, `unlisted` or `followers` (thread starts only).
    #[serde(default)]
    visibility: String,
    /// `preview` or `post`.
    #[serde(default)]
    action: String,
}

async fn start_thread(
    State(state): State<AppState>,
    session: MaybeSession,
    headers: HeaderMap,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<ComposeForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let group = state.processor.groups().local(&name).await?;
    let draft = crate::pages::Draft {
        title: form.title.clone(),
        content: form.content.clone(),
        summary: form.summary.clone(),
        visibility: form.visibility.clone(),
        preview_html: text::markdown_to_html(&form.content),
        error: String::new(),
    };
    if form.action == "preview" {
        return crate::pages::group_page_with_draft(&state, session, group, &headers, Some(draft)).await;
    }
    let compose = Compose {
        title: Some(&form.title),
        content: &form.content,
        summary: Some(form.summary.as_str()).filter(|s| !s.trim().is_empty()),
        visibility: Some(form.visibility.as_str()).filter(|v| !v.is_empty()),
        ..Compose::default()
    };
    let created = state
        .processor
        .posts()
        .create(&account, Some(&name), compose)
        .await;
    match created.map_err(ApiError::from) {
        Ok(row) => Ok(Redirect::to(&discussions::thread_path(&row)).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::Forbidden) => {
            let draft = crate::pages::Draft {
                error: err.message.clone(),
                ..draft
            };
            crate::pages::group_page_with_draft(&state, session, group, &headers, Some(draft)).await
        }
        Err(err) => Err(err.into()),
    }
}

async fn reply(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<ComposeForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let parent = post_by_local_id(&state, id).await?;
    if form.action == "preview" {
        let page = render_thread(
            &state,
            &session,
            form.csrf,
            &parent.ap_id,
            Some((id, form.content, String::new())),
        )
        .await?;
        return Ok(page.into_response());
    }
    // A reply is as visible as what it answers: no visibility of its own.
    let compose = Compose {
        content: &form.content,
        in_reply_to: Some(&parent.ap_id),
        summary: Some(form.summary.as_str()).filter(|s| !s.trim().is_empty()),
        ..Compose::default()
    };
    let created = state.processor.posts().create(&account, None, compose).await;
    match created.map_err(ApiError::from) {
        Ok(row) => Ok(Redirect::to(&discussions::thread_path(&row)).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::Forbidden) => {
            let page = render_thread(
                &state,
                &session,
                form.csrf,
                &parent.ap_id,
                Some((id, form.content, err.message)),
            )
            .await?;
            Ok((http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

/// Like, or take the like back.
async fn like(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let post = post_by_local_id(&state, id).await?;
    let liked = queries::posts::reaction_of(state.db(), post.id, account.person.id, ReactionKind::Like)
        .await?
        .is_some();
    state
        .processor
        .posts()
        .react(&account, &post.ap_id, ReactionKind::Like, !liked)
        .await?;
    Ok(Redirect::to(&discussions::thread_path(&post)).into_response())
}

/// Deleting one's post, or removing one as a moderator, with a reason.
#[derive(Deserialize)]
struct RemoveForm {
    reason: Option<String>,
}

async fn delete(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<RemoveForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let post = post_by_local_id(&state, id).await?;
    state
        .processor
        .posts()
        .delete(&account, &post.ap_id, form.reason.as_deref())
        .await?;
    Ok(Redirect::to(&discussions::thread_path(&post)).into_response())
}

#[derive(Deserialize)]
struct LockForm {
    locked: String,
}

async fn lock(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<LockForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let post = post_by_local_id(&state, id).await?;
    state
        .processor
        .posts()
        .set_locked(&account, &post.ap_id, form.locked == "true")
        .await?;
    Ok(Redirect::to(&discussions::thread_path(&post)).into_response())
}

#[derive(Deserialize)]
struct ReportForm {
    comment: String,
}

async fn report(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<ReportForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let post = post_by_local_id(&state, id).await?;
    state
        .processor
        .reports()
        .file(&account, Some(&post.ap_id), None, &form.comment)
        .await?;
    Ok(Redirect::to(&format!(
        "{}?reported=1",
        discussions::thread_path(&post).split('#').next().unwrap_or("/")
    ))
    .into_response())
}

#[derive(Template)]
#[template(path = "edit_post.html")]
struct EditPage {
    viewer: Option<Viewer>,
    csrf: String,
    id: i64,
    is_thread: bool,
    title: String,
    content: String,
    summary: String,
    preview_html: String,
    error: String,
}

async fn edit_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let post = post_by_local_id(&state, id).await?;
    if post.author_id != Some(account.person.id) || !post.local || post.is_gone() {
        return Err(PageError(ApiError::new(
            ErrorKind::Forbidden,
            "only its author may edit a post",
        )));
    }
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(EditPage {
        viewer: session.viewer(),
        csrf,
        id,
        is_thread: post.in_reply_to.is_none(),
        title: post.title.unwrap_or_default(),
        content: post.source.unwrap_or_default(),
        summary: post.summary.unwrap_or_default(),
        preview_html: String::new(),
        error: String::new(),
    })?;
    Ok((jar, page).into_response())
}

async fn edit(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<ComposeForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let post = post_by_local_id(&state, id).await?;
    let page = |preview_html: String, error: String| EditPage {
        viewer: session.viewer(),
        csrf: form.csrf.clone(),
        id,
        is_thread: post.in_reply_to.is_none(),
        title: form.title.clone(),
        content: form.content.clone(),
        summary: form.summary.clone(),
        preview_html,
        error,
    };
    if form.action == "preview" {
        return Ok(render(page(text::markdown_to_html(&form.content), String::new()))?.into_response());
    }
    let result = state
        .processor
        .posts()
        .edit(
            &account,
            &post.ap_id,
            Edit {
                title: Some(form.title.as_str()).filter(|_| post.in_reply_to.is_none()),
                content: Some(form.content.as_str()),
                summary: Some(Some(form.summary.as_str()).filter(|s| !s.trim().is_empty())),
                sensitive: None,
            },
        )
        .await;
    match result {
        Ok(row) => Ok(Redirect::to(&discussions::thread_path(&row)).into_response()),
        Err(err) if err.kind() == ErrorKind::Validation => Ok((
            http::StatusCode::UNPROCESSABLE_ENTITY,
            render(page(String::new(), err.public_message()))?,
        )
            .into_response()),
        Err(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage {
    viewer: Option<Viewer>,
    heading: String,
    posts: Vec<PostItem>,
    page: u64,
    has_more: bool,
}

#[derive(Deserialize)]
struct PageParam {
    page: Option<u64>,
}

const FEED_PAGE: u64 = 20;

async fn feed(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(which): Path<String>,
    Query(query): Query<PageParam>,
) -> PageResult<Html<String>> {
    let viewer = session.0.as_ref();
    let (feed, heading) = match which.as_str() {
        "home" => {
            let account =
                viewer.ok_or_else(|| PageError(ApiError::new(ErrorKind::Unauthorized, "sign in first")))?;
            (
                Feed::Home(&account.person),
                "Your groups and the people you follow",
            )
        }
        "local" => (Feed::Local, "Threads started on this node"),
        "federated" => (Feed::Federated, "Threads from every node this one hears from"),
        _ => {
            return Err(PageError(ApiError::new(
                ErrorKind::NotFound,
                "feeds are home, local and federated",
            )));
        }
    };
    let page = Page {
        number: query.page.unwrap_or(1).max(1),
        size: FEED_PAGE,
    };
    let views = state.processor.posts().feed(feed, page).await?;
    render(FeedPage {
        viewer: session.viewer(),
        heading: heading.into(),
        has_more: views.len() as u64 == FEED_PAGE,
        posts: items(&state, viewer, &views).await?,
        page: page.number,
    })
}

async fn tag(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(tag): Path<String>,
    Query(query): Query<PageParam>,
) -> PageResult<Html<String>> {
    let tag = tag.to_lowercase();
    let page = Page {
        number: query.page.unwrap_or(1).max(1),
        size: FEED_PAGE,
    };
    let views = state.processor.posts().tagged(&tag, page).await?;
    render(FeedPage {
        viewer: session.viewer(),
        heading: format!("#{tag}"),
        has_more: views.len() as u64 == FEED_PAGE,
        posts: items(&state, session.0.as_ref(), &views).await?,
        page: page.number,
    })
}

struct ReportLine {
    id: i64,
    reporter: String,
    target: String,
    posts: Vec<String>,
    comment: String,
    state: String,
    incoming: bool,
    created_at: String,
}

#[derive(Template)]
#[template(path = "admin_reports.html")]
struct ReportsPage {
    viewer: Option<Viewer>,
    csrf: String,
    reports: Vec<ReportLine>,
}

async fn report_queue(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let queue = state.processor.reports().queue(&account).await?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let handle = |a: &Option<healthcommons_db::entities::actor::Model>| {
        a.as_ref().map(|a| a.handle()).unwrap_or_else(|| "unknown".into())
    };
    let page = render(ReportsPage {
        viewer: session.viewer(),
        csrf,
        reports: queue
            .into_iter()
            .map(|r| ReportLine {
                id: r.report.id,
                reporter: handle(&r.reporter),
                target: handle(&r.target),
                posts: r.post_ids,
                comment: r.report.content,
                state: r.report.state.to_string(),
                incoming: r.report.incoming,
                created_at: r.report.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
    })?;
    Ok((jar, page).into_response())
}

async fn resolve_report(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    state.processor.reports().resolve(&account, id).await?;
    Ok(Redirect::to("/admin/reports").into_response())
}

struct VersionLine {
    label: String,
    title: String,
    content_html: String,
}

#[derive(Template)]
#[template(path = "post_history.html")]
struct HistoryPage {
    viewer: Option<Viewer>,
    thread_path: String,
    versions: Vec<VersionLine>,
}

/// A post's versions, newest first.
async fn history(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Html<String>> {
    let post = post_by_local_id(&state, id).await?;
    let viewer = session.0.as_ref().map(|a| &a.person);
    let (post, revisions) = state.processor.posts().history(viewer, &post.ap_id).await?;
    let mut versions = vec![VersionLine {
        label: format!(
            "Now (edited {})",
            post.updated_at
                .unwrap_or(post.published)
                .format("%Y-%m-%d %H:%M UTC")
        ),
        title: post.title.clone().unwrap_or_default(),
        content_html: post.content_html.clone(),
    }];
    let mut from = post.published;
    let mut earlier = Vec::new();
    for revision in revisions {
        earlier.push(VersionLine {
            label: format!(
                "From {} to {}",
                from.format("%Y-%m-%d %H:%M UTC"),
                revision.edited_at.format("%Y-%m-%d %H:%M UTC")
            ),
            title: revision.title.unwrap_or_default(),
            content_html: revision.content_html,
        });
        from = revision.edited_at;
    }
    versions.extend(earlier.into_iter().rev());
    render(HistoryPage {
        viewer: session.viewer(),
        thread_path: discussions::thread_path(&post),
        versions,
    })
}
