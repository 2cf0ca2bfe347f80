//! Inputs and outputs of the `Store` trait that are not domain entities themselves.

use licensd_domain::*;
use serde::{Deserialize, Serialize};

/// Cursor pagination: rows with `id > after`, in id order, at most `limit` (1..=1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub after: Option<i64>,
    pub limit: i64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            after: None,
            limit: 100,
        }
    }
}

impl Page {
    pub fn clamped_limit(&self) -> i64 {
        self.limit.clamp(1, 1000)
    }
}

/// How a client command names its license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseRef {
    Id(LicenseId),
    Key(String),
}

impl LicenseRef {
    /// The licence id when the caller named the licence by id (for spans and logs: a licence key
    /// is a secret and is never recorded).
    pub fn id(&self) -> Option<LicenseId> {
        match self {
            LicenseRef::Id(id) => Some(*id),
            LicenseRef::Key(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewSigningKey {
    pub kid: String,
    pub algorithm: String,
    pub public_der: Vec<u8>,
    /// PKCS#8 private key; the store seals it before writing.
    pub private_pkcs8: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct StoredSigningKey {
    pub id: i64,
    pub kid: String,
    pub algorithm: String,
    pub public_der: Vec<u8>,
    pub private_pkcs8: Vec<u8>,
    pub active: bool,
    pub created_at: Millis,
    pub retired_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminToken {
    pub id: i64,
    pub name: String,
    /// Reads (API and console) and changes nothing.
    pub read_only: bool,
    /// The instant from which the token no longer works; `None` never expires.
    pub expires_at: Option<Millis>,
    /// Where it may be used from; empty allows any address.
    pub ip_allowlist: Vec<access::IpRule>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

impl AdminToken {
    /// The limits `access::admit_admin` judges a request by.
    pub fn flags(&self) -> access::AdminTokenFlags<'_> {
        access::AdminTokenFlags {
            read_only: self.read_only,
            expires_at: self.expires_at,
            ip_rules: &self.ip_allowlist,
        }
    }
}

/// What an administrator sets on a new admin token (`AdminToken`'s limits).
#[derive(Debug, Clone, Default)]
pub struct NewAdminToken {
    pub name: String,
    pub read_only: bool,
    pub expires_at: Option<Millis>,
    pub ip_allowlist: Vec<access::IpRule>,
}

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub code: String,
    pub name: String,
    pub auth_method: AuthMethod,
    pub status: ProductStatus,
    pub trial_allowed: bool,
    pub trial_days: i64,
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct NewPolicy {
    pub product_id: ProductId,
    pub code: String,
    pub name: String,
    pub terms: LicenseTerms,
    pub duration_days: Option<i64>,
    pub maintenance_days: Option<i64>,
    pub features: Vec<FeatureGrant>,
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub email: Option<String>,
    pub name: Option<String>,
    pub company: Option<String>,
    pub reference: Option<String>,
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct NewLicenseUser {
    pub customer_id: Option<CustomerId>,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: Option<String>,
}

/// What an administrator sets on a license, shared by its creation (`NewLicense`) and its edit
/// (`LicenseEdit`); counters are not among them.
#[derive(Debug, Clone)]
pub struct LicenseSettings {
    pub policy_id: Option<i64>,
    pub customer_id: Option<CustomerId>,
    pub status: LicenseStatus,
    pub assignment: Assignment,
    pub terms: LicenseTerms,
    pub starts_at: Option<Millis>,
    pub expires_at: Option<Millis>,
    pub maintenance_expires_at: Option<Millis>,
    pub trial_days: Option<i64>,
    pub order_ref: Option<String>,
    pub metadata: serde_json::Value,
}

impl LicenseSettings {
    /// An active, assigned license under `terms` with nothing else set (no policy, customer,
    /// dates, trial, order reference; empty metadata): the base the issuers override.
    pub fn active(terms: LicenseTerms) -> Self {
        Self {
            policy_id: None,
            customer_id: None,
            status: LicenseStatus::Active,
            assignment: Assignment::Assigned,
            terms,
            starts_at: None,
            expires_at: None,
            maintenance_expires_at: None,
            trial_days: None,
            order_ref: None,
            metadata: serde_json::json!({}),
        }
    }

    /// The license's current settings.
    pub fn of(license: &License) -> Self {
        Self {
            policy_id: license.policy_id,
            customer_id: license.customer_id,
            status: license.status,
            assignment: license.assignment,
            terms: license.terms.clone(),
            starts_at: license.starts_at,
            expires_at: license.expires_at,
            maintenance_expires_at: license.maintenance_expires_at,
            trial_days: license.trial_days,
            order_ref: license.order_ref.clone(),
            metadata: license.metadata.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewLicense {
    pub product_id: ProductId,
    pub key: Option<String>,
    pub settings: LicenseSettings,
    /// Features granted, by code of the product's feature definitions (unknown code → Conflict).
    pub features: Vec<FeatureGrant>,
}

/// The administrator-editable fields of a license.
#[derive(Debug, Clone)]
pub struct LicenseEdit {
    pub settings: LicenseSettings,
    /// `Some` replaces the license's feature grants (keeping counters of features that stay).
    pub features: Option<Vec<FeatureGrant>>,
}

impl LicenseEdit {
    /// An edit that leaves the license as it is (callers change what they edit).
    pub fn from_license(license: &License) -> Self {
        Self {
            settings: LicenseSettings::of(license),
            features: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct LicenseFilter {
    pub product_id: Option<ProductId>,
    pub policy_id: Option<i64>,
    pub customer_id: Option<CustomerId>,
    pub status: Option<LicenseStatus>,
    pub order_ref: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewBlockedDevice {
    pub product_id: Option<ProductId>,
    pub fingerprint: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewCredential {
    pub dialect: Dialect,
    pub name: String,
    pub key_id: String,
    /// The secret; stored sealed (HMAC dialects need it back) and as a digest.
    pub secret: String,
    pub product_id: Option<ProductId>,
    pub read_only: bool,
    pub ip_allowlist: Vec<licensd_domain::access::IpRule>,
}

#[derive(Debug, Clone)]
pub struct ValidationReport {
    pub product: Product,
    pub license: License,
    /// The device row for the fingerprint asked about, active or not.
    pub device: Option<Device>,
    pub features: Vec<LicenseFeature>,
    pub active_devices: i64,
    /// `Ok` with the validity details, or the denial.
    pub outcome: Result<rules::Validity, Denial>,
}

#[derive(Debug, Clone)]
pub struct Activation {
    pub product: Product,
    pub license: License,
    pub device: Device,
    /// False when the device was already active (nothing consumed).
    pub newly_activated: bool,
    pub active_devices: i64,
    /// The license's features when the activation learnt them for free (a license without
    /// features, on a backend whose activation read says so); `None` means "ask
    /// `license_features`".
    pub known_features: Option<Vec<LicenseFeature>>,
}

#[derive(Debug, Clone)]
pub struct ConsumptionOutcome {
    pub license: License,
    pub event: ConsumptionEvent,
    /// The counter after the consumption (license or feature).
    pub total: i64,
    /// True when an earlier request with the same idempotency key already counted it.
    pub replayed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    pub action: Option<String>,
}

/// One database connection pool's use at a moment (`CoreStore::pool_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool: `main` (every backend), `writer` (SQLite's single write connection).
    pub pool: &'static str,
    /// Connections open, idle or in use.
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// One read-cache map's lookups since the store opened (`CoreStore::cache_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// The map: `validation`, `credentials`, `products_by_code`, `licenses_by_key`,
    /// `license_features`, `leases`, `customers`.
    pub map: &'static str,
    /// Answered from memory.
    pub hits: u64,
    /// Read from the database (whether or not the answer was then kept).
    pub misses: u64,
}
