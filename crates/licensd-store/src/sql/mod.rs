//! The SQL of the store, written once for both backends.
//!
//! Both SQLite and PostgreSQL accept `$n` placeholders, `RETURNING` and `ON CONFLICT`, so every
//! statement is shared. `impl_store!` expands the whole `Store` implementation for one concrete
//! backend (row, connection and database types), which keeps each method body concrete instead of
//! generic over `sqlx::Database`. A backend module only supplies how to connect, how a write
//! transaction begins and how to migrate.
//!
//! One file per concept, each holding its capability trait and the macro that implements it:
//! `access` (signing keys, admin tokens, credentials), `catalog` (products, features, policies),
//! `people` (customers, license users), `licenses`, `devices`, `activation`, `validation`,
//! `consumption`, `leases` and `events`; `Maintenance` (below) is the database itself. `tx` holds
//! what every write transaction shares (event insert, license lock) and the shapes most methods
//! are (`write_logged`, `delete_logged`, `revoke_logged`, `fetch_found`, `fetch_rows`), and `rows`
//! the row decoders.
//! SQLite's writer-thread paths live in `crate::sqlite::direct` and are expanded for SQLite only
//! (`sqlite_only!`).

pub(crate) mod access;
pub(crate) mod activation;
pub(crate) mod catalog;
pub(crate) mod consumption;
pub(crate) mod devices;
pub(crate) mod events;
pub(crate) mod leases;
pub(crate) mod licenses;
pub(crate) mod people;
pub(crate) mod rows;
pub(crate) mod tx;
pub(crate) mod validation;

use crate::{Backend, CacheStats, PoolStats, Result, SecretCodec, StoreError};
use licensd_domain::Millis;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::error::ErrorKind;

/// Maps a database error without call-site context.
/// A sqlx pool's use right now, for `CoreStore::pool_stats`.
pub(crate) fn pool_stats<DB: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<DB>) -> crate::PoolStats {
    crate::PoolStats {
        pool: name,
        size: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => match d.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(format!("duplicate value ({})", d.message())),
            ErrorKind::ForeignKeyViolation => StoreError::Conflict(format!(
                "a referenced record is missing or the record is still in use ({})",
                d.message()
            )),
            _ if is_data_exception(d.as_ref()) => StoreError::InvalidInput(d.message().to_string()),
            _ => StoreError::Database(e.to_string()),
        },
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Database(e.to_string()),
    }
}

/// Whether PostgreSQL refused a statement because of a value it carried (SQLSTATE class 22,
/// "data exception", e.g. 22021 for a NUL byte in text or 22003 for a number out of range).
fn is_data_exception(error: &dyn sqlx::error::DatabaseError) -> bool {
    error
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some_and(|pg| pg.code().starts_with("22"))
}

/// Maps an error of the SQLite writer thread's rusqlite connection like `db_err` maps sqlx's.
pub(crate) fn lite_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    match &e {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                StoreError::Conflict(format!("duplicate value ({})", message.as_deref().unwrap_or("unique")))
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::Conflict(
                "a referenced record is missing or the record is still in use (foreign key)".into(),
            ),
            _ => StoreError::Database(e.to_string()),
        },
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
            StoreError::Corrupt(e.to_string())
        }
        _ => StoreError::Database(e.to_string()),
    }
}

/// Maps a write's error, naming what a refused constraint was about so administrators get
/// "product code already exists" rather than an index name.
pub(crate) fn conflict(unique: &'static str, reference: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error().map(|d| d.kind()) {
        Some(ErrorKind::UniqueViolation) => StoreError::Conflict(unique.to_owned()),
        Some(ErrorKind::ForeignKeyViolation) => StoreError::Conflict(reference.to_owned()),
        _ => db_err(e),
    }
}

/// What an event-log row can name as its subject: a raw id (policies, features, users, …), a
/// typed one, or none.
pub(crate) trait EventSubject {
    fn subject_id(self) -> Option<i64>;
}

impl EventSubject for i64 {
    fn subject_id(self) -> Option<i64> {
        Some(self)
    }
}

impl EventSubject for Option<i64> {
    fn subject_id(self) -> Option<i64> {
        self
    }
}

macro_rules! typed_subject {
    ($($id:ty),+) => {$(
        impl EventSubject for $id {
            fn subject_id(self) -> Option<i64> {
                Some(self.get())
            }
        }

        impl EventSubject for Option<$id> {
            fn subject_id(self) -> Option<i64> {
                self.map(<$id>::get)
            }
        }
    )+};
}
typed_subject!(
    licensd_domain::LicenseId,
    licensd_domain::ProductId,
    licensd_domain::DeviceId,
    licensd_domain::CustomerId
);

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("cannot encode JSON: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn parse_enum<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} {text:?}")))
}

pub(crate) fn open_text(codec: &dyn SecretCodec, sealed: &[u8], context: &str) -> Result<String> {
    let plain = codec.open(sealed, context).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "cannot open sealed {context} (tampered or sealed under another key)"
        ))
    })?;
    String::from_utf8(plain).map_err(|_| StoreError::Corrupt(format!("sealed {context} is not UTF-8")))
}

// Column lists are macros rather than consts so `concat!` can build `&'static str` statements,
// which sqlx accepts as safe SQL without an assertion.
macro_rules! license_cols {
    () => {
        "id, product_id, policy_id, customer_id, key_sealed, status, assignment, terms, starts_at, expires_at, \
         maintenance_expires_at, trial_days, transfer_count, deactivation_count, consumption_used, \
         consumption_period_start, order_ref, metadata, created_at, updated_at"
    };
}
macro_rules! product_cols {
    () => {
        "id, code, name, auth_method, status, trial_allowed, trial_days, metadata, created_at, updated_at"
    };
}
macro_rules! feature_cols {
    () => {
        "id, product_id, code, name, feature_type, max_consumptions, allow_overages, max_overages, allow_negative, \
         reset_period, floating_seats, floating_lease_seconds, metadata, created_at"
    };
}
macro_rules! license_feature_select {
    () => {
        "SELECT f.id, f.product_id, f.code, f.name, f.feature_type, f.max_consumptions, f.allow_overages, \
         f.max_overages, f.allow_negative, f.reset_period, f.floating_seats, f.floating_lease_seconds, f.metadata, \
         f.created_at, lf.overrides, lf.consumption_used, lf.period_start \
         FROM license_features lf JOIN features f ON f.id = lf.feature_id "
    };
}
macro_rules! policy_cols {
    () => {
        "id, product_id, code, name, terms, duration_days, maintenance_days, features, metadata, created_at, updated_at"
    };
}
macro_rules! customer_cols {
    () => {
        "id, email, name, company, reference, metadata, created_at"
    };
}
macro_rules! user_cols {
    () => {
        "id, customer_id, email, name, password_hash, created_at"
    };
}
macro_rules! device_cols {
    () => {
        "id, license_id, fingerprint, name, hostname, os, app_version, ip, mac, is_vm, user_id, variables, \
         activated_at, last_seen_at, deactivated_at"
    };
}
macro_rules! blocked_cols {
    () => {
        "id, product_id, fingerprint, reason, created_at"
    };
}
macro_rules! lease_cols {
    () => {
        "id, license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at"
    };
}
macro_rules! consumption_cols {
    () => {
        "id, license_id, feature_id, amount, total_after, idempotency_key, at"
    };
}
macro_rules! credential_cols {
    () => {
        "id, dialect, name, key_id, secret_sealed, product_id, read_only, ip_allowlist, created_at, revoked_at"
    };
}
macro_rules! signing_key_cols {
    () => {
        "id, kid, algorithm, public_der, private_sealed, active, created_at, retired_at"
    };
}
macro_rules! admin_token_cols {
    () => {
        "id, name, read_only, expires_at, ip_allowlist, created_at, revoked_at"
    };
}
macro_rules! event_cols {
    () => {
        "id, at, actor, source_ip, action, subject_type, subject_id, data"
    };
}

/// A licence's active devices: the count the `devices` triggers keep on its row (migration 3);
/// 0 for a licence that does not exist, like the `COUNT(*)` it replaces.
pub(crate) const ACTIVE_DEVICES: &str = "SELECT COALESCE((SELECT active_devices FROM licenses WHERE id = $1), 0)";

/// Everything `validate` needs in one row: the license (columns 0–19, `license_cols!` order), its
/// product (20–29, `product_cols!`), the device for `$2` (from 30, `device_cols!`; all NULL when
/// there is none), the active-device count (the licence's own column), whether `$2` is blocked for the product, and whether
/// the license has features. Callers append the `WHERE` on `l`.
macro_rules! license_product_select {
    () => {
        "SELECT l.id, l.product_id, l.policy_id, l.customer_id, l.key_sealed, l.status, l.assignment, l.terms, \
         l.starts_at, l.expires_at, l.maintenance_expires_at, l.trial_days, l.transfer_count, l.deactivation_count, \
         l.consumption_used, l.consumption_period_start, l.order_ref, l.metadata, l.created_at, l.updated_at, \
         p.id, p.code, p.name, p.auth_method, p.status, p.trial_allowed, p.trial_days, p.metadata, p.created_at, \
         p.updated_at"
    };
}
macro_rules! validation_select {
    () => {
        concat!(
            license_product_select!(),
            ", d.id, d.license_id, d.fingerprint, d.name, d.hostname, d.os, d.app_version, d.ip, d.mac, d.is_vm, \
             d.user_id, d.variables, d.activated_at, d.last_seen_at, d.deactivated_at, \
             EXISTS (SELECT 1 FROM blocked_devices b WHERE b.fingerprint = $2 \
              AND (b.product_id IS NULL OR b.product_id = l.product_id)) AS blocked, \
             EXISTS (SELECT 1 FROM license_features lf WHERE lf.license_id = l.id) AS has_features, \
             l.active_devices AS active_count \
             FROM licenses l JOIN products p ON p.id = l.product_id \
             LEFT JOIN devices d ON d.license_id = l.id AND d.fingerprint = $2 "
        )
    };
}
/// Activation's device writes, shared by the statement-at-a-time path and SQLite's batches.
/// Touch and reactivate: `$1` the device id, `$2`–`$10` what the client reported (name, hostname,
/// os, app version, ip, mac, is_vm, user id, variables), `$11` now. Insert: `$1` the license id,
/// `$2` the fingerprint, `$3`–`$11` the same report, `$12` now. Callers append `device_cols!()`.
macro_rules! device_touch_sql {
    () => {
        "UPDATE devices SET name = COALESCE($2, name), hostname = COALESCE($3, hostname), \
         os = COALESCE($4, os), app_version = COALESCE($5, app_version), ip = COALESCE($6, ip), \
         mac = COALESCE($7, mac), is_vm = $8, user_id = COALESCE($9, user_id), \
         variables = COALESCE($10, variables), last_seen_at = $11 WHERE id = $1 RETURNING "
    };
}
macro_rules! device_reactivate_sql {
    () => {
        "UPDATE devices SET name = COALESCE($2, name), hostname = COALESCE($3, hostname), \
         os = COALESCE($4, os), app_version = COALESCE($5, app_version), ip = COALESCE($6, ip), \
         mac = COALESCE($7, mac), is_vm = $8, user_id = $9, \
         variables = COALESCE($10, variables), activated_at = $11, last_seen_at = $11, \
         deactivated_at = NULL WHERE id = $1 RETURNING "
    };
}
macro_rules! device_insert_sql {
    () => {
        "INSERT INTO devices (license_id, fingerprint, name, hostname, os, app_version, ip, mac, \
         is_vm, user_id, variables, activated_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING "
    };
}
/// Where `validation_select!`'s product and device columns start.
pub(crate) const VALIDATION_PRODUCT_AT: usize = 20;
pub(crate) const VALIDATION_DEVICE_AT: usize = 30;

/// License, product (at `VALIDATION_PRODUCT_AT`) and the earlier consumption with
/// idempotency key `$2` (at `VALIDATION_DEVICE_AT`, all NULL when there is none).
macro_rules! consumption_replay_select {
    () => {
        concat!(
            license_product_select!(),
            ", c.id, c.license_id, c.feature_id, c.amount, c.total_after, c.idempotency_key, c.at \
             FROM licenses l JOIN products p ON p.id = l.product_id \
             LEFT JOIN consumption_events c ON c.license_id = l.id AND c.idempotency_key = $2 "
        )
    };
}

/// Binds a license's `LicenseSettings` as eleven consecutive parameters, in the order
/// `LICENSE_SETTINGS_COLUMNS` names them; every statement that creates or edits a license binds
/// them through here. Expands to the bind chain (encoding errors return through `?`).
macro_rules! bind_license_settings {
    ($query:expr, $settings:expr) => {{
        let settings: &$crate::LicenseSettings = $settings;
        $query
            .bind(settings.policy_id)
            .bind(settings.customer_id.map(i64::from))
            .bind(settings.status.as_str())
            .bind(settings.assignment.as_str())
            .bind($crate::sql::to_json(&settings.terms)?)
            .bind(settings.starts_at)
            .bind(settings.expires_at)
            .bind(settings.maintenance_expires_at)
            .bind(settings.trial_days)
            .bind(&settings.order_ref)
            .bind($crate::sql::to_json(&settings.metadata)?)
    }};
}

/// The `licenses` columns `bind_license_settings!` fills, in its order.
macro_rules! license_settings_columns {
    () => {
        "policy_id, customer_id, status, assignment, terms, starts_at, expires_at, maintenance_expires_at, \
         trial_days, order_ref, metadata"
    };
}

pub(crate) use {
    admin_token_cols, bind_license_settings, blocked_cols, consumption_cols, consumption_replay_select,
    credential_cols, customer_cols, device_cols, device_insert_sql, device_reactivate_sql, device_touch_sql,
    event_cols, feature_cols, lease_cols, license_cols, license_feature_select, license_product_select,
    license_settings_columns, policy_cols, product_cols, signing_key_cols, user_cols, validation_select,
};

/// Expands the store implementation (every capability trait of `CoreStore`) for one backend
/// into a module `shared`, by invoking each concept file's macro there. The invoking module
/// must define `async fn begin_write(&Store) -> Result<Transaction<'static, DB>>` (a transaction
/// that may write: `BEGIN IMMEDIATE` on SQLite's single writer connection),
/// `async fn run_migrations(&Pool, Millis) -> Result<()>`, `async fn serialize_bootstrap(&mut Connection)
/// -> Result<()>` (makes concurrent admin-token bootstraps take turns inside their transactions),
/// `fn pool_stats` and `fn read_cache`, and the store type must have fields `pool` and
/// `codec: Arc<dyn SecretCodec>`. `$backend` is `Sqlite` or `Postgres`.
macro_rules! impl_store {
    ($store:ty, $db:ty, $row:ty, $conn:ty, $backend:ident) => {
        pub(crate) mod shared {
            use super::*;
            use $crate::sql::{
                admin_token_cols, bind_license_settings, blocked_cols, conflict, consumption_cols, credential_cols, customer_cols, db_err,
                device_cols, device_insert_sql, device_reactivate_sql, device_touch_sql, event_cols, feature_cols,
                from_json, lease_cols, license_cols, license_settings_columns, license_feature_select, license_product_select, open_text,
                parse_enum, policy_cols, product_cols, signing_key_cols, to_json, user_cols, validation_select,
                VALIDATION_DEVICE_AT, VALIDATION_PRODUCT_AT,
            };
            use $crate::read_cache::{CacheKey, ReadCache, ValidationInputs};
            use $crate::{
                Activation, AdminToken, Backend, ConsumptionOutcome, EventFilter, LicenseEdit, LicenseFilter,
                LicenseRef, NewBlockedDevice, NewCredential, NewCustomer, NewLicense, NewLicenseUser,
                NewPolicy, NewProduct, NewSigningKey, Page, Result, SecretCodec, StoreError,
                StoredSigningKey, ValidationReport,
            };
            use licensd_domain::rules;
            use licensd_domain::*;
            use sqlx::Row;
            use std::collections::HashMap;

            type Db = $db;
            type DbRow = $row;
            type Conn = $conn;
            const BACKEND: Backend = Backend::$backend;

            const SIGNING_KEY: &str = "signing-key";
            const LICENSE_KEY: &str = "license-key";
            const CREDENTIAL: &str = "credential";

            fn after(page: &Page) -> i64 {
                page.after.unwrap_or(i64::MIN)
            }

            $crate::sql::rows::row_decoders!($backend);
            $crate::sql::tx::tx_helpers!($store);
            $crate::sql::access::impl_access!($store, $backend);
            $crate::sql::catalog::impl_catalog!($store, $backend);
            $crate::sql::people::impl_people!($store, $backend);
            $crate::sql::licenses::impl_licenses!($store, $backend);
            $crate::sql::devices::impl_devices!($store, $backend);
            $crate::sql::activation::impl_activation!($store, $backend);
            $crate::sql::validation::impl_validation!($store, $backend);
            $crate::sql::consumption::impl_consumption!($store, $backend);
            $crate::sql::leases::impl_leases!($store, $backend);
            $crate::sql::events::impl_events!($store, $backend);
            $crate::sql::sqlite_only!($backend, $crate::sqlite::direct::direct_module!(););

            #[async_trait::async_trait]
            impl $crate::Maintenance for $store {
                fn backend(&self) -> Backend {
                    BACKEND
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn migrate(&self, now: Millis) -> Result<()> {
                    run_migrations(&self.pool, now).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn ping(&self) -> Result<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err)?;
                    Ok(())
                }

                fn pool_stats(&self) -> Vec<$crate::PoolStats> {
                    pool_stats(self)
                }

                fn cache_stats(&self) -> Vec<$crate::CacheStats> {
                    read_cache(self).map(ReadCache::stats).unwrap_or_default()
                }

                fn read_generation(&self) -> Option<u64> {
                    read_cache(self).map(ReadCache::generation)
                }
            }
        }
    };
}

/// Expands its tokens for the SQLite store only: the writer thread and the per-thread readers
/// exist there alone, and the PostgreSQL store is compiled without them.
macro_rules! sqlite_only {
    (Sqlite, $($body:tt)*) => {
        $($body)*
    };
    (Postgres, $($body:tt)*) => {};
}

/// On SQLite with its writer thread, runs one write there and returns its answer: `$call`
/// sees the writer's connection as `$conn` and the store's codec as `$codec`; the `let`s before
/// it make owned copies of what the call borrows (the closure outlives the caller's borrows).
/// On PostgreSQL (or SQLite without a writer thread) it expands to nothing and the caller's
/// transaction follows.
macro_rules! on_sqlite_writer {
    (Sqlite, $store:expr, $(let $owned:ident = $init:expr;)* |$conn:ident, $codec:ident| $call:expr) => {
        if let Some(writer) = sqlite_writer($store) {
            let codec = $store.codec.clone();
            $(let $owned = $init;)*
            return writer
                .run(move |$conn| {
                    let $codec: &dyn $crate::SecretCodec = &*codec;
                    $call
                })
                .await;
        }
    };
    (Postgres, $($rest:tt)*) => {};
}

pub(crate) use {impl_store, on_sqlite_writer, sqlite_only};

/// The database itself: which one, migrations, reachability and pool/cache figures.
#[async_trait::async_trait]
pub trait Maintenance: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// Applies pending migrations, recording each as applied at `now` (idempotent; safe to run
    /// from several nodes at once).
    async fn migrate(&self, now: Millis) -> Result<()>;
    /// Answers when the database is reachable.
    async fn ping(&self) -> Result<()>;
    /// The use of each database connection pool right now (for `/metrics`).
    fn pool_stats(&self) -> Vec<PoolStats>;
    /// Hits and misses of each read-cache map since the store opened (empty without a cache).
    fn cache_stats(&self) -> Vec<CacheStats>;
    /// With a read cache: its write generation, which changes after every commit that could
    /// change what a read returns; an answer computed from reads made while it held a value is
    /// the answer while it still holds it (the server keeps signed validate answers on this,
    /// `licensd_server::native::answers`). `None` without a read cache.
    fn read_generation(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests;
