//! Issue 12: the DNA dialect as DNA's documents and .NET-style clients expect (the 401 challenge,
//! `UserIp` wherever the reference carries it, the activation clock of EVALUATION and TEST codes).

use super::*;
use licensd_domain::clock::to_rfc3339;

const CHALLENGE: &str = "Basic realm=\"DNA\", charset=\"UTF-8\"";
const DAY: i64 = 86_400_000;

/// Basic credentials (clientId, apiKey), or none.
type Auth<'a> = Option<(&'a str, &'a str)>;

fn challenge(headers: &HeaderMap) -> Option<&str> {
    headers.get("www-authenticate").and_then(|v| v.to_str().ok())
}

/// The license's `expires_at` and its one device's `activated_at`, from the native API.
async fn expiry_and_activation(server: &Server, id: i64) -> (Option<i64>, i64) {
    let (status, license) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{license}");
    let (status, devices) = server
        .admin(Method::GET, &format!("/v1/licenses/{id}/devices"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{devices}");
    let devices = devices
        .as_array()
        .cloned()
        .or_else(|| devices["data"].as_array().cloned())
        .expect("devices");
    assert_eq!(devices.len(), 1, "{devices:?}");
    (
        license["expires_at"].as_i64(),
        devices[0]["activated_at"].as_i64().expect("activated_at"),
    )
}

backend_tests! {
    async fn dna_401_answers_carry_the_basic_challenge(server) {
        let product_id = server.product("P1").await;
        license(&server, json!({"product_id": product_id, "key": "CODE-1"})).await;
        let dna = client(&server).await;
        let path = "/dna/v1/Licenses/P1/CODE-1/status";
        let (revoked_id, revoked_key, revoked) = credential(&server, json!({})).await;
        let (status, _) = server.admin(Method::POST, &format!("/v1/credentials/{revoked}/revoke"), Some(json!({}))).await;
        assert_eq!(status, StatusCode::OK);
        let (far_id, far_key, _) = credential(&server, json!({"ip_allowlist": ["192.0.2.0/24"]})).await;
        let (ro_id, ro_key, _) = credential(&server, json!({"read_only": true})).await;
        let other_id = server.product("P2").await;
        let (scoped_id, scoped_key, _) = credential(&server, json!({"product_id": other_id})).await;
        let cases: Vec<(&str, Method, &str, Auth)> = vec![
            ("no Authorization", Method::GET, path, None),
            ("wrong apiKey", Method::GET, path, Some((&dna.client_id, "wrong"))),
            ("unknown clientId", Method::GET, path, Some(("nobody", &dna.api_key))),
            ("revoked", Method::GET, path, Some((&revoked_id, &revoked_key))),
            ("outside the IP allow-list", Method::GET, path, Some((&far_id, &far_key))),
            ("read-only on a write", Method::PATCH, "/dna/v1/Licenses/P1/CODE-1", Some((&ro_id, &ro_key))),
            ("scoped to another product", Method::GET, path, Some((&scoped_id, &scoped_key))),
        ];
        for (why, method, path, auth) in cases {
            let (status, body, headers) = call_as(&server, method, path, auth, Some(json!({"NewEmail": "a@example.com", "UserIp": "192.0.2.1"}))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
            assert_eq!(challenge(&headers), Some(CHALLENGE), "{why}");
            assert!(body["Message"].is_string(), "{why}: {body}");
        }
        // A malformed header and a Bearer token are challenged too.
        for value in ["Basic !!!", "Bearer token"] {
            let response = server.http.get(server.url(path)).header("Authorization", value).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
            assert_eq!(challenge(response.headers()), Some(CHALLENGE), "{value}");
        }
        // Other answers carry no challenge.
        for path in [path, "/dna/v1/Licenses/P1/NOPE/status"] {
            let (status, _, headers) = dna.call(Method::GET, path, None).await;
            assert_ne!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(challenge(&headers), None, "{path}");
        }
    }

    async fn dna_user_ip_is_required_wherever_documented(server) {
        let product_id = server.product("APP").await;
        let (status, feature) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product_id, "code": "exports", "name": "Exports", "feature_type": "consumption", "max_consumptions": 10}))).await;
        assert_eq!(status, StatusCode::CREATED, "{feature}");
        let id = license(&server, json!({"product_id": product_id, "key": "IP-1", "terms": {"license_type": "consumption", "max_activations": 5, "consumption": {"max_consumptions": 100}}, "features": [{"code": "exports"}]})).await;
        license(&server, json!({"product_id": product_id, "key": "MU-1", "terms": {"max_activations": 5, "max_activations_per_user": 1}})).await;
        set_password(&server, id, "secret-1").await;
        activate(&server, "IP-1", "m1").await;
        let dna = client(&server).await;
        let before = dna.get("/dna/v1/Licenses/APP/IP-1").await;
        assert_eq!(before.0, StatusCode::OK);
        let credits_before = dna.get("/dna/v1/credits/APP/IP-1?UserIp=192.0.2.1").await;
        assert_eq!(credits_before.0, StatusCode::OK);

        // Every call whose documented body carries UserIp (reference/dna-api.md §1.3) refuses
        // a request without it, or with a blank one, before doing anything.
        let calls: Vec<(Method, &str, Value)> = vec![
            (Method::POST, "/dna/v1/Licenses/APP/IP-1", json!({"LicensePassword": "secret-1"})),
            (Method::PATCH, "/dna/v1/Licenses/APP/IP-1", json!({"NewEmail": "new@example.com", "NewLicenseData": "x"})),
            (Method::POST, "/dna/v1/Licenses/APP/IP-1/password", json!({"LicensePassword": "secret-1", "NewPassword": "secret-2"})),
            (Method::POST, "/dna/v1/Licenses/APP/MU-1/adminpassword", json!({"AdminPassword": "MU-1", "NewAdminPassword": "adm-1"})),
            (Method::POST, "/dna/v1/Licenses/APP/IP-1/passrecovery", json!({"SendDnaEmail": false})),
            (Method::POST, "/dna/v1/Licenses/APP/MU-1/admin/passrecovery", json!({"SendDnaEmail": false})),
            (Method::DELETE, "/dna/v1/Licenses/APP/IP-1/m1", json!({})),
            (Method::GET, "/dna/v1/credits/APP/IP-1", json!({"Target": "LICENSE"})),
            (Method::POST, "/dna/v1/Credits/APP/IP-1/consume", json!({"Name": "Credits", "Count": 5, "Target": "LICENSE"})),
        ];
        for (method, path, body) in &calls {
            for user_ip in [None, Some(""), Some("  ")] {
                let mut body = body.clone();
                if let Some(ip) = user_ip {
                    body["UserIp"] = json!(ip);
                }
                let (status, answer) = dna.send(method.clone(), path, body.clone()).await;
                assert_eq!((status, answer), (StatusCode::BAD_REQUEST, message("UserIp is required")), "{method} {path} {body}");
            }
            let mut body = body.clone();
            body["UserIp"] = json!("not-an-ip");
            let (status, answer) = dna.send(method.clone(), path, body).await;
            assert_eq!((status, answer), (StatusCode::BAD_REQUEST, message("Invalid UserIp format")), "{method} {path}");
        }
        // The GET without a body carries it in the query string.
        let (status, answer) = dna.get("/dna/v1/credits/APP/IP-1?Target=LICENSE").await;
        assert_eq!((status, answer), (StatusCode::BAD_REQUEST, message("UserIp is required")));
        // Nothing changed: same details (device still there, email and data unset), same credits,
        // the old password still works.
        assert_eq!(dna.get("/dna/v1/Licenses/APP/IP-1").await, before);
        assert_eq!(dna.get("/dna/v1/credits/APP/IP-1?UserIp=192.0.2.1").await, credits_before);
        let (status, _) = dna.send(Method::POST, "/dna/v1/Licenses/APP/IP-1", json!({"LicensePassword": "secret-1", "UserIp": "192.0.2.1"})).await;
        assert_eq!(status, StatusCode::OK);
        // With UserIp each of them is accepted.
        let (status, body) = dna.send(Method::POST, "/dna/v1/Credits/APP/IP-1/consume", json!({"Name": "Credits", "Count": 5, "UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body[0]["Count"].clone()), (StatusCode::OK, json!(95)));
        let (status, _) = dna.send(Method::DELETE, "/dna/v1/Licenses/APP/IP-1/m1", json!({"UserIp": "2001:db8::1"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // Calls the reference gives no body keep working without one.
        assert_eq!(dna.get("/dna/v1/Licenses/APP/IP-1/status").await.0, StatusCode::OK);
        assert_eq!(dna.get("/dna/v1/Licenses/APP/IP-1").await.0, StatusCode::OK);
        assert_eq!(dna.get("/dna/v1/Licenses/APP/IP-1/infotags").await.0, StatusCode::OK);
    }

    async fn dna_evaluation_and_test_codes_expire_after_first_activation(server) {
        let product_id = server.product("APP").await;
        let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "TRIALS", "name": "Trials", "trial_days": 7}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let trials_id = body["id"].as_i64().unwrap();
        let eval = license(&server, json!({"product_id": product_id, "key": "EVAL-30", "trial_days": 30, "terms": {"kind": "evaluation"}})).await;
        let eval_default = license(&server, json!({"product_id": trials_id, "key": "EVAL-P", "terms": {"kind": "evaluation"}})).await;
        let test = license(&server, json!({"product_id": product_id, "key": "TEST-1", "terms": {"kind": "test"}})).await;
        let test_5 = license(&server, json!({"product_id": product_id, "key": "TEST-5", "trial_days": 5, "terms": {"kind": "test"}})).await;
        let dna = client(&server).await;
        for (product, key, id, days, kind) in [
            ("APP", "EVAL-30", eval, 30, "EVALUATION"),
            // The product's trial days, as for `trial` codes.
            ("TRIALS", "EVAL-P", eval_default, 7, "EVALUATION"),
            // Test codes: 15 days unless the code says otherwise.
            ("APP", "TEST-1", test, 15, "TEST"),
            ("APP", "TEST-5", test_5, 5, "TEST"),
        ] {
            let path = format!("/dna/v1/Licenses/{product}/{key}");
            let (status, body) = dna.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!((body["ExpiryNoDays"].clone(), body["ExpiryDate"].clone()), (json!(days), Value::Null), "{key} before activation");
            assert_eq!(body["LicenseCodeType"], json!(kind));
            activate(&server, key, "m1").await;
            let (expires_at, activated_at) = expiry_and_activation(&server, id).await;
            assert_eq!(expires_at, Some(activated_at + days * DAY), "{key}: the clock starts at first activation");
            let (_, body) = dna.get(&path).await;
            assert_eq!(body["ExpiryDate"], json!(to_rfc3339(activated_at + days * DAY)), "{key}");
            assert_eq!(body["ExpiryNoDays"], json!(days));
            assert_eq!(body["Status"], json!(format!("EXISTS {kind} ACTIVATED")));
            // A later activation does not move the date.
            let (status, _, _, _) = server.client_post("/v1/licenses/actions/deactivate", json!({"key": key, "fingerprint": "m1"})).await;
            assert_eq!(status, StatusCode::OK);
            activate(&server, key, "m1").await;
            let (status, lic) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
            assert_eq!((status, lic["expires_at"].as_i64()), (StatusCode::OK, expires_at));
        }
        // An ACTIVATION code runs its ExpiryNoDays from first activation too; without them it
        // has no clock.
        let normal = license(&server, json!({"product_id": product_id, "key": "NORMAL-30", "trial_days": 30})).await;
        activate(&server, "NORMAL-30", "m1").await;
        let (expires_at, activated_at) = expiry_and_activation(&server, normal).await;
        assert_eq!(expires_at, Some(activated_at + 30 * DAY));
        let plain = license(&server, json!({"product_id": product_id, "key": "NORMAL-1"})).await;
        activate(&server, "NORMAL-1", "m1").await;
        assert_eq!(expiry_and_activation(&server, plain).await.0, None);
        let (_, body) = dna.get("/dna/v1/Licenses/APP/NORMAL-1").await;
        assert_eq!((body["ExpiryNoDays"].clone(), body["ExpiryDate"].clone()), (Value::Null, Value::Null));
    }
}
