//! The two backends' migrations must describe the same schema: the same tables with the same
//! columns (types differ by design: INTEGER/BLOB on SQLite, BIGINT/BYTEA/BOOLEAN on PostgreSQL).
//! Drift between the two migration trees is caught here, not in production.

use crate::harness::*;
use std::collections::BTreeSet;

type Columns = BTreeSet<(String, String)>;

async fn sqlite_columns(db: &Db) -> Columns {
    let Raw::Sqlite(pool) = &db.raw else {
        panic!("expected a SQLite database")
    };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_all(pool)
    .await
    .expect("sqlite schema");
    rows.into_iter().collect()
}

async fn postgres_columns(db: &Db) -> Columns {
    let Raw::Pg(pool) = &db.raw else {
        panic!("expected a PostgreSQL database")
    };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(pool)
    .await
    .expect("postgres schema");
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_have_the_same_tables_and_columns() {
    run(Kind::Sqlite, "schema_sqlite", 2, |sqlite| async move {
        let on_sqlite = sqlite_columns(&sqlite).await;
        assert!(
            on_sqlite.iter().any(|(table, _)| table == "licenses"),
            "migrations did not run: {on_sqlite:?}"
        );
        run(Kind::Postgres, "schema_postgres", 2, |postgres| async move {
            let on_postgres = postgres_columns(&postgres).await;
            let only_sqlite: Vec<_> = on_sqlite.difference(&on_postgres).collect();
            // By design PostgreSQL only: its console tally triggers append deltas (folded when
            // the dashboard is read) so concurrent writers never queue on one counter row;
            // SQLite has one writer and updates `console_tally` in place (migration 0703).
            let only_postgres: Vec<_> = on_postgres
                .difference(&on_sqlite)
                .filter(|(table, _)| table != "console_tally_deltas")
                .collect();
            assert!(
                only_sqlite.is_empty() && only_postgres.is_empty(),
                "schemas differ: only on SQLite {only_sqlite:?}, only on PostgreSQL {only_postgres:?}"
            );
        })
        .await;
    })
    .await;
}
