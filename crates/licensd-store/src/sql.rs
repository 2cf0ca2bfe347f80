//! The SQL of the store, written once for both backends.
//!
//! Both SQLite and PostgreSQL accept `$n` placeholders, `RETURNING` and `ON CONFLICT`, so every
//! statement is shared. `impl_store!` expands the whole `Store` implementation for one concrete
//! backend (row, connection and database types), which keeps each method body concrete instead of
//! generic over `sqlx::Database`. A backend module only supplies how to connect, how a write
//! transaction begins and how to migrate.

use crate::{Result, SecretCodec, StoreError};
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
        "id, name, created_at, revoked_at"
    };
}
macro_rules! event_cols {
    () => {
        "id, at, actor, source_ip, action, subject_type, subject_id, data"
    };
}

/// Everything `validate` needs in one row: the license (columns 0–19, `license_cols!` order), its
/// product (20–29, `product_cols!`), the device for `$2` (from 30, `device_cols!`; all NULL when
/// there is none), the active-device count, whether `$2` is blocked for the product, and whether
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
             (SELECT COUNT(*) FROM devices a WHERE a.license_id = l.id AND a.deactivated_at IS NULL) AS active_count, \
             (SELECT COUNT(*) FROM blocked_devices b WHERE b.fingerprint = $2 \
              AND (b.product_id IS NULL OR b.product_id = l.product_id)) AS blocked_count, \
             EXISTS (SELECT 1 FROM license_features lf WHERE lf.license_id = l.id) AS has_features \
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

pub(crate) use {
    admin_token_cols, blocked_cols, consumption_cols, consumption_replay_select, credential_cols, customer_cols,
    device_cols, device_insert_sql, device_reactivate_sql, device_touch_sql, event_cols, feature_cols, lease_cols,
    license_cols, license_feature_select, license_product_select, policy_cols, product_cols, signing_key_cols,
    user_cols, validation_select,
};

/// Expands the `Store` implementation for one backend. The invoking module must define
/// `async fn begin_write(&Store) -> Result<Transaction<'static, DB>>` (a transaction that may
/// write: `BEGIN IMMEDIATE` on SQLite's single writer connection), `async fn run_migrations(&Pool) -> Result<()>` and
/// `async fn serialize_bootstrap(&mut Connection) -> Result<()>` (makes concurrent admin-token
/// bootstraps take turns inside their transactions), and the
/// store type must have fields `pool` and `codec: Arc<dyn SecretCodec>`.
macro_rules! impl_store {
    ($store:ty, $db:ty, $row:ty, $conn:ty, $backend:expr) => {
        pub(crate) mod shared {
            use super::*;
            use $crate::sql::{
                admin_token_cols, blocked_cols, conflict, consumption_replay_select, lite_err, consumption_cols, credential_cols, customer_cols, db_err,
                device_cols, device_insert_sql, device_reactivate_sql, device_touch_sql, event_cols, feature_cols,
                from_json, lease_cols, license_cols, license_feature_select, license_product_select, open_text,
                parse_enum, policy_cols, product_cols, signing_key_cols, to_json, user_cols, validation_select,
                VALIDATION_DEVICE_AT, VALIDATION_PRODUCT_AT,
            };
            use $crate::read_cache::{CacheKey, ReadCache, ValidationInputs};
            use $crate::{
                Activation, AdminToken, Backend, ConsumptionOutcome, EventFilter, LicenseEdit, LicenseFilter,
                LicenseRef, NewBlockedDevice, NewCredential, NewCustomer, NewFeature, NewLicense, NewLicenseUser,
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
            const BACKEND: Backend = $backend;

            const SIGNING_KEY: &str = "signing-key";
            const LICENSE_KEY: &str = "license-key";
            const CREDENTIAL: &str = "credential";

            /// Instants for writes whose trait method carries no `now` (deletes, some updates).
            fn wall_now() -> Millis {
                SystemClock.now()
            }

            fn after(page: &Page) -> i64 {
                page.after.unwrap_or(i64::MIN)
            }

            fn get<T>(row: &DbRow, col: &str) -> Result<T>
            where
                T: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db>,
            {
                row.try_get::<T, _>(col).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
            }

            fn json<T: serde::de::DeserializeOwned>(row: &DbRow, col: &str) -> Result<T> {
                from_json(&get::<String>(row, col)?, col)
            }

            /// Where a decoder finds its columns: by name (a plain `SELECT <cols>`), or by position
            /// from a base index (a joined row whose tables share column names, in the order of
            /// the `*_cols!` lists).
            #[derive(Clone, Copy)]
            enum At {
                Name,
                From(usize),
            }

            /// A column type both row kinds decode: sqlx's, and rusqlite's on the SQLite writer
            /// thread (`sqlite_writer`).
            trait ColumnValue: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db> + rusqlite::types::FromSql {}
            impl<T> ColumnValue for T where T: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db> + rusqlite::types::FromSql {}

            /// What the decoders read from: a sqlx row, or a row of the SQLite writer thread.
            trait Columns {
                fn column<T: ColumnValue>(&self, at: At, index: usize, name: &str) -> Result<T>;
            }

            impl Columns for DbRow {
                fn column<T: ColumnValue>(&self, at: At, index: usize, name: &str) -> Result<T> {
                    match at {
                        At::Name => get(self, name),
                        At::From(base) => self
                            .try_get::<T, _>(base + index)
                            .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}"))),
                    }
                }
            }

            impl Columns for rusqlite::Row<'_> {
                fn column<T: ColumnValue>(&self, at: At, index: usize, name: &str) -> Result<T> {
                    match at {
                        At::Name => self.get::<_, T>(name),
                        At::From(base) => self.get::<_, T>(base + index),
                    }
                    .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
                }
            }

            fn col<T: ColumnValue>(row: &impl Columns, at: At, index: usize, name: &str) -> Result<T> {
                row.column(at, index, name)
            }

            fn json_at<T: serde::de::DeserializeOwned>(row: &impl Columns, at: At, index: usize, name: &str) -> Result<T> {
                from_json(&col::<String>(row, at, index, name)?, name)
            }

            fn product_from_row(r: &DbRow) -> Result<Product> {
                product_at(r, At::Name)
            }

            fn product_at(r: &impl Columns, at: At) -> Result<Product> {
                Ok(Product {
                    id: col(r, at, 0, "id")?,
                    code: col(r, at, 1, "code")?,
                    name: col(r, at, 2, "name")?,
                    auth_method: parse_enum(&col::<String>(r, at, 3, "auth_method")?, AuthMethod::parse, "auth method")?,
                    status: parse_enum(&col::<String>(r, at, 4, "status")?, ProductStatus::parse, "product status")?,
                    trial_allowed: col(r, at, 5, "trial_allowed")?,
                    trial_days: col(r, at, 6, "trial_days")?,
                    metadata: json_at(r, at, 7, "metadata")?,
                    created_at: col(r, at, 8, "created_at")?,
                    updated_at: col(r, at, 9, "updated_at")?,
                })
            }

            fn feature_from_row(r: &DbRow) -> Result<FeatureDefinition> {
                Ok(FeatureDefinition {
                    id: get(r, "id")?,
                    product_id: get(r, "product_id")?,
                    code: get(r, "code")?,
                    name: get(r, "name")?,
                    feature_type: parse_enum(&get::<String>(r, "feature_type")?, FeatureType::parse, "feature type")?,
                    max_consumptions: get(r, "max_consumptions")?,
                    allow_overages: get(r, "allow_overages")?,
                    max_overages: get(r, "max_overages")?,
                    allow_negative: get(r, "allow_negative")?,
                    reset_period: parse_enum(&get::<String>(r, "reset_period")?, ResetPeriod::parse, "reset period")?,
                    floating_seats: get(r, "floating_seats")?,
                    floating_lease_seconds: get(r, "floating_lease_seconds")?,
                    metadata: json(r, "metadata")?,
                    created_at: get(r, "created_at")?,
                })
            }

            fn license_feature_from_row(r: &DbRow) -> Result<LicenseFeature> {
                Ok(LicenseFeature {
                    definition: feature_from_row(r)?,
                    overrides: json(r, "overrides")?,
                    consumption_used: get(r, "consumption_used")?,
                    period_start: get(r, "period_start")?,
                })
            }

            fn policy_from_row(r: &DbRow) -> Result<Policy> {
                Ok(Policy {
                    id: get(r, "id")?,
                    product_id: get(r, "product_id")?,
                    code: get(r, "code")?,
                    name: get(r, "name")?,
                    terms: json(r, "terms")?,
                    duration_days: get(r, "duration_days")?,
                    maintenance_days: get(r, "maintenance_days")?,
                    features: json(r, "features")?,
                    metadata: json(r, "metadata")?,
                    created_at: get(r, "created_at")?,
                    updated_at: get(r, "updated_at")?,
                })
            }

            fn customer_from_row(r: &DbRow) -> Result<Customer> {
                Ok(Customer {
                    id: get(r, "id")?,
                    email: get(r, "email")?,
                    name: get(r, "name")?,
                    company: get(r, "company")?,
                    reference: get(r, "reference")?,
                    metadata: json(r, "metadata")?,
                    created_at: get(r, "created_at")?,
                })
            }

            fn user_from_row(r: &DbRow) -> Result<LicenseUser> {
                Ok(LicenseUser {
                    id: get(r, "id")?,
                    customer_id: get(r, "customer_id")?,
                    email: get(r, "email")?,
                    name: get(r, "name")?,
                    password_hash: get(r, "password_hash")?,
                    created_at: get(r, "created_at")?,
                })
            }

            fn license_from_row(r: &DbRow, codec: &dyn SecretCodec) -> Result<License> {
                license_at(r, codec, At::Name)
            }

            fn license_at(r: &impl Columns, codec: &dyn SecretCodec, at: At) -> Result<License> {
                let sealed: Option<Vec<u8>> = col(r, at, 4, "key_sealed")?;
                Ok(License {
                    id: col(r, at, 0, "id")?,
                    product_id: col(r, at, 1, "product_id")?,
                    policy_id: col(r, at, 2, "policy_id")?,
                    customer_id: col(r, at, 3, "customer_id")?,
                    key: sealed.map(|sealed| open_text(codec, &sealed, LICENSE_KEY)).transpose()?,
                    status: parse_enum(&col::<String>(r, at, 5, "status")?, LicenseStatus::parse, "license status")?,
                    assignment: parse_enum(&col::<String>(r, at, 6, "assignment")?, Assignment::parse, "assignment")?,
                    terms: json_at(r, at, 7, "terms")?,
                    starts_at: col(r, at, 8, "starts_at")?,
                    expires_at: col(r, at, 9, "expires_at")?,
                    maintenance_expires_at: col(r, at, 10, "maintenance_expires_at")?,
                    trial_days: col(r, at, 11, "trial_days")?,
                    transfer_count: col(r, at, 12, "transfer_count")?,
                    deactivation_count: col(r, at, 13, "deactivation_count")?,
                    consumption_used: col(r, at, 14, "consumption_used")?,
                    consumption_period_start: col(r, at, 15, "consumption_period_start")?,
                    order_ref: col(r, at, 16, "order_ref")?,
                    metadata: json_at(r, at, 17, "metadata")?,
                    created_at: col(r, at, 18, "created_at")?,
                    updated_at: col(r, at, 19, "updated_at")?,
                })
            }

            fn device_from_row(r: &DbRow) -> Result<Device> {
                device_at(r, At::Name)
            }

            fn device_at(r: &impl Columns, at: At) -> Result<Device> {
                Ok(Device {
                    id: col(r, at, 0, "id")?,
                    license_id: col(r, at, 1, "license_id")?,
                    fingerprint: col(r, at, 2, "fingerprint")?,
                    name: col(r, at, 3, "name")?,
                    hostname: col(r, at, 4, "hostname")?,
                    os: col(r, at, 5, "os")?,
                    app_version: col(r, at, 6, "app_version")?,
                    ip: col(r, at, 7, "ip")?,
                    mac: col(r, at, 8, "mac")?,
                    is_vm: col(r, at, 9, "is_vm")?,
                    user_id: col(r, at, 10, "user_id")?,
                    variables: json_at(r, at, 11, "variables")?,
                    activated_at: col(r, at, 12, "activated_at")?,
                    last_seen_at: col(r, at, 13, "last_seen_at")?,
                    deactivated_at: col(r, at, 14, "deactivated_at")?,
                })
            }

            fn blocked_from_row(r: &DbRow) -> Result<BlockedDevice> {
                Ok(BlockedDevice {
                    id: get(r, "id")?,
                    product_id: get(r, "product_id")?,
                    fingerprint: get(r, "fingerprint")?,
                    reason: get(r, "reason")?,
                    created_at: get(r, "created_at")?,
                })
            }

            pub(crate) fn lease_from_row(r: &DbRow) -> Result<FloatingLease> {
                lease_at(r)
            }

            fn lease_at(r: &impl Columns) -> Result<FloatingLease> {
                Ok(FloatingLease {
                    id: col(r, At::Name, 0, "id")?,
                    license_id: col(r, At::Name, 0, "license_id")?,
                    feature_id: col(r, At::Name, 0, "feature_id")?,
                    fingerprint: col(r, At::Name, 0, "fingerprint")?,
                    expires_at: col(r, At::Name, 0, "expires_at")?,
                    borrowed_until: col(r, At::Name, 0, "borrowed_until")?,
                    created_at: col(r, At::Name, 0, "created_at")?,
                })
            }

            fn consumption_from_row(r: &DbRow) -> Result<ConsumptionEvent> {
                consumption_at(r, At::Name)
            }

            fn consumption_at(r: &impl Columns, at: At) -> Result<ConsumptionEvent> {
                Ok(ConsumptionEvent {
                    id: col(r, at, 0, "id")?,
                    license_id: col(r, at, 1, "license_id")?,
                    feature_id: col(r, at, 2, "feature_id")?,
                    amount: col(r, at, 3, "amount")?,
                    total_after: col(r, at, 4, "total_after")?,
                    idempotency_key: col(r, at, 5, "idempotency_key")?,
                    at: col(r, at, 6, "at")?,
                })
            }

            fn credential_from_row(r: &DbRow) -> Result<Credential> {
                Ok(Credential {
                    id: get(r, "id")?,
                    dialect: parse_enum(&get::<String>(r, "dialect")?, Dialect::parse, "dialect")?,
                    name: get(r, "name")?,
                    key_id: get(r, "key_id")?,
                    product_id: get(r, "product_id")?,
                    read_only: get(r, "read_only")?,
                    ip_allowlist: json(r, "ip_allowlist")?,
                    created_at: get(r, "created_at")?,
                    revoked_at: get(r, "revoked_at")?,
                })
            }

            fn signing_key_from_row(r: &DbRow, codec: &dyn SecretCodec) -> Result<StoredSigningKey> {
                let sealed: Vec<u8> = get(r, "private_sealed")?;
                let private_pkcs8 = codec.open(&sealed, SIGNING_KEY).ok_or_else(|| {
                    StoreError::Corrupt("cannot open sealed signing key (tampered or sealed under another key)".into())
                })?;
                Ok(StoredSigningKey {
                    id: get(r, "id")?,
                    kid: get(r, "kid")?,
                    algorithm: get(r, "algorithm")?,
                    public_der: get(r, "public_der")?,
                    private_pkcs8,
                    active: get(r, "active")?,
                    created_at: get(r, "created_at")?,
                    retired_at: get(r, "retired_at")?,
                })
            }

            fn admin_token_from_row(r: &DbRow) -> Result<AdminToken> {
                Ok(AdminToken {
                    id: get(r, "id")?,
                    name: get(r, "name")?,
                    created_at: get(r, "created_at")?,
                    revoked_at: get(r, "revoked_at")?,
                })
            }

            fn event_from_row(r: &DbRow) -> Result<Event> {
                Ok(Event {
                    id: get(r, "id")?,
                    at: get(r, "at")?,
                    actor: get(r, "actor")?,
                    source_ip: get(r, "source_ip")?,
                    action: get(r, "action")?,
                    subject_type: get(r, "subject_type")?,
                    subject_id: get(r, "subject_id")?,
                    data: json(r, "data")?,
                })
            }

            fn rows<T>(rows: Vec<DbRow>, decode: impl Fn(&DbRow) -> Result<T>) -> Result<Vec<T>> {
                rows.iter().map(decode).collect()
            }

            const INSERT_EVENT: &str = "INSERT INTO events (at, actor, source_ip, action, subject_type, subject_id, data) \
                                        VALUES ($1, $2, $3, $4, $5, $6, $7)";

            // Statements both engines run (sqlx below, rusqlite in `direct`), written once.
            const IS_BLOCKED: &str =
                "SELECT COUNT(*) FROM blocked_devices WHERE fingerprint = $1 AND (product_id IS NULL OR product_id = $2)";
            const USER_ACTIVE_DEVICES: &str =
                "SELECT COUNT(*) FROM devices WHERE license_id = $1 AND user_id = $2 AND deactivated_at IS NULL";
            const RECENT_ACTIVATIONS: &str = "SELECT COUNT(*) FROM activation_log WHERE license_id = $1 AND at > $2";
            const INSERT_ACTIVATION_LOG: &str = "INSERT INTO activation_log (license_id, fingerprint, at) VALUES ($1, $2, $3)";
            /// `$2` 1 for a transfer, `$3` the expiry a first trial activation sets.
            const COUNT_TRANSFER_OR_TRIAL: &str = concat!(
                "UPDATE licenses SET transfer_count = transfer_count + $2, \
                 expires_at = COALESCE($3, expires_at) WHERE id = $1 RETURNING ",
                license_cols!()
            );
            /// Leases that are no longer live (see `rules::lease_is_live`) free their seats.
            const DROP_DEAD_LEASES: &str = "DELETE FROM floating_leases WHERE license_id = $1 AND expires_at <= $2 \
                                            AND (borrowed_until IS NULL OR borrowed_until <= $2)";
            const OTHER_LEASES: &str =
                "SELECT COUNT(*) FROM floating_leases WHERE license_id = $1 AND feature_id IS NULL AND fingerprint <> $2";
            const OWN_LEASE: &str = concat!(
                "SELECT ",
                lease_cols!(),
                " FROM floating_leases WHERE license_id = $1 AND feature_id IS NULL AND fingerprint = $2"
            );
            const RENEW_LEASE: &str = concat!(
                "UPDATE floating_leases SET expires_at = $2, borrowed_until = $3 WHERE id = $1 RETURNING ",
                lease_cols!()
            );
            const INSERT_LEASE: &str = concat!(
                "INSERT INTO floating_leases (license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at) \
                 VALUES ($1, NULL, $2, $3, $4, $5) RETURNING ",
                lease_cols!()
            );
            const SET_CONSUMPTION: &str = concat!(
                "UPDATE licenses SET consumption_used = $2, consumption_period_start = $3 WHERE id = $1 RETURNING ",
                license_cols!()
            );
            const INSERT_CONSUMPTION: &str = concat!(
                "INSERT INTO consumption_events (license_id, feature_id, amount, total_after, idempotency_key, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                consumption_cols!()
            );

            /// Where the reactivation-lockout window of `RECENT_ACTIVATIONS` starts.
            fn lockout_window_start(lockout: &ReactivationLockout, now: Millis) -> Millis {
                now.saturating_sub(lockout.window_hours.saturating_mul(clock::HOUR))
            }

            /// The activation rule over what the read after the license lock found, plus the
            /// counts `activation_counts` adds.
            fn plan_activation_on(
                inputs: &ValidationInputs,
                device: &DeviceInfo,
                (user_active_devices, recent_activations): (Option<i64>, i64),
                now: Millis,
            ) -> Result<rules::ActivationPlan> {
                let state = rules::ActivationState {
                    product: &inputs.product,
                    license: &inputs.license,
                    device,
                    existing: inputs.device.as_ref(),
                    blocked: inputs.blocked,
                    active_devices: inputs.active_devices,
                    user_active_devices,
                    recent_activations,
                };
                Ok(rules::plan_activation(&state, now)?)
            }

            /// Appends to the event log; `subject` fills the draft's subject when it has none.
            async fn insert_event(conn: &mut Conn, event: EventDraft, subject: Option<i64>, now: Millis) -> Result<()> {
                bind_event(sqlx::query(INSERT_EVENT).bind(now), event, subject)?
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            /// The first statement of every client command: bumping `lock_version` takes the row
            /// lock on PostgreSQL and, inside `BEGIN IMMEDIATE`, is the write SQLite already
            /// serialized. Everything read afterwards is therefore stable until commit.
            async fn lock_license(conn: &mut Conn, codec: &dyn SecretCodec, license: &LicenseRef) -> Result<Option<License>> {
                let row = match license {
                    LicenseRef::Id(id) => sqlx::query(concat!(
                        "UPDATE licenses SET lock_version = lock_version + 1 WHERE id = $1 RETURNING ",
                        license_cols!()
                    ))
                    .bind(*id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?,
                    LicenseRef::Key(key) => sqlx::query(concat!(
                        "UPDATE licenses SET lock_version = lock_version + 1 WHERE key_digest = $1 RETURNING ",
                        license_cols!()
                    ))
                    .bind(codec.digest(key.as_bytes()))
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?,
                };
                row.map(|r| license_from_row(&r, codec)).transpose()
            }

            pub(crate) async fn lock_license_or_deny(conn: &mut Conn, codec: &dyn SecretCodec, license: &LicenseRef) -> Result<License> {
                lock_license(conn, codec, license).await?.ok_or(StoreError::Denied(Denial::LicenseNotFound))
            }

            pub(crate) async fn read_license(conn: &mut Conn, codec: &dyn SecretCodec, license: &LicenseRef) -> Result<Option<License>> {
                let row = match license {
                    LicenseRef::Id(id) => {
                        sqlx::query(concat!("SELECT ", license_cols!(), " FROM licenses WHERE id = $1"))
                            .bind(*id)
                            .fetch_optional(&mut *conn)
                            .await
                    }
                    LicenseRef::Key(key) => {
                        sqlx::query(concat!("SELECT ", license_cols!(), " FROM licenses WHERE key_digest = $1"))
                            .bind(codec.digest(key.as_bytes()))
                            .fetch_optional(&mut *conn)
                            .await
                    }
                }
                .map_err(db_err)?;
                row.map(|r| license_from_row(&r, codec)).transpose()
            }

            /// The product of a license; the foreign key makes a miss impossible short of corruption.
            pub(crate) async fn product_of(conn: &mut Conn, license: &License) -> Result<Product> {
                sqlx::query(concat!("SELECT ", product_cols!(), " FROM products WHERE id = $1"))
                    .bind(license.product_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?
                    .map(|r| product_from_row(&r))
                    .transpose()?
                    .ok_or(StoreError::Denied(Denial::ProductNotFound))
            }

            async fn device_by_fingerprint(conn: &mut Conn, license_id: i64, fingerprint: &str) -> Result<Option<Device>> {
                sqlx::query(concat!("SELECT ", device_cols!(), " FROM devices WHERE license_id = $1 AND fingerprint = $2"))
                    .bind(license_id)
                    .bind(fingerprint)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?
                    .map(|r| device_from_row(&r))
                    .transpose()
            }

            async fn is_blocked(conn: &mut Conn, product_id: i64, fingerprint: &str) -> Result<bool> {
                let n: i64 = sqlx::query_scalar(IS_BLOCKED)
                .bind(fingerprint)
                .bind(product_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok(n > 0)
            }

            /// The device row for a fingerprint, whether the fingerprint is blocked for the product, and
            /// the license's active-device count, in one round trip (validation and activation both
            /// need all three, activation while holding the license lock).
            async fn device_state(
                conn: &mut Conn,
                license_id: i64,
                product_id: i64,
                fingerprint: &str,
            ) -> Result<(Option<Device>, bool, i64)> {
                let row = sqlx::query(
                    "SELECT (SELECT COUNT(*) FROM devices WHERE license_id = $1 AND deactivated_at IS NULL) AS active_count, \
                     (SELECT COUNT(*) FROM blocked_devices WHERE fingerprint = $2 AND (product_id IS NULL OR product_id = $3)) \
                     AS blocked_count, d.id, d.license_id, d.fingerprint, d.name, d.hostname, d.os, d.app_version, d.ip, \
                     d.mac, d.is_vm, d.user_id, d.variables, d.activated_at, d.last_seen_at, d.deactivated_at \
                     FROM (SELECT 1 AS anchor) AS anchor LEFT JOIN devices d ON d.license_id = $1 AND d.fingerprint = $2",
                )
                .bind(license_id)
                .bind(fingerprint)
                .bind(product_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                let device = match get::<Option<i64>>(&row, "id")? {
                    Some(_) => Some(device_from_row(&row)?),
                    None => None,
                };
                let blocked: i64 = get(&row, "blocked_count")?;
                Ok((device, blocked > 0, get(&row, "active_count")?))
            }

            /// The counts an activation rule needs beyond the device state, each only when the
            /// license asks for it: the user's active devices, and activations inside the
            /// reactivation-lockout window.
            async fn activation_counts(
                conn: &mut Conn,
                license: &License,
                user_id: Option<i64>,
                now: Millis,
            ) -> Result<(Option<i64>, i64)> {
                let user_active_devices = match user_id {
                    Some(user_id) => Some(
                        sqlx::query_scalar(USER_ACTIVE_DEVICES)
                        .bind(license.id)
                        .bind(user_id)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?,
                    ),
                    None => None,
                };
                let recent_activations: i64 = match &license.terms.reactivation_lockout {
                    Some(lockout) => sqlx::query_scalar(RECENT_ACTIVATIONS)
                        .bind(license.id)
                        .bind(lockout_window_start(lockout, now))
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?,
                    None => 0,
                };
                Ok((user_active_devices, recent_activations))
            }

            type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

            /// Binds an event's fields after its instant, in `INSERT_EVENT`'s order: actor, source IP,
            /// action, subject type, subject (the draft's, else `subject`), data.
            fn bind_event<'q>(query: Query<'q>, event: EventDraft, subject: Option<i64>) -> Result<Query<'q>> {
                let data = to_json(&event.data)?;
                Ok(query
                    .bind(event.actor)
                    .bind(event.source_ip)
                    .bind(event.action)
                    .bind(event.subject_type)
                    .bind(event.subject_id.or(subject))
                    .bind(data))
            }

            /// Binds what a client reported about its device, in the order of `device_touch_sql!`
            /// (`$2`–`$10`).
            fn bind_device_report<'q>(
                query: Query<'q>,
                device: &DeviceInfo,
                user_id: Option<i64>,
                variables: Option<String>,
            ) -> Query<'q> {
                query
                    .bind(device.name.clone())
                    .bind(device.hostname.clone())
                    .bind(device.os.clone())
                    .bind(device.app_version.clone())
                    .bind(device.ip.clone())
                    .bind(device.mac.clone())
                    .bind(device.is_vm)
                    .bind(user_id)
                    .bind(variables)
            }

            /// Activation after the license lock is held: loads what the rule needs, asks
            /// `rules::plan_activation`, and writes what it decided. Shared by `activate` and
            /// `activate_many`, which add the event and commit.
            pub(crate) async fn activate_locked(
                conn: &mut Conn,
                codec: &dyn SecretCodec,
                license: License,
                device: &DeviceInfo,
                user_id: Option<i64>,
                event: EventDraft,
                now: Millis,
            ) -> Result<Activation> {
                // Product, device state and whether the license has features, in one statement
                // after the lock (so on PostgreSQL its snapshot includes the previous holder's
                // commit).
                let row = sqlx::query(concat!(validation_select!(), "WHERE l.id = $1"))
                    .bind(license.id)
                    .bind(&device.fingerprint)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let inputs = validation_inputs_at(&row, codec)?;
                let known_features = (!get::<bool>(&row, "has_features")?).then(Vec::new);
                let device_subject = event.subject_type == "device";
                let counts = activation_counts(&mut *conn, &license, user_id, now).await?;
                let plan = plan_activation_on(&inputs, device, counts, now)?;
                let ValidationInputs { product, device: existing, active_devices, .. } = inputs;
                let variables = device.variables.as_ref().map(to_json).transpose()?;
                let (stored, license, newly_activated) = match (plan, existing) {
                    (rules::ActivationPlan::AlreadyActive, existing) => {
                        let id = existing.map(|d| d.id).ok_or_else(|| {
                            StoreError::Database("activation rule saw an active device that was not loaded".into())
                        })?;
                        // Fields a client did not report keep their earlier values.
                        let query = sqlx::query(concat!(device_touch_sql!(), device_cols!())).bind(id);
                        let row = bind_device_report(query, device, user_id, variables)
                            .bind(now)
                            .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?;
                        (device_from_row(&row)?, license, false)
                    }
                    (rules::ActivationPlan::Activate { is_transfer, start_trial_expiry }, existing) => {
                        let row = match existing {
                            // Reactivation reuses the row: UNIQUE(license_id, fingerprint)
                            // keeps one row per device across its history.
                            Some(old) => bind_device_report(
                                sqlx::query(concat!(device_reactivate_sql!(), device_cols!())).bind(old.id),
                                device,
                                user_id,
                                variables,
                            )
                            .bind(now)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(db_err)?,
                            None if BACKEND == Backend::Postgres && !is_transfer && start_trial_expiry.is_none() => {
                                // The common case in one round trip: device, event and
                                // activation log through data-modifying CTEs (PostgreSQL only).
                                let subject = if device_subject { None } else { Some(license.id) };
                                let query = bind_device_report(
                                    sqlx::query(concat!(
                                        "WITH d AS (",
                                        device_insert_sql!(),
                                        device_cols!(),
                                        "), e AS (INSERT INTO events (at, actor, source_ip, action, subject_type, subject_id, data) \
                                         SELECT $12, $13, $14, $15, $16, COALESCE($17, d.id), $18 FROM d), \
                                         g AS (INSERT INTO activation_log (license_id, fingerprint, at) SELECT $1, $2, $12 FROM d) \
                                         SELECT * FROM d"
                                    ))
                                    .bind(license.id)
                                    .bind(&device.fingerprint),
                                    device,
                                    user_id,
                                    Some(variables.unwrap_or_else(|| String::from("{}"))),
                                )
                                .bind(now);
                                let row = bind_event(query, event, subject)?
                                .fetch_one(&mut *conn)
                                .await
                                .map_err(conflict("device is already registered on this license", "license user does not exist"))?;
                                let active_devices = active_devices + 1;
                                return Ok(Activation {
                                    product,
                                    license,
                                    device: device_from_row(&row)?,
                                    newly_activated: true,
                                    active_devices,
                                    known_features,
                                });
                            }
                            None => bind_device_report(
                                sqlx::query(concat!(device_insert_sql!(), device_cols!()))
                                    .bind(license.id)
                                    .bind(&device.fingerprint),
                                device,
                                user_id,
                                Some(variables.unwrap_or_else(|| String::from("{}"))),
                            )
                            .bind(now)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(conflict("device is already registered on this license", "license user does not exist"))?,
                        };
                        let license = if is_transfer || start_trial_expiry.is_some() {
                            let row = sqlx::query(COUNT_TRANSFER_OR_TRIAL)
                            .bind(license.id)
                            .bind(i64::from(is_transfer))
                            .bind(start_trial_expiry)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(db_err)?;
                            license_from_row(&row, codec)?
                        } else {
                            license
                        };
                        sqlx::query(INSERT_ACTIVATION_LOG)
                            .bind(license.id)
                            .bind(&device.fingerprint)
                            .bind(now)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_err)?;
                        (device_from_row(&row)?, license, true)
                    }
                };
                let subject = if device_subject { stored.id } else { license.id };
                insert_event(&mut *conn, event, Some(subject), now).await?;
                let active_devices = if newly_activated { active_devices + 1 } else { active_devices };
                Ok(Activation { product, license, device: stored, newly_activated, active_devices, known_features })
            }

            /// SQLite without sqlx in between, for the hottest paths. Through sqlx every statement
            /// is a message to its connection's thread and one back; these hand-offs were the
            /// whole cost of a write (the writer lock is held across them) and most of an uncached
            /// validation (bench/RESULTS.md).
            ///
            /// - Activations, consumptions and lease checkouts run as whole transactions on the writer thread
            ///   (`sqlite::WriterThread`): lock, read, the domain's rule and every write in one call,
            ///   with prepared statements kept between calls. `BEGIN IMMEDIATE` is the lock, as on
            ///   the sqlx path: SQLite admits one writer, so the license row needs no lock of its
            ///   own.
            /// - Validation reads on the calling thread's own read connection
            ///   (`sqlite::ThreadReaders`): one SELECT in WAL mode never waits for a writer.
            mod direct {
                use super::*;
                use rusqlite::types::ToSql;
                use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

                type Params<'a> = [(&'a str, &'a dyn ToSql)];

                /// The license reference as `$1` of the `WHERE l.id = $1` / `WHERE l.key_digest = $1`
                /// statement pair.
                enum LicenseParam {
                    Id(i64),
                    Digest(Vec<u8>),
                }

                impl LicenseParam {
                    fn new(license: &LicenseRef, codec: &dyn SecretCodec) -> Self {
                        match license {
                            LicenseRef::Id(id) => Self::Id(*id),
                            LicenseRef::Key(key) => Self::Digest(codec.digest(key.as_bytes())),
                        }
                    }

                    fn pick(&self, by_id: &'static str, by_key: &'static str) -> (&'static str, &dyn ToSql) {
                        match self {
                            Self::Id(id) => (by_id, id),
                            Self::Digest(digest) => (by_key, digest),
                        }
                    }
                }

                /// `validation_select!` for one license on a read connection: `None` when there is no
                /// such license, `Some(None)` when it has features (read those through sqlx, in one
                /// read transaction with the rest).
                pub(super) fn validation_inputs(
                    conn: &Connection,
                    codec: &dyn SecretCodec,
                    license: &LicenseRef,
                    fingerprint: Option<&str>,
                ) -> Result<Option<Option<ValidationInputs>>> {
                    let license_param = LicenseParam::new(license, codec);
                    let (read_sql, key) = license_param.pick(
                        concat!(validation_select!(), "WHERE l.id = $1"),
                        concat!(validation_select!(), "WHERE l.key_digest = $1"),
                    );
                    query_one(conn, read_sql, &[("$1", key), ("$2", &fingerprint)], |row| {
                        if col::<bool>(row, At::Name, 0, "has_features")? {
                            return Ok(None);
                        }
                        validation_inputs_at(row, codec).map(Some)
                    })
                }

                fn begin(conn: &mut Connection) -> Result<Transaction<'_>> {
                    conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(lite_err)
                }

                fn query_one<T>(
                    tx: &Connection,
                    sql: &str,
                    params: &Params<'_>,
                    decode: impl FnOnce(&rusqlite::Row<'_>) -> Result<T>,
                ) -> Result<Option<T>> {
                    let mut stmt = tx.prepare_cached(sql).map_err(lite_err)?;
                    let mut rows = stmt.query(params).map_err(lite_err)?;
                    match rows.next().map_err(lite_err)? {
                        Some(row) => decode(row).map(Some),
                        None => Ok(None),
                    }
                }

                fn count(tx: &Connection, sql: &str, params: &Params<'_>) -> Result<i64> {
                    tx.prepare_cached(sql)
                        .map_err(lite_err)?
                        .query_row(params, |row| row.get(0))
                        .optional()
                        .map_err(lite_err)
                        .map(Option::unwrap_or_default)
                }

                fn insert_event(tx: &Connection, event: EventDraft, subject: i64, now: Millis) -> Result<()> {
                    let data = to_json(&event.data)?;
                    let subject = event.subject_id.unwrap_or(subject);
                    tx.prepare_cached(INSERT_EVENT)
                        .map_err(lite_err)?
                        .execute::<&Params<'_>>(&[
                            ("$1", &now),
                            ("$2", &event.actor),
                            ("$3", &event.source_ip),
                            ("$4", &event.action),
                            ("$5", &event.subject_type),
                            ("$6", &subject),
                            ("$7", &data),
                        ])
                        .map_err(lite_err)?;
                    Ok(())
                }

                pub(super) fn activate(
                    conn: &mut Connection,
                    codec: &dyn SecretCodec,
                    license: &LicenseRef,
                    device: &DeviceInfo,
                    user_id: Option<i64>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Activation> {
                    let tx = begin(conn)?;
                    let license_param = LicenseParam::new(license, codec);
                    let (read_sql, key) = license_param.pick(
                        concat!(validation_select!(), "WHERE l.id = $1"),
                        concat!(validation_select!(), "WHERE l.key_digest = $1"),
                    );
                    let read = query_one(&tx, read_sql, &[("$1", key), ("$2", &device.fingerprint)], |row| {
                        Ok((validation_inputs_at(row, codec)?, col::<bool>(row, At::Name, 0, "has_features")?))
                    })?;
                    // Returning drops `tx`, which rolls back: a refusal changes nothing.
                    let (inputs, has_features) = read.ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                    let license = &inputs.license;
                    let user_active_devices = match user_id {
                        Some(user_id) => Some(count(&tx, USER_ACTIVE_DEVICES, &[("$1", &license.id), ("$2", &user_id)])?),
                        None => None,
                    };
                    let recent_activations = match &license.terms.reactivation_lockout {
                        Some(lockout) => count(
                            &tx,
                            RECENT_ACTIVATIONS,
                            &[("$1", &license.id), ("$2", &lockout_window_start(lockout, now))],
                        )?,
                        None => 0,
                    };
                    let plan = plan_activation_on(&inputs, device, (user_active_devices, recent_activations), now)?;
                    let ValidationInputs { product, license, device: existing, active_devices, .. } = inputs;
                    let variables = device.variables.as_ref().map(to_json).transpose()?;
                    let report: [&dyn ToSql; 9] = [
                        &device.name,
                        &device.hostname,
                        &device.os,
                        &device.app_version,
                        &device.ip,
                        &device.mac,
                        &device.is_vm,
                        &user_id,
                        &variables,
                    ];
                    // The device statements' parameters: `$1` (and `$2` for an insert), the report,
                    // then now (see `device_touch_sql!`).
                    const REPORT_FROM_2: [&str; 9] = ["$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10"];
                    const REPORT_FROM_3: [&str; 9] = ["$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11"];
                    let (stored, license, newly_activated) = match (plan, existing) {
                        (rules::ActivationPlan::AlreadyActive, existing) => {
                            let id = existing.map(|d| d.id).ok_or_else(|| {
                                StoreError::Database("activation rule saw an active device that was not loaded".into())
                            })?;
                            let mut params: Vec<(&str, &dyn ToSql)> = vec![("$1", &id)];
                            params.extend(REPORT_FROM_2.iter().copied().zip(report));
                            params.push(("$11", &now));
                            let stored = query_one(&tx, concat!(device_touch_sql!(), device_cols!()), &params, |row| {
                                device_at(row, At::Name)
                            })?;
                            (stored, license, false)
                        }
                        (rules::ActivationPlan::Activate { is_transfer, start_trial_expiry }, existing) => {
                            let stored = match existing {
                                Some(old) => {
                                    let mut params: Vec<(&str, &dyn ToSql)> = vec![("$1", &old.id)];
                                    params.extend(REPORT_FROM_2.iter().copied().zip(report));
                                    params.push(("$11", &now));
                                    query_one(&tx, concat!(device_reactivate_sql!(), device_cols!()), &params, |row| {
                                        device_at(row, At::Name)
                                    })?
                                }
                                None => {
                                    let empty = String::from("{}");
                                    let variables: &dyn ToSql = match &variables {
                                        Some(variables) => variables,
                                        None => &empty,
                                    };
                                    let mut params: Vec<(&str, &dyn ToSql)> =
                                        vec![("$1", &license.id), ("$2", &device.fingerprint)];
                                    params.extend(REPORT_FROM_3.iter().copied().zip(report).take(8));
                                    params.push(("$11", variables));
                                    params.push(("$12", &now));
                                    query_one(&tx, concat!(device_insert_sql!(), device_cols!()), &params, |row| {
                                        device_at(row, At::Name)
                                    })
                                    .map_err(|e| match e {
                                        StoreError::Conflict(_) => StoreError::Conflict(
                                            "device is already registered on this license".into(),
                                        ),
                                        other => other,
                                    })?
                                }
                            };
                            let license = if is_transfer || start_trial_expiry.is_some() {
                                query_one(
                                    &tx,
                                    COUNT_TRANSFER_OR_TRIAL,
                                    &[("$1", &license.id), ("$2", &i64::from(is_transfer)), ("$3", &start_trial_expiry)],
                                    |row| license_at(row, codec, At::Name),
                                )?
                                .ok_or(StoreError::Denied(Denial::LicenseNotFound))?
                            } else {
                                license
                            };
                            tx.prepare_cached(INSERT_ACTIVATION_LOG)
                                .map_err(lite_err)?
                                .execute::<&Params<'_>>(&[("$1", &license.id), ("$2", &device.fingerprint), ("$3", &now)])
                                .map_err(lite_err)?;
                            (stored, license, true)
                        }
                    };
                    let stored = stored.ok_or_else(|| StoreError::Database("activation wrote no device row".into()))?;
                    let subject = if event.subject_type == "device" { stored.id } else { license.id };
                    insert_event(&tx, event, subject, now)?;
                    tx.commit().map_err(lite_err)?;
                    let active_devices = if newly_activated { active_devices + 1 } else { active_devices };
                    let known_features = (!has_features).then(Vec::new);
                    Ok(Activation { product, license, device: stored, newly_activated, active_devices, known_features })
                }

                pub(super) fn checkout_lease(
                    conn: &mut Connection,
                    codec: &dyn SecretCodec,
                    license: &LicenseRef,
                    fingerprint: &str,
                    borrow_until: Option<Millis>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<FloatingLease> {
                    let tx = begin(conn)?;
                    let license_param = LicenseParam::new(license, codec);
                    let (read_sql, key) = license_param.pick(
                        concat!(license_product_select!(), " FROM licenses l JOIN products p ON p.id = l.product_id WHERE l.id = $1"),
                        concat!(license_product_select!(), " FROM licenses l JOIN products p ON p.id = l.product_id WHERE l.key_digest = $1"),
                    );
                    let read = query_one(&tx, read_sql, &[("$1", key)], |row| {
                        Ok((license_at(row, codec, At::From(0))?, product_at(row, At::From(VALIDATION_PRODUCT_AT))?))
                    })?;
                    // Returning drops `tx`, which rolls back: a refusal changes nothing.
                    let (license, product) = read.ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                    tx.prepare_cached(DROP_DEAD_LEASES)
                    .map_err(lite_err)?
                    .execute::<&Params<'_>>(&[("$1", &license.id), ("$2", &now)])
                    .map_err(lite_err)?;
                    let other_live_leases = count(&tx, OTHER_LEASES, &[("$1", &license.id), ("$2", &fingerprint)])?;
                    let own = query_one(&tx, OWN_LEASE, &[("$1", &license.id), ("$2", &fingerprint)], |row| lease_at(row))?;
                    let blocked = count(&tx, IS_BLOCKED, &[("$1", &fingerprint), ("$2", &product.id)])? > 0;
                    let state = rules::LeaseState {
                        product: &product,
                        license: &license,
                        fingerprint,
                        blocked,
                        other_live_leases,
                        own_lease: own.as_ref(),
                        borrow_until,
                    };
                    let plan = rules::plan_lease(&state, now)?;
                    let lease = match &own {
                        Some(own) => query_one(
                            &tx,
                            RENEW_LEASE,
                            &[("$1", &own.id), ("$2", &plan.expires_at), ("$3", &plan.borrowed_until)],
                            |row| lease_at(row),
                        )?,
                        None => query_one(
                            &tx,
                            INSERT_LEASE,
                            &[
                                ("$1", &license.id),
                                ("$2", &fingerprint),
                                ("$3", &plan.expires_at),
                                ("$4", &plan.borrowed_until),
                                ("$5", &now),
                            ],
                            |row| lease_at(row),
                        )?,
                    }
                    .ok_or_else(|| StoreError::Database("lease checkout wrote no lease row".into()))?;
                    insert_event(&tx, event, license.id, now)?;
                    tx.commit().map_err(lite_err)?;
                    Ok(lease)
                }

                pub(super) fn consume(
                    conn: &mut Connection,
                    codec: &dyn SecretCodec,
                    license: &LicenseRef,
                    amount: i64,
                    idempotency_key: Option<String>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<ConsumptionOutcome> {
                    let tx = begin(conn)?;
                    let license_param = LicenseParam::new(license, codec);
                    let (read_sql, key) = license_param.pick(
                        concat!(consumption_replay_select!(), "WHERE l.id = $1"),
                        concat!(consumption_replay_select!(), "WHERE l.key_digest = $1"),
                    );
                    const EARLIER_AT: usize = VALIDATION_DEVICE_AT;
                    let read = query_one(&tx, read_sql, &[("$1", key), ("$2", &idempotency_key)], |row| {
                        let earlier = match col::<Option<i64>>(row, At::From(EARLIER_AT), 0, "id")? {
                            Some(_) => Some(consumption_at(row, At::From(EARLIER_AT))?),
                            None => None,
                        };
                        Ok((license_at(row, codec, At::From(0))?, product_at(row, At::From(VALIDATION_PRODUCT_AT))?, earlier))
                    })?;
                    let (license, product, earlier) = read.ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                    if let Some(earlier) = earlier {
                        // A replay writes nothing: dropping `tx` rolls back.
                        let total = earlier.total_after;
                        return Ok(ConsumptionOutcome { license, event: earlier, total, replayed: true });
                    }
                    let counter = rules::plan_consumption(&product, &license, amount, now)?;
                    let license = query_one(
                        &tx,
                        SET_CONSUMPTION,
                        &[("$1", &license.id), ("$2", &counter.used), ("$3", &counter.period_start)],
                        |row| license_at(row, codec, At::Name),
                    )?
                    .ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                    let no_feature: Option<i64> = None;
                    let consumed = query_one(
                        &tx,
                        INSERT_CONSUMPTION,
                        &[
                            ("$1", &license.id),
                            ("$2", &no_feature),
                            ("$3", &amount),
                            ("$4", &counter.used),
                            ("$5", &idempotency_key),
                            ("$6", &now),
                        ],
                        |row| consumption_at(row, At::Name),
                    )?
                    .ok_or_else(|| StoreError::Database("consumption wrote no event row".into()))?;
                    insert_event(&tx, event, license.id, now)?;
                    tx.commit().map_err(lite_err)?;
                    Ok(ConsumptionOutcome { license, event: consumed, total: counter.used, replayed: false })
                }
            }

            async fn count_active_devices(conn: &mut Conn, license_id: i64) -> Result<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE license_id = $1 AND deactivated_at IS NULL")
                    .bind(license_id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)
            }

            async fn features_of(conn: &mut Conn, license_id: i64) -> Result<Vec<LicenseFeature>> {
                let found = sqlx::query(concat!(license_feature_select!(), "WHERE lf.license_id = $1 ORDER BY f.id"))
                    .bind(license_id)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_err)?;
                rows(found, license_feature_from_row)
            }

            async fn own_lease(conn: &mut Conn, license_id: i64, fingerprint: &str) -> Result<Option<FloatingLease>> {
                sqlx::query(OWN_LEASE)
                .bind(license_id)
                .bind(fingerprint)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?
                .map(|r| lease_from_row(&r))
                .transpose()
            }

            async fn replayed_consumption(conn: &mut Conn, license_id: i64, key: &str) -> Result<Option<ConsumptionEvent>> {
                sqlx::query(concat!(
                    "SELECT ",
                    consumption_cols!(),
                    " FROM consumption_events WHERE license_id = $1 AND idempotency_key = $2"
                ))
                .bind(license_id)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?
                .map(|r| consumption_from_row(&r))
                .transpose()
            }

            async fn insert_consumption(
                conn: &mut Conn,
                license_id: i64,
                feature_id: Option<i64>,
                amount: i64,
                total_after: i64,
                idempotency_key: Option<String>,
                now: Millis,
            ) -> Result<ConsumptionEvent> {
                let row = sqlx::query(INSERT_CONSUMPTION)
                .bind(license_id)
                .bind(feature_id)
                .bind(amount)
                .bind(total_after)
                .bind(idempotency_key)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                consumption_from_row(&row)
            }

            /// The product's feature codes, for resolving grants: code → (feature id, reset period).
            async fn feature_codes(conn: &mut Conn, product_id: i64) -> Result<HashMap<String, (i64, ResetPeriod)>> {
                let found = sqlx::query("SELECT id, code, reset_period FROM features WHERE product_id = $1")
                    .bind(product_id)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let mut codes = HashMap::with_capacity(found.len());
                for r in &found {
                    let period = parse_enum(&get::<String>(r, "reset_period")?, ResetPeriod::parse, "reset period")?;
                    codes.insert(get::<String>(r, "code")?, (get::<i64>(r, "id")?, period));
                }
                Ok(codes)
            }

            /// Where a fresh counter's period begins: the current period for resetting counters,
            /// otherwise issue time (`period_start` has no meaningful value for `Never`).
            fn initial_period_start(period: Option<ResetPeriod>, now: Millis) -> Millis {
                match period {
                    Some(period) if period != ResetPeriod::Never => rules::period_start(period, now),
                    _ => now,
                }
            }

            fn resolve_grant(codes: &HashMap<String, (i64, ResetPeriod)>, code: &str) -> Result<(i64, ResetPeriod)> {
                codes.get(code).copied().ok_or_else(|| StoreError::Conflict(format!("unknown feature code {code}")))
            }

            async fn upsert_grant(
                conn: &mut Conn,
                license_id: i64,
                feature: (i64, ResetPeriod),
                overrides: &FeatureOverrides,
                now: Millis,
            ) -> Result<()> {
                // Overrides are replaced; counters of a feature that stays granted are kept.
                sqlx::query(
                    "INSERT INTO license_features (license_id, feature_id, overrides, consumption_used, period_start) \
                     VALUES ($1, $2, $3, 0, $4) \
                     ON CONFLICT (license_id, feature_id) DO UPDATE SET overrides = excluded.overrides",
                )
                .bind(license_id)
                .bind(feature.0)
                .bind(to_json(overrides)?)
                .bind(initial_period_start(Some(feature.1), now))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            /// What validation reads. The common case (no features) is one statement: a single
            /// SELECT is a consistent snapshot on both databases, so it needs no BEGIN/COMMIT round
            /// trips.
            async fn read_validation_inputs(
                store: &$store,
                license: &LicenseRef,
                fingerprint: Option<&str>,
            ) -> Result<ValidationInputs> {
                if let Some(readers) = sqlite_readers(store) {
                    let found = readers.read(|conn| direct::validation_inputs(conn, &*store.codec, license, fingerprint))?;
                    return match found {
                        Some(Some(inputs)) => Ok(inputs),
                        Some(None) => read_validation_inputs_with_features(store, license, fingerprint).await,
                        None => Err(StoreError::Denied(Denial::LicenseNotFound)),
                    };
                }
                let row = match license {
                    LicenseRef::Id(id) => sqlx::query(concat!(validation_select!(), "WHERE l.id = $1"))
                        .bind(*id)
                        .bind(fingerprint)
                        .fetch_optional(&store.pool)
                        .await
                        .map_err(db_err)?,
                    LicenseRef::Key(key) => sqlx::query(concat!(validation_select!(), "WHERE l.key_digest = $1"))
                        .bind(store.codec.digest(key.as_bytes()))
                        .bind(fingerprint)
                        .fetch_optional(&store.pool)
                        .await
                        .map_err(db_err)?,
                }
                .ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                if get::<bool>(&row, "has_features")? {
                    // Features live in other rows: read everything again in one transaction.
                    return read_validation_inputs_with_features(store, license, fingerprint).await;
                }
                validation_inputs_at(&row, &*store.codec)
            }

            /// Decodes a `validation_select!` row (features are not part of it).
            fn validation_inputs_at(row: &impl Columns, codec: &dyn SecretCodec) -> Result<ValidationInputs> {
                let device = match col::<Option<i64>>(row, At::From(VALIDATION_DEVICE_AT), 0, "id")? {
                    Some(_) => Some(device_at(row, At::From(VALIDATION_DEVICE_AT))?),
                    None => None,
                };
                Ok(ValidationInputs {
                    license: license_at(row, codec, At::From(0))?,
                    product: product_at(row, At::From(VALIDATION_PRODUCT_AT))?,
                    device,
                    blocked: col::<i64>(row, At::Name, 0, "blocked_count")? > 0,
                    active_devices: col(row, At::Name, 0, "active_count")?,
                    features: Vec::new(),
                })
            }

            /// `read_validation_inputs` for a license with features: license, product, device
            /// state and features from one snapshot (a read transaction).
            async fn read_validation_inputs_with_features(
                store: &$store,
                license: &LicenseRef,
                fingerprint: Option<&str>,
            ) -> Result<ValidationInputs> {
                let mut tx = store.pool.begin().await.map_err(db_err)?;
                let license = read_license(&mut tx, &*store.codec, license)
                    .await?
                    .ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                let product = product_of(&mut tx, &license).await?;
                let (device, blocked, active_devices) = match fingerprint {
                    Some(fingerprint) => device_state(&mut tx, license.id, product.id, fingerprint).await?,
                    None => (None, false, count_active_devices(&mut tx, license.id).await?),
                };
                let features = features_of(&mut tx, license.id).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(ValidationInputs { product, license, device, blocked, active_devices, features })
            }

            async fn device_by_id(conn: &mut Conn, id: i64) -> Result<Device> {
                sqlx::query(concat!("SELECT ", device_cols!(), " FROM devices WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?
                    .map(|r| device_from_row(&r))
                    .transpose()?
                    .ok_or(StoreError::NotFound)
            }

            /// Retires a device: marks it inactive, counts the deactivation (the next new device is
            /// a transfer) and frees any floating seats it held.
            async fn retire_device(conn: &mut Conn, codec: &dyn SecretCodec, device: &Device, now: Millis) -> Result<(Device, License)> {
                let row = sqlx::query(concat!("UPDATE devices SET deactivated_at = $2 WHERE id = $1 RETURNING ", device_cols!()))
                    .bind(device.id)
                    .bind(now)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let device = device_from_row(&row)?;
                let row = sqlx::query(concat!(
                    "UPDATE licenses SET deactivation_count = deactivation_count + 1 WHERE id = $1 RETURNING ",
                    license_cols!()
                ))
                .bind(device.license_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                let license = license_from_row(&row, codec)?;
                sqlx::query("DELETE FROM floating_leases WHERE license_id = $1 AND fingerprint = $2")
                    .bind(device.license_id)
                    .bind(&device.fingerprint)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                Ok((device, license))
            }

            #[async_trait::async_trait]
            impl $crate::CoreStore for $store {
                fn backend(&self) -> Backend {
                    $backend
                }

                async fn migrate(&self) -> Result<()> {
                    run_migrations(&self.pool).await
                }

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

                // --- signing keys ---

                async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>> {
                    let found = sqlx::query(concat!("SELECT ", signing_key_cols!(), " FROM signing_keys ORDER BY id"))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                    rows(found, |r| signing_key_from_row(r, &*self.codec))
                }

                async fn ensure_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<StoredSigningKey> {
                    let mut tx = begin_write(self).await?;
                    let select_active =
                        concat!("SELECT ", signing_key_cols!(), " FROM signing_keys WHERE algorithm = $1 AND active = TRUE");
                    if let Some(r) = sqlx::query(select_active).bind(&key.algorithm).fetch_optional(&mut *tx).await.map_err(db_err)? {
                        let existing = signing_key_from_row(&r, &*self.codec)?;
                        tx.commit().await.map_err(db_err)?;
                        return Ok(existing);
                    }
                    // DO NOTHING instead of failing: on PostgreSQL a node racing us waits here for
                    // the winner to commit, then re-reads the winner's key below.
                    let inserted = sqlx::query(concat!(
                        "INSERT INTO signing_keys (kid, algorithm, public_der, private_sealed, active, created_at) \
                         VALUES ($1, $2, $3, $4, TRUE, $5) ON CONFLICT DO NOTHING RETURNING ",
                        signing_key_cols!()
                    ))
                    .bind(&key.kid)
                    .bind(&key.algorithm)
                    .bind(&key.public_der)
                    .bind(self.codec.seal(&key.private_pkcs8, SIGNING_KEY))
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let row = match inserted {
                        Some(r) => r,
                        None => sqlx::query(select_active)
                            .bind(&key.algorithm)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_err)?
                            .ok_or_else(|| StoreError::Conflict(format!("signing key id {} already exists", key.kid)))?,
                    };
                    let stored = signing_key_from_row(&row, &*self.codec)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(stored)
                }

                async fn rotate_signing_key(&self, key: NewSigningKey, event: EventDraft, now: Millis) -> Result<StoredSigningKey> {
                    let mut tx = begin_write(self).await?;
                    sqlx::query("UPDATE signing_keys SET active = FALSE, retired_at = $2 WHERE algorithm = $1 AND active = TRUE")
                        .bind(&key.algorithm)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO signing_keys (kid, algorithm, public_der, private_sealed, active, created_at) \
                         VALUES ($1, $2, $3, $4, TRUE, $5) RETURNING ",
                        signing_key_cols!()
                    ))
                    .bind(&key.kid)
                    .bind(&key.algorithm)
                    .bind(&key.public_der)
                    .bind(self.codec.seal(&key.private_pkcs8, SIGNING_KEY))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("signing key id already exists", "signing key reference"))?;
                    let stored = signing_key_from_row(&row, &*self.codec)?;
                    insert_event(&mut tx, event, Some(stored.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(stored)
                }

                // --- admin tokens ---

                async fn bootstrap_admin_token(&self, name: &str, token: &str, now: Millis) -> Result<bool> {
                    let mut tx = begin_write(self).await?;
                    serialize_bootstrap(&mut tx).await?;
                    let done = sqlx::query(
                        "INSERT INTO admin_tokens (name, digest, created_at) \
                         SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM admin_tokens)",
                    )
                    .bind(name)
                    .bind(self.codec.digest(token.as_bytes()))
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("admin token already exists", "admin token reference"))?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn create_admin_token(&self, name: &str, token: &str, event: EventDraft, now: Millis) -> Result<AdminToken> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO admin_tokens (name, digest, created_at) VALUES ($1, $2, $3) RETURNING ",
                        admin_token_cols!()
                    ))
                    .bind(name)
                    .bind(self.codec.digest(token.as_bytes()))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("admin token already exists", "admin token reference"))?;
                    let created = admin_token_from_row(&row)?;
                    insert_event(&mut tx, event, Some(created.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(created)
                }

                async fn find_admin_token(&self, token: &str) -> Result<Option<AdminToken>> {
                    sqlx::query(concat!(
                        "SELECT ",
                        admin_token_cols!(),
                        " FROM admin_tokens WHERE digest = $1 AND revoked_at IS NULL"
                    ))
                    .bind(self.codec.digest(token.as_bytes()))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .map(|r| admin_token_from_row(&r))
                    .transpose()
                }

                async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>> {
                    let found = sqlx::query(concat!("SELECT ", admin_token_cols!(), " FROM admin_tokens ORDER BY id"))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                    rows(found, admin_token_from_row)
                }

                async fn revoke_admin_token(&self, id: i64, event: EventDraft, now: Millis) -> Result<AdminToken> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ",
                        admin_token_cols!()
                    ))
                    .bind(id)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    let revoked = admin_token_from_row(&row)?;
                    insert_event(&mut tx, event, Some(id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(revoked)
                }

                // --- products ---

                async fn create_product(&self, new: NewProduct, event: EventDraft, now: Millis) -> Result<Product> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO products (code, name, auth_method, status, trial_allowed, trial_days, metadata, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ",
                        product_cols!()
                    ))
                    .bind(&new.code)
                    .bind(&new.name)
                    .bind(new.auth_method.as_str())
                    .bind(new.status.as_str())
                    .bind(new.trial_allowed)
                    .bind(new.trial_days)
                    .bind(to_json(&new.metadata)?)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("product code already exists", "product reference"))?;
                    let product = product_from_row(&row)?;
                    insert_event(&mut tx, event, Some(product.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(product)
                }

                async fn get_product(&self, id: i64) -> Result<Product> {
                    sqlx::query(concat!("SELECT ", product_cols!(), " FROM products WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .map(|r| product_from_row(&r))
                        .transpose()?
                        .ok_or(StoreError::NotFound)
                }

                async fn get_product_by_code(&self, code: &str) -> Result<Product> {
                    ReadCache::through(read_cache(self), |cache| &cache.products_by_code, code.to_owned(), async {
                        sqlx::query(concat!("SELECT ", product_cols!(), " FROM products WHERE code = $1"))
                            .bind(code)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(db_err)?
                            .map(|r| product_from_row(&r))
                            .transpose()?
                            .ok_or(StoreError::NotFound)
                    })
                    .await
                }

                async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
                    let found = sqlx::query(concat!("SELECT ", product_cols!(), " FROM products WHERE id > $1 ORDER BY id LIMIT $2"))
                        .bind(after(&page))
                        .bind(page.clamped_limit())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                    rows(found, product_from_row)
                }

                async fn update_product(&self, product: Product, event: EventDraft, now: Millis) -> Result<Product> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "UPDATE products SET code = $2, name = $3, auth_method = $4, status = $5, trial_allowed = $6, \
                         trial_days = $7, metadata = $8, updated_at = $9 WHERE id = $1 RETURNING ",
                        product_cols!()
                    ))
                    .bind(product.id)
                    .bind(&product.code)
                    .bind(&product.name)
                    .bind(product.auth_method.as_str())
                    .bind(product.status.as_str())
                    .bind(product.trial_allowed)
                    .bind(product.trial_days)
                    .bind(to_json(&product.metadata)?)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(conflict("product code already exists", "product reference"))?
                    .ok_or(StoreError::NotFound)?;
                    let updated = product_from_row(&row)?;
                    insert_event(&mut tx, event, Some(updated.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(updated)
                }

                async fn delete_product(&self, id: i64, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if exists == 0 {
                        return Err(StoreError::NotFound);
                    }
                    let licenses: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM licenses WHERE product_id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if licenses > 0 {
                        return Err(StoreError::Conflict("product has licenses".into()));
                    }
                    // Feature definitions and policies are parts of the product; without licenses
                    // nothing else can refer to them.
                    for statement in
                        ["DELETE FROM policies WHERE product_id = $1", "DELETE FROM features WHERE product_id = $1", "DELETE FROM products WHERE id = $1"]
                    {
                        sqlx::query(statement)
                            .bind(id)
                            .execute(&mut *tx)
                            .await
                            .map_err(conflict("product is still in use", "product is still in use"))?;
                    }
                    insert_event(&mut tx, event, Some(id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                // --- feature definitions ---

                async fn create_feature(&self, new: NewFeature, event: EventDraft, now: Millis) -> Result<FeatureDefinition> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO features (product_id, code, name, feature_type, max_consumptions, allow_overages, \
                         max_overages, allow_negative, reset_period, floating_seats, floating_lease_seconds, metadata, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ",
                        feature_cols!()
                    ))
                    .bind(new.product_id)
                    .bind(&new.code)
                    .bind(&new.name)
                    .bind(new.feature_type.as_str())
                    .bind(new.max_consumptions)
                    .bind(new.allow_overages)
                    .bind(new.max_overages)
                    .bind(new.allow_negative)
                    .bind(new.reset_period.as_str())
                    .bind(new.floating_seats)
                    .bind(new.floating_lease_seconds)
                    .bind(to_json(&new.metadata)?)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("feature code already exists for this product", "product does not exist"))?;
                    let feature = feature_from_row(&row)?;
                    insert_event(&mut tx, event, Some(feature.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(feature)
                }

                async fn get_feature(&self, id: i64) -> Result<FeatureDefinition> {
                    sqlx::query(concat!("SELECT ", feature_cols!(), " FROM features WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .map(|r| feature_from_row(&r))
                        .transpose()?
                        .ok_or(StoreError::NotFound)
                }

                async fn list_features(&self, product_id: Option<i64>) -> Result<Vec<FeatureDefinition>> {
                    let found = sqlx::query(concat!(
                        "SELECT ",
                        feature_cols!(),
                        " FROM features WHERE ($1 IS NULL OR product_id = $1) ORDER BY id"
                    ))
                    .bind(product_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows(found, feature_from_row)
                }

                async fn update_feature(&self, feature: FeatureDefinition, event: EventDraft) -> Result<FeatureDefinition> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "UPDATE features SET code = $2, name = $3, feature_type = $4, max_consumptions = $5, \
                         allow_overages = $6, max_overages = $7, allow_negative = $8, reset_period = $9, \
                         floating_seats = $10, floating_lease_seconds = $11, metadata = $12 WHERE id = $1 RETURNING ",
                        feature_cols!()
                    ))
                    .bind(feature.id)
                    .bind(&feature.code)
                    .bind(&feature.name)
                    .bind(feature.feature_type.as_str())
                    .bind(feature.max_consumptions)
                    .bind(feature.allow_overages)
                    .bind(feature.max_overages)
                    .bind(feature.allow_negative)
                    .bind(feature.reset_period.as_str())
                    .bind(feature.floating_seats)
                    .bind(feature.floating_lease_seconds)
                    .bind(to_json(&feature.metadata)?)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(conflict("feature code already exists for this product", "feature reference"))?
                    .ok_or(StoreError::NotFound)?;
                    let updated = feature_from_row(&row)?;
                    insert_event(&mut tx, event, Some(updated.id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(updated)
                }

                async fn delete_feature(&self, id: i64, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query("DELETE FROM features WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("feature is still in use", "feature is granted to licenses"))?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event, Some(id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                // --- policies ---

                async fn create_policy(&self, new: NewPolicy, event: EventDraft, now: Millis) -> Result<Policy> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO policies (product_id, code, name, terms, duration_days, maintenance_days, features, \
                         metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING ",
                        policy_cols!()
                    ))
                    .bind(new.product_id)
                    .bind(&new.code)
                    .bind(&new.name)
                    .bind(to_json(&new.terms)?)
                    .bind(new.duration_days)
                    .bind(new.maintenance_days)
                    .bind(to_json(&new.features)?)
                    .bind(to_json(&new.metadata)?)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("policy code or name already exists for this product", "product does not exist"))?;
                    let policy = policy_from_row(&row)?;
                    insert_event(&mut tx, event, Some(policy.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(policy)
                }

                async fn get_policy(&self, id: i64) -> Result<Policy> {
                    sqlx::query(concat!("SELECT ", policy_cols!(), " FROM policies WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .map(|r| policy_from_row(&r))
                        .transpose()?
                        .ok_or(StoreError::NotFound)
                }

                async fn list_policies(&self, product_id: Option<i64>) -> Result<Vec<Policy>> {
                    let found = sqlx::query(concat!(
                        "SELECT ",
                        policy_cols!(),
                        " FROM policies WHERE ($1 IS NULL OR product_id = $1) ORDER BY id"
                    ))
                    .bind(product_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows(found, policy_from_row)
                }

                async fn update_policy(&self, policy: Policy, event: EventDraft, now: Millis) -> Result<Policy> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "UPDATE policies SET code = $2, name = $3, terms = $4, duration_days = $5, maintenance_days = $6, \
                         features = $7, metadata = $8, updated_at = $9 WHERE id = $1 RETURNING ",
                        policy_cols!()
                    ))
                    .bind(policy.id)
                    .bind(&policy.code)
                    .bind(&policy.name)
                    .bind(to_json(&policy.terms)?)
                    .bind(policy.duration_days)
                    .bind(policy.maintenance_days)
                    .bind(to_json(&policy.features)?)
                    .bind(to_json(&policy.metadata)?)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(conflict("policy code or name already exists for this product", "policy reference"))?
                    .ok_or(StoreError::NotFound)?;
                    let updated = policy_from_row(&row)?;
                    insert_event(&mut tx, event, Some(updated.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(updated)
                }

                async fn delete_policy(&self, id: i64, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query("DELETE FROM policies WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("policy is still in use", "policy has licenses"))?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event, Some(id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                // --- customers and license users ---

                async fn create_customer(&self, new: NewCustomer, event: EventDraft, now: Millis) -> Result<Customer> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO customers (email, name, company, reference, metadata, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                        customer_cols!()
                    ))
                    .bind(&new.email)
                    .bind(&new.name)
                    .bind(&new.company)
                    .bind(&new.reference)
                    .bind(to_json(&new.metadata)?)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("customer email already exists", "customer reference"))?;
                    let customer = customer_from_row(&row)?;
                    insert_event(&mut tx, event, Some(customer.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(customer)
                }

                async fn get_customer(&self, id: i64) -> Result<Customer> {
                    ReadCache::through(read_cache(self), |cache| &cache.customers, id, async {
                        sqlx::query(concat!("SELECT ", customer_cols!(), " FROM customers WHERE id = $1"))
                            .bind(id)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(db_err)?
                            .map(|r| customer_from_row(&r))
                            .transpose()?
                            .ok_or(StoreError::NotFound)
                    })
                    .await
                }

                async fn list_customers(&self, page: Page) -> Result<Vec<Customer>> {
                    let found = sqlx::query(concat!("SELECT ", customer_cols!(), " FROM customers WHERE id > $1 ORDER BY id LIMIT $2"))
                        .bind(after(&page))
                        .bind(page.clamped_limit())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                    rows(found, customer_from_row)
                }

                async fn update_customer(&self, customer: Customer, event: EventDraft) -> Result<Customer> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "UPDATE customers SET email = $2, name = $3, company = $4, reference = $5, metadata = $6 \
                         WHERE id = $1 RETURNING ",
                        customer_cols!()
                    ))
                    .bind(customer.id)
                    .bind(&customer.email)
                    .bind(&customer.name)
                    .bind(&customer.company)
                    .bind(&customer.reference)
                    .bind(to_json(&customer.metadata)?)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(conflict("customer email already exists", "customer reference"))?
                    .ok_or(StoreError::NotFound)?;
                    let updated = customer_from_row(&row)?;
                    insert_event(&mut tx, event, Some(updated.id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(updated)
                }

                async fn delete_customer(&self, id: i64, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query("DELETE FROM customers WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("customer is still in use", "customer has licenses or license users"))?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event, Some(id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn create_license_user(&self, new: NewLicenseUser, event: EventDraft, now: Millis) -> Result<LicenseUser> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO license_users (customer_id, email, name, password_hash, created_at) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING ",
                        user_cols!()
                    ))
                    .bind(new.customer_id)
                    .bind(&new.email)
                    .bind(&new.name)
                    .bind(&new.password_hash)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("license user email already exists", "customer does not exist"))?;
                    let user = user_from_row(&row)?;
                    insert_event(&mut tx, event, Some(user.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(user)
                }

                async fn get_license_user(&self, id: i64) -> Result<LicenseUser> {
                    sqlx::query(concat!("SELECT ", user_cols!(), " FROM license_users WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .map(|r| user_from_row(&r))
                        .transpose()?
                        .ok_or(StoreError::NotFound)
                }

                async fn find_license_user_by_email(&self, email: &str) -> Result<Option<LicenseUser>> {
                    sqlx::query(concat!("SELECT ", user_cols!(), " FROM license_users WHERE email = $1"))
                        .bind(email)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .map(|r| user_from_row(&r))
                        .transpose()
                }

                async fn list_license_users(&self, customer_id: Option<i64>, page: Page) -> Result<Vec<LicenseUser>> {
                    let found = sqlx::query(concat!(
                        "SELECT ",
                        user_cols!(),
                        " FROM license_users WHERE ($1 IS NULL OR customer_id = $1) AND id > $2 ORDER BY id LIMIT $3"
                    ))
                    .bind(customer_id)
                    .bind(after(&page))
                    .bind(page.clamped_limit())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows(found, user_from_row)
                }

                async fn set_license_user_password(&self, id: i64, password_hash: &str, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query("UPDATE license_users SET password_hash = $2 WHERE id = $1")
                        .bind(id)
                        .bind(password_hash)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event, Some(id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn delete_license_user(&self, id: i64, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query("DELETE FROM license_users WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("license user is still in use", "license user is still in use"))?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event, Some(id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn assign_license_user(&self, license_id: i64, user_id: i64, event: EventDraft, now: Millis) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let license =
                        lock_license(&mut tx, &*self.codec, &LicenseRef::Id(license_id)).await?.ok_or(StoreError::NotFound)?;
                    let user_exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM license_users WHERE id = $1")
                        .bind(user_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if user_exists == 0 {
                        return Err(StoreError::NotFound);
                    }
                    let already: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM license_user_assignments WHERE license_id = $1 AND user_id = $2")
                            .bind(license_id)
                            .bind(user_id)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    if already > 0 {
                        // Assigning twice is a no-op, not a second seat.
                        return Ok(());
                    }
                    if license.terms.max_users.is_some() {
                        let assigned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM license_user_assignments WHERE license_id = $1")
                            .bind(license_id)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        rules::check_user_assignment(&license, assigned)?;
                    }
                    sqlx::query("INSERT INTO license_user_assignments (license_id, user_id, created_at) VALUES ($1, $2, $3)")
                        .bind(license_id)
                        .bind(user_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("license user is already assigned", "license or license user does not exist"))?;
                    insert_event(&mut tx, event, Some(license_id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn unassign_license_user(&self, license_id: i64, user_id: i64, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query("DELETE FROM license_user_assignments WHERE license_id = $1 AND user_id = $2")
                        .bind(license_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event, Some(license_id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn users_of_license(&self, license_id: i64) -> Result<Vec<LicenseUser>> {
                    let found = sqlx::query(
                        "SELECT u.id, u.customer_id, u.email, u.name, u.password_hash, u.created_at \
                         FROM license_user_assignments a JOIN license_users u ON u.id = a.user_id \
                         WHERE a.license_id = $1 ORDER BY u.id",
                    )
                    .bind(license_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows(found, user_from_row)
                }

                // --- licenses ---

                async fn create_licenses(&self, new: Vec<NewLicense>, event: EventDraft, now: Millis) -> Result<Vec<License>> {
                    if new.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut tx = begin_write(self).await?;
                    let mut codes_by_product: HashMap<i64, HashMap<String, (i64, ResetPeriod)>> = HashMap::new();
                    let mut created = Vec::with_capacity(new.len());
                    for item in new {
                        let period = item.terms.consumption.as_ref().map(|c| c.reset_period);
                        let (digest, sealed) = match &item.key {
                            Some(key) => (Some(self.codec.digest(key.as_bytes())), Some(self.codec.seal(key.as_bytes(), LICENSE_KEY))),
                            None => (None, None),
                        };
                        let row = sqlx::query(concat!(
                            "INSERT INTO licenses (product_id, policy_id, customer_id, key_digest, key_sealed, status, assignment, \
                             terms, starts_at, expires_at, maintenance_expires_at, trial_days, transfer_count, deactivation_count, \
                             consumption_used, consumption_period_start, order_ref, metadata, lock_version, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, 0, 0, $13, $14, $15, 0, $16, $16) RETURNING ",
                            license_cols!()
                        ))
                        .bind(item.product_id)
                        .bind(item.policy_id)
                        .bind(item.customer_id)
                        .bind(digest)
                        .bind(sealed)
                        .bind(item.status.as_str())
                        .bind(item.assignment.as_str())
                        .bind(to_json(&item.terms)?)
                        .bind(item.starts_at)
                        .bind(item.expires_at)
                        .bind(item.maintenance_expires_at)
                        .bind(item.trial_days)
                        .bind(initial_period_start(period, now))
                        .bind(&item.order_ref)
                        .bind(to_json(&item.metadata)?)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(conflict("license key already exists", "product, policy or customer does not exist"))?;
                        let license = license_from_row(&row, &*self.codec)?;
                        if !item.features.is_empty() {
                            if !codes_by_product.contains_key(&item.product_id) {
                                let codes = feature_codes(&mut tx, item.product_id).await?;
                                codes_by_product.insert(item.product_id, codes);
                            }
                            let codes = codes_by_product.get(&item.product_id).ok_or(StoreError::NotFound)?;
                            for grant in &item.features {
                                let feature = resolve_grant(codes, &grant.code)?;
                                upsert_grant(&mut tx, license.id, feature, &grant.overrides, now).await?;
                            }
                        }
                        created.push(license);
                    }
                    let subject = match created.as_slice() {
                        [only] => Some(only.id),
                        _ => None,
                    };
                    insert_event(&mut tx, event, subject, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(created)
                }

                async fn get_license(&self, id: i64) -> Result<License> {
                    let mut conn = self.pool.acquire().await.map_err(db_err)?;
                    read_license(&mut conn, &*self.codec, &LicenseRef::Id(id)).await?.ok_or(StoreError::NotFound)
                }

                async fn find_license_by_key(&self, key: &str) -> Result<Option<License>> {
                    let digest = self.codec.digest(key.as_bytes());
                    ReadCache::through(read_cache(self), |cache| &cache.licenses_by_key, digest, async {
                        let mut conn = self.pool.acquire().await.map_err(db_err)?;
                        read_license(&mut conn, &*self.codec, &LicenseRef::Key(key.to_owned())).await
                    })
                    .await
                }

                async fn list_licenses(&self, filter: LicenseFilter, page: Page) -> Result<Vec<License>> {
                    let mut query = sqlx::QueryBuilder::<Db>::new(concat!("SELECT ", license_cols!(), " FROM licenses WHERE id > "));
                    query.push_bind(after(&page));
                    if let Some(product_id) = filter.product_id {
                        query.push(" AND product_id = ").push_bind(product_id);
                    }
                    if let Some(policy_id) = filter.policy_id {
                        query.push(" AND policy_id = ").push_bind(policy_id);
                    }
                    if let Some(customer_id) = filter.customer_id {
                        query.push(" AND customer_id = ").push_bind(customer_id);
                    }
                    if let Some(status) = filter.status {
                        query.push(" AND status = ").push_bind(status.as_str());
                    }
                    if let Some(order_ref) = filter.order_ref {
                        query.push(" AND order_ref = ").push_bind(order_ref);
                    }
                    query.push(" ORDER BY id LIMIT ").push_bind(page.clamped_limit());
                    let found = query.build().fetch_all(&self.pool).await.map_err(db_err)?;
                    rows(found, |r| license_from_row(r, &*self.codec))
                }

                async fn edit_license(&self, id: i64, edit: LicenseEdit, event: EventDraft, now: Millis) -> Result<License> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "UPDATE licenses SET policy_id = $2, customer_id = $3, status = $4, assignment = $5, terms = $6, \
                         starts_at = $7, expires_at = $8, maintenance_expires_at = $9, trial_days = $10, order_ref = $11, \
                         metadata = $12, updated_at = $13 WHERE id = $1 RETURNING ",
                        license_cols!()
                    ))
                    .bind(id)
                    .bind(edit.policy_id)
                    .bind(edit.customer_id)
                    .bind(edit.status.as_str())
                    .bind(edit.assignment.as_str())
                    .bind(to_json(&edit.terms)?)
                    .bind(edit.starts_at)
                    .bind(edit.expires_at)
                    .bind(edit.maintenance_expires_at)
                    .bind(edit.trial_days)
                    .bind(&edit.order_ref)
                    .bind(to_json(&edit.metadata)?)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(conflict("license conflicts with an existing one", "policy or customer does not exist"))?
                    .ok_or(StoreError::NotFound)?;
                    let license = license_from_row(&row, &*self.codec)?;
                    if let Some(grants) = &edit.features {
                        let codes = feature_codes(&mut tx, license.product_id).await?;
                        let mut keep = Vec::with_capacity(grants.len());
                        for grant in grants {
                            keep.push((resolve_grant(&codes, &grant.code)?, &grant.overrides));
                        }
                        let granted: Vec<i64> = sqlx::query_scalar("SELECT feature_id FROM license_features WHERE license_id = $1")
                            .bind(id)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        for feature_id in granted {
                            if !keep.iter().any(|((kept, _), _)| *kept == feature_id) {
                                sqlx::query("DELETE FROM license_features WHERE license_id = $1 AND feature_id = $2")
                                    .bind(id)
                                    .bind(feature_id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(db_err)?;
                            }
                        }
                        for (feature, overrides) in keep {
                            upsert_grant(&mut tx, id, feature, overrides, now).await?;
                        }
                    }
                    insert_event(&mut tx, event, Some(id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(license)
                }

                async fn delete_license(&self, id: i64, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query("DELETE FROM licenses WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("license is still in use", "license is still in use"))?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event, Some(id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn license_features(&self, license_id: i64) -> Result<Vec<LicenseFeature>> {
                    ReadCache::through(read_cache(self), |cache| &cache.license_features, license_id, async {
                        let mut conn = self.pool.acquire().await.map_err(db_err)?;
                        features_of(&mut conn, license_id).await
                    })
                    .await
                }

                // --- devices ---

                async fn list_devices(&self, license_id: i64) -> Result<Vec<Device>> {
                    let found = sqlx::query(concat!("SELECT ", device_cols!(), " FROM devices WHERE license_id = $1 ORDER BY id"))
                        .bind(license_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                    rows(found, device_from_row)
                }

                async fn get_device(&self, id: i64) -> Result<Device> {
                    let mut conn = self.pool.acquire().await.map_err(db_err)?;
                    device_by_id(&mut conn, id).await
                }

                async fn block_device(&self, new: NewBlockedDevice, event: EventDraft, now: Millis) -> Result<BlockedDevice> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO blocked_devices (product_id, fingerprint, reason, created_at) VALUES ($1, $2, $3, $4) RETURNING ",
                        blocked_cols!()
                    ))
                    .bind(new.product_id)
                    .bind(&new.fingerprint)
                    .bind(&new.reason)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("device fingerprint is already blocked", "product does not exist"))?;
                    let blocked = blocked_from_row(&row)?;
                    insert_event(&mut tx, event, Some(blocked.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(blocked)
                }

                async fn unblock_device(&self, id: i64, event: EventDraft) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query("DELETE FROM blocked_devices WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event, Some(id), wall_now()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn list_blocked_devices(&self, product_id: Option<i64>) -> Result<Vec<BlockedDevice>> {
                    let found = sqlx::query(concat!(
                        "SELECT ",
                        blocked_cols!(),
                        " FROM blocked_devices WHERE ($1 IS NULL OR product_id = $1) ORDER BY id"
                    ))
                    .bind(product_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows(found, blocked_from_row)
                }

                // --- client credentials ---

                async fn create_credential(&self, new: NewCredential, event: EventDraft, now: Millis) -> Result<Credential> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO credentials (dialect, name, key_id, secret_digest, secret_sealed, product_id, read_only, \
                         ip_allowlist, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
                        credential_cols!()
                    ))
                    .bind(new.dialect.as_str())
                    .bind(&new.name)
                    .bind(&new.key_id)
                    .bind(self.codec.digest(new.secret.as_bytes()))
                    .bind(self.codec.seal(new.secret.as_bytes(), CREDENTIAL))
                    .bind(new.product_id)
                    .bind(new.read_only)
                    .bind(to_json(&new.ip_allowlist)?)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("credential key id already exists for this dialect", "product does not exist"))?;
                    let credential = credential_from_row(&row)?;
                    insert_event(&mut tx, event, Some(credential.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(credential)
                }

                async fn list_credentials(&self, dialect: Option<Dialect>) -> Result<Vec<Credential>> {
                    let found = sqlx::query(concat!(
                        "SELECT ",
                        credential_cols!(),
                        " FROM credentials WHERE ($1 IS NULL OR dialect = $1) ORDER BY id"
                    ))
                    .bind(dialect.map(Dialect::as_str))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows(found, credential_from_row)
                }

                async fn revoke_credential(&self, id: i64, event: EventDraft, now: Millis) -> Result<Credential> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "UPDATE credentials SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ",
                        credential_cols!()
                    ))
                    .bind(id)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    let credential = credential_from_row(&row)?;
                    insert_event(&mut tx, event, Some(id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(credential)
                }

                async fn find_credential(&self, dialect: Dialect, key_id: &str) -> Result<Option<(Credential, String)>> {
                    ReadCache::through(read_cache(self), |cache| &cache.credentials, (dialect, key_id.to_owned()), async {
                        let Some(row) = sqlx::query(concat!(
                            "SELECT ",
                            credential_cols!(),
                            " FROM credentials WHERE dialect = $1 AND key_id = $2"
                        ))
                        .bind(dialect.as_str())
                        .bind(key_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        else {
                            return Ok(None);
                        };
                        let secret = open_text(&*self.codec, &get::<Vec<u8>>(&row, "secret_sealed")?, CREDENTIAL)?;
                        Ok(Some((credential_from_row(&row)?, secret)))
                    })
                    .await
                }

                // --- client commands ---

                async fn validate(&self, license: LicenseRef, fingerprint: Option<&str>, now: Millis) -> Result<ValidationReport> {
                    let key = CacheKey::new(&license, fingerprint, &*self.codec);
                    let inputs = ReadCache::through(
                        read_cache(self),
                        |cache| &cache.validation,
                        key,
                        read_validation_inputs(self, &license, fingerprint),
                    )
                    .await?;
                    Ok(inputs.report(fingerprint, now))
                }

                async fn activate(
                    &self,
                    license: LicenseRef,
                    device: DeviceInfo,
                    user_id: Option<i64>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Activation> {
                    let codec = &*self.codec;
                    if let Some(writer) = sqlite_writer(self) {
                        let codec = self.codec.clone();
                        return writer
                            .run(move |conn| direct::activate(conn, &*codec, &license, &device, user_id, event, now))
                            .await;
                    }
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    let activation = activate_locked(&mut tx, codec, license, &device, user_id, event, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(activation)
                }

                async fn activate_many(
                    &self,
                    license_ids: &[i64],
                    device: DeviceInfo,
                    user_id: Option<i64>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Vec<Activation>> {
                    let codec = &*self.codec;
                    let mut ids = license_ids.to_vec();
                    ids.sort_unstable();
                    ids.dedup();
                    let mut tx = begin_write(self).await?;
                    // Every lock first, in ascending id order: two bundles sharing licenses then
                    // always lock in the same order, so PostgreSQL cannot deadlock them.
                    let mut locked = Vec::with_capacity(ids.len());
                    for id in &ids {
                        locked.push(lock_license_or_deny(&mut tx, codec, &LicenseRef::Id(*id)).await?);
                    }
                    let mut activations = Vec::with_capacity(locked.len());
                    for license in locked {
                        // A refusal returns here and drops `tx`, rolling back every earlier member.
                        let activation =
                            activate_locked(&mut tx, codec, license, &device, user_id, event.clone(), now).await?;
                        activations.push(activation);
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(activations)
                }

                async fn activate_moving(
                    &self,
                    license_id: i64,
                    release_from: &[i64],
                    device: DeviceInfo,
                    user_id: Option<i64>,
                    event: EventDraft,
                    release_event: EventDraft,
                    now: Millis,
                ) -> Result<Activation> {
                    let codec = &*self.codec;
                    let mut ids: Vec<i64> = release_from.iter().copied().filter(|id| *id != license_id).collect();
                    ids.push(license_id);
                    ids.sort_unstable();
                    ids.dedup();
                    let mut tx = begin_write(self).await?;
                    // Same ascending lock order as `activate_many`.
                    let mut target = None;
                    let mut released = Vec::new();
                    for id in &ids {
                        let license = lock_license_or_deny(&mut tx, codec, &LicenseRef::Id(*id)).await?;
                        if *id == license_id {
                            target = Some(license);
                        } else {
                            released.push(license);
                        }
                    }
                    for license in released {
                        let existing = device_by_fingerprint(&mut tx, license.id, &device.fingerprint).await?;
                        let Some(existing) = existing.filter(Device::is_active) else {
                            continue;
                        };
                        let (retired, license) = retire_device(&mut tx, codec, &existing, now).await?;
                        let subject = if release_event.subject_type == "device" { retired.id } else { license.id };
                        insert_event(&mut tx, release_event.clone(), Some(subject), now).await?;
                    }
                    let target = target.ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                    // A refusal returns here and drops `tx`: nothing was released.
                    let activation = activate_locked(&mut tx, codec, target, &device, user_id, event, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(activation)
                }

                async fn deactivate(&self, license: LicenseRef, fingerprint: &str, event: EventDraft, now: Millis) -> Result<License> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    let existing = device_by_fingerprint(&mut tx, license.id, fingerprint).await?;
                    rules::check_deactivation(existing.as_ref())?;
                    let Some(existing) = existing else {
                        return Err(StoreError::Denied(Denial::DeviceNotActivated));
                    };
                    let (device, license) = retire_device(&mut tx, codec, &existing, now).await?;
                    let subject = if event.subject_type == "device" { device.id } else { license.id };
                    insert_event(&mut tx, event, Some(subject), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(license)
                }

                async fn deactivate_many(
                    &self,
                    license_ids: &[i64],
                    fingerprint: &str,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Vec<License>> {
                    let codec = &*self.codec;
                    let mut ids = license_ids.to_vec();
                    ids.sort_unstable();
                    ids.dedup();
                    let mut tx = begin_write(self).await?;
                    // Same ascending lock order as `activate_many`.
                    let mut locked = Vec::with_capacity(ids.len());
                    for id in &ids {
                        locked.push(lock_license_or_deny(&mut tx, codec, &LicenseRef::Id(*id)).await?);
                    }
                    let mut released = Vec::with_capacity(locked.len());
                    for license in locked {
                        let existing = device_by_fingerprint(&mut tx, license.id, fingerprint).await?;
                        // A license the device is not active on (released on its own earlier) is
                        // skipped, so the group can always be released as a whole.
                        let Some(existing) = existing.filter(Device::is_active) else {
                            continue;
                        };
                        let (device, license) = retire_device(&mut tx, codec, &existing, now).await?;
                        let subject = if event.subject_type == "device" { device.id } else { license.id };
                        insert_event(&mut tx, event.clone(), Some(subject), now).await?;
                        released.push(license);
                    }
                    if released.is_empty() {
                        return Err(StoreError::Denied(Denial::DeviceNotActivated));
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(released)
                }

                async fn deactivate_device(&self, device_id: i64, event: EventDraft, now: Millis) -> Result<Device> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    // Lock the device's license first, like every other device change.
                    let row = sqlx::query(concat!(
                        "UPDATE licenses SET lock_version = lock_version + 1 \
                         WHERE id = (SELECT license_id FROM devices WHERE id = $1) RETURNING ",
                        license_cols!()
                    ))
                    .bind(device_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if row.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    let existing = device_by_id(&mut tx, device_id).await?;
                    rules::check_deactivation(Some(&existing))?;
                    let (device, _) = retire_device(&mut tx, codec, &existing, now).await?;
                    insert_event(&mut tx, event, Some(device.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(device)
                }

                async fn consume(
                    &self,
                    license: LicenseRef,
                    amount: i64,
                    idempotency_key: Option<String>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<ConsumptionOutcome> {
                    let codec = &*self.codec;
                    if let Some(writer) = sqlite_writer(self) {
                        let codec = self.codec.clone();
                        return writer
                            .run(move |conn| direct::consume(conn, &*codec, &license, amount, idempotency_key, event, now))
                            .await;
                    }
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    if let Some(key) = &idempotency_key
                        && let Some(earlier) = replayed_consumption(&mut tx, license.id, key).await?
                    {
                        // Dropping the transaction rolls back even the lock bump: a replay writes nothing.
                        drop(tx);
                        let total = earlier.total_after;
                        return Ok(ConsumptionOutcome { license, event: earlier, total, replayed: true });
                    }
                    let product = product_of(&mut tx, &license).await?;
                    let counter = rules::plan_consumption(&product, &license, amount, now)?;
                    let row = sqlx::query(SET_CONSUMPTION)
                    .bind(license.id)
                    .bind(counter.used)
                    .bind(counter.period_start)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let license = license_from_row(&row, codec)?;
                    let consumed = insert_consumption(&mut tx, license.id, None, amount, counter.used, idempotency_key, now).await?;
                    insert_event(&mut tx, event, Some(license.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(ConsumptionOutcome { license, event: consumed, total: counter.used, replayed: false })
                }

                async fn consume_feature(
                    &self,
                    license: LicenseRef,
                    feature_code: &str,
                    amount: i64,
                    idempotency_key: Option<String>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<ConsumptionOutcome> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    if let Some(key) = &idempotency_key
                        && let Some(earlier) = replayed_consumption(&mut tx, license.id, key).await?
                    {
                        drop(tx);
                        let total = earlier.total_after;
                        return Ok(ConsumptionOutcome { license, event: earlier, total, replayed: true });
                    }
                    let product = product_of(&mut tx, &license).await?;
                    let feature = sqlx::query(concat!(license_feature_select!(), "WHERE lf.license_id = $1 AND f.code = $2"))
                        .bind(license.id)
                        .bind(feature_code)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .map(|r| license_feature_from_row(&r))
                        .transpose()?
                        .ok_or(StoreError::Denied(Denial::FeatureNotFound))?;
                    let counter = rules::plan_feature_consumption(&product, &license, &feature, amount, now)?;
                    sqlx::query("UPDATE license_features SET consumption_used = $3, period_start = $4 WHERE license_id = $1 AND feature_id = $2")
                        .bind(license.id)
                        .bind(feature.definition.id)
                        .bind(counter.used)
                        .bind(counter.period_start)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let consumed =
                        insert_consumption(&mut tx, license.id, Some(feature.definition.id), amount, counter.used, idempotency_key, now)
                            .await?;
                    insert_event(&mut tx, event, Some(license.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(ConsumptionOutcome { license, event: consumed, total: counter.used, replayed: false })
                }

                async fn checkout_lease(
                    &self,
                    license: LicenseRef,
                    fingerprint: &str,
                    borrow_until: Option<Millis>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<FloatingLease> {
                    let codec = &*self.codec;
                    if let Some(writer) = sqlite_writer(self) {
                        let codec = self.codec.clone();
                        let fingerprint = fingerprint.to_owned();
                        return writer
                            .run(move |conn| {
                                direct::checkout_lease(conn, &*codec, &license, &fingerprint, borrow_until, event, now)
                            })
                            .await;
                    }
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    let product = product_of(&mut tx, &license).await?;
                    sqlx::query(DROP_DEAD_LEASES)
                    .bind(license.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let other_live_leases: i64 = sqlx::query_scalar(OTHER_LEASES)
                    .bind(license.id)
                    .bind(fingerprint)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let own = own_lease(&mut tx, license.id, fingerprint).await?;
                    let blocked = is_blocked(&mut tx, product.id, fingerprint).await?;
                    let state = rules::LeaseState {
                        product: &product,
                        license: &license,
                        fingerprint,
                        blocked,
                        other_live_leases,
                        own_lease: own.as_ref(),
                        borrow_until,
                    };
                    let plan = rules::plan_lease(&state, now)?;
                    let row = match &own {
                        Some(own) => sqlx::query(RENEW_LEASE)
                        .bind(own.id)
                        .bind(plan.expires_at)
                        .bind(plan.borrowed_until)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?,
                        None => sqlx::query(INSERT_LEASE)
                        .bind(license.id)
                        .bind(fingerprint)
                        .bind(plan.expires_at)
                        .bind(plan.borrowed_until)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?,
                    };
                    let lease = lease_from_row(&row)?;
                    insert_event(&mut tx, event, Some(license.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(lease)
                }

                async fn release_lease(&self, license: LicenseRef, fingerprint: &str, event: EventDraft, now: Millis) -> Result<()> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    let own = own_lease(&mut tx, license.id, fingerprint).await?;
                    rules::check_release(own.as_ref(), now, Denial::DeviceNotActivated)?;
                    if let Some(own) = own {
                        sqlx::query("DELETE FROM floating_leases WHERE id = $1")
                            .bind(own.id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    }
                    insert_event(&mut tx, event, Some(license.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn live_leases(&self, license_id: i64, now: Millis) -> Result<Vec<FloatingLease>> {
                    if let Some(cache) = read_cache(self) {
                        // Cached: every lease row of the license, filtered here by this request's clock
                        // exactly as the query below filters.
                        let all = ReadCache::through(Some(cache), |cache| &cache.leases, license_id, async {
                            let found = sqlx::query(concat!(
                                "SELECT ",
                                lease_cols!(),
                                " FROM floating_leases WHERE license_id = $1 ORDER BY id"
                            ))
                            .bind(license_id)
                            .fetch_all(&self.pool)
                            .await
                            .map_err(db_err)?;
                            rows(found, lease_from_row)
                        })
                        .await?;
                        return Ok(all
                            .into_iter()
                            .filter(|lease| lease.expires_at > now || lease.borrowed_until.is_some_and(|until| until > now))
                            .collect());
                    }
                    let found = sqlx::query(concat!(
                        "SELECT ",
                        lease_cols!(),
                        " FROM floating_leases WHERE license_id = $1 AND (expires_at > $2 OR borrowed_until > $2) ORDER BY id"
                    ))
                    .bind(license_id)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows(found, lease_from_row)
                }

                // --- event log ---

                async fn list_events(&self, filter: EventFilter, page: Page) -> Result<Vec<Event>> {
                    let mut query = sqlx::QueryBuilder::<Db>::new(concat!("SELECT ", event_cols!(), " FROM events WHERE id > "));
                    query.push_bind(after(&page));
                    if let Some(subject_type) = filter.subject_type {
                        query.push(" AND subject_type = ").push_bind(subject_type);
                    }
                    if let Some(subject_id) = filter.subject_id {
                        query.push(" AND subject_id = ").push_bind(subject_id);
                    }
                    if let Some(action) = filter.action {
                        query.push(" AND action = ").push_bind(action);
                    }
                    query.push(" ORDER BY id LIMIT ").push_bind(page.clamped_limit());
                    let found = query.build().fetch_all(&self.pool).await.map_err(db_err)?;
                    rows(found, event_from_row)
                }
            }
        }
    };
}

pub(crate) use impl_store;

#[cfg(test)]
mod tests;
