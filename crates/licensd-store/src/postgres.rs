//! PostgreSQL, for several licensd nodes sharing one database. Transactions run at READ COMMITTED;
//! client commands serialize per license through the row lock their first statement takes, and
//! every later statement sees what the previous holder of that lock committed.

use crate::sql::db_err;
use crate::{Result, SecretCodec, StoreError};
use licensd_domain::Millis;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// A pooled connection idle for longer than this is checked with a ping before it is handed out.
/// Under load connections are idle for microseconds, and the ping would be a second round trip
/// beside a validation's single statement; after a quiet spell (when the server may have
/// restarted or a proxy dropped the socket) the check is worth its round trip.
const PING_AFTER_IDLE: Duration = Duration::from_secs(2);

pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) codec: Arc<dyn SecretCodec>,
}

impl PostgresStore {
    pub async fn connect(url: &str, codec: Arc<dyn SecretCodec>, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < PING_AFTER_IDLE {
                        return Ok(true);
                    }
                    // A dead connection is dropped and the pool opens another.
                    Ok(sqlx::Connection::ping(conn).await.is_ok())
                })
            })
            .connect_with(options)
            .await
            .map_err(db_err)?;
        Ok(Self { pool, codec })
    }
}

/// The one pool of a PostgreSQL store.
fn pool_stats(store: &PostgresStore) -> Vec<crate::PoolStats> {
    vec![crate::sql::pool_stats("main", &store.pool)]
}

/// Never on PostgreSQL: other nodes commit without telling this one, and whatever decides
/// "valid" reads the primary (DESIGN.md).
fn read_cache(_store: &PostgresStore) -> Option<&crate::read_cache::ReadCache> {
    None
}

/// See `shared::write_pool` (`sql/tx.rs`).
pub(crate) fn write_pool(store: &PostgresStore) -> &PgPool {
    &store.pool
}

/// See `shared::begin_write` (`sql/tx.rs`).
pub(crate) async fn begin_write(store: &PostgresStore) -> Result<Transaction<'static, Postgres>> {
    let pool = &store.pool;
    pool.begin().await.map_err(db_err)
}

/// Under READ COMMITTED two nodes bootstrapping at once would both see no admin token; an
/// advisory lock held until commit makes the second one see the first one's token.
async fn serialize_bootstrap(conn: &mut sqlx::PgConnection) -> Result<()> {
    const BOOTSTRAP_LOCK_KEY: i64 = 0x6c69_6365_6e73_6401;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(BOOTSTRAP_LOCK_KEY)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn run_migrations(pool: &PgPool, now: Millis) -> Result<()> {
    crate::migrate::postgres(pool, now).await
}

crate::sql::impl_store!(
    PostgresStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    sqlx::PgConnection,
    Postgres
);
