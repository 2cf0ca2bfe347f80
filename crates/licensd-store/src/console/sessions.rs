//! Console sign-in: browser sessions and the admin tokens' limits (read-only, expiry, IP
//! allow-list; `licensd_domain::access::admit_admin` is the rule).
//!
//! Sessions live in the database (`console_sessions`, migration 700), so several nodes on one
//! PostgreSQL agree on who is signed in. The cookie's secret is stored only as a keyed digest,
//! like admin tokens; a session ends at its expiry, at sign-out, or when its admin token is
//! revoked.

use crate::{AdminToken, NewAdminToken, PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{EventDraft, Millis};

/// A signed-in console session, with what its admin token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id: i64,
    pub admin_token_id: i64,
    pub admin_name: String,
    pub read_only: bool,
    /// The token every form of this session carries (checked on every POST).
    pub csrf: String,
    pub expires_at: Millis,
}

/// Console sessions and scoped admin tokens.
#[async_trait::async_trait]
pub trait ConsoleSessionStore: Send + Sync + 'static {
    /// Opens a session for an admin token (removing expired sessions first).
    async fn console_session_open(
        &self,
        admin_token_id: i64,
        secret: &str,
        csrf: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// The unexpired session with this cookie secret whose admin token is not revoked.
    async fn console_session_find(&self, secret: &str, now: Millis) -> Result<Option<ConsoleSession>>;
    /// Ends the session with this cookie secret (nothing when there is none).
    async fn console_session_close(&self, secret: &str) -> Result<()>;
    /// Creates an admin token with its limits (read-only, expiry, IP allow-list) and logs
    /// `event`, in one transaction.
    async fn create_scoped_admin_token(
        &self,
        new: NewAdminToken,
        token: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<AdminToken>;
}

/// Implements `ConsoleSessionStore` for one backend (`$core`: `sqlite` or `postgres`, whose `shared`
/// module holds the write helpers of `sql/tx.rs` and the row getter).
macro_rules! impl_console_sessions {
    ($store:ty, $core:ident) => {
        const _: () = {
            use crate::sql::{admin_token_cols, db_err, from_json, to_json};
            use crate::$core::shared::{begin_write, execute_in_write, get, insert_event};

            #[async_trait::async_trait]
            impl ConsoleSessionStore for $store {
                async fn console_session_open(
                    &self,
                    admin_token_id: i64,
                    secret: &str,
                    csrf: &str,
                    now: Millis,
                    expires_at: Millis,
                ) -> Result<()> {
                    let prune = sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1").bind(now);
                    let insert = sqlx::query(
                        "INSERT INTO console_sessions (digest, admin_token_id, csrf, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(self.codec.digest(secret.as_bytes()))
                    .bind(admin_token_id)
                    .bind(csrf)
                    .bind(now)
                    .bind(expires_at);
                    execute_in_write(self, [prune, insert], db_err).await
                }

                async fn console_session_find(&self, secret: &str, now: Millis) -> Result<Option<ConsoleSession>> {
                    let row = sqlx::query(
                        "SELECT s.id, s.admin_token_id, t.name, t.read_only, s.csrf, s.expires_at \
                         FROM console_sessions s JOIN admin_tokens t ON t.id = s.admin_token_id \
                         WHERE s.digest = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
                    )
                    .bind(self.codec.digest(secret.as_bytes()))
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    row.map(|row| {
                        Ok(ConsoleSession {
                            id: get(&row, "id")?,
                            admin_token_id: get(&row, "admin_token_id")?,
                            admin_name: get(&row, "name")?,
                            read_only: get(&row, "read_only")?,
                            csrf: get(&row, "csrf")?,
                            expires_at: get(&row, "expires_at")?,
                        })
                    })
                    .transpose()
                }

                async fn console_session_close(&self, secret: &str) -> Result<()> {
                    let close = sqlx::query("DELETE FROM console_sessions WHERE digest = $1")
                        .bind(self.codec.digest(secret.as_bytes()));
                    execute_in_write(self, [close], db_err).await
                }

                async fn create_scoped_admin_token(
                    &self,
                    new: NewAdminToken,
                    token: &str,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<AdminToken> {
                    let mut tx = begin_write(self).await?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO admin_tokens (name, digest, created_at, read_only, expires_at, ip_allowlist) \
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                        admin_token_cols!()
                    ))
                    .bind(&new.name)
                    .bind(self.codec.digest(token.as_bytes()))
                    .bind(now)
                    .bind(new.read_only)
                    .bind(new.expires_at)
                    .bind(to_json(&new.ip_allowlist)?)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| match db_err(e) {
                        StoreError::Conflict(_) => StoreError::Conflict("admin token already exists".into()),
                        other => other,
                    })?;
                    let ip_allowlist: String = get(&row, "ip_allowlist")?;
                    let created = AdminToken {
                        id: get(&row, "id")?,
                        name: get(&row, "name")?,
                        read_only: get(&row, "read_only")?,
                        expires_at: get(&row, "expires_at")?,
                        ip_allowlist: from_json(&ip_allowlist, "admin token ip_allowlist")?,
                        created_at: get(&row, "created_at")?,
                        revoked_at: get(&row, "revoked_at")?,
                    };
                    insert_event(&mut tx, event, created.id, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(created)
                }
            }
        };
    };
}

impl_console_sessions!(SqliteStore, sqlite);
impl_console_sessions!(PostgresStore, postgres);
