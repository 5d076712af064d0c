//! Queries grouped per aggregate. Functions take any `ConnectionTrait` so the
//! same query runs on a plain connection or inside a transaction.

pub mod actors;
pub mod agenda;
pub mod auth;
pub mod deliveries;
pub mod directory;
pub mod events;
pub mod follows;
pub mod garden;
pub mod groups;
pub mod inbox;
pub mod map;
pub mod peers;
pub mod pledges;
pub mod posts;
pub mod reports;
pub mod settings;
pub mod users;

use sea_orm::{
    ColumnTrait, DbBackend,
    sea_query::{Expr, SimpleExpr},
};

/// `column` is one of `ids`. On PostgreSQL the ids go through an array built
/// by a subquery: with a plain `IN (…)` of a few hundred ids the planner
/// scans a table it has not analysed yet (a fresh node's deliveries during
/// its first big fan-out) and compares every row with every id, where the
/// subquery's array is planned as primary-key lookups.
pub(crate) fn id_among<C: ColumnTrait>(backend: DbBackend, column: C, ids: &[i64]) -> SimpleExpr {
    if backend != DbBackend::Postgres {
        return column.is_in(ids.iter().copied());
    }
    // No `ARRAY[…]` literal: the custom expression's placeholders inside
    // brackets would not be numbered.
    let rows: Vec<String> = (1..=ids.len()).map(|n| format!("(${n}::bigint)")).collect();
    Expr::cust_with_values(
        format!(
            "\"{}\" = ANY(ARRAY(SELECT id FROM (VALUES {}) AS ids(id)))",
            column.as_str(),
            rows.join(", ")
        ),
        ids.iter().copied(),
    )
}
