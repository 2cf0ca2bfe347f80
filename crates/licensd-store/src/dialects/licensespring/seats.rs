//! Floating *feature* seats: checkout, borrow and release of one feature of a floating-cloud
//! license. The seats live in the core `floating_leases` table (`feature_id` set). Each write runs
//! in one transaction whose first statement locks the license row (`BEGIN IMMEDIATE` on SQLite),
//! so the seat count read next is exact.

use crate::sql::db_err;
use crate::{CatalogStore, LicenseStore, PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{Denial, EventDraft, FloatingLease, LicenseFeature, LicenseId, Millis, feature_borrow, rules};

/// Seats on floating features.
#[async_trait::async_trait]
pub trait FeatureSeatStore: Send + Sync + 'static {
    /// Checks out or renews this device's seat on a floating feature of the license, borrowing it
    /// until `borrow_until` when given (`feature_borrow::plan_feature_borrow` decides). Denied with
    /// `FeatureNotFound` when the license does not grant the feature; NotFound without the license.
    async fn checkout_feature_lease(
        &self,
        license_id: LicenseId,
        feature_code: &str,
        fingerprint: &str,
        borrow_until: Option<Millis>,
        event: EventDraft,
        now: Millis,
    ) -> Result<FloatingLease>;

    /// Frees this device's seat on the feature: `FeatureNotFloating` for a feature without seats,
    /// `FeatureNotInUse` when the device holds no live seat.
    async fn release_feature_lease(
        &self,
        license_id: LicenseId,
        feature_code: &str,
        fingerprint: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
}

fn granted(features: Vec<LicenseFeature>, code: &str) -> Result<LicenseFeature> {
    features
        .into_iter()
        .find(|feature| feature.definition.spec.code == code)
        .ok_or(StoreError::Denied(Denial::FeatureNotFound))
}

/// Implements `FeatureSeatStore` for one backend (`$core`: `sqlite` or `postgres`). Writes begin with
/// `shared::begin_write` and take the license lock first (`sql/tx.rs`), held to commit.
macro_rules! impl_feature_seats {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{begin_write, insert_event, lease_from_row, lock_license_id};

        #[async_trait::async_trait]
        impl FeatureSeatStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn checkout_feature_lease(
                &self,
                license_id: LicenseId,
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
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
                sqlx::query(
                    "DELETE FROM floating_leases WHERE license_id = $1 AND feature_id = $2 AND expires_at <= $3 \
                     AND (borrowed_until IS NULL OR borrowed_until <= $3)",
                )
                .bind(license_id.get())
                .bind(feature_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let others: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM floating_leases WHERE license_id = $1 AND feature_id = $2 AND fingerprint <> $3",
                )
                .bind(license_id.get())
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
                    .bind(license_id.get())
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

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn release_feature_lease(
                &self,
                license_id: LicenseId,
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
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
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

        async fn own_feature_lease(
            conn: &mut $conn,
            license_id: LicenseId,
            feature_id: i64,
            fingerprint: &str,
        ) -> Result<Option<FloatingLease>> {
            let row: Option<$row> = sqlx::query(
                "SELECT id, license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at \
                 FROM floating_leases WHERE license_id = $1 AND feature_id = $2 AND fingerprint = $3",
            )
            .bind(license_id.get())
            .bind(feature_id)
            .bind(fingerprint)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            row.as_ref().map(lease_from_row).transpose()
        }
    };
}

mod sqlite_impl {
    use super::*;
    impl_feature_seats!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    impl_feature_seats!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
