//! The domain model: the union of what the four licensing systems licensd speaks need to know.
//! Enumerations render as snake_case words both on the wire and in the database.

use crate::clock::Millis;
use crate::ids::{CustomerId, DeviceId, LicenseId, ProductId};
use serde::{Deserialize, Serialize};

/// Declares a plain enumeration with its stable text form, used for storage and the wire.
macro_rules! text_enum {
    // `$text:tt`, not `:literal`: a `literal` fragment reaches derive macros wrapped in an
    // invisible group, which utoipa does not read, so the OpenAPI document named the variants
    // ("Evaluation") instead of the text the server accepts ("evaluation").
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// How end users prove they may use a product.
    AuthMethod { Key => "key", User => "user" }
);
text_enum!(ProductStatus { Active => "active", Disabled => "disabled", Archived => "archived" });
text_enum!(LicenseType {
    Perpetual => "perpetual",
    TimeLimited => "time_limited",
    Subscription => "subscription",
    Consumption => "consumption",
});
text_enum!(LicenseKind { Normal => "normal", Trial => "trial", Evaluation => "evaluation", Test => "test" });
text_enum!(
    /// Administrative state. `Blocked` is Key Manager's "blocked" and DNA's BANNED.
    LicenseStatus { Active => "active", Disabled => "disabled", Blocked => "blocked", Suspended => "suspended" }
);
text_enum!(
    /// Whether a license has left the vendor's stock: Key Manager "not assigned", DNA AVAILABLE /
    /// RESERVED. Only `InStock` licenses refuse activation.
    Assignment { Assigned => "assigned", Reserved => "reserved", InStock => "in_stock" }
);
text_enum!(ResetPeriod {
    Never => "never",
    Daily => "daily",
    Weekly => "weekly",
    Monthly => "monthly",
    Yearly => "yearly",
});
text_enum!(FeatureType { Activation => "activation", Consumption => "consumption" });
text_enum!(
    /// Which client API a credential is for.
    Dialect {
        Native => "native",
        LicenseSpring => "licensespring",
        KeyManager => "keymanager",
        Slascone => "slascone",
        Dna => "dna",
    }
);

/// Limits and behaviour a license is issued with. A policy holds a default set; a license keeps its
/// own copy, so editing a policy never silently changes licenses already sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct LicenseTerms {
    pub license_type: LicenseType,
    pub kind: LicenseKind,
    /// Devices that may be active at once; `None` is unlimited.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000))]
    pub max_activations: Option<i64>,
    /// Moves to a new device after a deactivation; `None` is unlimited, `Some(0)` forbids them.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000))]
    pub max_transfers: Option<i64>,
    /// Hours past expiry during which the license still validates.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 876600))]
    pub grace_period_hours: i64,
    pub vm_allowed: bool,
    pub floating: Option<FloatingTerms>,
    pub consumption: Option<ConsumptionTerms>,
    /// Distinct license users allowed; `None` is unlimited.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000))]
    pub max_users: Option<i64>,
    /// Active devices per license user; `None` is unlimited.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000))]
    pub max_activations_per_user: Option<i64>,
    /// DNA-style reactivation lockout: at most `limit` new activations within `window_hours`.
    pub reactivation_lockout: Option<ReactivationLockout>,
}

impl Default for LicenseTerms {
    fn default() -> Self {
        Self {
            license_type: LicenseType::Perpetual,
            kind: LicenseKind::Normal,
            max_activations: Some(1),
            max_transfers: None,
            grace_period_hours: 0,
            vm_allowed: true,
            floating: None,
            consumption: None,
            max_users: None,
            max_activations_per_user: None,
            reactivation_lockout: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FloatingTerms {
    /// Devices that may hold a lease at once.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000000000))]
    pub seats: i64,
    /// How long a lease lives without a renewal (heartbeat), in seconds.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 31622400))]
    pub lease_seconds: i64,
    #[serde(default)]
    pub borrow_allowed: bool,
    /// The longest borrow, in hours.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 876600))]
    pub max_borrow_hours: i64,
    /// Sessions one client may hold at once where a dialect has sessions inside a client's seat
    /// (SLASCONE's `session_id`s); absent is 1. Dialects without sessions hold one lease per device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000000000))]
    pub sessions_per_client: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsumptionTerms {
    /// Units allowed per period; `None` is unlimited.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000))]
    pub max_consumptions: Option<i64>,
    #[serde(default)]
    pub allow_overages: bool,
    /// Units allowed beyond the cap when overages are on; `None` is unlimited overage.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000000))]
    pub max_overages: Option<i64>,
    #[serde(default)]
    pub allow_negative: bool,
    #[serde(default = "reset_never")]
    pub reset_period: ResetPeriod,
}

fn reset_never() -> ResetPeriod {
    ResetPeriod::Never
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReactivationLockout {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000000000))]
    pub limit: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 876600))]
    pub window_hours: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: ProductId,
    pub code: String,
    pub name: String,
    pub auth_method: AuthMethod,
    pub status: ProductStatus,
    pub trial_allowed: bool,
    pub trial_days: i64,
    pub metadata: serde_json::Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A feature a product offers; licenses are granted features with optional overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeatureDefinition {
    pub id: i64,
    /// What was recorded (serialized inline, beside `id`).
    #[serde(flatten)]
    pub spec: FeatureSpec,
    pub created_at: Millis,
}

/// What is recorded about a feature: all but its id and when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeatureSpec {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: ProductId,
    pub code: String,
    pub name: String,
    pub feature_type: FeatureType,
    /// Defaults for consumption features.
    pub max_consumptions: Option<i64>,
    pub allow_overages: bool,
    pub max_overages: Option<i64>,
    pub allow_negative: bool,
    pub reset_period: ResetPeriod,
    /// Floating seats for this feature; `None` is not floating.
    pub floating_seats: Option<i64>,
    pub floating_lease_seconds: i64,
    pub metadata: serde_json::Value,
}

/// Per-license values that replace a feature definition's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct FeatureOverrides {
    pub max_consumptions: Option<i64>,
    pub allow_overages: Option<bool>,
    pub max_overages: Option<i64>,
    pub allow_negative: Option<bool>,
    pub floating_seats: Option<i64>,
    pub expires_at: Option<Millis>,
}

/// A feature as granted to one license: definition, overrides and its own counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseFeature {
    pub definition: FeatureDefinition,
    pub overrides: FeatureOverrides,
    pub consumption_used: i64,
    pub period_start: Millis,
}

impl LicenseFeature {
    pub fn max_consumptions(&self) -> Option<i64> {
        self.overrides
            .max_consumptions
            .or(self.definition.spec.max_consumptions)
    }
    pub fn consumption_terms(&self) -> ConsumptionTerms {
        ConsumptionTerms {
            max_consumptions: self.max_consumptions(),
            allow_overages: self
                .overrides
                .allow_overages
                .unwrap_or(self.definition.spec.allow_overages),
            max_overages: self.overrides.max_overages.or(self.definition.spec.max_overages),
            allow_negative: self
                .overrides
                .allow_negative
                .unwrap_or(self.definition.spec.allow_negative),
            reset_period: self.definition.spec.reset_period,
        }
    }
    pub fn floating_seats(&self) -> Option<i64> {
        self.overrides.floating_seats.or(self.definition.spec.floating_seats)
    }
}

/// A feature grant as written on a policy or a license request: the feature's code plus overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FeatureGrant {
    pub code: String,
    #[serde(default)]
    pub overrides: FeatureOverrides,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Policy {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: ProductId,
    pub code: String,
    pub name: String,
    pub terms: LicenseTerms,
    /// Validity from issue (or first activation for trials), in days; `None` never expires.
    pub duration_days: Option<i64>,
    pub maintenance_days: Option<i64>,
    pub features: Vec<FeatureGrant>,
    pub metadata: serde_json::Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct License {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: LicenseId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: ProductId,
    pub policy_id: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub customer_id: Option<CustomerId>,
    /// The plain key; `None` for user-based licenses.
    pub key: Option<String>,
    pub status: LicenseStatus,
    pub assignment: Assignment,
    pub terms: LicenseTerms,
    pub starts_at: Option<Millis>,
    pub expires_at: Option<Millis>,
    pub maintenance_expires_at: Option<Millis>,
    /// Licenses without a fixed expiry get `expires_at = first activation + trial_days`
    /// (`rules::expiry_days_after_activation`; test codes default to 15 days).
    pub trial_days: Option<i64>,
    pub transfer_count: i64,
    pub deactivation_count: i64,
    pub consumption_used: i64,
    pub consumption_period_start: Millis,
    pub order_ref: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: DeviceId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub license_id: LicenseId,
    pub fingerprint: String,
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub app_version: Option<String>,
    pub ip: Option<String>,
    pub mac: Option<String>,
    pub is_vm: bool,
    pub user_id: Option<i64>,
    pub variables: serde_json::Value,
    pub activated_at: Millis,
    pub last_seen_at: Millis,
    pub deactivated_at: Option<Millis>,
}

impl Device {
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

/// What a client reports about itself when activating.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    pub fingerprint: String,
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub app_version: Option<String>,
    pub ip: Option<String>,
    pub mac: Option<String>,
    pub is_vm: bool,
    pub variables: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockedDevice {
    pub id: i64,
    /// `None` blocks the fingerprint for every product.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub product_id: Option<ProductId>,
    pub fingerprint: String,
    pub reason: Option<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FloatingLease {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub license_id: LicenseId,
    pub feature_id: Option<i64>,
    pub fingerprint: String,
    pub expires_at: Millis,
    pub borrowed_until: Option<Millis>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsumptionEvent {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub license_id: LicenseId,
    pub feature_id: Option<i64>,
    pub amount: i64,
    pub total_after: i64,
    pub idempotency_key: Option<String>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: CustomerId,
    pub email: Option<String>,
    pub name: Option<String>,
    pub company: Option<String>,
    pub reference: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseUser {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub customer_id: Option<CustomerId>,
    pub email: String,
    pub name: Option<String>,
    /// argon2id PHC string; never serialised to clients.
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    pub created_at: Millis,
}

/// A client credential for one dialect (LicenseSpring api_key + shared_key, Key Manager api_key,
/// SLASCONE provisioning key, DNA clientId:apiKey, or a native client key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credential {
    pub id: i64,
    pub dialect: Dialect,
    pub name: String,
    /// Public identifier (the api_key / clientId part).
    pub key_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub product_id: Option<ProductId>,
    pub read_only: bool,
    /// Addresses or CIDR ranges the credential may be used from (parsed when the credential was
    /// created); empty allows any.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub ip_allowlist: Vec<crate::access::IpRule>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

impl Credential {
    /// The flags [`crate::access::admit`] decides with.
    pub fn flags(&self) -> crate::access::CredentialFlags<'_> {
        crate::access::CredentialFlags {
            revoked: self.revoked_at.is_some(),
            read_only: self.read_only,
            product_scope: self.product_id,
            ip_rules: &self.ip_allowlist,
        }
    }

    /// Whether this credential may be used for `request` ([`crate::access::admit`]).
    pub fn admit(&self, request: &crate::access::AccessRequest) -> Result<(), crate::access::AccessRefusal> {
        crate::access::admit(&self.flags(), request)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: i64,
    pub at: Millis,
    pub actor: String,
    pub source_ip: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<i64>,
    pub data: serde_json::Value,
}

/// What is written to the event log with a state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventDraft {
    pub actor: String,
    pub source_ip: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<i64>,
    pub data: serde_json::Value,
}

impl EventDraft {
    pub fn new(actor: impl Into<String>, action: impl Into<String>, subject_type: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            source_ip: None,
            action: action.into(),
            subject_type: subject_type.into(),
            subject_id: None,
            data: serde_json::Value::Null,
        }
    }
    /// The record the event is about; any typed id or a raw one (policies, features, users).
    pub fn subject(mut self, id: impl Into<i64>) -> Self {
        self.subject_id = Some(id.into());
        self
    }
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
    pub fn from_ip(mut self, ip: Option<String>) -> Self {
        self.source_ip = ip;
        self
    }
}
