//! PostgreSQL, for several licensd nodes sharing one database. Transactions run at READ COMMITTED;
//! client commands serialize per license through the row lock their first statement takes, and
//! every later statement sees what the previous holder of that lock committed.

use crate::read_cache::{Freshness, Generation, ReadCache};
use crate::sql::db_err;
use crate::{Result, SecretCodec, StoreError};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A pooled connection idle for longer than this is checked with a ping before it is handed out.
/// Under load connections are idle for microseconds, and the ping would be a second round trip
/// beside a validation's single statement; after a quiet spell (when the server may have
/// restarted or a proxy dropped the socket) the check is worth its round trip.
const PING_AFTER_IDLE: Duration = Duration::from_secs(2);

pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) codec: Arc<dyn SecretCodec>,
    options: PgConnectOptions,
    /// Set by `enable_read_cache`: the cache and the task that keeps it in step.
    read_cache: Option<ReadCache>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
    }
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
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        Ok(Self {
            pool,
            codec,
            options,
            read_cache: None,
            listener: None,
        })
    }

    /// Serves repeated validations and the lookups around them from a per-node cache of up to
    /// `entries` of each kind, never older than `max_staleness` (see `read_cache`): kept in step
    /// by LISTEN/NOTIFY on a connection of its own (application name `licensd-read-cache`).
    /// Nothing happens when either is 0. Call from inside a tokio runtime.
    pub fn enable_read_cache(&mut self, entries: usize, max_staleness: Duration) {
        if entries == 0 || max_staleness.is_zero() || self.read_cache.is_some() {
            return;
        }
        let generation: Generation = Box::leak(Box::new(AtomicU64::new(0)));
        let freshness = Arc::new(Freshness::new(max_staleness));
        self.read_cache = Some(ReadCache::with_freshness(generation, entries, freshness.clone()));
        // One connection, outside the main pool, so `pg_stat_activity` tells it apart.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(self.options.clone().application_name(READ_CACHE_LISTENER));
        self.listener = Some(tokio::spawn(keep_in_step(
            self.pool.clone(),
            listen_pool,
            generation,
            freshness,
        )));
    }
}

/// The channel every write to a table the read cache reads notifies (migration 4).
const CHANNEL: &str = "licensd_read_cache";
/// The application name of the listening connection.
pub const READ_CACHE_LISTENER: &str = "licensd-read-cache";
/// What starts a heartbeat's payload: `hb <node> <sent>`. Writes notify with an empty payload.
const HEARTBEAT: &str = "hb ";

/// Keeps a read cache in step with every node's writes, for the life of the store: listens, and
/// sends heartbeats to itself every quarter of the staleness bound (`read_cache::Freshness`).
async fn keep_in_step(pool: PgPool, listen_pool: PgPool, generation: Generation, freshness: Arc<Freshness>) {
    let beat = (freshness.max_staleness() / 4).max(Duration::from_millis(1));
    // Tells this node's heartbeats from other nodes' on the shared channel.
    let node = format!("{:x}-{:p}", std::process::id(), Arc::as_ptr(&freshness));
    let _heartbeats = AbortOnDrop(tokio::spawn(send_heartbeats(
        pool,
        node.clone(),
        freshness.clone(),
        beat,
    )));
    loop {
        // Not in step until a heartbeat sent after LISTEN comes back; whatever was cached may
        // have missed a notification.
        freshness.lost();
        generation.fetch_add(1, Ordering::Release);
        match listen_for_writes(&listen_pool, &node, generation, &freshness, beat).await {
            Ok(()) => tracing::warn!("read cache: the listening connection was lost; serving from the database"),
            Err(e) => tracing::warn!(error = %e, "read cache: cannot listen; serving from the database"),
        }
        tokio::time::sleep(beat).await;
    }
}

/// Ends the heartbeats with the task that keeps the cache in step (aborted with its store).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `hb <node> <sent>` every `beat`, `sent` taken before the statement: its commit, and so
/// its place in the notification order, comes after every commit that finished before `sent`.
async fn send_heartbeats(pool: PgPool, node: String, freshness: Arc<Freshness>, beat: Duration) {
    let mut ticker = tokio::time::interval(beat);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let sent = freshness.now();
        let payload = format!("{HEARTBEAT}{node} {sent}");
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&pool)
            .await
        {
            // No heartbeat, no freshness: the cache stops serving until one gets through.
            tracing::debug!(error = %e, "read cache: heartbeat not sent");
        }
    }
}

/// Listens on one connection until it is lost (`Ok`) or fails: a write's notification bumps the
/// generation; this node's own heartbeat, if sent after LISTEN took effect, marks the cache
/// fresh as of its send time. Gives up on a connection that brings no heartbeat back for a while.
async fn listen_for_writes(
    listen_pool: &PgPool,
    node: &str,
    generation: Generation,
    freshness: &Freshness,
    beat: Duration,
) -> std::result::Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(listen_pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    let listening_since = freshness.now();
    let mut in_step = false;
    let quiet_limit = beat * 8 + Duration::from_secs(1);
    loop {
        let Ok(received) = tokio::time::timeout(quiet_limit, listener.try_recv()).await else {
            return Ok(());
        };
        let Some(notification) = received? else {
            return Ok(());
        };
        let Some(heartbeat) = notification.payload().strip_prefix(HEARTBEAT) else {
            // A write: whatever was cached may be out of date.
            generation.fetch_add(1, Ordering::Release);
            continue;
        };
        let mine = heartbeat
            .strip_prefix(node)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|sent| sent.parse::<u64>().ok());
        if let Some(sent) = mine
            && sent >= listening_since
        {
            if !in_step {
                // Entries kept before this point may predate a notification lost with the
                // previous connection.
                generation.fetch_add(1, Ordering::Release);
                in_step = true;
            }
            freshness.synced_at(sent);
        }
    }
}

/// The one pool of a PostgreSQL store.
fn pool_stats(store: &PostgresStore) -> Vec<crate::PoolStats> {
    vec![crate::sql::pool_stats("main", &store.pool)]
}

/// Only when `enable_read_cache` was called: entries bounded in staleness (`read_cache`).
fn read_cache(store: &PostgresStore) -> Option<&ReadCache> {
    store.read_cache.as_ref()
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

async fn run_migrations(pool: &PgPool) -> Result<()> {
    crate::migrate::postgres(pool).await
}

crate::sql::impl_store!(
    PostgresStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    sqlx::PgConnection,
    Postgres
);
