//! Contracts: license-key quotas, generating and destroying keys under them.

/// Binds a contract's fields to `$query`, in column order from `product_id` to `can_destroy_all`
/// (the key as its digest, then sealed), as the contract insert and update take them.
macro_rules! bind_contract_fields {
    ($query:expr, $fields:expr, $codec:expr) => {
        $query
            .bind($fields.product_id.get())
            .bind(&$fields.name)
            .bind(&$fields.information)
            .bind($codec.digest($fields.key.as_bytes()))
            .bind($codec.seal($fields.key.as_bytes(), CONTRACT_KEY))
            .bind($fields.license_keys_quantity)
            .bind($fields.active)
            .bind($fields.can_get_info)
            .bind($fields.can_generate)
            .bind($fields.can_destroy)
            .bind($fields.can_destroy_all)
    };
}

/// Implements `ContractStore` for one store type. Expanded inside `impl_keymanager!`, so the
/// row helpers and `insert_event` there are in scope.
macro_rules! impl_km_contracts {
    ($store:ty, $row:ty, $conn:ty, $lock:literal, $skip_locked:literal, $core:ident) => {
        #[async_trait::async_trait]
        impl ContractStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_contract(&self, fields: ContractFields, event: EventDraft, now: Millis) -> Result<StoredContract> {
                let mut tx = begin_write(self).await?;
                require_product(&mut tx, fields.product_id).await?;
                let insert = sqlx::query_scalar(
                    "INSERT INTO km_contracts (product_id, name, information, key_digest, key_sealed, license_keys_quantity, \
                     active, can_get_info, can_generate, can_destroy, can_destroy_all, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
                );
                let id: i64 = bind_contract_fields!(insert, fields, self.codec)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict("contract key already in use", "product does not exist"))?;
                let stored = contract_by_id(&mut tx, &*self.codec, id).await?;
                insert_event(&mut tx, event, Some(id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(stored)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn update_contract(&self, id: i64, fields: ContractFields, event: EventDraft, now: Millis) -> Result<StoredContract> {
                let mut tx = begin_write(self).await?;
                require_product(&mut tx, fields.product_id).await?;
                let update = sqlx::query(
                    "UPDATE km_contracts SET product_id = $2, name = $3, information = $4, key_digest = $5, key_sealed = $6, \
                     license_keys_quantity = $7, active = $8, can_get_info = $9, can_generate = $10, can_destroy = $11, \
                     can_destroy_all = $12, updated_at = $13 WHERE id = $1",
                )
                .bind(id);
                let done = bind_contract_fields!(update, fields, self.codec)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(conflict("contract key already in use", "product does not exist"))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                let stored = contract_by_id(&mut tx, &*self.codec, id).await?;
                insert_event(&mut tx, event, Some(id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(stored)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn delete_contract(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM km_contracts WHERE id = $1", id, db_err, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn get_contract(&self, id: i64) -> Result<StoredContract> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                contract_by_id(&mut conn, &*self.codec, id).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn find_contract_by_key(&self, key: &str) -> Result<Option<StoredContract>> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CONTRACT_COLS} FROM km_contracts c WHERE c.key_digest = $1"
                )))
                .bind(self.codec.digest(key.as_bytes()));
                fetch_optional(&self.pool, query, |row| contract_from_row(row, &*self.codec)).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_contracts(&self) -> Result<Vec<StoredContract>> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CONTRACT_COLS} FROM km_contracts c ORDER BY c.id")));
                fetch_rows(&self.pool, query, |row| contract_from_row(row, &*self.codec)).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(contract_id = contract_id))]
            async fn generate_contract_keys(
                &self,
                contract_id: i64,
                new: Vec<crate::NewLicense>,
                event: EventDraft,
                now: Millis,
            ) -> Result<std::result::Result<Vec<LicenseId>, ContractRefusal>> {
                let mut tx = begin_write(self).await?;
                // The contract row lock serializes every generation against its quota.
                let locked = sqlx::query("UPDATE km_contracts SET updated_at = updated_at WHERE id = $1")
                    .bind(contract_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if locked.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                let stored = contract_by_id(&mut tx, &*self.codec, contract_id).await?;
                if let Err(refusal) = stored.contract.plan_generate(stored.license_keys_count, new.len() as i64) {
                    return Ok(Err(refusal));
                }
                let mut ids = Vec::with_capacity(new.len());
                for item in &new {
                    let id = insert_license(&mut tx, &*self.codec, item, now).await?;
                    sqlx::query("INSERT INTO km_contract_licenses (license_id, contract_id) VALUES ($1, $2)")
                        .bind(id.get())
                        .bind(contract_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    ids.push(id);
                }
                insert_event(&mut tx, event, Some(contract_id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(Ok(ids))
            }

            #[tracing::instrument(level = "debug", skip_all, fields(contract_id = contract_id, license_id = license_id.get()))]
            async fn destroy_contract_key(&self, contract_id: i64, license_id: LicenseId, event: EventDraft, now: Millis) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let done = sqlx::query(
                    "DELETE FROM licenses WHERE id = $1 AND id IN \
                     (SELECT license_id FROM km_contract_licenses WHERE contract_id = $2)",
                )
                .bind(license_id.get())
                .bind(contract_id)
                .execute(&mut *tx)
                .await
                .map_err(conflict("license is still in use", "license is still in use"))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_event(&mut tx, event, Some(license_id), now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(contract_id = contract_id))]
            async fn destroy_contract_keys(&self, contract_id: i64, event: EventDraft, now: Millis) -> Result<i64> {
                let mut tx = begin_write(self).await?;
                let done = sqlx::query(
                    "DELETE FROM licenses WHERE id IN (SELECT license_id FROM km_contract_licenses WHERE contract_id = $1)",
                )
                .bind(contract_id)
                .execute(&mut *tx)
                .await
                .map_err(conflict("license is still in use", "license is still in use"))?;
                let count = done.rows_affected() as i64;
                if count > 0 {
                    insert_event(&mut tx, event, Some(contract_id), now).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(count)
            }
        }
    };
}
