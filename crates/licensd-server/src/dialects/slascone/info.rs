//! SLASCONE's `LicenseInfo` and `SessionStatus`, rendered from domain entities.
//!
//! How the domain maps: product_id = the product's code (vendors give their products their
//! SLASCONE product GUID as code); template = the license's policy (edition); tokens = devices
//! (`token_limit` = max activations), floating tokens = floating seats (`session_period` = the
//! lease time in minutes); features = activation features; limitations = consumption features;
//! `is_temporary` = a trial license; license name, legacy key, freeride and heartbeat period come
//! from the license's `metadata.slascone` object when the vendor set them.

use super::wire::id_guid;
use licensd_domain::rules;
use licensd_domain::*;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
pub struct CustomerInfo {
    pub customer_id: String,
    pub company_name: Option<String>,
    pub customer_number: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FeatureInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_active: bool,
    pub expiration_date_utc: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LimitationInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub value: Option<i64>,
    pub remaining: Option<i64>,
    pub balance: i64,
    pub consumption_reset_mode: i64,
    pub consumption_reset_period_days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct LicenseUserInfo {
    pub user_id: String,
    pub name: Option<String>,
    pub is_active: bool,
}

#[derive(Debug, Serialize)]
pub struct LicenseInfo {
    pub customer: Option<CustomerInfo>,
    pub license_id: String,
    pub license_name: Option<String>,
    pub license_key: Option<String>,
    pub token_key: Option<String>,
    pub legacy_license_key: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub client_description: Option<String>,
    pub product_name: String,
    pub product_id: String,
    pub template_name: Option<String>,
    pub template_id: Option<String>,
    pub provisioning_mode: i64,
    pub client_type: i64,
    pub is_license_active: bool,
    pub is_license_expired: bool,
    pub is_license_valid: bool,
    pub start_date_utc: Option<String>,
    pub expiration_date_utc: Option<String>,
    pub token_limit: Option<i64>,
    pub floating_token_limit: Option<i64>,
    pub is_temporary: bool,
    pub is_software_version_valid: bool,
    pub software_release_limitation: Option<Value>,
    pub is_newer_software_shipment_available: bool,
    pub latest_software_shipment: Option<Value>,
    pub enforce_software_version_upgrade: bool,
    pub session_period: Option<i64>,
    pub heartbeat_period: Option<i64>,
    pub freeride: Option<i64>,
    pub features: Vec<FeatureInfo>,
    pub limitations: Vec<LimitationInfo>,
    pub variables: Vec<Value>,
    pub constrained_variables: Vec<Value>,
    pub license_users: Vec<LicenseUserInfo>,
    pub created_date_utc: String,
    pub license_type: Option<Value>,
}

/// Everything a `LicenseInfo` is made from.
pub struct InfoParts<'a> {
    pub product: &'a Product,
    pub license: &'a License,
    pub policy: Option<&'a Policy>,
    pub customer: Option<&'a Customer>,
    pub device: Option<&'a Device>,
    pub token_key: Option<&'a str>,
    pub features: &'a [LicenseFeature],
    pub users: &'a [LicenseUser],
    /// The domain's verdict for this license (and device, when one is named).
    pub valid: bool,
    pub now: Millis,
}

/// SLASCONE's instant form: RFC 3339 UTC, with milliseconds only when there are any
/// (`2025-12-31T00:00:00Z`).
pub fn utc(at: Millis) -> String {
    let text = licensd_domain::clock::to_rfc3339(at);
    match text.strip_suffix(".000Z") {
        Some(whole) => format!("{whole}Z"),
        None => text,
    }
}

/// `metadata.slascone.<name>` of the license, if the vendor set it.
pub fn slascone_meta<'a>(license: &'a License, name: &str) -> Option<&'a Value> {
    license.metadata.get("slascone").and_then(|meta| meta.get(name))
}

fn meta_text(license: &License, name: &str) -> Option<String> {
    slascone_meta(license, name).and_then(Value::as_str).map(str::to_owned)
}

fn meta_int(license: &License, name: &str) -> Option<i64> {
    slascone_meta(license, name).and_then(Value::as_i64)
}

/// SLASCONE's consumption reset modes: 0 entire lifecycle, 1 every n days, 2 first day of month,
/// 3 first day of quarter, 4 first day of year. licensd's daily and weekly periods are "every n
/// days" with n = 1 and 7.
pub fn reset_mode(period: ResetPeriod) -> (i64, Option<i64>) {
    match period {
        ResetPeriod::Never => (0, None),
        ResetPeriod::Daily => (1, Some(1)),
        ResetPeriod::Weekly => (1, Some(7)),
        ResetPeriod::Monthly => (2, None),
        ResetPeriod::Yearly => (4, None),
    }
}

/// A consumption feature's balance now: (limit, used, remaining).
pub fn balance(feature: &LicenseFeature, now: Millis) -> (Option<i64>, i64, Option<i64>) {
    let terms = feature.consumption_terms();
    let counter = rules::current_counter(&terms, feature.consumption_used, feature.period_start, now);
    let limit = terms.max_consumptions;
    (limit, counter.used, limit.map(|limit| (limit - counter.used).max(0)))
}

pub fn license_info(parts: &InfoParts<'_>) -> LicenseInfo {
    let InfoParts {
        product,
        license,
        policy,
        customer,
        device,
        token_key,
        features,
        users,
        valid,
        now,
    } = *parts;
    let expiry = rules::effective_expiry(license);
    let floating = license.terms.floating.as_ref();
    let feature_infos = features
        .iter()
        .filter(|f| f.definition.spec.feature_type == FeatureType::Activation)
        .map(|f| FeatureInfo {
            id: id_guid(f.definition.id),
            name: f.definition.spec.name.clone(),
            description: String::new(),
            is_active: rules::feature_active(f, now),
            expiration_date_utc: f.overrides.expires_at.map(utc),
        })
        .collect();
    let limitations = features
        .iter()
        .filter(|f| f.definition.spec.feature_type == FeatureType::Consumption)
        .map(|f| {
            let (limit, used, remaining) = balance(f, now);
            let (mode, days) = reset_mode(f.definition.spec.reset_period);
            LimitationInfo {
                id: id_guid(f.definition.id),
                name: f.definition.spec.name.clone(),
                description: String::new(),
                value: limit,
                remaining,
                balance: used,
                consumption_reset_mode: mode,
                consumption_reset_period_days: days,
            }
        })
        .collect();
    LicenseInfo {
        customer: customer.map(|c| CustomerInfo {
            customer_id: id_guid(c.id.get()),
            company_name: c.company.clone().or_else(|| c.name.clone()),
            customer_number: c.reference.clone(),
        }),
        license_id: id_guid(license.id.get()),
        license_name: meta_text(license, "license_name"),
        license_key: license.key.clone(),
        token_key: token_key.map(str::to_owned),
        legacy_license_key: meta_text(license, "legacy_license_key"),
        client_id: device.map(|d| d.fingerprint.clone()),
        client_name: device.and_then(|d| d.name.clone()),
        client_description: device
            .and_then(|d| d.variables.get("client_description"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        product_name: product.name.clone(),
        product_id: product.code.clone(),
        template_name: policy.map(|p| p.name.clone()),
        template_id: policy.map(|p| id_guid(p.id)),
        provisioning_mode: i64::from(floating.is_some()),
        client_type: i64::from(product.auth_method == AuthMethod::User),
        is_license_active: license.status == LicenseStatus::Active,
        is_license_expired: rules::is_expired(license, now),
        is_license_valid: valid,
        start_date_utc: license.starts_at.map(utc),
        expiration_date_utc: expiry.map(utc),
        token_limit: license.terms.max_activations,
        floating_token_limit: floating.map(|f| f.seats),
        is_temporary: license.terms.kind == LicenseKind::Trial,
        is_software_version_valid: true,
        software_release_limitation: None,
        is_newer_software_shipment_available: false,
        latest_software_shipment: None,
        enforce_software_version_upgrade: false,
        session_period: floating.map(|f| licensd_domain::limits::minutes_ceil(f.lease_seconds)),
        heartbeat_period: meta_int(license, "heartbeat_period"),
        freeride: meta_int(license, "freeride"),
        features: feature_infos,
        limitations,
        variables: Vec::new(),
        constrained_variables: Vec::new(),
        license_users: users
            .iter()
            .map(|u| LicenseUserInfo {
                user_id: u.email.clone(),
                name: u.name.clone(),
                is_active: true,
            })
            .collect(),
        created_date_utc: utc(license.created_at),
        // Filled from the back-office values by `apply_values`.
        license_type: None,
    }
}

/// Writes a license's back-office values into its `LicenseInfo`: `variables[]{id, name,
/// description, value}` and `license_type{id, name}`.
/// With a software release limitation, also `software_release_limitation{id, product_id,
/// software_release}` and whether the client's reported version complies.
pub fn apply_values(
    info: &mut LicenseInfo,
    values: &[(backoffice::Entry, String)],
    product: &Product,
    client_version: Option<&str>,
) {
    use backoffice::EntryKind;
    if let Some((release, _)) = values
        .iter()
        .find(|(entry, _)| entry.kind == EntryKind::SoftwareRelease)
    {
        info.software_release_limitation = Some(serde_json::json!({
            "id": id_guid(release.id),
            "product_id": product.code,
            "software_release": release.name,
        }));
        info.is_software_version_valid = client_version.is_none_or(|v| backoffice::version_complies(v, &release.name));
    }
    info.variables = values
        .iter()
        .filter(|(entry, _)| entry.kind == EntryKind::Variable)
        .map(|(entry, value)| {
            serde_json::json!({
                "id": id_guid(entry.id),
                "name": entry.name,
                "description": entry.detail.clone().unwrap_or_default(),
                "value": value,
            })
        })
        .collect();
    info.license_type = values
        .iter()
        .find(|(entry, _)| entry.kind == EntryKind::LicenseType)
        .map(|(entry, _)| serde_json::json!({"id": id_guid(entry.id), "name": entry.name}));
}

/// `SessionStatus` of an open floating session (a live lease).
#[derive(Debug, Serialize)]
pub struct SessionStatus {
    pub is_session_valid: bool,
    pub session_valid_until: String,
    pub session_created_date: String,
    pub session_modified_date: String,
    pub max_open_session_count: i64,
    pub max_active_client_count: i64,
}

pub fn session_status(lease: &FloatingLease, seats: i64, now: Millis) -> SessionStatus {
    let until = lease
        .borrowed_until
        .map_or(lease.expires_at, |b| b.max(lease.expires_at));
    SessionStatus {
        is_session_valid: rules::lease_is_live(lease, now),
        session_valid_until: utc(until),
        session_created_date: utc(lease.created_at),
        session_modified_date: utc(now),
        max_open_session_count: seats,
        max_active_client_count: seats,
    }
}
