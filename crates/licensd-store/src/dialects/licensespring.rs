//! Storage the LicenseSpring dialect brings into the domain: floating *feature* seats (checkout,
//! borrow and release of one feature of a floating-cloud license), device variables, and the lookups user-based
//! licensing needs (a user's licenses, a customer by e-mail). Feature seats live in the core
//! `floating_leases` table (`feature_id` set). Product versions and installation files have their
//! own table (`ls_product_versions`, migration 100).
//! Migrations use versions 100–199; files live in migrations/{sqlite,postgres}/.
//!
//! Like the core client commands, each write runs in one transaction whose first statement locks
//! the license row (`BEGIN IMMEDIATE` on SQLite), so the seat count read next is exact.

use crate::migrate::Migration;
use crate::sql::{conflict, db_err};
use crate::{CoreStore, PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::product_version::ProductVersion;
use licensd_domain::{Denial, EventDraft, FloatingLease, LicenseFeature, Millis, feature_borrow, rules};

pub(crate) const SQLITE_MIGRATIONS: &[Migration] = &[Migration {
    version: 100,
    name: "licensespring",
    sql: include_str!("../../migrations/sqlite/0100_licensespring.sql"),
}];
pub(crate) const POSTGRES_MIGRATIONS: &[Migration] = &[Migration {
    version: 100,
    name: "licensespring",
    sql: include_str!("../../migrations/postgres/0100_licensespring.sql"),
}];

/// A product version to record (see `licensd_domain::product_version::ProductVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProductVersion {
    pub product_id: i64,
    pub version: String,
    pub environment: Option<String>,
    pub channel: Option<String>,
    pub release_date: Millis,
    pub download_url: String,
    pub hash_md5: Option<String>,
    pub size: Option<i64>,
    pub eula_link: Option<String>,
    pub release_notes_link: Option<String>,
    pub requires_version: Option<String>,
    pub enabled: bool,
}

#[async_trait::async_trait]
pub trait LicenseSpringStore: Send + Sync + 'static {
    /// Checks out or renews this device's seat on a floating feature of the license, borrowing it
    /// until `borrow_until` when given (`feature_borrow::plan_feature_borrow` decides). Denied with
    /// `FeatureNotFound` when the license does not grant the feature; NotFound without the license.
    async fn checkout_feature_lease(
        &self,
        license_id: i64,
        feature_code: &str,
        fingerprint: &str,
        borrow_until: Option<Millis>,
        event: EventDraft,
        now: Millis,
    ) -> Result<FloatingLease>;

    /// Merges `variables` (an object of name → value) into the variables of the license's active
    /// device with this fingerprint, under the license lock; returns the device's variables after.
    /// Denied with `DeviceNotActivated` when no such active device exists.
    async fn track_device_variables(
        &self,
        license_id: i64,
        fingerprint: &str,
        variables: serde_json::Map<String, serde_json::Value>,
        event: EventDraft,
        now: Millis,
    ) -> Result<(i64, serde_json::Value)>;

    /// Records a product version; Conflict when the product already has this version for the same
    /// environment and channel, or the product does not exist.
    async fn create_product_version(
        &self,
        new: NewProductVersion,
        event: EventDraft,
        now: Millis,
    ) -> Result<ProductVersion>;
    /// The product's versions, in id order.
    async fn list_product_versions(&self, product_id: i64) -> Result<Vec<ProductVersion>>;
    /// NotFound when there is no such version.
    async fn delete_product_version(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;

    /// Ids of the licenses a license user is assigned to, in id order.
    async fn license_ids_of_user(&self, user_id: i64) -> Result<Vec<i64>>;

    /// The id of the customer with this e-mail, if any.
    async fn customer_id_by_email(&self, email: &str) -> Result<Option<i64>>;

    /// Frees this device's seat on the feature: `FeatureNotFloating` for a feature without seats,
    /// `FeatureNotInUse` when the device holds no live seat.
    async fn release_feature_lease(
        &self,
        license_id: i64,
        feature_code: &str,
        fingerprint: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
}

fn granted(features: Vec<LicenseFeature>, code: &str) -> Result<LicenseFeature> {
    features
        .into_iter()
        .find(|feature| feature.definition.code == code)
        .ok_or(StoreError::Denied(Denial::FeatureNotFound))
}

macro_rules! version_cols {
    () => {
        "id, product_id, version, environment, channel, release_date, download_url, hash_md5, size, eula_link, \
         release_notes_link, requires_version, enabled, created_at"
    };
}

/// Implements `LicenseSpringStore` for one backend; `$begin` opens a transaction whose first
/// statement's lock is held to commit.
macro_rules! impl_licensespring_store {
    ($store:ty, $row:ty, $conn:ty, $begin:literal) => {
        #[async_trait::async_trait]
        impl LicenseSpringStore for $store {
            async fn checkout_feature_lease(
                &self,
                license_id: i64,
                feature_code: &str,
                fingerprint: &str,
                borrow_until: Option<Millis>,
                event: EventDraft,
                now: Millis,
            ) -> Result<FloatingLease> {
                // The license, product and feature grant (terms, not counters) are read first;
                // the seats, which are the limit, are counted after the lock.
                let license = self.get_license(license_id).await?;
                let product = self.get_product(license.product_id).await?;
                let feature = granted(self.license_features(license_id).await?, feature_code)?;
                let feature_id = feature.definition.id;
                let mut tx = self.pool.begin_with($begin).await.map_err(db_err)?;
                lock_license(&mut tx, license_id).await?;
                sqlx::query(
                    "DELETE FROM floating_leases WHERE license_id = $1 AND feature_id = $2 AND expires_at <= $3 \
                     AND (borrowed_until IS NULL OR borrowed_until <= $3)",
                )
                .bind(license_id)
                .bind(feature_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let others: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM floating_leases WHERE license_id = $1 AND feature_id = $2 AND fingerprint <> $3",
                )
                .bind(license_id)
                .bind(feature_id)
                .bind(fingerprint)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let own = own_feature_lease(&mut tx, license_id, feature_id, fingerprint).await?;
                let plan = feature_borrow::plan_feature_borrow(
                    &product,
                    &license,
                    &feature,
                    others,
                    own.as_ref(),
                    borrow_until,
                    now,
                )?;
                // A renewal keeps an earlier borrow that has not ended.
                let borrowed_until = plan.borrowed_until.or_else(|| {
                    own.as_ref()
                        .and_then(|lease| lease.borrowed_until)
                        .filter(|until| *until > now)
                });
                let row: $row = match &own {
                    Some(own) => sqlx::query(
                        "UPDATE floating_leases SET expires_at = $2, borrowed_until = $3 WHERE id = $1 \
                         RETURNING id, license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at",
                    )
                    .bind(own.id)
                    .bind(plan.expires_at)
                    .bind(borrowed_until)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?,
                    None => sqlx::query(
                        "INSERT INTO floating_leases (license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         RETURNING id, license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at",
                    )
                    .bind(license_id)
                    .bind(feature_id)
                    .bind(fingerprint)
                    .bind(plan.expires_at)
                    .bind(borrowed_until)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?,
                };
                let lease = lease_from_row(&row)?;
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(lease)
            }

            async fn track_device_variables(
                &self,
                license_id: i64,
                fingerprint: &str,
                variables: serde_json::Map<String, serde_json::Value>,
                event: EventDraft,
                now: Millis,
            ) -> Result<(i64, serde_json::Value)> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db_err)?;
                lock_license(&mut tx, license_id).await?;
                let device: Option<(i64, String)> = sqlx::query_as(
                    "SELECT id, variables FROM devices WHERE license_id = $1 AND fingerprint = $2 AND deactivated_at IS NULL",
                )
                .bind(license_id)
                .bind(fingerprint)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some((device_id, stored)) = device else {
                    return Err(StoreError::Denied(Denial::DeviceNotActivated));
                };
                let mut merged = match serde_json::from_str::<serde_json::Value>(&stored) {
                    Ok(serde_json::Value::Object(map)) => map,
                    Ok(serde_json::Value::Null) => serde_json::Map::new(),
                    Ok(_) | Err(_) => return Err(StoreError::Corrupt(format!("device {device_id} variables"))),
                };
                merged.extend(variables);
                let merged = serde_json::Value::Object(merged);
                let text = serde_json::to_string(&merged).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query("UPDATE devices SET variables = $2, last_seen_at = $3 WHERE id = $1")
                    .bind(device_id)
                    .bind(text)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok((device_id, merged))
            }

            async fn create_product_version(
                &self,
                new: NewProductVersion,
                event: EventDraft,
                now: Millis,
            ) -> Result<ProductVersion> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db_err)?;
                let row: $row = sqlx::query(concat!(
                    "INSERT INTO ls_product_versions (product_id, version, environment, channel, release_date, \
                     download_url, hash_md5, size, eula_link, release_notes_link, requires_version, enabled, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ",
                    version_cols!()
                ))
                .bind(new.product_id)
                .bind(new.version)
                .bind(new.environment)
                .bind(new.channel)
                .bind(new.release_date)
                .bind(new.download_url)
                .bind(new.hash_md5)
                .bind(new.size)
                .bind(new.eula_link)
                .bind(new.release_notes_link)
                .bind(new.requires_version)
                .bind(new.enabled)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict(
                    "the product already has this version for this environment and channel",
                    "product does not exist",
                ))?;
                let version = version_from_row(&row)?;
                insert_event(&mut tx, event, version.id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(version)
            }

            async fn list_product_versions(&self, product_id: i64) -> Result<Vec<ProductVersion>> {
                let rows: Vec<$row> = sqlx::query(concat!(
                    "SELECT ",
                    version_cols!(),
                    " FROM ls_product_versions WHERE product_id = $1 ORDER BY id"
                ))
                .bind(product_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter().map(version_from_row).collect()
            }

            async fn delete_product_version(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db_err)?;
                let deleted = sqlx::query("DELETE FROM ls_product_versions WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                if deleted == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_event(&mut tx, event, id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn license_ids_of_user(&self, user_id: i64) -> Result<Vec<i64>> {
                sqlx::query_scalar("SELECT license_id FROM license_user_assignments WHERE user_id = $1 ORDER BY license_id")
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)
            }

            async fn customer_id_by_email(&self, email: &str) -> Result<Option<i64>> {
                sqlx::query_scalar("SELECT id FROM customers WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
            }

            async fn release_feature_lease(
                &self,
                license_id: i64,
                feature_code: &str,
                fingerprint: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let feature = granted(self.license_features(license_id).await?, feature_code)?;
                if feature.floating_seats().is_none() {
                    return Err(StoreError::Denied(Denial::FeatureNotFloating));
                }
                let feature_id = feature.definition.id;
                let mut tx = self.pool.begin_with($begin).await.map_err(db_err)?;
                lock_license(&mut tx, license_id).await?;
                let own = own_feature_lease(&mut tx, license_id, feature_id, fingerprint).await?;
                rules::check_release(own.as_ref(), now, Denial::FeatureNotInUse)?;
                if let Some(own) = own {
                    sqlx::query("DELETE FROM floating_leases WHERE id = $1")
                        .bind(own.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }
        }

        async fn lock_license(conn: &mut $conn, license_id: i64) -> Result<()> {
            let locked: Option<i64> =
                sqlx::query_scalar("UPDATE licenses SET lock_version = lock_version + 1 WHERE id = $1 RETURNING id")
                    .bind(license_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            locked.map(|_| ()).ok_or(StoreError::NotFound)
        }

        async fn own_feature_lease(
            conn: &mut $conn,
            license_id: i64,
            feature_id: i64,
            fingerprint: &str,
        ) -> Result<Option<FloatingLease>> {
            let row: Option<$row> = sqlx::query(
                "SELECT id, license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at \
                 FROM floating_leases WHERE license_id = $1 AND feature_id = $2 AND fingerprint = $3",
            )
            .bind(license_id)
            .bind(feature_id)
            .bind(fingerprint)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            row.as_ref().map(lease_from_row).transpose()
        }

        fn version_from_row(row: &$row) -> Result<ProductVersion> {
            use sqlx::Row;
            let get = |e: sqlx::Error| StoreError::Corrupt(format!("product version: {e}"));
            Ok(ProductVersion {
                id: row.try_get("id").map_err(get)?,
                product_id: row.try_get("product_id").map_err(get)?,
                version: row.try_get("version").map_err(get)?,
                environment: row.try_get("environment").map_err(get)?,
                channel: row.try_get("channel").map_err(get)?,
                release_date: row.try_get("release_date").map_err(get)?,
                download_url: row.try_get("download_url").map_err(get)?,
                hash_md5: row.try_get("hash_md5").map_err(get)?,
                size: row.try_get("size").map_err(get)?,
                eula_link: row.try_get("eula_link").map_err(get)?,
                release_notes_link: row.try_get("release_notes_link").map_err(get)?,
                requires_version: row.try_get("requires_version").map_err(get)?,
                enabled: row.try_get("enabled").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
            })
        }

        fn lease_from_row(row: &$row) -> Result<FloatingLease> {
            use sqlx::Row;
            let get = |e: sqlx::Error| StoreError::Corrupt(format!("floating lease: {e}"));
            Ok(FloatingLease {
                id: row.try_get("id").map_err(get)?,
                license_id: row.try_get("license_id").map_err(get)?,
                feature_id: row.try_get("feature_id").map_err(get)?,
                fingerprint: row.try_get("fingerprint").map_err(get)?,
                expires_at: row.try_get("expires_at").map_err(get)?,
                borrowed_until: row.try_get("borrowed_until").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
            })
        }

        async fn insert_event(conn: &mut $conn, event: EventDraft, subject: i64, now: Millis) -> Result<()> {
            let data = serde_json::to_string(&event.data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO events (at, actor, source_ip, action, subject_type, subject_id, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(now)
            .bind(event.actor)
            .bind(event.source_ip)
            .bind(event.action)
            .bind(event.subject_type)
            .bind(event.subject_id.or(Some(subject)))
            .bind(data)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        }
    };
}

mod sqlite_impl {
    use super::*;
    impl_licensespring_store!(
        SqliteStore,
        sqlx::sqlite::SqliteRow,
        sqlx::SqliteConnection,
        "BEGIN IMMEDIATE"
    );
}

mod postgres_impl {
    use super::*;
    impl_licensespring_store!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, "BEGIN");
}
