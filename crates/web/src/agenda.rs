//! The community agenda: the API (`/api/v1/groups/{name}/agenda`,
//! `/api/v1/questions`), questions at their ActivityPub ids (`/q/{token}`),
//! and the pages: a working group's ranked agenda with the form to ask, and
//! a question with its vote form. Forms only, no JavaScript.

use crate::activitypub::{LocalObject, serve_object};
use crate::auth::CheckedForm;
use crate::{
    AppState,
    api::ApiJson,
    auth::{self, ApiAccount, MaybeApiAccount, MaybeSession, SignedFetcher, Viewer},
    error::{ApiError, ApiResult, ErrorBody, PageResult},
    pages::render,
    thread_pages::signed_in,
};
use crate::{error::PageError, pages};
use askama::Template;
use axum::{
    Form, Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, Utc};
use healthcommons_core::ErrorKind;
use healthcommons_db::{entities::actor, queries};
use healthcommons_federation::FederationError;
use healthcommons_federation::objects::question::question_of;
use healthcommons_service::{
    accounts::Account,
    agenda::{self, Ask, QuestionView},
    policy::Subject,
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/groups/{name}/agenda",
            get(group_agenda).post(ask_question),
        )
        .route("/api/v1/questions/{id}", get(get_question))
        .route("/api/v1/questions/{id}/votes", post(vote))
        .route("/q/{token}", get(question_object))
        .route("/g/{name}/agenda", get(agenda_page).post(ask_from_page))
        .route("/questions/{id}", get(question_page))
        .route("/questions/{id}/vote", post(vote_from_page))
}

#[derive(OpenApi)]
#[openapi(
    paths(group_agenda, ask_question, get_question, vote),
    components(schemas(NewQuestion, QuestionDto, OptionDto, VoteRequest))
)]
pub struct AgendaDoc;

#[derive(Deserialize, ToSchema)]
pub struct NewQuestion {
    /// The question (markdown).
    pub question: String,
    /// 2 to 10 options, at most 100 characters each.
    pub options: Vec<String>,
    /// Several choices rather than one.
    #[serde(default)]
    pub multiple: bool,
    /// When voting ends (RFC 3339); open until then, or for good when left out.
    pub closes_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct OptionDto {
    /// Its place in the list as asked: what a vote names.
    pub position: i32,
    pub name: String,
    pub votes: i32,
}

#[derive(Serialize, ToSchema)]
pub struct QuestionDto {
    pub id: i64,
    /// Who it is for: `public`, `unlisted` or `members` (a members-only working group's).
    pub visibility: String,
    pub ap_id: String,
    /// Its page on this node.
    pub url: String,
    pub content_html: String,
    pub author: Option<String>,
    pub group: Option<String>,
    pub multiple: bool,
    pub closes_at: Option<String>,
    pub closed: bool,
    pub voters_count: i32,
    /// Every vote on any option.
    pub support: i32,
    /// In the order asked.
    pub options: Vec<OptionDto>,
    /// The same options, most supported first.
    pub ranked: Vec<OptionDto>,
    /// The positions you voted for.
    pub your_choices: Vec<i32>,
    pub local: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct VoteRequest {
    /// Positions of the options chosen (one, unless the question takes several).
    pub choices: Vec<usize>,
}

fn question_path(id: i64) -> String {
    format!("/questions/{id}")
}

fn option_dto(option: &healthcommons_db::entities::question_option::Model) -> OptionDto {
    OptionDto {
        position: option.position,
        name: option.name.clone(),
        votes: option.votes,
    }
}

fn dto(state: &AppState, view: &QuestionView, your_choices: Vec<i32>) -> QuestionDto {
    let question = &view.question;
    QuestionDto {
        id: question.id,
        visibility: question.visibility.as_str().to_owned(),
        ap_id: question.ap_id.clone(),
        url: format!(
            "{}{}",
            state.context().node.urls.base(),
            question_path(question.id)
        ),
        content_html: question.content_html.clone(),
        author: view.author.as_ref().map(actor::Model::handle),
        group: view.group.as_ref().map(actor::Model::handle),
        multiple: question.multiple,
        closes_at: question.closes_at.map(|c| c.to_rfc3339()),
        closed: view.is_closed(),
        voters_count: question.voters_count,
        support: view.support(),
        options: view.options.iter().map(option_dto).collect(),
        ranked: view.ranked_options().iter().map(option_dto).collect(),
        your_choices,
        local: question.local,
    }
}

/// The viewer's choices on one question.
async fn choices(state: &AppState, view: &QuestionView, account: Option<&Account>) -> ApiResult<Vec<i32>> {
    let mut chosen = state
        .processor
        .agenda()
        .choices_of(std::slice::from_ref(view), account)
        .await?;
    Ok(chosen.remove(&view.question.id).unwrap_or_default())
}

/// A working group's agenda: open questions, the most supported first, each
/// with its options ranked by support; then closed ones.
#[utoipa::path(get, path = "/api/v1/groups/{name}/agenda", params(("name" = String, Path)),
    responses((status = 200, body = [QuestionDto]), (status = 404, body = ErrorBody)))]
async fn group_agenda(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<QuestionDto>>> {
    let group = state.processor.groups().find(&name).await?;
    let views = state
        .processor
        .agenda()
        .agenda(account.as_ref().into(), &group)
        .await?;
    let mut chosen = state
        .processor
        .agenda()
        .choices_of(&views, account.as_ref())
        .await?;
    Ok(Json(
        views
            .iter()
            .map(|view| dto(&state, view, chosen.remove(&view.question.id).unwrap_or_default()))
            .collect(),
    ))
}

async fn ask(state: &AppState, account: &Account, group_name: &str, body: NewQuestion) -> ApiResult<i64> {
    let group = state.processor.groups().local(group_name).await?;
    let question = state
        .processor
        .agenda()
        .ask(
            account,
            &group,
            Ask {
                question: body.question,
                options: body.options,
                multiple: body.multiple,
                closes_at: body.closes_at,
            },
        )
        .await?;
    Ok(question.id)
}

/// Put a question on a local working group's agenda (Mastodon users see a poll).
#[utoipa::path(post, path = "/api/v1/groups/{name}/agenda", params(("name" = String, Path)),
    request_body = NewQuestion, security(("bearer" = [])),
    responses((status = 201, body = QuestionDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn ask_question(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<NewQuestion>,
) -> ApiResult<Response> {
    let id = ask(&state, &account, &name, body).await?;
    let view = state.processor.agenda().view((&account).into(), id).await?;
    Ok((StatusCode::CREATED, Json(dto(&state, &view, Vec::new()))).into_response())
}

/// One question with its totals.
#[utoipa::path(get, path = "/api/v1/questions/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = QuestionDto), (status = 404, body = ErrorBody)))]
async fn get_question(
    State(state): State<AppState>,
    MaybeApiAccount(account): MaybeApiAccount,
    Path(id): Path<i64>,
) -> ApiResult<Json<QuestionDto>> {
    let view = state.processor.agenda().view(account.as_ref().into(), id).await?;
    let yours = choices(&state, &view, account.as_ref()).await?;
    Ok(Json(dto(&state, &view, yours)))
}

/// Vote, once. On a question asked on another node the totals change when
/// that node answers.
#[utoipa::path(post, path = "/api/v1/questions/{id}/votes", params(("id" = i64, Path)),
    request_body = VoteRequest, security(("bearer" = [])),
    responses((status = 200, body = QuestionDto), (status = 409, body = ErrorBody, description = "already voted, or closed"),
        (status = 422, body = ErrorBody)))]
async fn vote(
    State(state): State<AppState>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<VoteRequest>,
) -> ApiResult<Json<QuestionDto>> {
    state.processor.agenda().vote(&account, id, &body.choices).await?;
    let view = state.processor.agenda().view((&account).into(), id).await?;
    let yours = choices(&state, &view, Some(&account)).await?;
    Ok(Json(dto(&state, &view, yours)))
}

/// A local question at its ActivityPub id: JSON for servers, its page for people.
async fn question_object(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    session: MaybeSession,
    fetcher: SignedFetcher,
) -> Result<Response, PageError> {
    let ap_id = format!("{}/q/{token}", state.context().node.urls.base());
    let question = queries::agenda::by_ap_id(state.db(), &ap_id)
        .await?
        .filter(|q| q.local);
    let object = question.as_ref().map(|question| LocalObject {
        ap_id: &question.ap_id,
        subject: Subject::Question(question),
        kind: "Question",
        gone: question.deleted_at.is_some(),
        deleted_at: question.deleted_at,
    });
    let page = async {
        Ok(match &question {
            Some(question) => Redirect::to(&question_path(question.id)).into_response(),
            None => pages::not_found(session).into_response(),
        })
    };
    let json = async {
        let question = question.as_ref().ok_or(FederationError::NotFound)?;
        Ok(serde_json::to_value(question_of(state.db(), question).await?)?)
    };
    serve_object(&state, &headers, &fetcher, object, page, json).await
}

/// A question as a page shows it.
pub struct QuestionItem {
    pub id: i64,
    pub content_html: String,
    pub multiple: bool,
    pub closed: bool,
    pub closes: String,
    pub support: i32,
    pub voters: i32,
    pub author: String,
    /// Ranked: name, votes, share of all votes in percent.
    pub ranked: Vec<(String, i32, i32)>,
    /// As asked: position, name, whether the viewer chose it.
    pub options: Vec<(i32, String, bool)>,
    pub voted: bool,
}

fn item_of(view: &QuestionView, chosen: &[i32]) -> QuestionItem {
    let support = view.support();
    QuestionItem {
        id: view.question.id,
        content_html: view.question.content_html.clone(),
        multiple: view.question.multiple,
        closed: view.is_closed(),
        closes: view
            .question
            .closes_at
            .map(|c| c.format("%a %-d %b %Y, %H:%M UTC").to_string())
            .unwrap_or_default(),
        support,
        voters: view.question.voters_count,
        author: view.author.as_ref().map(actor::Model::handle).unwrap_or_default(),
        ranked: view
            .ranked_options()
            .into_iter()
            .map(|o| {
                let share = if support > 0 { o.votes * 100 / support } else { 0 };
                (o.name, o.votes, share)
            })
            .collect(),
        options: view
            .options
            .iter()
            .map(|o| (o.position, o.name.clone(), chosen.contains(&o.position)))
            .collect(),
        voted: !chosen.is_empty(),
    }
}

#[derive(Template)]
#[template(path = "agenda.html")]
struct AgendaPage {
    viewer: Option<Viewer>,
    csrf: String,
    name: String,
    title: String,
    questions: Vec<QuestionItem>,
    error: String,
    form: AskForm,
}

#[derive(Deserialize, Default)]
struct AskForm {
    #[serde(default)]
    question: String,
    /// One option per line.
    #[serde(default)]
    options: String,
    #[serde(default)]
    multiple: Option<String>,
    /// Days it stays open; empty for no closing time.
    #[serde(default)]
    open_days: String,
}

async fn agenda_view(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    name: &str,
    error: String,
    form: AskForm,
) -> PageResult<Response> {
    let group = state.processor.groups().local(name).await?;
    let views = state
        .processor
        .agenda()
        .agenda(session.0.as_ref().into(), &group)
        .await?;
    let chosen = state
        .processor
        .agenda()
        .choices_of(&views, session.0.as_ref())
        .await?;
    let questions = views
        .iter()
        .map(|view| item_of(view, chosen.get(&view.question.id).map_or(&[][..], Vec::as_slice)))
        .collect();
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(AgendaPage {
        viewer: session.viewer(),
        csrf,
        name: name.to_owned(),
        title: group.display_name.clone().unwrap_or_else(|| group.handle()),
        questions,
        error,
        form,
    })?;
    Ok((jar, page).into_response())
}

async fn agenda_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(name): Path<String>,
) -> PageResult<Response> {
    agenda_view(&state, jar, &session, &name, String::new(), AskForm::default()).await
}

async fn ask_from_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<AskForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let closes_at = match form.open_days.trim() {
        "" => Ok(None),
        days => days
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=agenda::MAX_OPEN_DAYS).contains(d))
            .map(|d| Some(Utc::now() + chrono::Duration::days(d)))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::Validation,
                    format!("it stays open 1 to {} days", agenda::MAX_OPEN_DAYS),
                )
            }),
    };
    let body = closes_at.map(|closes_at| NewQuestion {
        question: form.question.clone(),
        options: form.options.lines().map(str::to_owned).collect(),
        multiple: form.multiple.is_some(),
        closes_at,
    });
    let result = match body {
        Ok(body) => ask(&state, &account, &name, body).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/g/{name}/agenda")).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::Forbidden) => {
            agenda_view(&state, jar, &session, &name, err.message, form).await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "question.html")]
struct QuestionPage {
    viewer: Option<Viewer>,
    csrf: String,
    question: QuestionItem,
    group: String,
    group_agenda: String,
    signed_in: bool,
    error: String,
    /// Pledges attached to it, and the link to pledge.
    pledges: Vec<crate::pledges::PledgeItem>,
    pledge_link: String,
}

async fn question_view(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    id: i64,
    error: String,
) -> PageResult<Response> {
    let view = state
        .processor
        .agenda()
        .view(session.0.as_ref().into(), id)
        .await?;
    let chosen = choices(state, &view, session.0.as_ref()).await?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let group_agenda = view
        .group
        .as_ref()
        .filter(|g| g.local)
        .map(|g| format!("/g/{}/agenda", g.username))
        .unwrap_or_default();
    let page = render(QuestionPage {
        viewer: session.viewer(),
        csrf,
        question: item_of(&view, &chosen),
        group: view.group.as_ref().map(actor::Model::handle).unwrap_or_default(),
        group_agenda,
        signed_in: session.0.is_some(),
        error,
        pledges: crate::pledges::items_on(
            state,
            queries::pledges::Listing {
                question_id: Some(id),
                ..Default::default()
            },
            session.0.as_ref(),
        )
        .await?,
        pledge_link: format!("/pledges/new?on=question&id={id}"),
    })?;
    Ok((jar, page).into_response())
}

async fn question_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    question_view(&state, jar, &session, id, String::new()).await
}

async fn vote_from_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult<Response> {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    auth::check_csrf(&jar, &csrf)?;
    let account = signed_in(&session)?;
    // A radio button or checkboxes, all named `choice`.
    let chosen: Vec<usize> = fields
        .iter()
        .filter(|(k, _)| k == "choice")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    match state.processor.agenda().vote(&account, id, &chosen).await {
        Ok(_) => Ok(Redirect::to(&question_path(id)).into_response()),
        Err(err) if matches!(err.kind(), ErrorKind::Validation | ErrorKind::Conflict) => {
            question_view(&state, jar, &session, id, err.public_message()).await
        }
        Err(err) => Err(ApiError::from(err).into()),
    }
}
