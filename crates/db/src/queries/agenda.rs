//! Agenda questions, their options and votes.

use crate::{
    DbResult,
    entities::{question, question_option, vote},
    queries::audience::ReadScope,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

/// At most this many questions on one agenda page.
pub const MAX_LISTED: u64 = 200;

pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<question::Model>> {
    Ok(question::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: Vec<i64>) -> DbResult<Vec<question::Model>> {
    Ok(question::Entity::find()
        .filter(question::Column::Id.is_in(ids))
        .all(db)
        .await?)
}

pub async fn by_ap_id(db: &impl ConnectionTrait, ap_id: &str) -> DbResult<Option<question::Model>> {
    Ok(question::Entity::find()
        .filter(question::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

pub async fn insert(db: &impl ConnectionTrait, row: question::ActiveModel) -> DbResult<question::Model> {
    Ok(row.insert(db).await?)
}

pub async fn update(db: &impl ConnectionTrait, row: question::ActiveModel) -> DbResult<question::Model> {
    Ok(row.update(db).await?)
}

/// A working group's questions that `scope` may read, newest first.
pub async fn of_group(
    db: &impl ConnectionTrait,
    scope: &ReadScope,
    group_id: i64,
) -> DbResult<Vec<question::Model>> {
    Ok(question::Entity::find()
        .filter(question::Column::GroupId.eq(group_id))
        .filter(scope.condition(
            db.get_database_backend(),
            question::Column::Visibility,
            question::Column::GroupId,
            question::Column::AuthorId,
        ))
        .filter(question::Column::DeletedAt.is_null())
        .order_by_desc(question::Column::Published)
        .limit(MAX_LISTED)
        .all(db)
        .await?)
}

pub async fn options(db: &impl ConnectionTrait, question_id: i64) -> DbResult<Vec<question_option::Model>> {
    Ok(question_option::Entity::find()
        .filter(question_option::Column::QuestionId.eq(question_id))
        .order_by_asc(question_option::Column::Position)
        .all(db)
        .await?)
}

pub async fn options_of(
    db: &impl ConnectionTrait,
    question_ids: Vec<i64>,
) -> DbResult<Vec<question_option::Model>> {
    Ok(question_option::Entity::find()
        .filter(question_option::Column::QuestionId.is_in(question_ids))
        .order_by_asc(question_option::Column::Position)
        .all(db)
        .await?)
}

pub async fn insert_option(
    db: &impl ConnectionTrait,
    question_id: i64,
    position: i32,
    name: &str,
    votes: i32,
) -> DbResult<question_option::Model> {
    Ok(question_option::ActiveModel {
        question_id: Set(question_id),
        position: Set(position),
        name: Set(name.to_owned()),
        votes: Set(votes),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn set_option_votes(db: &impl ConnectionTrait, option_id: i64, votes: i32) -> DbResult<()> {
    question_option::Entity::update_many()
        .col_expr(question_option::Column::Votes, Expr::value(votes))
        .filter(question_option::Column::Id.eq(option_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn delete_options(db: &impl ConnectionTrait, question_id: i64) -> DbResult<()> {
    question_option::Entity::delete_many()
        .filter(question_option::Column::QuestionId.eq(question_id))
        .exec(db)
        .await?;
    Ok(())
}

/// An actor's votes on any of `question_ids`.
pub async fn votes_on(
    db: &impl ConnectionTrait,
    actor_id: i64,
    question_ids: Vec<i64>,
) -> DbResult<Vec<vote::Model>> {
    Ok(vote::Entity::find()
        .filter(vote::Column::ActorId.eq(actor_id))
        .filter(vote::Column::QuestionId.is_in(question_ids))
        .all(db)
        .await?)
}

/// An actor's votes on a question.
pub async fn votes_by(
    db: &impl ConnectionTrait,
    question_id: i64,
    actor_id: i64,
) -> DbResult<Vec<vote::Model>> {
    Ok(vote::Entity::find()
        .filter(vote::Column::QuestionId.eq(question_id))
        .filter(vote::Column::ActorId.eq(actor_id))
        .all(db)
        .await?)
}

pub async fn vote_by_id(db: &impl ConnectionTrait, id: i64) -> DbResult<Option<vote::Model>> {
    Ok(vote::Entity::find_by_id(id).one(db).await?)
}

pub async fn insert_vote(db: &impl ConnectionTrait, row: vote::ActiveModel) -> DbResult<vote::Model> {
    Ok(row.insert(db).await?)
}

/// Count the votes again from the vote rows: each option's (one grouped
/// query), and how many distinct actors voted.
pub async fn recount(db: &impl ConnectionTrait, question_id: i64) -> DbResult<()> {
    let counts: Vec<(i64, i64)> = vote::Entity::find()
        .select_only()
        .column(vote::Column::OptionId)
        .column_as(vote::Column::Id.count(), "votes")
        .filter(vote::Column::QuestionId.eq(question_id))
        .group_by(vote::Column::OptionId)
        .into_tuple()
        .all(db)
        .await?;
    for option in options(db, question_id).await? {
        let votes = counts
            .iter()
            .find(|(id, _)| *id == option.id)
            .map_or(0, |(_, n)| *n);
        if i64::from(option.votes) != votes {
            set_option_votes(db, option.id, i32::try_from(votes).unwrap_or(i32::MAX)).await?;
        }
    }
    let voters = vote::Entity::find()
        .select_only()
        .column(vote::Column::ActorId)
        .distinct()
        .filter(vote::Column::QuestionId.eq(question_id))
        .count(db)
        .await?;
    question::Entity::update_many()
        .col_expr(
            question::Column::VotersCount,
            Expr::value(i32::try_from(voters).unwrap_or(i32::MAX)),
        )
        .filter(question::Column::Id.eq(question_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Inboxes to tell of new totals: the actors who voted.
pub async fn voter_ids(db: &impl ConnectionTrait, question_id: i64) -> DbResult<Vec<i64>> {
    Ok(vote::Entity::find()
        .select_only()
        .column(vote::Column::ActorId)
        .distinct()
        .filter(vote::Column::QuestionId.eq(question_id))
        .into_tuple()
        .all(db)
        .await?)
}
