//! The catalog: products, their feature definitions and policies.

use crate::*;
use licensd_domain::*;

/// Products, feature definitions and policies.
#[async_trait::async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    // --- products ---
    async fn create_product(&self, new: NewProduct, event: EventDraft, now: Millis) -> Result<Product>;
    async fn get_product(&self, id: ProductId) -> Result<Product>;
    async fn get_product_by_code(&self, code: &str) -> Result<Product>;
    async fn list_products(&self, page: Page) -> Result<Vec<Product>>;
    /// Writes every mutable field of `product` (code, name, auth method, status, trial, metadata).
    async fn update_product(&self, product: Product, event: EventDraft, now: Millis) -> Result<Product>;
    /// Conflict while licenses of the product exist.
    /// Deletes a product as `licensd_domain::product_deletion` decides, in one transaction:
    /// `Conflict("product has licenses")` (nothing changed) while it has licences and `deletion`
    /// is not `Cascade`; a cascade also removes its licences, each logged as `license.deleted`
    /// before `event`. NotFound for an unknown product.
    async fn delete_product(
        &self,
        id: ProductId,
        deletion: licensd_domain::product_deletion::ProductDeletion,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    // --- feature definitions ---
    async fn create_feature(&self, new: FeatureSpec, event: EventDraft, now: Millis) -> Result<FeatureDefinition>;
    async fn get_feature(&self, id: i64) -> Result<FeatureDefinition>;
    async fn list_features(&self, product_id: Option<ProductId>) -> Result<Vec<FeatureDefinition>>;
    async fn update_feature(
        &self,
        feature: FeatureDefinition,
        event: EventDraft,
        now: Millis,
    ) -> Result<FeatureDefinition>;
    async fn delete_feature(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;

    // --- policies ---
    async fn create_policy(&self, new: NewPolicy, event: EventDraft, now: Millis) -> Result<Policy>;
    async fn get_policy(&self, id: i64) -> Result<Policy>;
    async fn list_policies(&self, product_id: Option<ProductId>) -> Result<Vec<Policy>>;
    async fn update_policy(&self, policy: Policy, event: EventDraft, now: Millis) -> Result<Policy>;
    async fn delete_policy(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;
}

/// Expands the helpers and the `CatalogStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_catalog {
    ($store:ty, $backend:ident) => {
            /// Binds a feature definition's spec after its product (or its id) as eleven
            /// parameters: code, name, feature type, max consumptions, allow overages, max
            /// overages, allow negative, reset period, floating seats, floating lease seconds,
            /// metadata (the order of the insert and the update).
            fn bind_feature_spec<'q>(query: Query<'q>, spec: &'q FeatureSpec) -> Result<Query<'q>> {
                Ok(query
                    .bind(&spec.code)
                    .bind(&spec.name)
                    .bind(spec.feature_type.as_str())
                    .bind(spec.max_consumptions)
                    .bind(spec.allow_overages)
                    .bind(spec.max_overages)
                    .bind(spec.allow_negative)
                    .bind(spec.reset_period.as_str())
                    .bind(spec.floating_seats)
                    .bind(spec.floating_lease_seconds)
                    .bind(to_json(&spec.metadata)?))
            }

            #[async_trait::async_trait]
            impl $crate::CatalogStore for $store {
                // --- products ---

                #[tracing::instrument(level = "debug", skip_all)]
                async fn create_product(&self, new: NewProduct, event: EventDraft, now: Millis) -> Result<Product> {
                    let query = sqlx::query(concat!(
                        "INSERT INTO products (code, name, auth_method, status, trial_allowed, trial_days, metadata, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ",
                        product_cols!()
                    ))
                    .bind(&new.code)
                    .bind(&new.name)
                    .bind(new.auth_method.as_str())
                    .bind(new.status.as_str())
                    .bind(new.trial_allowed)
                    .bind(new.trial_days)
                    .bind(to_json(&new.metadata)?)
                    .bind(now);
                    let on_error = conflict("product code already exists", "product reference");
                    write_logged(self, query, on_error, product_from_row, |p| p.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id.get()))]
                async fn get_product(&self, id: ProductId) -> Result<Product> {
                    let query = sqlx::query(concat!("SELECT ", product_cols!(), " FROM products WHERE id = $1"))
                        .bind(id.get());
                    fetch_found(&self.pool, query, product_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn get_product_by_code(&self, code: &str) -> Result<Product> {
                    ReadCache::through(read_cache(self), |cache| &cache.products_by_code, code.to_owned(), async {
                        let query = sqlx::query(concat!("SELECT ", product_cols!(), " FROM products WHERE code = $1"))
                            .bind(code);
                        fetch_found(&self.pool, query, product_from_row).await
                    })
                    .await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
                    let query = sqlx::query(concat!("SELECT ", product_cols!(), " FROM products WHERE id > $1 ORDER BY id LIMIT $2"))
                        .bind(after(&page))
                        .bind(page.clamped_limit());
                    fetch_rows(&self.pool, query, product_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(product_id = product.id.get()))]
                async fn update_product(&self, product: Product, event: EventDraft, now: Millis) -> Result<Product> {
                    let query = sqlx::query(concat!(
                        "UPDATE products SET code = $2, name = $3, auth_method = $4, status = $5, trial_allowed = $6, \
                         trial_days = $7, metadata = $8, updated_at = $9 WHERE id = $1 RETURNING ",
                        product_cols!()
                    ))
                    .bind(product.id.get())
                    .bind(&product.code)
                    .bind(&product.name)
                    .bind(product.auth_method.as_str())
                    .bind(product.status.as_str())
                    .bind(product.trial_allowed)
                    .bind(product.trial_days)
                    .bind(to_json(&product.metadata)?)
                    .bind(now);
                    let on_error = conflict("product code already exists", "product reference");
                    write_logged(self, query, on_error, product_from_row, |u| u.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id.get()))]
                async fn delete_product(
                    &self,
                    id: ProductId,
                    deletion: licensd_domain::product_deletion::ProductDeletion,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<()> {
                    use licensd_domain::product_deletion::ProductDeletion;
                    let mut tx = begin_write(self).await?;
                    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE id = $1")
                        .bind(id.get())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if exists == 0 {
                        return Err(StoreError::NotFound);
                    }
                    let licenses: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM licenses WHERE product_id = $1")
                        .bind(id.get())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let cascade = deletion
                        .plan(licenses)
                        .map_err(|refusal| StoreError::Conflict(refusal.message().into()))?;
                    if cascade {
                        // Rows hanging off licenses (devices, leases, grants, consumption,
                        // metadata) go with them through ON DELETE CASCADE. The ids logged are
                        // those deleted, so a licence created meanwhile is logged too.
                        let removed: Vec<i64> =
                            sqlx::query_scalar("DELETE FROM licenses WHERE product_id = $1 RETURNING id")
                                .bind(id.get())
                                .fetch_all(&mut *tx)
                                .await
                                .map_err(conflict("product is still in use", "product is still in use"))?;
                        let mut removed: Vec<LicenseId> = removed.into_iter().map(LicenseId::new).collect();
                        removed.sort_unstable();
                        for license in removed {
                            let license_event = ProductDeletion::cascaded_license_event(&event, id, license);
                            insert_event(&mut tx, license_event, None::<i64>, now).await?;
                        }
                    }
                    // Feature definitions and policies are parts of the product; without licenses
                    // nothing else can refer to them.
                    for statement in
                        ["DELETE FROM policies WHERE product_id = $1", "DELETE FROM features WHERE product_id = $1", "DELETE FROM products WHERE id = $1"]
                    {
                        sqlx::query(statement)
                            .bind(id.get())
                            .execute(&mut *tx)
                            .await
                            .map_err(conflict("product is still in use", "product is still in use"))?;
                    }
                    insert_event(&mut tx, event, Some(id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                // --- feature definitions ---

                #[tracing::instrument(level = "debug", skip_all)]
                async fn create_feature(&self, new: FeatureSpec, event: EventDraft, now: Millis) -> Result<FeatureDefinition> {
                    let query = sqlx::query(concat!(
                        "INSERT INTO features (product_id, code, name, feature_type, max_consumptions, allow_overages, \
                         max_overages, allow_negative, reset_period, floating_seats, floating_lease_seconds, metadata, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ",
                        feature_cols!()
                    ))
                    .bind(new.product_id.get());
                    let query = bind_feature_spec(query, &new)?.bind(now);
                    let on_error = conflict("feature code already exists for this product", "product does not exist");
                    write_logged(self, query, on_error, feature_from_row, |f| f.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
                async fn get_feature(&self, id: i64) -> Result<FeatureDefinition> {
                    let query = sqlx::query(concat!("SELECT ", feature_cols!(), " FROM features WHERE id = $1"))
                        .bind(id);
                    fetch_found(&self.pool, query, feature_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.map(i64::from)))]
                async fn list_features(&self, product_id: Option<ProductId>) -> Result<Vec<FeatureDefinition>> {
                    let query = sqlx::query(concat!(
                        "SELECT ",
                        feature_cols!(),
                        " FROM features WHERE ($1 IS NULL OR product_id = $1) ORDER BY id"
                    ))
                    .bind(product_id.map(i64::from));
                    fetch_rows(&self.pool, query, feature_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(feature_id = feature.id))]
                async fn update_feature(&self, feature: FeatureDefinition, event: EventDraft, now: Millis) -> Result<FeatureDefinition> {
                    let query = sqlx::query(concat!(
                        "UPDATE features SET code = $2, name = $3, feature_type = $4, max_consumptions = $5, \
                         allow_overages = $6, max_overages = $7, allow_negative = $8, reset_period = $9, \
                         floating_seats = $10, floating_lease_seconds = $11, metadata = $12 WHERE id = $1 RETURNING ",
                        feature_cols!()
                    ))
                    .bind(feature.id);
                    let query = bind_feature_spec(query, &feature.spec)?;
                    let on_error = conflict("feature code already exists for this product", "feature reference");
                    write_logged(self, query, on_error, feature_from_row, |u| u.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
                async fn delete_feature(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                    delete_logged(self, "DELETE FROM features WHERE id = $1", id, conflict("feature is still in use", "feature is granted to licenses"), event, now).await
                }

                // --- policies ---

                #[tracing::instrument(level = "debug", skip_all)]
                async fn create_policy(&self, new: NewPolicy, event: EventDraft, now: Millis) -> Result<Policy> {
                    let query = sqlx::query(concat!(
                        "INSERT INTO policies (product_id, code, name, terms, duration_days, maintenance_days, features, \
                         metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING ",
                        policy_cols!()
                    ))
                    .bind(new.product_id.get())
                    .bind(&new.code)
                    .bind(&new.name)
                    .bind(to_json(&new.terms)?)
                    .bind(new.duration_days)
                    .bind(new.maintenance_days)
                    .bind(to_json(&new.features)?)
                    .bind(to_json(&new.metadata)?)
                    .bind(now);
                    let on_error = conflict("policy code or name already exists for this product", "product does not exist");
                    write_logged(self, query, on_error, policy_from_row, |p| p.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
                async fn get_policy(&self, id: i64) -> Result<Policy> {
                    let query = sqlx::query(concat!("SELECT ", policy_cols!(), " FROM policies WHERE id = $1"))
                        .bind(id);
                    fetch_found(&self.pool, query, policy_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.map(i64::from)))]
                async fn list_policies(&self, product_id: Option<ProductId>) -> Result<Vec<Policy>> {
                    let query = sqlx::query(concat!(
                        "SELECT ",
                        policy_cols!(),
                        " FROM policies WHERE ($1 IS NULL OR product_id = $1) ORDER BY id"
                    ))
                    .bind(product_id.map(i64::from));
                    fetch_rows(&self.pool, query, policy_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(policy_id = policy.id))]
                async fn update_policy(&self, policy: Policy, event: EventDraft, now: Millis) -> Result<Policy> {
                    let query = sqlx::query(concat!(
                        "UPDATE policies SET code = $2, name = $3, terms = $4, duration_days = $5, maintenance_days = $6, \
                         features = $7, metadata = $8, updated_at = $9 WHERE id = $1 RETURNING ",
                        policy_cols!()
                    ))
                    .bind(policy.id)
                    .bind(&policy.code)
                    .bind(&policy.name)
                    .bind(to_json(&policy.terms)?)
                    .bind(policy.duration_days)
                    .bind(policy.maintenance_days)
                    .bind(to_json(&policy.features)?)
                    .bind(to_json(&policy.metadata)?)
                    .bind(now);
                    let on_error = conflict("policy code or name already exists for this product", "policy reference");
                    write_logged(self, query, on_error, policy_from_row, |u| u.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
                async fn delete_policy(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                    delete_logged(self, "DELETE FROM policies WHERE id = $1", id, conflict("policy is still in use", "policy has licenses"), event, now).await
                }
            }
    };
}

pub(crate) use impl_catalog;
