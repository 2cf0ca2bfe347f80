//! A value the database itself refuses is the caller's fault: `StoreError::InvalidInput`, never
//! `Database` (which the dialects answer as "unavailable, retry").

use crate::harness::*;
use licensd_store::*;

pub async fn a_value_postgres_refuses_is_invalid_input(db: Db) {
    let mut new = new_product("nul");
    new.name = "before\0after".into();
    let outcome = db.create_product(new, ev("product.create", "product"), NOW).await;
    match db.expected_backend() {
        // SQLite stores the NUL; the HTTP edge refuses it before either database sees it.
        Backend::Sqlite => assert_eq!(outcome.expect("sqlite stores it").name, "before\0after"),
        Backend::Postgres => match outcome {
            Err(StoreError::InvalidInput(message)) => assert!(message.contains("0x00"), "{message}"),
            other => panic!("expected InvalidInput, got {other:?}"),
        },
    }
    // Nothing half-written: the store still works and holds only what succeeded.
    db.ping().await.expect("ping");
}
