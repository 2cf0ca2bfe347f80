//! Who may call: signing keys, admin tokens (stored as keyed digests only) and the client
//! credentials of the dialects.

use crate::*;
use licensd_domain::*;

/// Signing keys, admin tokens and client credentials.
#[async_trait::async_trait]
pub trait AccessStore: Send + Sync + 'static {
    // --- signing keys ---
    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>>;
    /// Returns the active key for `key.algorithm`, inserting `key` only when there is none.
    /// Safe when several nodes start at once: exactly one key becomes active.
    async fn ensure_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<StoredSigningKey>;
    /// Makes `key` the active key for its algorithm and retires the previous one (kept, published).
    async fn rotate_signing_key(&self, key: NewSigningKey, event: EventDraft, now: Millis) -> Result<StoredSigningKey>;

    // --- admin tokens (stored as keyed digests only) ---
    /// Creates the first admin token unless any token exists; returns whether it was created.
    async fn bootstrap_admin_token(&self, name: &str, token: &str, now: Millis) -> Result<bool>;
    async fn create_admin_token(&self, name: &str, token: &str, event: EventDraft, now: Millis) -> Result<AdminToken>;
    /// The unrevoked token with this secret, if any.
    async fn find_admin_token(&self, token: &str) -> Result<Option<AdminToken>>;
    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>>;
    async fn revoke_admin_token(&self, id: i64, event: EventDraft, now: Millis) -> Result<AdminToken>;

    // --- client credentials ---
    async fn create_credential(&self, new: NewCredential, event: EventDraft, now: Millis) -> Result<Credential>;
    async fn list_credentials(&self, dialect: Option<Dialect>) -> Result<Vec<Credential>>;
    async fn revoke_credential(&self, id: i64, event: EventDraft, now: Millis) -> Result<Credential>;
    /// The credential with this public id and its secret (revoked ones too: callers report them).
    async fn find_credential(&self, dialect: Dialect, key_id: &str) -> Result<Option<(Credential, String)>>;
    /// `find_credential` and the product with code `product_code` (`None` when there is none),
    /// read together: one statement (one round trip) when no read cache serves them, for the
    /// dialects whose every call names both. Callers decide in which order to refuse.
    async fn find_credential_and_product(
        &self,
        dialect: Dialect,
        key_id: &str,
        product_code: &str,
    ) -> Result<(Option<(Credential, String)>, Option<Product>)>;
}

/// Expands the helpers and the `AccessStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_access {
    ($store:ty, $backend:ident) => {
            #[async_trait::async_trait]
            impl $crate::AccessStore for $store {
                // --- signing keys ---

                #[tracing::instrument(level = "debug", skip_all)]
                async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>> {
                    let query = sqlx::query(concat!("SELECT ", signing_key_cols!(), " FROM signing_keys ORDER BY id"));
                    fetch_rows(&self.pool, query, |r| signing_key_from_row(r, &*self.codec)).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn ensure_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<StoredSigningKey> {
                    let mut tx = begin_write(self).await?;
                    let select_active =
                        concat!("SELECT ", signing_key_cols!(), " FROM signing_keys WHERE algorithm = $1 AND active = TRUE");
                    if let Some(r) = sqlx::query(select_active).bind(&key.algorithm).fetch_optional(&mut *tx).await.map_err(db_err)? {
                        let existing = signing_key_from_row(&r, &*self.codec)?;
                        tx.commit().await.map_err(db_err)?;
                        return Ok(existing);
                    }
                    // DO NOTHING instead of failing: on PostgreSQL a node racing us waits here for
                    // the winner to commit, then re-reads the winner's key below.
                    let inserted = sqlx::query(concat!(
                        "INSERT INTO signing_keys (kid, algorithm, public_der, private_sealed, active, created_at) \
                         VALUES ($1, $2, $3, $4, TRUE, $5) ON CONFLICT DO NOTHING RETURNING ",
                        signing_key_cols!()
                    ))
                    .bind(&key.kid)
                    .bind(&key.algorithm)
                    .bind(&key.public_der)
                    .bind(self.codec.seal(&key.private_pkcs8, SIGNING_KEY))
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let row = match inserted {
                        Some(r) => r,
                        None => sqlx::query(select_active)
                            .bind(&key.algorithm)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_err)?
                            .ok_or_else(|| StoreError::Conflict(format!("signing key id {} already exists", key.kid)))?,
                    };
                    let stored = signing_key_from_row(&row, &*self.codec)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(stored)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn rotate_signing_key(&self, key: NewSigningKey, event: EventDraft, now: Millis) -> Result<StoredSigningKey> {
                    let mut tx = begin_write(self).await?;
                    sqlx::query("UPDATE signing_keys SET active = FALSE, retired_at = $2 WHERE algorithm = $1 AND active = TRUE")
                        .bind(&key.algorithm)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let row = sqlx::query(concat!(
                        "INSERT INTO signing_keys (kid, algorithm, public_der, private_sealed, active, created_at) \
                         VALUES ($1, $2, $3, $4, TRUE, $5) RETURNING ",
                        signing_key_cols!()
                    ))
                    .bind(&key.kid)
                    .bind(&key.algorithm)
                    .bind(&key.public_der)
                    .bind(self.codec.seal(&key.private_pkcs8, SIGNING_KEY))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(conflict("signing key id already exists", "signing key reference"))?;
                    let stored = signing_key_from_row(&row, &*self.codec)?;
                    insert_event(&mut tx, event, Some(stored.id), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(stored)
                }

                // --- admin tokens ---

                #[tracing::instrument(level = "debug", skip_all)]
                async fn bootstrap_admin_token(&self, name: &str, token: &str, now: Millis) -> Result<bool> {
                    let mut tx = begin_write(self).await?;
                    serialize_bootstrap(&mut tx).await?;
                    let done = sqlx::query(
                        "INSERT INTO admin_tokens (name, digest, created_at) \
                         SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM admin_tokens)",
                    )
                    .bind(name)
                    .bind(self.codec.digest(token.as_bytes()))
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict("admin token already exists", "admin token reference"))?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn create_admin_token(&self, name: &str, token: &str, event: EventDraft, now: Millis) -> Result<AdminToken> {
                    let query = sqlx::query(concat!(
                        "INSERT INTO admin_tokens (name, digest, created_at) VALUES ($1, $2, $3) RETURNING ",
                        admin_token_cols!()
                    ))
                    .bind(name)
                    .bind(self.codec.digest(token.as_bytes()))
                    .bind(now);
                    let on_error = conflict("admin token already exists", "admin token reference");
                    write_logged(self, query, on_error, admin_token_from_row, |c| c.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn find_admin_token(&self, token: &str) -> Result<Option<AdminToken>> {
                    let query = sqlx::query(concat!(
                        "SELECT ",
                        admin_token_cols!(),
                        " FROM admin_tokens WHERE digest = $1 AND revoked_at IS NULL"
                    ))
                    .bind(self.codec.digest(token.as_bytes()));
                    fetch_optional(&self.pool, query, admin_token_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>> {
                    let query = sqlx::query(concat!("SELECT ", admin_token_cols!(), " FROM admin_tokens ORDER BY id"));
                    fetch_rows(&self.pool, query, admin_token_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
                async fn revoke_admin_token(&self, id: i64, event: EventDraft, now: Millis) -> Result<AdminToken> {
                    let sql = concat!(
                        "UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ",
                        admin_token_cols!()
                    );
                    revoke_logged(self, sql, id, admin_token_from_row, event, now).await
                }
                // --- client credentials ---

                #[tracing::instrument(level = "debug", skip_all)]
                async fn create_credential(&self, new: NewCredential, event: EventDraft, now: Millis) -> Result<Credential> {
                    let query = sqlx::query(concat!(
                        "INSERT INTO credentials (dialect, name, key_id, secret_digest, secret_sealed, product_id, read_only, \
                         ip_allowlist, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
                        credential_cols!()
                    ))
                    .bind(new.dialect.as_str())
                    .bind(&new.name)
                    .bind(&new.key_id)
                    .bind(self.codec.digest(new.secret.as_bytes()))
                    .bind(self.codec.seal(new.secret.as_bytes(), CREDENTIAL))
                    .bind(new.product_id.map(i64::from))
                    .bind(new.read_only)
                    .bind(to_json(&new.ip_allowlist)?)
                    .bind(now);
                    let on_error = conflict("credential key id already exists for this dialect", "product does not exist");
                    write_logged(self, query, on_error, credential_from_row, |c| c.id, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn list_credentials(&self, dialect: Option<Dialect>) -> Result<Vec<Credential>> {
                    let query = sqlx::query(concat!(
                        "SELECT ",
                        credential_cols!(),
                        " FROM credentials WHERE ($1 IS NULL OR dialect = $1) ORDER BY id"
                    ))
                    .bind(dialect.map(Dialect::as_str));
                    fetch_rows(&self.pool, query, credential_from_row).await
                }

                #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
                async fn revoke_credential(&self, id: i64, event: EventDraft, now: Millis) -> Result<Credential> {
                    let sql = concat!(
                        "UPDATE credentials SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ",
                        credential_cols!()
                    );
                    revoke_logged(self, sql, id, credential_from_row, event, now).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn find_credential(&self, dialect: Dialect, key_id: &str) -> Result<Option<(Credential, String)>> {
                    ReadCache::through(read_cache(self), |cache| &cache.credentials, (dialect, key_id.to_owned()), async {
                        let Some(row) = sqlx::query(concat!(
                            "SELECT ",
                            credential_cols!(),
                            " FROM credentials WHERE dialect = $1 AND key_id = $2"
                        ))
                        .bind(dialect.as_str())
                        .bind(key_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        else {
                            return Ok(None);
                        };
                        let secret = open_text(&*self.codec, &get::<Vec<u8>>(&row, "secret_sealed")?, CREDENTIAL)?;
                        Ok(Some((credential_from_row(&row)?, secret)))
                    })
                    .await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn find_credential_and_product(
                    &self,
                    dialect: Dialect,
                    key_id: &str,
                    product_code: &str,
                ) -> Result<(Option<(Credential, String)>, Option<Product>)> {
                    if read_cache(self).is_some() {
                        // Each is kept by the cache: two lookups that rarely reach the database.
                        let credential = self.find_credential(dialect, key_id).await?;
                        let product = match $crate::CatalogStore::get_product_by_code(self, product_code).await {
                            Ok(product) => Some(product),
                            Err(StoreError::NotFound) => None,
                            Err(other) => return Err(other),
                        };
                        return Ok((credential, product));
                    }
                    // The product's columns (`product_cols!` order) from 0, the credential's from
                    // `CREDENTIAL_AT` (`credential_at`'s order, then its sealed secret); each all
                    // NULL when there is none.
                    let row = sqlx::query(
                        "SELECT p.id, p.code, p.name, p.auth_method, p.status, p.trial_allowed, p.trial_days, \
                         p.metadata, p.created_at, p.updated_at, \
                         c.id, c.dialect, c.name, c.key_id, c.product_id, c.read_only, c.ip_allowlist, \
                         c.created_at, c.revoked_at, c.secret_sealed \
                         FROM (SELECT 1 AS one) o \
                         LEFT JOIN credentials c ON c.dialect = $1 AND c.key_id = $2 \
                         LEFT JOIN products p ON p.code = $3",
                    )
                    .bind(dialect.as_str())
                    .bind(key_id)
                    .bind(product_code)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                    const CREDENTIAL_AT: usize = 10;
                    let product = match col::<Option<i64>>(&row, At::From(0), 0, "product id")? {
                        Some(_) => Some(product_at(&row, At::From(0))?),
                        None => None,
                    };
                    let credential = match col::<Option<i64>>(&row, At::From(CREDENTIAL_AT), 0, "credential id")? {
                        Some(_) => {
                            let sealed = col::<Vec<u8>>(&row, At::From(CREDENTIAL_AT), 9, "secret_sealed")?;
                            let secret = open_text(&*self.codec, &sealed, CREDENTIAL)?;
                            Some((credential_at(&row, At::From(CREDENTIAL_AT))?, secret))
                        }
                        None => None,
                    };
                    Ok((credential, product))
                }
            }
    };
}

pub(crate) use impl_access;
