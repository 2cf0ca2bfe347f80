//! Row decoders: one function per stored type, reading a sqlx row (by column name, or by
//! position in a joined row) or a row of the SQLite writer thread.

/// Expands the decoders for one backend inside `impl_store!`'s `shared` module.
macro_rules! row_decoders {
    ($backend:ident) => {
            /// One column of a sqlx row by name (the dialects' storage decodes with it too).
            pub(crate) fn get<T>(row: &DbRow, col: &str) -> Result<T>
            where
                T: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db>,
            {
                row.try_get::<T, _>(col).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
            }

            fn json<T: serde::de::DeserializeOwned>(row: &DbRow, col: &str) -> Result<T> {
                from_json(&get::<String>(row, col)?, col)
            }

            /// Where a decoder finds its columns: by name (a plain `SELECT <cols>`), or by position
            /// from a base index (a joined row whose tables share column names, in the order of
            /// the `*_cols!` lists).
            #[derive(Clone, Copy)]
            enum At {
                Name,
                From(usize),
            }

            /// A column type both row kinds decode: sqlx's, and rusqlite's on the SQLite writer
            /// thread (`sqlite_writer`).
            trait ColumnValue: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db> + rusqlite::types::FromSql {}
            impl<T> ColumnValue for T where T: for<'r> sqlx::Decode<'r, Db> + sqlx::Type<Db> + rusqlite::types::FromSql {}

            /// What the decoders read from: a sqlx row, or a row of the SQLite writer thread.
            trait Columns {
                fn column<T: ColumnValue>(&self, at: At, index: usize, name: &str) -> Result<T>;
            }

            impl Columns for DbRow {
                fn column<T: ColumnValue>(&self, at: At, index: usize, name: &str) -> Result<T> {
                    match at {
                        At::Name => get(self, name),
                        At::From(base) => self
                            .try_get::<T, _>(base + index)
                            .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}"))),
                    }
                }
            }

            $crate::sql::sqlite_only!($backend,
            impl Columns for rusqlite::Row<'_> {
                fn column<T: ColumnValue>(&self, at: At, index: usize, name: &str) -> Result<T> {
                    match at {
                        At::Name => self.get::<_, T>(name),
                        At::From(base) => self.get::<_, T>(base + index),
                    }
                    .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
                }
            }
            );

            fn col<T: ColumnValue>(row: &impl Columns, at: At, index: usize, name: &str) -> Result<T> {
                row.column(at, index, name)
            }

            fn json_at<T: serde::de::DeserializeOwned>(row: &impl Columns, at: At, index: usize, name: &str) -> Result<T> {
                from_json(&col::<String>(row, at, index, name)?, name)
            }

            fn product_from_row(r: &DbRow) -> Result<Product> {
                product_at(r, At::Name)
            }

            fn product_at(r: &impl Columns, at: At) -> Result<Product> {
                Ok(Product {
                    id: ProductId::new(col(r, at, 0, "id")?),
                    code: col(r, at, 1, "code")?,
                    name: col(r, at, 2, "name")?,
                    auth_method: parse_enum(&col::<String>(r, at, 3, "auth_method")?, AuthMethod::parse, "auth method")?,
                    status: parse_enum(&col::<String>(r, at, 4, "status")?, ProductStatus::parse, "product status")?,
                    trial_allowed: col(r, at, 5, "trial_allowed")?,
                    trial_days: col(r, at, 6, "trial_days")?,
                    metadata: json_at(r, at, 7, "metadata")?,
                    created_at: col(r, at, 8, "created_at")?,
                    updated_at: col(r, at, 9, "updated_at")?,
                })
            }

            fn feature_from_row(r: &DbRow) -> Result<FeatureDefinition> {
                Ok(FeatureDefinition {
                    id: get(r, "id")?,
                    product_id: ProductId::new(get(r, "product_id")?),
                    code: get(r, "code")?,
                    name: get(r, "name")?,
                    feature_type: parse_enum(&get::<String>(r, "feature_type")?, FeatureType::parse, "feature type")?,
                    max_consumptions: get(r, "max_consumptions")?,
                    allow_overages: get(r, "allow_overages")?,
                    max_overages: get(r, "max_overages")?,
                    allow_negative: get(r, "allow_negative")?,
                    reset_period: parse_enum(&get::<String>(r, "reset_period")?, ResetPeriod::parse, "reset period")?,
                    floating_seats: get(r, "floating_seats")?,
                    floating_lease_seconds: get(r, "floating_lease_seconds")?,
                    metadata: json(r, "metadata")?,
                    created_at: get(r, "created_at")?,
                })
            }

            fn license_feature_from_row(r: &DbRow) -> Result<LicenseFeature> {
                Ok(LicenseFeature {
                    definition: feature_from_row(r)?,
                    overrides: json(r, "overrides")?,
                    consumption_used: get(r, "consumption_used")?,
                    period_start: get(r, "period_start")?,
                })
            }

            fn policy_from_row(r: &DbRow) -> Result<Policy> {
                Ok($crate::sql::rows::columns!(r => Policy {
                    id, code, name, duration_days, maintenance_days, created_at, updated_at;
                    terms: json(r, "terms")?,
                    features: json(r, "features")?,
                    metadata: json(r, "metadata")?,
                    product_id: ProductId::new(get(r, "product_id")?),
                }))
            }

            fn customer_from_row(r: &DbRow) -> Result<Customer> {
                Ok(Customer {
                    id: CustomerId::new(get(r, "id")?),
                    email: get(r, "email")?,
                    name: get(r, "name")?,
                    company: get(r, "company")?,
                    reference: get(r, "reference")?,
                    metadata: json(r, "metadata")?,
                    created_at: get(r, "created_at")?,
                })
            }

            fn user_from_row(r: &DbRow) -> Result<LicenseUser> {
                Ok(LicenseUser {
                    id: get(r, "id")?,
                    customer_id: get::<Option<i64>>(r, "customer_id")?.map(CustomerId::new),
                    email: get(r, "email")?,
                    name: get(r, "name")?,
                    password_hash: get(r, "password_hash")?,
                    created_at: get(r, "created_at")?,
                })
            }

            fn license_from_row(r: &DbRow, codec: &dyn SecretCodec) -> Result<License> {
                license_at(r, codec, At::Name)
            }

            fn license_at(r: &impl Columns, codec: &dyn SecretCodec, at: At) -> Result<License> {
                let sealed: Option<Vec<u8>> = col(r, at, 4, "key_sealed")?;
                Ok(License {
                    id: LicenseId::new(col(r, at, 0, "id")?),
                    product_id: ProductId::new(col(r, at, 1, "product_id")?),
                    policy_id: col(r, at, 2, "policy_id")?,
                    customer_id: col::<Option<i64>>(r, at, 3, "customer_id")?.map(CustomerId::new),
                    key: sealed.map(|sealed| open_text(codec, &sealed, LICENSE_KEY)).transpose()?,
                    status: parse_enum(&col::<String>(r, at, 5, "status")?, LicenseStatus::parse, "license status")?,
                    assignment: parse_enum(&col::<String>(r, at, 6, "assignment")?, Assignment::parse, "assignment")?,
                    terms: json_at(r, at, 7, "terms")?,
                    starts_at: col(r, at, 8, "starts_at")?,
                    expires_at: col(r, at, 9, "expires_at")?,
                    maintenance_expires_at: col(r, at, 10, "maintenance_expires_at")?,
                    trial_days: col(r, at, 11, "trial_days")?,
                    transfer_count: col(r, at, 12, "transfer_count")?,
                    deactivation_count: col(r, at, 13, "deactivation_count")?,
                    consumption_used: col(r, at, 14, "consumption_used")?,
                    consumption_period_start: col(r, at, 15, "consumption_period_start")?,
                    order_ref: col(r, at, 16, "order_ref")?,
                    metadata: json_at(r, at, 17, "metadata")?,
                    created_at: col(r, at, 18, "created_at")?,
                    updated_at: col(r, at, 19, "updated_at")?,
                })
            }

            fn device_from_row(r: &DbRow) -> Result<Device> {
                device_at(r, At::Name)
            }

            fn device_at(r: &impl Columns, at: At) -> Result<Device> {
                Ok(Device {
                    id: DeviceId::new(col(r, at, 0, "id")?),
                    license_id: LicenseId::new(col(r, at, 1, "license_id")?),
                    fingerprint: col(r, at, 2, "fingerprint")?,
                    name: col(r, at, 3, "name")?,
                    hostname: col(r, at, 4, "hostname")?,
                    os: col(r, at, 5, "os")?,
                    app_version: col(r, at, 6, "app_version")?,
                    ip: col(r, at, 7, "ip")?,
                    mac: col(r, at, 8, "mac")?,
                    is_vm: col(r, at, 9, "is_vm")?,
                    user_id: col(r, at, 10, "user_id")?,
                    variables: json_at(r, at, 11, "variables")?,
                    activated_at: col(r, at, 12, "activated_at")?,
                    last_seen_at: col(r, at, 13, "last_seen_at")?,
                    deactivated_at: col(r, at, 14, "deactivated_at")?,
                })
            }

            fn blocked_from_row(r: &DbRow) -> Result<BlockedDevice> {
                Ok(BlockedDevice {
                    id: get(r, "id")?,
                    product_id: get::<Option<i64>>(r, "product_id")?.map(ProductId::new),
                    fingerprint: get(r, "fingerprint")?,
                    reason: get(r, "reason")?,
                    created_at: get(r, "created_at")?,
                })
            }

            pub(crate) fn lease_from_row(r: &DbRow) -> Result<FloatingLease> {
                lease_at(r)
            }

            fn lease_at(r: &impl Columns) -> Result<FloatingLease> {
                Ok(FloatingLease {
                    id: col(r, At::Name, 0, "id")?,
                    license_id: LicenseId::new(col(r, At::Name, 0, "license_id")?),
                    feature_id: col(r, At::Name, 0, "feature_id")?,
                    fingerprint: col(r, At::Name, 0, "fingerprint")?,
                    expires_at: col(r, At::Name, 0, "expires_at")?,
                    borrowed_until: col(r, At::Name, 0, "borrowed_until")?,
                    created_at: col(r, At::Name, 0, "created_at")?,
                })
            }

            fn consumption_from_row(r: &DbRow) -> Result<ConsumptionEvent> {
                consumption_at(r, At::Name)
            }

            fn consumption_at(r: &impl Columns, at: At) -> Result<ConsumptionEvent> {
                Ok(ConsumptionEvent {
                    id: col(r, at, 0, "id")?,
                    license_id: LicenseId::new(col(r, at, 1, "license_id")?),
                    feature_id: col(r, at, 2, "feature_id")?,
                    amount: col(r, at, 3, "amount")?,
                    total_after: col(r, at, 4, "total_after")?,
                    idempotency_key: col(r, at, 5, "idempotency_key")?,
                    at: col(r, at, 6, "at")?,
                })
            }

            fn credential_from_row(r: &DbRow) -> Result<Credential> {
                Ok(Credential {
                    id: get(r, "id")?,
                    dialect: parse_enum(&get::<String>(r, "dialect")?, Dialect::parse, "dialect")?,
                    name: get(r, "name")?,
                    key_id: get(r, "key_id")?,
                    product_id: get::<Option<i64>>(r, "product_id")?.map(ProductId::new),
                    read_only: get(r, "read_only")?,
                    ip_allowlist: json(r, "ip_allowlist")?,
                    created_at: get(r, "created_at")?,
                    revoked_at: get(r, "revoked_at")?,
                })
            }

            fn signing_key_from_row(r: &DbRow, codec: &dyn SecretCodec) -> Result<StoredSigningKey> {
                let sealed: Vec<u8> = get(r, "private_sealed")?;
                let private_pkcs8 = codec.open(&sealed, SIGNING_KEY).ok_or_else(|| {
                    StoreError::Corrupt("cannot open sealed signing key (tampered or sealed under another key)".into())
                })?;
                Ok(StoredSigningKey {
                    id: get(r, "id")?,
                    kid: get(r, "kid")?,
                    algorithm: get(r, "algorithm")?,
                    public_der: get(r, "public_der")?,
                    private_pkcs8,
                    active: get(r, "active")?,
                    created_at: get(r, "created_at")?,
                    retired_at: get(r, "retired_at")?,
                })
            }

            fn admin_token_from_row(r: &DbRow) -> Result<AdminToken> {
                Ok(AdminToken {
                    id: get(r, "id")?,
                    name: get(r, "name")?,
                    created_at: get(r, "created_at")?,
                    revoked_at: get(r, "revoked_at")?,
                })
            }

            fn event_from_row(r: &DbRow) -> Result<Event> {
                Ok(Event {
                    id: get(r, "id")?,
                    at: get(r, "at")?,
                    actor: get(r, "actor")?,
                    source_ip: get(r, "source_ip")?,
                    action: get(r, "action")?,
                    subject_type: get(r, "subject_type")?,
                    subject_id: get(r, "subject_id")?,
                    data: json(r, "data")?,
                })
            }

            fn rows<T>(rows: Vec<DbRow>, decode: impl Fn(&DbRow) -> Result<T>) -> Result<Vec<T>> {
                rows.iter().map(decode).collect()
            }
    };
}

/// A struct literal whose fields each decode the column of the same name with the `get` in scope:
/// `columns!(row => Policy { id, name; terms: json(row, "terms")? })` is
/// `Policy { id: get(row, "id")?, name: get(row, "name")?, terms: json(row, "terms")? }`; the
/// fields after `;` take the expression given.
macro_rules! columns {
    ($row:expr => $ty:ident { $($field:ident),* $(,)? $(; $($other:ident: $value:expr),* $(,)?)? }) => {
        $ty {
            $($field: get($row, stringify!($field))?,)*
            $($($other: $value,)*)?
        }
    };
}

pub(crate) use {columns, row_decoders};
