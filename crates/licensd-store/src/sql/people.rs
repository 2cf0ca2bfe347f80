//! People: customers and the license users that sign in to licenses.

use crate::*;
use licensd_domain::*;

/// Customers and license users, and which users a license has.
#[async_trait::async_trait]
pub trait PeopleStore: Send + Sync + 'static {
    // --- customers and license users ---
    async fn create_customer(&self, new: NewCustomer, event: EventDraft, now: Millis) -> Result<Customer>;
    async fn get_customer(&self, id: CustomerId) -> Result<Customer>;
    async fn list_customers(&self, page: Page) -> Result<Vec<Customer>>;
    async fn update_customer(&self, customer: Customer, event: EventDraft, now: Millis) -> Result<Customer>;
    async fn delete_customer(&self, id: CustomerId, event: EventDraft, now: Millis) -> Result<()>;
    async fn create_license_user(&self, new: NewLicenseUser, event: EventDraft, now: Millis) -> Result<LicenseUser>;
    async fn get_license_user(&self, id: i64) -> Result<LicenseUser>;
    async fn find_license_user_by_email(&self, email: &str) -> Result<Option<LicenseUser>>;
    async fn list_license_users(&self, customer_id: Option<CustomerId>, page: Page) -> Result<Vec<LicenseUser>>;
    async fn set_license_user_password(
        &self,
        id: i64,
        password_hash: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    async fn delete_license_user(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;
    /// Adds a user to a license; denied past the license's `max_users` (checked under the lock).
    async fn assign_license_user(
        &self,
        license_id: LicenseId,
        user_id: i64,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    async fn unassign_license_user(
        &self,
        license_id: LicenseId,
        user_id: i64,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
    async fn users_of_license(&self, license_id: LicenseId) -> Result<Vec<LicenseUser>>;
}

/// Expands the helpers and the `PeopleStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_people {
    ($store:ty, $backend:ident) => {
        #[async_trait::async_trait]
        impl $crate::PeopleStore for $store {
            // --- customers and license users ---

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_customer(&self, new: NewCustomer, event: EventDraft, now: Millis) -> Result<Customer> {
                let query = sqlx::query(concat!(
                    "INSERT INTO customers (email, name, company, reference, metadata, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                    customer_cols!()
                ))
                .bind(&new.email)
                .bind(&new.name)
                .bind(&new.company)
                .bind(&new.reference)
                .bind(to_json(&new.metadata)?)
                .bind(now);
                let on_error = conflict("customer email already exists", "customer reference");
                write_logged(self, query, on_error, customer_from_row, |c| c.id, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id.get()))]
            async fn get_customer(&self, id: CustomerId) -> Result<Customer> {
                ReadCache::through(read_cache(self), |cache| &cache.customers, id, async {
                    let query = sqlx::query(concat!(
                        "SELECT ",
                        customer_cols!(),
                        " FROM customers WHERE id = $1"
                    ))
                    .bind(id.get());
                    fetch_found(&self.pool, query, customer_from_row).await
                })
                .await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_customers(&self, page: Page) -> Result<Vec<Customer>> {
                let query = sqlx::query(concat!(
                    "SELECT ",
                    customer_cols!(),
                    " FROM customers WHERE id > $1 ORDER BY id LIMIT $2"
                ))
                .bind(after(&page))
                .bind(page.clamped_limit());
                fetch_rows(&self.pool, query, customer_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(customer_id = customer.id.get()))]
            async fn update_customer(&self, customer: Customer, event: EventDraft, now: Millis) -> Result<Customer> {
                let query = sqlx::query(concat!(
                    "UPDATE customers SET email = $2, name = $3, company = $4, reference = $5, metadata = $6 \
                         WHERE id = $1 RETURNING ",
                    customer_cols!()
                ))
                .bind(customer.id.get())
                .bind(&customer.email)
                .bind(&customer.name)
                .bind(&customer.company)
                .bind(&customer.reference)
                .bind(to_json(&customer.metadata)?);
                let on_error = conflict("customer email already exists", "customer reference");
                write_logged(self, query, on_error, customer_from_row, |u| u.id, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id.get()))]
            async fn delete_customer(&self, id: CustomerId, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(
                    self,
                    "DELETE FROM customers WHERE id = $1",
                    id.get(),
                    conflict(
                        "customer is still in use",
                        "customer has licenses or license users",
                    ),
                    event,
                    now,
                )
                .await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_license_user(
                &self,
                new: NewLicenseUser,
                event: EventDraft,
                now: Millis,
            ) -> Result<LicenseUser> {
                let mut tx = begin_write(self).await?;
                let row = sqlx::query(concat!(
                    "INSERT INTO license_users (customer_id, email, name, password_hash, created_at) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING ",
                    user_cols!()
                ))
                .bind(new.customer_id.map(i64::from))
                .bind(&new.email)
                .bind(&new.name)
                .bind(&new.password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict(
                    "license user email already exists",
                    "customer does not exist",
                ))?;
                let user = user_from_row(&row)?;
                insert_event(&mut tx, event, Some(user.id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(user)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn get_license_user(&self, id: i64) -> Result<LicenseUser> {
                let query = sqlx::query(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM license_users WHERE id = $1"
                ))
                .bind(id);
                fetch_found(&self.pool, query, user_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn find_license_user_by_email(&self, email: &str) -> Result<Option<LicenseUser>> {
                let query = sqlx::query(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM license_users WHERE email = $1"
                ))
                .bind(email);
                fetch_optional(&self.pool, query, user_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(customer_id = customer_id.map(i64::from)))]
            async fn list_license_users(
                &self,
                customer_id: Option<CustomerId>,
                page: Page,
            ) -> Result<Vec<LicenseUser>> {
                let query = sqlx::query(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM license_users WHERE ($1 IS NULL OR customer_id = $1) AND id > $2 ORDER BY id LIMIT $3"
                ))
                .bind(customer_id.map(i64::from))
                .bind(after(&page))
                .bind(page.clamped_limit());
                fetch_rows(&self.pool, query, user_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn set_license_user_password(
                &self,
                id: i64,
                password_hash: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
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
                insert_event(&mut tx, event, Some(id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn delete_license_user(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(
                    self,
                    "DELETE FROM license_users WHERE id = $1",
                    id,
                    conflict("license user is still in use", "license user is still in use"),
                    event,
                    now,
                )
                .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get(), user_id = user_id))]
            async fn assign_license_user(
                &self,
                license_id: LicenseId,
                user_id: i64,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let license = lock_license(&mut tx, &*self.codec, &LicenseRef::Id(license_id))
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let user_exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM license_users WHERE id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if user_exists == 0 {
                    return Err(StoreError::NotFound);
                }
                let already: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM license_user_assignments WHERE license_id = $1 AND user_id = $2",
                )
                .bind(license_id.get())
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if already > 0 {
                    // Assigning twice is a no-op, not a second seat.
                    return Ok(());
                }
                if license.terms.max_users.is_some() {
                    let assigned: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM license_user_assignments WHERE license_id = $1")
                            .bind(license_id.get())
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    rules::check_user_assignment(&license, assigned)?;
                }
                sqlx::query(
                    "INSERT INTO license_user_assignments (license_id, user_id, created_at) VALUES ($1, $2, $3)",
                )
                .bind(license_id.get())
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(conflict(
                    "license user is already assigned",
                    "license or license user does not exist",
                ))?;
                insert_event(&mut tx, event, Some(license_id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get(), user_id = user_id))]
            async fn unassign_license_user(
                &self,
                license_id: LicenseId,
                user_id: i64,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let done = sqlx::query("DELETE FROM license_user_assignments WHERE license_id = $1 AND user_id = $2")
                    .bind(license_id.get())
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_event(&mut tx, event, Some(license_id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn users_of_license(&self, license_id: LicenseId) -> Result<Vec<LicenseUser>> {
                let query = sqlx::query(
                    "SELECT u.id, u.customer_id, u.email, u.name, u.password_hash, u.created_at \
                         FROM license_user_assignments a JOIN license_users u ON u.id = a.user_id \
                         WHERE a.license_id = $1 ORDER BY u.id",
                )
                .bind(license_id.get());
                fetch_rows(&self.pool, query, user_from_row).await
            }
        }
    };
}

pub(crate) use impl_people;
