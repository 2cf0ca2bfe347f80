//! Storage the LicenseSpring dialect brings into the domain: floating *feature* seats (checkout,
//! borrow and release of one feature of a floating-cloud license), device variables, and the lookups user-based
//! licensing needs (a user's licenses, a customer by e-mail). Feature seats live in the core
//! `floating_leases` table (`feature_id` set). Product versions and installation files have their
//! own table (`ls_product_versions`, migration 100).
//! Bundles (migration 101): `ls_bundle_products` lists a bundle product's member products and
//! `ls_bundle_licenses` links each member license to its bundle license; activating a bundle uses
//! the core `activate_many`.
//! Migrations use versions 100–199; files live in migrations/{sqlite,postgres}/.
//!
//! Like the core client commands, each write runs in one transaction whose first statement locks
//! the license row (`BEGIN IMMEDIATE` on SQLite), so the seat count read next is exact.

use crate::migrate::Migration;
use crate::sql::{conflict, db_err};
use crate::{CatalogStore, LicenseStore, PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::product_version::ProductVersion;
use licensd_domain::{
    Denial, EventDraft, FloatingLease, LicenseFeature, LicenseId, Millis, ProductId, feature_borrow, rules,
};

pub(crate) const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 100,
        name: "licensespring",
        sql: include_str!("../../migrations/sqlite/0100_licensespring.sql"),
    },
    Migration {
        version: 101,
        name: "licensespring_bundles",
        sql: include_str!("../../migrations/sqlite/0101_licensespring_bundles.sql"),
    },
];
pub(crate) const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 100,
        name: "licensespring",
        sql: include_str!("../../migrations/postgres/0100_licensespring.sql"),
    },
    Migration {
        version: 101,
        name: "licensespring_bundles",
        sql: include_str!("../../migrations/postgres/0101_licensespring_bundles.sql"),
    },
];

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

    /// Makes `member_product_id` a member of the bundle `bundle_product_id`. Conflict when either
    /// product does not exist, they are the same, the member is itself a bundle, the bundle is
    /// itself a member of another bundle (bundles do not nest), or the pair exists.
    async fn add_bundle_product(
        &self,
        bundle_product_id: i64,
        member_product_id: i64,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    /// NotFound when the product is not a member of the bundle. Conflict while member licenses
    /// of that product are linked to licenses of the bundle.
    async fn remove_bundle_product(
        &self,
        bundle_product_id: i64,
        member_product_id: i64,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    /// The bundle's member product ids, ascending; empty when the product is not a bundle.
    async fn bundle_products(&self, bundle_product_id: i64) -> Result<Vec<i64>>;
    /// Links a member license to a bundle license. Conflict unless the member license's product
    /// is a member of the bundle license's product, and when the bundle license already has a
    /// member license of that product or the member license is linked already.
    async fn link_bundle_license(
        &self,
        bundle_license_id: i64,
        member_license_id: i64,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    /// NotFound when the license is not linked to a bundle license.
    async fn unlink_bundle_license(&self, member_license_id: i64, event: EventDraft, now: Millis) -> Result<()>;
    /// The member license ids of a bundle license, ascending.
    async fn bundle_licenses(&self, bundle_license_id: i64) -> Result<Vec<i64>>;
    /// The bundle license a member license is linked to, if any.
    async fn bundle_of_license(&self, member_license_id: i64) -> Result<Option<i64>>;

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
        license_id: i64,
        fingerprint: &str,
        consumptions: i64,
        feature_consumptions: Vec<(String, i64)>,
        idempotency_key: Option<String>,
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

/// Implements `LicenseSpringStore` for one backend (`$core`: `sqlite` or `postgres`). Writes
/// begin with `shared::begin_write` and take the license lock first (`sql/tx.rs`), held to commit.
macro_rules! impl_licensespring_store {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{begin_write, delete_logged, insert_event, lease_from_row, lock_license_id};

        #[async_trait::async_trait]
        impl LicenseSpringStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id))]
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
                let license = self.get_license(LicenseId::new(license_id)).await?;
                let product = self.get_product(license.product_id).await?;
                let feature = granted(self.license_features(LicenseId::new(license_id)).await?, feature_code)?;
                let feature_id = feature.definition.id;
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
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

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id))]
            async fn track_device_variables(
                &self,
                license_id: i64,
                fingerprint: &str,
                variables: serde_json::Map<String, serde_json::Value>,
                event: EventDraft,
                now: Millis,
            ) -> Result<(i64, serde_json::Value)> {
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
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

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_product_version(
                &self,
                new: NewProductVersion,
                event: EventDraft,
                now: Millis,
            ) -> Result<ProductVersion> {
                let mut tx = begin_write(self).await?;
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

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id))]
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

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn delete_product_version(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM ls_product_versions WHERE id = $1", id, db_err, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
            async fn license_ids_of_user(&self, user_id: i64) -> Result<Vec<i64>> {
                sqlx::query_scalar("SELECT license_id FROM license_user_assignments WHERE user_id = $1 ORDER BY license_id")
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn customer_id_by_email(&self, email: &str) -> Result<Option<i64>> {
                sqlx::query_scalar("SELECT id FROM customers WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id))]
            async fn release_feature_lease(
                &self,
                license_id: i64,
                feature_code: &str,
                fingerprint: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let feature = granted(self.license_features(LicenseId::new(license_id)).await?, feature_code)?;
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

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_product_id = bundle_product_id, member_product_id = member_product_id))]
            async fn add_bundle_product(
                &self,
                bundle_product_id: i64,
                member_product_id: i64,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                if bundle_product_id == member_product_id {
                    return Err(StoreError::Conflict("a bundle cannot contain itself".into()));
                }
                let mut tx = begin_write(self).await?;
                // Bundles stay one level deep, so activating one never has to walk a tree.
                let nested: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM ls_bundle_products WHERE bundle_product_id = $1 OR member_product_id = $2",
                )
                .bind(member_product_id)
                .bind(bundle_product_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if nested > 0 {
                    return Err(StoreError::Conflict("bundles cannot be nested".into()));
                }
                sqlx::query("INSERT INTO ls_bundle_products (bundle_product_id, member_product_id) VALUES ($1, $2)")
                    .bind(bundle_product_id)
                    .bind(member_product_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("the product is already a member of this bundle", "product does not exist"))?;
                insert_event(&mut tx, event, bundle_product_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_product_id = bundle_product_id, member_product_id = member_product_id))]
            async fn remove_bundle_product(
                &self,
                bundle_product_id: i64,
                member_product_id: i64,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let linked: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM ls_bundle_licenses bl JOIN licenses l ON l.id = bl.bundle_license_id \
                     WHERE l.product_id = $1 AND bl.member_product_id = $2",
                )
                .bind(bundle_product_id)
                .bind(member_product_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if linked > 0 {
                    return Err(StoreError::Conflict(
                        "licenses of this member product are linked to licenses of the bundle".into(),
                    ));
                }
                let deleted =
                    sqlx::query("DELETE FROM ls_bundle_products WHERE bundle_product_id = $1 AND member_product_id = $2")
                        .bind(bundle_product_id)
                        .bind(member_product_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                if deleted == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_event(&mut tx, event, bundle_product_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_product_id = bundle_product_id))]
            async fn bundle_products(&self, bundle_product_id: i64) -> Result<Vec<i64>> {
                sqlx::query_scalar(
                    "SELECT member_product_id FROM ls_bundle_products WHERE bundle_product_id = $1 ORDER BY member_product_id",
                )
                .bind(bundle_product_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_license_id = bundle_license_id, member_license_id = member_license_id))]
            async fn link_bundle_license(
                &self,
                bundle_license_id: i64,
                member_license_id: i64,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let products: Vec<(i64, i64)> = sqlx::query_as("SELECT id, product_id FROM licenses WHERE id IN ($1, $2)")
                    .bind(bundle_license_id)
                    .bind(member_license_id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let product_of = |id: i64| products.iter().find(|(license, _)| *license == id).map(|(_, product)| *product);
                let (Some(bundle_product), Some(member_product)) =
                    (product_of(bundle_license_id), product_of(member_license_id))
                else {
                    return Err(StoreError::Conflict("license does not exist".into()));
                };
                let member: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM ls_bundle_products WHERE bundle_product_id = $1 AND member_product_id = $2",
                )
                .bind(bundle_product)
                .bind(member_product)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if member == 0 {
                    return Err(StoreError::Conflict(
                        "the license's product is not a member of the bundle license's product".into(),
                    ));
                }
                sqlx::query(
                    "INSERT INTO ls_bundle_licenses (member_license_id, bundle_license_id, member_product_id) \
                     VALUES ($1, $2, $3)",
                )
                .bind(member_license_id)
                .bind(bundle_license_id)
                .bind(member_product)
                .execute(&mut *tx)
                .await
                .map_err(conflict(
                    "the license is linked already, or the bundle license has a license of this product",
                    "license does not exist",
                ))?;
                insert_event(&mut tx, event, bundle_license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(member_license_id = member_license_id))]
            async fn unlink_bundle_license(&self, member_license_id: i64, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM ls_bundle_licenses WHERE member_license_id = $1", member_license_id, db_err, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_license_id = bundle_license_id))]
            async fn bundle_licenses(&self, bundle_license_id: i64) -> Result<Vec<i64>> {
                sqlx::query_scalar(
                    "SELECT member_license_id FROM ls_bundle_licenses WHERE bundle_license_id = $1 ORDER BY member_license_id",
                )
                .bind(bundle_license_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(member_license_id = member_license_id))]
            async fn bundle_of_license(&self, member_license_id: i64) -> Result<Option<i64>> {
                sqlx::query_scalar("SELECT bundle_license_id FROM ls_bundle_licenses WHERE member_license_id = $1")
                    .bind(member_license_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id))]
            async fn deactivate_with_consumptions(
                &self,
                license_id: i64,
                fingerprint: &str,
                consumptions: i64,
                feature_consumptions: Vec<(String, i64)>,
                idempotency_key: Option<String>,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                // Terms are read first (as in checkout_feature_lease); the counters, which the
                // limits apply to, are read again after the lock.
                let mut license = self.get_license(LicenseId::new(license_id)).await?;
                let product = self.get_product(license.product_id).await?;
                let mut features = self.license_features(LicenseId::new(license_id)).await?;
                let mut planned = Vec::with_capacity(feature_consumptions.len());
                for (code, amount) in &feature_consumptions {
                    if *amount == 0 {
                        continue;
                    }
                    let index = features
                        .iter()
                        .position(|feature| feature.definition.code == *code)
                        .ok_or(StoreError::Denied(Denial::FeatureNotFound))?;
                    planned.push((index, *amount));
                }
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
                let device: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM devices WHERE license_id = $1 AND fingerprint = $2 AND deactivated_at IS NULL",
                )
                .bind(license_id)
                .bind(fingerprint)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some(device_id) = device else {
                    return Err(StoreError::Denied(Denial::DeviceNotActivated));
                };
                let (used, period_start): (i64, i64) =
                    sqlx::query_as("SELECT consumption_used, consumption_period_start FROM licenses WHERE id = $1")
                        .bind(license_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                license.consumption_used = used;
                license.consumption_period_start = period_start;
                if consumptions != 0 {
                    let counter = rules::plan_consumption(&product, &license, consumptions, now)?;
                    sqlx::query("UPDATE licenses SET consumption_used = $2, consumption_period_start = $3 WHERE id = $1")
                        .bind(license_id)
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
                    .bind(license_id)
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
                    .bind(license_id)
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
                    .bind(license_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("DELETE FROM floating_leases WHERE license_id = $1 AND fingerprint = $2")
                    .bind(license_id)
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
            license_id: i64,
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
                    .bind(license_id)
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
            .bind(license_id)
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
                product_id: ProductId::new(row.try_get("product_id").map_err(get)?),
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
    };
}

mod sqlite_impl {
    use super::*;
    impl_licensespring_store!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    impl_licensespring_store!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
