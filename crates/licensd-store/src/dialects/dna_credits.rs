//! Storage of DNA's credit pools per buyer e-mail (`Target: EMAIL`, domain `dna_credits`): one
//! row per (product, e-mail, credit name) with its balance. The e-mail is the pool key of
//! `dna_credits::pool_email`; a License Code reaches the pools of its activation e-mail
//! (`dna_licenses.activation_email`).
//!
//! A consumption is one transaction that locks the pool row before reading it (`FOR UPDATE` on
//! PostgreSQL; SQLite's `BEGIN IMMEDIATE` holds the only writer lock), so concurrent consumptions
//! by any of the e-mail's codes queue on the row and the domain decides each one on the balance the
//! previous one left: a pool is never overdrawn. A refusal rolls back and changes nothing.
//! Migrations use versions 540–549; files live in migrations/{sqlite,postgres}/.

use crate::{PostgresStore, Result, SqliteStore};
use licensd_domain::dna_credits::Funding;
use licensd_domain::{EventDraft, License, LicenseId, Millis, Product, ProductId};
use serde::{Deserialize, Serialize};

crate::migrate::migrations!(540 "0540_dna_credit_pools");

/// One credit of a buyer e-mail's pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditPool {
    pub product_id: ProductId,
    /// The pool key: the buyer e-mail, trimmed and lowercased.
    pub email: String,
    pub name: String,
    /// Credits left.
    pub balance: i64,
    /// Credits used over the pool's life.
    pub consumed: i64,
    pub updated_at: Millis,
}

#[async_trait::async_trait]
pub trait CreditStore: Send + Sync + 'static {
    /// The product's pools (of one e-mail when given), by e-mail then name; NotFound without the
    /// product.
    async fn credit_pools(&self, product_id: ProductId, email: Option<&str>) -> Result<Vec<CreditPool>>;
    /// The pools the license reaches through its activation e-mail (none without an e-mail).
    async fn license_credit_pools(&self, license: &License) -> Result<Vec<CreditPool>>;
    /// Funds one pool credit (creating it), as the domain's `plan_funding` allows; NotFound without
    /// the product, InvalidInput when the rule refuses.
    async fn fund_credit_pool(
        &self,
        product_id: ProductId,
        email: &str,
        name: &str,
        funding: Funding,
        event: EventDraft,
        now: Millis,
    ) -> Result<CreditPool>;
    /// Uses `amount` credits of `name` from the pool of the license's activation e-mail, under the
    /// pool row lock, as the domain's `plan_pool_consumption` decides (`Denied(FeatureNotFound)`
    /// when the code has no e-mail or the e-mail no such credit, `Denied(ConsumptionLimitReached)`
    /// when too few are left). `product` and `license` are the caller's snapshot of the code.
    async fn consume_credit_pool(
        &self,
        product: &Product,
        license: &License,
        name: &str,
        amount: i64,
        event: EventDraft,
        now: Millis,
    ) -> Result<CreditPool>;
}

/// Implements `CreditStore` for one backend (`$core`: `sqlite` or `postgres`); writes begin
/// with `shared::begin_write` (`sql/tx.rs`), and `$lock` is appended to a `SELECT` that must lock
/// the rows it reads.
macro_rules! impl_dna_credit_store {
    ($store:ty, $row:ty, $conn:ty, $core:ident, $lock:literal) => {
        use crate::$core::shared::{begin_write, get, insert_event};

        #[async_trait::async_trait]
        impl CreditStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn credit_pools(&self, product_id: ProductId, email: Option<&str>) -> Result<Vec<CreditPool>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE id = $1")
                    .bind(product_id.get())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                if exists == 0 {
                    return Err(StoreError::NotFound);
                }
                let rows = sqlx::query(concat!(
                    "SELECT product_id, email, name, balance, consumed, updated_at FROM dna_credit_pools ",
                    "WHERE product_id = $1 AND ($2 IS NULL OR email = $2) ORDER BY email, name LIMIT 1000"
                ))
                .bind(product_id.get())
                .bind(email.map(pool_email))
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err)?;
                rows.iter().map(pool_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id.get()))]
            async fn license_credit_pools(&self, license: &License) -> Result<Vec<CreditPool>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let Some(email) = email_of(&mut conn, license.id).await? else {
                    return Ok(Vec::new());
                };
                let rows = sqlx::query(concat!(
                    "SELECT product_id, email, name, balance, consumed, updated_at FROM dna_credit_pools ",
                    "WHERE product_id = $1 AND email = $2 ORDER BY name"
                ))
                .bind(license.product_id.get())
                .bind(email)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err)?;
                rows.iter().map(pool_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn fund_credit_pool(
                &self,
                product_id: ProductId,
                email: &str,
                name: &str,
                funding: Funding,
                event: EventDraft,
                now: Millis,
            ) -> Result<CreditPool> {
                let email = pool_email(email);
                let mut tx = begin_write(self).await?;
                // The product row lock serializes fundings of the product, so the count of credit
                // types an e-mail holds cannot change under the rule.
                let product: Option<i64> = sqlx::query_scalar(concat!("SELECT id FROM products WHERE id = $1", $lock))
                    .bind(product_id.get())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if product.is_none() {
                    return Err(StoreError::NotFound);
                }
                let current = locked_pool(&mut tx, product_id, &email, name).await?;
                let other_types: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM dna_credit_pools WHERE product_id = $1 AND email = $2 AND name <> $3",
                )
                .bind(product_id.get())
                .bind(&email)
                .bind(name)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let other_types = usize::try_from(other_types).unwrap_or(usize::MAX);
                let next = dna_credits::plan_funding(current, other_types, funding)
                    .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
                let pool = save_pool(
                    &mut tx,
                    concat!(
                        "INSERT INTO dna_credit_pools (product_id, email, name, balance, consumed, updated_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (product_id, email, name) DO UPDATE SET ",
                        "balance = excluded.balance, consumed = excluded.consumed, updated_at = excluded.updated_at ",
                        "RETURNING product_id, email, name, balance, consumed, updated_at"
                    ),
                    (product_id, &email, name),
                    next,
                    now,
                )
                .await?;
                let event = event.data(serde_json::json!({
                    "email": pool.email, "name": pool.name, "balance": pool.balance,
                    "previous_balance": current.map(|c| c.balance),
                }));
                insert_event(&mut tx, event, product_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(pool)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product.id.get(), license_id = license.id.get()))]
            async fn consume_credit_pool(
                &self,
                product: &Product,
                license: &License,
                name: &str,
                amount: i64,
                event: EventDraft,
                now: Millis,
            ) -> Result<CreditPool> {
                let mut tx = begin_write(self).await?;
                let current = match email_of(&mut tx, license.id).await? {
                    Some(email) => locked_pool(&mut tx, license.product_id, &email, name)
                        .await?
                        .map(|pool| (email, pool)),
                    None => None,
                };
                let next = dna_credits::plan_pool_consumption(
                    product,
                    license,
                    current.as_ref().map(|(_, pool)| *pool),
                    amount,
                    now,
                )?;
                // The rule only accepts an existing pool.
                let Some((email, _)) = current else {
                    return Err(StoreError::Denied(licensd_domain::Denial::FeatureNotFound));
                };
                let pool = save_pool(
                    &mut tx,
                    concat!(
                        "UPDATE dna_credit_pools SET balance = $4, consumed = $5, updated_at = $6 ",
                        "WHERE product_id = $1 AND email = $2 AND name = $3 ",
                        "RETURNING product_id, email, name, balance, consumed, updated_at"
                    ),
                    (license.product_id, &email, name),
                    next,
                    now,
                )
                .await?;
                let event = event.data(serde_json::json!({
                    "target": "EMAIL", "email": pool.email, "name": pool.name,
                    "amount": amount, "balance": pool.balance,
                }));
                insert_event(&mut tx, event, license.id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(pool)
            }
        }

        /// Writes the pool `(product id, e-mail, name)` with `sql` (`$1`–`$3` the pool, `$4` the
        /// balance, `$5` consumed, `$6` now, returning the pool's columns) and decodes it.
        async fn save_pool(
            conn: &mut $conn,
            sql: &'static str,
            (product_id, email, name): (ProductId, &str, &str),
            next: PoolBalance,
            now: Millis,
        ) -> Result<CreditPool> {
            let row = sqlx::query(sql)
                .bind(product_id.get())
                .bind(email)
                .bind(name)
                .bind(next.balance)
                .bind(next.consumed)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            pool_from_row(&row)
        }

        fn pool_from_row(r: &$row) -> Result<CreditPool> {
            Ok(CreditPool {
                product_id: ProductId::new(get(r, "product_id")?),
                email: get(r, "email")?,
                name: get(r, "name")?,
                balance: get(r, "balance")?,
                consumed: get(r, "consumed")?,
                updated_at: get(r, "updated_at")?,
            })
        }

        /// The license's activation e-mail as a pool key; None without one.
        async fn email_of(conn: &mut $conn, license_id: LicenseId) -> Result<Option<String>> {
            let email: Option<Option<String>> =
                sqlx::query_scalar("SELECT activation_email FROM dna_licenses WHERE license_id = $1")
                    .bind(license_id.get())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            Ok(email
                .flatten()
                .map(|e| pool_email(&e))
                .filter(|e| !e.is_empty()))
        }

        /// Reads one pool credit, locking its row until the transaction ends.
        async fn locked_pool(conn: &mut $conn, product_id: ProductId, email: &str, name: &str) -> Result<Option<PoolBalance>> {
            let row = sqlx::query(concat!(
                "SELECT balance, consumed FROM dna_credit_pools WHERE product_id = $1 AND email = $2 AND name = $3",
                $lock
            ))
            .bind(product_id.get())
            .bind(email)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            row.map(|r| {
                Ok(PoolBalance {
                    balance: get(&r, "balance")?,
                    consumed: get(&r, "consumed")?,
                })
            })
            .transpose()
        }
    };
}

mod sqlite_impl {
    use super::*;
    use crate::StoreError;
    use crate::sql::db_err;
    use licensd_domain::dna_credits::{self, PoolBalance, pool_email};

    impl_dna_credit_store!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite, "");
}

mod postgres_impl {
    use super::*;
    use crate::StoreError;
    use crate::sql::db_err;
    use licensd_domain::dna_credits::{self, PoolBalance, pool_email};

    impl_dna_credit_store!(
        PostgresStore,
        sqlx::postgres::PgRow,
        sqlx::PgConnection,
        postgres,
        " FOR UPDATE"
    );
}
