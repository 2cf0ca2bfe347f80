//! Resetting a licence's consumption counters from the console.

use crate::{PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{EventDraft, LicenseId, Millis};

/// Consumption resets.
#[async_trait::async_trait]
pub trait ConsumptionResetStore: Send + Sync + 'static {
    /// Sets the licence's consumption counter and its features' counters back to zero and starts
    /// a new consumption period at `now`, logging `event`, in one transaction whose first
    /// statement locks the licence row. `NotFound` for an unknown licence.
    async fn reset_consumption(&self, license_id: LicenseId, event: EventDraft, now: Millis) -> Result<()>;
}

/// Implements `ConsumptionResetStore` for one backend (`$core`: `sqlite` or `postgres`, whose `shared`
/// module holds the write helpers of `sql/tx.rs` and the row getter).
macro_rules! impl_consumption_reset {
    ($store:ty, $core:ident) => {
        const _: () = {
            use crate::sql::db_err;
            use crate::$core::shared::{begin_write, insert_event};

            #[async_trait::async_trait]
            impl ConsumptionResetStore for $store {
                async fn reset_consumption(&self, license_id: LicenseId, event: EventDraft, now: Millis) -> Result<()> {
                    let mut tx = begin_write(self).await?;
                    let done = sqlx::query(
                        "UPDATE licenses SET lock_version = lock_version + 1, consumption_used = 0, \
                         consumption_period_start = $2, updated_at = $2 WHERE id = $1",
                    )
                    .bind(license_id.get())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query(
                        "UPDATE license_features SET consumption_used = 0, period_start = $2 WHERE license_id = $1",
                    )
                    .bind(license_id.get())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_event(&mut tx, event, license_id, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }
            }
        };
    };
}

impl_consumption_reset!(SqliteStore, sqlite);
impl_consumption_reset!(PostgresStore, postgres);
