//! Storage for licensd: one `Store` trait, implemented for SQLite (embedded default) and
//! PostgreSQL with the same behaviour, proven by one conformance suite run against both.
//!
//! Client commands (activate, deactivate, consume, lease) each run in one transaction whose first
//! statement locks the license row (`UPDATE licenses SET lock_version = lock_version + 1 …`: a row
//! lock on PostgreSQL; on SQLite the transaction is `BEGIN IMMEDIATE`, taking the writer lock).
//! The store then loads what the domain rule needs, asks the rule, and writes what it decided, so
//! limits hold exactly under any number of concurrent requests. A denied command rolls back and
//! changes nothing.

mod backup;
mod codec;
pub mod console;
pub mod dialects;
mod migrate;
pub mod outbox;
mod postgres;
mod read_cache;
mod sql;
mod sqlite;
pub mod transfer;
mod types;
pub mod webhooks;

pub use backup::backup_sqlite;
pub use codec::SecretCodec;
pub use console::{ConsoleSession, ConsoleStore, DailyActivity, DashboardCounts, LicenseSearch, SlasconeCustomerRow};
pub use outbox::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, MAX_ERROR_BYTES, MAX_RESPONSE_EXCERPT_BYTES, NewDelivery,
    OutboxStore, truncate_utf8,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use types::*;
pub use webhooks::{NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointPatch, WebhookStore};

use async_trait::async_trait;
use licensd_domain::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference constraint refused the change (duplicate code, key in use, …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A licensing rule refused the command.
    #[error("denied: {0}")]
    Denied(#[from] Denial),
    /// Stored data could not be decoded (corrupt row, unknown enum text, unsealable secret).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The database refused a value the request carried (PostgreSQL SQLSTATE class 22, "data
    /// exception": a NUL in text, a number out of range, …): the client's fault, never a reason
    /// to retry. The edge refuses such input first; this is the backstop.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("database error: {0}")]
    Database(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Opens the store a database URL names: `sqlite://path` (created if missing) or `postgres://…`.
pub async fn connect(
    url: &str,
    codec: std::sync::Arc<dyn SecretCodec>,
    max_connections: u32,
) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            PostgresStore::connect(url, codec, max_connections).await?,
        ))
    } else if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(
            SqliteStore::connect(url, codec, max_connections).await?,
        ))
    } else {
        Err(StoreError::Database(format!(
            "unsupported database URL scheme (use sqlite:// or postgres://): {}",
            url.split(':').next().unwrap_or("")
        )))
    }
}

/// `connect` for a server process: on SQLite, validations are also served from a per-process cache
/// of up to `validation_cache_entries` (0: none; see `SqliteStore::enable_validation_cache` for
/// the condition it relies on: this process is the database's only user).
pub async fn connect_server(
    url: &str,
    codec: std::sync::Arc<dyn SecretCodec>,
    max_connections: u32,
    validation_cache_entries: usize,
) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let mut store = SqliteStore::connect(url, codec, max_connections).await?;
        store.enable_validation_cache(validation_cache_entries).await?;
        Ok(std::sync::Arc::new(store))
    } else {
        connect(url, codec, max_connections).await
    }
}

/// Everything licensd stores: the core below plus, as supertraits, each dialect's own storage
/// (`DnaStore`, … in their own modules, with their own migrations). It is implemented for any type
/// that implements every part, so an `Arc<dyn Store>` reaches every method. Bring the part traits
/// into scope with `use licensd_store::prelude::*`.
pub trait Store:
    CoreStore
    + LicenseSpringStore
    + KeyManagerStore
    + SlasconeStore
    + SlasconeSessionStore
    + SlasconeAdminStore
    + DnaStore
    + DnaCreditStore
    + OutboxStore
    + WebhookStore
    + ConsoleStore
{
}

impl<T> Store for T where
    T: CoreStore
        + LicenseSpringStore
        + KeyManagerStore
        + SlasconeStore
        + SlasconeSessionStore
        + SlasconeAdminStore
        + SlasconeAdminStore
        + DnaStore
        + DnaCreditStore
        + OutboxStore
        + WebhookStore
        + ConsoleStore
{
}

pub use dialects::dna::DnaStore;
pub use dialects::dna_credits::DnaCreditStore;
pub use dialects::keymanager::{
    ApiKeySettings, AssignActivation, AssignFn, AssignOutcome, AssignSelection, ContractFields, DeliveryFn,
    KeyManagerStore, MetaEntry, MetaOwner, NewTelemetry, ProductSigningKey, StoredContract, TelemetryFilter,
};
pub use dialects::licensespring::LicenseSpringStore;
pub use dialects::slascone::SlasconeStore;
pub use dialects::slascone_admin::SlasconeAdminStore;
pub use dialects::slascone_sessions::{SessionOpen, SlasconeSessionStore};

/// The part traits, for method calls on `dyn Store`.
pub mod prelude {
    pub use crate::{
        ConsoleStore, CoreStore, DnaCreditStore, DnaStore, KeyManagerStore, LicenseSpringStore, OutboxStore,
        SlasconeAdminStore, SlasconeSessionStore, SlasconeStore, Store, WebhookStore,
    };
}

/// Storage shared by every dialect: catalog, licenses, devices, people, credentials, keys, events.
#[async_trait]
pub trait CoreStore: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// Applies pending migrations (idempotent; safe to run from several nodes at once).
    async fn migrate(&self) -> Result<()>;
    /// Answers when the database is reachable.
    async fn ping(&self) -> Result<()>;
    /// The use of each database connection pool right now (for `/metrics`).
    fn pool_stats(&self) -> Vec<PoolStats>;
    /// Hits and misses of each read-cache map since the store opened (empty without a cache).
    fn cache_stats(&self) -> Vec<CacheStats>;

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

    // --- products ---
    async fn create_product(&self, new: NewProduct, event: EventDraft, now: Millis) -> Result<Product>;
    async fn get_product(&self, id: i64) -> Result<Product>;
    async fn get_product_by_code(&self, code: &str) -> Result<Product>;
    async fn list_products(&self, page: Page) -> Result<Vec<Product>>;
    /// Writes every mutable field of `product` (code, name, auth method, status, trial, metadata).
    async fn update_product(&self, product: Product, event: EventDraft, now: Millis) -> Result<Product>;
    /// Conflict while licenses of the product exist.
    async fn delete_product(&self, id: i64, event: EventDraft) -> Result<()>;

    // --- feature definitions ---
    async fn create_feature(&self, new: NewFeature, event: EventDraft, now: Millis) -> Result<FeatureDefinition>;
    async fn get_feature(&self, id: i64) -> Result<FeatureDefinition>;
    async fn list_features(&self, product_id: Option<i64>) -> Result<Vec<FeatureDefinition>>;
    async fn update_feature(&self, feature: FeatureDefinition, event: EventDraft) -> Result<FeatureDefinition>;
    async fn delete_feature(&self, id: i64, event: EventDraft) -> Result<()>;

    // --- policies ---
    async fn create_policy(&self, new: NewPolicy, event: EventDraft, now: Millis) -> Result<Policy>;
    async fn get_policy(&self, id: i64) -> Result<Policy>;
    async fn list_policies(&self, product_id: Option<i64>) -> Result<Vec<Policy>>;
    async fn update_policy(&self, policy: Policy, event: EventDraft, now: Millis) -> Result<Policy>;
    async fn delete_policy(&self, id: i64, event: EventDraft) -> Result<()>;

    // --- customers and license users ---
    async fn create_customer(&self, new: NewCustomer, event: EventDraft, now: Millis) -> Result<Customer>;
    async fn get_customer(&self, id: i64) -> Result<Customer>;
    async fn list_customers(&self, page: Page) -> Result<Vec<Customer>>;
    async fn update_customer(&self, customer: Customer, event: EventDraft) -> Result<Customer>;
    async fn delete_customer(&self, id: i64, event: EventDraft) -> Result<()>;
    async fn create_license_user(&self, new: NewLicenseUser, event: EventDraft, now: Millis) -> Result<LicenseUser>;
    async fn get_license_user(&self, id: i64) -> Result<LicenseUser>;
    async fn find_license_user_by_email(&self, email: &str) -> Result<Option<LicenseUser>>;
    async fn list_license_users(&self, customer_id: Option<i64>, page: Page) -> Result<Vec<LicenseUser>>;
    async fn set_license_user_password(&self, id: i64, password_hash: &str, event: EventDraft) -> Result<()>;
    async fn delete_license_user(&self, id: i64, event: EventDraft) -> Result<()>;
    /// Adds a user to a license; denied past the license's `max_users` (checked under the lock).
    async fn assign_license_user(&self, license_id: i64, user_id: i64, event: EventDraft, now: Millis) -> Result<()>;
    async fn unassign_license_user(&self, license_id: i64, user_id: i64, event: EventDraft) -> Result<()>;
    async fn users_of_license(&self, license_id: i64) -> Result<Vec<LicenseUser>>;

    // --- licenses ---
    /// Inserts all licenses in one transaction (all or nothing); Conflict on a duplicate key.
    async fn create_licenses(&self, new: Vec<NewLicense>, event: EventDraft, now: Millis) -> Result<Vec<License>>;
    async fn get_license(&self, id: i64) -> Result<License>;
    async fn find_license_by_key(&self, key: &str) -> Result<Option<License>>;
    async fn list_licenses(&self, filter: LicenseFilter, page: Page) -> Result<Vec<License>>;
    /// Changes the administrator-editable fields only; counters are never overwritten.
    async fn edit_license(&self, id: i64, edit: LicenseEdit, event: EventDraft, now: Millis) -> Result<License>;
    async fn delete_license(&self, id: i64, event: EventDraft) -> Result<()>;
    async fn license_features(&self, license_id: i64) -> Result<Vec<LicenseFeature>>;

    // --- devices ---
    async fn list_devices(&self, license_id: i64) -> Result<Vec<Device>>;
    async fn get_device(&self, id: i64) -> Result<Device>;
    async fn block_device(&self, new: NewBlockedDevice, event: EventDraft, now: Millis) -> Result<BlockedDevice>;
    async fn unblock_device(&self, id: i64, event: EventDraft) -> Result<()>;
    async fn list_blocked_devices(&self, product_id: Option<i64>) -> Result<Vec<BlockedDevice>>;

    // --- client credentials ---
    async fn create_credential(&self, new: NewCredential, event: EventDraft, now: Millis) -> Result<Credential>;
    async fn list_credentials(&self, dialect: Option<Dialect>) -> Result<Vec<Credential>>;
    async fn revoke_credential(&self, id: i64, event: EventDraft, now: Millis) -> Result<Credential>;
    /// The credential with this public id and its secret (revoked ones too: callers report them).
    async fn find_credential(&self, dialect: Dialect, key_id: &str) -> Result<Option<(Credential, String)>>;

    // --- client commands ---
    /// Read-only validation (no lock, no write).
    async fn validate(&self, license: LicenseRef, fingerprint: Option<&str>, now: Millis) -> Result<ValidationReport>;
    async fn activate(
        &self,
        license: LicenseRef,
        device: DeviceInfo,
        user_id: Option<i64>,
        event: EventDraft,
        now: Millis,
    ) -> Result<Activation>;
    /// Deactivates the license's active device with this fingerprint.
    async fn deactivate(
        &self,
        license: LicenseRef,
        fingerprint: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<License>;
    /// Activates the device on every listed license in ONE transaction (a bundle: issue 3). The
    /// licenses are locked in ascending id order, each is decided by the same rule as `activate`,
    /// and any refusal rolls back all of them. Results are in ascending id order.
    async fn activate_many(
        &self,
        license_ids: &[i64],
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
        license_id: i64,
        release_from: &[i64],
        device: DeviceInfo,
        user_id: Option<i64>,
        event: EventDraft,
        release_event: EventDraft,
        now: Millis,
    ) -> Result<Activation>;
    /// Deactivates the device with this fingerprint on every listed license where it is active, in
    /// one transaction (locks in ascending id order); denied with `DeviceNotActivated` when it is
    /// active on none. Returns the licenses released, in ascending id order.
    async fn deactivate_many(
        &self,
        license_ids: &[i64],
        fingerprint: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<Vec<License>>;
    /// Administrative deactivation by device id.
    async fn deactivate_device(&self, device_id: i64, event: EventDraft, now: Millis) -> Result<Device>;
    /// Adds consumption. A repeated idempotency key returns the first result without counting again.
    async fn consume(
        &self,
        license: LicenseRef,
        amount: i64,
        idempotency_key: Option<String>,
        event: EventDraft,
        now: Millis,
    ) -> Result<ConsumptionOutcome>;
    async fn consume_feature(
        &self,
        license: LicenseRef,
        feature_code: &str,
        amount: i64,
        idempotency_key: Option<String>,
        event: EventDraft,
        now: Millis,
    ) -> Result<ConsumptionOutcome>;
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
    async fn live_leases(&self, license_id: i64, now: Millis) -> Result<Vec<FloatingLease>>;

    // --- event log ---
    async fn list_events(&self, filter: EventFilter, page: Page) -> Result<Vec<Event>>;
}
