//! The community agenda: a working group asks questions with options (one
//! choice or several, an optional closing time), anyone votes once, from
//! here or from Mastodon, and the agenda ranks the open questions and their
//! options by support.

use crate::{
    ServiceError, ServiceResult,
    accounts::Account,
    policy::{self, Action, Subject, Target, Under, Viewer},
    publish::{Outgoing, Publisher},
};
use chrono::{DateTime, Duration, Utc};
use healthcommons_core::text;
use healthcommons_db::entities::ActorKind;
use healthcommons_db::{
    TransactionTrait,
    entities::{Visibility, actor, question, question_option, vote},
    queries,
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, IntoActiveModel};
use std::collections::HashMap;

pub const MIN_OPTIONS: usize = 2;
/// Mastodon's own limit, so every Mastodon user can vote on every option.
pub const MAX_OPTIONS: usize = 10;
pub const MAX_OPTION: usize = 100;
pub const MAX_QUESTION: usize = 5_000;
/// Questions stay open at most this long.
pub const MAX_OPEN_DAYS: i64 = 366;

/// What a member asks.
#[derive(Debug, Clone)]
pub struct Ask {
    /// Markdown.
    pub question: String,
    pub options: Vec<String>,
    pub multiple: bool,
    pub closes_at: Option<DateTime<Utc>>,
}

/// A question with its options (in the order asked) and who asked it.
#[derive(Debug, Clone)]
pub struct QuestionView {
    pub question: question::Model,
    pub options: Vec<question_option::Model>,
    pub author: Option<actor::Model>,
    pub group: Option<actor::Model>,
}

impl QuestionView {
    pub fn is_closed(&self) -> bool {
        is_closed(&self.question)
    }
    /// Every vote cast, on any option.
    pub fn support(&self) -> i32 {
        self.options.iter().map(|o| o.votes).sum()
    }
    /// The options, most supported first (ties in the order asked).
    pub fn ranked_options(&self) -> Vec<question_option::Model> {
        let mut ranked = self.options.clone();
        ranked.sort_by(|a, b| b.votes.cmp(&a.votes).then(a.position.cmp(&b.position)));
        ranked
    }
}

fn is_closed(question: &question::Model) -> bool {
    question.closes_at.is_some_and(|at| at <= Utc::now())
}

fn clean_options(options: Vec<String>) -> ServiceResult<Vec<String>> {
    let mut cleaned: Vec<String> = Vec::new();
    for option in options {
        let option = text::plain_text(&option, MAX_OPTION + 1);
        if option.is_empty() {
            continue;
        }
        if option.chars().count() > MAX_OPTION {
            return Err(ServiceError::validation(format!(
                "an option must be at most {MAX_OPTION} characters"
            )));
        }
        if cleaned.contains(&option) {
            return Err(ServiceError::validation(format!("{option:?} is offered twice")));
        }
        cleaned.push(option);
    }
    if !(MIN_OPTIONS..=MAX_OPTIONS).contains(&cleaned.len()) {
        return Err(ServiceError::validation(format!(
            "a question offers {MIN_OPTIONS} to {MAX_OPTIONS} options"
        )));
    }
    Ok(cleaned)
}

/// Agendas as the API, the pages and the inbox see them.
pub struct Agenda<'p>(pub(crate) &'p crate::Processor);

impl Agenda<'_> {
    /// A member puts a question on a local working group's agenda.
    pub async fn ask(
        &self,
        author: &Account,
        group: &actor::Model,
        ask: Ask,
    ) -> ServiceResult<question::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        if group.kind != ActorKind::Group || !group.local {
            return Err(ServiceError::validation(
                "questions go on the agenda of a working group of this node",
            ));
        }
        policy::require(
            db,
            author.into(),
            Action::Contribute(Under::Nothing),
            Target::Group(group),
        )
        .await?;
        if ask.question.trim().is_empty() {
            return Err(ServiceError::validation("ask a question"));
        }
        if ask.question.len() > MAX_QUESTION {
            return Err(ServiceError::validation(format!(
                "the question must be at most {MAX_QUESTION} bytes"
            )));
        }
        let options = clean_options(ask.options)?;
        let now = Utc::now();
        if let Some(closes_at) = ask.closes_at
            && (closes_at <= now || closes_at > now + Duration::days(MAX_OPEN_DAYS))
        {
            return Err(ServiceError::validation(format!(
                "a question closes in the future, within {MAX_OPEN_DAYS} days"
            )));
        }
        let visibility = policy::visibility_for_new(db, Some(group), None, Visibility::Public).await?;
        let ap_id = ctx.urls.new_question();
        let txn = db.begin().await?;
        let row = queries::agenda::insert(
            &txn,
            question::ActiveModel {
                ap_id: Set(ap_id.clone()),
                url: Set(Some(ap_id)),
                author_id: Set(Some(author.person.id)),
                group_id: Set(Some(group.id)),
                visibility: Set(visibility),
                content_html: Set(text::markdown_to_html(&ask.question)),
                source: Set(Some(ask.question)),
                multiple: Set(ask.multiple),
                closes_at: Set(ask.closes_at),
                voters_count: Set(0),
                local: Set(true),
                published: Set(now),
                updated_at: Set(None),
                deleted_at: Set(None),
                ..Default::default()
            },
        )
        .await?;
        for (position, name) in options.iter().enumerate() {
            queries::agenda::insert_option(&txn, row.id, i32::try_from(position).unwrap_or(0), name, 0)
                .await?;
        }
        publisher
            .publish(&txn, Outgoing::CreateQuestion { question_id: row.id })
            .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// A member votes (`choices` are positions in the list as asked). On a local
    /// question the totals change at once; on a remote one the votes go to the
    /// asking node, which answers with its new totals.
    pub async fn vote(
        &self,
        account: &Account,
        id: i64,
        choices: &[usize],
    ) -> ServiceResult<Vec<vote::Model>> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let question = visible(db, Viewer::Actor(&account.person), id).await?;
        policy::require(
            db,
            account.into(),
            Action::TakePart,
            Target::Content(Subject::Question(&question)),
        )
        .await?;
        let options = queries::agenda::options(db, question.id).await?;
        let mut chosen: Vec<&question_option::Model> = Vec::new();
        for choice in choices {
            let option = options
                .iter()
                .find(|o| usize::try_from(o.position).ok() == Some(*choice))
                .ok_or_else(|| ServiceError::validation(format!("there is no option {choice}")))?;
            if !chosen.iter().any(|c| c.id == option.id) {
                chosen.push(option);
            }
        }
        let earlier = queries::agenda::votes_by(db, question.id, account.person.id).await?;
        check_vote(&question, &earlier, &chosen)?;
        let txn = db.begin().await?;
        let mut votes = Vec::new();
        for option in chosen {
            votes.push(
                queries::agenda::insert_vote(
                    &txn,
                    vote::ActiveModel {
                        question_id: Set(question.id),
                        option_id: Set(option.id),
                        actor_id: Set(account.person.id),
                        ap_id: Set(ctx.urls.new_activity("vote")),
                        created_at: Set(Utc::now()),
                        ..Default::default()
                    },
                )
                .await?,
            );
        }
        if question.local {
            queries::agenda::recount(&txn, question.id).await?;
            publisher
                .publish(
                    &txn,
                    Outgoing::UpdateQuestion {
                        question_id: question.id,
                    },
                )
                .await?;
        } else {
            publisher
                .publish(
                    &txn,
                    Outgoing::Vote {
                        question_id: question.id,
                        vote_ids: votes.iter().map(|v| v.id).collect(),
                    },
                )
                .await?;
        }
        txn.commit().await?;
        Ok(votes)
    }
}

/// A live question by id.
pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> ServiceResult<question::Model> {
    queries::agenda::by_id(db, id)
        .await?
        .filter(|q| q.deleted_at.is_none())
        .ok_or_else(|| ServiceError::not_found("no such question"))
}

/// Refuse a vote that cannot count: closed, or a second vote by one actor.
fn check_vote(
    question: &question::Model,
    earlier: &[vote::Model],
    options: &[&question_option::Model],
) -> ServiceResult<()> {
    if is_closed(question) {
        return Err(ServiceError::conflict("this question is closed"));
    }
    if options.is_empty() {
        return Err(ServiceError::validation("choose an option"));
    }
    if !question.multiple && (options.len() > 1 || !earlier.is_empty()) {
        return Err(if earlier.is_empty() {
            ServiceError::validation("this question takes one choice")
        } else {
            ServiceError::conflict("you have already voted")
        });
    }
    if options
        .iter()
        .any(|o| earlier.iter().any(|v| v.option_id == o.id))
    {
        return Err(ServiceError::conflict("you have already voted for this option"));
    }
    Ok(())
}

/// A vote from another node (Mastodon's `Note` with the option as `name`)
/// on a local question.
pub async fn receive_vote(
    db: &DatabaseConnection,
    publisher: &dyn Publisher,
    question: &question::Model,
    voter: &actor::Model,
    option_name: &str,
    vote_id: &str,
) -> ServiceResult<vote::Model> {
    if !question.local || question.deleted_at.is_some() {
        return Err(ServiceError::not_found(
            "votes go to the node that asks the question",
        ));
    }
    policy::require(
        db,
        voter.into(),
        Action::TakePart,
        Target::Content(Subject::Question(question)),
    )
    .await?;
    let options = queries::agenda::options(db, question.id).await?;
    let option = options
        .iter()
        .find(|o| o.name == option_name.trim())
        .ok_or_else(|| {
            ServiceError::validation(format!("{option_name:?} is not an option of this question"))
        })?;
    let earlier = queries::agenda::votes_by(db, question.id, voter.id).await?;
    if let Some(same) = earlier.iter().find(|v| v.ap_id == vote_id) {
        return Ok(same.clone());
    }
    check_vote(question, &earlier, &[option])?;
    let txn = db.begin().await?;
    let vote = queries::agenda::insert_vote(
        &txn,
        vote::ActiveModel {
            question_id: Set(question.id),
            option_id: Set(option.id),
            actor_id: Set(voter.id),
            ap_id: Set(vote_id.to_owned()),
            created_at: Set(Utc::now()),
            ..Default::default()
        },
    )
    .await?;
    queries::agenda::recount(&txn, question.id).await?;
    publisher
        .publish(
            &txn,
            Outgoing::UpdateQuestion {
                question_id: question.id,
            },
        )
        .await?;
    txn.commit().await?;
    Ok(vote)
}

/// A question as another node describes it, with its totals.
#[derive(Debug, Clone)]
pub struct RemoteQuestion {
    pub ap_id: String,
    /// As its addressing says (see `policy::visibility_for_new`, which narrows it).
    pub visibility: Visibility,
    pub url: Option<String>,
    pub author: actor::Model,
    pub group: Option<actor::Model>,
    /// HTML, sanitised here.
    pub content_html: String,
    pub multiple: bool,
    pub closes_at: Option<DateTime<Utc>>,
    /// Names with their vote counts, in the order asked.
    pub options: Vec<(String, i32)>,
    pub voters_count: i32,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
}

/// Store a question from another node, or take its new totals.
pub async fn store_remote(db: &DatabaseConnection, remote: RemoteQuestion) -> ServiceResult<question::Model> {
    let existing = queries::agenda::by_ap_id(db, &remote.ap_id).await?;
    if existing.as_ref().is_some_and(|q| q.local) {
        return Err(ServiceError::forbidden("this question belongs to this node"));
    }
    if existing.as_ref().is_some_and(|q| q.deleted_at.is_some()) {
        return Err(ServiceError::conflict("this question was deleted"));
    }
    let mut options: Vec<(String, i32)> = Vec::new();
    for (name, votes) in remote.options {
        let name = text::plain_text(&name, MAX_OPTION);
        if !name.is_empty() && !options.iter().any(|(n, _)| *n == name) && options.len() < 100 {
            options.push((name, votes.max(0)));
        }
    }
    // Read before the transaction: SQLite's pool has one connection, which it holds.
    let visibility = policy::visibility_for_new(db, remote.group.as_ref(), None, remote.visibility).await?;
    let txn = db.begin().await?;
    let known = existing.is_some();
    let mut row = match existing {
        Some(existing) => existing.into_active_model(),
        None => question::ActiveModel {
            ap_id: Set(remote.ap_id.clone()),
            local: Set(false),
            deleted_at: Set(None),
            source: Set(None),
            ..Default::default()
        },
    };
    row.url = Set(remote.url);
    row.author_id = Set(Some(remote.author.id));
    row.visibility = Set(visibility);
    row.group_id = Set(remote.group.map(|g| g.id));
    row.content_html = Set(text::sanitize_html(&remote.content_html));
    row.multiple = Set(remote.multiple);
    row.closes_at = Set(remote.closes_at);
    row.voters_count = Set(remote.voters_count.max(0));
    row.published = Set(remote.published);
    row.updated_at = Set(remote.updated);
    let stored = if known {
        queries::agenda::update(&txn, row).await?
    } else {
        queries::agenda::insert(&txn, row).await?
    };
    let current = queries::agenda::options(&txn, stored.id).await?;
    let same_options =
        current.len() == options.len() && current.iter().zip(&options).all(|(c, (n, _))| &c.name == n);
    if same_options {
        for (option, (_, votes)) in current.iter().zip(&options) {
            queries::agenda::set_option_votes(&txn, option.id, *votes).await?;
        }
    } else {
        // The options changed (Mastodon resets the votes then).
        queries::agenda::delete_options(&txn, stored.id).await?;
        for (position, (name, votes)) in options.iter().enumerate() {
            queries::agenda::insert_option(
                &txn,
                stored.id,
                i32::try_from(position).unwrap_or(0),
                name,
                *votes,
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(stored)
}

async fn views_of(
    db: &impl ConnectionTrait,
    questions: Vec<question::Model>,
) -> ServiceResult<Vec<QuestionView>> {
    let mut options: HashMap<i64, Vec<question_option::Model>> = HashMap::new();
    for option in queries::agenda::options_of(db, questions.iter().map(|q| q.id).collect()).await? {
        options.entry(option.question_id).or_default().push(option);
    }
    let actors = queries::actors::map_by_ids(
        db,
        questions
            .iter()
            .flat_map(|q| [q.author_id, q.group_id])
            .flatten()
            .collect(),
    )
    .await?;
    Ok(questions
        .into_iter()
        .map(|question| QuestionView {
            options: options.remove(&question.id).unwrap_or_default(),
            author: question.author_id.and_then(|id| actors.get(&id).cloned()),
            group: question.group_id.and_then(|id| actors.get(&id).cloned()),
            question,
        })
        .collect())
}

/// A live question `viewer` may see; "not found" for one they may not.
pub async fn visible(
    db: &impl ConnectionTrait,
    viewer: Viewer<'_>,
    id: i64,
) -> ServiceResult<question::Model> {
    let question = by_id(db, id).await?;
    if !policy::visible_to(db, viewer, Subject::Question(&question)).await? {
        return Err(ServiceError::not_found("no such question"));
    }
    Ok(question)
}

/// The way in for the pages and the API, on the processor's connections.
impl Agenda<'_> {
    pub async fn view(&self, viewer: Viewer<'_>, id: i64) -> ServiceResult<QuestionView> {
        let db = self.0.readers();
        let question = visible(db, viewer, id).await?;
        views_of(db, vec![question])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::not_found("no such question"))
    }

    /// A working group's agenda: open questions first, the most supported on
    /// top, then closed ones, newest first.
    /// Only the questions `viewer` may see.
    pub async fn agenda(&self, viewer: Viewer<'_>, group: &actor::Model) -> ServiceResult<Vec<QuestionView>> {
        let db = self.0.readers();
        let scope = policy::read_scope(db, viewer).await?;
        let mut views = views_of(db, queries::agenda::of_group(db, &scope, group.id).await?).await?;
        views.sort_by(|a, b| {
            a.is_closed()
                .cmp(&b.is_closed())
                .then_with(|| {
                    if a.is_closed() {
                        std::cmp::Ordering::Equal
                    } else {
                        b.support().cmp(&a.support())
                    }
                })
                .then(b.question.published.cmp(&a.question.published))
        });
        Ok(views)
    }

    /// The positions a viewer voted for, by question (none when signed out),
    /// read in one query.
    pub async fn choices_of(
        &self,
        views: &[QuestionView],
        viewer: Option<&Account>,
    ) -> ServiceResult<HashMap<i64, Vec<i32>>> {
        let db = self.0.readers();
        let Some(viewer) = viewer else {
            return Ok(HashMap::new());
        };
        let votes = queries::agenda::votes_on(
            db,
            viewer.person.id,
            views.iter().map(|v| v.question.id).collect(),
        )
        .await?;
        Ok(views
            .iter()
            .map(|view| {
                let chosen = view
                    .options
                    .iter()
                    .filter(|o| votes.iter().any(|v| v.option_id == o.id))
                    .map(|o| o.position)
                    .collect();
                (view.question.id, chosen)
            })
            .collect())
    }
}
