//! SQLite, the embedded default. One writer at a time: every transaction that may write starts
//! with `BEGIN IMMEDIATE`, so it holds the writer lock from its first statement and a rule's
//! decision can never be based on state another writer is about to change.
//!
//! Core writes go through a pool of exactly one connection: writers then queue inside the process
//! (first come, first served) instead of spinning in SQLite's busy handler, whose sleeps of up to
//! 100 ms gave activation p99s near a second under 32 concurrent writers. The hot client writes
//! (activation, consumption, lease checkout) take that same turn but run on `WriterThread`, a
//! connection of their own that executes a whole transaction per call; validation reads on the
//! calling thread's connection (`ThreadReaders`); other reads use the main pool. Readers run
//! beside the writer (WAL).
//!
//! Every connection (both pools, the writer thread's, the thread readers') runs with the
//! `PRAGMA synchronous` the store was opened with (`SqliteSynchronous`): `NORMAL` by default, which
//! syncs the log only at checkpoints (no fsync on the write path), or `FULL`, so an acknowledged
//! commit survives power loss too.

pub(crate) mod direct;

use crate::read_cache::{Generation, ReadCache};
use crate::sql::{db_err, lite_err};
use crate::{Result, SecretCodec, StoreError};
use licensd_domain::Millis;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// When a SQLite commit is on disk: the `PRAGMA synchronous` of every connection a store opens
/// (the database is always in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteSynchronous {
    /// `FULL`: the log is synced at every commit, so a write that was acknowledged survives a
    /// process crash, an OS crash and power loss. One fsync per commit (7–10× the commit's cost
    /// on the development machine's disk).
    Full,
    /// `NORMAL` (the default, as the stack's design chose: no fsync on the write path): the log
    /// is synced only at checkpoints. A commit survives a process crash (`kill -9`), but an OS
    /// crash or power loss may undo the last commits before it (never corrupting the database):
    /// a licence created and sent, an activation or consumption already answered.
    #[default]
    Normal,
}

impl SqliteSynchronous {
    /// The value of `PRAGMA synchronous` (`FULL`, `NORMAL`).
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }

    /// sqlx's name for the same setting.
    pub(crate) fn sqlx(self) -> sqlx::sqlite::SqliteSynchronous {
        match self {
            Self::Full => sqlx::sqlite::SqliteSynchronous::Full,
            Self::Normal => sqlx::sqlite::SqliteSynchronous::Normal,
        }
    }
}

impl std::fmt::Display for SqliteSynchronous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::Normal => "normal",
        })
    }
}

impl FromStr for SqliteSynchronous {
    type Err = String;

    /// `full` or `normal` (any case).
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        if text.eq_ignore_ascii_case("full") {
            Ok(Self::Full)
        } else if text.eq_ignore_ascii_case("normal") {
            Ok(Self::Normal)
        } else {
            Err(format!(
                "sqlite_synchronous must be `full` (every acknowledged write survives power loss) or \
                 `normal` (faster; power loss may undo the last writes), not {text:?}"
            ))
        }
    }
}

impl<'de> serde::Deserialize<'de> for SqliteSynchronous {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The single connection every core write transaction uses.
    pub(crate) writer: SqlitePool,
    /// Runs activations and consumptions on a connection of its own, taking turns with `writer`.
    writer_thread: Option<WriterThread>,
    /// Validation's reads, on a connection per calling thread.
    readers: Option<ThreadReaders>,
    pub(crate) codec: Arc<dyn SecretCodec>,
    /// Bumped after every commit on any connection of this store (see `read_cache`).
    generation: Generation,
    read_cache: Option<ReadCache>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL, every connection with
    /// `synchronous`.
    pub async fn connect(
        url: &str,
        codec: Arc<dyn SecretCodec>,
        max_connections: u32,
        synchronous: SqliteSynchronous,
    ) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous.sqlx())
            .foreign_keys(true)
            // Writers queue on the lock instead of failing with SQLITE_BUSY.
            .busy_timeout(Duration::from_secs(10));
        // One counter per store for its whole life; connections of the pools point at it from C,
        // so it must outlive every connection: leaked on purpose (8 bytes per opened store).
        let generation: Generation = Box::leak(Box::new(AtomicU64::new(0)));
        // An in-memory database exists once per connection: it gets a single shared connection.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let readers = if in_memory { 1 } else { max_connections.max(1) };
        let pool = pool_options(readers, generation)
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        let writer = if in_memory {
            pool.clone()
        } else {
            pool_options(1, generation)
                .connect_with(options.clone())
                .await
                .map_err(db_err)?
        };
        let (writer_thread, readers) = if in_memory {
            (None, None)
        } else {
            let path = options.get_filename();
            (
                Some(WriterThread::open(path, synchronous, writer.clone(), generation)?),
                Some(ThreadReaders {
                    path: path.to_owned(),
                    synchronous,
                    id: generation as *const AtomicU64 as usize,
                }),
            )
        };
        Ok(Self {
            pool,
            writer,
            writer_thread,
            readers,
            codec,
            generation,
            read_cache: None,
        })
    }

    /// Serves repeated validations and the lookups around them from memory (`read_cache`),
    /// keeping up to `entries` of each kind.
    ///
    /// Only for a process that is the database's sole user (`licensd serve` holds a lock that
    /// keeps a second server off the file): commits by another process would not invalidate it.
    /// Has no effect on an in-memory database or when `entries` is 0.
    pub async fn enable_validation_cache(&mut self, entries: usize) -> Result<()> {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        // The generation is bumped by the WAL hook, which only WAL mode calls.
        self.read_cache =
            (entries > 0 && mode.eq_ignore_ascii_case("wal")).then(|| ReadCache::new(self.generation, entries));
        Ok(())
    }

    /// `PRAGMA synchronous` as each connection of this store reads it (0 OFF, 1 NORMAL, 2 FULL),
    /// with the connection's role: every connection of the main pool (all of them opened and
    /// held at once), then, on a file database, the writer pool's, the writer thread's and the
    /// calling thread's reader. It holds the whole main pool for a moment: for checks, not for a
    /// busy server's request path.
    pub async fn synchronous_levels(&self) -> Result<Vec<(&'static str, i64)>> {
        const PRAGMA: &str = "PRAGMA synchronous";
        let read = |conn: &rusqlite::Connection| {
            conn.pragma_query_value(None, "synchronous", |row| row.get::<_, i64>(0))
                .map_err(lite_err)
        };
        let mut levels = Vec::new();
        let mut held = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
            held.push(self.pool.acquire().await.map_err(db_err)?);
        }
        for conn in &mut held {
            let level = sqlx::query_scalar(PRAGMA)
                .fetch_one(&mut **conn)
                .await
                .map_err(db_err)?;
            levels.push(("main", level));
        }
        drop(held);
        if let Some(writer_thread) = &self.writer_thread {
            let level = sqlx::query_scalar(PRAGMA)
                .fetch_one(&self.writer)
                .await
                .map_err(db_err)?;
            levels.push(("writer", level));
            levels.push(("writer thread", writer_thread.run(move |conn| read(conn)).await?));
        }
        if let Some(readers) = &self.readers {
            levels.push(("thread reader", readers.read(read)?));
        }
        Ok(levels)
    }
}

impl SqliteStore {
    /// Runs `job`, a whole write transaction, on the writer thread without moving the read
    /// generation: only for writes to tables that neither read cache (`read_cache`, the server's
    /// kept answers) reads and that fire no trigger writing such a table, like the console's
    /// validation counts (`console_validation_days`). Flushed every 10 s, they invalidated every
    /// cached read and kept answer each time (bench/RESULTS.md, optimisation 18); PostgreSQL's
    /// read cache is likewise only notified by writes to the tables it reads. `None` on an
    /// in-memory database (no writer thread, and no read cache).
    pub(crate) async fn write_unseen<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Option<Result<T>> {
        let writer = self.writer_thread.as_ref()?;
        Some(
            writer
                .run(move |conn| {
                    let _unseen = wal_hook::Unseen::start();
                    job(conn)
                })
                .await,
        )
    }
}

fn pool_options(max_connections: u32, generation: Generation) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        // sqlx pings every connection it hands out by default. An embedded database cannot hang
        // up, and on SQLite the ping is one more hand-off to the connection's thread per
        // statement batch: a quarter of a validation's cost, an eighth of an activation's.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let mut handle = conn.lock_handle().await?;
                wal_hook::register(handle.as_raw_handle().as_ptr(), generation);
                Ok(())
            })
        })
}

/// SQLite's WAL hook, called after each commit that wrote to the log. sqlx exposes commit and
/// update hooks, but those run *before* the commit is visible; a generation bumped there could be
/// read by a validation that then still sees the old rows and caches them under the new number.
mod wal_hook {
    use super::{AtomicU64, Generation, Ordering};
    use libsqlite3_sys::{SQLITE_OK, sqlite3, sqlite3_wal_checkpoint, sqlite3_wal_hook};
    use std::ffi::{c_char, c_int, c_void};

    /// SQLite's default: checkpoint once the log holds this many pages. Registering a WAL hook
    /// replaces the built-in auto-checkpoint hook, so ours checkpoints the same way it did
    /// (nothing may call `PRAGMA wal_autocheckpoint` later: that would unregister this hook).
    const AUTO_CHECKPOINT_PAGES: c_int = 1000;

    pub(super) fn register(db: *mut sqlite3, generation: Generation) {
        let counter: *const AtomicU64 = generation;
        // SAFETY: `db` is an open connection locked for our exclusive use by sqlx's
        // `lock_handle`; the counter is `'static`, so the pointer stays valid for as long as the
        // connection can call the hook.
        unsafe {
            sqlite3_wal_hook(db, Some(on_commit), counter.cast_mut().cast::<c_void>());
        }
    }

    thread_local! {
        /// Set by `Unseen` while the writer thread runs a job that writes only tables no read
        /// cache reads: its commit leaves the generation as it is. The hook runs on the committing
        /// thread, so no other connection's commit can see this thread's flag.
        static UNSEEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// While alive, commits on this thread do not bump the generation (see `UNSEEN`).
    pub(super) struct Unseen(());

    impl Unseen {
        pub(super) fn start() -> Self {
            UNSEEN.with(|unseen| unseen.set(true));
            Self(())
        }
    }

    impl Drop for Unseen {
        fn drop(&mut self) {
            UNSEEN.with(|unseen| unseen.set(false));
        }
    }

    unsafe extern "C" fn on_commit(counter: *mut c_void, db: *mut sqlite3, name: *const c_char, pages: c_int) -> c_int {
        // SAFETY: `counter` is the `'static` AtomicU64 given to `register`.
        let generation = unsafe { &*counter.cast::<AtomicU64>() };
        if !UNSEEN.with(std::cell::Cell::get) {
            generation.fetch_add(1, Ordering::Release);
        }
        if pages >= AUTO_CHECKPOINT_PAGES {
            // SAFETY: SQLite calls the hook on the committing connection `db` with the name of
            // the database written; checkpointing from the hook is what the default hook does.
            // A busy checkpoint is retried at the next commit, as with the default hook.
            unsafe {
                sqlite3_wal_checkpoint(db, name);
            }
        }
        SQLITE_OK
    }
}

/// A thread with its own connection to the database file that runs whole write transactions
/// handed to it as closures: the domain rule runs between its statements on the same thread, so
/// a write costs one hand-off instead of two per statement (sqlx's model) while it holds
/// SQLite's writer lock.
///
/// It takes turns with the sqlx writer connection: the thread holds that pool's only connection
/// while it runs jobs, so the two never wait on each other inside SQLite's busy handler. The
/// thread takes the turn itself and keeps it while jobs are queued (at most `JOBS_PER_TURN` in a
/// row, then a waiting sqlx writer goes first): handing the turn from caller to caller took three
/// runtime wake-ups per write (the answer, the connection's return to the pool, the next caller's
/// acquire), each waiting for a worker busy signing answers, while the writer lock sat unused
/// (bench/RESULTS.md, optimisation 18).
pub(crate) struct WriterThread {
    jobs: std::sync::mpsc::Sender<Job>,
}

/// How many queued jobs the writer thread runs in one turn before letting a sqlx writer in.
const JOBS_PER_TURN: usize = 64;

type Job = Box<dyn FnOnce(&mut rusqlite::Connection) + Send>;

impl WriterThread {
    fn open(
        path: &std::path::Path,
        synchronous: SqliteSynchronous,
        turn: SqlitePool,
        generation: Generation,
    ) -> Result<Self> {
        use rusqlite::OpenFlags;
        let fail = |e: rusqlite::Error| StoreError::Database(format!("cannot open the SQLite writer connection: {e}"));
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        // The sqlx connections' settings (journal mode WAL is a property of the file).
        conn.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
        conn.pragma_update(None, "synchronous", synchronous.pragma())
            .map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(fail)?;
        conn.set_prepared_statement_cache_capacity(32);
        // SAFETY: the handle belongs to `conn`, which the writer thread owns until it ends; the
        // hook's counter is `'static`.
        wal_hook::register(unsafe { conn.handle() }, generation);
        // The turn is a sqlx pool connection: acquiring it and giving it back run on the runtime.
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::Database(format!("the SQLite writer thread needs a Tokio runtime: {e}")))?;
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("licensd-sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(first) = queue.recv() {
                    // Without the turn (the pool closed or timed out) a job still runs correctly:
                    // `BEGIN IMMEDIATE` then waits in SQLite's busy handler instead.
                    let held = runtime.block_on(turn.acquire()).ok();
                    let mut next = Some(first);
                    let mut ran = 0;
                    while let Some(job) = next.take() {
                        run_job(&mut conn, job);
                        ran += 1;
                        if ran < JOBS_PER_TURN {
                            next = queue.try_recv().ok();
                        }
                    }
                    // Dropping a pool connection spawns its return to the pool on the runtime.
                    let _runtime = runtime.enter();
                    drop(held);
                }
            })
            .map_err(|e| StoreError::Database(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `job` on the writer thread, in turn with every other writer of this store.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = reply.send(job(conn));
            }))
            .map_err(|_| StoreError::Database("the SQLite writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("the SQLite writer thread dropped a job".into()))?
    }
}

/// Runs one job on the writer thread's connection.
fn run_job(conn: &mut rusqlite::Connection, job: Job) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn)));
    if outcome.is_err() && !conn.is_autocommit() {
        // A job that panicked mid-transaction: its caller gets an error (its reply channel is
        // gone) and nothing it wrote stays.
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// One read connection per thread that reads (in the server, the runtime's worker threads), so
/// an uncached validation is one SELECT on the thread that asked: no hand-off, no pool. In WAL
/// mode a reader never waits for the writer, and a point lookup takes tens of microseconds, short
/// enough to run on a runtime worker.
pub(crate) struct ThreadReaders {
    path: std::path::PathBuf,
    /// They never commit, but the last connection to close checkpoints the log into the file.
    synchronous: SqliteSynchronous,
    /// Tells this store's connections from another store's on the same thread (tests open many).
    id: usize,
}

thread_local! {
    static READERS: std::cell::RefCell<std::collections::HashMap<usize, rusqlite::Connection>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

impl ThreadReaders {
    /// Runs `read` on this thread's connection to the store, opening it on first use.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
        READERS.with(|readers| {
            let mut readers = readers.borrow_mut();
            let conn = match readers.entry(self.id) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => entry.insert(self.open()?),
            };
            read(conn)
        })
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let fail = |e: rusqlite::Error| StoreError::Database(format!("cannot open a SQLite read connection: {e}"));
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
        conn.pragma_update(None, "query_only", "ON").map_err(fail)?;
        conn.pragma_update(None, "synchronous", self.synchronous.pragma())
            .map_err(fail)?;
        conn.set_prepared_statement_cache_capacity(8);
        Ok(conn)
    }
}

/// The reading pool and, on a file database, the single-connection writer pool.
fn pool_stats(store: &SqliteStore) -> Vec<crate::PoolStats> {
    let mut pools = vec![crate::sql::pool_stats("main", &store.pool)];
    if store.writer_thread.is_some() {
        pools.push(crate::sql::pool_stats("writer", &store.writer));
    }
    pools
}

fn read_cache(store: &SqliteStore) -> Option<&ReadCache> {
    store.read_cache.as_ref()
}

/// The thread that runs SQLite's hot client writes as whole transactions (`direct`);
/// `None` for an in-memory database, which only the pool's own connection can see.
fn sqlite_writer(store: &SqliteStore) -> Option<&WriterThread> {
    store.writer_thread.as_ref()
}

/// Read connections on the calling threads for validation (`direct`); `None` for an
/// in-memory database.
fn sqlite_readers(store: &SqliteStore) -> Option<&ThreadReaders> {
    store.readers.as_ref()
}

/// See `shared::write_pool` (`sql/tx.rs`).
pub(crate) fn write_pool(store: &SqliteStore) -> &SqlitePool {
    &store.writer
}

/// See `shared::begin_write` (`sql/tx.rs`).
pub(crate) async fn begin_write(store: &SqliteStore) -> Result<Transaction<'static, Sqlite>> {
    store.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
}

/// `BEGIN IMMEDIATE` already serializes every writer.
async fn serialize_bootstrap(_conn: &mut sqlx::SqliteConnection) -> Result<()> {
    Ok(())
}

async fn run_migrations(pool: &SqlitePool, now: Millis) -> Result<()> {
    crate::migrate::sqlite(pool, now).await
}

crate::sql::impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    sqlx::SqliteConnection,
    Sqlite
);
