//! Bundles (migration 101): `ls_bundle_products` lists a bundle product's member products and
//! `ls_bundle_licenses` links each member license to its bundle license; activating a bundle uses
//! the core `activate_many`.

use crate::sql::{conflict, db_err};
use crate::{PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{EventDraft, LicenseId, Millis, ProductId};

/// Bundle products and the licenses linked under them.
#[async_trait::async_trait]
pub trait BundleStore: Send + Sync + 'static {
    /// Makes `member_product_id` a member of the bundle `bundle_product_id`. Conflict when either
    /// product does not exist, they are the same, the member is itself a bundle, the bundle is
    /// itself a member of another bundle (bundles do not nest), or the pair exists.
    async fn add_bundle_product(
        &self,
        bundle_product_id: ProductId,
        member_product_id: ProductId,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    /// NotFound when the product is not a member of the bundle. Conflict while member licenses
    /// of that product are linked to licenses of the bundle.
    async fn remove_bundle_product(
        &self,
        bundle_product_id: ProductId,
        member_product_id: ProductId,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    /// The bundle's member product ids, ascending; empty when the product is not a bundle.
    async fn bundle_products(&self, bundle_product_id: ProductId) -> Result<Vec<ProductId>>;
    /// Links a member license to a bundle license. Conflict unless the member license's product
    /// is a member of the bundle license's product, and when the bundle license already has a
    /// member license of that product or the member license is linked already.
    async fn link_bundle_license(
        &self,
        bundle_license_id: LicenseId,
        member_license_id: LicenseId,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    /// NotFound when the license is not linked to a bundle license.
    async fn unlink_bundle_license(&self, member_license_id: LicenseId, event: EventDraft, now: Millis) -> Result<()>;
    /// The member license ids of a bundle license, ascending.
    async fn bundle_licenses(&self, bundle_license_id: LicenseId) -> Result<Vec<LicenseId>>;
    /// The bundle license a member license is linked to, if any.
    async fn bundle_of_license(&self, member_license_id: LicenseId) -> Result<Option<LicenseId>>;
}

/// Implements `BundleStore` for one backend (`$core`: `sqlite` or `postgres`).
macro_rules! impl_bundles {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{begin_write, delete_logged, insert_event};

        #[async_trait::async_trait]
        impl BundleStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(bundle_product_id = bundle_product_id.get(), member_product_id = member_product_id.get()))]
            async fn add_bundle_product(
                &self,
                bundle_product_id: ProductId,
                member_product_id: ProductId,
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
                .bind(member_product_id.get())
                .bind(bundle_product_id.get())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if nested > 0 {
                    return Err(StoreError::Conflict("bundles cannot be nested".into()));
                }
                sqlx::query("INSERT INTO ls_bundle_products (bundle_product_id, member_product_id) VALUES ($1, $2)")
                    .bind(bundle_product_id.get())
                    .bind(member_product_id.get())
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("the product is already a member of this bundle", "product does not exist"))?;
                insert_event(&mut tx, event, bundle_product_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_product_id = bundle_product_id.get(), member_product_id = member_product_id.get()))]
            async fn remove_bundle_product(
                &self,
                bundle_product_id: ProductId,
                member_product_id: ProductId,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let linked: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM ls_bundle_licenses bl JOIN licenses l ON l.id = bl.bundle_license_id \
                     WHERE l.product_id = $1 AND bl.member_product_id = $2",
                )
                .bind(bundle_product_id.get())
                .bind(member_product_id.get())
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
                        .bind(bundle_product_id.get())
                        .bind(member_product_id.get())
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

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_product_id = bundle_product_id.get()))]
            async fn bundle_products(&self, bundle_product_id: ProductId) -> Result<Vec<ProductId>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT member_product_id FROM ls_bundle_products WHERE bundle_product_id = $1 ORDER BY member_product_id",
                )
                .bind(bundle_product_id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(ids.into_iter().map(ProductId::new).collect())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_license_id = bundle_license_id.get(), member_license_id = member_license_id.get()))]
            async fn link_bundle_license(
                &self,
                bundle_license_id: LicenseId,
                member_license_id: LicenseId,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let products: Vec<(i64, i64)> = sqlx::query_as("SELECT id, product_id FROM licenses WHERE id IN ($1, $2)")
                    .bind(bundle_license_id.get())
                    .bind(member_license_id.get())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let product_of = |id: i64| products.iter().find(|(license, _)| *license == id).map(|(_, product)| *product);
                let (Some(bundle_product), Some(member_product)) =
                    (product_of(bundle_license_id.get()), product_of(member_license_id.get()))
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
                .bind(member_license_id.get())
                .bind(bundle_license_id.get())
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

            #[tracing::instrument(level = "debug", skip_all, fields(member_license_id = member_license_id.get()))]
            async fn unlink_bundle_license(&self, member_license_id: LicenseId, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM ls_bundle_licenses WHERE member_license_id = $1", member_license_id.get(), db_err, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(bundle_license_id = bundle_license_id.get()))]
            async fn bundle_licenses(&self, bundle_license_id: LicenseId) -> Result<Vec<LicenseId>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT member_license_id FROM ls_bundle_licenses WHERE bundle_license_id = $1 ORDER BY member_license_id",
                )
                .bind(bundle_license_id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(ids.into_iter().map(LicenseId::new).collect())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(member_license_id = member_license_id.get()))]
            async fn bundle_of_license(&self, member_license_id: LicenseId) -> Result<Option<LicenseId>> {
                sqlx::query_scalar("SELECT bundle_license_id FROM ls_bundle_licenses WHERE member_license_id = $1")
                    .bind(member_license_id.get())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
                    .map(|id: Option<i64>| id.map(LicenseId::new))
            }
        }
    };
}

mod sqlite_impl {
    use super::*;
    impl_bundles!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    impl_bundles!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
