//! Storage for licensd: one `Store` trait, implemented for SQLite (embedded default) and
//! PostgreSQL with the same behaviour, proven by one conformance suite run against both.
//!
//! Client commands (activate, deactivate, consume, lease) each run in one transaction whose first
//! statement locks the license row (on PostgreSQL `SELECT … FOR NO KEY UPDATE`, the row lock an
//! UPDATE takes; on SQLite `UPDATE licenses SET lock_version = lock_version + 1 …` inside
//! `BEGIN IMMEDIATE`, which took the writer lock).
//! The store then loads what the domain rule needs, asks the rule, and writes what it decided, so
//! limits hold exactly under any number of concurrent requests. A denied command rolls back and
//! changes nothing.
//!
//! Where things live:
//! - `sql/`: the core store, one file per concept, each with its capability trait and the SQL
//!   both backends share (`access`, `catalog`, `people`, `licenses`, `devices`, `activation`,
//!   `validation`, `consumption`, `leases`, `events`; `CoreStore` is their sum). `sql/tx.rs` is
//!   what every write shares, dialects included: `begin_write` (SQLite: the single writer
//!   connection), the license lock, `insert_event`, `delete_logged`; `sql/rows.rs` the decoders.
//! - `sqlite/` and `postgres.rs`: connecting, how a write begins, migrations; `sqlite/direct.rs`
//!   is SQLite's writer-thread path for the hot client writes, compiled into the SQLite store only.
//! - `dialects/`: the concepts the dialects brought (tables, migrations), one capability trait per
//!   concept named for it, not for the vendor (`ContractStore`, `GeneratorStore`, `DownloadStore`,
//!   `TelemetryStore`, `TokenStore`, `SessionStore`, `LockoutStore`, `CreditStore`, …;
//!   `VendorStore` is their sum), on the same `tx` helpers.
//! - `console/`, `outbox.rs`, `webhooks.rs`, `transfer/`: the admin console's queries, webhook
//!   delivery, export/import.
//!
//! Every write takes its instant (`now`) from the caller, which reads the injected clock; the
//! migration bookkeeping (`licensd_migrations.applied_at`) included. The store never reads the
//! wall clock.

/// Declares a capability trait that is the sum of its parts (`trait Name: A + B + …;`) and
/// implements it for any type that implements every part, so a `dyn` of it reaches every method.
macro_rules! sum_trait {
    ($(#[$attr:meta])* $vis:vis trait $name:ident: $first:ident $(+ $part:ident)*;) => {
        $(#[$attr])*
        $vis trait $name: $first $(+ $part)* {}

        impl<T> $name for T where T: $first $(+ $part)* {}
    };
}

pub(crate) use sum_trait;

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
pub use console::{
    BulkJob, BulkJobStatus, BulkJobStore, ConsoleSearchStore, ConsoleSession, ConsoleSessionStore, ConsoleStore,
    ConsumptionResetStore, DailyActivity, DashboardCounts, DashboardStore, LicenseSearch, SlasconeCustomerRow, id_runs,
};
pub use outbox::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, MAX_ERROR_BYTES, MAX_RESPONSE_EXCERPT_BYTES, NewDelivery,
    OutboxStore, QueueDepth, truncate_utf8,
};
pub use postgres::{PostgresStore, READ_CACHE_LISTENER};
pub use sqlite::{SqliteStore, SqliteSynchronous};
pub use types::*;
pub use webhooks::{NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointPatch, WebhookStore};

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

/// Opens the store a database URL names: `sqlite://path` (created if missing, every connection
/// with `sqlite_synchronous`) or `postgres://…` (which ignores it).
pub async fn connect(
    url: &str,
    codec: std::sync::Arc<dyn SecretCodec>,
    max_connections: u32,
    sqlite_synchronous: SqliteSynchronous,
) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            PostgresStore::connect(url, codec, max_connections).await?,
        ))
    } else if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(
            SqliteStore::connect(url, codec, max_connections, sqlite_synchronous).await?,
        ))
    } else {
        Err(StoreError::Database(format!(
            "unsupported database URL scheme (use sqlite:// or postgres://): {}",
            url.split(':').next().unwrap_or("")
        )))
    }
}

/// `connect` for a server process: validations (and the lookups around them) are also served from
/// a per-process cache of up to `validation_cache_entries` of each kind (0: none). On SQLite it
/// is invalidated by every commit (see `SqliteStore::enable_validation_cache` for the condition
/// it relies on: this process is the database's only user); on PostgreSQL only with a
/// `pg_cache_max_staleness` above zero, and its answers are never older than that
/// (`PostgresStore::enable_read_cache`).
pub async fn connect_server(
    url: &str,
    codec: std::sync::Arc<dyn SecretCodec>,
    max_connections: u32,
    sqlite_synchronous: SqliteSynchronous,
    validation_cache_entries: usize,
    pg_cache_max_staleness: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let mut store = SqliteStore::connect(url, codec, max_connections, sqlite_synchronous).await?;
        store.enable_validation_cache(validation_cache_entries).await?;
        Ok(std::sync::Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut store = PostgresStore::connect(url, codec, max_connections).await?;
        store.enable_read_cache(validation_cache_entries, pg_cache_max_staleness);
        Ok(std::sync::Arc::new(store))
    } else {
        connect(url, codec, max_connections, sqlite_synchronous).await
    }
}

sum_trait! {
    /// Everything licensd stores: the core below plus, as supertraits, the concepts the dialects
    /// brought (`VendorStore`: contracts, generators, downloads, telemetry, lockouts, tokens, …, each a
    /// trait of its own under `dialects/`, with its own migrations), the outbox, webhooks and the
    /// console. It is implemented for any type that implements every part, so an `Arc<dyn Store>`
    /// reaches every method. Bring the part traits into scope with `use licensd_store::prelude::*`.
    pub trait Store: CoreStore + VendorStore + OutboxStore + WebhookStore + ConsoleStore;
}

sum_trait! {
    /// The concepts a dialect brought into the domain, one capability trait each (named for the
    /// concept, not the vendor); implemented for any type that implements every part.
    pub trait VendorStore:
        LicenseSpringStore
        + ApiKeyStore
        + AccessBlockStore
        + ProductKeyStore
        + MetadataStore
        + GeneratorStore
        + StockStore
        + ContractStore
        + DownloadStore
        + TelemetryStore
        + TokenStore
        + ConsumptionRollbackStore
        + AnalyticsStore
        + BackofficeStore
        + LegacyKeyStore
        + IsvStore
        + LicenseUpdateStore
        + SessionStore
        + LicenseAccountStore
        + LockoutStore
        + InfoTagStore
        + CreditStore;
}

pub use dialects::dna::{InfoTagStore, LicenseAccountStore, LockoutStore};
pub use dialects::dna_credits::CreditStore;
pub use dialects::keymanager::{
    AccessBlockStore, ApiKeySettings, ApiKeyStore, AssignActivation, AssignFn, AssignOutcome, AssignSelection,
    ContractFields, ContractStore, DeliveryFn, DownloadStore, GeneratorStore, MetaEntry, MetaOwner, MetadataStore,
    NewTelemetry, ProductKeyStore, ProductSigningKey, StockStore, StoredContract, TelemetryFilter, TelemetryStore,
};
pub use dialects::licensespring::{
    BundleStore, DeviceVariableStore, FeatureSeatStore, LicenseSpringStore, OfflineDeactivationStore,
    ProductVersionStore, UserLookupStore,
};
pub use dialects::slascone::{AnalyticsStore, BackofficeStore, ConsumptionRollbackStore, LegacyKeyStore, TokenStore};
pub use dialects::slascone_admin::{IsvStore, LicenseUpdateStore};
pub use dialects::slascone_sessions::{SessionOpen, SessionStore};

/// The part traits, for method calls on `dyn Store`.
pub mod prelude {
    pub use crate::{
        AccessBlockStore, AnalyticsStore, ApiKeyStore, BackofficeStore, ConsumptionRollbackStore, ContractStore,
        CreditStore, DownloadStore, GeneratorStore, InfoTagStore, IsvStore, LegacyKeyStore, LicenseAccountStore,
        LicenseUpdateStore, LockoutStore, MetadataStore, ProductKeyStore, SessionStore, StockStore, TelemetryStore,
        TokenStore,
    };
    pub use crate::{
        AccessStore, ActivationStore, CatalogStore, ConsumptionStore, DeviceStore, EventStore, LeaseStore,
        LicenseStore, Maintenance, PeopleStore, ValidationStore,
    };
    pub use crate::{
        BulkJobStore, ConsoleSearchStore, ConsoleSessionStore, ConsoleStore, ConsumptionResetStore, DashboardStore,
    };
    pub use crate::{
        BundleStore, DeviceVariableStore, FeatureSeatStore, LicenseSpringStore, OfflineDeactivationStore,
        ProductVersionStore, UserLookupStore,
    };
    pub use crate::{CoreStore, OutboxStore, Store, VendorStore, WebhookStore};
}

pub use sql::Maintenance;
pub use sql::access::AccessStore;
pub use sql::activation::ActivationStore;
pub use sql::catalog::CatalogStore;
pub use sql::consumption::ConsumptionStore;
pub use sql::devices::DeviceStore;
pub use sql::events::EventStore;
pub use sql::leases::LeaseStore;
pub use sql::licenses::LicenseStore;
pub use sql::people::PeopleStore;
pub use sql::validation::ValidationStore;

sum_trait! {
    /// Storage shared by every dialect, one capability trait per concept (each in its own file under
    /// `sql/`, beside its SQL): the database itself, access (keys, admin tokens, credentials), the
    /// catalog, people, licenses, devices, activation, validation, consumption, floating leases and
    /// the event log. Implemented for any type that implements every part.
    pub trait CoreStore:
        Maintenance
        + AccessStore
        + CatalogStore
        + PeopleStore
        + LicenseStore
        + DeviceStore
        + ActivationStore
        + ValidationStore
        + ConsumptionStore
        + LeaseStore
        + EventStore;
}
