//! The LicenseSpring license object (reference §4.1) and feature object, built from domain state.
//! Every key the Python SDK requires ("Py-REQ") is always present; instants are UTC `…sssZ`.

use licensd_domain::clock::to_rfc3339;
use licensd_domain::rules::{current_counter, is_expired, lease_is_live};
use licensd_domain::*;
use serde_json::{Value, json};

/// LicenseSpring's name for a license type.
pub fn license_type(license_type: LicenseType) -> &'static str {
    match license_type {
        LicenseType::Perpetual => "perpetual",
        LicenseType::TimeLimited => "time-limited",
        LicenseType::Subscription => "subscription",
        LicenseType::Consumption => "consumption",
    }
}

fn consumption_period(period: ResetPeriod) -> Value {
    match period {
        ResetPeriod::Never => Value::Null,
        ResetPeriod::Daily => json!("daily"),
        ResetPeriod::Weekly => json!("weekly"),
        ResetPeriod::Monthly => json!("monthly"),
        ResetPeriod::Yearly => json!("annually"),
    }
}

fn instant(at: Option<Millis>) -> Value {
    at.map_or(Value::Null, |at| json!(to_rfc3339(at)))
}

fn object_or_empty(value: &Value) -> Value {
    if value.is_object() { value.clone() } else { json!({}) }
}

/// Floating timeout in minutes, as LicenseSpring counts it (at least one minute).
pub fn minutes(seconds: i64) -> i64 {
    (seconds / 60).max(1)
}

/// The validity period as emitted (and as covered by the v1 signature).
pub fn validity_period(license: &License) -> Option<String> {
    license.expires_at.map(to_rfc3339)
}

pub fn product_details(product: &Product, license: Option<&License>) -> Value {
    let floating_timeout = license
        .and_then(|license| license.terms.floating.as_ref())
        .map_or(120, |floating| minutes(floating.lease_seconds));
    let terms = license.map(|license| &license.terms);
    let consumption = terms.and_then(|terms| terms.consumption.as_ref());
    json!({
        "product_id": product.id,
        "product_name": product.name,
        "short_code": product.code,
        "authorization_method": match product.auth_method {
            AuthMethod::Key => "license-key",
            AuthMethod::User => "user",
        },
        "allow_trial": product.trial_allowed,
        "trial_days": product.trial_days,
        "floating_timeout": floating_timeout,
        "prevent_vm": terms.is_some_and(|terms| !terms.vm_allowed),
        "allow_overages": consumption.is_some_and(|c| c.allow_overages),
        "max_overages": consumption.and_then(|c| c.max_overages).unwrap_or(0),
        "metadata": object_or_empty(&product.metadata),
    })
}

/// Live floating seats on a feature (or the license itself when `feature_id` is `None`).
pub fn seats_in_use(leases: &[FloatingLease], feature_id: Option<i64>, now: Millis) -> i64 {
    leases
        .iter()
        .filter(|lease| lease.feature_id == feature_id && lease_is_live(lease, now))
        .count() as i64
}

pub fn feature(feature: &LicenseFeature, license_id: LicenseId, leases: &[FloatingLease], now: Millis) -> Value {
    let definition = &feature.definition;
    let mut object = json!({
        "id": definition.id,
        "license_id": license_id,
        "code": definition.spec.code,
        "name": definition.spec.name,
        "feature_type": definition.spec.feature_type.as_str(),
        "expiry_date": instant(feature.overrides.expires_at),
        "metadata": object_or_empty(&definition.spec.metadata),
        "is_floating": false,
        "is_floating_cloud": feature.floating_seats().is_some(),
    });
    let Some(map) = object.as_object_mut() else {
        return object;
    };
    if let Some(seats) = feature.floating_seats() {
        map.insert(
            "floating_timeout".into(),
            json!(minutes(definition.spec.floating_lease_seconds)),
        );
        map.insert("floating_users".into(), json!(seats));
        map.insert(
            "floating_in_use_devices".into(),
            json!(seats_in_use(leases, Some(definition.id), now)),
        );
    }
    if definition.spec.feature_type == FeatureType::Consumption {
        let terms = feature.consumption_terms();
        let counter = current_counter(&terms, feature.consumption_used, feature.period_start, now);
        map.insert("max_consumption".into(), json!(terms.max_consumptions.unwrap_or(0)));
        map.insert("total_consumptions".into(), json!(counter.used));
        map.insert(
            "allow_unlimited_consumptions".into(),
            json!(terms.max_consumptions.is_none()),
        );
        map.insert("allow_overages".into(), json!(terms.allow_overages));
        map.insert("max_overages".into(), json!(terms.max_overages.unwrap_or(0)));
        map.insert("allow_negative_consumptions".into(), json!(terms.allow_negative));
        map.insert(
            "reset_consumption".into(),
            json!(terms.reset_period != ResetPeriod::Never),
        );
        map.insert("consumption_period".into(), consumption_period(terms.reset_period));
    }
    object
}

/// The license-level consumption block (also the add_consumption response body).
pub fn consumption_block(license: &License, now: Millis) -> serde_json::Map<String, Value> {
    let terms = license.terms.consumption.clone().unwrap_or(ConsumptionTerms {
        max_consumptions: None,
        allow_overages: false,
        max_overages: None,
        allow_negative: false,
        reset_period: ResetPeriod::Never,
    });
    let counter = current_counter(&terms, license.consumption_used, license.consumption_period_start, now);
    let mut map = serde_json::Map::new();
    map.insert("max_consumptions".into(), json!(terms.max_consumptions.unwrap_or(0)));
    map.insert("total_consumptions".into(), json!(counter.used));
    map.insert(
        "allow_unlimited_consumptions".into(),
        json!(terms.max_consumptions.is_none()),
    );
    map.insert("allow_negative_consumptions".into(), json!(terms.allow_negative));
    // LicenseSpring reads max_overages 0 with allow_overages as "no cap on overages".
    map.insert("allow_overages".into(), json!(terms.allow_overages));
    map.insert("max_overages".into(), json!(terms.max_overages.unwrap_or(0)));
    map.insert(
        "reset_consumption".into(),
        json!(terms.reset_period != ResetPeriod::Never),
    );
    map.insert("consumption_period".into(), consumption_period(terms.reset_period));
    map
}

/// Everything the license object is built from.
pub struct LicenseView<'a> {
    pub product: &'a Product,
    pub license: &'a License,
    pub features: &'a [LicenseFeature],
    pub customer: Option<&'a Customer>,
    pub device: Option<&'a Device>,
    pub hardware_id: &'a str,
    pub active_devices: i64,
    pub leases: &'a [FloatingLease],
    pub now: Millis,
}

fn customer(customer: &Customer) -> Value {
    let (first, last) = match customer.name.as_deref() {
        Some(name) => match name.split_once(' ') {
            Some((first, last)) => (first.to_string(), last.to_string()),
            None => (name.to_string(), String::new()),
        },
        None => (String::new(), String::new()),
    };
    json!({
        "email": customer.email.clone().unwrap_or_default(),
        "first_name": first,
        "last_name": last,
        "company_name": customer.company.clone().unwrap_or_default(),
        "phone": "",
        "address": "",
        "city": "",
        "state": "",
        "country": "",
        "postcode": "",
        "reference": customer.reference.clone().unwrap_or_default(),
        "customer_account": Value::Null,
        "metadata": object_or_empty(&customer.metadata),
    })
}

fn variables(device: &Device) -> Value {
    let Some(map) = device.variables.as_object() else {
        return json!([]);
    };
    Value::Array(
        map.iter()
            .map(|(name, value)| {
                json!({
                    "variable": name,
                    "value": match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    },
                    "device_id": device.id,
                    "created_at": device.last_seen_at,
                })
            })
            .collect(),
    )
}

/// The full license object (without `license_signature`, which the caller adds).
pub fn license(view: &LicenseView<'_>) -> serde_json::Map<String, Value> {
    let license = view.license;
    let terms = &license.terms;
    let now = view.now;
    let own_lease = view
        .leases
        .iter()
        .find(|lease| lease.feature_id.is_none() && lease.fingerprint == view.hardware_id);
    let borrowed_until = own_lease
        .and_then(|lease| lease.borrowed_until)
        .filter(|until| *until > now);
    let expired = is_expired(license, now);
    let mut map = serde_json::Map::new();
    let mut put = |key: &str, value: Value| {
        map.insert(key.to_string(), value);
    };
    put("id", json!(license.id));
    put("license_key", json!(license.key));
    put("hardware_id", json!(view.hardware_id));
    put("license_type", json!(license_type(terms.license_type)));
    put("active", json!(true));
    put(
        "license_active",
        json!(!matches!(license.status, LicenseStatus::Suspended) && license.assignment != Assignment::InStock),
    );
    put("license_enabled", json!(license.status == LicenseStatus::Active));
    put("is_expired", json!(expired));
    put("is_trial", json!(terms.kind == LicenseKind::Trial));
    put("trial_days", json!(license.trial_days.unwrap_or(0)));
    put("validity_period", instant(license.expires_at));
    put("start_date", instant(license.starts_at));
    put("maintenance_period", instant(license.maintenance_expires_at));
    put(
        "enable_maintenance_period",
        json!(license.maintenance_expires_at.is_some()),
    );
    put("allow_grace_period", json!(terms.grace_period_hours > 0));
    put("grace_period", json!(terms.grace_period_hours.max(0)));
    put("max_activations", json!(terms.max_activations.unwrap_or(0)));
    put("allow_unlimited_activations", json!(terms.max_activations.is_none()));
    put("times_activated", json!(view.active_devices));
    put("transfer_count", json!(license.transfer_count));
    // Python reads -1 as "transfers not allowed" and 0 as unlimited.
    put(
        "max_transfers",
        json!(match terms.max_transfers {
            None => 0,
            Some(0) => -1,
            Some(max) => max,
        }),
    );
    put("max_license_users", json!(terms.max_users.unwrap_or(0)));
    put("prevent_vm", json!(!terms.vm_allowed));
    // `is_floating` means the on-premises Floating Server protocol, which licensd does not speak.
    put("is_floating", json!(false));
    put("is_floating_cloud", json!(terms.floating.is_some()));
    match &terms.floating {
        Some(floating) => {
            put("floating_timeout", json!(minutes(floating.lease_seconds)));
            put("floating_users", json!(floating.seats));
            put("floating_in_use_devices", json!(seats_in_use(view.leases, None, now)));
            put("can_borrow", json!(floating.borrow_allowed));
            put("max_borrow_time", json!(floating.max_borrow_hours));
        }
        None => {
            put("floating_timeout", json!(120));
            put("floating_users", json!(0));
            put("floating_in_use_devices", json!(0));
            put("can_borrow", json!(false));
            put("max_borrow_time", json!(0));
        }
    }
    put("is_borrowed", json!(borrowed_until.is_some()));
    put("borrowed_until", instant(borrowed_until));
    put("metadata", object_or_empty(&license.metadata));
    put("custom_fields", json!([]));
    put(
        "product_features",
        Value::Array(
            view.features
                .iter()
                .map(|f| feature(f, license.id, view.leases, now))
                .collect(),
        ),
    );
    put("customer", view.customer.map_or(Value::Null, customer));
    put("product_details", product_details(view.product, Some(license)));
    put("order_store_id", json!(license.order_ref));
    put("policy_id", json!(license.policy_id));
    put("license_template_id", json!(license.policy_id));
    put("allow_offline_activation", json!(false));
    put("is_air_gapped", json!(false));
    put("is_hardware_key_auth", json!(false));
    put("is_tpm_auth", json!(false));
    if let Some(device) = view.device {
        put("device_id", json!(device.id));
        put("variables", variables(device));
    }
    for (key, value) in consumption_block(license, now) {
        map.insert(key, value);
    }
    map
}

/// The `user` object of a user-based license (`user.email` is the `username` the SDKs send back).
pub fn user(user: &LicenseUser, license: &License, total_activations: i64) -> Value {
    let (first, last) = match user.name.as_deref() {
        Some(name) => match name.split_once(' ') {
            Some((first, last)) => (first.to_string(), last.to_string()),
            None => (name.to_string(), String::new()),
        },
        None => (String::new(), String::new()),
    };
    json!({
        "id": user.id,
        "email": user.email,
        "first_name": first,
        "last_name": last,
        "phone_number": "",
        "is_initial_password": false,
        "max_activations": license.terms.max_activations_per_user.unwrap_or(0),
        "allow_unlimited_activations": license.terms.max_activations_per_user.is_none(),
        "total_activations": total_activations,
    })
}
