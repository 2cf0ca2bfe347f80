//! Micro-benchmarks of the CPU work inside one licensd request, without HTTP or a database:
//! the domain rules, building the response bodies, signing them, the signature cache and the
//! LicenseSpring HMAC check. They say how much of a request's cost is cryptography and how much
//! is everything else, which the end-to-end figures of `bench/run` cannot separate.
//!
//!     cargo bench -p licensd-bench --bench micro      (or: bench/run --micro)
//!
//! Every benchmark calls the server's own functions (some are public only for this file, see the
//! `#[doc(hidden)]` items in licensd-server) on one realistic license: a time-limited license with
//! three features, a customer, metadata and an activated device. Nothing here asserts a time; the
//! few `assert!`s check that the inputs are what a real request would see, so a figure is never
//! measured on a refusal or an empty body by accident.

#![allow(
    clippy::expect_used,
    reason = "a benchmark harness: a fixture that fails to build aborts the run, like a failed test"
)]

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use licensd_crypto::{Algorithm, MasterKey, SigningKey, b64, constant_time_eq};
use licensd_domain::clock::{DAY, HOUR};
use licensd_domain::rules::{self, ActivationPlan, ActivationState, DeviceState};
use licensd_domain::{Customer, Denial, Device, DeviceInfo, FloatingLease, License, LicenseFeature, Millis, Product};
use licensd_server::KeyRing;
use licensd_server::dialects::licensespring::{auth, render};
use licensd_server::native::client::{LicenseSummary, ValidateResponse};
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};

fn main() {
    // Build the fixtures and keys (RSA-4096 generation takes seconds) before any timing starts,
    // so no benchmark's first sample pays for them.
    let f = &*FIXTURE;
    LazyLock::force(&KEYS);
    LazyLock::force(&KEY_RING);
    eprintln!(
        "sizes: signed body {} bytes, native validate answer {} bytes, LicenseSpring license object {} bytes",
        BODY.len(),
        native_validate_body(f, true).len(),
        ls_license_body(f, &b64(&[0x5a; 256])).len(),
    );
    divan::main();
}

/// 2026-11-23T09:00:00Z: every rule and renderer gets this instant, as the server's clock would.
const NOW: Millis = 1_795_424_400_000;
const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const LICENSE_KEY: &str = "LD-7KQ2-M9XW-R4TB-H8NC";

/// The state a validation of an activated device loads: product, license, features, device.
struct Fixture {
    product: Product,
    license: License,
    features: Vec<LicenseFeature>,
    device: Device,
    customer: Customer,
}

// Built from JSON rather than struct literals so fields other work adds to the model later (with
// serde defaults) do not break the benchmarks.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    fn from<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).expect("fixture matches the domain model")
    }
    let feature = |id: i64, code: &str, name: &str, kind: &str, max: Value| {
        json!({
            "definition": {
                "id": id, "product_id": 1, "code": code, "name": name, "feature_type": kind,
                "max_consumptions": max, "allow_overages": false, "max_overages": null,
                "allow_negative": false, "reset_period": "monthly", "floating_seats": null,
                "floating_lease_seconds": 1800, "metadata": {}, "created_at": NOW - 90 * DAY
            },
            "overrides": {},
            "consumption_used": 17,
            "period_start": NOW - 22 * DAY
        })
    };
    Fixture {
        product: from(json!({
            "id": 1, "code": "cad-pro", "name": "CAD Pro", "auth_method": "key", "status": "active",
            "trial_allowed": true, "trial_days": 14, "metadata": {"family": "cad"},
            "created_at": NOW - 400 * DAY, "updated_at": NOW - 30 * DAY
        })),
        license: from(json!({
            "id": 4711, "product_id": 1, "policy_id": 3, "customer_id": 12, "key": LICENSE_KEY,
            "status": "active", "assignment": "assigned",
            "terms": {
                "license_type": "time_limited", "kind": "normal", "max_activations": 5,
                "max_transfers": 3, "grace_period_hours": 72, "vm_allowed": false
            },
            "starts_at": NOW - 60 * DAY, "expires_at": NOW + 305 * DAY,
            "maintenance_expires_at": NOW + 305 * DAY, "trial_days": null,
            "transfer_count": 1, "deactivation_count": 1, "consumption_used": 0,
            "consumption_period_start": NOW - 60 * DAY, "order_ref": "ORD-2026-000418",
            "metadata": {"edition": "professional", "seats_purchased": 5, "reseller": "acme"},
            "created_at": NOW - 60 * DAY, "updated_at": NOW - 2 * DAY
        })),
        features: vec![
            from(feature(21, "export-step", "STEP export", "activation", Value::Null)),
            from(feature(22, "render-gpu", "GPU rendering", "activation", Value::Null)),
            from(feature(
                23,
                "cloud-solver",
                "Cloud solver minutes",
                "consumption",
                json!(600),
            )),
        ],
        device: from(json!({
            "id": 90210, "license_id": 4711, "fingerprint": FINGERPRINT, "name": "workstation-07",
            "hostname": "ws07.design.example", "os": "Windows 11 23H2", "app_version": "12.4.1",
            "ip": "192.0.2.41", "mac": "00:1a:2b:3c:4d:5e", "is_vm": false, "user_id": null,
            "variables": {"gpu": "RTX 4000"}, "activated_at": NOW - 59 * DAY,
            "last_seen_at": NOW - HOUR, "deactivated_at": null
        })),
        customer: from(json!({
            "id": 12, "email": "it@design.example", "name": "Dana Engineer",
            "company": "Design Works", "reference": "CRM-8841", "metadata": {}, "created_at": NOW - 70 * DAY
        })),
    }
});

/// The native validate answer for the fixture, as `native::client::validate` builds it; with a
/// fingerprint the answer carries the device object too.
fn native_validate_body(f: &Fixture, with_device: bool) -> Vec<u8> {
    let validity = rules::validate(
        &f.product,
        &f.license,
        DeviceState {
            fingerprint: with_device.then_some(FINGERPRINT),
            device: Some(&f.device),
            blocked: false,
        },
        NOW,
    )
    .expect("the fixture validates");
    let response = ValidateResponse {
        valid: true,
        code: "VALID".to_string(),
        detail: "license is valid".to_string(),
        in_grace_period: validity.in_grace_period,
        maintenance_active: validity.maintenance_active,
        license: Some(LicenseSummary::new(&f.product, &f.license, &f.features, 2)),
        device: with_device.then(|| f.device.clone()),
        checked_at: NOW,
        nonce: Some("c2b7e0f4a1d94e8b".to_string()),
    };
    serde_json::to_vec(&response).expect("serialisable")
}

/// The LicenseSpring license object for the fixture (without `license_signature`).
fn ls_license_object(f: &Fixture) -> serde_json::Map<String, Value> {
    let leases: [FloatingLease; 0] = [];
    render::license(&render::LicenseView {
        product: &f.product,
        license: &f.license,
        features: &f.features,
        customer: Some(&f.customer),
        device: Some(&f.device),
        hardware_id: FINGERPRINT,
        active_devices: 2,
        leases: &leases,
        now: NOW,
    })
}

/// The message of LicenseSpring's v1 `license_signature` field (as `wire::v1_signature` forms it).
fn ls_v1_message(license: &License) -> String {
    let validity = render::validity_period(license);
    format!(
        "{FINGERPRINT}#{}#{}",
        license.key.as_deref().unwrap_or(""),
        validity.as_deref().unwrap_or("")
    )
    .to_lowercase()
}

/// The bytes every signing benchmark signs: the native validate answer to a check without a
/// fingerprint (no device object), ~600 bytes like the answers of the issue's reference figures.
static BODY: LazyLock<Vec<u8>> = LazyLock::new(|| native_validate_body(&FIXTURE, false));

/// The LicenseSpring check_license body: the license object with its v1 `license_signature`
/// field, as compact JSON.
fn ls_license_body(f: &Fixture, v1_signature: &str) -> Vec<u8> {
    let mut object = ls_license_object(f);
    object.insert("license_signature".into(), json!(v1_signature));
    serde_json::to_vec(&Value::Object(object)).expect("serialisable")
}

/// One key per algorithm; RSA-4096 generation takes seconds, so only once.
static KEYS: LazyLock<[SigningKey; 3]> = LazyLock::new(|| {
    [Algorithm::Ed25519, Algorithm::Rsa2048, Algorithm::Rsa4096]
        .map(|alg| SigningKey::generate(alg).expect("key generation"))
});

fn key(alg: Algorithm) -> &'static SigningKey {
    match alg {
        Algorithm::Ed25519 => &KEYS[0],
        Algorithm::Rsa2048 => &KEYS[1],
        Algorithm::Rsa4096 => &KEYS[2],
    }
}

/// The server's real key ring, loaded the way `licensd serve` loads it (from a store, here an
/// in-memory SQLite database), so the cache benchmark runs `KeyRing::sign_cached` itself.
static KEY_RING: LazyLock<KeyRing> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let master = MasterKey::generate().expect("master key");
        let codec = Arc::new(licensd_server::CryptoCodec::new(&master));
        let store = licensd_store::connect("sqlite::memory:", codec, 1, licensd_store::SqliteSynchronous::default())
            .await
            .expect("in-memory store");
        store.migrate(NOW).await.expect("migrations");
        KeyRing::load(store.as_ref(), Algorithm::Rsa2048, NOW)
            .await
            .expect("key ring")
    })
});

mod domain {
    use super::*;

    /// `rules::validate` for an activated device: the verdict of every validation.
    #[divan::bench]
    fn validate_activated_device() -> bool {
        let f = &*FIXTURE;
        rules::validate(
            black_box(&f.product),
            black_box(&f.license),
            DeviceState {
                fingerprint: Some(black_box(FINGERPRINT)),
                device: Some(black_box(&f.device)),
                blocked: false,
            },
            black_box(NOW),
        )
        .is_ok()
    }

    /// `rules::validate` refusing an unknown device (the most common refusal).
    #[divan::bench]
    fn validate_unknown_device() -> bool {
        let f = &*FIXTURE;
        let verdict = rules::validate(
            black_box(&f.product),
            black_box(&f.license),
            DeviceState {
                fingerprint: Some(black_box("0000-unknown-device")),
                device: None,
                blocked: false,
            },
            black_box(NOW),
        );
        assert_eq!(verdict, Err(Denial::DeviceNotActivated));
        true
    }

    /// `rules::plan_activation` for a new device on a license with 2 of 5 seats used, after an
    /// earlier deactivation (so the plan is a transfer and checks the transfer limit too).
    #[divan::bench]
    fn plan_activation_new_device(bencher: Bencher) {
        let f = &*FIXTURE;
        let device = DeviceInfo {
            fingerprint: "b1946ac92492d2347c6235b4d2611184".to_string(),
            name: Some("laptop-12".to_string()),
            hostname: Some("lt12.design.example".to_string()),
            os: Some("macOS 15.1".to_string()),
            app_version: Some("12.4.1".to_string()),
            ip: Some("192.0.2.77".to_string()),
            mac: None,
            is_vm: false,
            variables: None,
        };
        let mut license = f.license.clone();
        license.deactivation_count = 2;
        let state = ActivationState {
            product: &f.product,
            license: &license,
            device: &device,
            existing: None,
            blocked: false,
            active_devices: 2,
            user_active_devices: None,
            recent_activations: 0,
        };
        assert!(matches!(
            rules::plan_activation(&state, NOW),
            Ok(ActivationPlan::Activate { is_transfer: true, .. })
        ));
        bencher.bench(|| rules::plan_activation(black_box(&state), black_box(NOW)));
    }
}

mod response {
    use super::*;

    /// The native validate answer with its device object: `rules::validate`,
    /// `LicenseSummary::new`, `ValidateResponse` → compact JSON.
    #[divan::bench]
    fn native_validate_body(bencher: Bencher) {
        let f = &*FIXTURE;
        bencher
            .counter(BytesCount::of_slice(&super::native_validate_body(f, true)))
            .bench(|| super::native_validate_body(black_box(f), true));
    }

    /// LicenseSpring's license object: `render::license` + `license_signature` field → compact JSON.
    #[divan::bench]
    fn ls_license_object(bencher: Bencher) {
        let f = &*FIXTURE;
        // A real base64 RSA-2048 signature's length, so the serialised size is the real one.
        let v1 = b64(&[0x5a; 256]);
        bencher
            .counter(BytesCount::of_slice(&ls_license_body(f, &v1)))
            .bench(|| ls_license_body(black_box(f), black_box(&v1)));
    }
}

mod signing {
    use super::*;

    const ALGORITHMS: [Algorithm; 3] = [Algorithm::Ed25519, Algorithm::Rsa2048, Algorithm::Rsa4096];

    /// One signature over the ~600-byte answer (PKCS#1 v1.5 SHA-256 for RSA), via licensd-crypto.
    #[divan::bench(args = ALGORITHMS)]
    fn sign(bencher: Bencher, alg: Algorithm) {
        let key = key(alg);
        let body = BODY.as_slice();
        bencher
            .counter(BytesCount::of_slice(body))
            .bench(|| key.sign(black_box(body)).expect("signs"));
    }

    /// `KeyRing::sign_cached` when these bytes were signed before: SHA-256 of the body plus a
    /// locked map lookup instead of the signature.
    #[divan::bench(args = [Algorithm::Ed25519, Algorithm::Rsa2048])]
    fn sign_cached_hit(bencher: Bencher, alg: Algorithm) {
        let ring = &*KEY_RING;
        let key = if alg == Algorithm::Ed25519 {
            ring.ed25519()
        } else {
            ring.rsa()
        };
        let body = BODY.as_slice();
        let first = ring.sign_cached(&key, body).expect("signs");
        key.public_key().verify(body, &first).expect("a real signature");
        bencher
            .counter(BytesCount::of_slice(body))
            .bench(|| ring.sign_cached(&key, black_box(body)).expect("signs"));
    }

    /// The signature check a client makes (for scale: servers never verify their own answers).
    #[divan::bench(args = ALGORITHMS)]
    fn verify(bencher: Bencher, alg: Algorithm) {
        let key = key(alg);
        let public = key.public_key();
        let body = BODY.as_slice();
        let signature = key.sign(body).expect("signs");
        bencher.bench(|| public.verify(black_box(body), black_box(&signature)).is_ok());
    }
}

mod licensespring {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    const API_KEY: &str = "3f1c9a52-6b7e-4d0a-9c21-5e8f7a6b4c3d";
    const SHARED_KEY: &str = "V9pQ2xLr7s0TqWc4ZbYh8NfKjD1mUe6A";

    /// The HMAC authorization check of every License API request, without its credential lookup
    /// (a store query): parse `Authorization`, parse `Date`, build the signed string, HMAC-SHA256,
    /// base64 and compare in constant time — the steps of `auth::authenticate`, in its order.
    #[divan::bench]
    fn hmac_authorization_check(bencher: Bencher) {
        let date = auth::http_date(NOW);
        let mut headers = HeaderMap::new();
        headers.insert("date", HeaderValue::from_str(&date).expect("header"));
        let signature = auth::hmac_b64(SHARED_KEY, &format!("licenseSpring\ndate: {date}"));
        let authorization =
            format!(r#"algorithm="hmac-sha256",headers="date",signature="{signature}",apiKey="{API_KEY}""#);
        headers.insert("authorization", HeaderValue::from_str(&authorization).expect("header"));
        let check = |headers: &HeaderMap| -> bool {
            let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
                return false;
            };
            let Ok(params) = auth::parse_authorization(value) else {
                return false;
            };
            let (Some(signature), Some(signed)) = (params.signature, params.headers) else {
                return false;
            };
            let names: Vec<String> = signed.split_whitespace().map(str::to_ascii_lowercase).collect();
            if headers
                .get("date")
                .and_then(|v| v.to_str().ok())
                .and_then(auth::parse_http_date)
                .is_none()
            {
                return false;
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let Ok(message) = auth::signing_string(&names, headers) else {
                return false;
            };
            let expected = auth::hmac_b64(SHARED_KEY, &message);
            constant_time_eq(expected.as_bytes(), signature.as_bytes())
        };
        assert!(check(&headers), "the request authenticates");
        bencher.bench(|| check(black_box(&headers)));
    }
}

/// The CPU of a whole answer after the store has spoken: body, signature(s), base64.
mod answer {
    use super::*;

    /// Native validate of a device: build the body, sign it with Ed25519 (uncached), base64 the
    /// signature.
    #[divan::bench]
    fn native_validate_signed() -> (Vec<u8>, String) {
        let body = super::native_validate_body(black_box(&FIXTURE), true);
        let signature = b64(&key(Algorithm::Ed25519).sign(&body).expect("signs"));
        (body, signature)
    }

    /// LicenseSpring check_license: license object, v1 `license_signature` (RSA-2048), compact
    /// JSON, then the RSA-2048 `LicenseSignature` over the body — two RSA signatures per answer.
    #[divan::bench]
    fn ls_check_license_signed() -> (Vec<u8>, String) {
        let f = black_box(&*FIXTURE);
        let rsa = key(Algorithm::Rsa2048);
        let v1 = rsa.sign(ls_v1_message(&f.license).as_bytes()).expect("signs");
        let body = ls_license_body(f, &b64(&v1));
        let signature = b64(&rsa.sign(&body).expect("signs"));
        (body, signature)
    }
}
