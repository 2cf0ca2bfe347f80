//! Storage the DNA dialect brings into the domain: per-license end-user data (license and admin
//! passwords, reset codes, activation email, license data), the IP lockout (failed password
//! attempts per license and end-user IP, with the per-product policy), and InfoTags.
//! Migrations use versions 400–499; files live in migrations/{sqlite,postgres}/.
//!
//! Every write that decides a lockout runs in one transaction whose first statement locks the
//! license row, like the core client commands, so concurrent failures are all counted.

use crate::{Page, PostgresStore, Result, SqliteStore};
use licensd_domain::lockout::IpLockoutPolicy;
use licensd_domain::{EventDraft, License, LicenseId, Millis, ProductId};
use serde::{Deserialize, Serialize};

crate::migrate::migrations!(400 "0400_dna");

/// The DNA end-user data of a license; all `None` for a license that has none yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnaLicense {
    pub license_id: LicenseId,
    /// argon2id PHC string of the end user's license password.
    pub password_hash: Option<String>,
    /// argon2id PHC string of a multi-user license's admin password.
    pub admin_password_hash: Option<String>,
    pub activation_email: Option<String>,
    pub license_data: Option<String>,
}

/// Which of a license's two passwords an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnaPassword {
    User,
    Admin,
}

/// What the status KeyWords need beyond the license and product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnaLicenseFacts {
    pub active_devices: i64,
    /// New activations inside the license's reactivation lockout window (0 without a lockout).
    pub recent_activations: i64,
    /// Whether any end-user IP is locked out of the license now.
    pub ip_locked: bool,
}

/// The outcome of a recorded password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordAttempt {
    Accepted,
    /// The password was wrong; `locked` tells whether this failure locked the IP out.
    Rejected {
        locked: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoTag {
    pub id: i64,
    pub license_id: LicenseId,
    pub tag: String,
    pub at: Millis,
}

/// A licence's account data (`licensd_domain::status_keywords`): activation e-mail, licence data,
/// end-user passwords and their reset codes.
#[async_trait::async_trait]
pub trait LicenseAccountStore: Send + Sync + 'static {
    /// The license's DNA data (defaults when it has none); NotFound when the license does not exist.
    async fn license_account(&self, license_id: LicenseId) -> Result<DnaLicense>;

    /// Counts for the status KeyWords, read in one snapshot.
    async fn license_facts(&self, license: &License, now: Millis) -> Result<DnaLicenseFacts>;

    /// Sets (or with `None` clears) one of the license's passwords; also voids that password's
    /// pending reset code.
    async fn set_license_password(
        &self,
        license_id: LicenseId,
        which: DnaPassword,
        hash: Option<String>,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    /// Stores a password reset code (as its keyed digest) valid until `expires_at`, replacing any
    /// earlier one for the same password.
    async fn set_password_reset_code(
        &self,
        license_id: LicenseId,
        which: DnaPassword,
        code: &str,
        expires_at: Millis,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    /// Whether `code` is the pending, unexpired reset code of that password.
    async fn password_reset_code_matches(
        &self,
        license_id: LicenseId,
        which: DnaPassword,
        code: &str,
        now: Millis,
    ) -> Result<bool>;

    /// Changes the activation email and/or the license data (`None` keeps a field); all or nothing.
    async fn update_license_account(
        &self,
        license_id: LicenseId,
        activation_email: Option<String>,
        license_data: Option<String>,
        event: EventDraft,
        now: Millis,
    ) -> Result<DnaLicense>;
}

/// Lockouts (`licensd_domain::lockout`): IP lockouts of end-user password checks and the
/// reactivation lockout.
#[async_trait::async_trait]
pub trait LockoutStore: Send + Sync + 'static {
    /// Whether this end-user IP is locked out of the license now.
    async fn ip_locked(&self, license_id: LicenseId, ip: &str, now: Millis) -> Result<bool>;

    /// Records a password check from `ip` under the license row lock. A locked-out IP is refused
    /// with `Denied(IpLockout)` and nothing is recorded; a failure counts towards the product's IP
    /// lockout policy and is committed. NotFound when the license does not exist.
    async fn password_attempt(
        &self,
        license_id: LicenseId,
        ip: &str,
        accepted: bool,
        event: EventDraft,
        now: Millis,
    ) -> Result<PasswordAttempt>;

    /// Ends every IP lockout and forgets failed attempts of the license; returns how many IPs.
    async fn clear_ip_lockouts(&self, license_id: LicenseId, event: EventDraft, now: Millis) -> Result<u64>;

    /// Resets the reactivation lockout: the license's past activations stop counting towards it
    /// (they move from `activation_log` to `dna_cleared_activations`, keeping the audit trail).
    /// Returns how many activations were cleared.
    async fn reset_reactivation_lockout(&self, license_id: LicenseId, event: EventDraft, now: Millis) -> Result<u64>;

    /// The product's IP lockout policy (the default when none was set); NotFound without the product.
    async fn ip_lockout_policy(&self, product_id: ProductId) -> Result<IpLockoutPolicy>;

    async fn set_ip_lockout_policy(
        &self,
        product_id: ProductId,
        policy: IpLockoutPolicy,
        event: EventDraft,
        now: Millis,
    ) -> Result<IpLockoutPolicy>;
}

/// Info tags a client reports about a licence.
#[async_trait::async_trait]
pub trait InfoTagStore: Send + Sync + 'static {
    async fn add_info_tag(&self, license_id: LicenseId, tag: &str, event: EventDraft, now: Millis) -> Result<InfoTag>;

    /// InfoTags of the license in the order they were reported.
    async fn list_info_tags(&self, license_id: LicenseId, page: Page) -> Result<Vec<InfoTag>>;

    /// The most recently reported InfoTag.
    async fn latest_info_tag(&self, license_id: LicenseId) -> Result<Option<InfoTag>>;
}

/// Implements `LicenseAccountStore`, `LockoutStore` and `InfoTagStore` for one backend (`$core`:
/// `sqlite` or `postgres`). Writes begin with `shared::begin_write` and take the license lock
/// first (`sql/tx.rs`), held to commit.
macro_rules! impl_dna_store {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        use crate::$core::shared::{Query, begin_write, fetch_optional, get, insert_event, lock_license_id};

        #[async_trait::async_trait]
        impl LicenseAccountStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn license_account(&self, license_id: LicenseId) -> Result<DnaLicense> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                license_exists(&mut conn, license_id).await?;
                dna_row(&mut conn, license_id).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id.get()))]
            async fn license_facts(&self, license: &License, now: Millis) -> Result<DnaLicenseFacts> {
                // One read transaction so the three counts describe the same moment.
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let active_devices: i64 =
                    sqlx::query_scalar(crate::sql::ACTIVE_DEVICES)
                        .bind(license.id.get())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                let recent_activations: i64 = match &license.terms.reactivation_lockout {
                    Some(lockout) => {
                        sqlx::query_scalar("SELECT COUNT(*) FROM activation_log WHERE license_id = $1 AND at > $2")
                            .bind(license.id.get())
                            .bind(now.saturating_sub(lockout.window_hours.saturating_mul(HOUR)))
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?
                    }
                    None => 0,
                };
                let locked: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM dna_ip_attempts WHERE license_id = $1 AND locked_until > $2")
                        .bind(license.id.get())
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(DnaLicenseFacts {
                    active_devices,
                    recent_activations,
                    ip_locked: locked > 0,
                })
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn set_license_password(
                &self,
                license_id: LicenseId,
                which: DnaPassword,
                hash: Option<String>,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let sql = match which {
                    DnaPassword::User => {
                        "UPDATE dna_licenses SET password_hash = $2, reset_digest = NULL, reset_expires_at = NULL, \
                         updated_at = $3 WHERE license_id = $1"
                    }
                    DnaPassword::Admin => {
                        "UPDATE dna_licenses SET admin_password_hash = $2, admin_reset_digest = NULL, \
                         admin_reset_expires_at = NULL, updated_at = $3 WHERE license_id = $1"
                    }
                };
                let update = sqlx::query(sql).bind(license_id.get()).bind(hash).bind(now);
                let mut tx = begin_write(self).await?;
                update_dna_row(&mut tx, license_id, update, event, now).await?;
                tx.commit().await.map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn set_password_reset_code(
                &self,
                license_id: LicenseId,
                which: DnaPassword,
                code: &str,
                expires_at: Millis,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let sql = match which {
                    DnaPassword::User => {
                        "UPDATE dna_licenses SET reset_digest = $2, reset_expires_at = $3, updated_at = $4 \
                         WHERE license_id = $1"
                    }
                    DnaPassword::Admin => {
                        "UPDATE dna_licenses SET admin_reset_digest = $2, admin_reset_expires_at = $3, updated_at = $4 \
                         WHERE license_id = $1"
                    }
                };
                let update = sqlx::query(sql)
                    .bind(license_id.get())
                    .bind(self.codec.digest(code.as_bytes()))
                    .bind(expires_at)
                    .bind(now);
                let mut tx = begin_write(self).await?;
                update_dna_row(&mut tx, license_id, update, event, now).await?;
                tx.commit().await.map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn password_reset_code_matches(
                &self,
                license_id: LicenseId,
                which: DnaPassword,
                code: &str,
                now: Millis,
            ) -> Result<bool> {
                // The digest is keyed, so comparing it in SQL reveals nothing about the code.
                let sql = match which {
                    DnaPassword::User => {
                        "SELECT COUNT(*) FROM dna_licenses WHERE license_id = $1 AND reset_digest = $2 \
                         AND reset_expires_at > $3"
                    }
                    DnaPassword::Admin => {
                        "SELECT COUNT(*) FROM dna_licenses WHERE license_id = $1 AND admin_reset_digest = $2 \
                         AND admin_reset_expires_at > $3"
                    }
                };
                let n: i64 = sqlx::query_scalar(sql)
                    .bind(license_id.get())
                    .bind(self.codec.digest(code.as_bytes()))
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(n > 0)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn update_license_account(
                &self,
                license_id: LicenseId,
                activation_email: Option<String>,
                license_data: Option<String>,
                event: EventDraft,
                now: Millis,
            ) -> Result<DnaLicense> {
                let update = sqlx::query(
                    "UPDATE dna_licenses SET activation_email = COALESCE($2, activation_email), \
                     license_data = COALESCE($3, license_data), updated_at = $4 WHERE license_id = $1",
                )
                .bind(license_id.get())
                .bind(activation_email)
                .bind(license_data)
                .bind(now);
                let mut tx = begin_write(self).await?;
                update_dna_row(&mut tx, license_id, update, event, now).await?;
                let updated = dna_row(&mut tx, license_id).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(updated)
            }
        }

        #[async_trait::async_trait]
        impl LockoutStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn ip_locked(&self, license_id: LicenseId, ip: &str, now: Millis) -> Result<bool> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let attempts = ip_attempts(&mut conn, license_id, ip).await?;
                Ok(lockout::ip_locked(attempts.as_ref(), now))
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn password_attempt(
                &self,
                license_id: LicenseId,
                ip: &str,
                accepted: bool,
                event: EventDraft,
                now: Millis,
            ) -> Result<PasswordAttempt> {
                let mut tx = begin_write(self).await?;
                let product_id = lock_license_id(&mut tx, license_id).await?;
                let attempts = ip_attempts(&mut tx, license_id, ip).await?;
                lockout::check_ip_lockout(attempts.as_ref(), now)?;
                if accepted {
                    tx.commit().await.map_err(db_err)?;
                    return Ok(PasswordAttempt::Accepted);
                }
                let policy = policy_of(&mut tx, product_id).await?;
                let next = lockout::record_ip_failure(&policy, attempts.as_ref(), now);
                sqlx::query(
                    "INSERT INTO dna_ip_attempts (license_id, ip, failures, window_start, locked_until) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (license_id, ip) DO UPDATE SET \
                     failures = excluded.failures, window_start = excluded.window_start, locked_until = excluded.locked_until",
                )
                .bind(license_id.get())
                .bind(ip)
                .bind(next.failures)
                .bind(next.window_start)
                .bind(next.locked_until)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let locked = lockout::ip_locked(Some(&next), now);
                let event = event.data(serde_json::json!({"ip": ip, "locked_until": next.locked_until}));
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(PasswordAttempt::Rejected { locked })
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn clear_ip_lockouts(&self, license_id: LicenseId, event: EventDraft, now: Millis) -> Result<u64> {
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
                let done = sqlx::query("DELETE FROM dna_ip_attempts WHERE license_id = $1")
                    .bind(license_id.get())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(done.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn reset_reactivation_lockout(
                &self,
                license_id: LicenseId,
                event: EventDraft,
                now: Millis,
            ) -> Result<u64> {
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
                sqlx::query(
                    "INSERT INTO dna_cleared_activations (license_id, fingerprint, at, cleared_at) \
                     SELECT license_id, fingerprint, at, $2 FROM activation_log WHERE license_id = $1",
                )
                .bind(license_id.get())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                let done = sqlx::query("DELETE FROM activation_log WHERE license_id = $1")
                    .bind(license_id.get())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(done.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn ip_lockout_policy(&self, product_id: ProductId) -> Result<IpLockoutPolicy> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE id = $1")
                    .bind(product_id.get())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                if exists == 0 {
                    return Err(StoreError::NotFound);
                }
                policy_of(&mut conn, product_id).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.get()))]
            async fn set_ip_lockout_policy(
                &self,
                product_id: ProductId,
                policy: IpLockoutPolicy,
                event: EventDraft,
                now: Millis,
            ) -> Result<IpLockoutPolicy> {
                let mut tx = begin_write(self).await?;
                let done = sqlx::query(
                    "INSERT INTO dna_product_settings (product_id, ip_lockout, updated_at) \
                     SELECT id, $2, $3 FROM products WHERE id = $1 \
                     ON CONFLICT (product_id) DO UPDATE SET ip_lockout = excluded.ip_lockout, updated_at = excluded.updated_at",
                )
                .bind(product_id.get())
                .bind(to_json(&policy)?)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_event(&mut tx, event, product_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(policy)
            }
        }

        #[async_trait::async_trait]
        impl InfoTagStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn add_info_tag(
                &self,
                license_id: LicenseId,
                tag: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<InfoTag> {
                let mut tx = begin_write(self).await?;
                lock_license_id(&mut tx, license_id).await?;
                let row = sqlx::query(
                    "INSERT INTO dna_info_tags (license_id, tag, at) VALUES ($1, $2, $3) RETURNING id, license_id, tag, at",
                )
                .bind(license_id.get())
                .bind(tag)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let created = info_tag_from_row(&row)?;
                insert_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(created)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn list_info_tags(&self, license_id: LicenseId, page: Page) -> Result<Vec<InfoTag>> {
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                license_exists(&mut conn, license_id).await?;
                let found = sqlx::query(
                    "SELECT id, license_id, tag, at FROM dna_info_tags WHERE license_id = $1 AND id > $2 \
                     ORDER BY id LIMIT $3",
                )
                .bind(license_id.get())
                .bind(page.after.unwrap_or(i64::MIN))
                .bind(page.clamped_limit())
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err)?;
                found.iter().map(info_tag_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn latest_info_tag(&self, license_id: LicenseId) -> Result<Option<InfoTag>> {
                let query = sqlx::query(
                    "SELECT id, license_id, tag, at FROM dna_info_tags WHERE license_id = $1 ORDER BY id DESC LIMIT 1",
                )
                .bind(license_id.get());
                fetch_optional(&self.pool, query, info_tag_from_row).await
            }
        }

        fn info_tag_from_row(r: &$row) -> Result<InfoTag> {
            Ok(InfoTag {
                id: get(r, "id")?,
                license_id: LicenseId::new(get(r, "license_id")?),
                tag: get(r, "tag")?,
                at: get(r, "at")?,
            })
        }

        async fn license_exists(conn: &mut $conn, license_id: LicenseId) -> Result<()> {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM licenses WHERE id = $1")
                .bind(license_id.get())
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        }

        /// Every write of a license's DNA data: takes the license lock, creates the license's
        /// `dna_licenses` row when it has none yet (so `update` always finds it), runs `update` (an
        /// `UPDATE dna_licenses … WHERE license_id = $1`) and logs `event`; the caller commits.
        async fn update_dna_row(
            tx: &mut $conn,
            license_id: LicenseId,
            update: Query<'_>,
            event: EventDraft,
            now: Millis,
        ) -> Result<()> {
            lock_license_id(&mut *tx, license_id).await?;
            sqlx::query(
                "INSERT INTO dna_licenses (license_id, updated_at) VALUES ($1, $2) ON CONFLICT (license_id) DO NOTHING",
            )
            .bind(license_id.get())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            update.execute(&mut *tx).await.map_err(db_err)?;
            insert_event(&mut *tx, event, license_id, now).await
        }

        async fn dna_row(conn: &mut $conn, license_id: LicenseId) -> Result<DnaLicense> {
            let row = sqlx::query(
                "SELECT password_hash, admin_password_hash, activation_email, license_data FROM dna_licenses \
                 WHERE license_id = $1",
            )
            .bind(license_id.get())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            match row {
                None => Ok(DnaLicense {
                    license_id,
                    password_hash: None,
                    admin_password_hash: None,
                    activation_email: None,
                    license_data: None,
                }),
                Some(r) => Ok(DnaLicense {
                    license_id,
                    password_hash: get(&r, "password_hash")?,
                    admin_password_hash: get(&r, "admin_password_hash")?,
                    activation_email: get(&r, "activation_email")?,
                    license_data: get(&r, "license_data")?,
                }),
            }
        }

        async fn ip_attempts(conn: &mut $conn, license_id: LicenseId, ip: &str) -> Result<Option<IpAttempts>> {
            let row = sqlx::query(
                "SELECT failures, window_start, locked_until FROM dna_ip_attempts WHERE license_id = $1 AND ip = $2",
            )
            .bind(license_id.get())
            .bind(ip)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            row.map(|r| {
                Ok(IpAttempts {
                    failures: get(&r, "failures")?,
                    window_start: get(&r, "window_start")?,
                    locked_until: get(&r, "locked_until")?,
                })
            })
            .transpose()
        }

        async fn policy_of(conn: &mut $conn, product_id: ProductId) -> Result<IpLockoutPolicy> {
            let text: Option<String> =
                sqlx::query_scalar("SELECT ip_lockout FROM dna_product_settings WHERE product_id = $1")
                    .bind(product_id.get())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            match text {
                Some(text) => from_json(&text, "dna_product_settings.ip_lockout"),
                None => Ok(IpLockoutPolicy::default()),
            }
        }
    };
}

mod sqlite_impl {
    use super::*;
    use crate::StoreError;
    use crate::sql::{db_err, from_json, to_json};
    use licensd_domain::clock::HOUR;
    use licensd_domain::lockout::{self, IpAttempts};

    impl_dna_store!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::SqliteConnection, sqlite);
}

mod postgres_impl {
    use super::*;
    use crate::StoreError;
    use crate::sql::{db_err, from_json, to_json};
    use licensd_domain::clock::HOUR;
    use licensd_domain::lockout::{self, IpAttempts};

    impl_dna_store!(PostgresStore, sqlx::postgres::PgRow, sqlx::PgConnection, postgres);
}
