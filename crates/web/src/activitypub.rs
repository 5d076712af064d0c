//! ActivityPub routes: actors (with content negotiation), inboxes and
//! collections. One URL serves a page to people and JSON to servers.

use crate::{
    AppState,
    auth::{MaybeSession, SignedFetcher},
    error::PageError,
    pages, thread_pages,
};
use activitypub_federation::traits::Object;
use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{
    entities::{actor, post},
    queries,
};
use healthcommons_federation::{
    collections,
    inbox::{self, InboxRejection},
    negotiation::{self, AP_CONTENT_TYPE},
    objects::actor::DbActor,
    objects::{post::note_of, tombstone_json},
    publisher,
};
use healthcommons_service::policy::Subject;
use serde_json::Value;
use tracing::{debug, error};

pub fn routes(max_inbox_body: usize) -> Router<AppState> {
    let inboxes = Router::new()
        .route("/inbox", post(shared_inbox))
        .route("/u/{name}/inbox", post(person_inbox))
        .route("/g/{name}/inbox", post(group_inbox))
        .route("/actor/inbox", post(shared_inbox))
        .layer(DefaultBodyLimit::max(max_inbox_body));
    Router::new()
        .route("/u/{name}", get(person))
        .route("/g/{name}", get(group))
        .route("/actor", get(instance_actor))
        .route("/u/{name}/{collection}", get(person_collection))
        .route("/g/{name}/{collection}", get(group_collection))
        .route("/actor/outbox", get(instance_outbox))
        .route("/p/{token}", get(post_object))
        .route("/p/{token}/context", get(thread_context))
        .merge(inboxes)
}

pub fn activity_json(value: Value) -> Response {
    let body = serde_json::to_string(&value).unwrap_or_else(|_| "{}".into());
    (
        [
            (http::header::CONTENT_TYPE, AP_CONTENT_TYPE),
            (http::header::VARY, "Accept"),
        ],
        body,
    )
        .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

async fn local_actor(
    state: &AppState,
    name: &str,
    kind: ActorKind,
) -> Result<Option<actor::Model>, PageError> {
    Ok(queries::actors::local_by_username(state.read_db(), name)
        .await?
        .filter(|a| a.kind == kind))
}

async fn actor_json(state: &AppState, row: actor::Model) -> Response {
    let data = state.data();
    let json = match DbActor::new(row) {
        Ok(actor) => actor.into_json(&data).await,
        Err(err) => Err(err),
    };
    match json.and_then(|j| serde_json::to_value(j).map_err(Into::into)) {
        Ok(mut value) => {
            if let Value::Object(map) = &mut value {
                map.insert("@context".into(), publisher::ld_context());
            }
            activity_json(value)
        }
        Err(err) => {
            error!(%err, "could not render an actor");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    negotiation::wants_activity_json(headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()))
}

async fn person(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    session: MaybeSession,
) -> Result<Response, PageError> {
    let Some(row) = local_actor(&state, &name, ActorKind::Person).await? else {
        return Ok(if wants_json(&headers) {
            not_found()
        } else {
            pages::not_found(session).into_response()
        });
    };
    if wants_json(&headers) {
        return Ok(actor_json(&state, row).await);
    }
    vary_on_accept(pages::person_page(&state, session, row).await)
}

/// Pages served at an actor's URL vary with `Accept` (JSON for servers).
fn vary_on_accept(page: Result<Response, PageError>) -> Result<Response, PageError> {
    page.map(|mut response| {
        response
            .headers_mut()
            .insert(http::header::VARY, http::HeaderValue::from_static("Accept"));
        response
    })
}

async fn group(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    session: MaybeSession,
) -> Result<Response, PageError> {
    let Some(row) = local_actor(&state, &name, ActorKind::Group).await? else {
        return Ok(if wants_json(&headers) {
            not_found()
        } else {
            pages::not_found(session).into_response()
        });
    };
    if wants_json(&headers) {
        return Ok(actor_json(&state, row).await);
    }
    vary_on_accept(pages::group_page(&state, session, row, &headers).await)
}

async fn instance_actor(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    if !wants_json(&headers) {
        return Ok(Redirect::to("/").into_response());
    }
    match queries::actors::instance_actor(state.db()).await? {
        Some(row) => Ok(actor_json(&state, row).await),
        None => Ok(not_found()),
    }
}

async fn receive(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            return (status, InboxRejection::TooLarge.to_string()).into_response();
        }
    };
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/inbox");
    let data = state.data();
    match inbox::receive(&data, headers, target, &body).await {
        Ok(received) => {
            debug!(?received, "inbox accepted an activity");
            StatusCode::ACCEPTED.into_response()
        }
        Err(rejection) => {
            let status = StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::BAD_REQUEST);
            debug!(%rejection, "inbox refused a request");
            let mut response = (status, rejection.to_string()).into_response();
            if let Some(seconds) = rejection.retry_after() {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
            }
            response
        }
    }
}

async fn shared_inbox(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    receive(&state, &uri, &headers, body).await
}

async fn person_inbox(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    actor_inbox(&state, &name, ActorKind::Person, &uri, &headers, body).await
}

async fn group_inbox(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    actor_inbox(&state, &name, ActorKind::Group, &uri, &headers, body).await
}

/// A local actor's own inbox: 404 for a name that is not that kind of actor.
async fn actor_inbox(
    state: &AppState,
    name: &str,
    kind: ActorKind,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match local_actor(state, name, kind).await {
        Ok(Some(_)) => receive(state, uri, headers, body).await,
        Ok(None) => not_found(),
        Err(PageError(err)) => err.into_response(),
    }
}

/// `outbox`, `followers` or `following` of a local person or working group.
/// Who belongs to a members-only group is for its members only.
async fn collection_of(
    state: &AppState,
    fetcher: &SignedFetcher,
    name: &str,
    kind: ActorKind,
    which: &str,
) -> Result<Response, PageError> {
    let Some(row) = local_actor(state, name, kind).await? else {
        return Ok(not_found());
    };
    if which == "followers"
        && kind == ActorKind::Group
        && !fetcher.sees(state, Subject::Members(&row)).await?
    {
        return Ok(not_found());
    }
    let id = format!("{}/{which}", row.ap_id);
    let value = match which {
        "followers" if lists_followers(state, &row).await? => collections::ordered(
            &id,
            queries::follows::accepted_follower_ap_ids(state.db(), row.id).await?,
        ),
        "followers" => {
            collections::counted_collection(&id, queries::follows::count_followers(state.db(), row.id).await?)
        }
        "following" => {
            collections::counted_collection(&id, queries::follows::count_following(state.db(), row.id).await?)
        }
        "outbox" => {
            let page = queries::posts::Page { number: 1, size: 20 };
            let posts = queries::posts::outbox_of(state.db(), &row, page).await?;
            let items = collections::outbox_items(state.db(), &row, posts).await;
            let total = queries::posts::count_outbox_of(state.db(), &row).await?;
            collections::outbox(&id, total, items)
        }
        "moderators" if kind == ActorKind::Group => {
            let moderators = queries::groups::moderator_actors(state.db(), row.id).await?;
            collections::ordered(&id, moderators.into_iter().map(|a| a.ap_id).collect())
        }
        _ => return Ok(not_found()),
    };
    Ok(activity_json(value))
}

/// Whether a working group has chosen to publish who follows it.
async fn lists_followers(state: &AppState, row: &actor::Model) -> Result<bool, PageError> {
    Ok(row.kind == ActorKind::Group
        && queries::groups::settings(state.db(), row.id)
            .await?
            .is_some_and(|s| s.list_followers))
}

async fn person_collection(
    State(state): State<AppState>,
    Path((name, collection)): Path<(String, String)>,
    fetcher: SignedFetcher,
) -> Result<Response, PageError> {
    collection_of(&state, &fetcher, &name, ActorKind::Person, &collection).await
}

async fn group_collection(
    State(state): State<AppState>,
    Path((name, collection)): Path<(String, String)>,
    fetcher: SignedFetcher,
) -> Result<Response, PageError> {
    collection_of(&state, &fetcher, &name, ActorKind::Group, &collection).await
}

async fn instance_outbox(State(state): State<AppState>) -> Response {
    // The instance actor publishes nothing; it only signs fetches and reports.
    activity_json(collections::outbox(
        &format!("{}/actor/outbox", state.context().node.urls.base()),
        0,
        Vec::new(),
    ))
}

/// A local post by its URL token, public or unlisted only.
async fn local_post(state: &AppState, token: &str) -> Result<Option<post::Model>, PageError> {
    let ap_id = format!("{}/p/{token}", state.context().node.urls.base());
    Ok(queries::posts::by_ap_id(state.db(), &ap_id)
        .await?
        .filter(|p| p.local))
}

/// A post: its `Note` for servers, its thread page for people, `410 Gone`
/// with a `Tombstone` once deleted. A members-only post is served to a
/// member's signed fetch only; to anyone else it does not exist.
async fn post_object(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    session: MaybeSession,
    fetcher: SignedFetcher,
) -> Result<Response, PageError> {
    let json = wants_json(&headers);
    let mut post = local_post(&state, &token).await?;
    if json
        && let Some(found) = &post
        && !fetcher.sees(&state, Subject::Post(found)).await?
    {
        post = None;
    }
    let Some(post) = post else {
        return Ok(if json {
            not_found()
        } else {
            pages::not_found(session).into_response()
        });
    };
    if !json {
        return vary_on_accept(thread_pages::thread_page(&state, session, &headers, &post.ap_id).await);
    }
    if post.is_gone() {
        let mut response = activity_json(tombstone_json(&post.ap_id, "Note", post.deleted_at));
        *response.status_mut() = StatusCode::GONE;
        return Ok(response);
    }
    match note_of(state.db(), post).await {
        Ok(note) => {
            let mut value = serde_json::to_value(note).unwrap_or_default();
            if let Value::Object(map) = &mut value {
                map.insert("@context".into(), publisher::ld_context());
            }
            Ok(activity_json(value))
        }
        Err(err) => {
            error!(%err, "could not render a post");
            Ok((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response())
        }
    }
}

/// FEP-7888: every post of a thread the fetcher may read, so others can
/// backfill it.
async fn thread_context(
    State(state): State<AppState>,
    Path(token): Path<String>,
    fetcher: SignedFetcher,
) -> Result<Response, PageError> {
    let Some(root) = local_post(&state, &token)
        .await?
        .filter(|p| p.in_reply_to.is_none())
    else {
        return Ok(not_found());
    };
    if !fetcher.sees(&state, Subject::Post(&root)).await? {
        return Ok(not_found());
    }
    let mut ids = vec![root.ap_id.clone()];
    for reply in queries::posts::replies_in_threads(state.db(), vec![root.id]).await? {
        if !reply.is_gone()
            && reply.author_id.is_some()
            && fetcher.sees(&state, Subject::Post(&reply)).await?
        {
            ids.push(reply.ap_id);
        }
    }
    let id = format!("{}/context", root.ap_id);
    Ok(activity_json(collections::ordered(&id, ids)))
}
