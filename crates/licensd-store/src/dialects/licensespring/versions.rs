//! Product versions and their installation files (`ls_product_versions`, migration 100).

use crate::sql::{conflict, db_err};
use crate::{PostgresStore, Result, SqliteStore};
use licensd_domain::product_version::{ProductVersion, ProductVersionSpec};
use licensd_domain::{EventDraft, Millis, ProductId};

/// Product versions.
#[async_trait::async_trait]
pub trait ProductVersionStore: Send + Sync + 'static {
    /// Records a product version; Conflict when the product already has this version for the same
    /// environment and channel, or the product does not exist.
    async fn create_product_version(
        &self,
        new: ProductVersionSpec,
        event: EventDraft,
        now: Millis,
    ) -> Result<ProductVersion>;
    /// The product's versions, in id order.
    async fn list_product_versions(&self, product_id: ProductId) -> Result<Vec<ProductVersion>>;
    /// NotFound when there is no such version.
    async fn delete_product_version(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;
}

macro_rules! version_cols {
    () => {
        "id, product_id, version, environment, channel, release_date, download_url, hash_md5, size, eula_link, \
         release_notes_link, requires_version, enabled, created_at"
    };
}

/// Implements `ProductVersionStore` for one backend (`$core`: `sqlite` or `postgres`).
macro_rules! impl_product_versions {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{begin_write, delete_logged, get, insert_event};

        #[async_trait::async_trait]
        impl ProductVersionStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_product_version(
                &self,
                new: ProductVersionSpec,
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
                .bind(new.product_id.get())
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

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn list_product_versions(&self, product_id: ProductId) -> Result<Vec<ProductVersion>> {
                let rows: Vec<$row> = sqlx::query(concat!(
                    "SELECT ",
                    version_cols!(),
                    " FROM ls_product_versions WHERE product_id = $1 ORDER BY id"
                ))
                .bind(product_id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter().map(version_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn delete_product_version(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM ls_product_versions WHERE id = $1", id, db_err, event, now).await
            }
        }

        fn version_from_row(row: &$row) -> Result<ProductVersion> {
            use crate::sql::rows::columns;
            Ok(ProductVersion {
                id: get(row, "id")?,
                spec: columns!(row => ProductVersionSpec {
                    version, environment, channel, release_date, download_url, hash_md5, size, eula_link,
                    release_notes_link, requires_version, enabled;
                    product_id: ProductId::new(get(row, "product_id")?),
                }),
                created_at: get(row, "created_at")?,
            })
        }
    };
}

mod sqlite_impl {
    use super::*;
    impl_product_versions!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    impl_product_versions!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
