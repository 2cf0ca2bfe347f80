//! Per-product signing keys and key/value metadata of license keys and
//! products.

/// Implements `ProductKeyStore` and `MetadataStore` for one store type. Expanded inside
/// `impl_keymanager!`, so the row helpers and `insert_event` there are in scope.
macro_rules! impl_km_products {
    ($store:ty, $row:ty, $conn:ty, $lock:literal, $skip_locked:literal, $core:ident) => {
        #[async_trait::async_trait]
        impl ProductKeyStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn put_product_signing_key(
                &self,
                product_id: ProductId,
                key: crate::NewSigningKey,
                event: EventDraft,
                now: Millis,
            ) -> Result<ProductSigningKey> {
                let sealed = self.codec.seal(&key.private_pkcs8, PRODUCT_SIGNING_KEY);
                let mut tx = begin_write(self).await?;
                let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE id = $1")
                    .bind(product_id.get())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if found == 0 {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "INSERT INTO km_product_signing_keys (product_id, kid, algorithm, public_der, private_sealed, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (product_id) DO UPDATE SET kid = excluded.kid, \
                     algorithm = excluded.algorithm, public_der = excluded.public_der, \
                     private_sealed = excluded.private_sealed, created_at = excluded.created_at",
                )
                .bind(product_id.get())
                .bind(&key.kid)
                .bind(&key.algorithm)
                .bind(&key.public_der)
                .bind(sealed)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_event(&mut tx, event, Some(product_id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(ProductSigningKey {
                    product_id,
                    kid: key.kid,
                    algorithm: key.algorithm,
                    public_der: key.public_der,
                    private_pkcs8: key.private_pkcs8,
                    created_at: now,
                })
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn product_signing_key(&self, product_id: ProductId) -> Result<Option<ProductSigningKey>> {
                let query = sqlx::query(
                    "SELECT product_id, kid, algorithm, public_der, private_sealed, created_at \
                     FROM km_product_signing_keys WHERE product_id = $1",
                )
                .bind(product_id.get());
                fetch_optional(&self.pool, query, |row| {
                    let sealed: Vec<u8> = get(row, "private_sealed")?;
                    let private_pkcs8 = self.codec.open(&sealed, PRODUCT_SIGNING_KEY).ok_or_else(|| {
                        StoreError::Corrupt("cannot open sealed product signing key (tampered or another master key)".into())
                    })?;
                    Ok(ProductSigningKey {
                        product_id: ProductId::new(get(row, "product_id")?),
                        kid: get(row, "kid")?,
                        algorithm: get(row, "algorithm")?,
                        public_der: get(row, "public_der")?,
                        private_pkcs8,
                        created_at: get(row, "created_at")?,
                    })
                })
                .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn delete_product_signing_key(&self, product_id: ProductId, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM km_product_signing_keys WHERE product_id = $1", product_id.get(), db_err, event, now).await
            }
        }

        #[async_trait::async_trait]
        impl MetadataStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_meta(&self, owner: MetaOwner) -> Result<Vec<MetaEntry>> {
                let (table, column, _) = meta_table(owner);
                let sql = format!(
                    "SELECT id, meta_key, meta_value, created_at, updated_at FROM {table} WHERE {column} = $1 ORDER BY id"
                );
                let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner.id());
                fetch_rows(&self.pool, query, meta_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_meta(
                &self,
                owner: MetaOwner,
                key: &str,
                value: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<MetaEntry> {
                let (table, column, owners) = meta_table(owner);
                let mut tx = begin_write(self).await?;
                let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {owners} WHERE id = $1"
                )))
                .bind(owner.id())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if found == 0 {
                    return Err(StoreError::NotFound);
                }
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {table} ({column}, meta_key, meta_value, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) RETURNING id, meta_key, meta_value, created_at, updated_at"
                )))
                .bind(owner.id())
                .bind(key)
                .bind(value)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict("meta key already exists", "owner does not exist"))?;
                let entry = meta_from_row(&row)?;
                let event = EventDraft { subject_type: owner.subject_type().into(), ..event };
                insert_event(&mut tx, event, Some(owner.id()), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(entry)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_meta(
                &self,
                owner: MetaOwner,
                key: &str,
                value: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<MetaEntry> {
                let (table, column, _) = meta_table(owner);
                let query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET meta_value = $3, updated_at = $4 WHERE {column} = $1 AND meta_key = $2 \
                     RETURNING id, meta_key, meta_value, created_at, updated_at"
                )))
                .bind(owner.id())
                .bind(key)
                .bind(value)
                .bind(now);
                let event = EventDraft { subject_type: owner.subject_type().into(), ..event };
                write_logged(self, query, db_err, meta_from_row, |_| Some(owner.id()), event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_meta(&self, owner: MetaOwner, key: &str, event: EventDraft, now: Millis) -> Result<()> {
                let (table, column, _) = meta_table(owner);
                let mut tx = begin_write(self).await?;
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE {column} = $1 AND meta_key = $2"
                )))
                .bind(owner.id())
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                let event = EventDraft { subject_type: owner.subject_type().into(), ..event };
                insert_event(&mut tx, event, Some(owner.id()), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }
        }
    };
}
