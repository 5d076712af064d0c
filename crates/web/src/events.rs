//! The events API (`/api/v1/events`), events as ActivityPub objects at
//! their ids (`/e/{token}`), and the iCalendar feeds: one per event, per
//! working group and per node.

use crate::activitypub::{LocalObject, serve_object};
use crate::{
    AppState,
    api::{ApiJson, Decision, PlaceDto},
    auth::{ApiAccount, MaybeApiAccount, MaybeSession, SignedFetcher},
    error::{ApiError, ApiResult, ErrorBody},
};
use crate::{error::PageError, pages};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use healthcommons_core::{
    ErrorKind,
    calendar::{self, CalendarEvent},
    event::{EventKind, EventStatus, JoinMode},
};
use healthcommons_db::entities::ParticipantState;
use healthcommons_db::{
    entities::{actor, event},
    queries::{self, events::Listing},
};
use healthcommons_federation::FederationError;
use healthcommons_federation::objects::event::event_of;
use healthcommons_service::{
    accounts::{self, Account},
    events::{EventDraft, EventView, ParticipantView},
    policy::Subject,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", get(list_events).post(create_event))
        .route(
            "/api/v1/events/{id}",
            get(get_event).put(update_event).delete(delete_event),
        )
        .route(
            "/api/v1/events/{id}/participation",
            post(join_event).delete(leave_event),
        )
        .route("/api/v1/events/{id}/participants", get(list_participants))
        .route(
            "/api/v1/events/{id}/participants/{participant}",
            post(decide_participant),
        )
        .route("/e/{token}", get(event_object))
        .route("/api/v1/calendar_key", post(new_calendar_key))
        .route("/events.ics", get(node_calendar))
        .route("/events/{id}/calendar.ics", get(event_calendar))
        .route("/g/{name}/events.ics", get(group_calendar))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_events,
        create_event,
        get_event,
        update_event,
        delete_event,
        join_event,
        leave_event,
        list_participants,
        decide_participant,
        new_calendar_key
    ),
    components(schemas(NewEvent, EventDto, ParticipationRequest, ParticipantDto, CalendarKey))
)]
pub struct EventsDoc;

/// An event as an organiser writes it (the whole of it, also to change it).
#[derive(Deserialize, ToSchema, Clone)]
pub struct NewEvent {
    /// `workshop`, `seminar`, `training` or `meeting`.
    pub kind: String,
    pub title: String,
    /// Markdown.
    #[serde(default)]
    pub description: String,
    /// RFC 3339, e.g. `2026-12-03T18:00:00+01:00`.
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// IANA name of the zone it is held in, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    pub place: Option<PlaceDto>,
    /// Where to join online (http or https).
    pub online_url: Option<String>,
    /// Places available; leave out for no limit.
    pub capacity: Option<i32>,
    /// `free` (default: accepted while places last) or `restricted` (organisers approve).
    pub join_mode: Option<String>,
    /// `confirmed` (default), `tentative` or `cancelled`.
    pub status: Option<String>,
    /// A working group of this node that organises it (when creating).
    pub group: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventDto {
    /// This node's id of the event (in API paths).
    pub id: i64,
    /// Who it is for: `public`, `unlisted` or `members` (a members-only working group's).
    pub visibility: String,
    /// The ActivityPub id.
    pub ap_id: String,
    /// Its page on this node.
    pub url: String,
    pub kind: String,
    pub title: String,
    /// Sanitised HTML.
    pub description_html: String,
    pub starts_at: String,
    pub ends_at: Option<String>,
    pub timezone: Option<String>,
    pub place: Option<PlaceDto>,
    pub online_url: Option<String>,
    pub capacity: Option<i32>,
    pub places_left: Option<i32>,
    pub join_mode: String,
    pub status: String,
    pub participant_count: i32,
    /// Handle of the working group or person organising it.
    pub organiser: Option<String>,
    pub group: Option<String>,
    pub author: Option<String>,
    pub local: bool,
    pub ical_url: String,
    /// Your participation: `pending`, `accepted` or `rejected`.
    pub participation: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct ParticipationRequest {
    /// A note to the organisers.
    pub message: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ParticipantDto {
    pub id: i64,
    /// Handle of who takes part.
    pub actor: String,
    pub actor_id: String,
    /// `pending`, `accepted` or `rejected`.
    pub state: String,
    pub message: Option<String>,
    pub since: String,
}

#[derive(Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Only this working group's (a local name or `name@host`).
    pub group: Option<String>,
    /// Only events organised on this node.
    pub local: Option<bool>,
}

pub fn event_path(event: &event::Model) -> String {
    format!("/events/{}", event.id)
}

pub fn place_of(event: &event::Model) -> Option<PlaceDto> {
    (event.place_name.is_some() || event.address.is_some() || event.latitude.is_some()).then(|| PlaceDto {
        name: event.place_name.clone().unwrap_or_default(),
        address: event.address.clone(),
        latitude: event.latitude,
        longitude: event.longitude,
    })
}

pub fn dto(state: &AppState, view: &EventView, participation: Option<String>) -> EventDto {
    let event = &view.event;
    let base = state.context().node.urls.base();
    EventDto {
        id: event.id,
        visibility: event.visibility.as_str().to_owned(),
        ap_id: event.ap_id.clone(),
        url: format!("{base}{}", event_path(event)),
        kind: event.kind.as_str().to_owned(),
        title: event.title.clone(),
        description_html: event.description_html.clone(),
        starts_at: event.starts_at.to_rfc3339(),
        ends_at: event.ends_at.map(|e| e.to_rfc3339()),
        timezone: event.timezone.clone(),
        place: place_of(event),
        online_url: event.online_url.clone(),
        capacity: event.capacity,
        places_left: view.places_left(),
        join_mode: event.join_mode.as_str().to_owned(),
        status: event.status.as_str().to_owned(),
        participant_count: event.participant_count,
        organiser: view.organiser.as_ref().map(actor::Model::handle),
        group: view.group.as_ref().map(actor::Model::handle),
        author: view.author.as_ref().map(actor::Model::handle),
        local: event.local,
        ical_url: format!("{base}{}/calendar.ics", event_path(event)),
        participation,
    }
}

fn participant_dto(view: &ParticipantView) -> ParticipantDto {
    ParticipantDto {
        id: view.participant.id,
        actor: view.actor.handle(),
        actor_id: view.actor.ap_id.clone(),
        state: view.participant.state.as_str().to_owned(),
        message: view.participant.message.clone(),
        since: view.participant.created_at.to_rfc3339(),
    }
}

/// A draft from the API's words, refusing what is not understood.
pub fn draft_of(body: NewEvent) -> ApiResult<EventDraft> {
    let invalid = |message: String| ApiError::new(ErrorKind::Validation, message);
    let kind = EventKind::parse(&body.kind).ok_or_else(|| {
        invalid(format!(
            "{:?} is not a kind of event: workshop, seminar, training or meeting",
            body.kind
        ))
    })?;
    let join_mode = match body.join_mode.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(raw) => JoinMode::parse(raw)
            .ok_or_else(|| invalid(format!("{raw:?} is not a join mode: free or restricted")))?,
        None => JoinMode::Free,
    };
    let status = match body.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => EventStatus::parse(raw).ok_or_else(|| {
            invalid(format!(
                "{raw:?} is not a status: tentative, confirmed or cancelled"
            ))
        })?,
        None => EventStatus::Confirmed,
    };
    Ok(EventDraft {
        kind,
        title: body.title,
        description: body.description,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        timezone: body.timezone.filter(|z| !z.trim().is_empty()),
        place: body.place.map(Into::into),
        online_url: body.online_url,
        capacity: body.capacity,
        join_mode,
        status,
    })
}

/// The viewer's participation in one event.
async fn participation_of(
    state: &AppState,
    account: Option<&Account>,
    view: &EventView,
) -> ApiResult<Option<String>> {
    let mut states = state
        .processor
        .events()
        .participation_in(std::slice::from_ref(view), account)
        .await?;
    Ok(states.remove(&view.event.id).map(|s| s.to_string()))
}

async fn group_named(state: &AppState, name: Option<&str>) -> ApiResult<Option<actor::Model>> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => Ok(Some(state.processor.groups().find(name).await?)),
        None => Ok(None),
    }
}

/// Events still to come (or running), soonest first: this node's and those
/// learned from others.
#[utoipa::path(get, path = "/api/v1/events", params(EventsQuery),
    responses((status = 200, body = [EventDto]), (status = 404, body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Query(query): Query<EventsQuery>,
) -> ApiResult<Json<Vec<EventDto>>> {
    let group = group_named(&state, query.group.as_deref()).await?;
    let views = state
        .processor
        .events()
        .upcoming(
            account.as_ref().into(),
            Listing {
                group_id: group.map(|g| g.id),
                local_only: query.local.unwrap_or(false),
                from: Utc::now(),
            },
        )
        .await?;
    let mut states = state
        .processor
        .events()
        .participation_in(&views, account.as_ref())
        .await?;
    Ok(Json(
        views
            .iter()
            .map(|view| dto(&state, view, states.remove(&view.event.id).map(|s| s.to_string())))
            .collect(),
    ))
}

/// Organise an event, for a working group of this node or on your own.
#[utoipa::path(post, path = "/api/v1/events", request_body = NewEvent, security(("bearer" = [])),
    responses((status = 201, body = EventDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_event(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    ApiJson(body): ApiJson<NewEvent>,
) -> ApiResult<Response> {
    let group = group_named(&state, body.group.as_deref()).await?;
    let draft = draft_of(body)?;
    let created = state
        .processor
        .events()
        .create(&account, group.as_ref(), draft)
        .await?;
    let view = state
        .processor
        .events()
        .view((&account).into(), created.id)
        .await?;
    Ok((StatusCode::CREATED, Json(dto(&state, &view, None))).into_response())
}

/// One event.
#[utoipa::path(get, path = "/api/v1/events/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = EventDto), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<Json<EventDto>> {
    let view = state.processor.events().view(account.as_ref().into(), id).await?;
    let participation = participation_of(&state, account.as_ref(), &view).await?;
    Ok(Json(dto(&state, &view, participation)))
}

/// Change an event (the whole of it): its organisers only.
#[utoipa::path(put, path = "/api/v1/events/{id}", params(("id" = i64, Path)), request_body = NewEvent,
    security(("bearer" = [])),
    responses((status = 200, body = EventDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_event(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<NewEvent>,
) -> ApiResult<Json<EventDto>> {
    let draft = draft_of(body)?;
    state.processor.events().update(&account, id, draft).await?;
    let view = state.processor.events().view((&account).into(), id).await?;
    Ok(Json(dto(&state, &view, None)))
}

/// Delete an event: its organisers only.
#[utoipa::path(delete, path = "/api/v1/events/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_event(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.processor.events().delete(&account, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take part (RSVP). On this node the answer is immediate; for an event on
/// another node the participation is `pending` until its organisers answer.
#[utoipa::path(post, path = "/api/v1/events/{id}/participation", params(("id" = i64, Path)),
    request_body = ParticipationRequest, security(("bearer" = [])),
    responses((status = 200, body = ParticipantDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "full, cancelled or over")))]
async fn join_event(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ParticipantDto>> {
    // The body is optional: an empty one is a participation without a note.
    let body: ParticipationRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ParticipationRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorKind::Validation, format!("invalid JSON: {e}")))?
    };
    let participant = state
        .processor
        .events()
        .join(&account, id, body.message.as_deref())
        .await?;
    Ok(Json(participant_dto(&ParticipantView {
        participant,
        actor: account.person.clone(),
    })))
}

/// No longer take part.
#[utoipa::path(delete, path = "/api/v1/events/{id}/participation", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn leave_event(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.processor.events().leave(&account, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who takes part, waits or was refused. Organisers see everyone; others
/// see those accepted.
#[utoipa::path(get, path = "/api/v1/events/{id}/participants", params(("id" = i64, Path)),
    responses((status = 200, body = [ParticipantDto]), (status = 404, body = ErrorBody)))]
async fn list_participants(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ParticipantDto>>> {
    let event = state
        .processor
        .events()
        .visible(account.as_ref().into(), id)
        .await?;
    let organiser = match &account {
        Some(account) => state.processor.events().may_manage(account, &event).await?,
        None => false,
    };
    let participants = state
        .processor
        .events()
        .participants(account.as_ref().into(), &event)
        .await?;
    Ok(Json(
        participants
            .iter()
            .filter(|p| organiser || p.participant.state == ParticipantState::Accepted)
            .map(participant_dto)
            .collect(),
    ))
}

/// Accept or refuse someone (organisers only).
#[utoipa::path(post, path = "/api/v1/events/{id}/participants/{participant}",
    params(("id" = i64, Path), ("participant" = i64, Path)), request_body = Decision, security(("bearer" = [])),
    responses((status = 200, body = ParticipantDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "full")))]
async fn decide_participant(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path((id, participant)): Path<(i64, i64)>,
    ApiJson(body): ApiJson<Decision>,
) -> ApiResult<Json<ParticipantDto>> {
    let decided = state
        .processor
        .events()
        .decide(&account, participant, body.accept)
        .await?;
    if decided.event_id != id {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "no such participant of this event",
        ));
    }
    let actor = queries::actors::by_id(state.db(), decided.actor_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "no such participant"))?;
    Ok(Json(participant_dto(&ParticipantView {
        participant: decided,
        actor,
    })))
}

/// A local event at its ActivityPub id: JSON for servers, its page for people.
async fn event_object(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    session: MaybeSession,
    fetcher: SignedFetcher,
) -> Result<Response, PageError> {
    let ap_id = format!("{}/e/{token}", state.context().node.urls.base());
    let event = queries::events::by_ap_id(state.db(), &ap_id)
        .await?
        .filter(|e| e.local);
    let object = event.as_ref().map(|event| LocalObject {
        ap_id: &event.ap_id,
        subject: Subject::Event(event),
        kind: "Event",
        gone: event.deleted_at.is_some(),
        deleted_at: event.deleted_at,
    });
    let page = async {
        Ok(match &event {
            Some(event) => Redirect::to(&event_path(event)).into_response(),
            None => pages::not_found(session).into_response(),
        })
    };
    let json = async {
        let event = event.as_ref().ok_or(FederationError::NotFound)?;
        Ok(serde_json::to_value(event_of(state.db(), event).await?)?)
    };
    serve_object(&state, &headers, &fetcher, object, page, json).await
}

fn ics_response(name: &str, time_zone: Option<&str>, state: &AppState, views: &[EventView]) -> Response {
    let events: Vec<CalendarEvent> = views
        .iter()
        .map(|v| v.calendar_event(&state.context().node))
        .collect();
    let body = calendar::calendar(name, time_zone, &events, Utc::now());
    ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response()
}

/// Every event to come on this node and those it knows.
/// A calendar feed's `?key=`: a person's private calendar link.
#[derive(Deserialize, Default)]
pub struct CalendarQuery {
    key: Option<String>,
}

/// Who reads a calendar feed: whose private link it is, or the session's
/// person (a browser), or nobody (public events only). A key that is no
/// longer valid is refused rather than quietly giving the public calendar.
async fn calendar_reader(
    state: &AppState,
    session: MaybeSession,
    query: &CalendarQuery,
) -> ApiResult<Option<Account>> {
    match query.key.as_deref().filter(|k| !k.is_empty()) {
        Some(key) => accounts::account_for_calendar_key(state.db(), key)
            .await?
            .map(Some)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::NotFound,
                    "this private calendar link is no longer valid: make a new one on the events page",
                )
            }),
        None => Ok(session.0),
    }
}

/// A private calendar link: the key stands for the person in calendar
/// programs, which subscribe without a session, and only for reading
/// calendars.
#[derive(Serialize, ToSchema)]
pub struct CalendarKey {
    pub key: String,
    /// The node's events to come, members-only ones included for the person.
    pub events: String,
}

/// Make a new private calendar link (the one before stops working).
#[utoipa::path(post, path = "/api/v1/calendar_key", security(("bearer" = [])),
    responses((status = 200, body = CalendarKey), (status = 401, body = ErrorBody)))]
async fn new_calendar_key(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
) -> ApiResult<Json<CalendarKey>> {
    let key = accounts::issue_calendar_key(state.db(), &account).await?;
    let events = format!("{}/events.ics?key={key}", state.context().node.urls.base());
    Ok(Json(CalendarKey { key, events }))
}

async fn node_calendar(
    State(state): State<AppState>,
    session: MaybeSession,
    Query(query): Query<CalendarQuery>,
) -> ApiResult<Response> {
    let reader = calendar_reader(&state, session, &query).await?;
    let views = state
        .processor
        .events()
        .upcoming(
            reader.as_ref().into(),
            Listing {
                group_id: None,
                local_only: false,
                from: Utc::now(),
            },
        )
        .await?;
    let name = format!("Events on {}", state.context().node.domain);
    Ok(ics_response(&name, None, &state, &views))
}

/// A working group's events to come.
async fn group_calendar(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(name): Path<String>,
    Query(query): Query<CalendarQuery>,
) -> ApiResult<Response> {
    let reader = calendar_reader(&state, session, &query).await?;
    let group = state.processor.groups().local(&name).await?;
    let views = state
        .processor
        .events()
        .upcoming(
            reader.as_ref().into(),
            Listing {
                group_id: Some(group.id),
                local_only: false,
                from: Utc::now(),
            },
        )
        .await?;
    let title = group.display_name.clone().unwrap_or_else(|| group.handle());
    Ok(ics_response(&title, None, &state, &views))
}

/// One event, to add to a calendar.
async fn event_calendar(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    Query(query): Query<CalendarQuery>,
) -> ApiResult<Response> {
    let reader = calendar_reader(&state, session, &query).await?;
    let view = state.processor.events().view(reader.as_ref().into(), id).await?;
    let zone = view.event.timezone.clone();
    let title = view.event.title.clone();
    Ok(ics_response(&title, zone.as_deref(), &state, &[view]))
}
