//! SQLite's hot paths without sqlx (see the module docs below); expanded only into the SQLite
//! store's `shared` module.

/// Expands `mod direct` inside the SQLite `shared` module (never for PostgreSQL).
macro_rules! direct_module {
    () => {
        /// SQLite without sqlx in between, for the hottest paths. Through sqlx every statement
        /// is a message to its connection's thread and one back; these hand-offs were the
        /// whole cost of a write (the writer lock is held across them) and most of an uncached
        /// validation (bench/RESULTS.md).
        ///
        /// - Activations, consumptions and lease checkouts run as whole transactions on the writer thread
        ///   (`sqlite::WriterThread`): lock, read, the domain's rule and every write in one call,
        ///   with prepared statements kept between calls. `BEGIN IMMEDIATE` is the lock, as on
        ///   the sqlx path: SQLite admits one writer, so the license row needs no lock of its
        ///   own.
        /// - Validation reads on the calling thread's own read connection
        ///   (`sqlite::ThreadReaders`): one SELECT in WAL mode never waits for a writer.
        mod direct {
            use super::*;
            use rusqlite::types::ToSql;
            use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
            use $crate::sql::{consumption_replay_select, lite_err};

            type Params<'a> = [(&'a str, &'a dyn ToSql)];

            /// The license reference as `$1` of the `WHERE l.id = $1` / `WHERE l.key_digest = $1`
            /// statement pair.
            enum LicenseParam {
                Id(i64),
                Digest(Vec<u8>),
            }

            impl LicenseParam {
                fn new(license: &LicenseRef, codec: &dyn SecretCodec) -> Self {
                    match license {
                        LicenseRef::Id(id) => Self::Id(id.get()),
                        LicenseRef::Key(key) => Self::Digest(codec.digest(key.as_bytes())),
                    }
                }

                fn pick(&self, by_id: &'static str, by_key: &'static str) -> (&'static str, &dyn ToSql) {
                    match self {
                        Self::Id(id) => (by_id, id),
                        Self::Digest(digest) => (by_key, digest),
                    }
                }
            }

            /// `validation_select!` for one license on a read connection: `None` when there is no
            /// such license, `Some(None)` when it has features (read those through sqlx, in one
            /// read transaction with the rest).
            pub(super) fn validation_inputs(
                conn: &Connection,
                codec: &dyn SecretCodec,
                license: &LicenseRef,
                fingerprint: Option<&str>,
            ) -> Result<Option<Option<ValidationInputs>>> {
                let license_param = LicenseParam::new(license, codec);
                let (read_sql, key) = license_param.pick(
                    concat!(validation_select!(), "WHERE l.id = $1"),
                    concat!(validation_select!(), "WHERE l.key_digest = $1"),
                );
                query_one(conn, read_sql, &[("$1", key), ("$2", &fingerprint)], |row| {
                    if col::<bool>(row, At::Name, 0, "has_features")? {
                        return Ok(None);
                    }
                    validation_inputs_at(row, codec).map(Some)
                })
            }

            fn begin(conn: &mut Connection) -> Result<Transaction<'_>> {
                conn.transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(lite_err)
            }

            fn query_one<T>(
                tx: &Connection,
                sql: &str,
                params: &Params<'_>,
                decode: impl FnOnce(&rusqlite::Row<'_>) -> Result<T>,
            ) -> Result<Option<T>> {
                let mut stmt = tx.prepare_cached(sql).map_err(lite_err)?;
                let mut rows = stmt.query(params).map_err(lite_err)?;
                match rows.next().map_err(lite_err)? {
                    Some(row) => decode(row).map(Some),
                    None => Ok(None),
                }
            }

            fn count(tx: &Connection, sql: &str, params: &Params<'_>) -> Result<i64> {
                tx.prepare_cached(sql)
                    .map_err(lite_err)?
                    .query_row(params, |row| row.get(0))
                    .optional()
                    .map_err(lite_err)
                    .map(Option::unwrap_or_default)
            }

            fn insert_event(tx: &Connection, event: EventDraft, subject: i64, now: Millis) -> Result<()> {
                let data = to_json(&event.data)?;
                let subject = event.subject_id.unwrap_or(subject);
                tx.prepare_cached(INSERT_EVENT)
                    .map_err(lite_err)?
                    .execute::<&Params<'_>>(&[
                        ("$1", &now),
                        ("$2", &event.actor),
                        ("$3", &event.source_ip),
                        ("$4", &event.action),
                        ("$5", &event.subject_type),
                        ("$6", &subject),
                        ("$7", &data),
                    ])
                    .map_err(lite_err)?;
                Ok(())
            }

            pub(super) fn activate(
                conn: &mut Connection,
                codec: &dyn SecretCodec,
                license: &LicenseRef,
                device: &DeviceInfo,
                user_id: Option<i64>,
                event: EventDraft,
                now: Millis,
            ) -> Result<Activation> {
                let tx = begin(conn)?;
                let license_param = LicenseParam::new(license, codec);
                let (read_sql, key) = license_param.pick(
                    concat!(validation_select!(), "WHERE l.id = $1"),
                    concat!(validation_select!(), "WHERE l.key_digest = $1"),
                );
                let read = query_one(
                    &tx,
                    read_sql,
                    &[("$1", key), ("$2", &device.fingerprint)],
                    |row| {
                        Ok((
                            validation_inputs_at(row, codec)?,
                            col::<bool>(row, At::Name, 0, "has_features")?,
                        ))
                    },
                )?;
                // Returning drops `tx`, which rolls back: a refusal changes nothing.
                let (inputs, has_features) = read.ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                let license = &inputs.license;
                let user_active_devices = match user_id {
                    Some(user_id) => Some(count(
                        &tx,
                        USER_ACTIVE_DEVICES,
                        &[("$1", &license.id.get()), ("$2", &user_id)],
                    )?),
                    None => None,
                };
                let recent_activations = match &license.terms.reactivation_lockout {
                    Some(lockout) => count(
                        &tx,
                        RECENT_ACTIVATIONS,
                        &[
                            ("$1", &license.id.get()),
                            ("$2", &lockout_window_start(lockout, now)),
                        ],
                    )?,
                    None => 0,
                };
                let plan = plan_activation_on(&inputs, device, (user_active_devices, recent_activations), now)?;
                let ValidationInputs {
                    product,
                    license,
                    device: existing,
                    active_devices,
                    ..
                } = inputs;
                let variables = device.variables.as_ref().map(to_json).transpose()?;
                let report: [&dyn ToSql; 9] = [
                    &device.name,
                    &device.hostname,
                    &device.os,
                    &device.app_version,
                    &device.ip,
                    &device.mac,
                    &device.is_vm,
                    &user_id,
                    &variables,
                ];
                // The device statements' parameters: `$1` (and `$2` for an insert), the report,
                // then now (see `device_touch_sql!`).
                const REPORT_FROM_2: [&str; 9] = ["$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10"];
                const REPORT_FROM_3: [&str; 9] = ["$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11"];
                let (stored, license, newly_activated) = match (plan, existing) {
                    (rules::ActivationPlan::AlreadyActive, existing) => {
                        let id = existing.map(|d| d.id.get()).ok_or_else(|| {
                            StoreError::Database("activation rule saw an active device that was not loaded".into())
                        })?;
                        let mut params: Vec<(&str, &dyn ToSql)> = vec![("$1", &id)];
                        params.extend(REPORT_FROM_2.iter().copied().zip(report));
                        params.push(("$11", &now));
                        let stored = query_one(
                            &tx,
                            concat!(device_touch_sql!(), device_cols!()),
                            &params,
                            |row| device_at(row, At::Name),
                        )?;
                        (stored, license, false)
                    }
                    (
                        rules::ActivationPlan::Activate {
                            is_transfer,
                            start_trial_expiry,
                        },
                        existing,
                    ) => {
                        let stored = match existing {
                            Some(old) => {
                                let old_id = old.id.get();
                                let mut params: Vec<(&str, &dyn ToSql)> = vec![("$1", &old_id)];
                                params.extend(REPORT_FROM_2.iter().copied().zip(report));
                                params.push(("$11", &now));
                                query_one(
                                    &tx,
                                    concat!(device_reactivate_sql!(), device_cols!()),
                                    &params,
                                    |row| device_at(row, At::Name),
                                )?
                            }
                            None => {
                                let empty = String::from("{}");
                                let variables: &dyn ToSql = match &variables {
                                    Some(variables) => variables,
                                    None => &empty,
                                };
                                let license_id = license.id.get();
                                let mut params: Vec<(&str, &dyn ToSql)> =
                                    vec![("$1", &license_id), ("$2", &device.fingerprint)];
                                params.extend(REPORT_FROM_3.iter().copied().zip(report).take(8));
                                params.push(("$11", variables));
                                params.push(("$12", &now));
                                query_one(
                                    &tx,
                                    concat!(device_insert_sql!(), device_cols!()),
                                    &params,
                                    |row| device_at(row, At::Name),
                                )
                                .map_err(|e| match e {
                                    StoreError::Conflict(_) => {
                                        StoreError::Conflict("device is already registered on this license".into())
                                    }
                                    other => other,
                                })?
                            }
                        };
                        let license = if is_transfer || start_trial_expiry.is_some() {
                            query_one(
                                &tx,
                                COUNT_TRANSFER_OR_TRIAL,
                                &[
                                    ("$1", &license.id.get()),
                                    ("$2", &i64::from(is_transfer)),
                                    ("$3", &start_trial_expiry),
                                ],
                                |row| license_at(row, codec, At::Name),
                            )?
                            .ok_or(StoreError::Denied(Denial::LicenseNotFound))?
                        } else {
                            license
                        };
                        tx.prepare_cached(INSERT_ACTIVATION_LOG)
                            .map_err(lite_err)?
                            .execute::<&Params<'_>>(&[
                                ("$1", &license.id.get()),
                                ("$2", &device.fingerprint),
                                ("$3", &now),
                            ])
                            .map_err(lite_err)?;
                        (stored, license, true)
                    }
                };
                let stored = stored.ok_or_else(|| StoreError::Database("activation wrote no device row".into()))?;
                let subject = if event.subject_type == "device" {
                    stored.id.get()
                } else {
                    license.id.get()
                };
                insert_event(&tx, event, subject, now)?;
                tx.commit().map_err(lite_err)?;
                let active_devices = if newly_activated {
                    active_devices + 1
                } else {
                    active_devices
                };
                let known_features = (!has_features).then(Vec::new);
                Ok(Activation {
                    product,
                    license,
                    device: stored,
                    newly_activated,
                    active_devices,
                    known_features,
                })
            }

            pub(super) fn checkout_lease(
                conn: &mut Connection,
                codec: &dyn SecretCodec,
                license: &LicenseRef,
                fingerprint: &str,
                borrow_until: Option<Millis>,
                event: EventDraft,
                now: Millis,
            ) -> Result<FloatingLease> {
                let tx = begin(conn)?;
                let license_param = LicenseParam::new(license, codec);
                let (read_sql, key) = license_param.pick(
                    concat!(
                        license_product_select!(),
                        " FROM licenses l JOIN products p ON p.id = l.product_id WHERE l.id = $1"
                    ),
                    concat!(
                        license_product_select!(),
                        " FROM licenses l JOIN products p ON p.id = l.product_id WHERE l.key_digest = $1"
                    ),
                );
                let read = query_one(&tx, read_sql, &[("$1", key)], |row| {
                    Ok((
                        license_at(row, codec, At::From(0))?,
                        product_at(row, At::From(VALIDATION_PRODUCT_AT))?,
                    ))
                })?;
                // Returning drops `tx`, which rolls back: a refusal changes nothing.
                let (license, product) = read.ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                tx.prepare_cached(DROP_DEAD_LEASES)
                    .map_err(lite_err)?
                    .execute::<&Params<'_>>(&[("$1", &license.id.get()), ("$2", &now)])
                    .map_err(lite_err)?;
                let other_live_leases = count(
                    &tx,
                    OTHER_LEASES,
                    &[("$1", &license.id.get()), ("$2", &fingerprint)],
                )?;
                let own = query_one(
                    &tx,
                    OWN_LEASE,
                    &[("$1", &license.id.get()), ("$2", &fingerprint)],
                    |row| lease_at(row),
                )?;
                let blocked = count(
                    &tx,
                    IS_BLOCKED,
                    &[("$1", &fingerprint), ("$2", &product.id.get())],
                )? > 0;
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
                let lease = match &own {
                    Some(own) => query_one(
                        &tx,
                        RENEW_LEASE,
                        &[
                            ("$1", &own.id),
                            ("$2", &plan.expires_at),
                            ("$3", &plan.borrowed_until),
                        ],
                        |row| lease_at(row),
                    )?,
                    None => query_one(
                        &tx,
                        INSERT_LEASE,
                        &[
                            ("$1", &license.id.get()),
                            ("$2", &fingerprint),
                            ("$3", &plan.expires_at),
                            ("$4", &plan.borrowed_until),
                            ("$5", &now),
                        ],
                        |row| lease_at(row),
                    )?,
                }
                .ok_or_else(|| StoreError::Database("lease checkout wrote no lease row".into()))?;
                insert_event(&tx, event, license.id.get(), now)?;
                tx.commit().map_err(lite_err)?;
                Ok(lease)
            }

            pub(super) fn consume(
                conn: &mut Connection,
                codec: &dyn SecretCodec,
                license: &LicenseRef,
                amount: i64,
                idempotency_key: Option<String>,
                event: EventDraft,
                now: Millis,
            ) -> Result<ConsumptionOutcome> {
                let tx = begin(conn)?;
                let license_param = LicenseParam::new(license, codec);
                let (read_sql, key) = license_param.pick(
                    concat!(consumption_replay_select!(), "WHERE l.id = $1"),
                    concat!(consumption_replay_select!(), "WHERE l.key_digest = $1"),
                );
                const EARLIER_AT: usize = VALIDATION_DEVICE_AT;
                let read = query_one(&tx, read_sql, &[("$1", key), ("$2", &idempotency_key)], |row| {
                    let earlier = match col::<Option<i64>>(row, At::From(EARLIER_AT), 0, "id")? {
                        Some(_) => Some(consumption_at(row, At::From(EARLIER_AT))?),
                        None => None,
                    };
                    Ok((
                        license_at(row, codec, At::From(0))?,
                        product_at(row, At::From(VALIDATION_PRODUCT_AT))?,
                        earlier,
                    ))
                })?;
                let (license, product, earlier) = read.ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                if let Some(earlier) = earlier {
                    // A replay writes nothing: dropping `tx` rolls back.
                    let total = earlier.total_after;
                    return Ok(ConsumptionOutcome {
                        license,
                        event: earlier,
                        total,
                        replayed: true,
                    });
                }
                let counter = rules::plan_consumption(&product, &license, amount, now)?;
                let license = query_one(
                    &tx,
                    SET_CONSUMPTION,
                    &[
                        ("$1", &license.id.get()),
                        ("$2", &counter.used),
                        ("$3", &counter.period_start),
                    ],
                    |row| license_at(row, codec, At::Name),
                )?
                .ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
                let no_feature: Option<i64> = None;
                let consumed = query_one(
                    &tx,
                    INSERT_CONSUMPTION,
                    &[
                        ("$1", &license.id.get()),
                        ("$2", &no_feature),
                        ("$3", &amount),
                        ("$4", &counter.used),
                        ("$5", &idempotency_key),
                        ("$6", &now),
                    ],
                    |row| consumption_at(row, At::Name),
                )?
                .ok_or_else(|| StoreError::Database("consumption wrote no event row".into()))?;
                insert_event(&tx, event, license.id.get(), now)?;
                tx.commit().map_err(lite_err)?;
                Ok(ConsumptionOutcome {
                    license,
                    event: consumed,
                    total: counter.used,
                    replayed: false,
                })
            }
        }
    };
}

pub(crate) use direct_module;
