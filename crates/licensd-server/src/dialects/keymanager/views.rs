//! How domain licenses and products look to a Key Manager client. Key Manager attributes the
//! domain has no column for (owner, validity in days, assignment date, product source …) are kept
//! in the entity's `metadata` under the `keymanager` key; everything with a domain meaning (status,
//! assignment, activation limit, expiry) lives in the domain fields, where the rules read it.

use licensd_domain::{Assignment, License, LicenseStatus, Millis, Product, ProductStatus};
use licensd_store::MetaEntry;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const METADATA_KEY: &str = "keymanager";

/// Key Manager attributes of a license key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LicenseAttrs {
    pub owner_name: Option<String>,
    pub owner_email: Option<String>,
    /// Days of validity from assignment; 0 never expires.
    pub validity: i64,
    pub assigned_at: Option<Millis>,
    pub contract_id: Option<i64>,
}

impl LicenseAttrs {
    pub fn of(license: &License) -> Self {
        attrs_of(&license.metadata)
    }

    /// `metadata` with these attributes written in (other keys kept).
    pub fn write_into(&self, metadata: &Value) -> Value {
        attrs_written(self, metadata)
    }
}

/// Key Manager attributes of a product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductAttrs {
    pub description: Option<String>,
    /// `internal` or `envato`.
    pub source: Option<String>,
    pub external_reference: Option<String>,
    pub post_url: Option<String>,
    pub require_non_expired: bool,
}

impl ProductAttrs {
    pub fn of(product: &Product) -> Self {
        attrs_of(&product.metadata)
    }

    /// `metadata` with these attributes written in (other keys kept).
    pub fn write_into(&self, metadata: &Value) -> Value {
        attrs_written(self, metadata)
    }
}

/// The Key Manager attributes a record keeps under `METADATA_KEY` (the defaults when absent or
/// unreadable).
fn attrs_of<T: DeserializeOwned + Default>(metadata: &Value) -> T {
    metadata
        .get(METADATA_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// `metadata` with `attrs` written under `METADATA_KEY` (other keys kept).
fn attrs_written<T: Serialize>(attrs: &T, metadata: &Value) -> Value {
    let mut map = match metadata {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    map.insert(METADATA_KEY.into(), json!(attrs));
    Value::Object(map)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), Key Manager's format for the dates it stores as text
/// (`assigned_at`, `expires_at`, `release_date`).
pub fn km_date(at: Millis) -> String {
    match jiff::Timestamp::from_millisecond(at) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => String::new(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.000000Z` (UTC, whole seconds), how Key Manager (Laravel) writes a record's
/// `created_at` / `updated_at`.
pub fn km_timestamp(at: Millis) -> String {
    match jiff::Timestamp::from_millisecond(at) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S.000000Z").to_string(),
        Err(_) => String::new(),
    }
}

fn optional_date(at: Option<Millis>) -> Value {
    at.map(|at| Value::String(km_date(at))).unwrap_or(Value::Null)
}

/// Optional text the documentation shows as `""` when unset.
fn text_or_empty(text: Option<String>) -> Value {
    Value::String(text.unwrap_or_default())
}

/// Key Manager's license status word for a domain license.
pub fn license_status(license: &License) -> &'static str {
    match (license.status, license.assignment) {
        (LicenseStatus::Active, Assignment::InStock) => "available",
        (LicenseStatus::Active, Assignment::Reserved) => "reserved",
        (LicenseStatus::Active, Assignment::Assigned) => "assigned",
        (LicenseStatus::Blocked | LicenseStatus::Disabled | LicenseStatus::Suspended, _) => "blocked",
    }
}

pub fn product_status(product: &Product) -> &'static str {
    match product.status {
        ProductStatus::Active => "active",
        ProductStatus::Disabled | ProductStatus::Archived => "inactive",
    }
}

/// `meta_data` as the documentation shows it: `[{"key": …, "value": …}]`.
pub fn meta_json(entries: &[MetaEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|entry| json!({"key": entry.key, "value": entry.value}))
            .collect(),
    )
}

/// A license key in lists (get-license-keys, random-assign's `license_keys`), the documented
/// example's fields: owner and `assigned_at` are `null` when unset.
pub fn license_json(license: &License) -> Value {
    let attrs = LicenseAttrs::of(license);
    json!({
        "id": license.id,
        "product_id": license.product_id,
        "license_key": license.key,
        "owner_name": attrs.owner_name,
        "owner_email": attrs.owner_email,
        "activation_limit": license.terms.max_activations.unwrap_or(0),
        "validity": attrs.validity,
        "assigned_at": optional_date(attrs.assigned_at),
        "status": license_status(license),
        "created_at": km_timestamp(license.created_at),
        "updated_at": km_timestamp(license.updated_at),
    })
}

/// The `licenseKey` object of get-license-key-details (the documented example's fields):
/// `expires_at` is `false` or the expiry date.
pub fn license_details_json(license: &License, meta: &[MetaEntry]) -> Value {
    let attrs = LicenseAttrs::of(license);
    json!({
        "id": license.id,
        "license_key": license.key,
        "owner_name": attrs.owner_name,
        "owner_email": attrs.owner_email,
        "activation_limit": license.terms.max_activations.unwrap_or(0),
        "validity": attrs.validity,
        "assigned_at": optional_date(attrs.assigned_at),
        "meta_data": meta_json(meta),
        "expires_at": license.expires_at.map(|at| Value::String(km_date(at))).unwrap_or(Value::Bool(false)),
    })
}

/// A product in get-all-products and the Contracts API (the documented example's fields): the
/// get-license-key-details object plus the product's status, flag and timestamps.
pub fn product_json(product: &Product, meta: &[MetaEntry]) -> Value {
    let mut object = product_details_json(product, meta);
    object["status"] = json!(product_status(product));
    object["require_non_expired"] = json!(u8::from(ProductAttrs::of(product).require_non_expired));
    object["created_at"] = json!(km_timestamp(product.created_at));
    object["updated_at"] = json!(km_timestamp(product.updated_at));
    object
}

/// The `product` object of get-license-key-details (the documented example's fields; unset texts
/// are `""`).
pub fn product_details_json(product: &Product, meta: &[MetaEntry]) -> Value {
    let attrs = ProductAttrs::of(product);
    json!({
        "id": product.id,
        "external_reference": text_or_empty(attrs.external_reference),
        "source": attrs.source.unwrap_or_else(|| "internal".into()),
        "name": product.name,
        "post_url": text_or_empty(attrs.post_url),
        "description": text_or_empty(attrs.description),
        "meta_data": meta_json(meta),
    })
}
