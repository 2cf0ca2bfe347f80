//! Offline deactivation: a device leaves with the usage it recorded while offline, counted through
//! the domain's consumption rules, in one transaction under the license lock.

use crate::sql::db_err;
use crate::{CatalogStore, LicenseStore, PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{Denial, EventDraft, LicenseId, Millis, rules};

/// Offline deactivations.
#[async_trait::async_trait]
pub trait OfflineDeactivationStore: Send + Sync + 'static {
    /// An offline deactivation with the usage recorded while offline, in one transaction under
    /// the license lock: adds `consumptions` to the license counter and each `(feature code,
    /// amount)` to that feature's counter, each through the domain's consumption rule (limits,
    /// overages, negatives, reset periods hold as online), then deactivates the device. Any
    /// refusal changes nothing: `DeviceNotActivated` when the device is not active,
    /// `FeatureNotFound` for a feature the license does not grant, or the consumption denial.
    /// Zero amounts are skipped. `idempotency_key` marks the consumption events it writes.
    #[allow(clippy::too_many_arguments)]
    async fn deactivate_with_consumptions(
        &self,
        license_id: LicenseId,
        fingerprint: &str,
        consumptions: i64,
        feature_consumptions: Vec<(String, i64)>,
        idempotency_key: Option<String>,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
}

/// Implements `OfflineDeactivationStore` for one backend (`$core`: `sqlite` or `postgres`).
macro_rules! impl_offline_deactivation {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{begin_write, insert_event, lock_license_id};

        #[async_trait::async_trait]
        impl OfflineDeactivationStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn deactivate_with_consumptions(
                &self,
                license_id: LicenseId,
                fingerprint: &str,
                consumptions: i64,
                feature_consumptions: Vec<(String, i64)>,
                idempotency_key: Option<String>,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                // Terms are read first (as in checkout_feature_lease); the counters, which the
                // limits apply to, are read again after the lock.
                let mut license = self.get_license(license_id).await?;
                let product = self.get_product(license.product_id).await?;
                let mut features = self.license_features(license_id).await?;
                let mut planned = Vec::with_capacity(feature_consumptions.len());
                for (code, amount) in &feature_consumptions {
                    if *amount == 0 {
                        continue;
                    }
                    let index = features
                        .iter()
                        .position(|feature| feature.definition.spec.code == *code)
                        .ok_or(StoreError::Denied(Denial::FeatureNotFound))?;
                    planned.push((index, *amount));
                }
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
                let device: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM devices WHERE license_id = $1 AND fingerprint = $2 AND deactivated_at IS NULL",
                )
                .bind(license_id.get())
                .bind(fingerprint)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some(device_id) = device else {
                    return Err(StoreError::Denied(Denial::DeviceNotActivated));
                };
                let (used, period_start): (i64, i64) =
                    sqlx::query_as("SELECT consumption_used, consumption_period_start FROM licenses WHERE id = $1")
                        .bind(license_id.get())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                license.consumption_used = used;
                license.consumption_period_start = period_start;
                if consumptions != 0 {
                    let counter = rules::plan_consumption(&product, &license, consumptions, now)?;
                    sqlx::query("UPDATE licenses SET consumption_used = $2, consumption_period_start = $3 WHERE id = $1")
                        .bind(license_id.get())
                        .bind(counter.used)
                        .bind(counter.period_start)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_consumption_event(&mut tx, license_id, None, consumptions, counter.used, &idempotency_key, now)
                        .await?;
                    license.consumption_used = counter.used;
                    license.consumption_period_start = counter.period_start;
                }
                for (index, amount) in planned {
                    let feature = &mut features[index];
                    let (used, period_start): (i64, i64) = sqlx::query_as(
                        "SELECT consumption_used, period_start FROM license_features WHERE license_id = $1 AND feature_id = $2",
                    )
                    .bind(license_id.get())
                    .bind(feature.definition.id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    feature.consumption_used = used;
                    feature.period_start = period_start;
                    let counter = rules::plan_feature_consumption(&product, &license, feature, amount, now)?;
                    sqlx::query(
                        "UPDATE license_features SET consumption_used = $3, period_start = $4 \
                         WHERE license_id = $1 AND feature_id = $2",
                    )
                    .bind(license_id.get())
                    .bind(feature.definition.id)
                    .bind(counter.used)
                    .bind(counter.period_start)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    feature.consumption_used = counter.used;
                    feature.period_start = counter.period_start;
                    insert_consumption_event(
                        &mut tx,
                        license_id,
                        Some(feature.definition.id),
                        amount,
                        counter.used,
                        &idempotency_key,
                        now,
                    )
                    .await?;
                }
                // The device leaves as in the core deactivation: marked inactive, counted, and its
                // floating seats freed.
                sqlx::query("UPDATE devices SET deactivated_at = $2 WHERE id = $1")
                    .bind(device_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("UPDATE licenses SET deactivation_count = deactivation_count + 1 WHERE id = $1")
                    .bind(license_id.get())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("DELETE FROM floating_leases WHERE license_id = $1 AND fingerprint = $2")
                    .bind(license_id.get())
                    .bind(fingerprint)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }
        }

        /// One row of the consumption history. Only the first row of a request carries the
        /// idempotency key: the key is unique per license, and a replayed file is refused anyway
        /// because its device is no longer active.
        async fn insert_consumption_event(
            conn: &mut $conn,
            license_id: LicenseId,
            feature_id: Option<i64>,
            amount: i64,
            total_after: i64,
            idempotency_key: &Option<String>,
            now: Millis,
        ) -> Result<()> {
            let key = match idempotency_key {
                Some(key) => {
                    let taken: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM consumption_events WHERE license_id = $1 AND idempotency_key = $2",
                    )
                    .bind(license_id.get())
                    .bind(key)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                    (taken == 0).then_some(key.clone())
                }
                None => None,
            };
            sqlx::query(
                "INSERT INTO consumption_events (license_id, feature_id, amount, total_after, idempotency_key, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(license_id.get())
            .bind(feature_id)
            .bind(amount)
            .bind(total_after)
            .bind(key)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        }
    };
}

mod sqlite_impl {
    use super::*;
    impl_offline_deactivation!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    impl_offline_deactivation!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
