//! Analytical fields, usage features and modules, and what clients report against them.

/// The SQL behind these `AnalyticsStore` methods, as inherent methods of one store type; the trait
/// impl in `mod.rs` delegates to them. Expanded inside `impl_slascone_store!`,
/// so the row helpers and `log_event` there are in scope.
macro_rules! slascone_analytics_sql {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        impl $store {
            async fn sql_create_analytical_field(
                &self,
                product_id: ProductId,
                name: &str,
                field_type: AnalyticalFieldType,
                event: EventDraft,
                now: Millis,
            ) -> Result<AnalyticalField> {
                let mut tx = begin_write(self).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO slascone_analytical_fields (product_id, name, field_type, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(product_id.get())
                .bind(name)
                .bind(field_type.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict("analytical field already exists", "product does not exist"))?;
                log_event(&mut tx, event, id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(AnalyticalField { id, product_id, name: name.to_owned(), field_type, created_at: now })
            }

            async fn sql_analytical_fields(&self, product_id: ProductId) -> Result<Vec<AnalyticalField>> {
                let found = sqlx::query(
                    "SELECT id, product_id, name, field_type, created_at FROM slascone_analytical_fields \
                     WHERE product_id = $1 ORDER BY id",
                )
                .bind(product_id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let mut fields = Vec::with_capacity(found.len());
                for row in &found {
                    let text: String = row.try_get("field_type").map_err(db_err)?;
                    fields.push(AnalyticalField {
                        id: row.try_get("id").map_err(db_err)?,
                        product_id: ProductId::new(row.try_get("product_id").map_err(db_err)?),
                        name: row.try_get("name").map_err(db_err)?,
                        field_type: AnalyticalFieldType::parse(&text)
                            .ok_or_else(|| StoreError::Corrupt(format!("unknown analytical field type {text:?}")))?,
                        created_at: row.try_get("created_at").map_err(db_err)?,
                    });
                }
                Ok(fields)
            }

            async fn sql_create_usage_feature(
                &self,
                product_id: ProductId,
                name: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<UsageFeature> {
                let mut tx = begin_write(self).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO slascone_usage_features (product_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(product_id.get())
                .bind(name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict("usage feature already exists", "product does not exist"))?;
                log_event(&mut tx, event, id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(UsageFeature { id, product_id, name: name.to_owned(), created_at: now })
            }

            async fn sql_usage_features(&self, product_id: ProductId) -> Result<Vec<UsageFeature>> {
                let found = sqlx::query(
                    "SELECT id, product_id, name, created_at FROM slascone_usage_features WHERE product_id = $1 ORDER BY id",
                )
                .bind(product_id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let mut features = Vec::with_capacity(found.len());
                for row in &found {
                    features.push(UsageFeature {
                        id: row.try_get("id").map_err(db_err)?,
                        product_id: ProductId::new(row.try_get("product_id").map_err(db_err)?),
                        name: row.try_get("name").map_err(db_err)?,
                        created_at: row.try_get("created_at").map_err(db_err)?,
                    });
                }
                Ok(features)
            }

            async fn sql_create_usage_module(
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

            async fn sql_usage_modules(&self, usage_feature_id: i64) -> Result<Vec<UsageModule>> {
                let found = sqlx::query(
                    "SELECT id, usage_feature_id, name, created_at FROM slascone_usage_modules \
                     WHERE usage_feature_id = $1 ORDER BY id",
                )
                .bind(usage_feature_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let mut modules = Vec::with_capacity(found.len());
                for row in &found {
                    modules.push(UsageModule {
                        id: row.try_get("id").map_err(db_err)?,
                        usage_feature_id: row.try_get("usage_feature_id").map_err(db_err)?,
                        name: row.try_get("name").map_err(db_err)?,
                        created_at: row.try_get("created_at").map_err(db_err)?,
                    });
                }
                Ok(modules)
            }

            async fn sql_record_analytics(
                &self,
                license_id: LicenseId,
                client_id: &str,
                reports: Vec<AnalyticalReport>,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                for report in reports {
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
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("duplicate report", "license or analytical field does not exist"))?;
                }
                tx.commit().await.map_err(db_err)
            }

            async fn sql_analytical_values(&self, license_id: LicenseId) -> Result<Vec<AnalyticalReport>> {
                let found = sqlx::query(
                    "SELECT field_id, value, reported_at FROM slascone_analytical_reports WHERE license_id = $1 ORDER BY id",
                )
                .bind(license_id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let mut reports = Vec::with_capacity(found.len());
                for row in &found {
                    reports.push(AnalyticalReport {
                        field_id: row.try_get("field_id").map_err(db_err)?,
                        value: row.try_get("value").map_err(db_err)?,
                        reported_at: row.try_get("reported_at").map_err(db_err)?,
                    });
                }
                Ok(reports)
            }

            async fn sql_record_usage(
                &self,
                license_id: LicenseId,
                client_id: &str,
                reports: Vec<UsageReport>,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                for report in reports {
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
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("duplicate report", "license or usage feature does not exist"))?;
                }
                tx.commit().await.map_err(db_err)
            }

            async fn sql_usage_totals(&self, license_id: LicenseId) -> Result<Vec<UsageTotal>> {
                let found = sqlx::query(
                    "SELECT usage_feature_id, usage_module_id, CAST(SUM(value) AS BIGINT) AS total FROM slascone_usage_reports \
                     WHERE license_id = $1 GROUP BY usage_feature_id, usage_module_id \
                     ORDER BY usage_feature_id, usage_module_id IS NOT NULL, usage_module_id",
                )
                .bind(license_id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let mut totals = Vec::with_capacity(found.len());
                for row in &found {
                    totals.push(UsageTotal {
                        usage_feature_id: row.try_get("usage_feature_id").map_err(db_err)?,
                        usage_module_id: row.try_get("usage_module_id").map_err(db_err)?,
                        total: row.try_get("total").map_err(db_err)?,
                    });
                }
                Ok(totals)
            }
        }
    };
}
