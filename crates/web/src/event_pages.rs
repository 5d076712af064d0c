//! Event pages: what is coming up on this node and in each working group,
//! an event with its participants and the RSVP buttons, and the form to
//! organise or change one. Forms only, no JavaScript.

use crate::auth::CheckedForm;
use crate::{
    AppState,
    api::PlaceDto,
    auth::{self, MaybeSession, Viewer},
    error::{ApiError, PageResult},
    events::{NewEvent, draft_of, event_path},
    group_pages::coordinate,
    pages::render,
    thread_pages::signed_in,
};
use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, NaiveDateTime, Utc};
use healthcommons_core::{
    ErrorKind,
    event::{EventKind, at_wall_clock, place_text, time_zone, wall_clock, when_text},
};
use healthcommons_db::entities::ParticipantState;
use healthcommons_db::{entities::actor, queries, queries::events::Listing};
use healthcommons_service::{
    accounts::{self, Account},
    events::EventView,
};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(node_events))
        .route("/events/new", get(new_form).post(create))
        .route("/events/calendar-key", post(new_calendar_key))
        .route("/events/{id}", get(event_page))
        .route("/events/{id}/edit", get(edit_form).post(save_edit))
        .route("/events/{id}/delete", post(delete))
        .route("/events/{id}/join", post(join))
        .route("/events/{id}/leave", post(leave))
        .route("/events/{id}/participants/{participant}", post(decide))
        .route("/g/{name}/events", get(group_events))
}

/// An event as a list or page shows it.
pub struct EventItem {
    pub path: String,
    pub title: String,
    pub kind: String,
    pub when: String,
    pub place: String,
    pub organiser: String,
    pub organiser_url: String,
    pub status: String,
    pub cancelled: bool,
    pub taking_part: String,
    pub description_html: String,
    pub online_url: String,
    pub local: bool,
    pub ap_id: String,
}

fn when(view: &EventView) -> String {
    let event = &view.event;
    when_text(event.starts_at, event.ends_at, event.timezone.as_deref())
}

pub fn item_of(view: &EventView) -> EventItem {
    let event = &view.event;
    let taking_part = match (event.capacity, view.places_left()) {
        (Some(capacity), Some(left)) => format!(
            "{} of {capacity} places taken, {left} left",
            event.participant_count
        ),
        _ => format!("{} taking part", event.participant_count),
    };
    EventItem {
        path: event_path(event),
        title: event.title.clone(),
        kind: event.kind.as_str().to_owned(),
        when: when(view),
        place: place_text(event.place_name.as_deref(), event.address.as_deref()),
        organiser: view
            .organiser
            .as_ref()
            .map(actor::Model::handle)
            .unwrap_or_default(),
        organiser_url: view
            .organiser
            .as_ref()
            .map(|o| o.ap_id.clone())
            .unwrap_or_default(),
        status: event.status.as_str().to_owned(),
        cancelled: view.is_cancelled(),
        taking_part,
        description_html: event.description_html.clone(),
        online_url: event.online_url.clone().unwrap_or_default(),
        local: event.local,
        ap_id: event.ap_id.clone(),
    }
}

#[derive(Template)]
#[template(path = "events.html")]
struct ListPage {
    viewer: Option<Viewer>,
    csrf: String,
    heading: String,
    calendar: String,
    new_link: String,
    events: Vec<EventItem>,
}

#[derive(Template)]
#[template(path = "calendar_key.html")]
struct CalendarKeyPage {
    viewer: Option<Viewer>,
    link: String,
}

/// A new private calendar link, shown once: calendar programs subscribe
/// without a session, and the key in it stands for the person.
async fn new_calendar_key(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(_): CheckedForm<crate::pages::CsrfForm>,
) -> PageResult<Response> {
    let Some(account) = &session.0 else {
        return Ok(Redirect::to("/login").into_response());
    };
    let key = accounts::issue_calendar_key(state.db(), account).await?;
    Ok(render(CalendarKeyPage {
        viewer: session.viewer(),
        link: format!("{}/events.ics?key={key}", state.context().node.urls.base()),
    })?
    .into_response())
}

async fn node_events(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    let views = state
        .processor
        .events()
        .upcoming(
            session.0.as_ref().into(),
            Listing {
                group_id: None,
                local_only: false,
                from: Utc::now(),
            },
        )
        .await?;
    let (jar, csrf) = auth::csrf_token_if_signed_in(jar, &session, state.secure_cookies);
    Ok((
        jar,
        render(ListPage {
            viewer: session.viewer(),
            csrf,
            heading: "Events to come".into(),
            calendar: "/events.ics".into(),
            new_link: "/events/new".into(),
            events: views.iter().map(item_of).collect(),
        })?,
    )
        .into_response())
}

async fn group_events(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(name): Path<String>,
) -> PageResult<Response> {
    let group = state.processor.groups().local(&name).await?;
    let views = state
        .processor
        .events()
        .upcoming(
            session.0.as_ref().into(),
            Listing {
                group_id: Some(group.id),
                local_only: false,
                from: Utc::now(),
            },
        )
        .await?;
    let title = group.display_name.clone().unwrap_or_else(|| group.handle());
    let (jar, csrf) = auth::csrf_token_if_signed_in(jar, &session, state.secure_cookies);
    Ok((
        jar,
        render(ListPage {
            viewer: session.viewer(),
            csrf,
            heading: format!("Events of {title}"),
            calendar: format!("/g/{name}/events.ics"),
            new_link: format!("/events/new?group={name}"),
            events: views.iter().map(item_of).collect(),
        })?,
    )
        .into_response())
}

/// Someone on the event's page, with what they may do there.
pub struct ParticipantRow {
    pub id: i64,
    pub handle: String,
    pub url: String,
    pub state: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    viewer: Option<Viewer>,
    csrf: String,
    event: EventItem,
    id: i64,
    signed_in: bool,
    /// The viewer's participation: empty, `pending`, `accepted` or `rejected`.
    participation: String,
    organiser_view: bool,
    accepted: Vec<ParticipantRow>,
    waiting: Vec<ParticipantRow>,
    map_points: String,
    map_tiles: String,
    map_attribution: String,
    error: String,
    /// Pledges attached to it, and the link to pledge.
    pledges: Vec<crate::pledges::PledgeItem>,
    pledge_link: String,
}

async fn show(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    id: i64,
    error: String,
) -> PageResult<Response> {
    let account = session.0.as_ref();
    let view = state.processor.events().view(account.into(), id).await?;
    let participation = match account {
        Some(account) => queries::events::participant(state.db(), id, account.person.id)
            .await?
            .map(|p| p.state.to_string())
            .unwrap_or_default(),
        None => String::new(),
    };
    let organiser_view = match account {
        Some(account) => state.processor.events().may_manage(account, &view.event).await?,
        None => false,
    };
    let rows: Vec<ParticipantRow> = state
        .processor
        .events()
        .participants(account.into(), &view.event)
        .await?
        .into_iter()
        .map(|p| ParticipantRow {
            id: p.participant.id,
            handle: p.actor.handle(),
            url: p.actor.ap_id.clone(),
            state: p.participant.state.to_string(),
            message: p.participant.message.clone().unwrap_or_default(),
        })
        .collect();
    let (accepted, waiting): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|r| r.state == ParticipantState::Accepted.as_str());
    let map_points = match (view.event.latitude, view.event.longitude) {
        (Some(lat), Some(lon)) => {
            serde_json::json!([{"lat": lat, "lon": lon, "label": view.event.title}]).to_string()
        }
        _ => String::new(),
    };
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(EventPage {
        viewer: session.viewer(),
        csrf,
        event: item_of(&view),
        id,
        signed_in: account.is_some(),
        participation,
        organiser_view,
        accepted,
        waiting: if organiser_view { waiting } else { Vec::new() },
        map_points,
        map_tiles: state.map_tiles.url.clone(),
        map_attribution: state.map_tiles.attribution.clone(),
        error,
        pledges: crate::pledges::items_on(
            state,
            queries::pledges::Listing {
                event_id: Some(id),
                ..Default::default()
            },
            account,
        )
        .await?,
        pledge_link: format!("/pledges/new?on=event&id={id}"),
    })?;
    Ok((jar, page).into_response())
}

async fn event_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    show(&state, jar, &session, id, String::new()).await
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    message: String,
}

/// Run an action from the event's page: back to the page, with the reason
/// when it was refused.
async fn act<F>(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    id: i64,
    action: F,
) -> PageResult<Response>
where
    F: AsyncFnOnce(&Account) -> Result<(), healthcommons_service::ServiceError>,
{
    let account = signed_in(session)?;
    match action(&account).await {
        Ok(()) => Ok(Redirect::to(&format!("/events/{id}")).into_response()),
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::Conflict | ErrorKind::Forbidden | ErrorKind::NotFound
            ) =>
        {
            show(state, jar, session, id, err.public_message()).await
        }
        Err(err) => Err(ApiError::from(err).into()),
    }
}

async fn join(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<CsrfForm>,
) -> PageResult<Response> {
    let message = Some(form.message.as_str()).filter(|m| !m.trim().is_empty());
    act(&state, jar.clone(), &session, id, async |account| {
        state
            .processor
            .events()
            .join(account, id, message)
            .await
            .map(|_| ())
    })
    .await
}

async fn leave(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> PageResult<Response> {
    act(&state, jar.clone(), &session, id, async |account| {
        state.processor.events().leave(account, id).await
    })
    .await
}

#[derive(Deserialize)]
struct DecisionForm {
    /// `accept` or `reject`.
    decision: String,
}

async fn decide(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path((id, participant)): Path<(i64, i64)>,
    CheckedForm(form): CheckedForm<DecisionForm>,
) -> PageResult<Response> {
    let accept = form.decision == "accept";
    act(&state, jar.clone(), &session, id, async |account| {
        state
            .processor
            .events()
            .decide(account, participant, accept)
            .await
            .map(|_| ())
    })
    .await
}

async fn delete(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    state.processor.events().delete(&account, id).await?;
    Ok(Redirect::to("/events").into_response())
}

/// The organiser's form, as typed (times on the wall clock of `timezone`).
#[derive(Deserialize, Default, Clone)]
pub struct EventForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// `YYYY-MM-DDTHH:MM`, as a `datetime-local` input sends it.
    #[serde(default)]
    pub starts: String,
    #[serde(default)]
    pub ends: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub place_name: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub latitude: String,
    #[serde(default)]
    pub longitude: String,
    #[serde(default)]
    pub online_url: String,
    #[serde(default)]
    pub capacity: String,
    #[serde(default)]
    pub join_mode: String,
    #[serde(default)]
    pub status: String,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Validation, message)
}

/// A wall-clock time typed in the form.
fn wall_clock_input(raw: &str, zone: chrono_tz::Tz, what: &str) -> Result<DateTime<Utc>, ApiError> {
    let raw = raw.trim();
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M"))
        .map_err(|_| {
            invalid(format!(
                "the {what} must be a date and time such as 2026-12-03T18:00"
            ))
        })?;
    at_wall_clock(local, zone).ok_or_else(|| {
        invalid(format!(
            "the {what} does not exist in {} (the clocks change then)",
            zone.name()
        ))
    })
}

impl EventForm {
    fn of(view: &EventView) -> EventForm {
        let event = &view.event;
        let zone = event
            .timezone
            .as_deref()
            .and_then(time_zone)
            .unwrap_or(chrono_tz::UTC);
        let typed = |at: DateTime<Utc>| wall_clock(at, zone).format("%Y-%m-%dT%H:%M").to_string();
        let number = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
        EventForm {
            kind: event.kind.as_str().to_owned(),
            title: event.title.clone(),
            description: event.source.clone().unwrap_or_default(),
            starts: typed(event.starts_at),
            ends: event.ends_at.map(typed).unwrap_or_default(),
            timezone: zone.name().to_owned(),
            place_name: event.place_name.clone().unwrap_or_default(),
            address: event.address.clone().unwrap_or_default(),
            latitude: number(event.latitude),
            longitude: number(event.longitude),
            online_url: event.online_url.clone().unwrap_or_default(),
            capacity: event.capacity.map(|c| c.to_string()).unwrap_or_default(),
            join_mode: event.join_mode.as_str().to_owned(),
            status: event.status.as_str().to_owned(),
            ..Default::default()
        }
    }

    fn new_event(&self) -> Result<NewEvent, ApiError> {
        let zone_name = Some(self.timezone.trim())
            .filter(|z| !z.is_empty())
            .unwrap_or("UTC");
        let zone = time_zone(zone_name).ok_or_else(|| {
            invalid(format!(
                "{zone_name:?} is not a time zone: use a name such as Europe/Berlin"
            ))
        })?;
        let starts_at = wall_clock_input(&self.starts, zone, "start")?;
        let ends_at = match self.ends.trim() {
            "" => None,
            raw => Some(wall_clock_input(raw, zone, "end")?),
        };
        let latitude = coordinate(&self.latitude, "latitude")?;
        let longitude = coordinate(&self.longitude, "longitude")?;
        let capacity = match self.capacity.trim() {
            "" => None,
            raw => Some(
                raw.parse::<i32>()
                    .map_err(|_| invalid("the capacity must be a whole number of places"))?,
            ),
        };
        Ok(NewEvent {
            kind: self.kind.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            starts_at,
            ends_at,
            timezone: Some(zone.name().to_owned()),
            place: Some(PlaceDto {
                name: self.place_name.clone(),
                address: Some(self.address.clone()),
                latitude,
                longitude,
            }),
            online_url: Some(self.online_url.trim().to_owned()).filter(|l| !l.is_empty()),
            capacity,
            join_mode: Some(self.join_mode.clone()),
            status: Some(self.status.clone()),
            group: Some(self.group.trim().to_owned()).filter(|g| !g.is_empty()),
        })
    }
}

#[derive(Template)]
#[template(path = "event_form.html")]
struct FormPage {
    viewer: Option<Viewer>,
    csrf: String,
    action: String,
    editing: bool,
    form: EventForm,
    kinds: Vec<&'static str>,
    error: String,
}

fn form_page(
    session: &MaybeSession,
    csrf: String,
    action: String,
    editing: bool,
    form: EventForm,
    error: String,
) -> PageResult<Response> {
    Ok(render(FormPage {
        viewer: session.viewer(),
        csrf,
        action,
        editing,
        form,
        kinds: EventKind::ALL.iter().map(|k| k.as_str()).collect(),
        error,
    })?
    .into_response())
}

async fn new_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> PageResult<Response> {
    signed_in(&session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let form = EventForm {
        group: query.get("group").cloned().unwrap_or_default(),
        kind: "workshop".into(),
        timezone: "UTC".into(),
        join_mode: "free".into(),
        status: "confirmed".into(),
        ..Default::default()
    };
    let page = form_page(&session, csrf, "/events/new".into(), false, form, String::new())?;
    Ok((jar, page).into_response())
}

async fn create(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<EventForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let result = async {
        let body = form.new_event()?;
        let group = match body.group.as_deref() {
            Some(name) => Some(state.processor.groups().find(name).await?),
            None => None,
        };
        let draft = draft_of(body)?;
        Ok::<_, ApiError>(
            state
                .processor
                .events()
                .create(&account, group.as_ref(), draft)
                .await?,
        )
    }
    .await;
    match result {
        Ok(event) => Ok(Redirect::to(&event_path(&event)).into_response()),
        Err(err)
            if matches!(
                err.kind,
                ErrorKind::Validation | ErrorKind::Forbidden | ErrorKind::NotFound
            ) =>
        {
            form_page(
                &session,
                form.csrf.clone(),
                "/events/new".into(),
                false,
                form,
                err.message,
            )
        }
        Err(err) => Err(err.into()),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let view = state.processor.events().view((&account).into(), id).await?;
    if !state.processor.events().may_manage(&account, &view.event).await? {
        return Err(ApiError::new(ErrorKind::Forbidden, "only its organisers may change an event").into());
    }
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = form_page(
        &session,
        csrf,
        format!("/events/{id}/edit"),
        true,
        EventForm::of(&view),
        String::new(),
    )?;
    Ok((jar, page).into_response())
}

async fn save_edit(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<EventForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let result = async {
        let draft = draft_of(form.new_event()?)?;
        Ok::<_, ApiError>(state.processor.events().update(&account, id, draft).await?)
    }
    .await;
    match result {
        Ok(event) => Ok(Redirect::to(&event_path(&event)).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::Forbidden) => form_page(
            &session,
            form.csrf.clone(),
            format!("/events/{id}/edit"),
            true,
            form,
            err.message,
        ),
        Err(err) => Err(err.into()),
    }
}
