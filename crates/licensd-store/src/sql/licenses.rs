//! Licenses: issue, read, edit and delete, and the features each license grants.

use crate::*;
use licensd_domain::*;

/// Licenses and the features they grant.
#[async_trait::async_trait]
pub trait LicenseStore: Send + Sync + 'static {
    // --- licenses ---
    /// Inserts all licenses in one transaction (all or nothing); Conflict on a duplicate key.
    async fn create_licenses(&self, new: Vec<NewLicense>, event: EventDraft, now: Millis) -> Result<Vec<License>>;
    async fn get_license(&self, id: LicenseId) -> Result<License>;
    async fn find_license_by_key(&self, key: &str) -> Result<Option<License>>;
    async fn list_licenses(&self, filter: LicenseFilter, page: Page) -> Result<Vec<License>>;
    /// Changes the administrator-editable fields only; counters are never overwritten.
    async fn edit_license(&self, id: LicenseId, edit: LicenseEdit, event: EventDraft, now: Millis) -> Result<License>;
    async fn delete_license(&self, id: LicenseId, event: EventDraft, now: Millis) -> Result<()>;
    async fn license_features(&self, license_id: LicenseId) -> Result<Vec<LicenseFeature>>;
}

/// Expands the helpers and the `LicenseStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_licenses {
    ($store:ty, $backend:ident) => {
            async fn features_of(conn: &mut Conn, license_id: LicenseId) -> Result<Vec<LicenseFeature>> {
                let query = sqlx::query(concat!(license_feature_select!(), "WHERE lf.license_id = $1 ORDER BY f.id"))
                    .bind(license_id.get());
                fetch_rows(&mut *conn, query, license_feature_from_row).await
            }

            /// The product's feature codes, for resolving grants: code → (feature id, reset period).
            async fn feature_codes(conn: &mut Conn, product_id: ProductId) -> Result<HashMap<String, (i64, ResetPeriod)>> {
                let found = sqlx::query("SELECT id, code, reset_period FROM features WHERE product_id = $1")
                    .bind(product_id.get())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let mut codes = HashMap::with_capacity(found.len());
                for r in &found {
                    let period = parse_enum(&get::<String>(r, "reset_period")?, ResetPeriod::parse, "reset period")?;
                    codes.insert(get::<String>(r, "code")?, (get::<i64>(r, "id")?, period));
                }
                Ok(codes)
            }

            /// Where a fresh counter's period begins: the current period for resetting counters,
            /// otherwise issue time (`period_start` has no meaningful value for `Never`).
            fn initial_period_start(period: Option<ResetPeriod>, now: Millis) -> Millis {
                match period {
                    Some(period) if period != ResetPeriod::Never => rules::period_start(period, now),
                    _ => now,
                }
            }

            fn resolve_grant(codes: &HashMap<String, (i64, ResetPeriod)>, code: &str) -> Result<(i64, ResetPeriod)> {
                codes.get(code).copied().ok_or_else(|| StoreError::Conflict(format!("unknown feature code {code}")))
            }

            async fn upsert_grant(
                conn: &mut Conn,
                license_id: LicenseId,
                feature: (i64, ResetPeriod),
                overrides: &FeatureOverrides,
                now: Millis,
            ) -> Result<()> {
                // Overrides are replaced; counters of a feature that stays granted are kept.
                sqlx::query(
                    "INSERT INTO license_features (license_id, feature_id, overrides, consumption_used, period_start) \
                     VALUES ($1, $2, $3, 0, $4) \
                     ON CONFLICT (license_id, feature_id) DO UPDATE SET overrides = excluded.overrides",
                )
                .bind(license_id.get())
                .bind(feature.0)
                .bind(to_json(overrides)?)
                .bind(initial_period_start(Some(feature.1), now))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok(())
            }
            /// Inserts one license and its feature grants in the caller's transaction; `codes`
            /// caches each product's feature codes across a batch. Every path that issues a
            /// license (the core's create, SLASCONE's create-from-edition) goes through here.
            pub(crate) async fn insert_license(
                conn: &mut Conn,
                codec: &dyn SecretCodec,
                item: &NewLicense,
                codes: &mut HashMap<ProductId, HashMap<String, (i64, ResetPeriod)>>,
                now: Millis,
            ) -> Result<License> {
                let period = item.settings.terms.consumption.as_ref().map(|c| c.reset_period);
                let (digest, sealed) = match &item.key {
                    Some(key) => (Some(codec.digest(key.as_bytes())), Some(codec.seal(key.as_bytes(), LICENSE_KEY))),
                    None => (None, None),
                };
                let query = sqlx::query(concat!(
                    "INSERT INTO licenses (product_id, key_digest, key_sealed, ",
                    license_settings_columns!(),
                    ", transfer_count, deactivation_count, consumption_used, consumption_period_start, lock_version, \
                     created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, 0, 0, $15, 0, $16, $16) RETURNING ",
                    license_cols!()
                ))
                .bind(item.product_id.get())
                .bind(digest)
                .bind(sealed);
                let row = bind_license_settings!(query, &item.settings)
                .bind(initial_period_start(period, now))
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(conflict("license key already exists", "product, policy or customer does not exist"))?;
                let license = license_from_row(&row, codec)?;
                if !item.features.is_empty() {
                    if !codes.contains_key(&item.product_id) {
                        let found = feature_codes(&mut *conn, item.product_id).await?;
                        codes.insert(item.product_id, found);
                    }
                    let product_codes = codes.get(&item.product_id).ok_or(StoreError::NotFound)?;
                    for grant in &item.features {
                        let feature = resolve_grant(product_codes, &grant.code)?;
                        upsert_grant(&mut *conn, license.id, feature, &grant.overrides, now).await?;
                    }
                }
                Ok(license)
            }

            #[async_trait::async_trait]
            impl $crate::LicenseStore for $store {
                // --- licenses ---

                #[tracing::instrument(level = "debug", skip_all)]
                async fn create_licenses(&self, new: Vec<NewLicense>, event: EventDraft, now: Millis) -> Result<Vec<License>> {
                    if new.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut tx = begin_write(self).await?;
                    let mut codes_by_product: HashMap<ProductId, HashMap<String, (i64, ResetPeriod)>> = HashMap::new();
                    let mut created = Vec::with_capacity(new.len());
                    for item in new {
                        let license = insert_license(&mut tx, &*self.codec, &item, &mut codes_by_product, now).await?;
                        created.push(license);
                    }
                    let subject = match created.as_slice() {
                        [only] => Some(only.id),
                        _ => None,
                    };
                    insert_event(&mut tx, event, subject, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(created)
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id.get()))]
                async fn get_license(&self, id: LicenseId) -> Result<License> {
                    let mut conn = self.pool.acquire().await.map_err(db_err)?;
                    read_license(&mut conn, &*self.codec, &LicenseRef::Id(id)).await?.ok_or(StoreError::NotFound)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn find_license_by_key(&self, key: &str) -> Result<Option<License>> {
                    let digest = self.codec.digest(key.as_bytes());
                    ReadCache::through(read_cache(self), |cache| &cache.licenses_by_key, digest, async {
                        let mut conn = self.pool.acquire().await.map_err(db_err)?;
                        read_license(&mut conn, &*self.codec, &LicenseRef::Key(key.to_owned())).await
                    })
                    .await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn list_licenses(&self, filter: LicenseFilter, page: Page) -> Result<Vec<License>> {
                    let mut query = sqlx::QueryBuilder::<Db>::new(concat!("SELECT ", license_cols!(), " FROM licenses WHERE id > "));
                    query.push_bind(after(&page));
                    if let Some(product_id) = filter.product_id {
                        query.push(" AND product_id = ").push_bind(product_id.get());
                    }
                    if let Some(policy_id) = filter.policy_id {
                        query.push(" AND policy_id = ").push_bind(policy_id);
                    }
                    if let Some(customer_id) = filter.customer_id {
                        query.push(" AND customer_id = ").push_bind(customer_id.get());
                    }
                    if let Some(status) = filter.status {
                        query.push(" AND status = ").push_bind(status.as_str());
                    }
                    if let Some(order_ref) = filter.order_ref {
                        query.push(" AND order_ref = ").push_bind(order_ref);
                    }
                    query.push(" ORDER BY id LIMIT ").push_bind(page.clamped_limit());
                    fetch_rows(&self.pool, query.build(), |r| license_from_row(r, &*self.codec)).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id.get()))]
                async fn edit_license(&self, id: LicenseId, edit: LicenseEdit, event: EventDraft, now: Millis) -> Result<License> {
                    let mut tx = begin_write(self).await?;
                    let query = sqlx::query(concat!(
                        "UPDATE licenses SET (",
                        license_settings_columns!(),
                        ", updated_at) = ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) WHERE id = $1 RETURNING ",
                        license_cols!()
                    ))
                    .bind(id.get());
                    let row = bind_license_settings!(query, &edit.settings)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(conflict("license conflicts with an existing one", "policy or customer does not exist"))?
                    .ok_or(StoreError::NotFound)?;
                    let license = license_from_row(&row, &*self.codec)?;
                    if let Some(grants) = &edit.features {
                        let codes = feature_codes(&mut tx, license.product_id).await?;
                        let mut keep = Vec::with_capacity(grants.len());
                        for grant in grants {
                            keep.push((resolve_grant(&codes, &grant.code)?, &grant.overrides));
                        }
                        let granted: Vec<i64> = sqlx::query_scalar("SELECT feature_id FROM license_features WHERE license_id = $1")
                            .bind(id.get())
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        for feature_id in granted {
                            if !keep.iter().any(|((kept, _), _)| *kept == feature_id) {
                                sqlx::query("DELETE FROM license_features WHERE license_id = $1 AND feature_id = $2")
                                    .bind(id.get())
                                    .bind(feature_id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(db_err)?;
                            }
                        }
                        for (feature, overrides) in keep {
                            upsert_grant(&mut tx, id, feature, overrides, now).await?;
                        }
                    }
                    insert_event(&mut tx, event, Some(id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(license)
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id.get()))]
                async fn delete_license(&self, id: LicenseId, event: EventDraft, now: Millis) -> Result<()> {
                    delete_logged(self, "DELETE FROM licenses WHERE id = $1", id.get(), conflict("license is still in use", "license is still in use"), event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
                async fn license_features(&self, license_id: LicenseId) -> Result<Vec<LicenseFeature>> {
                    ReadCache::through(read_cache(self), |cache| &cache.license_features, license_id, async {
                        let mut conn = self.pool.acquire().await.map_err(db_err)?;
                        features_of(&mut conn, license_id).await
                    })
                    .await
                }
            }
    };
}

pub(crate) use impl_licenses;
