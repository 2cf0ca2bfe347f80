//! Devices of a license: listing, blocking and deactivation (by fingerprint or by id).

use crate::*;
use licensd_domain::*;

/// Devices: listing, the block list and deactivation.
#[async_trait::async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    // --- devices ---
    async fn list_devices(&self, license_id: LicenseId) -> Result<Vec<Device>>;
    async fn get_device(&self, id: DeviceId) -> Result<Device>;
    async fn block_device(&self, new: NewBlockedDevice, event: EventDraft, now: Millis) -> Result<BlockedDevice>;
    async fn unblock_device(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;
    async fn list_blocked_devices(&self, product_id: Option<ProductId>) -> Result<Vec<BlockedDevice>>;
    /// Deactivates the license's active device with this fingerprint.
    async fn deactivate(
        &self,
        license: LicenseRef,
        fingerprint: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<License>;
    /// Deactivates the device with this fingerprint on every listed license where it is active, in
    /// one transaction (locks in ascending id order); denied with `DeviceNotActivated` when it is
    /// active on none. Returns the licenses released, in ascending id order.
    async fn deactivate_many(
        &self,
        license_ids: &[LicenseId],
        fingerprint: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<Vec<License>>;
    /// Administrative deactivation by device id.
    async fn deactivate_device(&self, device_id: DeviceId, event: EventDraft, now: Millis) -> Result<Device>;
}

/// Expands the helpers and the `DeviceStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_devices {
    ($store:ty, $backend:ident) => {
            async fn count_active_devices(conn: &mut Conn, license_id: LicenseId) -> Result<i64> {
                sqlx::query_scalar($crate::sql::ACTIVE_DEVICES)
                    .bind(license_id.get())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)
            }

            async fn device_by_id(conn: &mut Conn, id: DeviceId) -> Result<Device> {
                let query = sqlx::query(concat!("SELECT ", device_cols!(), " FROM devices WHERE id = $1"))
                    .bind(id.get());
                fetch_found(&mut *conn, query, device_from_row).await
            }

            /// Retires a device: marks it inactive, counts the deactivation (the next new device is
            /// a transfer) and frees any floating seats it held.
            async fn retire_device(conn: &mut Conn, codec: &dyn SecretCodec, device: &Device, now: Millis) -> Result<(Device, License)> {
                let row = sqlx::query(concat!("UPDATE devices SET deactivated_at = $2 WHERE id = $1 RETURNING ", device_cols!()))
                    .bind(device.id.get())
                    .bind(now)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let device = device_from_row(&row)?;
                let row = sqlx::query(concat!(
                    "UPDATE licenses SET deactivation_count = deactivation_count + 1 WHERE id = $1 RETURNING ",
                    license_cols!()
                ))
                .bind(device.license_id.get())
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                let license = license_from_row(&row, codec)?;
                sqlx::query("DELETE FROM floating_leases WHERE license_id = $1 AND fingerprint = $2")
                    .bind(device.license_id.get())
                    .bind(&device.fingerprint)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                Ok((device, license))
            }
            #[async_trait::async_trait]
            impl $crate::DeviceStore for $store {
                // --- devices ---

                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
                async fn list_devices(&self, license_id: LicenseId) -> Result<Vec<Device>> {
                    let query = sqlx::query(concat!("SELECT ", device_cols!(), " FROM devices WHERE license_id = $1 ORDER BY id"))
                        .bind(license_id.get());
                    fetch_rows(&self.pool, query, device_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id.get()))]
                async fn get_device(&self, id: DeviceId) -> Result<Device> {
                    let mut conn = self.pool.acquire().await.map_err(db_err)?;
                    device_by_id(&mut conn, id).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn block_device(&self, new: NewBlockedDevice, event: EventDraft, now: Millis) -> Result<BlockedDevice> {
                    let query = sqlx::query(concat!(
                        "INSERT INTO blocked_devices (product_id, fingerprint, reason, created_at) VALUES ($1, $2, $3, $4) RETURNING ",
                        blocked_cols!()
                    ))
                    .bind(new.product_id.map(i64::from))
                    .bind(&new.fingerprint)
                    .bind(&new.reason)
                    .bind(now);
                    let on_error = conflict("device fingerprint is already blocked", "product does not exist");
                    write_logged(self, query, on_error, blocked_from_row, |b| b.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
                async fn unblock_device(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                    delete_logged(self, "DELETE FROM blocked_devices WHERE id = $1", id, db_err, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(product_id = product_id.map(i64::from)))]
                async fn list_blocked_devices(&self, product_id: Option<ProductId>) -> Result<Vec<BlockedDevice>> {
                    let query = sqlx::query(concat!(
                        "SELECT ",
                        blocked_cols!(),
                        " FROM blocked_devices WHERE ($1 IS NULL OR product_id = $1) ORDER BY id"
                    ))
                    .bind(product_id.map(i64::from));
                    fetch_rows(&self.pool, query, blocked_from_row).await
                }
                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id().map(i64::from)))]
                async fn deactivate(&self, license: LicenseRef, fingerprint: &str, event: EventDraft, now: Millis) -> Result<License> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    let existing = device_by_fingerprint(&mut tx, license.id, fingerprint).await?;
                    rules::check_deactivation(existing.as_ref())?;
                    let Some(existing) = existing else {
                        return Err(StoreError::Denied(Denial::DeviceNotActivated));
                    };
                    let (device, license) = retire_device(&mut tx, codec, &existing, now).await?;
                    let subject = if event.subject_type == "device" { device.id.get() } else { license.id.get() };
                    insert_event(&mut tx, event, Some(subject), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(license)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn deactivate_many(
                    &self,
                    license_ids: &[LicenseId],
                    fingerprint: &str,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Vec<License>> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    // Same ascending lock order as `activate_many`.
                    let locked = lock_licenses_in_order(&mut tx, codec, license_ids).await?;
                    let mut released = Vec::with_capacity(locked.len());
                    for license in locked {
                        let existing = device_by_fingerprint(&mut tx, license.id, fingerprint).await?;
                        // A license the device is not active on (released on its own earlier) is
                        // skipped, so the group can always be released as a whole.
                        let Some(existing) = existing.filter(Device::is_active) else {
                            continue;
                        };
                        let (device, license) = retire_device(&mut tx, codec, &existing, now).await?;
                        let subject = if event.subject_type == "device" { device.id.get() } else { license.id.get() };
                        insert_event(&mut tx, event.clone(), Some(subject), now).await?;
                        released.push(license);
                    }
                    if released.is_empty() {
                        return Err(StoreError::Denied(Denial::DeviceNotActivated));
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(released)
                }

                #[tracing::instrument(level = "debug", skip_all, fields(device_id = device_id.get()))]
                async fn deactivate_device(&self, device_id: DeviceId, event: EventDraft, now: Millis) -> Result<Device> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    // Lock the device's license first, like every other device change.
                    let row = sqlx::query(match BACKEND {
                        Backend::Sqlite => concat!(
                            "UPDATE licenses SET lock_version = lock_version + 1 \
                             WHERE id = (SELECT license_id FROM devices WHERE id = $1) RETURNING ",
                            license_cols!()
                        ),
                        // The row lock an UPDATE takes, without a new row version (`lock_license`).
                        Backend::Postgres => concat!(
                            "SELECT ",
                            license_cols!(),
                            " FROM licenses WHERE id = (SELECT license_id FROM devices WHERE id = $1) \
                             FOR NO KEY UPDATE"
                        ),
                    })
                    .bind(device_id.get())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if row.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    let existing = device_by_id(&mut tx, device_id).await?;
                    rules::check_deactivation(Some(&existing))?;
                    let (device, _) = retire_device(&mut tx, codec, &existing, now).await?;
                    insert_event(&mut tx, event, Some(device.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(device)
                }
            }
    };
}

pub(crate) use impl_devices;
