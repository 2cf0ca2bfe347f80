//! PostgreSQL, for several licensd nodes sharing one database. Transactions run at READ COMMITTED;
//! client commands serialize per license through the row lock their first statement takes, and
//! every later statement sees what the previous holder of that lock committed.

use crate::read_cache::{Freshness, Generation, ReadCache};
use crate::sql::db_err;
use crate::{Result, SecretCodec, StoreError};
use licensd_domain::Millis;
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

/// The channel every write to a table the read cache reads notifies (`NOTIFY_TRIGGERS`).
const CHANNEL: &str = "licensd_read_cache";

/// Makes every statement that writes a table the read cache reads notify `CHANNEL` inside its
/// transaction, so the notification is delivered at commit, in commit order, to every node
/// listening. The payload is empty (a cache drops everything on any write), so PostgreSQL folds a
/// transaction's notifications into one. Statement triggers: whichever code path writes, it
/// notifies.
///
/// Not a migration: PostgreSQL serialises the commits of notifying transactions (a
/// database-wide lock taken in `PreCommit_Notify` and held through the commit), which cut 16
/// concurrent single-row updates from ~7,500 to ~2,000–2,500 commits/s in a measurement here
/// (bench/RESULTS.md, session 4). A deployment that never turns the cache on does not pay that:
/// the first node started with the cache installs the triggers, and they stay.
const NOTIFY_TRIGGERS: &str = "\
CREATE OR REPLACE FUNCTION licensd_read_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $notify$
BEGIN
    PERFORM pg_notify('licensd_read_cache', '');
    RETURN NULL;
END
$notify$;
CREATE OR REPLACE TRIGGER products_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE OR REPLACE TRIGGER features_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON features
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE OR REPLACE TRIGGER customers_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE OR REPLACE TRIGGER licenses_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON licenses
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE OR REPLACE TRIGGER license_features_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON license_features
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE OR REPLACE TRIGGER devices_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE OR REPLACE TRIGGER blocked_devices_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON blocked_devices
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE OR REPLACE TRIGGER floating_leases_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON floating_leases
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE OR REPLACE TRIGGER credentials_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
";
/// How many triggers `NOTIFY_TRIGGERS` creates.
const NOTIFY_TRIGGER_COUNT: i64 = 9;

/// Installs `NOTIFY_TRIGGERS` unless every one is there. Creating a trigger waits for every
/// transaction writing its table to finish (SHARE ROW EXCLUSIVE), so once this has committed
/// every write either committed before it or notifies: nothing this node caches after it listens
/// can miss a write. Nodes starting together take turns (an advisory lock).
///
/// The nine table locks are taken one after another while other nodes keep writing, so a write
/// holding a later table and then wanting an earlier one closes a cycle. PostgreSQL would break
/// it after `deadlock_timeout` by aborting whichever waited first, often the write (a client's
/// activation failing because a node started). Each lock wait is therefore bounded by
/// `INSTALL_LOCK_WAIT`, far below any `deadlock_timeout`: the install gives up first, releases
/// everything, and `keep_in_step` tries again a heartbeat period later.
async fn install_notify_triggers(pool: &PgPool) -> std::result::Result<(), sqlx::Error> {
    const INSTALL_LOCK_KEY: i64 = 0x6c69_6365_6e73_6402;
    const INSTALL_LOCK_WAIT: &str = "SET LOCAL lock_timeout = '100ms'";
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(INSTALL_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    // After the advisory lock: nodes starting together may wait for each other's install.
    sqlx::query(INSTALL_LOCK_WAIT).execute(&mut *tx).await?;
    let present: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
         WHERE p.proname = 'licensd_read_cache_notify' AND NOT t.tgisinternal",
    )
    .fetch_one(&mut *tx)
    .await?;
    if present < NOTIFY_TRIGGER_COUNT {
        sqlx::raw_sql(NOTIFY_TRIGGERS).execute(&mut *tx).await?;
    }
    tx.commit().await
}
/// The application name of the listening connection.
pub const READ_CACHE_LISTENER: &str = "licensd-read-cache";
/// What starts a heartbeat's payload: `hb <node> <sent>`. Writes notify with an empty payload.
const HEARTBEAT: &str = "hb ";

/// Keeps a read cache in step with every node's writes, for the life of the store: listens, and
/// sends heartbeats to itself every quarter of the staleness bound (`read_cache::Freshness`).
async fn keep_in_step(pool: PgPool, listen_pool: PgPool, generation: Generation, freshness: Arc<Freshness>) {
    let beat = (freshness.max_staleness() / 4).max(Duration::from_millis(1));
    // Tells this node's heartbeats from other nodes' on the shared channel (whose send times
    // are on their own clocks): random per process (the standard library seeds `RandomState`
    // from the OS), plus what tells stores of one process apart.
    let node = {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_usize(Arc::as_ptr(&freshness) as usize);
        format!("{:016x}{:x}", hasher.finish(), Arc::as_ptr(&freshness) as usize)
    };
    let mut installed = false;
    let _heartbeats = AbortOnDrop(tokio::spawn(send_heartbeats(
        pool.clone(),
        node.clone(),
        freshness.clone(),
        beat,
    )));
    loop {
        // Not in step until a heartbeat sent after LISTEN comes back; whatever was cached may
        // have missed a notification.
        freshness.lost();
        generation.fetch_add(1, Ordering::Release);
        if !installed {
            match install_notify_triggers(&pool).await {
                Ok(()) => installed = true,
                Err(e) if is_lock_timeout(&e) => {
                    tracing::debug!("read cache: a write held a table the notification triggers need; trying again");
                    tokio::time::sleep(beat).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "read cache: cannot install the notification triggers; serving from the database");
                    tokio::time::sleep(beat).await;
                    continue;
                }
            }
        }
        match listen_for_writes(&listen_pool, &node, generation, &freshness, beat).await {
            Ok(()) => tracing::warn!("read cache: the listening connection was lost; serving from the database"),
            Err(e) => tracing::warn!(error = %e, "read cache: cannot listen; serving from the database"),
        }
        tokio::time::sleep(beat).await;
    }
}

/// PostgreSQL's `lock_not_available` (55P03): `install_notify_triggers` gave way to a write.
fn is_lock_timeout(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "55P03")
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
/// fresh as of its send time. Gives up on a connection that brings nothing for a while (eight
/// heartbeat periods and a second): a silent connection may be a dead one.
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
        // A send time from before this LISTEN, or (corrupt) from the future, proves nothing.
        if let Some(sent) = mine
            && sent >= listening_since
            && sent <= freshness.now()
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
