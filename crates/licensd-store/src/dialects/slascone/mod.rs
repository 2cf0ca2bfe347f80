//! Storage the SLASCONE dialect brings into the domain: token keys. In SLASCONE an activation
//! assigns one of a license's tokens to a client and hands the client a token key (a GUID) that
//! later names that assignment (unassign, heartbeats with `token_key`). licensd's activation slot is
//! the core `Device`; this table only remembers which token key belongs to which (license, client).
//!
//! Token keys are secrets like license keys: stored sealed (heartbeats hand them back) and looked
//! up by their keyed digest, never in plain text.
//! Migrations use versions 300–399 and 510–519; files live in migrations/{sqlite,postgres}/.

use crate::{NewLicense, NewLicenseUser};
use crate::{PostgresStore, Result, SqliteStore};
use licensd_domain::analytics::{AnalyticalField, AnalyticalFieldType, UsageFeature, UsageModule};
use licensd_domain::backoffice::{CustomerProfile, Entry, EntryKind, TagTarget};
use licensd_domain::{
    Customer, CustomerId, EventDraft, License, LicenseId, LicenseStatus, LicenseUser, Millis, ProductId,
};

crate::migrate::migrations!(
    300 "0300_slascone",
    301 "0301_slascone_backoffice",
    510 "0510_edition_names_unique",
);

// The `StoreError::Conflict` texts of the back-office commands: callers (the dialect) tell the
// refusals apart by them.
pub const CONFLICT_ENTRY_EXISTS: &str = "entry already exists";
pub const CONFLICT_CUSTOMER_NUMBER: &str = "customer number already exists";
pub const CONFLICT_CUSTOMER_EMAIL: &str = "customer email already exists";
pub const CONFLICT_PROSPECT_NUMBER: &str = "prospect number already exists";
pub const CONFLICT_TAG_ASSIGNED: &str = "tag assignment already exists";
pub const CONFLICT_LAST_EDITION: &str = "the last edition of a product cannot be deleted";
pub const CONFLICT_EDITION_IN_USE: &str = "edition has licenses";
pub const CONFLICT_LEGACY_KEY: &str = "legacy license key already exists";
pub const CONFLICT_USER_ASSIGNED: &str = "license user is already assigned";
pub const CONFLICT_TOKENS_IN_USE: &str = "fewer tokens than are assigned";
pub const CONFLICT_USERS_IN_USE: &str = "a lower user limit than users are assigned";
pub const CONFLICT_EXPIRATION_MODE: &str = "days after activation once a token is assigned";

/// The sealing context of token keys (binds the ciphertext to this use).
const TOKEN_CONTEXT: &str = "slascone-token-key";

mod api;
#[macro_use]
mod analytics;
#[macro_use]
mod backoffice;

pub use api::*;

/// Implements `TokenStore`, `ConsumptionRollbackStore`, `AnalyticsStore`, `BackofficeStore` and
/// `LegacyKeyStore` for one backend (`$core`: `sqlite` or `postgres`); writes use the shared
/// transaction helpers (`sql/tx.rs`).
macro_rules! impl_slascone_store {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{
            begin_write, execute_in_write, fetch_optional, fetch_rows, insert_event as log_event, lock_license_id, write_logged, write_pool,
        };

        impl_slascone_analytics!($store, $row, $conn, $core);
        impl_slascone_backoffice!($store, $row, $conn, $core);

        #[async_trait::async_trait]
        impl TokenStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn token_for(
                &self,
                license_id: LicenseId,
                client_id: &str,
                candidate: &str,
                now: Millis,
            ) -> Result<SlasconeToken> {
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM licenses WHERE id = $1")
                    .bind(license_id.get())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound);
                }
                // ON CONFLICT DO NOTHING on the (license, client) key: a racing insert loses quietly
                // and both callers then read the one row that won.
                sqlx::query(
                    "INSERT INTO slascone_tokens (license_id, client_id, token_digest, token_sealed, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (license_id, client_id) DO NOTHING",
                )
                .bind(license_id.get())
                .bind(client_id)
                .bind(self.codec.digest(candidate.as_bytes()))
                .bind(self.codec.seal(candidate.as_bytes(), TOKEN_CONTEXT))
                .bind(now)
                .execute(write_pool(self))
                .await
                .map_err(db_err)?;
                self.token_of(license_id, client_id)
                    .await?
                    .ok_or_else(|| StoreError::Database("token row vanished after insert".into()))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn claim_token(
                &self,
                token_key: &str,
                client_id: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<Option<SlasconeToken>> {
                let digest = self.codec.digest(token_key.as_bytes());
                let mut tx = begin_write(self).await?;
                let license_id: Option<LicenseId> =
                    sqlx::query_scalar("SELECT license_id FROM slascone_tokens WHERE token_digest = $1")
                        .bind(&digest)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .map(LicenseId::new);
                let license_id = license_id.ok_or(StoreError::NotFound)?;
                // The license row lock serialises this with activations and unassigns of the license
                // (SQLite's BEGIN IMMEDIATE already holds the write lock).
                lock_license_id(&mut tx, license_id).await?;
                let holder: String = sqlx::query_scalar("SELECT client_id FROM slascone_tokens WHERE token_digest = $1")
                    .bind(&digest)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if holder != client_id {
                    let active: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM devices WHERE license_id = $1 AND fingerprint = $2 \
                         AND deactivated_at IS NULL",
                    )
                    .bind(license_id.get())
                    .bind(&holder)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if active > 0 {
                        return Ok(None);
                    }
                    sqlx::query("DELETE FROM slascone_tokens WHERE license_id = $1 AND client_id = $2")
                        .bind(license_id.get())
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    sqlx::query("UPDATE slascone_tokens SET client_id = $2, created_at = $3 WHERE token_digest = $1")
                        .bind(&digest)
                        .bind(client_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    log_event(&mut tx, event, license_id, now).await?;
                }
                let row = sqlx::query(
                    "SELECT license_id, client_id, token_sealed, created_at FROM slascone_tokens \
                     WHERE token_digest = $1",
                )
                .bind(&digest)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let token = token_from_row(&*self.codec, &row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(Some(token))
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn token_of(&self, license_id: LicenseId, client_id: &str) -> Result<Option<SlasconeToken>> {
                let query = sqlx::query(
                    "SELECT license_id, client_id, token_sealed, created_at FROM slascone_tokens \
                     WHERE license_id = $1 AND client_id = $2",
                )
                .bind(license_id.get())
                .bind(client_id);
                fetch_optional(&self.pool, query, |row| token_from_row(&*self.codec, row)).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn find_token(&self, token_key: &str) -> Result<Option<SlasconeToken>> {
                let query = sqlx::query(
                    "SELECT license_id, client_id, token_sealed, created_at FROM slascone_tokens \
                     WHERE token_digest = $1",
                )
                .bind(self.codec.digest(token_key.as_bytes()));
                fetch_optional(&self.pool, query, |row| token_from_row(&*self.codec, row)).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn client_tokens(&self, client_id: &str) -> Result<Vec<SlasconeToken>> {
                let found = sqlx::query(
                    "SELECT license_id, client_id, token_sealed, created_at FROM slascone_tokens \
                     WHERE client_id = $1 ORDER BY created_at, license_id",
                )
                .bind(client_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                found
                    .iter()
                    .map(|row| token_from_row(&*self.codec, row))
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl ConsumptionRollbackStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(transaction_id = transaction_id))]
            async fn rollback_consumption(
                &self,
                transaction_id: i64,
                product_scope: Option<ProductId>,
                event: EventDraft,
                now: Millis,
            ) -> Result<ConsumptionRollback> {
                let mut tx = begin_write(self).await?;
                let Some(row) = sqlx::query(
                    "SELECT license_id, feature_id, amount, at FROM consumption_events \
                     WHERE id = $1 AND feature_id IS NOT NULL",
                )
                .bind(transaction_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?
                else {
                    return Err(StoreError::NotFound);
                };
                let license_id = LicenseId::new(row.try_get("license_id").map_err(db_err)?);
                let feature_id: i64 = row.try_get("feature_id").map_err(db_err)?;
                let amount: i64 = row.try_get("amount").map_err(db_err)?;
                let consumed_at: i64 = row.try_get("at").map_err(db_err)?;
                // Lock the license row first, like every command that changes a counter.
                let product_id = lock_license_id(&mut tx, license_id).await?;
                if product_scope.is_some_and(|scope| scope != product_id) {
                    return Err(StoreError::NotFound);
                }
                let earlier: Option<i64> = sqlx::query_scalar(
                    "SELECT total_after FROM consumption_events WHERE license_id = $1 AND idempotency_key = $2",
                )
                .bind(license_id.get())
                .bind(rollback_key(transaction_id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                if let Some(total) = earlier {
                    // Dropping the transaction rolls back the lock bump: a replay writes nothing.
                    drop(tx);
                    return Ok(ConsumptionRollback { license_id, feature_id, total, replayed: true });
                }
                let counter_row = sqlx::query(
                    "SELECT lf.consumption_used, lf.period_start, f.reset_period FROM license_features lf \
                     JOIN features f ON f.id = lf.feature_id WHERE lf.license_id = $1 AND lf.feature_id = $2",
                )
                .bind(license_id.get())
                .bind(feature_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?
                .ok_or(StoreError::NotFound)?;
                let used: i64 = counter_row.try_get("consumption_used").map_err(db_err)?;
                let period_start: i64 = counter_row.try_get("period_start").map_err(db_err)?;
                let reset: String = counter_row.try_get("reset_period").map_err(db_err)?;
                let reset_period = ResetPeriod::parse(&reset)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown reset period {reset:?}")))?;
                // Only the reset period matters for where the counter stands now.
                let terms = ConsumptionTerms {
                    max_consumptions: None,
                    allow_overages: false,
                    max_overages: None,
                    allow_negative: false,
                    reset_period,
                };
                let current = rules::current_counter(&terms, used, period_start, now);
                let next = consumption_rollback::plan_rollback(current, amount, consumed_at)?;
                sqlx::query(
                    "UPDATE license_features SET consumption_used = $3, period_start = $4 \
                     WHERE license_id = $1 AND feature_id = $2",
                )
                .bind(license_id.get())
                .bind(feature_id)
                .bind(next.used)
                .bind(next.period_start)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO consumption_events (license_id, feature_id, amount, total_after, idempotency_key, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(license_id.get())
                .bind(feature_id)
                .bind(next.used - current.used)
                .bind(next.used)
                .bind(rollback_key(transaction_id))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let data = serde_json::json!({"transaction_id": transaction_id, "returned": current.used - next.used});
                log_event(&mut tx, EventDraft { data, ..event }, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(ConsumptionRollback { license_id, feature_id, total: next.used, replayed: false })
            }
        }

        fn entry_from_row(row: &$row) -> Result<Entry> {
            let kind: String = row.try_get("kind").map_err(db_err)?;
            Ok(Entry {
                id: row.try_get("id").map_err(db_err)?,
                kind: EntryKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("unknown entry kind {kind:?}")))?,
                scope_id: row.try_get("scope_id").map_err(db_err)?,
                name: row.try_get("name").map_err(db_err)?,
                detail: row.try_get("detail").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
            })
        }

        fn rollback_key(transaction_id: i64) -> String {
            format!("slascone-rollback:{transaction_id}")
        }

        fn token_from_row(codec: &dyn crate::SecretCodec, row: &$row) -> Result<SlasconeToken> {
            let sealed: Vec<u8> = row.try_get("token_sealed").map_err(db_err)?;
            Ok(SlasconeToken {
                license_id: LicenseId::new(row.try_get("license_id").map_err(db_err)?),
                client_id: row.try_get("client_id").map_err(db_err)?,
                token_key: open_text(codec, &sealed, TOKEN_CONTEXT)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
            })
        }
    };
}

pub(crate) mod sqlite_impl {
    use super::*;
    use crate::StoreError;
    use crate::sql::{conflict, db_err, open_text};
    use licensd_domain::{ConsumptionTerms, ResetPeriod, consumption_rollback, rules};
    use sqlx::Row;

    impl_slascone_store!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

pub(crate) mod postgres_impl {
    use super::*;
    use crate::StoreError;
    use crate::sql::{conflict, db_err, open_text};
    use licensd_domain::{ConsumptionTerms, ResetPeriod, consumption_rollback, rules};
    use sqlx::Row;

    impl_slascone_store!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
