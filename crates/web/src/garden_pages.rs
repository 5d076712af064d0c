//! The garden's pages: browse and search, an item with its provenance,
//! forks, adoptions and related items, and forms to plant, revise (with a
//! preview), compare revisions, revert, fork, pull from upstream and adopt.
//! Forms only, no JavaScript. A local item's id (`/garden/{token}`) serves
//! its `Article` to servers and its page to people.

use crate::activitypub::{LocalObject, serve_object};
use crate::auth::CheckedForm;
use crate::pages;
use crate::{
    AppState,
    auth::{self, MaybeSession, SignedFetcher, Viewer},
    error::{ApiError, PageError, PageResult},
    garden::{
        self as api, GardenItemEdit, GardenPlace, GardenRelation, GardenResource, ListQuery, NewAdoption,
        NewGardenItem,
    },
    group_pages::coordinate,
    pages::render,
    thread_pages::{PostItem, items_for, signed_in},
};
use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::cookie::CookieJar;
use healthcommons_core::garden::ItemStatus;
use healthcommons_core::{
    ErrorKind,
    garden::{Content, DiffLine, Kind},
};
use healthcommons_db::{entities::garden_item, queries};
use healthcommons_federation::FederationError;
use healthcommons_federation::objects::garden_item::article_of;
use healthcommons_service::posts::Compose;
use healthcommons_service::{
    garden::{self, ItemView},
    policy::{self, Action, Subject, Target},
};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/garden", get(list_page))
        .route("/garden/new", get(new_form).post(create_item))
        .route("/garden/{token}", get(item_at_id))
        .route("/garden/items/{id}", get(item_page))
        .route("/garden/items/{id}/edit", get(edit_form).post(save_edit))
        .route("/garden/items/{id}/history", get(history_page))
        .route("/garden/items/{id}/diff", get(diff_page))
        .route("/garden/items/{id}/revert", post(revert))
        .route("/garden/items/{id}/fork", post(fork))
        .route("/garden/items/{id}/share", post(share))
        .route("/garden/items/{id}/upstream", get(upstream_page))
        .route("/garden/items/{id}/pull", post(pull))
        .route("/garden/items/{id}/adopt", get(adopt_form).post(adopt))
        .route("/garden/items/{id}/discuss", post(discuss))
}

/// The page of any item known here (ours or learned from another node).
pub fn item_path(item: &garden_item::Model) -> String {
    item_path_of(item.id)
}

/// An item's page by its row id.
pub fn item_path_of(id: i64) -> String {
    format!("/garden/items/{id}")
}

pub(crate) async fn item_by_local_id(
    state: &AppState,
    viewer: Option<&healthcommons_db::entities::actor::Model>,
    id: i64,
) -> PageResult<garden_item::Model> {
    let item = queries::garden::by_id(state.db(), id)
        .await?
        .ok_or_else(|| PageError(ApiError::new(ErrorKind::NotFound, "no such garden item")))?;
    Ok(state
        .processor
        .garden()
        .readable(policy::Viewer::from(viewer), &item.ap_id)
        .await?)
}

struct ItemLine {
    path: String,
    kind: String,
    title: String,
    summary: String,
    by: String,
    place: String,
    tags: Vec<String>,
    remote: bool,
}

fn line(view: &ItemView) -> ItemLine {
    ItemLine {
        path: item_path(&view.item),
        kind: view.item.kind.as_str().to_owned(),
        title: view.item.title.clone(),
        summary: view.item.summary.clone(),
        by: view.author.as_ref().map(|a| a.handle()).unwrap_or_default(),
        place: view.item.place_name.clone().unwrap_or_default(),
        tags: view.content.tags.clone(),
        remote: !view.item.local,
    }
}

#[derive(Template)]
#[template(path = "garden_list.html")]
struct ListPage {
    viewer: Option<Viewer>,
    q: String,
    kind: String,
    tag: String,
    place: String,
    drafts: bool,
    items: Vec<ItemLine>,
}

async fn list_page(
    State(state): State<AppState>,
    session: MaybeSession,
    Query(query): Query<ListQuery>,
) -> PageResult<Response> {
    let viewer = session.0.as_ref().map(|a| &a.person);
    let views = api::find(&state, viewer, &query).await?;
    Ok(render(ListPage {
        viewer: session.viewer(),
        q: query.q.clone().unwrap_or_default(),
        kind: query.kind.clone().unwrap_or_default(),
        tag: query.tag.clone().unwrap_or_default(),
        place: query.place.clone().unwrap_or_default(),
        drafts: query.status.as_deref() == Some("draft"),
        items: views.iter().map(line).collect(),
    })?
    .into_response())
}

/// The item form as submitted, and as shown again.
#[derive(Deserialize, Default, Clone)]
pub struct ItemForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    problem: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    forces: String,
    #[serde(default)]
    solution: String,
    #[serde(default)]
    evidence: String,
    #[serde(default)]
    measures: String,
    #[serde(default)]
    rationale: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    narrative: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    happened: String,
    /// One per line: `title | https://…` (or only the link).
    #[serde(default)]
    resources: String,
    /// One per line: `relation https://…`.
    #[serde(default)]
    relations: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    license: String,
    #[serde(default)]
    place_name: String,
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
    /// Set when the preview button was pressed.
    #[serde(default)]
    preview: Option<String>,
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Validation, message)
}

impl ItemForm {
    fn of(kind: Kind, item: Option<&garden_item::Model>, content: &Content) -> ItemForm {
        let field = |key: &str| content.fields.get(key).cloned().unwrap_or_default();
        let place = content.place.as_ref();
        ItemForm {
            kind: kind.as_str().to_owned(),
            status: item
                .map_or(ItemStatus::Published, |i| i.status)
                .as_str()
                .to_owned(),
            title: content.title.clone(),
            summary: content.summary.clone(),
            problem: field("problem"),
            context: field("context"),
            forces: field("forces"),
            solution: field("solution"),
            evidence: field("evidence"),
            measures: field("measures"),
            rationale: field("rationale"),
            method: field("method"),
            narrative: field("narrative"),
            outcome: field("outcome"),
            unit: content.unit.clone().unwrap_or_default(),
            happened: content.happened.clone().unwrap_or_default(),
            resources: content
                .resources
                .iter()
                .map(|r| format!("{} | {}", r.title, r.href))
                .collect::<Vec<_>>()
                .join("\n"),
            relations: content
                .relations
                .iter()
                .map(|r| format!("{} {}", r.kind.as_str(), r.target))
                .collect::<Vec<_>>()
                .join("\n"),
            tags: content.tags.join(", "),
            license: content.license.clone(),
            place_name: place.map(|p| p.name.clone()).unwrap_or_default(),
            latitude: place
                .and_then(|p| p.latitude)
                .map(|l| l.to_string())
                .unwrap_or_default(),
            longitude: place
                .and_then(|p| p.longitude)
                .map(|l| l.to_string())
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    fn kind(&self) -> Result<Kind, ApiError> {
        Kind::parse(&self.kind).ok_or_else(|| validation("choose pattern, metric or story"))
    }

    /// The long fields this kind has, non-empty ones only.
    fn fields(&self, kind: Kind) -> BTreeMap<String, String> {
        let all = [
            ("problem", &self.problem),
            ("context", &self.context),
            ("forces", &self.forces),
            ("solution", &self.solution),
            ("evidence", &self.evidence),
            ("measures", &self.measures),
            ("rationale", &self.rationale),
            ("method", &self.method),
            ("narrative", &self.narrative),
            ("outcome", &self.outcome),
        ];
        let wanted: Vec<&str> = kind.fields().iter().map(|(key, _)| *key).collect();
        all.into_iter()
            .filter(|(key, value)| wanted.contains(key) && !value.trim().is_empty())
            .map(|(key, value)| (key.to_owned(), value.clone()))
            .collect()
    }

    fn resources(&self) -> Vec<GardenResource> {
        self.resources
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| match l.rsplit_once('|') {
                Some((title, href)) => GardenResource {
                    title: title.trim().to_owned(),
                    href: href.trim().to_owned(),
                },
                None => GardenResource {
                    title: String::new(),
                    href: l.to_owned(),
                },
            })
            .collect()
    }

    fn relations(&self) -> Result<Vec<GardenRelation>, ApiError> {
        self.relations
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (kind, target) = l
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| validation(format!("a related item is `relation link`: {l:?}")))?;
                Ok(GardenRelation {
                    kind: kind.trim().to_owned(),
                    target: target.trim().to_owned(),
                })
            })
            .collect()
    }

    fn tags(&self) -> Vec<String> {
        self.tags
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn place(&self) -> Result<Option<GardenPlace>, ApiError> {
        let latitude = coordinate(&self.latitude, "latitude")?;
        let longitude = coordinate(&self.longitude, "longitude")?;
        Ok(
            (!self.place_name.trim().is_empty() || latitude.is_some()).then(|| GardenPlace {
                name: self.place_name.trim().to_owned(),
                latitude,
                longitude,
            }),
        )
    }

    fn optional(raw: &str) -> Option<String> {
        Some(raw.trim().to_owned()).filter(|s| !s.is_empty())
    }

    fn new_item(&self) -> Result<NewGardenItem, ApiError> {
        let kind = self.kind()?;
        Ok(NewGardenItem {
            kind: self.kind.clone(),
            group: Self::optional(&self.group),
            status: Self::optional(&self.status),
            message: Self::optional(&self.message),
            title: self.title.clone(),
            summary: self.summary.clone(),
            fields: self.fields(kind),
            unit: Self::optional(&self.unit),
            happened: Self::optional(&self.happened),
            resources: self.resources(),
            relations: self.relations()?,
            tags: self.tags(),
            license: Self::optional(&self.license),
            place: self.place()?,
        })
    }

    fn edit(&self, kind: Kind) -> Result<GardenItemEdit, ApiError> {
        Ok(GardenItemEdit {
            message: Self::optional(&self.message),
            status: Self::optional(&self.status),
            title: Some(self.title.clone()),
            summary: Some(self.summary.clone()),
            fields: Some(self.fields(kind)),
            unit: Some(self.unit.clone()),
            happened: Some(self.happened.clone()),
            resources: Some(self.resources()),
            relations: Some(self.relations()?),
            tags: Some(self.tags()),
            license: Some(self.license.clone()),
            place: self.place()?,
        })
    }

    /// The item as it would read, for the preview.
    fn preview_html(&self) -> Result<String, ApiError> {
        let kind = self.kind()?;
        let content = api::new_content(&self.new_item()?)?
            .validated(kind)
            .map_err(|e| validation(e.0))?;
        Ok(content.to_html(kind))
    }
}

#[derive(Template)]
#[template(path = "garden_form.html")]
struct FormPage {
    viewer: Option<Viewer>,
    csrf: String,
    /// Where the form posts.
    action: String,
    /// Editing an existing item (its kind is fixed).
    editing: bool,
    form: ItemForm,
    error: String,
    preview_html: String,
}

async fn new_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> PageResult<Response> {
    signed_in(&session)?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let kind = query
        .get("kind")
        .and_then(|k| Kind::parse(k))
        .unwrap_or(Kind::Pattern);
    let mut form = ItemForm::of(kind, None, &Content::default());
    form.license = healthcommons_core::garden::DEFAULT_LICENSE.to_owned();
    form.group = query.get("group").cloned().unwrap_or_default();
    let page = render(FormPage {
        viewer: session.viewer(),
        csrf,
        action: "/garden/new".into(),
        editing: false,
        form,
        error: String::new(),
        preview_html: String::new(),
    })?;
    Ok((jar, page).into_response())
}

fn form_again(
    session: &MaybeSession,
    action: String,
    editing: bool,
    form: ItemForm,
    error: String,
    preview_html: String,
) -> PageResult<Response> {
    Ok(render(FormPage {
        viewer: session.viewer(),
        csrf: form.csrf.clone(),
        action,
        editing,
        form,
        error,
        preview_html,
    })?
    .into_response())
}

async fn create_item(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<ItemForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let action = "/garden/new".to_owned();
    if form.preview.is_some() {
        return match form.preview_html() {
            Ok(html) => form_again(&session, action, false, form, String::new(), html),
            Err(err) => form_again(&session, action, false, form, err.message, String::new()),
        };
    }
    let result = match form.new_item() {
        Ok(body) => api::create(&state, &account, &body).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(item) => Ok(Redirect::to(&item_path(&item)).into_response()),
        Err(err)
            if matches!(
                err.kind,
                ErrorKind::Validation | ErrorKind::Forbidden | ErrorKind::NotFound
            ) =>
        {
            form_again(&session, action, false, form, err.message, String::new())
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
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    let kind = item.kind;
    let form = ItemForm::of(kind, Some(&item), &garden::parse_content(&item)?);
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(FormPage {
        viewer: session.viewer(),
        csrf,
        action: format!("{}/edit", item_path(&item)),
        editing: true,
        form,
        error: String::new(),
        preview_html: String::new(),
    })?;
    Ok((jar, page).into_response())
}

async fn save_edit(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(mut form): CheckedForm<ItemForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    let kind = item.kind;
    form.kind = kind.as_str().to_owned();
    let action = format!("{}/edit", item_path(&item));
    if form.preview.is_some() {
        return match form.preview_html() {
            Ok(html) => form_again(&session, action, true, form, String::new(), html),
            Err(err) => form_again(&session, action, true, form, err.message, String::new()),
        };
    }
    let result = match form.edit(kind) {
        Ok(edit) => api::edit(&state, &account, &item.ap_id, &edit).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(item) => Ok(Redirect::to(&item_path(&item)).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::Forbidden) => {
            form_again(&session, action, true, form, err.message, String::new())
        }
        Err(err) => Err(err.into()),
    }
}

struct LinkLine {
    href: String,
    label: String,
    note: String,
}

/// A related item placed around the item in the drawn graph.
struct GraphNode {
    x: i32,
    y: i32,
    /// Where the edge's label sits: halfway along it.
    label_x: i32,
    label_y: i32,
    href: String,
    title: String,
    relation: String,
}

const GRAPH_WIDTH: f64 = 640.0;
const GRAPH_HEIGHT: f64 = 300.0;

/// A title short enough for a node of the graph.
fn graph_label(title: &str) -> String {
    let mut label: String = title.chars().take(26).collect();
    if title.chars().count() > 26 {
        label.push('…');
    }
    label
}

/// The related items on an ellipse around the item, in list order.
fn graph_of(related: &[LinkLine]) -> Vec<GraphNode> {
    let (cx, cy) = (GRAPH_WIDTH / 2.0, GRAPH_HEIGHT / 2.0);
    let count = related.len().max(1) as f64;
    related
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let angle = std::f64::consts::TAU * index as f64 / count - std::f64::consts::FRAC_PI_2;
            let (x, y) = (cx + 230.0 * angle.cos(), cy + 110.0 * angle.sin());
            GraphNode {
                x: x.round() as i32,
                y: y.round() as i32,
                label_x: ((x + cx) / 2.0).round() as i32,
                label_y: ((y + cy) / 2.0).round() as i32,
                href: line.href.clone(),
                title: graph_label(&line.label),
                relation: line.note.clone(),
            }
        })
        .collect()
}

struct AdoptionLine {
    by: String,
    place: String,
    context_html: String,
    outcome_html: String,
    story: String,
    via_fork: String,
}

struct SectionLine {
    label: String,
    html: String,
}

#[derive(Template)]
#[template(path = "garden_item.html")]
struct ItemPageTemplate {
    viewer: Option<Viewer>,
    csrf: String,
    path: String,
    ap_id: String,
    kind: String,
    title: String,
    summary: String,
    by: String,
    group: String,
    status: String,
    license: String,
    place: String,
    unit: String,
    happened: String,
    revision: i32,
    sections: Vec<SectionLine>,
    resources: Vec<LinkLine>,
    tags: Vec<String>,
    related: Vec<LinkLine>,
    graph: Vec<GraphNode>,
    short_title: String,
    provenance: Vec<LinkLine>,
    origin_gone: bool,
    is_fork: bool,
    forks: Vec<LinkLine>,
    adoptions: Vec<AdoptionLine>,
    /// Places of adoptions with coordinates, for the map link list.
    mapped: Vec<LinkLine>,
    /// The same places for the drawn map: JSON `[{lat, lon, label}]`.
    map_points: String,
    map_tiles: crate::MapTiles,
    can_edit: bool,
    /// A moderator may share this members-only item with the whole commons.
    can_share: bool,
    members_only: bool,
    remote_url: String,
    /// The discussion: each thread start followed by its replies.
    posts: Vec<PostItem>,
    /// What a reply form shows (replies are previewed on the thread page).
    preview_for: i64,
    preview_html: String,
    draft: String,
    error: String,
    /// A new thread about the item that was refused, with the reason.
    discuss_draft: String,
    discuss_error: String,
    /// Pledges attached to it, and the link to pledge.
    pledges: Vec<crate::pledges::PledgeItem>,
    pledge_link: String,
}

/// A link to an item: its page here when known and `viewer` may see it,
/// else its bare id.
async fn link_to(state: &AppState, viewer: policy::Viewer<'_>, ap_id: &str) -> PageResult<(String, String)> {
    Ok(match state.processor.garden().readable(viewer, ap_id).await {
        Ok(item) => (item_path(&item), item.title),
        Err(err) if err.kind() == ErrorKind::NotFound => (ap_id.to_owned(), ap_id.to_owned()),
        Err(err) => return Err(err.into()),
    })
}

async fn item_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let viewer = session.0.as_ref().map(|a| &a.person);
    let item = item_by_local_id(&state, viewer, id).await?;
    show_item(&state, jar, session, item, None).await
}

async fn show_item(
    state: &AppState,
    jar: CookieJar,
    session: MaybeSession,
    item: garden_item::Model,
    refused_thread: Option<(String, String)>,
) -> PageResult<Response> {
    let viewer = session.0.as_ref().map(|a| &a.person);
    let page = state
        .processor
        .garden()
        .page(policy::Viewer::from(viewer), &item.ap_id)
        .await?;
    let mut discussion = Vec::new();
    for thread in state
        .processor
        .posts()
        .discussion(viewer, &page.view.item)
        .await?
    {
        discussion.push(thread.root);
        discussion.extend(thread.replies);
    }
    let posts = items_for(state, session.0.as_ref(), &discussion).await?;
    let pledges = crate::pledges::items_on(
        state,
        queries::pledges::Listing {
            garden_item_id: Some(item.id),
            ..Default::default()
        },
        session.0.as_ref(),
    )
    .await?;
    let (discuss_draft, discuss_error) = refused_thread.unwrap_or_default();
    let view = &page.view;
    let content = &view.content;
    let mut provenance = Vec::new();
    for origin in &view.provenance {
        let (href, label) = link_to(state, session.0.as_ref().into(), &origin.id).await?;
        provenance.push(LinkLine {
            href,
            label,
            note: format!("revision {}", origin.revision),
        });
    }
    let can_edit = may(state, &session, Action::Edit, &view.item).await?;
    let can_share = may(state, &session, Action::Share, &view.item).await?;
    let members_only = !view.item.visibility.is_open();
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let adoptions: Vec<AdoptionLine> = page
        .adoptions
        .iter()
        .map(|a| AdoptionLine {
            by: a.by.as_ref().map(|b| b.handle()).unwrap_or_default(),
            place: a.adoption.place_name.clone().unwrap_or_default(),
            context_html: a.adoption.context_html.clone(),
            outcome_html: a.adoption.outcome_html.clone(),
            story: a.adoption.story.clone().unwrap_or_default(),
            via_fork: if a.item.id == view.item.id {
                String::new()
            } else {
                item_path(&a.item)
            },
        })
        .collect();
    // Adoptions with coordinates: linked in the list, drawn on the map.
    let mut mapped = Vec::new();
    let mut map_points = Vec::new();
    for a in &page.adoptions {
        let (Some(lat), Some(lon)) = (a.adoption.latitude, a.adoption.longitude) else {
            continue;
        };
        let by = a.by.as_ref().map(|b| b.handle()).unwrap_or_default();
        let place = a
            .adoption
            .place_name
            .clone()
            .unwrap_or_else(|| format!("{lat}, {lon}"));
        map_points.push(serde_json::json!({"lat": lat, "lon": lon, "label": format!("{place} ({by})")}));
        mapped.push(LinkLine {
            href: format!("https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=12/{lat}/{lon}"),
            label: place,
            note: by,
        });
    }
    let related: Vec<LinkLine> = page
        .related
        .iter()
        .map(|r| LinkLine {
            href: r.item.as_ref().map(item_path).unwrap_or_else(|| r.target.clone()),
            label: r
                .item
                .as_ref()
                .map(|i| i.title.clone())
                .unwrap_or_else(|| r.target.clone()),
            note: if r.incoming {
                format!("{} this", r.relation.label())
            } else {
                r.relation.label().to_owned()
            },
        })
        .collect();
    let template = ItemPageTemplate {
        pledges,
        pledge_link: format!("/pledges/new?on=garden_item&id={}", view.item.id),
        graph: graph_of(&related),
        short_title: graph_label(&view.item.title),
        viewer: session.viewer(),
        csrf,
        path: item_path(&view.item),
        ap_id: view.item.ap_id.clone(),
        kind: view.item.kind.as_str().to_owned(),
        title: view.item.title.clone(),
        summary: view.item.summary.clone(),
        by: view.author.as_ref().map(|a| a.handle()).unwrap_or_default(),
        group: view.group.as_ref().map(|g| g.handle()).unwrap_or_default(),
        status: view.item.status.as_str().to_owned(),
        license: view.item.license.clone(),
        place: view.item.place_name.clone().unwrap_or_default(),
        unit: content.unit.clone().unwrap_or_default(),
        happened: content.happened.clone().unwrap_or_default(),
        revision: view.item.revision,
        sections: view
            .kind
            .fields()
            .iter()
            .filter_map(|(key, label)| {
                content.fields.get(*key).map(|markdown| SectionLine {
                    label: (*label).to_owned(),
                    html: healthcommons_core::text::markdown_to_html(markdown),
                })
            })
            .collect(),
        resources: content
            .resources
            .iter()
            .map(|r| LinkLine {
                href: r.href.clone(),
                label: r.title.clone(),
                note: String::new(),
            })
            .collect(),
        tags: content.tags.clone(),
        related,
        provenance,
        origin_gone: view.item.origin_gone,
        is_fork: view.item.forked_from.is_some(),
        forks: page
            .forks
            .iter()
            .map(|f| LinkLine {
                href: item_path(&f.item),
                label: f.item.title.clone(),
                note: f.author.as_ref().map(|a| a.handle()).unwrap_or_default(),
            })
            .collect(),
        adoptions,
        mapped,
        map_points: serde_json::Value::from(map_points).to_string(),
        map_tiles: state.map_tiles.clone(),
        can_edit,
        can_share,
        members_only,
        remote_url: if view.item.local {
            String::new()
        } else {
            view.item.url.clone().unwrap_or_else(|| view.item.ap_id.clone())
        },
        posts,
        preview_for: 0,
        preview_html: String::new(),
        draft: String::new(),
        error: String::new(),
        discuss_draft,
        discuss_error,
    };
    Ok((jar, render(template)?).into_response())
}

#[derive(Deserialize)]
struct DiscussForm {
    content: String,
}

/// Start a thread about an item: a reply to it, federated like any reply.
async fn discuss(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<DiscussForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    let compose = Compose {
        content: &form.content,
        in_reply_to: Some(&item.ap_id),
        ..Compose::default()
    };
    let created = state.processor.posts().create(&account, None, compose).await;
    match created.map_err(ApiError::from) {
        Ok(post) => Ok(Redirect::to(&format!("{}#post-{}", item_path(&item), post.id)).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::Forbidden) => {
            show_item(&state, jar, session, item, Some((form.content, err.message))).await
        }
        Err(err) => Err(PageError(err)),
    }
}

/// A local item's id: its `Article` for servers, its page for people.
async fn item_at_id(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(token): Path<String>,
    headers: HeaderMap,
    fetcher: SignedFetcher,
) -> PageResult<Response> {
    let ap_id = format!("{}/garden/{token}", state.context().node.urls.base());
    let item = queries::garden::by_ap_id(state.db(), &ap_id)
        .await?
        .filter(|i| i.local);
    let object = item.as_ref().map(|item| LocalObject {
        ap_id: &item.ap_id,
        subject: Subject::GardenItem(item),
        // Garden items travel as Notes marked by their `gardenKind`.
        kind: "Note",
        gone: item.deleted_at.is_some(),
        deleted_at: item.deleted_at,
    });
    let page = async {
        match item.clone().filter(|i| i.deleted_at.is_none()) {
            Some(item) => show_item(&state, jar, session, item, None).await,
            None => Ok(pages::not_found(session).into_response()),
        }
    };
    let json = async {
        let item = item.as_ref().ok_or(FederationError::NotFound)?;
        Ok(serde_json::to_value(
            article_of(state.db(), &state.context().node.urls, item).await?,
        )?)
    };
    serve_object(&state, &headers, &fetcher, object, page, json).await
}

struct RevisionLine {
    number: i32,
    message: String,
    by: String,
    at: String,
}

#[derive(Template)]
#[template(path = "garden_history.html")]
struct HistoryPage {
    viewer: Option<Viewer>,
    csrf: String,
    path: String,
    title: String,
    current: i32,
    can_edit: bool,
    revisions: Vec<RevisionLine>,
}

async fn history_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let viewer = session.0.as_ref().map(|a| &a.person);
    let item = item_by_local_id(&state, viewer, id).await?;
    let (item, revisions) = state
        .processor
        .garden()
        .revisions(policy::Viewer::from(viewer), &item.ap_id)
        .await?;
    let authors =
        queries::actors::by_ids(state.db(), revisions.iter().filter_map(|r| r.author_id).collect()).await?;
    let can_edit = may(&state, &session, Action::Edit, &item).await?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(HistoryPage {
        viewer: session.viewer(),
        csrf,
        path: item_path(&item),
        title: item.title.clone(),
        current: item.revision,
        can_edit,
        revisions: revisions
            .iter()
            .map(|r| RevisionLine {
                number: r.number,
                message: r.message.clone(),
                by: r
                    .author_id
                    .and_then(|id| authors.iter().find(|a| a.id == id))
                    .map(|a| a.handle())
                    .unwrap_or_default(),
                at: r.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
    })?;
    Ok((jar, page).into_response())
}

struct DiffSection {
    field: String,
    lines: Vec<(String, String)>,
}

fn diff_sections(changes: Vec<healthcommons_core::garden::FieldDiff>) -> Vec<DiffSection> {
    changes
        .into_iter()
        .map(|change| DiffSection {
            field: change.field,
            lines: change
                .lines
                .into_iter()
                .map(|line| match line {
                    DiffLine::Same(t) => ("same".to_owned(), t),
                    DiffLine::Added(t) => ("added".to_owned(), t),
                    DiffLine::Removed(t) => ("removed".to_owned(), t),
                })
                .collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "garden_diff.html")]
struct DiffPage {
    viewer: Option<Viewer>,
    csrf: String,
    path: String,
    title: String,
    heading: String,
    sections: Vec<DiffSection>,
    /// For an upstream comparison: whether the viewer may pull.
    can_pull: bool,
    error: String,
}

#[derive(Deserialize)]
struct DiffQuery {
    from: i32,
    to: i32,
}

async fn diff_page(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    Query(query): Query<DiffQuery>,
) -> PageResult<Response> {
    let viewer = session.0.as_ref().map(|a| &a.person);
    let item = item_by_local_id(&state, viewer, id).await?;
    let changes = state
        .processor
        .garden()
        .diff(policy::Viewer::from(viewer), &item.ap_id, query.from, query.to)
        .await?;
    Ok(render(DiffPage {
        viewer: session.viewer(),
        csrf: String::new(),
        path: item_path(&item),
        title: item.title.clone(),
        heading: format!("Changes from revision {} to revision {}", query.from, query.to),
        sections: diff_sections(changes),
        can_pull: false,
        error: String::new(),
    })?
    .into_response())
}

async fn upstream_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let viewer = session.0.as_ref().map(|a| &a.person);
    let item = item_by_local_id(&state, viewer, id).await?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let (heading, sections, can_pull, error) = match api::upstream(&state, viewer, &item.ap_id).await {
        Ok(upstream) => (
            format!(
                "Upstream changes since revision {} (upstream is at revision {})",
                upstream.since_revision, upstream.origin.revision
            ),
            diff_sections(upstream.changes),
            upstream.origin.revision > upstream.since_revision
                && item.local
                && session
                    .0
                    .as_ref()
                    .is_some_and(|a| item.author_id == Some(a.person.id)),
            String::new(),
        ),
        Err(err) => ("Upstream changes".to_owned(), Vec::new(), false, err.message),
    };
    let page = render(DiffPage {
        viewer: session.viewer(),
        csrf,
        path: item_path(&item),
        title: item.title.clone(),
        heading,
        sections,
        can_pull,
        error,
    })?;
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    revision: Option<i32>,
    #[serde(default)]
    message: String,
}

async fn revert(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<ActionForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    let revision = form.revision.ok_or_else(|| validation("choose a revision"))?;
    state
        .processor
        .garden()
        .revert(&account, &item.ap_id, revision)
        .await?;
    Ok(Redirect::to(&item_path(&item)).into_response())
}

/// A moderator shares a members-only item with the whole commons.
async fn share(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(_): CheckedForm<ActionForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    state
        .processor
        .garden()
        .share_with_commons(&account, &item.ap_id)
        .await?;
    Ok(Redirect::to(&item_path(&item)).into_response())
}

async fn fork(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<ActionForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    let message = Some(form.message.trim()).filter(|m| !m.is_empty());
    let fork = api::fork(&state, &account, &item.ap_id, message).await?;
    Ok(Redirect::to(&item_path(&fork)).into_response())
}

async fn pull(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(_): CheckedForm<ActionForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    api::pull(&state, &account, &item.ap_id).await?;
    Ok(Redirect::to(&format!("{}/history", item_path(&item))).into_response())
}

#[derive(Deserialize, Default)]
struct AdoptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    story: String,
    #[serde(default)]
    metrics: String,
    #[serde(default)]
    place_name: String,
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
}

#[derive(Template)]
#[template(path = "garden_adopt.html")]
struct AdoptPage {
    viewer: Option<Viewer>,
    csrf: String,
    path: String,
    title: String,
    form: AdoptForm,
    error: String,
}

async fn adopt_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(AdoptPage {
        viewer: session.viewer(),
        csrf,
        path: item_path(&item),
        title: item.title,
        form: AdoptForm::default(),
        error: String::new(),
    })?;
    Ok((jar, page).into_response())
}

async fn adopt(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<AdoptForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    let item = item_by_local_id(&state, Some(&account.person), id).await?;
    let body = (|| {
        let latitude = coordinate(&form.latitude, "latitude")?;
        let longitude = coordinate(&form.longitude, "longitude")?;
        Ok::<_, ApiError>(NewAdoption {
            context: form.context.clone(),
            outcome: form.outcome.clone(),
            story: Some(form.story.trim().to_owned()).filter(|s| !s.is_empty()),
            metrics: form.metrics.split_whitespace().map(str::to_owned).collect(),
            place: (!form.place_name.trim().is_empty() || latitude.is_some()).then(|| GardenPlace {
                name: form.place_name.trim().to_owned(),
                latitude,
                longitude,
            }),
        })
    })();
    let result = match body {
        Ok(body) => api::adopt(&state, &account, &item.ap_id, &body).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("{}#adoptions", item_path(&item))).into_response()),
        Err(err) if matches!(err.kind, ErrorKind::Validation | ErrorKind::NotFound) => {
            Ok(render(AdoptPage {
                viewer: session.viewer(),
                csrf: form.csrf.clone(),
                path: item_path(&item),
                title: item.title,
                form,
                error: err.message,
            })?
            .into_response())
        }
        Err(err) => Err(err.into()),
    }
}

/// Whether the signed-in account may do `action` to `item` (the policy
/// decides), to show or hide its button.
async fn may(
    state: &AppState,
    session: &MaybeSession,
    action: Action<'_>,
    item: &garden_item::Model,
) -> PageResult<bool> {
    Ok(match &session.0 {
        Some(account) => {
            policy::may(
                state.db(),
                account.into(),
                action,
                Target::Content(Subject::GardenItem(item)),
            )
            .await?
        }
        None => false,
    })
}
