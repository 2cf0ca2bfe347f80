use super::*;
use crate::clock::HOUR;
use crate::ids::{DeviceId, LicenseId, ProductId};
use crate::rules::Validity;
use crate::status_keywords::tests::{license, product};

const NOW: Millis = 1_767_225_600_000;

fn device(fingerprint: &str, active: bool) -> Device {
    Device {
        id: DeviceId::new(3),
        license_id: LicenseId::new(7),
        fingerprint: fingerprint.into(),
        name: None,
        hostname: None,
        os: None,
        app_version: None,
        ip: None,
        mac: None,
        is_vm: false,
        user_id: None,
        variables: serde_json::Value::Null,
        activated_at: 0,
        last_seen_at: 0,
        deactivated_at: if active { None } else { Some(1) },
    }
}

fn feature(code: &str, expires_at: Option<Millis>) -> LicenseFeature {
    LicenseFeature {
        definition: FeatureDefinition {
            id: 9,
            spec: FeatureSpec {
                product_id: ProductId::new(1),
                code: code.into(),
                name: code.to_uppercase(),
                feature_type: FeatureType::Consumption,
                max_consumptions: Some(5),
                allow_overages: false,
                max_overages: None,
                allow_negative: false,
                reset_period: ResetPeriod::Never,
                floating_seats: None,
                floating_lease_seconds: 60,
                metadata: serde_json::Value::Null,
            },
            created_at: 0,
        },
        overrides: FeatureOverrides {
            max_consumptions: Some(50),
            expires_at,
            ..FeatureOverrides::default()
        },
        consumption_used: 0,
        period_start: 0,
    }
}

const VALID: Result<Validity, Denial> = Ok(Validity {
    in_grace_period: false,
    maintenance_active: true,
});

fn plan(
    license: &License,
    device: Option<&Device>,
    validity: &Result<Validity, Denial>,
    fingerprint: &str,
    ttl: Option<i64>,
) -> Result<LicenceFileContents, Denial> {
    let product = product();
    let features = [
        feature("live", None),
        feature("gone", Some(NOW)),
        feature("later", Some(NOW + 1)),
    ];
    plan_licence_file(
        &LicenceFileState {
            product: &product,
            license,
            device,
            features: &features,
            validity,
            fingerprint,
        },
        ttl,
        NOW,
    )
}

#[test]
fn a_valid_activated_device_gets_the_terms_and_live_features() {
    let mut license = license();
    license.metadata = serde_json::json!({"edition": "pro"});
    let contents = plan(&license, Some(&device("fp", true)), &VALID, "fp", None).expect("issued");
    assert_eq!(contents.version, 1);
    assert_eq!(contents.issued_at, NOW);
    assert_eq!(contents.expires_at, NOW + DEFAULT_TTL_SECONDS * SECOND);
    assert_eq!(contents.fingerprint, "fp");
    assert_eq!(contents.license.id, 7);
    assert_eq!(contents.license.product, "app");
    assert_eq!(contents.license.metadata["edition"], "pro");
    let codes: Vec<&str> = contents.features.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["live", "later"]);
    assert_eq!(contents.features[0].max_consumptions, Some(50));
}

#[test]
fn the_file_never_outlives_the_licence_and_its_grace() {
    let mut license = license();
    license.expires_at = Some(NOW + HOUR);
    license.terms.grace_period_hours = 2;
    let contents = plan(&license, Some(&device("fp", true)), &VALID, "fp", Some(MAX_TTL_SECONDS)).expect("issued");
    assert_eq!(contents.expires_at, NOW + 3 * HOUR);
    let short = plan(&license, Some(&device("fp", true)), &VALID, "fp", Some(120)).expect("issued");
    assert_eq!(short.expires_at, NOW + 120 * SECOND);
}

#[test]
fn ttl_is_kept_within_bounds() {
    let license = license();
    let tiny = plan(&license, Some(&device("fp", true)), &VALID, "fp", Some(1)).expect("issued");
    assert_eq!(tiny.expires_at, NOW + MIN_TTL_SECONDS * SECOND);
    let huge = plan(&license, Some(&device("fp", true)), &VALID, "fp", Some(i64::MAX)).expect("issued");
    assert_eq!(huge.expires_at, NOW + MAX_TTL_SECONDS * SECOND);
}

#[test]
fn refusals_come_from_validation_then_the_activation() {
    let license = license();
    assert_eq!(
        plan(
            &license,
            Some(&device("fp", true)),
            &Err(Denial::LicenseExpired),
            "fp",
            None
        ),
        Err(Denial::LicenseExpired)
    );
    assert_eq!(
        plan(&license, None, &VALID, "fp", None),
        Err(Denial::DeviceNotActivated)
    );
    assert_eq!(
        plan(&license, Some(&device("fp", false)), &VALID, "fp", None),
        Err(Denial::DeviceNotActivated)
    );
    assert_eq!(
        plan(&license, Some(&device("other", true)), &VALID, "fp", None),
        Err(Denial::DeviceNotActivated)
    );
    assert_eq!(
        plan(&license, None, &VALID, " ", None),
        Err(Denial::FingerprintRequired)
    );
}
