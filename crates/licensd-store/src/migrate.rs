//! A tiny migrator: the schema files are compiled in, each one is applied once inside its own
//! transaction and recorded in `licensd_migrations`, so a half-applied migration never sticks.

use crate::sql::db_err;
use crate::{Result, StoreError};
use licensd_domain::Millis;
use sqlx::{PgPool, SqlitePool};

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The migration that added `licenses.active_devices` (kept by triggers; import recounts it).
pub(crate) const ACTIVE_DEVICES_VERSION: i64 = 3;

impl Migration {
    /// Migration `version` from the file stem `file` (`NNNN_name`), recorded under `name`.
    pub(crate) const fn new(version: i64, file: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            name: file.split_at(5).1,
            sql,
        }
    }
}

/// One part of the store's migrations for both backends, as `SQLITE_MIGRATIONS` and
/// `POSTGRES_MIGRATIONS`: each `version "NNNN_name"` applies
/// `migrations/{sqlite,postgres}/NNNN_name.sql`, recorded as `name`.
macro_rules! migrations {
    ($($version:literal $file:literal),+ $(,)?) => {
        pub(crate) const SQLITE_MIGRATIONS: &[$crate::migrate::Migration] = &[$(
            $crate::migrate::Migration::new(
                $version,
                $file,
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite/", $file, ".sql")),
            ),
        )+];
        pub(crate) const POSTGRES_MIGRATIONS: &[$crate::migrate::Migration] = &[$(
            $crate::migrate::Migration::new(
                $version,
                $file,
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres/", $file, ".sql")),
            ),
        )+];
    };
}

pub(crate) use migrations;

// The core's own.
migrations!(
    1 "0001_init",
    2 "0002_blocked_devices_by_fingerprint",
    3 "0003_license_active_devices",
    500 "0500_one_trial_per_device",
);

/// Every SQLite migration in the order it is applied: the core, the outbox, webhooks, the
/// console, then the dialects' (`dialects::sqlite_migrations`).
fn sqlite_all() -> impl Iterator<Item = &'static Migration> {
    SQLITE_MIGRATIONS
        .iter()
        .chain(crate::outbox::SQLITE_MIGRATIONS)
        .chain(crate::webhooks::SQLITE_MIGRATIONS)
        .chain(crate::console::SQLITE_MIGRATIONS)
        .chain(crate::dialects::sqlite_migrations())
}

/// Every PostgreSQL migration in the order it is applied (as `sqlite_all`).
fn postgres_all() -> impl Iterator<Item = &'static Migration> {
    POSTGRES_MIGRATIONS
        .iter()
        .chain(crate::outbox::POSTGRES_MIGRATIONS)
        .chain(crate::webhooks::POSTGRES_MIGRATIONS)
        .chain(crate::console::POSTGRES_MIGRATIONS)
        .chain(crate::dialects::postgres_migrations())
}
/// The bookkeeping table is created inside the same locked transaction as the migration it guards,
/// so two nodes starting together never race on creating it.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS licensd_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
const IS_APPLIED: &str = "SELECT COUNT(*) FROM licensd_migrations WHERE version = $1";
const RECORD: &str = "INSERT INTO licensd_migrations (version, name, applied_at) VALUES ($1, $2, $3)";

/// Advisory lock key shared by every licensd node migrating the same PostgreSQL database
/// (the bytes of "licensd" followed by a zero).
const PG_LOCK_KEY: i64 = 0x6c69_6365_6e73_6400;

/// Applies one migration on an open transaction unless it is recorded already (applied at `now`,
/// the caller's clock); the caller commits.
macro_rules! apply_one {
    ($tx:expr, $migration:expr, $now:expr) => {{
        let tx = $tx;
        let migration: &Migration = $migration;
        sqlx::query(CREATE_TABLE).execute(&mut *tx).await.map_err(db_err)?;
        let applied: i64 = sqlx::query_scalar(IS_APPLIED)
            .bind(migration.version)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if applied == 0 {
            tracing::info!(version = migration.version, name = migration.name, "applying migration");
            sqlx::raw_sql(migration.sql).execute(&mut *tx).await.map_err(|e| {
                StoreError::Database(format!(
                    "migration {} ({}) failed: {e}",
                    migration.version, migration.name
                ))
            })?;
            sqlx::query(RECORD)
                .bind(migration.version)
                .bind(migration.name)
                .bind($now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
    }};
}

/// The versions of every migration this binary knows for `backend`, ascending.
pub(crate) fn known_versions(backend: crate::Backend) -> Vec<i64> {
    let mut versions: Vec<i64> = match backend {
        crate::Backend::Sqlite => sqlite_all().map(|m| m.version).collect(),
        crate::Backend::Postgres => postgres_all().map(|m| m.version).collect(),
    };
    versions.sort_unstable();
    versions
}

pub(crate) async fn sqlite(pool: &SqlitePool, now: Millis) -> Result<()> {
    sqlite_where(pool, |_| true, now).await
}

/// Applies the migrations `keep` selects, in their usual order (import rebuilds an export's schema).
pub(crate) async fn sqlite_where(pool: &SqlitePool, keep: impl Fn(i64) -> bool, now: Millis) -> Result<()> {
    for migration in sqlite_all().filter(|m| keep(m.version)) {
        // IMMEDIATE takes the writer lock up front, serializing concurrent migrators.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
        apply_one!(&mut *tx, migration, now);
        tx.commit().await.map_err(db_err)?;
    }
    Ok(())
}

pub(crate) async fn postgres(pool: &PgPool, now: Millis) -> Result<()> {
    postgres_where(pool, |_| true, now).await
}

/// Applies the migrations `keep` selects, in their usual order (import rebuilds an export's schema).
pub(crate) async fn postgres_where(pool: &PgPool, keep: impl Fn(i64) -> bool, now: Millis) -> Result<()> {
    for migration in postgres_all().filter(|m| keep(m.version)) {
        let mut tx = pool.begin().await.map_err(db_err)?;
        // Released at commit/rollback; makes nodes migrating at once take turns.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_LOCK_KEY)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        apply_one!(&mut *tx, migration, now);
        tx.commit().await.map_err(db_err)?;
    }
    Ok(())
}
