//! SLASCONE floating sessions: each `session_id` of a client is a floating lease (a seat) of its
//! own, with a row in `slascone_sessions` naming its client, session id and user. Opening and
//! closing run in one transaction under the license row lock; the limits are decided by
//! `licensd_domain::floating_sessions::plan_session` over what the transaction counted, so
//! concurrent opens cannot exceed the seats, the sessions per client or one client per user.
//! Migrations use versions 520–529.

use crate::{PostgresStore, Result, SqliteStore};
use licensd_domain::floating_sessions::SessionRefusal;
use licensd_domain::{EventDraft, FloatingLease, LicenseId, Millis};

crate::migrate::migrations!(520 "0520_slascone_sessions");

/// A session open request, as the dialect checked it at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOpen {
    pub license_id: LicenseId,
    pub client_id: String,
    pub session_id: String,
    /// The license user (email, lowercase) on user-type products; `None` otherwise.
    pub user_id: Option<String>,
    /// The end of the checkout (borrow) period, if any.
    pub borrow_until: Option<Millis>,
}

/// The lease fingerprint of a session: unique per (client, session id), unambiguous because the
/// client id's length comes first. Only informational (admin lease listings); lookups go through
/// `slascone_sessions`.
pub fn session_fingerprint(client_id: &str, session_id: &str) -> String {
    format!("slascone-session:{}:{client_id}:{session_id}", client_id.len())
}

#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Opens the session or renews it (same client and session id, still live). A refusal
    /// (`Ok(Err(..))`) changes nothing. `Denied(LicenseNotFound)` when the license does not exist.
    async fn open_session(
        &self,
        open: SessionOpen,
        event: EventDraft,
        now: Millis,
    ) -> Result<std::result::Result<FloatingLease, SessionRefusal>>;
    /// Closes the client's live session `session_id`; false (nothing changed) when there is none.
    async fn close_session(
        &self,
        license_id: LicenseId,
        client_id: &str,
        session_id: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<bool>;
}

macro_rules! impl_sessions {
    ($store:ty, $conn:ty, $core:ident) => {
        const _: () = {
            use crate::sql::{db_err, lease_cols};
            use crate::$core::shared::{begin_write, insert_event, lease_from_row, lock_license_or_deny, product_of};
            use crate::{LicenseRef, StoreError};
            use licensd_domain::floating_sessions::{SessionState, plan_session};

            /// Leases that are no longer live free their seats (their session rows go with them).
            async fn drop_dead_leases(conn: &mut $conn, license_id: LicenseId, now: Millis) -> Result<()> {
                sqlx::query(
                    "DELETE FROM floating_leases WHERE license_id = $1 AND expires_at <= $2 \
                     AND (borrowed_until IS NULL OR borrowed_until <= $2)",
                )
                .bind(license_id.get())
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn own_session(
                conn: &mut $conn,
                license_id: LicenseId,
                client_id: &str,
                session_id: &str,
            ) -> Result<Option<FloatingLease>> {
                sqlx::query(concat!(
                    "SELECT ",
                    lease_cols!(),
                    " FROM floating_leases WHERE id = (SELECT lease_id FROM slascone_sessions \
                     WHERE license_id = $1 AND client_id = $2 AND session_id = $3)"
                ))
                .bind(license_id.get())
                .bind(client_id)
                .bind(session_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?
                .map(|row| lease_from_row(&row))
                .transpose()
            }

            async fn count(conn: &mut $conn, sql: &'static str, id: i64, a: &str, b: &str) -> Result<i64> {
                sqlx::query_scalar(sql)
                    .bind(id)
                    .bind(a)
                    .bind(b)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)
            }

            /// The open inside the transaction: `Ok(Err(..))` is a refusal, rolled back by the caller.
            async fn open_in(
                tx: &mut $conn,
                codec: &dyn crate::SecretCodec,
                open: &SessionOpen,
                event: EventDraft,
                now: Millis,
            ) -> Result<std::result::Result<FloatingLease, SessionRefusal>> {
                let license = match lock_license_or_deny(&mut *tx, codec, &LicenseRef::Id(open.license_id)).await {
                    Ok(license) => license,
                    Err(StoreError::Denied(denial)) => return Ok(Err(SessionRefusal::Denied(denial))),
                    Err(other) => return Err(other),
                };
                let product = match product_of(&mut *tx, &license).await {
                    Ok(product) => product,
                    Err(StoreError::Denied(denial)) => return Ok(Err(SessionRefusal::Denied(denial))),
                    Err(other) => return Err(other),
                };
                drop_dead_leases(&mut *tx, license.id, now).await?;
                let own = own_session(&mut *tx, license.id, &open.client_id, &open.session_id).await?;
                let other_live_leases: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM floating_leases WHERE license_id = $1 AND feature_id IS NULL AND id <> $2",
                )
                .bind(license.id.get())
                .bind(own.as_ref().map_or(0, |lease| lease.id))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let client_other_sessions = count(
                    &mut *tx,
                    "SELECT COUNT(*) FROM slascone_sessions WHERE license_id = $1 AND client_id = $2 AND session_id <> $3",
                    license.id.get(),
                    &open.client_id,
                    &open.session_id,
                )
                .await?;
                let blocked: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM blocked_devices WHERE fingerprint = $1 AND (product_id IS NULL OR product_id = $2)",
                )
                .bind(&open.client_id)
                .bind(product.id.get())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                let (user_assigned, user_sessions_on_other_clients) = match &open.user_id {
                    None => (None, 0),
                    Some(user) => {
                        let assigned: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM license_user_assignments a JOIN license_users u ON u.id = a.user_id \
                             WHERE a.license_id = $1 AND u.email = $2",
                        )
                        .bind(license.id.get())
                        .bind(user)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        let elsewhere = count(
                            &mut *tx,
                            "SELECT COUNT(*) FROM slascone_sessions WHERE license_id = $1 AND user_id = $2 AND client_id <> $3",
                            license.id.get(),
                            user,
                            &open.client_id,
                        )
                        .await?;
                        (Some(assigned > 0), elsewhere)
                    }
                };
                let state = SessionState {
                    product: &product,
                    license: &license,
                    client_id: &open.client_id,
                    blocked: blocked > 0,
                    own_session: own.as_ref(),
                    other_live_leases,
                    client_other_sessions,
                    user_assigned,
                    user_sessions_on_other_clients,
                    borrow_until: open.borrow_until,
                };
                let plan = match plan_session(&state, now) {
                    Ok(plan) => plan,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                let lease = match &own {
                    Some(own) => sqlx::query(concat!(
                        "UPDATE floating_leases SET expires_at = $2, borrowed_until = $3 WHERE id = $1 RETURNING ",
                        lease_cols!()
                    ))
                    .bind(own.id)
                    .bind(plan.expires_at)
                    .bind(plan.borrowed_until)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?,
                    None => {
                        let row = sqlx::query(concat!(
                            "INSERT INTO floating_leases (license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at) \
                             VALUES ($1, NULL, $2, $3, $4, $5) RETURNING ",
                            lease_cols!()
                        ))
                        .bind(license.id.get())
                        .bind(session_fingerprint(&open.client_id, &open.session_id))
                        .bind(plan.expires_at)
                        .bind(plan.borrowed_until)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        let lease = lease_from_row(&row)?;
                        sqlx::query(
                            "INSERT INTO slascone_sessions (lease_id, license_id, client_id, session_id, user_id) \
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(lease.id)
                        .bind(license.id.get())
                        .bind(&open.client_id)
                        .bind(&open.session_id)
                        .bind(&open.user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        row
                    }
                };
                let lease = lease_from_row(&lease)?;
                insert_event(&mut *tx, event, license.id, now).await?;
                Ok(Ok(lease))
            }

            #[async_trait::async_trait]
            impl SessionStore for $store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn open_session(
                    &self,
                    open: SessionOpen,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<std::result::Result<FloatingLease, SessionRefusal>> {
                    let mut tx = begin_write(self).await?;
                    match open_in(&mut tx, &*self.codec, &open, event, now).await {
                        Ok(Ok(lease)) => {
                            tx.commit().await.map_err(db_err)?;
                            Ok(Ok(lease))
                        }
                        // Refusals roll back explicitly, so no row lock outlives the request.
                        other => {
                            tx.rollback().await.map_err(db_err)?;
                            other
                        }
                    }
                }

                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
                async fn close_session(
                    &self,
                    license_id: LicenseId,
                    client_id: &str,
                    session_id: &str,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<bool> {
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, &*self.codec, &LicenseRef::Id(license_id)).await?;
                    drop_dead_leases(&mut tx, license.id, now).await?;
                    let Some(own) = own_session(&mut tx, license.id, client_id, session_id).await? else {
                        tx.rollback().await.map_err(db_err)?;
                        return Ok(false);
                    };
                    sqlx::query("DELETE FROM floating_leases WHERE id = $1")
                        .bind(own.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_event(&mut tx, event, license.id, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }
            }
        };
    };
}

// SQLite serializes writers with BEGIN IMMEDIATE; PostgreSQL holds the license row lock that
// `lock_license_or_deny` takes until commit.
impl_sessions!(SqliteStore, sqlx::SqliteConnection, sqlite);
impl_sessions!(PostgresStore, sqlx::PgConnection, postgres);
