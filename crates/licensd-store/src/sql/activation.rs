//! Activation: the license lock, the domain rule and the device, event and log writes, for one
//! license, a bundle, or a client moving between licenses.

use crate::*;
use licensd_domain::*;

/// Activating devices.
#[async_trait::async_trait]
pub trait ActivationStore: Send + Sync + 'static {
    async fn activate(
        &self,
        license: LicenseRef,
        device: DeviceInfo,
        user_id: Option<i64>,
        event: EventDraft,
        now: Millis,
    ) -> Result<Activation>;
    /// Activates the device on every listed license in ONE transaction (a bundle: issue 3). The
    /// licenses are locked in ascending id order, each is decided by the same rule as `activate`,
    /// and any refusal rolls back all of them. Results are in ascending id order.
    async fn activate_many(
        &self,
        license_ids: &[LicenseId],
        device: DeviceInfo,
        user_id: Option<i64>,
        event: EventDraft,
        now: Millis,
    ) -> Result<Vec<Activation>>;
    /// Activates the device on `license_id` and, in the SAME transaction, releases its active
    /// activations on `release_from` (a client moving from one license to another: SLASCONE). All
    /// licenses are locked in ascending id order; a refused activation releases nothing. Each
    /// release is logged with `release_event`.
    #[allow(clippy::too_many_arguments)]
    async fn activate_moving(
        &self,
        license_id: LicenseId,
        release_from: &[LicenseId],
        device: DeviceInfo,
        user_id: Option<i64>,
        event: EventDraft,
        release_event: EventDraft,
        now: Millis,
    ) -> Result<Activation>;
}

/// Expands the helpers and the `ActivationStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_activation {
    ($store:ty, $backend:ident) => {
            const IS_BLOCKED: &str =
                "SELECT COUNT(*) FROM blocked_devices WHERE fingerprint = $1 AND (product_id IS NULL OR product_id = $2)";
            const USER_ACTIVE_DEVICES: &str =
                "SELECT COUNT(*) FROM devices WHERE license_id = $1 AND user_id = $2 AND deactivated_at IS NULL";
            const RECENT_ACTIVATIONS: &str = "SELECT COUNT(*) FROM activation_log WHERE license_id = $1 AND at > $2";
            const INSERT_ACTIVATION_LOG: &str = "INSERT INTO activation_log (license_id, fingerprint, at) VALUES ($1, $2, $3)";
            /// `$2` 1 for a transfer, `$3` the expiry a first trial activation sets.
            const COUNT_TRANSFER_OR_TRIAL: &str = concat!(
                "UPDATE licenses SET transfer_count = transfer_count + $2, \
                 expires_at = COALESCE($3, expires_at) WHERE id = $1 RETURNING ",
                license_cols!()
            );

            /// Where the reactivation-lockout window of `RECENT_ACTIVATIONS` starts.
            fn lockout_window_start(lockout: &ReactivationLockout, now: Millis) -> Millis {
                now.saturating_sub(lockout.window_hours.saturating_mul(clock::HOUR))
            }

            /// The activation rule over what the read after the license lock found, plus the
            /// counts `activation_counts` adds.
            fn plan_activation_on(
                inputs: &ValidationInputs,
                device: &DeviceInfo,
                (user_active_devices, recent_activations): (Option<i64>, i64),
                now: Millis,
            ) -> Result<rules::ActivationPlan> {
                let state = rules::ActivationState {
                    product: &inputs.product,
                    license: &inputs.license,
                    device,
                    existing: inputs.device.as_ref(),
                    blocked: inputs.blocked,
                    active_devices: inputs.active_devices,
                    user_active_devices,
                    recent_activations,
                };
                Ok(rules::plan_activation(&state, now)?)
            }

            async fn device_by_fingerprint(conn: &mut Conn, license_id: LicenseId, fingerprint: &str) -> Result<Option<Device>> {
                sqlx::query(concat!("SELECT ", device_cols!(), " FROM devices WHERE license_id = $1 AND fingerprint = $2"))
                    .bind(license_id.get())
                    .bind(fingerprint)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?
                    .map(|r| device_from_row(&r))
                    .transpose()
            }

            async fn is_blocked(conn: &mut Conn, product_id: ProductId, fingerprint: &str) -> Result<bool> {
                let n: i64 = sqlx::query_scalar(IS_BLOCKED)
                .bind(fingerprint)
                .bind(product_id.get())
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok(n > 0)
            }

            /// The device row for a fingerprint, whether the fingerprint is blocked for the product, and
            /// the license's active-device count, in one round trip (validation and activation both
            /// need all three, activation while holding the license lock).
            async fn device_state(
                conn: &mut Conn,
                license_id: LicenseId,
                product_id: ProductId,
                fingerprint: &str,
            ) -> Result<(Option<Device>, bool, i64)> {
                let row = sqlx::query(
                    "SELECT COALESCE((SELECT active_devices FROM licenses WHERE id = $1), 0) AS active_count, \
                     (SELECT COUNT(*) FROM blocked_devices WHERE fingerprint = $2 AND (product_id IS NULL OR product_id = $3)) \
                     AS blocked_count, d.id, d.license_id, d.fingerprint, d.name, d.hostname, d.os, d.app_version, d.ip, \
                     d.mac, d.is_vm, d.user_id, d.variables, d.activated_at, d.last_seen_at, d.deactivated_at \
                     FROM (SELECT 1 AS anchor) AS anchor LEFT JOIN devices d ON d.license_id = $1 AND d.fingerprint = $2",
                )
                .bind(license_id.get())
                .bind(fingerprint)
                .bind(product_id.get())
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
                let device = match get::<Option<i64>>(&row, "id")? {
                    Some(_) => Some(device_from_row(&row)?),
                    None => None,
                };
                let blocked: i64 = get(&row, "blocked_count")?;
                Ok((device, blocked > 0, get(&row, "active_count")?))
            }

            /// The counts an activation rule needs beyond the device state, each only when the
            /// license asks for it: the user's active devices, and activations inside the
            /// reactivation-lockout window.
            async fn activation_counts(
                conn: &mut Conn,
                license: &License,
                user_id: Option<i64>,
                now: Millis,
            ) -> Result<(Option<i64>, i64)> {
                let user_active_devices = match user_id {
                    Some(user_id) => Some(
                        sqlx::query_scalar(USER_ACTIVE_DEVICES)
                        .bind(license.id.get())
                        .bind(user_id)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?,
                    ),
                    None => None,
                };
                let recent_activations: i64 = match &license.terms.reactivation_lockout {
                    Some(lockout) => sqlx::query_scalar(RECENT_ACTIVATIONS)
                        .bind(license.id.get())
                        .bind(lockout_window_start(lockout, now))
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?,
                    None => 0,
                };
                Ok((user_active_devices, recent_activations))
            }

            /// Binds what a client reported about its device, in the order of `device_touch_sql!`
            /// (`$2`–`$10`).
            fn bind_device_report<'q>(
                query: Query<'q>,
                device: &DeviceInfo,
                user_id: Option<i64>,
                variables: Option<String>,
            ) -> Query<'q> {
                query
                    .bind(device.name.clone())
                    .bind(device.hostname.clone())
                    .bind(device.os.clone())
                    .bind(device.app_version.clone())
                    .bind(device.ip.clone())
                    .bind(device.mac.clone())
                    .bind(device.is_vm)
                    .bind(user_id)
                    .bind(variables)
            }

            /// Activation after the license lock is held: loads what the rule needs, asks
            /// `rules::plan_activation`, and writes what it decided. Shared by `activate` and
            /// `activate_many`, which add the event and commit.
            pub(crate) async fn activate_locked(
                conn: &mut Conn,
                codec: &dyn SecretCodec,
                license: License,
                device: &DeviceInfo,
                user_id: Option<i64>,
                event: EventDraft,
                now: Millis,
            ) -> Result<Activation> {
                // Product, device state and whether the license has features, in one statement
                // after the lock (so on PostgreSQL its snapshot includes the previous holder's
                // commit).
                let row = sqlx::query(concat!(validation_select!(), "WHERE l.id = $1"))
                    .bind(license.id.get())
                    .bind(&device.fingerprint)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let inputs = validation_inputs_at(&row, codec)?;
                let known_features = (!get::<bool>(&row, "has_features")?).then(Vec::new);
                let device_subject = event.subject_type == "device";
                let counts = activation_counts(&mut *conn, &license, user_id, now).await?;
                let plan = plan_activation_on(&inputs, device, counts, now)?;
                let ValidationInputs { product, device: existing, active_devices, .. } = inputs;
                let variables = device.variables.as_ref().map(to_json).transpose()?;
                let (stored, license, newly_activated) = match (plan, existing) {
                    (rules::ActivationPlan::AlreadyActive, existing) => {
                        let id = existing.map(|d| d.id).ok_or_else(|| {
                            StoreError::Database("activation rule saw an active device that was not loaded".into())
                        })?;
                        // Fields a client did not report keep their earlier values.
                        let query = sqlx::query(concat!(device_touch_sql!(), device_cols!())).bind(id.get());
                        let row = bind_device_report(query, device, user_id, variables)
                            .bind(now)
                            .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?;
                        (device_from_row(&row)?, license, false)
                    }
                    (rules::ActivationPlan::Activate { is_transfer, start_trial_expiry }, existing) => {
                        let row = match existing {
                            // Reactivation reuses the row: UNIQUE(license_id, fingerprint)
                            // keeps one row per device across its history.
                            Some(old) => bind_device_report(
                                sqlx::query(concat!(device_reactivate_sql!(), device_cols!())).bind(old.id.get()),
                                device,
                                user_id,
                                variables,
                            )
                            .bind(now)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(db_err)?,
                            None if BACKEND == Backend::Postgres && !is_transfer && start_trial_expiry.is_none() => {
                                // The common case in one round trip: device, event and
                                // activation log through data-modifying CTEs (PostgreSQL only).
                                let subject = if device_subject { None } else { Some(license.id) };
                                let query = bind_device_report(
                                    sqlx::query(concat!(
                                        "WITH d AS (",
                                        device_insert_sql!(),
                                        device_cols!(),
                                        "), e AS (INSERT INTO events (at, actor, source_ip, action, subject_type, subject_id, data) \
                                         SELECT $12, $13, $14, $15, $16, COALESCE($17, d.id), $18 FROM d), \
                                         g AS (INSERT INTO activation_log (license_id, fingerprint, at) SELECT $1, $2, $12 FROM d) \
                                         SELECT * FROM d"
                                    ))
                                    .bind(license.id.get())
                                    .bind(&device.fingerprint),
                                    device,
                                    user_id,
                                    Some(variables.unwrap_or_else(|| String::from("{}"))),
                                )
                                .bind(now);
                                let row = bind_event(query, event, subject.map(i64::from))?
                                .fetch_one(&mut *conn)
                                .await
                                .map_err(conflict("device is already registered on this license", "license user does not exist"))?;
                                let active_devices = active_devices + 1;
                                return Ok(Activation {
                                    product,
                                    license,
                                    device: device_from_row(&row)?,
                                    newly_activated: true,
                                    active_devices,
                                    known_features,
                                });
                            }
                            None => bind_device_report(
                                sqlx::query(concat!(device_insert_sql!(), device_cols!()))
                                    .bind(license.id.get())
                                    .bind(&device.fingerprint),
                                device,
                                user_id,
                                Some(variables.unwrap_or_else(|| String::from("{}"))),
                            )
                            .bind(now)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(conflict("device is already registered on this license", "license user does not exist"))?,
                        };
                        let license = if is_transfer || start_trial_expiry.is_some() {
                            let row = sqlx::query(COUNT_TRANSFER_OR_TRIAL)
                            .bind(license.id.get())
                            .bind(i64::from(is_transfer))
                            .bind(start_trial_expiry)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(db_err)?;
                            license_from_row(&row, codec)?
                        } else {
                            license
                        };
                        sqlx::query(INSERT_ACTIVATION_LOG)
                            .bind(license.id.get())
                            .bind(&device.fingerprint)
                            .bind(now)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_err)?;
                        (device_from_row(&row)?, license, true)
                    }
                };
                let subject = if device_subject { stored.id.get() } else { license.id.get() };
                insert_event(&mut *conn, event, Some(subject), now).await?;
                let active_devices = if newly_activated { active_devices + 1 } else { active_devices };
                Ok(Activation { product, license, device: stored, newly_activated, active_devices, known_features })
            }
            #[async_trait::async_trait]
            impl $crate::ActivationStore for $store {
                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id().map(i64::from), user_id = user_id))]
                async fn activate(
                    &self,
                    license: LicenseRef,
                    device: DeviceInfo,
                    user_id: Option<i64>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Activation> {
                    let codec = &*self.codec;
                    $crate::sql::on_sqlite_writer!($backend, self,
                        |conn, codec| direct::activate(conn, codec, &license, &device, user_id, event, now));
                    let mut tx = begin_write(self).await?;
                    let license = lock_license_or_deny(&mut tx, codec, &license).await?;
                    let activation = activate_locked(&mut tx, codec, license, &device, user_id, event, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(activation)
                }

                #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
                async fn activate_many(
                    &self,
                    license_ids: &[LicenseId],
                    device: DeviceInfo,
                    user_id: Option<i64>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Vec<Activation>> {
                    let codec = &*self.codec;
                    let mut tx = begin_write(self).await?;
                    // Every lock first, in ascending id order (two bundles sharing licenses
                    // cannot deadlock).
                    let locked = lock_licenses_in_order(&mut tx, codec, license_ids).await?;
                    let mut activations = Vec::with_capacity(locked.len());
                    for license in locked {
                        // A refusal returns here and drops `tx`, rolling back every earlier member.
                        let activation =
                            activate_locked(&mut tx, codec, license, &device, user_id, event.clone(), now).await?;
                        activations.push(activation);
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(activations)
                }

                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get(), user_id = user_id))]
                async fn activate_moving(
                    &self,
                    license_id: LicenseId,
                    release_from: &[LicenseId],
                    device: DeviceInfo,
                    user_id: Option<i64>,
                    event: EventDraft,
                    release_event: EventDraft,
                    now: Millis,
                ) -> Result<Activation> {
                    let codec = &*self.codec;
                    let mut ids = release_from.to_vec();
                    ids.push(license_id);
                    let mut tx = begin_write(self).await?;
                    // Same ascending lock order as `activate_many`.
                    let mut target = None;
                    let mut released = Vec::new();
                    for license in lock_licenses_in_order(&mut tx, codec, &ids).await? {
                        if license.id == license_id {
                            target = Some(license);
                        } else {
                            released.push(license);
                        }
                    }
                    for license in released {
                        let existing = device_by_fingerprint(&mut tx, license.id, &device.fingerprint).await?;
                        let Some(existing) = existing.filter(Device::is_active) else {
                            continue;
                        };
                        let (retired, license) = retire_device(&mut tx, codec, &existing, now).await?;
                        let subject = if release_event.subject_type == "device" { retired.id.get() } else { license.id.get() };
                        insert_event(&mut tx, release_event.clone(), Some(subject), now).await?;
                    }
                    let target = target.ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                    // A refusal returns here and drops `tx`: nothing was released.
                    let activation = activate_locked(&mut tx, codec, target, &device, user_id, event, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(activation)
                }
            }
    };
}

pub(crate) use impl_activation;
