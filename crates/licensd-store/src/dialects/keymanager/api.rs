//! The concepts Key Manager brought into the domain, one capability trait each (`ApiKeyStore`,
//! `AccessBlockStore`, `ProductKeyStore`, `MetadataStore`, `GeneratorStore`, `StockStore`,
//! `ContractStore`, `DownloadStore`, `TelemetryStore`), and the values they take and return. The
//! SQL behind them (one implementation for SQLite and PostgreSQL) is in `mod.rs` and its files.

use super::*;

/// Capabilities and on/off state of one Key Manager API key (a credential of dialect keymanager).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySettings {
    pub credential_id: i64,
    /// Endpoint names the key may call (e.g. `verify`, `create-product`).
    pub capabilities: Vec<String>,
    /// An inactive key is refused with code 101 until switched back on.
    pub active: bool,
    pub updated_at: Millis,
}

/// A product's own signing key; the private part is sealed at rest.
#[derive(Debug, Clone)]
pub struct ProductSigningKey {
    pub product_id: ProductId,
    pub kid: String,
    pub algorithm: String,
    pub public_der: Vec<u8>,
    pub private_pkcs8: Vec<u8>,
    pub created_at: Millis,
}

/// What a metadata entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaOwner {
    License(LicenseId),
    Product(ProductId),
}

impl MetaOwner {
    pub(super) fn id(self) -> i64 {
        match self {
            MetaOwner::License(id) => id.get(),
            MetaOwner::Product(id) => id.get(),
        }
    }
    pub(super) fn subject_type(self) -> &'static str {
        match self {
            MetaOwner::License(_) => "license",
            MetaOwner::Product(_) => "product",
        }
    }
}

/// One key/value metadata entry of a license key or product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaEntry {
    pub id: i64,
    pub key: String,
    pub value: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A contract as stored: the domain contract, its secret key and how many keys it holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContract {
    pub contract: Contract,
    pub key: String,
    pub license_keys_count: i64,
}

/// What create/update-contract write. `key` is the secret the holder authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractFields {
    pub product_id: ProductId,
    pub name: String,
    pub information: Option<String>,
    pub key: String,
    pub license_keys_quantity: i64,
    pub active: bool,
    pub can_get_info: bool,
    pub can_generate: bool,
    pub can_destroy: bool,
    pub can_destroy_all: bool,
}

/// Which in-stock keys an assignment takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignSelection {
    /// This license, if it is in stock and active.
    One(LicenseId),
    /// `quantity` in-stock, active keys of the product (oldest first).
    Random { product_id: ProductId, quantity: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignOutcome {
    /// The ids of the licenses now assigned.
    Assigned(Vec<LicenseId>),
    /// `One`: the license is not in stock (or not active).
    NotAssignable,
    /// `Random`: fewer keys in stock than asked, even with those offered for minting.
    Insufficient { available: i64 },
}

/// What `assign_and_activate` did.
#[derive(Debug, Clone)]
pub enum AssignActivation {
    /// Assigned and activated (or, for a device already active there, assigned and confirmed).
    Activated(Box<crate::Activation>),
    /// The license is not in stock (or not active): nothing changed.
    NotAssignable,
}

/// Given a stock license's metadata and the instant, the metadata and expiry it gets when assigned.
pub type AssignFn = dyn Fn(&serde_json::Value, Millis) -> (serde_json::Value, Option<Millis>) + Send + Sync;

/// Renders the outbox delivery that reports an assignment, from the licenses just assigned (in
/// the order of `AssignOutcome::Assigned`), inside the assignment's transaction. An error rolls
/// the assignment back.
pub type DeliveryFn =
    dyn Fn(&[licensd_domain::License]) -> std::result::Result<crate::NewDelivery, String> + Send + Sync;

/// A telemetry record to store.
#[derive(Debug, Clone)]
pub struct NewTelemetry {
    pub user_identifier: Option<String>,
    pub license_id: Option<LicenseId>,
    pub license_key: Option<String>,
    pub activation_identifier: Option<String>,
    pub product_id: Option<ProductId>,
    pub product_version: Option<String>,
    pub data_type: String,
    pub data_group: String,
    pub data: serde_json::Value,
    pub is_correct_format: bool,
    pub license_key_exists: bool,
    pub product_exists: bool,
    pub product_version_exists: bool,
    pub has_red_flags: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TelemetryFilter {
    pub license_key: Option<String>,
    pub user_identifier: Option<String>,
    pub has_red_flags: Option<bool>,
    pub product_id: Option<ProductId>,
}

/// Capabilities and on/off state of Key Manager API keys (credentials of dialect keymanager): Key
/// Manager's wire, kept near it.
#[async_trait::async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// The settings stored for a credential, if any were ever written.
    async fn api_key_settings(&self, credential_id: i64) -> Result<Option<ApiKeySettings>>;

    /// Writes (inserts or replaces) a key's settings; NotFound when the credential does not exist
    /// or is not a Key Manager credential.
    async fn put_api_key_settings(&self, settings: ApiKeySettings, event: EventDraft) -> Result<ApiKeySettings>;
}

/// The access block list (`licensd_domain::access::AccessBlock`): IPs, domains and keys refused at
/// the edge.
#[async_trait::async_trait]
pub trait AccessBlockStore: Send + Sync + 'static {
    /// Conflict when the same kind and value is already listed.
    async fn add_access_block(
        &self,
        kind: AccessBlockKind,
        value: &str,
        reason: Option<String>,
        event: EventDraft,
        now: Millis,
    ) -> Result<AccessBlock>;

    async fn list_access_blocks(&self) -> Result<Vec<AccessBlock>>;

    async fn delete_access_block(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;
}

/// A product's own signing key, used instead of the global one when set.
#[async_trait::async_trait]
pub trait ProductKeyStore: Send + Sync + 'static {
    /// Sets (or replaces) the product's own signing key; NotFound for an unknown product.
    async fn put_product_signing_key(
        &self,
        product_id: ProductId,
        key: crate::NewSigningKey,
        event: EventDraft,
        now: Millis,
    ) -> Result<ProductSigningKey>;

    async fn product_signing_key(&self, product_id: ProductId) -> Result<Option<ProductSigningKey>>;

    /// Removes the product's key (the global key signs again); NotFound when it has none.
    async fn delete_product_signing_key(&self, product_id: ProductId, event: EventDraft, now: Millis) -> Result<()>;
}

/// Key/value metadata entries of licences and products.
#[async_trait::async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Entries in creation order.
    async fn list_meta(&self, owner: MetaOwner) -> Result<Vec<MetaEntry>>;

    /// Conflict when the key exists already; NotFound when the owner does not exist.
    async fn create_meta(
        &self,
        owner: MetaOwner,
        key: &str,
        value: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<MetaEntry>;

    /// NotFound when the owner has no entry under `key`.
    async fn update_meta(
        &self,
        owner: MetaOwner,
        key: &str,
        value: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<MetaEntry>;

    /// NotFound when the owner has no entry under `key`.
    async fn delete_meta(&self, owner: MetaOwner, key: &str, event: EventDraft, now: Millis) -> Result<()>;
}

/// Licence-key generators (`licensd_domain::generator`).
#[async_trait::async_trait]
pub trait GeneratorStore: Send + Sync + 'static {
    /// NotFound for an unknown product.
    async fn create_generator(
        &self,
        product_id: ProductId,
        spec: GeneratorSpec,
        event: EventDraft,
        now: Millis,
    ) -> Result<Generator>;

    async fn get_generator(&self, id: i64) -> Result<Generator>;

    /// In id order; all products when `product_id` is `None`.
    async fn list_generators(&self, product_id: Option<ProductId>) -> Result<Vec<Generator>>;

    async fn update_generator(&self, id: i64, spec: GeneratorSpec, event: EventDraft, now: Millis)
    -> Result<Generator>;

    async fn delete_generator(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;
}

/// Licence keys held in stock and assigned on demand (minting the shortfall, delivering,
/// activating).
#[async_trait::async_trait]
pub trait StockStore: Send + Sync + 'static {
    /// Assigns in-stock keys in one transaction: the chosen rows are locked, and for `Random` the
    /// shortfall is made up from `mint` (inserted already assigned) when it offers enough keys.
    /// Conflict when a minted key already exists.
    async fn assign_stock(
        &self,
        selection: AssignSelection,
        assign: &AssignFn,
        mint: Vec<crate::NewLicense>,
        event: EventDraft,
        now: Millis,
    ) -> Result<AssignOutcome>;

    /// `assign_stock`, and when keys are assigned, the delivery `deliver` renders from them is
    /// queued in the outbox in the SAME transaction: a committed assignment always has its
    /// delivery, a refused or rolled-back one never has. `Database` when `deliver` fails (nothing
    /// is assigned then).
    async fn assign_stock_delivering(
        &self,
        selection: AssignSelection,
        assign: &AssignFn,
        mint: Vec<crate::NewLicense>,
        event: EventDraft,
        deliver: &DeliveryFn,
        now: Millis,
    ) -> Result<AssignOutcome>;

    /// Key Manager's assign-and-activate in ONE transaction: the in-stock, active license is
    /// locked and assigned by `assign` (as `assign_stock` does), then `device` is activated on it by
    /// the same rule as `Store::activate`. An activation refusal (`Denied`) rolls the assignment
    /// back with it, events included, so a refusal changes nothing.
    async fn assign_and_activate(
        &self,
        license_id: LicenseId,
        assign: &AssignFn,
        device: licensd_domain::DeviceInfo,
        assign_event: EventDraft,
        activate_event: EventDraft,
        now: Millis,
    ) -> Result<AssignActivation>;
}

/// Contracts (`licensd_domain::contract`): a holder's quota of keys to generate and destroy.
#[async_trait::async_trait]
pub trait ContractStore: Send + Sync + 'static {
    /// Conflict when the contract key is taken; NotFound for an unknown product.
    async fn create_contract(&self, fields: ContractFields, event: EventDraft, now: Millis) -> Result<StoredContract>;

    async fn update_contract(
        &self,
        id: i64,
        fields: ContractFields,
        event: EventDraft,
        now: Millis,
    ) -> Result<StoredContract>;

    /// The keys the contract minted stay; they just no longer count against any quota.
    async fn delete_contract(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;

    async fn get_contract(&self, id: i64) -> Result<StoredContract>;

    async fn find_contract_by_key(&self, key: &str) -> Result<Option<StoredContract>>;

    async fn list_contracts(&self) -> Result<Vec<StoredContract>>;

    /// Inserts `new` as keys of the contract when the contract's quota allows them, decided under
    /// the contract's row lock; `Ok(Err(_))` is the contract's refusal (nothing written).
    async fn generate_contract_keys(
        &self,
        contract_id: i64,
        new: Vec<crate::NewLicense>,
        event: EventDraft,
        now: Millis,
    ) -> Result<std::result::Result<Vec<LicenseId>, ContractRefusal>>;

    /// Deletes one key the contract minted; NotFound when it is not one of them.
    async fn destroy_contract_key(
        &self,
        contract_id: i64,
        license_id: LicenseId,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    /// Deletes every key the contract minted; returns how many.
    async fn destroy_contract_keys(&self, contract_id: i64, event: EventDraft, now: Millis) -> Result<i64>;
}

/// Downloadable releases of a product (`licensd_domain::downloadable`) and their files.
#[async_trait::async_trait]
pub trait DownloadStore: Send + Sync + 'static {
    /// Conflict when the product has this numeric version already; NotFound for an unknown product.
    async fn create_downloadable(
        &self,
        product_id: ProductId,
        spec: DownloadableSpec,
        event: EventDraft,
        now: Millis,
    ) -> Result<Downloadable>;

    async fn list_downloadables(&self, product_id: Option<ProductId>) -> Result<Vec<Downloadable>>;

    async fn get_downloadable(&self, id: i64) -> Result<Downloadable>;

    async fn downloadable_by_version(
        &self,
        product_id: ProductId,
        numeric_version: i64,
    ) -> Result<Option<Downloadable>>;

    async fn put_downloadable_file(
        &self,
        id: i64,
        file_name: &str,
        content: Vec<u8>,
        event: EventDraft,
        now: Millis,
    ) -> Result<Downloadable>;

    /// The file and its name, counting the download; `None` when no file was uploaded.
    async fn take_download(&self, id: i64) -> Result<Option<(String, Vec<u8>)>>;

    async fn delete_downloadable(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;
}

/// Telemetry records sent by clients (`licensd_domain::telemetry`).
#[async_trait::async_trait]
pub trait TelemetryStore: Send + Sync + 'static {
    async fn add_telemetry(&self, record: NewTelemetry, now: Millis) -> Result<TelemetryRecord>;

    /// Newest first, at most `limit`.
    async fn list_telemetry(&self, filter: TelemetryFilter, limit: i64) -> Result<Vec<TelemetryRecord>>;
}
