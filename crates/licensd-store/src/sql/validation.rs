//! Validation: the read-only answer to "may this device use this license now?".

use crate::*;
use licensd_domain::*;

/// Read-only validation.
#[async_trait::async_trait]
pub trait ValidationStore: Send + Sync + 'static {
    /// Read-only validation (no lock, no write).
    async fn validate(&self, license: LicenseRef, fingerprint: Option<&str>, now: Millis) -> Result<ValidationReport>;
}

/// Expands the helpers and the `ValidationStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_validation {
    ($store:ty, $backend:ident) => {
        /// What validation reads. The common case (no features) is one statement: a single
        /// SELECT is a consistent snapshot on both databases, so it needs no BEGIN/COMMIT round
        /// trips.
        async fn read_validation_inputs(
            store: &$store,
            license: &LicenseRef,
            fingerprint: Option<&str>,
        ) -> Result<ValidationInputs> {
            $crate::sql::sqlite_only!(
                $backend,
                if let Some(readers) = sqlite_readers(store) {
                    let found =
                        readers.read(|conn| direct::validation_inputs(conn, &*store.codec, license, fingerprint))?;
                    return match found {
                        Some(Some(inputs)) => Ok(inputs),
                        Some(None) => read_validation_inputs_with_features(store, license, fingerprint).await,
                        None => Err(StoreError::Denied(Denial::LicenseNotFound)),
                    };
                }
            );
            let row = match license {
                LicenseRef::Id(id) => sqlx::query(concat!(validation_select!(), "WHERE l.id = $1"))
                    .bind((*id).get())
                    .bind(fingerprint)
                    .fetch_optional(&store.pool)
                    .await
                    .map_err(db_err)?,
                LicenseRef::Key(key) => sqlx::query(concat!(validation_select!(), "WHERE l.key_digest = $1"))
                    .bind(store.codec.digest(key.as_bytes()))
                    .bind(fingerprint)
                    .fetch_optional(&store.pool)
                    .await
                    .map_err(db_err)?,
            }
            .ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
            if get::<bool>(&row, "has_features")? {
                // Features live in other rows: read everything again in one transaction.
                return read_validation_inputs_with_features(store, license, fingerprint).await;
            }
            validation_inputs_at(&row, &*store.codec)
        }

        /// Decodes a `validation_select!` row (features are not part of it).
        fn validation_inputs_at(row: &impl Columns, codec: &dyn SecretCodec) -> Result<ValidationInputs> {
            let device = match col::<Option<i64>>(row, At::From(VALIDATION_DEVICE_AT), 0, "id")? {
                Some(_) => Some(device_at(row, At::From(VALIDATION_DEVICE_AT))?),
                None => None,
            };
            Ok(ValidationInputs {
                license: license_at(row, codec, At::From(0))?,
                product: product_at(row, At::From(VALIDATION_PRODUCT_AT))?,
                device,
                blocked: col(row, At::Name, 0, "blocked")?,
                active_devices: col(row, At::Name, 0, "active_count")?,
                features: Vec::new(),
            })
        }

        /// `read_validation_inputs` for a license with features: license, product, device
        /// state and features from one snapshot (a read transaction).
        async fn read_validation_inputs_with_features(
            store: &$store,
            license: &LicenseRef,
            fingerprint: Option<&str>,
        ) -> Result<ValidationInputs> {
            let mut tx = store.pool.begin().await.map_err(db_err)?;
            let license = read_license(&mut tx, &*store.codec, license)
                .await?
                .ok_or(StoreError::Denied(Denial::LicenseNotFound))?;
            let product = product_of(&mut tx, &license).await?;
            let (device, blocked, active_devices) = match fingerprint {
                Some(fingerprint) => device_state(&mut tx, license.id, product.id, fingerprint).await?,
                None => (None, false, count_active_devices(&mut tx, license.id).await?),
            };
            let features = features_of(&mut tx, license.id).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(ValidationInputs {
                product,
                license,
                device,
                blocked,
                active_devices,
                features,
            })
        }
        #[async_trait::async_trait]
        impl $crate::ValidationStore for $store {
            // --- client commands ---

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license.id().map(i64::from)))]
            async fn validate(
                &self,
                license: LicenseRef,
                fingerprint: Option<&str>,
                now: Millis,
            ) -> Result<ValidationReport> {
                let key = CacheKey::new(&license, fingerprint, &*self.codec);
                let inputs = ReadCache::through(
                    read_cache(self),
                    |cache| &cache.validation,
                    key,
                    read_validation_inputs(self, &license, fingerprint),
                )
                .await?;
                Ok(inputs.report(fingerprint, now))
            }
        }
    };
}

pub(crate) use impl_validation;
