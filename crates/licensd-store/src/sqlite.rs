//! SQLite, the embedded default. One writer at a time: every transaction that may write starts
//! with `BEGIN IMMEDIATE`, so it holds the writer lock from its first statement and a rule's
//! decision can never be based on state another writer is about to change.

use crate::sql::db_err;
use crate::{Result, SecretCodec, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub struct SqliteStore {
    pool: SqlitePool,
    codec: Arc<dyn SecretCodec>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL.
    pub async fn connect(url: &str, codec: Arc<dyn SecretCodec>, max_connections: u32) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Writers queue on the lock instead of failing with SQLITE_BUSY.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await
            .map_err(db_err)?;
        Ok(Self { pool, codec })
    }
}

async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
}

/// `BEGIN IMMEDIATE` already serializes every writer.
async fn serialize_bootstrap(_conn: &mut sqlx::SqliteConnection) -> Result<()> {
    Ok(())
}

async fn run_migrations(pool: &SqlitePool) -> Result<()> {
    crate::migrate::sqlite(pool).await
}

crate::sql::impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    sqlx::SqliteConnection,
    crate::Backend::Sqlite
);
