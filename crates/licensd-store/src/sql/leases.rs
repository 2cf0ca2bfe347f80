//! Floating leases: seats checked out for a while (or borrowed) and released.

use crate::*;
use licensd_domain::*;

/// Floating seats.
#[async_trait::async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Checks out or renews a floating seat (optionally borrowing it until an instant).
    async fn checkout_lease(
        &self,
        license: LicenseRef,
        fingerprint: &str,
        borrow_until: Option<Millis>,
        event: EventDraft,
        now: Millis,
    ) -> Result<FloatingLease>;
    async fn release_lease(&self, license: LicenseRef, fingerprint: &str, event: EventDraft, now: Millis)
    -> Result<()>;
    async fn live_leases(&self, license_id: LicenseId, now: Millis) -> Result<Vec<FloatingLease>>;
}

/// Expands the helpers and the `LeaseStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_leases {
    ($store:ty, $backend:ident) => {
            /// Leases that are no longer live (see `rules::lease_is_live`) free their seats.
            const DROP_DEAD_LEASES: &str = "DELETE FROM floating_leases WHERE license_id = $1 AND expires_at <= $2 \
                                            AND (borrowed_until IS NULL OR borrowed_until <= $2)";
            const OTHER_LEASES: &str =
                "SELECT COUNT(*) FROM floating_leases WHERE license_id = $1 AND feature_id IS NULL AND fingerprint <> $2";
            const OWN_LEASE: &str = concat!(
                "SELECT ",
                lease_cols!(),
                " FROM floating_leases WHERE license_id = $1 AND feature_id IS NULL AND fingerprint = $2"
            );
            const RENEW_LEASE: &str = concat!(
                "UPDATE floating_leases SET expires_at = $2, borrowed_until = $3 WHERE id = $1 RETURNING ",
                lease_cols!()
            );
            const INSERT_LEASE: &str = concat!(
                "INSERT INTO floating_leases (license_id, feature_id, fingerprint, expires_at, borrowed_until, created_at) \
                 VALUES ($1, NULL, $2, $3, $4, $5) RETURNING ",
                lease_cols!()
            );

            async fn own_lease(conn: &mut Conn, license_id: LicenseId, fingerprint: &str) -> Result<Option<FloatingLease>> {
                sqlx::query(OWN_LEASE)
                .bind(license_id.get())
                .bind(fingerprint)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?
                .map(|r| lease_from_row(&r))
                .transpose()
            }
            #[async_trait::async_trait]
            impl $crate::LeaseStore for $store {
                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id().map(i64::from)))]
                async fn checkout_lease(
                    &self,
                    license: LicenseRef,
                    fingerprint: &str,
                    borrow_until: Option<Millis>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<FloatingLease> {
                    let codec = &*self.codec;
                    $crate::sql::on_sqlite_writer!($backend, self, let fingerprint = fingerprint.to_owned();
                        |conn, codec| direct::checkout_lease(conn, codec, &license, &fingerprint, borrow_until, event, now));
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    let product = product_of(&mut tx, &license).await?;
                    sqlx::query(DROP_DEAD_LEASES)
                    .bind(license.id.get())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let other_live_leases: i64 = sqlx::query_scalar(OTHER_LEASES)
                    .bind(license.id.get())
                    .bind(fingerprint)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let own = own_lease(&mut tx, license.id, fingerprint).await?;
                    let blocked = is_blocked(&mut tx, product.id, fingerprint).await?;
                    let state = rules::LeaseState {
                        product: &product,
                        license: &license,
                        fingerprint,
                        blocked,
                        other_live_leases,
                        own_lease: own.as_ref(),
                        borrow_until,
                    };
                    let plan = rules::plan_lease(&state, now)?;
                    let row = match &own {
                        Some(own) => sqlx::query(RENEW_LEASE)
                        .bind(own.id)
                        .bind(plan.expires_at)
                        .bind(plan.borrowed_until)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?,
                        None => sqlx::query(INSERT_LEASE)
                        .bind(license.id.get())
                        .bind(fingerprint)
                        .bind(plan.expires_at)
                        .bind(plan.borrowed_until)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?,
                    };
                    let lease = lease_from_row(&row)?;
                    insert_event(&mut tx, event, Some(license.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(lease)
                }

                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id().map(i64::from)))]
                async fn release_lease(&self, license: LicenseRef, fingerprint: &str, event: EventDraft, now: Millis) -> Result<()> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    let own = own_lease(&mut tx, license.id, fingerprint).await?;
                    rules::check_release(own.as_ref(), now, Denial::DeviceNotActivated)?;
                    if let Some(own) = own {
                        sqlx::query("DELETE FROM floating_leases WHERE id = $1")
                            .bind(own.id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    }
                    insert_event(&mut tx, event, Some(license.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
                async fn live_leases(&self, license_id: LicenseId, now: Millis) -> Result<Vec<FloatingLease>> {
                    if let Some(cache) = read_cache(self) {
                        // Cached: every lease row of the license, filtered here by this request's clock
                        // exactly as the query below filters.
                        let all = ReadCache::through(Some(cache), |cache| &cache.leases, license_id, async {
                            let query = sqlx::query(concat!(
                                "SELECT ",
                                lease_cols!(),
                                " FROM floating_leases WHERE license_id = $1 ORDER BY id"
                            ))
                            .bind(license_id.get());
                            fetch_rows(&self.pool, query, lease_from_row).await
                        })
                        .await?;
                        return Ok(all
                            .into_iter()
                            .filter(|lease| lease.expires_at > now || lease.borrowed_until.is_some_and(|until| until > now))
                            .collect());
                    }
                    let query = sqlx::query(concat!(
                        "SELECT ",
                        lease_cols!(),
                        " FROM floating_leases WHERE license_id = $1 AND (expires_at > $2 OR borrowed_until > $2) ORDER BY id"
                    ))
                    .bind(license_id.get())
                    .bind(now);
                    fetch_rows(&self.pool, query, lease_from_row).await
                }
            }
    };
}

pub(crate) use impl_leases;
