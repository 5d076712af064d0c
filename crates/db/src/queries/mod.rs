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

/// `column` is one of `ids`. On PostgreSQL the ids go as one array through
/// a subquery: with a plain `IN (…)` of a few hundred ids the planner scans
/// a table it has not analysed yet (a fresh node's deliveries during its
/// first big fan-out) and compares every row with every id, where the
/// subquery's array is planned as primary-key lookups. One array parameter
/// also keeps the statement's text the same for every number of ids, so
/// each connection prepares it once instead of once per batch size.
pub(crate) fn id_among<C: ColumnTrait>(backend: DbBackend, column: C, ids: &[i64]) -> SimpleExpr {
    if backend != DbBackend::Postgres {
        return column.is_in(ids.iter().copied());
    }
    Expr::cust_with_values(
        format!(
            "\"{}\" = ANY(ARRAY(SELECT unnest($1::bigint[])))",
            column.as_str()
        ),
        [sea_orm::Value::from(ids.to_vec())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::delivery;
    use sea_orm::{EntityTrait, QueryFilter, QueryTrait};

    #[test]
    fn the_id_array_takes_its_own_place_among_the_statements_parameters() {
        let statement = delivery::Entity::update_many()
            .col_expr(delivery::Column::Attempts, 3.into())
            .filter(id_among(DbBackend::Postgres, delivery::Column::Id, &[7, 8, 9]))
            .filter(delivery::Column::State.eq("pending"))
            .build(DbBackend::Postgres);
        assert!(
            statement
                .sql
                .contains(r#""id" = ANY(ARRAY(SELECT unnest($2::bigint[])))"#),
            "{}",
            statement.sql
        );
        assert!(statement.sql.contains(r#""state" = $3"#), "{}", statement.sql);
        let values = statement.values.expect("values").0;
        assert_eq!(values.len(), 3);
        assert_eq!(values[1], sea_orm::Value::from(vec![7i64, 8, 9]));
    }
}
