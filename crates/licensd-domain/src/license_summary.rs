//! What a client may rely on about its license: the native client API's answer (written by the
//! server) and what the client SDK hands the application (read by `licensd-client`), one type.

use crate::{License, LicenseFeature, LicenseId, LicenseKind, LicenseStatus, LicenseType, Millis, Product, rules};
use serde::{Deserialize, Serialize};

/// What a client may rely on about its license.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: LicenseId,
    pub product: String,
    pub status: LicenseStatus,
    pub license_type: LicenseType,
    pub kind: LicenseKind,
    pub starts_at: Option<Millis>,
    pub expires_at: Option<Millis>,
    pub maintenance_expires_at: Option<Millis>,
    pub max_activations: Option<i64>,
    pub active_devices: i64,
    pub features: Vec<String>,
    pub consumption_used: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: serde_json::Value,
}

impl LicenseSummary {
    // Public (hidden from docs) only so the micro-benchmarks (bench/benches/micro.rs) measure the
    // real response building; the server's handlers are its only other callers.
    #[doc(hidden)]
    pub fn new(product: &Product, license: &License, features: &[LicenseFeature], active_devices: i64) -> Self {
        Self {
            id: license.id,
            product: product.code.clone(),
            status: license.status,
            license_type: license.terms.license_type,
            kind: license.terms.kind,
            starts_at: license.starts_at,
            expires_at: license.expires_at,
            maintenance_expires_at: license.maintenance_expires_at,
            max_activations: license.terms.max_activations,
            active_devices,
            features: features.iter().map(|f| f.definition.spec.code.clone()).collect(),
            consumption_used: license.consumption_used,
            metadata: license.metadata.clone(),
        }
    }

    /// The summary a client is answered at `now`: its `features` are those active then
    /// (`rules::feature_active`, the rule every dialect's feature list uses), so a feature past
    /// its own expiry is not reported as granted.
    pub fn at(
        product: &Product,
        license: &License,
        features: &[LicenseFeature],
        active_devices: i64,
        now: Millis,
    ) -> Self {
        Self {
            features: features
                .iter()
                .filter(|f| rules::feature_active(f, now))
                .map(|f| f.definition.spec.code.clone())
                .collect(),
            ..Self::new(product, license, &[], active_devices)
        }
    }
}
