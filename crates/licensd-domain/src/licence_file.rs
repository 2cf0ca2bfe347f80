//! What an offline licence file says and whether one may be issued. The file format (bytes,
//! signature, encryption) is licensd-crypto's; this module decides the content: the licence's
//! terms, its live features (the entitlements), the device it is bound to and how long it lives.

use crate::clock::{DAY, Millis, SECOND};
use crate::denial::Denial;
use crate::model::*;
use crate::rules::{Validity, effective_expiry, feature_active};
use serde::{Deserialize, Serialize};

/// Payload format version (the `version` field).
pub const LICENCE_FILE_VERSION: u32 = 1;
/// Time-to-live when the caller asks for none: 30 days.
pub const DEFAULT_TTL_SECONDS: i64 = 30 * DAY / SECOND;
/// Shortest time-to-live a caller may ask for: one minute.
pub const MIN_TTL_SECONDS: i64 = 60;
/// Longest time-to-live a caller may ask for: 366 days.
pub const MAX_TTL_SECONDS: i64 = 366 * DAY / SECOND;

/// The licence as a file states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenceFileLicense {
    pub id: i64,
    pub product: String,
    pub status: LicenseStatus,
    pub license_type: LicenseType,
    pub kind: LicenseKind,
    pub starts_at: Option<Millis>,
    pub expires_at: Option<Millis>,
    pub grace_period_hours: i64,
    pub maintenance_expires_at: Option<Millis>,
    pub max_activations: Option<i64>,
    pub vm_allowed: bool,
    pub floating: Option<FloatingTerms>,
    pub consumption: Option<ConsumptionTerms>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: serde_json::Value,
}

/// One feature (entitlement) with its effective limits for this licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenceFileFeature {
    pub code: String,
    pub name: String,
    pub feature_type: FeatureType,
    pub expires_at: Option<Millis>,
    pub max_consumptions: Option<i64>,
    pub floating_seats: Option<i64>,
}

/// The payload of a licence file (JSON). `fingerprint`, `issued_at` and `expires_at` are the
/// fields every verifier checks; the rest is what the application reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenceFileContents {
    pub version: u32,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub fingerprint: String,
    pub license: LicenceFileLicense,
    pub features: Vec<LicenceFileFeature>,
}

/// Everything the decision needs, as the store loaded it with a validation.
#[derive(Debug, Clone, Copy)]
pub struct LicenceFileState<'a> {
    pub product: &'a Product,
    pub license: &'a License,
    /// The device row for the fingerprint, active or not.
    pub device: Option<&'a Device>,
    pub features: &'a [LicenseFeature],
    /// The validation verdict for this licence and device.
    pub validity: &'a Result<Validity, Denial>,
    pub fingerprint: &'a str,
}

/// Decides whether a licence file may be issued and what it holds.
///
/// The licence must validate for the device, and the device must hold an activation (a
/// floating licence validates without one, but a file is a standing grant to one machine, so
/// it needs the activation that counts against the licence's limit). The file lives
/// `ttl_seconds` (default [`DEFAULT_TTL_SECONDS`], bounded by the caller to
/// [`MIN_TTL_SECONDS`]..=[`MAX_TTL_SECONDS`]) but never past the licence's own end (expiry plus
/// grace). Features whose own expiry has passed are left out.
pub fn plan_licence_file(
    state: &LicenceFileState<'_>,
    ttl_seconds: Option<i64>,
    now: Millis,
) -> Result<LicenceFileContents, Denial> {
    if let Err(denial) = state.validity {
        return Err(*denial);
    }
    if state.fingerprint.trim().is_empty() {
        return Err(Denial::FingerprintRequired);
    }
    let activated = state
        .device
        .is_some_and(|device| device.is_active() && device.fingerprint == state.fingerprint);
    if !activated {
        return Err(Denial::DeviceNotActivated);
    }
    let ttl = ttl_seconds
        .unwrap_or(DEFAULT_TTL_SECONDS)
        .clamp(MIN_TTL_SECONDS, MAX_TTL_SECONDS);
    let mut expires_at = now.saturating_add(ttl.saturating_mul(SECOND));
    if let Some(end) = effective_expiry(state.license) {
        expires_at = expires_at.min(end);
    }
    let license = state.license;
    let features = state
        .features
        .iter()
        .filter(|feature| feature_active(feature, now))
        .map(|feature| LicenceFileFeature {
            code: feature.definition.spec.code.clone(),
            name: feature.definition.spec.name.clone(),
            feature_type: feature.definition.spec.feature_type,
            expires_at: feature.overrides.expires_at,
            max_consumptions: feature.max_consumptions(),
            floating_seats: feature.floating_seats(),
        })
        .collect();
    Ok(LicenceFileContents {
        version: LICENCE_FILE_VERSION,
        issued_at: now,
        expires_at,
        fingerprint: state.fingerprint.to_string(),
        license: LicenceFileLicense {
            id: license.id.get(),
            product: state.product.code.clone(),
            status: license.status,
            license_type: license.terms.license_type,
            kind: license.terms.kind,
            starts_at: license.starts_at,
            expires_at: license.expires_at,
            grace_period_hours: license.terms.grace_period_hours,
            maintenance_expires_at: license.maintenance_expires_at,
            max_activations: license.terms.max_activations,
            vm_allowed: license.terms.vm_allowed,
            floating: license.terms.floating.clone(),
            consumption: license.terms.consumption.clone(),
            metadata: license.metadata.clone(),
        },
        features,
    })
}

#[cfg(test)]
#[path = "licence_file_tests.rs"]
mod tests;
