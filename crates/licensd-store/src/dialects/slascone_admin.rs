//! SLASCONE back-office storage beyond `BackofficeStore`: the instance's generated ISV id and the
//! one-transaction license update of `PUT /licenses/{license_id}` (limits, expiry, edition,
//! temporary flag, license type, software release limitation and legacy license key together).
//! Migrations use versions 530–539; files live in migrations/{sqlite,postgres}/.

use crate::{PostgresStore, Result, SqliteStore};
use licensd_domain::{EventDraft, LicenseId, Millis};

pub use super::slascone::LicenseLimitsUpdate;

crate::migrate::migrations!(530 "0530_slascone_isv");

// The `StoreError::Conflict` texts of `apply_license_update` beyond the limits' ones
// (`slascone::CONFLICT_TOKENS_IN_USE`, `CONFLICT_USERS_IN_USE`, `CONFLICT_EXPIRATION_MODE`) and
// `slascone::CONFLICT_LEGACY_KEY`.
pub const CONFLICT_EDITION_MODE: &str = "the edition has another provisioning mode";
pub const CONFLICT_TEMPORARY: &str = "a license cannot be converted between temporary and non-temporary";
pub const CONFLICT_UNKNOWN_EDITION: &str = "no such edition of the license's product";
pub const CONFLICT_UNKNOWN_ENTRY: &str = "no such license type or release limitation of the license's product";

/// Everything `PUT /licenses/{license_id}` may change, applied in one transaction under the
/// license's row lock: either all of it or, on any refusal, nothing (events included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseUpdate {
    /// Tokens, user limit and expiry (checked against the license's assignments).
    pub limits: LicenseLimitsUpdate,
    /// Another edition (policy) of the license's product: same provisioning mode and
    /// temporary-ness (`licensd_domain::backoffice::check_edition_switch`).
    pub policy_id: Option<i64>,
    /// The temporary flag the caller expects; refused when it differs from the license's.
    pub temporary: Option<bool>,
    /// A license type entry of the product (replacing the license's type).
    pub license_type: Option<i64>,
    /// `Some(Some(entry))` sets the software release limitation, `Some(None)` removes it.
    pub release: Option<Option<i64>>,
    /// `Some(Some(key))` sets the legacy license key (`Conflict(CONFLICT_LEGACY_KEY)` when another
    /// license has it), `Some(None)` removes it.
    pub legacy_key: Option<Option<String>>,
}

/// The instance's ISV id, kept in the database (SLASCONE's wire names the instance by it).
#[async_trait::async_trait]
pub trait IsvStore: Send + Sync + 'static {
    /// The ISV id kept in the database, recording `candidate` when there is none yet. Safe under
    /// concurrency (two nodes starting at once read the same id).
    async fn isv_id(&self, candidate: &str, now: Millis) -> Result<String>;
}

/// A back-office licence update (edition, type, release limitation, legacy key, limits) as one
/// transaction.
#[async_trait::async_trait]
pub trait LicenseUpdateStore: Send + Sync + 'static {
    /// Applies a license update in one transaction. NotFound without the license;
    /// `Conflict(CONFLICT_UNKNOWN_EDITION | CONFLICT_UNKNOWN_ENTRY | CONFLICT_EDITION_MODE | CONFLICT_TEMPORARY |
    /// slascone::CONFLICT_LEGACY_KEY | slascone::CONFLICT_TOKENS_IN_USE | …_USERS_IN_USE |
    /// …_EXPIRATION_MODE)` refuses the whole update.
    async fn apply_license_update(
        &self,
        license_id: LicenseId,
        update: LicenseUpdate,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;
}

/// Implements `IsvStore` and `LicenseUpdateStore` for one backend (`$core`: `sqlite` or `postgres`); writes use
/// the shared transaction helpers (`sql/tx.rs`).
macro_rules! impl_slascone_admin_store {
    ($store:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{begin_write, insert_event, lock_license, write_pool};

        #[async_trait::async_trait]
        impl IsvStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn isv_id(&self, candidate: &str, now: Millis) -> Result<String> {
                sqlx::query(
                    "INSERT INTO slascone_isv (singleton, isv_id, created_at) VALUES (1, $1, $2) \
                     ON CONFLICT (singleton) DO NOTHING",
                )
                .bind(candidate)
                .bind(now)
                .execute(write_pool(self))
                .await
                .map_err(db_err)?;
                sqlx::query_scalar("SELECT isv_id FROM slascone_isv WHERE singleton = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)
            }
        }

        #[async_trait::async_trait]
        impl LicenseUpdateStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn apply_license_update(
                &self,
                license_id: LicenseId,
                update: LicenseUpdate,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                // The license row lock first, as every command that checks a count against a limit:
                // no activation or user assignment can slip in between the count and the update.
                let license = lock_license(&mut tx, &*self.codec, &crate::LicenseRef::Id(license_id))
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let product_id = license.product_id;
                let mut policy_id = license.policy_id;
                let mut terms = license.terms;
                let mut expires_at = license.expires_at;
                let mut trial_days = license.trial_days;

                // The core properties first: they refuse without looking at any count.
                if let Some(wanted) = update.policy_id {
                    let edition = sqlx::query("SELECT terms FROM policies WHERE id = $1 AND product_id = $2")
                        .bind(wanted)
                        .bind(product_id.get())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .ok_or_else(|| StoreError::Conflict(CONFLICT_UNKNOWN_EDITION.into()))?;
                    let edition_text: String = edition.try_get("terms").map_err(db_err)?;
                    let edition_terms: LicenseTerms = from_json(&edition_text, "policy terms")?;
                    backoffice::check_edition_switch(&terms, &edition_terms).map_err(refusal)?;
                    policy_id = Some(wanted);
                }
                if let Some(temporary) = update.temporary {
                    backoffice::check_temporary(&terms, temporary).map_err(refusal)?;
                }

                let limits = &update.limits;
                if limits.token_limit.is_some() || limits.days_after_activation.is_some() {
                    let active: i64 = sqlx::query_scalar(crate::sql::ACTIVE_DEVICES)
                    .bind(license_id.get())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if let Some(limit) = limits.token_limit {
                        if limit < active {
                            return Err(StoreError::Conflict(CONFLICT_TOKENS_IN_USE.into()));
                        }
                        terms.max_activations = Some(limit);
                    }
                    if let Some(days) = limits.days_after_activation {
                        if active > 0 {
                            return Err(StoreError::Conflict(CONFLICT_EXPIRATION_MODE.into()));
                        }
                        trial_days = Some(days);
                        expires_at = None;
                    }
                }
                if let Some(limit) = limits.user_limit {
                    let users: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM license_user_assignments WHERE license_id = $1")
                            .bind(license_id.get())
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    if limit < users {
                        return Err(StoreError::Conflict(CONFLICT_USERS_IN_USE.into()));
                    }
                    terms.max_users = Some(limit);
                }
                if let Some(at) = limits.expires_at {
                    expires_at = Some(at);
                    trial_days = None;
                }

                match &update.legacy_key {
                    None => {}
                    Some(legacy) => {
                        sqlx::query("DELETE FROM slascone_legacy_keys WHERE license_id = $1")
                            .bind(license_id.get())
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        if let Some(legacy) = legacy {
                            sqlx::query("INSERT INTO slascone_legacy_keys (legacy_key, license_id) VALUES ($1, $2)")
                                .bind(legacy)
                                .bind(license_id.get())
                                .execute(&mut *tx)
                                .await
                                .map_err(conflict(CONFLICT_LEGACY_KEY, CONFLICT_LEGACY_KEY))?;
                        }
                    }
                }
                // A license has one type and one release limitation: a new one replaces the old.
                let single = [
                    (EntryKind::LicenseType, update.license_type.map(Some)),
                    (EntryKind::SoftwareRelease, update.release),
                ];
                for (kind, value) in single {
                    let Some(entry) = value else { continue };
                    delete_license_values(&mut tx, license_id, kind.as_str()).await?;
                    if let Some(entry) = entry {
                        let inserted = sqlx::query(
                            "INSERT INTO slascone_license_values (license_id, entry_id, value) \
                             SELECT $1, id, '' FROM slascone_entries WHERE id = $2 AND kind = $3 AND scope_id = $4",
                        )
                        .bind(license_id.get())
                        .bind(entry)
                        .bind(kind.as_str())
                        .bind(product_id.get())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                        if inserted != 1 {
                            return Err(StoreError::Conflict(CONFLICT_UNKNOWN_ENTRY.into()));
                        }
                    }
                }

                sqlx::query(
                    "UPDATE licenses SET terms = $2, expires_at = $3, trial_days = $4, policy_id = $5, \
                     updated_at = $6 WHERE id = $1",
                )
                .bind(license_id.get())
                .bind(to_json(&terms)?)
                .bind(expires_at)
                .bind(trial_days)
                .bind(policy_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)
            }
        }

        fn refusal(change: backoffice::EditionChange) -> StoreError {
            StoreError::Conflict(
                match change {
                    backoffice::EditionChange::ProvisioningMode => CONFLICT_EDITION_MODE,
                    backoffice::EditionChange::Temporary => CONFLICT_TEMPORARY,
                }
                .into(),
            )
        }
    };
}

mod sqlite_impl {
    use super::*;
    use crate::StoreError;
    use crate::dialects::slascone::{
        CONFLICT_EXPIRATION_MODE, CONFLICT_LEGACY_KEY, CONFLICT_TOKENS_IN_USE, CONFLICT_USERS_IN_USE,
    };
    use crate::sql::{conflict, db_err, from_json, to_json};
    use licensd_domain::LicenseTerms;
    use licensd_domain::backoffice::{self, EntryKind};
    use sqlx::Row;

    use crate::dialects::slascone::sqlite_impl::delete_license_values;

    impl_slascone_admin_store!(SqliteStore, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    use crate::StoreError;
    use crate::dialects::slascone::{
        CONFLICT_EXPIRATION_MODE, CONFLICT_LEGACY_KEY, CONFLICT_TOKENS_IN_USE, CONFLICT_USERS_IN_USE,
    };
    use crate::sql::{conflict, db_err, from_json, to_json};
    use licensd_domain::LicenseTerms;
    use licensd_domain::backoffice::{self, EntryKind};
    use sqlx::Row;

    use crate::dialects::slascone::postgres_impl::delete_license_values;

    impl_slascone_admin_store!(PostgresStore, sqlx::PgConnection, postgres);
}
