//! SQLite only (PostgreSQL's durability is its server's `synchronous_commit`): the store's
//! `SqliteSynchronous` is the `PRAGMA synchronous` of every connection it opens, the ones that
//! write (the main pool runs migrations, the writer pool and the writer thread run every other
//! write) and the thread readers.

use crate::harness::{NOW, TestCodec};
use licensd_store::prelude::*;
use licensd_store::{SqliteStore, SqliteSynchronous};
use std::sync::Arc;

/// What `PRAGMA synchronous` reads back as: FULL is 2, NORMAL is 1.
fn expected_level(mode: SqliteSynchronous) -> i64 {
    match mode {
        SqliteSynchronous::Full => 2,
        SqliteSynchronous::Normal => 1,
    }
}

pub async fn every_connection_has_the_configured_synchronous() {
    assert_eq!(SqliteSynchronous::default(), SqliteSynchronous::Normal);
    for mode in [SqliteSynchronous::Full, SqliteSynchronous::Normal] {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("durability.db").display());
        let store = SqliteStore::connect(&url, Arc::new(TestCodec::new(7)), 3, mode)
            .await
            .expect("connect");
        // Written through before it is asked: the migrations on the main pool, a product on the
        // writer pool.
        store.migrate(NOW).await.expect("migrate");
        store
            .create_product(
                crate::harness::new_product("durable"),
                crate::harness::ev("product.create", "product"),
                NOW,
            )
            .await
            .expect("create product");
        let levels = store.synchronous_levels().await.expect("levels");
        let roles: Vec<&str> = levels.iter().map(|(role, _)| *role).collect();
        assert_eq!(
            roles,
            ["main", "main", "main", "writer", "writer thread", "thread reader"],
            "{mode}"
        );
        for (role, level) in &levels {
            assert_eq!(*level, expected_level(mode), "{mode}: the {role} connection");
        }
    }
}

pub async fn an_in_memory_store_has_the_configured_synchronous() {
    for mode in [SqliteSynchronous::Full, SqliteSynchronous::Normal] {
        let store = SqliteStore::connect("sqlite::memory:", Arc::new(TestCodec::new(7)), 3, mode)
            .await
            .expect("connect");
        let levels = store.synchronous_levels().await.expect("levels");
        assert_eq!(levels, [("main", expected_level(mode))], "{mode}");
    }
}

pub fn the_setting_parses_full_or_normal_only() {
    assert_eq!("full".parse::<SqliteSynchronous>(), Ok(SqliteSynchronous::Full));
    assert_eq!("NORMAL".parse::<SqliteSynchronous>(), Ok(SqliteSynchronous::Normal));
    for bad in ["off", "extra", "", "2"] {
        let error = bad.parse::<SqliteSynchronous>().expect_err(bad);
        assert_eq!(
            error,
            format!(
                "sqlite_synchronous must be `full` (every acknowledged write survives power loss) or \
                 `normal` (faster; power loss may undo the last writes), not {bad:?}"
            )
        );
    }
    assert_eq!(
        (
            SqliteSynchronous::Full.to_string(),
            SqliteSynchronous::Normal.to_string()
        ),
        ("full".to_owned(), "normal".to_owned())
    );
}
