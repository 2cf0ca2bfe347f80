//! API keys' capabilities and the access block list.

/// Implements `ApiKeyStore` and `AccessBlockStore` for one store type. Expanded inside
/// `impl_keymanager!`, so the row helpers and `insert_event` there are in scope.
macro_rules! impl_km_keys {
    ($store:ty, $row:ty, $conn:ty, $lock:literal, $skip_locked:literal, $core:ident) => {
        #[async_trait::async_trait]
        impl ApiKeyStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(credential_id = credential_id))]
            async fn api_key_settings(&self, credential_id: i64) -> Result<Option<ApiKeySettings>> {
                let row = sqlx::query(
                    "SELECT credential_id, capabilities, active, updated_at FROM km_api_key_settings \
                     WHERE credential_id = $1",
                )
                .bind(credential_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                row.map(|row| {
                    let capabilities: String = get(&row, "capabilities")?;
                    Ok(ApiKeySettings {
                        credential_id: get(&row, "credential_id")?,
                        capabilities: from_json(&capabilities, "API key capabilities")?,
                        active: get(&row, "active")?,
                        updated_at: get(&row, "updated_at")?,
                    })
                })
                .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn put_api_key_settings(
                &self,
                settings: ApiKeySettings,
                event: EventDraft,
            ) -> Result<ApiKeySettings> {
                let mut tx = begin_write(self).await?;
                let found: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM credentials WHERE id = $1 AND dialect = 'keymanager'",
                )
                .bind(settings.credential_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if found == 0 {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "INSERT INTO km_api_key_settings (credential_id, capabilities, active, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (credential_id) DO UPDATE SET \
                     capabilities = excluded.capabilities, active = excluded.active, updated_at = excluded.updated_at",
                )
                .bind(settings.credential_id)
                .bind(to_json(&settings.capabilities)?)
                .bind(settings.active)
                .bind(settings.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_event(&mut tx, event, Some(settings.credential_id), settings.updated_at).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(settings)
            }
        }

        #[async_trait::async_trait]
        impl AccessBlockStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn add_access_block(
                &self,
                kind: AccessBlockKind,
                value: &str,
                reason: Option<String>,
                event: EventDraft,
                now: Millis,
            ) -> Result<AccessBlock> {
                let query = sqlx::query(
                    "INSERT INTO km_access_blocks (kind, value, reason, created_at) VALUES ($1, $2, $3, $4) \
                     RETURNING id, kind, value, reason, created_at",
                )
                .bind(kind.as_str())
                .bind(value)
                .bind(reason)
                .bind(now);
                let on_error = conflict("this value is already on the access block list", "reference missing");
                write_logged(self, query, on_error, block_from_row, |b| b.id, event, now).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_access_blocks(&self) -> Result<Vec<AccessBlock>> {
                let query = sqlx::query("SELECT id, kind, value, reason, created_at FROM km_access_blocks ORDER BY id");
                fetch_rows(&self.pool, query, block_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn delete_access_block(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                delete_logged(self, "DELETE FROM km_access_blocks WHERE id = $1", id, db_err, event, now).await
            }
        }
    };
}
