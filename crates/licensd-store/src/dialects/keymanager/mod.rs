//! Storage the Key Manager dialect brings into the domain: capabilities of Key Manager API keys,
//! the access block list, per-product signing keys and key/value metadata of license keys and
//! products. Migrations use versions 200–299; files live in migrations/{sqlite,postgres}/.

use crate::{PostgresStore, Result, SqliteStore};
use licensd_domain::access::{AccessBlock, AccessBlockKind};
use licensd_domain::contract::{Contract, ContractRefusal};
use licensd_domain::downloadable::{Downloadable, DownloadableSpec};
use licensd_domain::generator::{Generator, GeneratorSpec};
use licensd_domain::telemetry::TelemetryRecord;
use licensd_domain::{EventDraft, LicenseId, Millis, ProductId};
use serde::{Deserialize, Serialize};

crate::migrate::migrations!(200 "0200_keymanager");

mod api;
#[macro_use]
mod keys;
#[macro_use]
mod products;
#[macro_use]
mod generators;
#[macro_use]
mod contracts;

pub use api::*;

const PRODUCT_SIGNING_KEY: &str = "product-signing-key";
/// Must equal the core store's context, so keys minted here open like any other.
const LICENSE_KEY: &str = "license-key";
const CONTRACT_KEY: &str = "contract-key";
const TELEMETRY_KEY: &str = "telemetry-license-key";

fn meta_table(owner: MetaOwner) -> (&'static str, &'static str, &'static str) {
    match owner {
        MetaOwner::License(_) => ("km_license_meta", "license_id", "licenses"),
        MetaOwner::Product(_) => ("km_product_meta", "product_id", "products"),
    }
}

macro_rules! impl_keymanager {
    ($store:ty, $row:ty, $conn:ty, $lock:literal, $skip_locked:literal, $core:ident) => {
        const _: () = {
            use crate::StoreError;
            use crate::sql::{conflict, db_err, from_json, to_json};
            use crate::$core::shared::{
                begin_write, delete_logged, fetch_found, fetch_optional, fetch_rows, get, insert_event, write_logged, write_pool,
            };

            fn block_from_row(row: &$row) -> Result<AccessBlock> {
                let kind: String = get(row, "kind")?;
                Ok(AccessBlock {
                    id: get(row, "id")?,
                    kind: AccessBlockKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown access block kind {kind:?}")))?,
                    value: get(row, "value")?,
                    reason: get(row, "reason")?,
                    created_at: get(row, "created_at")?,
                })
            }

            fn meta_from_row(row: &$row) -> Result<MetaEntry> {
                Ok(MetaEntry {
                    id: get(row, "id")?,
                    key: get(row, "meta_key")?,
                    value: get(row, "meta_value")?,
                    created_at: get(row, "created_at")?,
                    updated_at: get(row, "updated_at")?,
                })
            }

            const GENERATOR_COLS: &str =
                "id, product_id, name, pattern, activation_limit, validity_days, active, created_at, updated_at";
            const CONTRACT_COLS: &str = "c.id, c.product_id, c.name, c.information, c.key_sealed, c.license_keys_quantity, \
                 c.active, c.can_get_info, c.can_generate, c.can_destroy, c.can_destroy_all, c.created_at, c.updated_at, \
                 (SELECT COUNT(*) FROM km_contract_licenses l WHERE l.contract_id = c.id) AS license_keys_count";
            const DOWNLOADABLE_SELECT: &str = "SELECT id, product_id, numeric_version, version, update_summary, changelog, \
                 published, release_date, download_counter, file_name, \
                 CAST(LENGTH(file_content) AS BIGINT) AS file_size, created_at \
                 FROM km_downloadables";
            const TELEMETRY_COLS: &str = "id, user_identifier, license_id, license_key_sealed, activation_identifier, \
                 product_id, product_version, data_type, data_group, data, is_correct_format, license_key_exists, \
                 product_exists, product_version_exists, has_red_flags, created_at";

            fn generator_from_row(row: &$row) -> Result<Generator> {
                let pattern: String = get(row, "pattern")?;
                Ok(Generator {
                    id: get(row, "id")?,
                    product_id: ProductId::new(get(row, "product_id")?),
                    name: get(row, "name")?,
                    pattern: from_json(&pattern, "generator pattern")?,
                    activation_limit: get(row, "activation_limit")?,
                    validity_days: get(row, "validity_days")?,
                    active: get(row, "active")?,
                    created_at: get(row, "created_at")?,
                    updated_at: get(row, "updated_at")?,
                })
            }

            fn contract_from_row(row: &$row, codec: &dyn crate::SecretCodec) -> Result<StoredContract> {
                let sealed: Vec<u8> = get(row, "key_sealed")?;
                Ok(StoredContract {
                    contract: crate::sql::rows::columns!(row => Contract {
                        id, name, information, license_keys_quantity, active, can_get_info, can_generate,
                        can_destroy, can_destroy_all, created_at, updated_at;
                        product_id: ProductId::new(get(row, "product_id")?)
                    }),
                    key: crate::sql::open_text(codec, &sealed, CONTRACT_KEY)?,
                    license_keys_count: get(row, "license_keys_count")?,
                })
            }

            fn downloadable_from_row(row: &$row) -> Result<Downloadable> {
                Ok(Downloadable {
                    id: get(row, "id")?,
                    product_id: ProductId::new(get(row, "product_id")?),
                    numeric_version: get(row, "numeric_version")?,
                    version: get(row, "version")?,
                    update_summary: get(row, "update_summary")?,
                    changelog: get(row, "changelog")?,
                    published: get(row, "published")?,
                    release_date: get(row, "release_date")?,
                    download_counter: get(row, "download_counter")?,
                    file_name: get(row, "file_name")?,
                    file_size: get::<Option<i64>>(row, "file_size")?,
                    created_at: get(row, "created_at")?,
                })
            }

            fn telemetry_from_row(row: &$row, codec: &dyn crate::SecretCodec) -> Result<TelemetryRecord> {
                let sealed: Option<Vec<u8>> = get(row, "license_key_sealed")?;
                let data: String = get(row, "data")?;
                Ok(TelemetryRecord {
                    id: get(row, "id")?,
                    user_identifier: get(row, "user_identifier")?,
                    license_id: get::<Option<i64>>(row, "license_id")?.map(LicenseId::new),
                    license_key: sealed.map(|s| crate::sql::open_text(codec, &s, TELEMETRY_KEY)).transpose()?,
                    activation_identifier: get(row, "activation_identifier")?,
                    product_id: get::<Option<i64>>(row, "product_id")?.map(ProductId::new),
                    product_version: get(row, "product_version")?,
                    data_type: get(row, "data_type")?,
                    data_group: get(row, "data_group")?,
                    data: from_json(&data, "telemetry data")?,
                    is_correct_format: get(row, "is_correct_format")?,
                    license_key_exists: get(row, "license_key_exists")?,
                    product_exists: get(row, "product_exists")?,
                    product_version_exists: get(row, "product_version_exists")?,
                    has_red_flags: get(row, "has_red_flags")?,
                    created_at: get(row, "created_at")?,
                })
            }

            /// NotFound unless the product exists: Key Manager writes about a product check it
            /// first, inside their transaction, rather than leave it to the foreign key's error.
            async fn require_product(conn: &mut $conn, product_id: ProductId) -> Result<()> {
                let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE id = $1")
                    .bind(product_id.get())
                    .fetch_one(conn)
                    .await
                    .map_err(db_err)?;
                if found == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            /// Inserts one key-based license (no feature grants: Key Manager keys have none),
            /// sealed and digested exactly as the core store does.
            async fn insert_license(
                conn: &mut $conn,
                codec: &dyn crate::SecretCodec,
                item: &crate::NewLicense,
                now: Millis,
            ) -> Result<LicenseId> {
                let key = item.key.as_deref().ok_or_else(|| StoreError::Conflict("a license key is required".into()))?;
                let query = sqlx::query_scalar(concat!(
                    "INSERT INTO licenses (product_id, key_digest, key_sealed, ",
                    crate::sql::license_settings_columns!(),
                    ", transfer_count, deactivation_count, consumption_used, consumption_period_start, lock_version, \
                     created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, 0, 0, $15, 0, $15, $15) RETURNING id",
                ))
                .bind(item.product_id.get())
                .bind(codec.digest(key.as_bytes()))
                .bind(codec.seal(key.as_bytes(), LICENSE_KEY));
                let id: i64 = crate::sql::bind_license_settings!(query, &item.settings)
                .bind(now)
                .fetch_one(conn)
                .await
                .map_err(conflict("license key already exists", "product does not exist"))?;
                Ok(LicenseId::new(id))
            }

            async fn assign_row(conn: &mut $conn, id: LicenseId, assign: &AssignFn, now: Millis) -> Result<()> {
                let metadata: String = sqlx::query_scalar("SELECT metadata FROM licenses WHERE id = $1")
                    .bind(id.get())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let metadata: serde_json::Value = from_json(&metadata, "license metadata")?;
                let (metadata, expires_at) = assign(&metadata, now);
                sqlx::query(
                    "UPDATE licenses SET assignment = 'assigned', metadata = $2, expires_at = $3, updated_at = $4, \
                     lock_version = lock_version + 1 WHERE id = $1",
                )
                .bind(id.get())
                .bind(to_json(&metadata)?)
                .bind(expires_at)
                .bind(now)
                .execute(conn)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn contract_by_id(conn: &mut $conn, codec: &dyn crate::SecretCodec, id: i64) -> Result<StoredContract> {
                let query = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CONTRACT_COLS} FROM km_contracts c WHERE c.id = $1")))
                    .bind(id);
                fetch_found(conn, query, |r| contract_from_row(r, codec)).await
            }

            /// `assign_stock` and `assign_stock_delivering`: with `deliver`, the delivery reporting the
            /// assigned keys is queued in the same transaction.
            async fn assign_keys(
                store: &$store,
                selection: AssignSelection,
                assign: &AssignFn,
                mint: Vec<crate::NewLicense>,
                event: EventDraft,
                deliver: Option<&DeliveryFn>,
                now: Millis,
            ) -> Result<AssignOutcome> {
                let mut tx = begin_write(store).await?;
                let selected: Vec<i64> = match selection {
                    AssignSelection::One(id) => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM licenses WHERE id = $1 AND assignment = 'in_stock' AND status = 'active'{}",
                        $lock
                    )))
                    .bind(id.get())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?,
                    AssignSelection::Random { product_id, quantity } => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM licenses WHERE product_id = $1 AND assignment = 'in_stock' AND status = 'active' \
                         AND key_digest IS NOT NULL ORDER BY id LIMIT $2{}",
                        $skip_locked
                    )))
                    .bind(product_id.get())
                    .bind(quantity.max(0))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?,
                };
                let mut ids: Vec<LicenseId> = selected.into_iter().map(LicenseId::new).collect();
                // Early refusals roll back explicitly: a dropped transaction's rollback is only
                // sent when its connection is next used, and until then its row locks would make
                // a following request's SKIP LOCKED selection miss keys that are in stock.
                match selection {
                    AssignSelection::One(_) if ids.is_empty() => {
                        tx.rollback().await.map_err(db_err)?;
                        return Ok(AssignOutcome::NotAssignable);
                    }
                    AssignSelection::Random { quantity, .. } if (ids.len() as i64) < quantity => {
                        let shortfall = (quantity - ids.len() as i64) as usize;
                        if mint.len() < shortfall {
                            tx.rollback().await.map_err(db_err)?;
                            return Ok(AssignOutcome::Insufficient { available: ids.len() as i64 });
                        }
                        let mut minted = Vec::with_capacity(shortfall);
                        for item in mint.iter().take(shortfall) {
                            minted.push(insert_license(&mut tx, &*store.codec, item, now).await?);
                        }
                        for id in &ids {
                            assign_row(&mut tx, *id, assign, now).await?;
                        }
                        ids.extend(minted);
                        let subject = ids.first().copied();
                        insert_event(&mut tx, event, subject, now).await?;
                        if let Err(error) = queue_delivery(&mut tx, &*store.codec, &ids, deliver, now).await {
                            tx.rollback().await.map_err(db_err)?;
                            return Err(error);
                        }
                        tx.commit().await.map_err(db_err)?;
                        return Ok(AssignOutcome::Assigned(ids));
                    }
                    _ => {}
                }
                for id in &ids {
                    assign_row(&mut tx, *id, assign, now).await?;
                }
                let subject = ids.first().copied();
                insert_event(&mut tx, event, subject, now).await?;
                // A delivery that cannot be made rolls the assignment back, explicitly (see above).
                if let Err(error) = queue_delivery(&mut tx, &*store.codec, &ids, deliver, now).await {
                    tx.rollback().await.map_err(db_err)?;
                    return Err(error);
                }
                tx.commit().await.map_err(db_err)?;
                Ok(AssignOutcome::Assigned(ids))
            }

            /// Renders the delivery from the assigned licenses as this transaction sees them and
            /// queues it on the same transaction.
            async fn queue_delivery(
                conn: &mut $conn,
                codec: &dyn crate::SecretCodec,
                ids: &[LicenseId],
                deliver: Option<&DeliveryFn>,
                now: Millis,
            ) -> Result<()> {
                let Some(deliver) = deliver else {
                    return Ok(());
                };
                let mut licenses = Vec::with_capacity(ids.len());
                for id in ids {
                    let license = crate::$core::shared::read_license(&mut *conn, codec, &crate::LicenseRef::Id(*id))
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    licenses.push(license);
                }
                let delivery = deliver(&licenses)
                    .map_err(|error| StoreError::Database(format!("cannot render the delivery: {error}")))?;
                crate::outbox::$core::insert_delivery(conn, &delivery, now).await?;
                Ok(())
            }

            impl_km_keys!($store, $row, $conn, $lock, $skip_locked, $core);
            impl_km_products!($store, $row, $conn, $lock, $skip_locked, $core);
            impl_km_generators!($store, $row, $conn, $lock, $skip_locked, $core);
            impl_km_contracts!($store, $row, $conn, $lock, $skip_locked, $core);

            #[async_trait::async_trait]
            impl StockStore for $store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn assign_stock(
                    &self,
                    selection: AssignSelection,
                    assign: &AssignFn,
                    mint: Vec<crate::NewLicense>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<AssignOutcome> {
                    assign_keys(self, selection, assign, mint, event, None, now).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn assign_stock_delivering(
                    &self,
                    selection: AssignSelection,
                    assign: &AssignFn,
                    mint: Vec<crate::NewLicense>,
                    event: EventDraft,
                    deliver: &DeliveryFn,
                    now: Millis,
                ) -> Result<AssignOutcome> {
                    assign_keys(self, selection, assign, mint, event, Some(deliver), now).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
                async fn assign_and_activate(
                    &self,
                    license_id: LicenseId,
                    assign: &AssignFn,
                    device: licensd_domain::DeviceInfo,
                    assign_event: EventDraft,
                    activate_event: EventDraft,
                    now: Millis,
                ) -> Result<AssignActivation> {
                    use crate::$core::shared::{activate_locked, lock_license_or_deny};
                    use licensd_domain::{Assignment, LicenseStatus};
                    let codec = &*self.codec;
                    let license_ref = crate::LicenseRef::Id(license_id);
                    let mut tx = begin_write(self).await?;
                    let outcome = async {
                        let license = lock_license_or_deny(&mut tx, codec, &license_ref).await?;
                        if license.assignment != Assignment::InStock || license.status != LicenseStatus::Active {
                            return Ok(None);
                        }
                        assign_row(&mut tx, license.id, assign, now).await?;
                        insert_event(&mut tx, assign_event, Some(license.id), now).await?;
                        // The activation rule reads the license as assigned.
                        let license = lock_license_or_deny(&mut tx, codec, &license_ref).await?;
                        activate_locked(&mut tx, codec, license, &device, None, activate_event, now)
                            .await
                            .map(Some)
                    }
                    .await;
                    match outcome {
                        Ok(Some(activation)) => {
                            tx.commit().await.map_err(db_err)?;
                            Ok(AssignActivation::Activated(Box::new(activation)))
                        }
                        // Refusals roll back explicitly, so no row lock outlives the request.
                        Ok(None) => {
                            tx.rollback().await.map_err(db_err)?;
                            Ok(AssignActivation::NotAssignable)
                        }
                        Err(error) => {
                            tx.rollback().await.map_err(db_err)?;
                            Err(error)
                        }
                    }
                }
            }

            #[async_trait::async_trait]
            impl TelemetryStore for $store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn add_telemetry(&self, record: NewTelemetry, now: Millis) -> Result<TelemetryRecord> {
                    let (digest, sealed) = match &record.license_key {
                        Some(key) => (
                            Some(self.codec.digest(key.as_bytes())),
                            Some(self.codec.seal(key.as_bytes(), TELEMETRY_KEY)),
                        ),
                        None => (None, None),
                    };
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO km_telemetry (user_identifier, license_id, license_key_digest, license_key_sealed, \
                         activation_identifier, product_id, product_version, data_type, data_group, data, is_correct_format, \
                         license_key_exists, product_exists, product_version_exists, has_red_flags, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING {TELEMETRY_COLS}"
                    )))
                    .bind(&record.user_identifier)
                    .bind(record.license_id.map(i64::from))
                    .bind(digest)
                    .bind(sealed)
                    .bind(&record.activation_identifier)
                    .bind(record.product_id.map(i64::from))
                    .bind(&record.product_version)
                    .bind(&record.data_type)
                    .bind(&record.data_group)
                    .bind(to_json(&record.data)?)
                    .bind(record.is_correct_format)
                    .bind(record.license_key_exists)
                    .bind(record.product_exists)
                    .bind(record.product_version_exists)
                    .bind(record.has_red_flags)
                    .bind(now)
                    .fetch_one(write_pool(self))
                    .await
                    .map_err(db_err)?;
                    telemetry_from_row(&row, &*self.codec)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn list_telemetry(&self, filter: TelemetryFilter, limit: i64) -> Result<Vec<TelemetryRecord>> {
                    let digest = filter.license_key.as_ref().map(|key| self.codec.digest(key.as_bytes()));
                    let query = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {TELEMETRY_COLS} FROM km_telemetry WHERE ($1 IS NULL OR license_key_digest = $1) \
                         AND ($2 IS NULL OR user_identifier = $2) AND ($3 IS NULL OR has_red_flags = $3) \
                         AND ($4 IS NULL OR product_id = $4) ORDER BY id DESC LIMIT $5"
                    )))
                    .bind(digest)
                    .bind(&filter.user_identifier)
                    .bind(filter.has_red_flags)
                    .bind(filter.product_id.map(i64::from))
                    .bind(limit.clamp(1, 1000));
                    fetch_rows(&self.pool, query, |row| telemetry_from_row(row, &*self.codec)).await
                }
            }
        };
    };
}

// SQLite serializes writers with BEGIN IMMEDIATE, so it needs (and has) no row-lock clauses.
impl_keymanager!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    sqlx::SqliteConnection,
    "",
    "",
    sqlite
);
impl_keymanager!(
    PostgresStore,
    sqlx::postgres::PgRow,
    sqlx::PgConnection,
    " FOR UPDATE",
    " FOR UPDATE SKIP LOCKED",
    postgres
);
