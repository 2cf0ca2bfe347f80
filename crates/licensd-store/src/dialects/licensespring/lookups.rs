//! The lookups user-based licensing needs: a user's licenses, a customer by e-mail.

use crate::sql::db_err;
use crate::{PostgresStore, Result, SqliteStore};
use licensd_domain::{CustomerId, LicenseId};

/// Lookups of license users and customers.
#[async_trait::async_trait]
pub trait UserLookupStore: Send + Sync + 'static {
    /// Ids of the licenses a license user is assigned to, in id order.
    async fn license_ids_of_user(&self, user_id: i64) -> Result<Vec<LicenseId>>;

    /// The id of the customer with this e-mail, if any.
    async fn customer_id_by_email(&self, email: &str) -> Result<Option<CustomerId>>;
}

/// Implements `UserLookupStore` for one backend (`$core`: `sqlite` or `postgres`).
macro_rules! impl_user_lookups {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        #[async_trait::async_trait]
        impl UserLookupStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
            async fn license_ids_of_user(&self, user_id: i64) -> Result<Vec<LicenseId>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT license_id FROM license_user_assignments WHERE user_id = $1 ORDER BY license_id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(ids.into_iter().map(LicenseId::new).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn customer_id_by_email(&self, email: &str) -> Result<Option<CustomerId>> {
                sqlx::query_scalar("SELECT id FROM customers WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
                    .map(|id: Option<i64>| id.map(CustomerId::new))
            }
        }
    };
}

mod sqlite_impl {
    use super::*;
    impl_user_lookups!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    impl_user_lookups!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
