//! Queries grouped per aggregate. Functions take any `ConnectionTrait` so the
//! same query runs on a plain connection or inside a transaction.

pub mod actors;
pub mod agenda;
pub mod audience;
pub mod auth;
pub mod deliveries;
pub mod directory;
pub mod email;
pub mod events;
pub mod follows;
pub mod garden;
pub mod groups;
pub mod inbox;
pub mod map;
pub mod notifications;
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

/// `column` is one of `values`. On PostgreSQL the values go as one array
/// parameter, so the statement's text is the same however many there are
/// (each distinct text is prepared again on every connection, and pushes
/// other statements out of its cache).
pub(crate) fn text_among<C: ColumnTrait>(backend: DbBackend, column: C, values: &[String]) -> SimpleExpr {
    if backend != DbBackend::Postgres {
        return column.is_in(values.iter().cloned());
    }
    Expr::cust_with_values(
        format!("\"{}\" = ANY($1::text[])", column.as_str()),
        [sea_orm::Value::from(values.to_vec())],
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

    #[test]
    fn the_text_array_is_one_parameter_however_many_values() {
        let hosts = |n: usize| (0..n).map(|i| format!("p{i}.test")).collect::<Vec<_>>();
        let sql = |n: usize| {
            crate::entities::peer::Entity::find()
                .filter(text_among(
                    DbBackend::Postgres,
                    crate::entities::peer::Column::Host,
                    &hosts(n),
                ))
                .build(DbBackend::Postgres)
                .sql
        };
        assert_eq!(sql(1), sql(40));
        assert!(sql(3).contains(r#""host" = ANY($1::text[])"#), "{}", sql(3));
    }
}
