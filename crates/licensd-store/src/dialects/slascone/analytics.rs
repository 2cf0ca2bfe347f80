//! Analytical fields, usage features and modules, and what clients report against them.

/// Implements `AnalyticsStore` for one store type. Expanded inside `impl_slascone_store!`, so
/// the row helpers and `log_event` there are in scope.
macro_rules! impl_slascone_analytics {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        #[async_trait::async_trait]
        impl AnalyticsStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn create_analytical_field(
                &self,
                product_id: ProductId,
                name: &str,
                field_type: AnalyticalFieldType,
                event: EventDraft,
                now: Millis,
            ) -> Result<AnalyticalField> {
                let query = sqlx::query(
                    "INSERT INTO slascone_analytical_fields (product_id, name, field_type, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(product_id.get())
                .bind(name)
                .bind(field_type.as_str())
                .bind(now);
                let on_error = conflict("analytical field already exists", "product does not exist");
                let created = |row: &$row| -> Result<AnalyticalField> {
                    let id = row.try_get("id").map_err(db_err)?;
                    Ok(AnalyticalField { id, product_id, name: name.to_owned(), field_type, created_at: now })
                };
                write_logged(self, query, on_error, created, |f| f.id, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn analytical_fields(&self, product_id: ProductId) -> Result<Vec<AnalyticalField>> {
                let query = sqlx::query(
                    "SELECT id, product_id, name, field_type, created_at FROM slascone_analytical_fields \
                     WHERE product_id = $1 ORDER BY id",
                )
                .bind(product_id.get());
                fetch_rows(&self.pool, query, |row| {
                    let text: String = row.try_get("field_type").map_err(db_err)?;
                    Ok(AnalyticalField {
                        id: row.try_get("id").map_err(db_err)?,
                        product_id: ProductId::new(row.try_get("product_id").map_err(db_err)?),
                        name: row.try_get("name").map_err(db_err)?,
                        field_type: AnalyticalFieldType::parse(&text)
                            .ok_or_else(|| StoreError::Corrupt(format!("unknown analytical field type {text:?}")))?,
                        created_at: row.try_get("created_at").map_err(db_err)?,
                    })
                })
                .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn create_usage_feature(
                &self,
                product_id: ProductId,
                name: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<UsageFeature> {
                let query = sqlx::query(
                    "INSERT INTO slascone_usage_features (product_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(product_id.get())
                .bind(name)
                .bind(now);
                let on_error = conflict("usage feature already exists", "product does not exist");
                let created = |row: &$row| -> Result<UsageFeature> {
                    let id = row.try_get("id").map_err(db_err)?;
                    Ok(UsageFeature { id, product_id, name: name.to_owned(), created_at: now })
                };
                write_logged(self, query, on_error, created, |f| f.id, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn usage_features(&self, product_id: ProductId) -> Result<Vec<UsageFeature>> {
                let query = sqlx::query(
                    "SELECT id, product_id, name, created_at FROM slascone_usage_features WHERE product_id = $1 ORDER BY id",
                )
                .bind(product_id.get());
                fetch_rows(&self.pool, query, |row| {
                    Ok(UsageFeature {
                        id: row.try_get("id").map_err(db_err)?,
                        product_id: ProductId::new(row.try_get("product_id").map_err(db_err)?),
                        name: row.try_get("name").map_err(db_err)?,
                        created_at: row.try_get("created_at").map_err(db_err)?,
                    })
                })
                .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(usage_feature_id = usage_feature_id))]
            async fn create_usage_module(
                &self,
                usage_feature_id: i64,
                name: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<UsageModule> {
                let mut tx = begin_write(self).await?;
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM slascone_usage_features WHERE id = $1")
                    .bind(usage_feature_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound);
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO slascone_usage_modules (usage_feature_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(usage_feature_id)
                .bind(name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict("usage module already exists", "usage feature does not exist"))?;
                log_event(&mut tx, event, id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(UsageModule { id, usage_feature_id, name: name.to_owned(), created_at: now })
            }

            #[tracing::instrument(level = "debug", skip_all, fields(usage_feature_id = usage_feature_id))]
            async fn usage_modules(&self, usage_feature_id: i64) -> Result<Vec<UsageModule>> {
                let query = sqlx::query(
                    "SELECT id, usage_feature_id, name, created_at FROM slascone_usage_modules \
                     WHERE usage_feature_id = $1 ORDER BY id",
                )
                .bind(usage_feature_id);
                fetch_rows(&self.pool, query, |row| {
                    Ok(UsageModule {
                        id: row.try_get("id").map_err(db_err)?,
                        usage_feature_id: row.try_get("usage_feature_id").map_err(db_err)?,
                        name: row.try_get("name").map_err(db_err)?,
                        created_at: row.try_get("created_at").map_err(db_err)?,
                    })
                })
                .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn record_analytics(
                &self,
                license_id: LicenseId,
                client_id: &str,
                reports: Vec<AnalyticalReport>,
                now: Millis,
            ) -> Result<()> {
                let inserts: Vec<_> = reports.iter().map(|report| {
                    sqlx::query(
                        "INSERT INTO slascone_analytical_reports \
                         (license_id, client_id, field_id, value, reported_at, received_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(license_id.get())
                    .bind(client_id)
                    .bind(report.field_id)
                    .bind(&report.value)
                    .bind(report.reported_at)
                    .bind(now)
                })
                .collect();
                let on_error = conflict("duplicate report", "license or analytical field does not exist");
                execute_in_write(self, inserts, on_error).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn analytical_values(&self, license_id: LicenseId) -> Result<Vec<AnalyticalReport>> {
                let query = sqlx::query(
                    "SELECT field_id, value, reported_at FROM slascone_analytical_reports WHERE license_id = $1 ORDER BY id",
                )
                .bind(license_id.get());
                fetch_rows(&self.pool, query, |row| {
                    Ok(AnalyticalReport {
                        field_id: row.try_get("field_id").map_err(db_err)?,
                        value: row.try_get("value").map_err(db_err)?,
                        reported_at: row.try_get("reported_at").map_err(db_err)?,
                    })
                })
                .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn record_usage(
                &self,
                license_id: LicenseId,
                client_id: &str,
                reports: Vec<UsageReport>,
                now: Millis,
            ) -> Result<()> {
                let inserts: Vec<_> = reports.iter().map(|report| {
                    sqlx::query(
                        "INSERT INTO slascone_usage_reports \
                         (license_id, client_id, usage_feature_id, usage_module_id, value, reported_at, received_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(license_id.get())
                    .bind(client_id)
                    .bind(report.usage_feature_id)
                    .bind(report.usage_module_id)
                    .bind(report.value)
                    .bind(report.reported_at)
                    .bind(now)
                })
                .collect();
                let on_error = conflict("duplicate report", "license or usage feature does not exist");
                execute_in_write(self, inserts, on_error).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn usage_totals(&self, license_id: LicenseId) -> Result<Vec<UsageTotal>> {
                let query = sqlx::query(
                    "SELECT usage_feature_id, usage_module_id, CAST(SUM(value) AS BIGINT) AS total FROM slascone_usage_reports \
                     WHERE license_id = $1 GROUP BY usage_feature_id, usage_module_id \
                     ORDER BY usage_feature_id, usage_module_id IS NOT NULL, usage_module_id",
                )
                .bind(license_id.get());
                fetch_rows(&self.pool, query, |row| {
                    Ok(UsageTotal {
                        usage_feature_id: row.try_get("usage_feature_id").map_err(db_err)?,
                        usage_module_id: row.try_get("usage_module_id").map_err(db_err)?,
                        total: row.try_get("total").map_err(db_err)?,
                    })
                })
                .await
            }
        }
    };
}
