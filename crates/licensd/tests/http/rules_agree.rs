//! Issue 14, "Done when": the rules that used to be copied into dialect handlers now have one
//! definition in licensd-domain, and every dialect that answers the same question about the same
//! state gives the answer that definition gives. One test per former disagreement:
//!
//! - (a) `access::IpRule`: three allow-list matchers treated IPv4-mapped IPv6 differently. Every
//!   dialect's credential is asked from the IPv4 peer 127.0.0.1 with the same allow-lists, in plain
//!   and mapped (`::ffff:…`) form; each is admitted exactly when `IpRule::matches` says so.
//! - (b) `rules::is_expired`: SLASCONE counted the grace period in "expired", LicenseSpring did
//!   not. The same three licences (in grace, past grace, expired without grace) are asked through
//!   the native API, LicenseSpring, SLASCONE, DNA and Key Manager.
//! - (c) `rules::feature_active`: feature expiry was re-implemented three times. The same licence
//!   with an expired, a still-running and an open-ended feature is asked through the native API,
//!   LicenseSpring (feature check and licence check) and SLASCONE.
//! - (d) `contact::is_plausible_email`: the native API took `a@b@c.com` and addresses of up to
//!   320 bytes, SLASCONE and DNA did not. The same addresses are sent to the native API (a
//!   customer's email), SLASCONE (a licence user) and DNA (`NewEmail`).
//!
//! No test clock exists in the harness: expiries are set hours away from now, so no boundary can
//! be crossed while a test runs. On SQLite and PostgreSQL.

use crate::harness::{SLASCONE_ISV, Server, backend_tests};
use crate::reliability_support::{Credential, licensespring_headers};
use licensd_domain::access::IpRule;
use licensd_domain::contact::{MAX_EMAIL_LEN, is_plausible_email};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};

const HOUR_MS: i64 = 3_600_000;
const PRODUCT: &str = "agree";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A client credential of `dialect` (`/v1/credentials`) with extra settings.
async fn credential(server: &Server, dialect: &str, extra: Value) -> Credential {
    let mut body = json!({"dialect": dialect, "name": format!("{dialect} agree")});
    if let (Some(target), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    let (status, created) = server.admin(Method::POST, "/v1/credentials", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    Credential {
        key_id: created["credential"]["key_id"].as_str().expect("key_id").to_string(),
        secret: created["secret"].as_str().expect("secret").to_string(),
        id: created["credential"]["id"].as_i64().expect("id"),
    }
}

/// A query string or form body of fields that need no escaping (keys, codes and credential secrets in these tests are URL-safe).
fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            assert!(
                value.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)),
                "{value:?} would need escaping"
            );
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

async fn finish(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request");
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    (status, parse(&bytes))
}

/// LicenseSpring `GET /api/v4/{endpoint}` signed with `cred`.
async fn ls_get(server: &Server, cred: &Credential, endpoint: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = server
        .http
        .get(server.url(&format!("/api/v4/{endpoint}?{}", encode(query))));
    for (name, value) in licensespring_headers(cred) {
        request = request.header(name, value);
    }
    finish(request).await
}

/// LicenseSpring `POST /api/v4/{endpoint}` signed with `cred`.
async fn ls_post(server: &Server, cred: &Credential, endpoint: &str, body: Value) -> (StatusCode, Value) {
    let mut request = server.http.post(server.url(&format!("/api/v4/{endpoint}"))).json(&body);
    for (name, value) in licensespring_headers(cred) {
        request = request.header(name, value);
    }
    finish(request).await
}

/// SLASCONE `POST /api/v2/isv/{isv}{path}` with `cred` as ProvisioningKey.
async fn sl_post(server: &Server, cred: &Credential, path: &str, body: Value) -> (StatusCode, Value) {
    let request = server
        .http
        .post(server.url(&format!("/api/v2/isv/{SLASCONE_ISV}{path}")))
        .header("ProvisioningKey", cred.joined())
        .json(&body);
    finish(request).await
}

/// DNA `GET /dna/v1/Licenses/{product}/{key}/Status` with `cred` in Basic auth.
async fn dna_status(server: &Server, cred: &Credential, key: &str) -> (StatusCode, Value) {
    let request = server
        .http
        .get(server.url(&format!("/dna/v1/Licenses/{PRODUCT}/{key}/Status")))
        .basic_auth(&cred.key_id, Some(&cred.secret));
    finish(request).await
}

/// Key Manager `POST /api/v1/verify` (form, `api_key` among the fields): HTTP status and the
/// envelope's `response.code`.
async fn km_verify(server: &Server, cred: &Credential, key: &str) -> (StatusCode, i64) {
    let api_key = cred.joined();
    let form = [
        ("license_key", key),
        ("identifier", "host-1"),
        ("api_key", api_key.as_str()),
    ];
    let request = server
        .http
        .post(server.url("/api/v1/verify"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&form));
    let (status, body) = finish(request).await;
    let code = body["response"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("Key Manager envelope without a code: {status} {body}"));
    (status, code)
}

/// Native client API `POST /v1/licenses/actions/validate`: the verdict code.
async fn native_validate(server: &Server, key: &str) -> (StatusCode, Value) {
    let (status, body, _, _) = server
        .client_post(
            "/v1/licenses/actions/validate",
            json!({"key": key, "fingerprint": "host-1"}),
        )
        .await;
    (status, body)
}

async fn patch_license(server: &Server, id: i64, body: Value) {
    let (status, answer) = server
        .admin(Method::PATCH, &format!("/v1/licenses/{id}"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// The allow-lists asked in (a), each with the answer the rule must give for 127.0.0.1 (written
/// out, so a change of the domain rule itself is noticed here too).
const IP_CASES: &[(&str, bool)] = &[
    ("127.0.0.1", true),
    ("127.0.0.0/8", true),
    ("::ffff:127.0.0.1", true),
    ("::ffff:127.0.0.1/128", true),
    ("::ffff:127.0.0.0/104", true),
    ("192.0.2.7", false),
    ("::ffff:192.0.2.7", false),
    ("::ffff:192.0.2.0/120", false),
    ("::1", false),
];

backend_tests! {
    async fn ip_allow_lists_agree_with_ip_rule_in_every_dialect(server) {
        let product_id = server.product(PRODUCT).await;
        server.license(product_id, "AGREE-IP-1", json!({"max_activations": 5})).await;
        let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for (rule, expected) in IP_CASES {
            let allowed = IpRule::parse(rule).expect("rule parses").matches(peer);
            assert_eq!(allowed, *expected, "the domain rule for {rule} and 127.0.0.1");
            let allowlist = json!({"ip_allowlist": [rule]});

            let cred = credential(&server, "licensespring", allowlist.clone()).await;
            let (status, body) = ls_get(&server, &cred, "product_details", &[("product", PRODUCT)]).await;
            if allowed {
                assert_eq!(status, StatusCode::OK, "LicenseSpring {rule}: {body}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "LicenseSpring {rule}: {body}");
                assert_eq!(body["code"], "authentication_failure", "LicenseSpring {rule}: {body}");
                assert_eq!(body["message"], "this API key may not be used from this address", "LicenseSpring {rule}");
            }

            let cred = credential(&server, "keymanager", allowlist.clone()).await;
            let answer = km_verify(&server, &cred, "AGREE-IP-1").await;
            // 202: admitted, and no activation yet for the identifier; 103: the address refused.
            let expected = if allowed { (StatusCode::OK, 202) } else { (StatusCode::UNAUTHORIZED, 103) };
            assert_eq!(answer, expected, "Key Manager {rule}");

            let cred = credential(&server, "slascone", allowlist.clone()).await;
            let (status, body) = sl_post(&server, &cred, "/provisioning/validate", json!({"license_key": "AGREE-IP-1"})).await;
            if allowed {
                assert_eq!(status, StatusCode::OK, "SLASCONE {rule}: {body}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "SLASCONE {rule}: {body}");
                assert_eq!(body["detail"], "the ProvisioningKey may not be used from this address", "SLASCONE {rule}: {body}");
            }

            let cred = credential(&server, "dna", allowlist.clone()).await;
            let (status, body) = dna_status(&server, &cred, "AGREE-IP-1").await;
            if allowed {
                assert_eq!(status, StatusCode::OK, "DNA {rule}: {body}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "DNA {rule}: {body}");
                assert_eq!(body["Message"], "The apiKey may not be used from this address", "DNA {rule}: {body}");
            }
        }
    }

    async fn expiry_with_grace_agrees_with_is_expired_in_every_dialect(server) {
        let product_id = server.product(PRODUCT).await;
        let ls = credential(&server, "licensespring", json!({})).await;
        let km = credential(&server, "keymanager", json!({})).await;
        let sl = credential(&server, "slascone", json!({})).await;
        let dna = credential(&server, "dna", json!({})).await;
        let now = now_ms();
        // (key, grace hours, expiry relative to now, expired by `rules::is_expired`)
        let cases: [(&str, i64, i64, bool); 4] = [
            ("AGREE-GRACE", 48, -HOUR_MS, false),
            ("AGREE-PAST-GRACE", 48, -49 * HOUR_MS, true),
            ("AGREE-NO-GRACE", 0, -HOUR_MS, true),
            ("AGREE-RUNNING", 0, HOUR_MS, false),
        ];
        for (key, grace, offset, expired) in cases {
            let id = server
                .license(product_id, key, json!({"max_activations": 5, "grace_period_hours": grace}))
                .await;
            // Activated while valid (LicenseSpring checks a device), then moved to its expiry.
            let ident = json!({"product": PRODUCT, "hardware_id": "host-1", "license_key": key});
            let (status, body) = ls_post(&server, &ls, "activate_license", ident).await;
            assert_eq!(status, StatusCode::OK, "{key}: {body}");
            patch_license(&server, id, json!({"expires_at": now + offset})).await;

            let (status, verdict) = native_validate(&server, key).await;
            assert_eq!(status, StatusCode::OK, "{key}: {verdict}");
            assert_eq!(verdict["code"], if expired { "LICENSE_EXPIRED" } else { "VALID" }, "native {key}: {verdict}");
            assert_eq!(verdict["valid"], !expired, "native {key}: {verdict}");

            let query = [("product", PRODUCT), ("hardware_id", "host-1"), ("license_key", key)];
            let (status, body) = ls_get(&server, &ls, "check_license", &query).await;
            assert_eq!(status, StatusCode::OK, "LicenseSpring {key}: {body}");
            assert_eq!(body["is_expired"], expired, "LicenseSpring {key}: {body}");

            let (status, body) = sl_post(&server, &sl, "/provisioning/validate", json!({"license_key": key})).await;
            assert_eq!(status, StatusCode::OK, "SLASCONE {key}: {body}");
            assert_eq!(body["is_license_expired"], expired, "SLASCONE {key}: {body}");
            assert_eq!(body["is_license_valid"], !expired, "SLASCONE {key}: {body}");

            // DNA's status keywords (`status_keywords`): an expired licence is EXPIRED, not ACTIVATED VALID.
            let (status, body) = dna_status(&server, &dna, key).await;
            let keywords = if expired { "EXISTS ACTIVATION EXPIRED" } else { "EXISTS ACTIVATION ACTIVATED VALID" };
            assert_eq!((status, body), (StatusCode::OK, json!({"Status": keywords})), "DNA {key}");

            // 205 expired; 200 valid (host-1 is the device LicenseSpring activated).
            let answer = km_verify(&server, &km, key).await;
            assert_eq!(answer, (StatusCode::OK, if expired { 205 } else { 200 }), "Key Manager {key}");
        }
    }

    async fn feature_expiry_agrees_with_feature_active_in_every_dialect(server) {
        let product_id = server.product(PRODUCT).await;
        for code in ["gone", "running", "open"] {
            let (status, body) = server
                .admin(Method::POST, "/v1/features", Some(json!({"product_id": product_id, "code": code, "name": code})))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let now = now_ms();
        // (code, its own expiry, active by `rules::feature_active`)
        let cases: [(&str, Option<i64>, bool); 3] = [
            ("gone", Some(now - HOUR_MS), false),
            ("running", Some(now + HOUR_MS), true),
            ("open", None, true),
        ];
        let grants: Vec<Value> = cases
            .iter()
            .map(|(code, at, _)| json!({"code": code, "overrides": {"expires_at": at}}))
            .collect();
        let (status, body) = server
            .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product_id, "key": "AGREE-FEAT", "terms": {"max_activations": 5}, "features": grants})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let ls = credential(&server, "licensespring", json!({})).await;
        let sl = credential(&server, "slascone", json!({})).await;
        let ident = json!({"product": PRODUCT, "hardware_id": "host-1", "license_key": "AGREE-FEAT"});
        let (status, body) = ls_post(&server, &ls, "activate_license", ident).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let (status, verdict) = native_validate(&server, "AGREE-FEAT").await;
        assert_eq!(status, StatusCode::OK, "{verdict}");
        let query = [("product", PRODUCT), ("hardware_id", "host-1"), ("license_key", "AGREE-FEAT")];
        let (status, checked) = ls_get(&server, &ls, "check_license", &query).await;
        assert_eq!(status, StatusCode::OK, "{checked}");
        let (status, validated) = sl_post(&server, &sl, "/provisioning/validate", json!({"license_key": "AGREE-FEAT"})).await;
        assert_eq!(status, StatusCode::OK, "{validated}");

        for (code, _, active) in cases {
            let native_listed = verdict["license"]["features"]
                .as_array()
                .unwrap_or_else(|| panic!("native features: {verdict}"))
                .iter()
                .any(|f| f == code);
            assert_eq!(native_listed, active, "native {code}: {verdict}");

            let listed = checked["product_features"]
                .as_array()
                .unwrap_or_else(|| panic!("LicenseSpring product_features: {checked}"))
                .iter()
                .any(|f| f["code"] == code);
            assert_eq!(listed, active, "LicenseSpring check_license {code}: {checked}");

            let mut query = query.to_vec();
            query.push(("feature", code));
            let (status, body) = ls_get(&server, &ls, "check_license_feature", &query).await;
            if active {
                assert_eq!(status, StatusCode::OK, "LicenseSpring check_license_feature {code}: {body}");
            } else {
                assert_eq!(status, StatusCode::BAD_REQUEST, "LicenseSpring check_license_feature {code}: {body}");
                assert_eq!(body["code"], "invalid_license_feature_code", "LicenseSpring {code}: {body}");
            }

            let feature = validated["features"]
                .as_array()
                .unwrap_or_else(|| panic!("SLASCONE features: {validated}"))
                .iter()
                .find(|f| f["name"] == code)
                .unwrap_or_else(|| panic!("SLASCONE lists {code}: {validated}"));
            assert_eq!(feature["is_active"], active, "SLASCONE {code}: {validated}");
        }
    }

    async fn email_checks_agree_with_is_plausible_email_in_every_dialect(server) {
        let product_id = server.product(PRODUCT).await;
        let license_id = server
            .license(product_id, "AGREE-MAIL", json!({"max_activations": 5, "max_users": 10}))
            .await;
        let dna = credential(&server, "dna", json!({})).await;
        let at_most = format!("{}@example.com", "m".repeat(MAX_EMAIL_LEN - "@example.com".len()));
        let one_over = format!("o{at_most}");
        // (address, plausible by `contact::is_plausible_email`), written out so that a change of
        // the domain rule itself is noticed here too.
        let cases = [
            ("ann@example.com", true),
            (at_most.as_str(), true),
            ("ann@b@example.com", false),
            (one_over.as_str(), false),
            ("ann@example", false),
        ];
        for (n, (email, plausible)) in cases.into_iter().enumerate() {
            assert_eq!(is_plausible_email(email), plausible, "{email}");

            let (status, body) = server
                .admin(Method::POST, "/v1/customers", Some(json!({"name": format!("agree {n}"), "email": email})))
                .await;
            let expected = if plausible { StatusCode::CREATED } else { StatusCode::UNPROCESSABLE_ENTITY };
            assert_eq!(status, expected, "native {email}: {body}");

            let users = format!("/api/v2/isv/{SLASCONE_ISV}/licenses/00000000-0000-8000-8000-{license_id:012x}/users");
            let request = server
                .http
                .post(server.url(&users))
                .header("AdminKey", crate::harness::ADMIN_TOKEN)
                .json(&json!({"user_id": email}));
            let (status, body) = finish(request).await;
            if plausible {
                assert_eq!(status, StatusCode::OK, "SLASCONE {email}: {body}");
            } else {
                let refused = json!({"id": 1012, "message": "Invalid email-address.", "help": null});
                assert_eq!((status, body), (StatusCode::CONFLICT, refused), "SLASCONE {email}");
            }

            let request = server
                .http
                .patch(server.url(&format!("/dna/v1/Licenses/{PRODUCT}/AGREE-MAIL")))
                .basic_auth(&dna.key_id, Some(&dna.secret))
                .json(&json!({"NewEmail": email, "UserIp": "192.0.2.1"}));
            let (status, body) = finish(request).await;
            if plausible {
                assert_eq!(status, StatusCode::OK, "DNA {email}: {body}");
            } else {
                let refused = json!({"Message": "Invalid NewEmail format"});
                assert_eq!((status, body), (StatusCode::BAD_REQUEST, refused), "DNA {email}");
            }
        }
    }
}
