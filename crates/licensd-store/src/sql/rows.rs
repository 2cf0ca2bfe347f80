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

            /// Reads a row's columns one after another in the order a decoder's struct literal
            /// names its fields (Rust evaluates a literal's fields in the order written): by name,
            /// or in a joined row by position from a base index, taking the next position at each
            /// read. So the positions follow the field order, which is the `*_cols!` list's order,
            /// instead of being numbered by hand in every decoder.
            struct Cursor<'r, R> {
                row: &'r R,
                at: At,
                next: std::cell::Cell<usize>,
            }

            impl<'r, R: Columns> Cursor<'r, R> {
                fn new(row: &'r R, at: At) -> Self {
                    Cursor { row, at, next: std::cell::Cell::new(0) }
                }

                fn col<T: ColumnValue>(&self, name: &str) -> Result<T> {
                    let index = self.next.get();
                    self.next.set(index + 1);
                    self.row.column(self.at, index, name)
                }

                /// A JSON text column.
                fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
                    from_json(&self.col::<String>(name)?, name)
                }

                /// A text column holding one of an enum's names (`what` names it in the error).
                fn parsed<T>(&self, name: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
                    parse_enum(&self.col::<String>(name)?, parse, what)
                }
            }

            fn product_from_row(r: &DbRow) -> Result<Product> {
                product_at(r, At::Name)
            }

            fn product_at(r: &impl Columns, at: At) -> Result<Product> {
                let c = Cursor::new(r, at);
                Ok($crate::sql::rows::columns_in_order!(c => Product {
                    id: ProductId::new(c.col("id")?),
                    code,
                    name,
                    auth_method: c.parsed("auth_method", AuthMethod::parse, "auth method")?,
                    status: c.parsed("status", ProductStatus::parse, "product status")?,
                    trial_allowed,
                    trial_days,
                    metadata: c.json("metadata")?,
                    created_at,
                    updated_at,
                }))
            }

            fn feature_from_row(r: &DbRow) -> Result<FeatureDefinition> {
                let c = Cursor::new(r, At::Name);
                Ok($crate::sql::rows::columns_in_order!(c => FeatureDefinition {
                    id,
                    spec: $crate::sql::rows::columns_in_order!(c => FeatureSpec {
                        product_id: ProductId::new(c.col("product_id")?),
                        code,
                        name,
                        feature_type: c.parsed("feature_type", FeatureType::parse, "feature type")?,
                        max_consumptions,
                        allow_overages,
                        max_overages,
                        allow_negative,
                        reset_period: c.parsed("reset_period", ResetPeriod::parse, "reset period")?,
                        floating_seats,
                        floating_lease_seconds,
                        metadata: c.json("metadata")?,
                    }),
                    created_at,
                }))
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
                let c = Cursor::new(r, At::Name);
                Ok($crate::sql::rows::columns_in_order!(c => Policy {
                    id,
                    product_id: ProductId::new(c.col("product_id")?),
                    code,
                    name,
                    duration_days,
                    maintenance_days,
                    terms: c.json("terms")?,
                    features: c.json("features")?,
                    metadata: c.json("metadata")?,
                    created_at,
                    updated_at,
                }))
            }

            fn customer_from_row(r: &DbRow) -> Result<Customer> {
                let c = Cursor::new(r, At::Name);
                Ok($crate::sql::rows::columns_in_order!(c => Customer {
                    id: CustomerId::new(c.col("id")?),
                    email,
                    name,
                    company,
                    reference,
                    metadata: c.json("metadata")?,
                    created_at,
                }))
            }

            fn user_from_row(r: &DbRow) -> Result<LicenseUser> {
                let c = Cursor::new(r, At::Name);
                Ok($crate::sql::rows::columns_in_order!(c => LicenseUser {
                    id,
                    customer_id: c.col::<Option<i64>>("customer_id")?.map(CustomerId::new),
                    email,
                    name,
                    password_hash,
                    created_at,
                }))
            }

            fn license_from_row(r: &DbRow, codec: &dyn SecretCodec) -> Result<License> {
                license_at(r, codec, At::Name)
            }

            fn license_at(r: &impl Columns, codec: &dyn SecretCodec, at: At) -> Result<License> {
                let c = Cursor::new(r, at);
                Ok($crate::sql::rows::columns_in_order!(c => License {
                    id: LicenseId::new(c.col("id")?),
                    product_id: ProductId::new(c.col("product_id")?),
                    policy_id,
                    customer_id: c.col::<Option<i64>>("customer_id")?.map(CustomerId::new),
                    key: c
                        .col::<Option<Vec<u8>>>("key_sealed")?
                        .map(|sealed| open_text(codec, &sealed, LICENSE_KEY))
                        .transpose()?,
                    status: c.parsed("status", LicenseStatus::parse, "license status")?,
                    assignment: c.parsed("assignment", Assignment::parse, "assignment")?,
                    terms: c.json("terms")?,
                    starts_at,
                    expires_at,
                    maintenance_expires_at,
                    trial_days,
                    transfer_count,
                    deactivation_count,
                    consumption_used,
                    consumption_period_start,
                    order_ref,
                    metadata: c.json("metadata")?,
                    created_at,
                    updated_at,
                }))
            }

            fn device_from_row(r: &DbRow) -> Result<Device> {
                device_at(r, At::Name)
            }

            fn device_at(r: &impl Columns, at: At) -> Result<Device> {
                let c = Cursor::new(r, at);
                Ok($crate::sql::rows::columns_in_order!(c => Device {
                    id: DeviceId::new(c.col("id")?),
                    license_id: LicenseId::new(c.col("license_id")?),
                    fingerprint,
                    name,
                    hostname,
                    os,
                    app_version,
                    ip,
                    mac,
                    is_vm,
                    user_id,
                    variables: c.json("variables")?,
                    activated_at,
                    last_seen_at,
                    deactivated_at,
                }))
            }

            fn blocked_from_row(r: &DbRow) -> Result<BlockedDevice> {
                let c = Cursor::new(r, At::Name);
                Ok($crate::sql::rows::columns_in_order!(c => BlockedDevice {
                    id,
                    product_id: c.col::<Option<i64>>("product_id")?.map(ProductId::new),
                    fingerprint,
                    reason,
                    created_at,
                }))
            }

            pub(crate) fn lease_from_row(r: &DbRow) -> Result<FloatingLease> {
                lease_at(r)
            }

            fn lease_at(r: &impl Columns) -> Result<FloatingLease> {
                let c = Cursor::new(r, At::Name);
                Ok($crate::sql::rows::columns_in_order!(c => FloatingLease {
                    id,
                    license_id: LicenseId::new(c.col("license_id")?),
                    feature_id,
                    fingerprint,
                    expires_at,
                    borrowed_until,
                    created_at,
                }))
            }

            fn consumption_from_row(r: &DbRow) -> Result<ConsumptionEvent> {
                consumption_at(r, At::Name)
            }

            fn consumption_at(r: &impl Columns, at: At) -> Result<ConsumptionEvent> {
                let c = Cursor::new(r, at);
                Ok($crate::sql::rows::columns_in_order!(c => ConsumptionEvent {
                    id,
                    license_id: LicenseId::new(c.col("license_id")?),
                    feature_id,
                    amount,
                    total_after,
                    idempotency_key,
                    at,
                }))
            }

            fn credential_from_row(r: &DbRow) -> Result<Credential> {
                credential_at(r, At::Name)
            }

            /// A credential (without its sealed secret) by name, or in a joined row by position
            /// from a base index in this order: id, dialect, name, key_id, product_id, read_only,
            /// ip_allowlist, created_at, revoked_at.
            fn credential_at(r: &impl Columns, at: At) -> Result<Credential> {
                let c = Cursor::new(r, at);
                Ok($crate::sql::rows::columns_in_order!(c => Credential {
                    id,
                    dialect: c.parsed("dialect", Dialect::parse, "dialect")?,
                    name,
                    key_id,
                    product_id: c.col::<Option<i64>>("product_id")?.map(ProductId::new),
                    read_only,
                    ip_allowlist: c.json("ip_allowlist")?,
                    created_at,
                    revoked_at,
                }))
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
                let c = Cursor::new(r, At::Name);
                Ok($crate::sql::rows::columns_in_order!(c => AdminToken {
                    id,
                    name,
                    read_only,
                    expires_at,
                    ip_allowlist: c.json("ip_allowlist")?,
                    created_at,
                    revoked_at,
                }))
            }

            fn event_from_row(r: &DbRow) -> Result<Event> {
                let c = Cursor::new(r, At::Name);
                Ok($crate::sql::rows::columns_in_order!(c => Event {
                    id,
                    at,
                    actor,
                    source_ip,
                    action,
                    subject_type,
                    subject_id,
                    data: c.json("data")?,
                }))
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

/// A struct literal whose fields read a row decoder's `Cursor` in the order written: a bare field
/// reads the column of its own name (`c.col("name")?`); `field: expr` takes the expression, which
/// reads its column from the same cursor in its place (a conversion, JSON, an enum).
macro_rules! columns_in_order {
    ($cursor:ident => $ty:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {
        $ty {
            $($field: $crate::sql::rows::columns_in_order!(@field $cursor, $field $(, $value)?),)*
        }
    };
    (@field $cursor:ident, $field:ident) => {
        $cursor.col(stringify!($field))?
    };
    (@field $cursor:ident, $field:ident, $value:expr) => {
        $value
    };
}

pub(crate) use {columns, columns_in_order, row_decoders};
