//! Consumption: metered use of a license or of one of its features, idempotent per key.

use crate::*;
use licensd_domain::*;

/// Consumption counters.
#[async_trait::async_trait]
pub trait ConsumptionStore: Send + Sync + 'static {
    /// Adds consumption. A repeated idempotency key returns the first result without counting again.
    async fn consume(
        &self,
        license: LicenseRef,
        amount: i64,
        idempotency_key: Option<String>,
        event: EventDraft,
        now: Millis,
    ) -> Result<ConsumptionOutcome>;
    async fn consume_feature(
        &self,
        license: LicenseRef,
        feature_code: &str,
        amount: i64,
        idempotency_key: Option<String>,
        event: EventDraft,
        now: Millis,
    ) -> Result<ConsumptionOutcome>;
}

/// Expands the helpers and the `ConsumptionStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_consumption {
    ($store:ty, $backend:ident) => {
            const SET_CONSUMPTION: &str = concat!(
                "UPDATE licenses SET consumption_used = $2, consumption_period_start = $3 WHERE id = $1 RETURNING ",
                license_cols!()
            );
            const INSERT_CONSUMPTION: &str = concat!(
                "INSERT INTO consumption_events (license_id, feature_id, amount, total_after, idempotency_key, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                consumption_cols!()
            );

            /// PostgreSQL's consumption writes in one statement: `SET_CONSUMPTION` (`$1` the
            /// licence, `$2` the new total, `$3` the period start), `INSERT_CONSUMPTION` (`$4` the
            /// amount, `$5` the idempotency key, `$6` now) and `INSERT_EVENT` (`$6`, then the
            /// event's fields as `bind_event` binds them, `$7`–`$12`). The row is the licence
            /// (`license_cols!`) and, from `CONSUMED_AT`, the consumption (`consumption_cols!`).
            const CONSUME_ALL: &str = concat!(
                "WITH u AS (UPDATE licenses SET consumption_used = $2, consumption_period_start = $3 WHERE id = $1 RETURNING ",
                license_cols!(),
                "), c AS (INSERT INTO consumption_events (license_id, feature_id, amount, total_after, idempotency_key, at) \
                 VALUES ($1, NULL, $4, $2, $5, $6) RETURNING ",
                consumption_cols!(),
                "), e AS (INSERT INTO events (at, actor, source_ip, action, subject_type, subject_id, data) \
                 VALUES ($6, $7, $8, $9, $10, $11, $12)) SELECT u.*, c.* FROM u, c"
            );
            /// Where `CONSUME_ALL`'s consumption columns start.
            const CONSUMED_AT: usize = 20;

            /// `lock_license_or_deny` on PostgreSQL, reading the licence's product in the same
            /// statement. The product is not guarded by the licence lock, so the statement's
            /// snapshot (taken before the lock was granted) is as good as a later one; the licence
            /// row is the locked, newest version.
            async fn lock_license_with_product(
                conn: &mut Conn,
                codec: &dyn SecretCodec,
                license: &LicenseRef,
            ) -> Result<(License, Option<Product>)> {
                let query = match license {
                    LicenseRef::Id(id) => sqlx::query(concat!(
                        license_product_select!(),
                        " FROM licenses l JOIN products p ON p.id = l.product_id WHERE l.id = $1 FOR NO KEY UPDATE OF l"
                    ))
                    .bind(id.get()),
                    LicenseRef::Key(key) => sqlx::query(concat!(
                        license_product_select!(),
                        " FROM licenses l JOIN products p ON p.id = l.product_id WHERE l.key_digest = $1 FOR NO KEY UPDATE OF l"
                    ))
                    .bind(codec.digest(key.as_bytes())),
                };
                let row = query
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                Ok((license_at(&row, codec, At::From(0))?, Some(product_at(&row, At::From(VALIDATION_PRODUCT_AT))?)))
            }

            async fn replayed_consumption(conn: &mut Conn, license_id: LicenseId, key: &str) -> Result<Option<ConsumptionEvent>> {
                sqlx::query(concat!(
                    "SELECT ",
                    consumption_cols!(),
                    " FROM consumption_events WHERE license_id = $1 AND idempotency_key = $2"
                ))
                .bind(license_id.get())
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?
                .map(|r| consumption_from_row(&r))
                .transpose()
            }

            async fn insert_consumption(
                conn: &mut Conn,
                license_id: LicenseId,
                feature_id: Option<i64>,
                amount: i64,
                total_after: i64,
                idempotency_key: Option<String>,
                now: Millis,
            ) -> Result<ConsumptionEvent> {
                let row = sqlx::query(INSERT_CONSUMPTION)
                .bind(license_id.get())
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
            #[async_trait::async_trait]
            impl $crate::ConsumptionStore for $store {
                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id().map(i64::from)))]
                async fn consume(
                    &self,
                    license: LicenseRef,
                    amount: i64,
                    idempotency_key: Option<String>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<ConsumptionOutcome> {
                    let codec = &*self.codec;
                    $crate::sql::on_sqlite_writer!($backend, self,
                        |conn, codec| direct::consume(conn, codec, &license, amount, idempotency_key, event, now));
                    let mut tx = begin_write(self).await?;
                    let (license, product) = if BACKEND == Backend::Postgres {
                        lock_license_with_product(&mut tx, codec, &license).await?
                    } else {
                        (lock_license_or_deny(&mut tx, codec, &license).await?, None)
                    };
                    if let Some(key) = &idempotency_key
                        && let Some(earlier) = replayed_consumption(&mut tx, license.id, key).await?
                    {
                        // Dropping the transaction rolls back even the lock bump: a replay writes nothing.
                        drop(tx);
                        let total = earlier.total_after;
                        return Ok(ConsumptionOutcome { license, event: earlier, total, replayed: true });
                    }
                    let product = match product {
                        Some(product) => product,
                        None => product_of(&mut tx, &license).await?,
                    };
                    let counter = rules::plan_consumption(&product, &license, amount, now)?;
                    if BACKEND == Backend::Postgres {
                        // Counter, consumption row and event in one round trip (data-modifying CTEs).
                        let query = sqlx::query(CONSUME_ALL)
                            .bind(license.id.get())
                            .bind(counter.used)
                            .bind(counter.period_start)
                            .bind(amount)
                            .bind(idempotency_key)
                            .bind(now);
                        let row = bind_event(query, event, Some(license.id.get()))?
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        let license = license_at(&row, codec, At::From(0))?;
                        let consumed = consumption_at(&row, At::From(CONSUMED_AT))?;
                        tx.commit().await.map_err(db_err)?;
                        return Ok(ConsumptionOutcome { license, event: consumed, total: counter.used, replayed: false });
                    }
                    let row = sqlx::query(SET_CONSUMPTION)
                    .bind(license.id.get())
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

                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id().map(i64::from)))]
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
                        .bind(license.id.get())
                        .bind(feature_code)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .map(|r| license_feature_from_row(&r))
                        .transpose()?
                        .ok_or(StoreError::Denied(Denial::FeatureNotFound))?;
                    let counter = rules::plan_feature_consumption(&product, &license, &feature, amount, now)?;
                    sqlx::query("UPDATE license_features SET consumption_used = $3, period_start = $4 WHERE license_id = $1 AND feature_id = $2")
                        .bind(license.id.get())
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
            }
    };
}

pub(crate) use impl_consumption;
