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

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "blocked_devices_by_fingerprint",
        sql: include_str!("../migrations/sqlite/0002_blocked_devices_by_fingerprint.sql"),
    },
    Migration {
        version: 3,
        name: "license_active_devices",
        sql: include_str!("../migrations/sqlite/0003_license_active_devices.sql"),
    },
    Migration {
        version: 500,
        name: "one_trial_per_device",
        sql: include_str!("../migrations/sqlite/0500_one_trial_per_device.sql"),
    },
    crate::outbox::SQLITE_MIGRATION,
    crate::webhooks::SQLITE_MIGRATION,
    crate::webhooks::SQLITE_FAN_OUT,
    crate::webhooks::SQLITE_SLASCONE_FAN_OUT,
    crate::console::SQLITE_MIGRATION,
    crate::console::SQLITE_VALIDATION_DAYS,
    crate::console::SQLITE_SEARCH_INDEXES,
    crate::console::SQLITE_TALLIES,
    crate::console::SQLITE_BULK_JOBS,
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "blocked_devices_by_fingerprint",
        sql: include_str!("../migrations/postgres/0002_blocked_devices_by_fingerprint.sql"),
    },
    Migration {
        version: 3,
        name: "license_active_devices",
        sql: include_str!("../migrations/postgres/0003_license_active_devices.sql"),
    },
    Migration {
        version: 500,
        name: "one_trial_per_device",
        sql: include_str!("../migrations/postgres/0500_one_trial_per_device.sql"),
    },
    crate::outbox::POSTGRES_MIGRATION,
    crate::webhooks::POSTGRES_MIGRATION,
    crate::webhooks::POSTGRES_FAN_OUT,
    crate::webhooks::POSTGRES_SLASCONE_FAN_OUT,
    crate::console::POSTGRES_MIGRATION,
    crate::console::POSTGRES_VALIDATION_DAYS,
    crate::console::POSTGRES_SEARCH_INDEXES,
    crate::console::POSTGRES_TALLIES,
    crate::console::POSTGRES_BULK_JOBS,
];

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
        crate::Backend::Sqlite => SQLITE
            .iter()
            .chain(crate::dialects::sqlite_migrations())
            .map(|m| m.version)
            .collect(),
        crate::Backend::Postgres => POSTGRES
            .iter()
            .chain(crate::dialects::postgres_migrations())
            .map(|m| m.version)
            .collect(),
    };
    versions.sort_unstable();
    versions
}

pub(crate) async fn sqlite(pool: &SqlitePool, now: Millis) -> Result<()> {
    sqlite_where(pool, |_| true, now).await
}

/// Applies the migrations `keep` selects, in their usual order (import rebuilds an export's schema).
pub(crate) async fn sqlite_where(pool: &SqlitePool, keep: impl Fn(i64) -> bool, now: Millis) -> Result<()> {
    for migration in SQLITE
        .iter()
        .chain(crate::dialects::sqlite_migrations())
        .filter(|m| keep(m.version))
    {
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
    for migration in POSTGRES
        .iter()
        .chain(crate::dialects::postgres_migrations())
        .filter(|m| keep(m.version))
    {
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
