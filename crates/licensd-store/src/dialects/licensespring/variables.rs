//! Device variables: what a client reports about its device, merged into the device's variables
//! under the license lock.

use crate::sql::db_err;
use crate::{PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{Denial, DeviceId, EventDraft, LicenseId, Millis};

/// Device variables.
#[async_trait::async_trait]
pub trait DeviceVariableStore: Send + Sync + 'static {
    /// Merges `variables` (an object of name → value) into the variables of the license's active
    /// device with this fingerprint, under the license lock; returns the device's variables after.
    /// Denied with `DeviceNotActivated` when no such active device exists.
    async fn track_device_variables(
        &self,
        license_id: LicenseId,
        fingerprint: &str,
        variables: serde_json::Map<String, serde_json::Value>,
        event: EventDraft,
        now: Millis,
    ) -> Result<(DeviceId, serde_json::Value)>;
}

/// Implements `DeviceVariableStore` for one backend (`$core`: `sqlite` or `postgres`).
macro_rules! impl_device_variables {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{begin_write, insert_event, lock_license_id};

        #[async_trait::async_trait]
        impl DeviceVariableStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn track_device_variables(
                &self,
                license_id: LicenseId,
                fingerprint: &str,
                variables: serde_json::Map<String, serde_json::Value>,
                event: EventDraft,
                now: Millis,
            ) -> Result<(DeviceId, serde_json::Value)> {
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
                let device: Option<(i64, String)> = sqlx::query_as(
                    "SELECT id, variables FROM devices WHERE license_id = $1 AND fingerprint = $2 AND deactivated_at IS NULL",
                )
                .bind(license_id.get())
                .bind(fingerprint)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some((device_id, stored)) = device else {
                    return Err(StoreError::Denied(Denial::DeviceNotActivated));
                };
                let mut merged = match serde_json::from_str::<serde_json::Value>(&stored) {
                    Ok(serde_json::Value::Object(map)) => map,
                    Ok(serde_json::Value::Null) => serde_json::Map::new(),
                    Ok(_) | Err(_) => return Err(StoreError::Corrupt(format!("device {device_id} variables"))),
                };
                merged.extend(variables);
                let merged = serde_json::Value::Object(merged);
                let text = serde_json::to_string(&merged).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query("UPDATE devices SET variables = $2, last_seen_at = $3 WHERE id = $1")
                    .bind(device_id)
                    .bind(text)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok((DeviceId::new(device_id), merged))
            }
        }
    };
}

mod sqlite_impl {
    use super::*;
    impl_device_variables!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    impl_device_variables!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
