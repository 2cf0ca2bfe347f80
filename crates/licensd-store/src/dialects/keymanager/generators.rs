//! Key generators, downloadables and their files.

/// Implements `GeneratorStore` and `DownloadStore` for one store type. Expanded inside
/// `impl_keymanager!`, so the row helpers and `insert_event` there are in scope.
macro_rules! impl_km_generators {
    ($store:ty, $row:ty, $conn:ty, $lock:literal, $skip_locked:literal, $core:ident) => {
        #[async_trait::async_trait]
        impl GeneratorStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn create_generator(
                &self,
                product_id: ProductId,
                spec: GeneratorSpec,
                event: EventDraft,
                now: Millis,
            ) -> Result<Generator> {
                let mut tx = begin_write(self).await?;
                require_product(&mut tx, product_id).await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO km_generators (product_id, name, pattern, activation_limit, validity_days, active, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {GENERATOR_COLS}"
                )))
                .bind(product_id.get())
                .bind(&spec.name)
                .bind(to_json(&spec.pattern)?)
                .bind(spec.activation_limit)
                .bind(spec.validity_days)
                .bind(spec.active)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let generator = generator_from_row(&row)?;
                insert_event(&mut tx, event, Some(generator.id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(generator)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn get_generator(&self, id: i64) -> Result<Generator> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {GENERATOR_COLS} FROM km_generators WHERE id = $1")))
                    .bind(id);
                fetch_found(&self.pool, query, generator_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.map(i64::from)))]
            async fn list_generators(&self, product_id: Option<ProductId>) -> Result<Vec<Generator>> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {GENERATOR_COLS} FROM km_generators WHERE ($1 IS NULL OR product_id = $1) ORDER BY id"
                )))
                .bind(product_id.map(i64::from));
                fetch_rows(&self.pool, query, generator_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn update_generator(&self, id: i64, spec: GeneratorSpec, event: EventDraft, now: Millis) -> Result<Generator> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE km_generators SET name = $2, pattern = $3, activation_limit = $4, validity_days = $5, \
                     active = $6, updated_at = $7 WHERE id = $1 RETURNING {GENERATOR_COLS}"
                )))
                .bind(id)
                .bind(&spec.name)
                .bind(to_json(&spec.pattern)?)
                .bind(spec.activation_limit)
                .bind(spec.validity_days)
                .bind(spec.active)
                .bind(now);
                write_logged(self, query, db_err, generator_from_row, |_| Some(id), event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn delete_generator(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM km_generators WHERE id = $1", id, db_err, event, now).await
            }
        }

        #[async_trait::async_trait]
        impl DownloadStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn create_downloadable(
                &self,
                product_id: ProductId,
                spec: DownloadableSpec,
                event: EventDraft,
                now: Millis,
            ) -> Result<Downloadable> {
                let mut tx = begin_write(self).await?;
                require_product(&mut tx, product_id).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO km_downloadables (product_id, numeric_version, version, update_summary, changelog, \
                     published, release_date, download_counter, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
                     RETURNING id",
                )
                .bind(product_id.get())
                .bind(spec.numeric_version)
                .bind(&spec.version)
                .bind(&spec.update_summary)
                .bind(&spec.changelog)
                .bind(spec.published)
                .bind(spec.release_date)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict("the product has this numeric version already", "product does not exist"))?;
                insert_event(&mut tx, event, Some(id), now).await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("{DOWNLOADABLE_SELECT} WHERE id = $1")))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let downloadable = downloadable_from_row(&row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(downloadable)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.map(i64::from)))]
            async fn list_downloadables(&self, product_id: Option<ProductId>) -> Result<Vec<Downloadable>> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{DOWNLOADABLE_SELECT} WHERE ($1 IS NULL OR product_id = $1) ORDER BY product_id, numeric_version"
                )))
                .bind(product_id.map(i64::from));
                fetch_rows(&self.pool, query, downloadable_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn get_downloadable(&self, id: i64) -> Result<Downloadable> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!("{DOWNLOADABLE_SELECT} WHERE id = $1")))
                    .bind(id);
                fetch_found(&self.pool, query, downloadable_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn downloadable_by_version(&self, product_id: ProductId, numeric_version: i64) -> Result<Option<Downloadable>> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{DOWNLOADABLE_SELECT} WHERE product_id = $1 AND numeric_version = $2"
                )))
                .bind(product_id.get())
                .bind(numeric_version);
                fetch_optional(&self.pool, query, downloadable_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn put_downloadable_file(
                &self,
                id: i64,
                file_name: &str,
                content: Vec<u8>,
                event: EventDraft,
                now: Millis,
            ) -> Result<Downloadable> {
                let mut tx = begin_write(self).await?;
                let done = sqlx::query("UPDATE km_downloadables SET file_name = $2, file_content = $3 WHERE id = $1")
                    .bind(id)
                    .bind(file_name)
                    .bind(content)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_event(&mut tx, event, Some(id), now).await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("{DOWNLOADABLE_SELECT} WHERE id = $1")))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let downloadable = downloadable_from_row(&row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(downloadable)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn take_download(&self, id: i64) -> Result<Option<(String, Vec<u8>)>> {
                let mut tx = begin_write(self).await?;
                let row = sqlx::query(
                    "UPDATE km_downloadables SET download_counter = download_counter + 1 \
                     WHERE id = $1 AND file_content IS NOT NULL RETURNING file_name, file_content",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let file = match row {
                    Some(row) => {
                        let name: Option<String> = get(&row, "file_name")?;
                        let content: Vec<u8> = get(&row, "file_content")?;
                        Some((name.unwrap_or_else(|| "download".into()), content))
                    }
                    None => None,
                };
                tx.commit().await.map_err(db_err)?;
                Ok(file)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn delete_downloadable(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM km_downloadables WHERE id = $1", id, db_err, event, now).await
            }
        }
    };
}
