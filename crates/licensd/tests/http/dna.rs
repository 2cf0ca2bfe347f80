//! Black-box tests of the Softworkz DNA REST dialect (`/dna/v1`): the real binary over HTTP on
//! SQLite and PostgreSQL. DNA has no public client library (reference/dna-api.md, section 2), so
//! these requests follow the published curl examples: HTTP Basic `clientId:apiKey`, JSON bodies
//! with PascalCase fields, `{"Message": …}` errors.

use crate::harness::{Server, backend_tests};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A DNA API client for one credential.
struct Dna<'a> {
    server: &'a Server,
    client_id: String,
    api_key: String,
}

impl Dna<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value, HeaderMap) {
        call_as(self.server, method, path, Some((&self.client_id, &self.api_key)), body).await
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (status, body, _) = self.call(Method::GET, path, None).await;
        (status, body)
    }
    async fn send(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, body, _) = self.call(method, path, Some(body)).await;
        (status, body)
    }
}

async fn call_as(
    server: &Server,
    method: Method,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<Value>,
) -> (StatusCode, Value, HeaderMap) {
    let mut request = server
        .http
        .request(method, server.url(path))
        .header("Accept", "application/json");
    if let Some((id, key)) = auth {
        request = request.basic_auth(id, Some(key));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value, headers)
}

/// Creates a DNA credential; returns (clientId, apiKey, credential id).
async fn credential(server: &Server, extra: Value) -> (String, String, i64) {
    let mut body = json!({"dialect": "dna", "name": "vendor portal"});
    if let (Some(target), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    let (status, created) = server.admin(Method::POST, "/v1/credentials", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["credential"]["key_id"].as_str().expect("key id").to_string(),
        created["secret"].as_str().expect("secret").to_string(),
        created["credential"]["id"].as_i64().expect("id"),
    )
}

async fn client(server: &Server) -> Dna<'_> {
    let (client_id, api_key, _) = credential(server, json!({})).await;
    Dna {
        server,
        client_id,
        api_key,
    }
}

/// Creates a license from native fields; returns its id.
async fn license(server: &Server, fields: Value) -> i64 {
    let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(fields)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().expect("license id")
}

async fn activate(server: &Server, key: &str, fingerprint: &str) {
    let (status, body, _, _) = server
        .client_post(
            "/v1/licenses/actions/activate",
            json!({"key": key, "fingerprint": fingerprint, "name": format!("{fingerprint} name")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn set_password(server: &Server, license_id: i64, password: &str) {
    let (status, body) = server
        .admin(
            Method::PUT,
            &format!("/v1/dna/licenses/{license_id}/password"),
            Some(json!({ "password": password })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn set_ip_lockout(server: &Server, product_id: i64, max_failures: i64, window: i64, lockout: i64) {
    let (status, body) = server
        .admin(
            Method::PUT,
            &format!("/v1/dna/products/{product_id}/ip-lockout"),
            Some(json!({"max_failures": max_failures, "window_seconds": window, "lockout_seconds": lockout})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn message(text: &str) -> Value {
    json!({ "Message": text })
}

async fn status_of(dna: &Dna<'_>, product: &str, key: &str) -> String {
    let (status, body) = dna.get(&format!("/dna/v1/Licenses/{product}/{key}/status")).await;
    assert_eq!(status, StatusCode::OK, "{key}: {body}");
    body["Status"].as_str().expect("Status").to_string()
}

const KINDS: [(&str, &str); 4] = [
    ("normal", "ACTIVATION"),
    ("evaluation", "EVALUATION"),
    ("trial", "EVALUATION"),
    ("test", "TEST"),
];
const STATUSES: [&str; 7] = [
    "AVAILABLE",
    "RESERVED",
    "ACTIVATED",
    "EXPIRED",
    "BANNED",
    "REACTLOCKOUT",
    "IPLOCKOUT",
];

backend_tests! {
    async fn dna_status_keyword_matrix(server) {
        let product_id = server.product("DNAPROD").await;
        // One failed password locks an IP out, so IPLOCKOUT takes a single request to reach.
        set_ip_lockout(&server, product_id, 1, 600, 600).await;
        let dna = client(&server).await;
        for (kind, type_word) in KINDS {
            for status_word in STATUSES {
                let key = format!("K-{kind}-{status_word}");
                let mut terms = json!({"kind": kind, "max_activations": 1});
                let mut fields = json!({"product_id": product_id, "key": key, "assignment": "assigned"});
                match status_word {
                    "AVAILABLE" => fields["assignment"] = json!("in_stock"),
                    "RESERVED" => fields["assignment"] = json!("reserved"),
                    "EXPIRED" => fields["expires_at"] = json!(now_ms() - 3_600_000),
                    "BANNED" => fields["status"] = json!("blocked"),
                    "REACTLOCKOUT" => terms["reactivation_lockout"] = json!({"limit": 1, "window_hours": 24}),
                    _ => {}
                }
                fields["terms"] = terms;
                let id = license(&server, fields).await;
                match status_word {
                    "ACTIVATED" | "REACTLOCKOUT" | "IPLOCKOUT" => activate(&server, &key, "machine-1").await,
                    _ => {}
                }
                if status_word == "IPLOCKOUT" {
                    set_password(&server, id, "right").await;
                    let (status, body) = dna
                        .send(Method::POST, &format!("/dna/v1/Licenses/DNAPROD/{key}"), json!({"LicensePassword": "wrong", "UserIp": "198.51.100.7"}))
                        .await;
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
                }
                let valid = type_word == "ACTIVATION" && matches!(status_word, "AVAILABLE" | "RESERVED" | "ACTIVATED");
                let expected = format!("EXISTS {type_word} {status_word}{}", if valid { " VALID" } else { "" });
                assert_eq!(status_of(&dna, "DNAPROD", &key).await, expected, "{kind} {status_word}");
                // The full license object carries the same string.
                let (status, details) = dna.get(&format!("/dna/v1/licenses/DNAPROD/{key}")).await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(details["Status"], json!(expected));
                assert_eq!(details["LicenseCodeType"], json!(type_word));
            }
        }
        // A whole banned product bans its codes.
        let (status, _) = server.admin(Method::PATCH, &format!("/v1/products/{product_id}"), Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(status_of(&dna, "DNAPROD", "K-normal-AVAILABLE").await, "EXISTS ACTIVATION BANNED");
    }

    async fn dna_errors_auth_and_case_insensitive_paths(server) {
        let product_id = server.product("P1").await;
        let other_id = server.product("P2").await;
        license(&server, json!({"product_id": product_id, "key": "CODE-1", "assignment": "reserved"})).await;
        license(&server, json!({"product_id": other_id, "key": "CODE-2"})).await;
        let dna = client(&server).await;
        let path = "/dna/v1/Licenses/P1/CODE-1/status";
        // Resource names in any case; ids as issued.
        for p in [path, "/dna/v1/licenses/P1/CODE-1/status", "/dna/v1/LICENSES/P1/CODE-1/STATUS", "/dna/v1/Licenses/P1/CODE-1/Status"] {
            let (status, body) = dna.get(p).await;
            assert_eq!((status, body), (StatusCode::OK, json!({"Status": "EXISTS ACTIVATION RESERVED VALID"})), "{p}");
        }
        // 401: no header, wrong key, unknown client, malformed header, revoked key.
        let unauthorized = message("Basic Authentication failed - verify the clientId and apiKey");
        assert_eq!(call_as(&server, Method::GET, path, None, None).await.0, StatusCode::UNAUTHORIZED);
        let (status, body, _) = call_as(&server, Method::GET, path, Some((&dna.client_id, "wrong")), None).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized.clone()));
        let (status, body, _) = call_as(&server, Method::GET, path, Some(("nobody", &dna.api_key)), None).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized.clone()));
        let response = server.http.get(server.url(path)).header("Authorization", "Basic !!!").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = server.http.get(server.url(path)).bearer_auth("token").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // A credential of another dialect is not a DNA credential.
        let (status, ls) = server.admin(Method::POST, "/v1/credentials", Some(json!({"dialect": "native", "name": "n"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _, _) = call_as(&server, Method::GET, path, Some((ls["credential"]["key_id"].as_str().unwrap(), ls["secret"].as_str().unwrap())), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (revoked_id, revoked_key, revoked) = credential(&server, json!({})).await;
        assert_eq!(call_as(&server, Method::GET, path, Some((&revoked_id, &revoked_key)), None).await.0, StatusCode::OK);
        let (status, _) = server.admin(Method::POST, &format!("/v1/credentials/{revoked}/revoke"), Some(json!({}))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body, _) = call_as(&server, Method::GET, path, Some((&revoked_id, &revoked_key)), None).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, message("The apiKey was revoked")));

        // 400: malformed ids.
        let (status, body) = dna.get("/dna/v1/Licenses/bad$id/CODE-1/status").await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid ProductId format")));
        let (status, body) = dna.get("/dna/v1/Licenses/P1/bad*code/status").await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid LicenseId format")));
        let (status, body) = dna.get(&format!("/dna/v1/Licenses/P1/{}/status", "A".repeat(65))).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid LicenseId format")));
        let (status, body) = dna.get("/dna/v1/Licenses//CODE-1/status").await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid ProductId format")));
        // 404: unknown product, unknown code, a code of another product, unknown resource.
        let (status, body) = dna.get("/dna/v1/Licenses/NOPE/CODE-1/status").await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, message("ProductId not found")));
        let (status, body) = dna.get("/dna/v1/Licenses/P1/CODE-9/status").await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, message("LicenseId not found")));
        let (status, body) = dna.get("/dna/v1/Licenses/P1/CODE-2/status").await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, message("LicenseId not found")));
        let (status, body) = dna.get("/dna/v1/Products/P1/CODE-1").await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, message("No such resource")));
        let (status, body) = dna.get("/dna/v1/Licenses/P1").await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, message("No such resource")));
        // Wrong method on a known resource.
        let (status, body, _) = dna.call(Method::DELETE, path, None).await;
        assert_eq!((status, body), (StatusCode::METHOD_NOT_ALLOWED, message("DELETE is not allowed here")));
        // A broken JSON body is a 400, not a 500.
        let response = server.http.post(server.url("/dna/v1/Licenses/P1/CODE-1")).basic_auth(&dna.client_id, Some(&dna.api_key)).header("Content-Type", "application/json").body("{not json").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert!(body["Message"].as_str().unwrap().starts_with("Invalid request body"), "{body}");

        // Product scope: a key for P2 cannot read P1.
        let (scoped_id, scoped_key, _) = credential(&server, json!({"product_id": other_id})).await;
        let (status, body, _) = call_as(&server, Method::GET, path, Some((&scoped_id, &scoped_key)), None).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, message("The apiKey is not valid for this ProductId")));
        let (status, body, _) = call_as(&server, Method::GET, "/dna/v1/licenses/P2/CODE-2/status", Some((&scoped_id, &scoped_key)), None).await;
        assert_eq!((status, body["Status"].as_str()), (StatusCode::OK, Some("EXISTS ACTIVATION RESERVED VALID")));
        // IP allow-list: the test client connects from 127.0.0.1.
        let (far_id, far_key, _) = credential(&server, json!({"ip_allowlist": ["192.0.2.0/24"]})).await;
        let (status, body, _) = call_as(&server, Method::GET, path, Some((&far_id, &far_key)), None).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, message("The apiKey may not be used from this address")));
        let (near_id, near_key, _) = credential(&server, json!({"ip_allowlist": ["127.0.0.0/8", "::1"]})).await;
        assert_eq!(call_as(&server, Method::GET, path, Some((&near_id, &near_key)), None).await.0, StatusCode::OK);
        // Read-only keys read but never write.
        let (ro_id, ro_key, _) = credential(&server, json!({"read_only": true})).await;
        assert_eq!(call_as(&server, Method::GET, path, Some((&ro_id, &ro_key)), None).await.0, StatusCode::OK);
        let (status, body, _) = call_as(&server, Method::PATCH, "/dna/v1/Licenses/P1/CODE-1", Some((&ro_id, &ro_key)), Some(json!({"NewEmail": "a@example.com"}))).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, message("The apiKey is read-only")));
    }

    async fn dna_license_details_update_and_info_tags(server) {
        let product_id = server.product("APP").await;
        let id = license(&server, json!({"product_id": product_id, "key": "DETAIL-1", "terms": {"max_activations": 3}, "trial_days": 30, "order_ref": "order 7"})).await;
        let dna = client(&server).await;
        let (status, body) = dna.get("/dna/v1/Licenses/APP/DETAIL-1").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({
            "ProductID": "APP", "SoftwareDescription": "APP", "ProductSKU": "APP", "LicenseCode": "DETAIL-1",
            "Status": "EXISTS ACTIVATION RESERVED VALID", "LicenseType": "MU (3)", "MuAdminPassSet": false,
            "LicenseDescription": "order 7", "LicenseCodeType": "ACTIVATION", "ActivationEmail": null,
            "ActivationDate": null, "OfflineActivation": false, "ServerActivationDate": null, "ExpiryNoDays": 30,
            "ExpiryDate": null, "LastReactivationDate": null, "LastValidationDate": null, "LicenseData": null,
            "DeviceCount": 0, "Devices": [], "InfoTag": null, "InfoTagDate": null,
        }));
        activate(&server, "DETAIL-1", "machine-a").await;
        activate(&server, "DETAIL-1", "machine-b").await;
        let (_, body) = dna.get("/dna/v1/licenses/APP/DETAIL-1").await;
        assert_eq!(body["Status"], "EXISTS ACTIVATION ACTIVATED VALID");
        let machines: Vec<&str> = body["Devices"].as_array().unwrap().iter().map(|d| d["MachineId"].as_str().unwrap()).collect();
        assert_eq!(machines, ["machine-a", "machine-b"]);
        assert_eq!(body["DeviceCount"], 2);
        assert_eq!(body["Devices"][0]["Name"], "machine-a name");
        assert!(body["ActivationDate"].as_str().is_some_and(|d| d.ends_with('Z')), "{body}");
        assert!(body["LastReactivationDate"].is_string(), "{body}");
        // Large multi-user licenses page their device list.
        let (status, body) = dna.get("/dna/v1/licenses/APP/DETAIL-1?Offset=1&Limit=5").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((body["DeviceCount"].as_i64(), body["Devices"].as_array().map(Vec::len)), (Some(2), Some(1)));
        assert_eq!(body["Devices"][0]["MachineId"], "machine-b");
        let (status, body) = dna.get("/dna/v1/licenses/APP/DETAIL-1?limit=0").await;
        assert_eq!((status, body["Devices"].clone()), (StatusCode::OK, json!([])));
        let (status, body) = dna.get("/dna/v1/licenses/APP/DETAIL-1?Limit=x").await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid Limit: expected a non-negative integer")));

        // PATCH: all fields valid or nothing changes.
        let (status, body) = dna.send(Method::PATCH, "/dna/v1/Licenses/APP/DETAIL-1", json!({"NewEmail": "not-an-email", "NewLicenseData": "x", "UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid NewEmail format")));
        let (status, body) = dna.send(Method::PATCH, "/dna/v1/Licenses/APP/DETAIL-1", json!({"NewEmail": "a@example.com", "UserIp": "nope"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid UserIp format")));
        let (status, body) = dna.send(Method::PATCH, "/dna/v1/Licenses/APP/DETAIL-1", json!({"UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("NewEmail or NewLicenseData is required")));
        let (status, body) = dna.send(Method::PATCH, "/dna/v1/Licenses/APP/DETAIL-1", json!({"NewEmail": "a@example.com", "SendDnaEmail": true, "UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("SendDnaEmail is not supported: this server sends no email (use SendDnaEmail=false)")));
        let (status, body) = dna.send(Method::PATCH, "/dna/v1/Licenses/APP/DETAIL-1", json!({"NewEmail": "a@example.com", "Test": true, "UserIp": "192.0.2.1"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["ActivationEmail"], Value::Null, "a test event changes nothing");
        let (status, body) = dna.send(Method::PATCH, "/dna/v1/licenses/APP/DETAIL-1", json!({"NewEmail": "buyer@example.com", "NewLicenseData": "seats=3", "UserIp": "192.0.2.1", "Test": false, "SendDnaEmail": false})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["ActivationEmail"].as_str(), body["LicenseData"].as_str()), (Some("buyer@example.com"), Some("seats=3")));
        let (status, body) = dna.send(Method::PATCH, "/dna/v1/licenses/APP/DETAIL-1", json!({"NewLicenseData": "seats=4", "UserIp": "192.0.2.1"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((body["ActivationEmail"].as_str(), body["LicenseData"].as_str()), (Some("buyer@example.com"), Some("seats=4")));
        // Over the 1 MiB body limit: DNA's own 413 (read to the end first, so the client gets it),
        // and nothing changes.
        for _ in 0..3 {
            let (status, body) = dna.send(Method::PATCH, "/dna/v1/licenses/APP/DETAIL-1", json!({"NewLicenseData": "x".repeat(1_536 * 1024)})).await;
            assert_eq!((status, body), (StatusCode::PAYLOAD_TOO_LARGE, message("Request body is too large")));
        }
        let (status, body) = dna.get("/dna/v1/licenses/APP/DETAIL-1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["LicenseData"].as_str(), Some("seats=4"));
        let (status, view) = server.admin(Method::GET, &format!("/v1/dna/licenses/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(view, json!({"license_id": id, "status": "EXISTS ACTIVATION ACTIVATED VALID", "password_set": false, "admin_password_set": false, "activation_email": "buyer@example.com", "license_data": "seats=4", "ip_locked": false}));

        // InfoTags: recorded through the management API, read through DNA's.
        let (status, body) = dna.get("/dna/v1/Licenses/APP/DETAIL-1/InfoTags").await;
        assert_eq!((status, body), (StatusCode::OK, json!([])));
        for tag in ["registered: ACME", "usage: 42"] {
            let (status, body) = server.admin(Method::POST, &format!("/v1/dna/licenses/{id}/info-tags"), Some(json!({"tag": tag}))).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (status, body) = dna.get("/dna/v1/licenses/APP/DETAIL-1/infotags").await;
        assert_eq!(status, StatusCode::OK);
        let tags: Vec<&str> = body.as_array().unwrap().iter().map(|t| t["InfoTag"].as_str().unwrap()).collect();
        assert_eq!(tags, ["registered: ACME", "usage: 42"]);
        assert!(body[0]["Date"].is_string());
        let (_, body) = dna.get("/dna/v1/Licenses/APP/DETAIL-1").await;
        assert_eq!(body["InfoTag"], "usage: 42");
        let (status, body) = server.admin(Method::POST, &format!("/v1/dna/licenses/{id}/info-tags"), Some(json!({"tag": ""}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, _) = server.admin(Method::POST, "/v1/dna/licenses/999999/info-tags", Some(json!({"tag": "x"}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn dna_passwords_and_ip_lockout(server) {
        let product_id = server.product("APP").await;
        set_ip_lockout(&server, product_id, 3, 600, 5).await;
        let id = license(&server, json!({"product_id": product_id, "key": "PW-1"})).await;
        activate(&server, "PW-1", "m1").await;
        set_password(&server, id, "secret-1").await;
        let dna = client(&server).await;
        let details = "/dna/v1/Licenses/APP/PW-1";
        let (status, body) = dna.send(Method::POST, details, json!({"LicensePassword": "secret-1", "UserIp": "192.0.2.10"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["LicenseCode"], "PW-1");
        let (status, body) = dna.send(Method::POST, details, json!({"LicensePassword": "secret-1"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("UserIp is required")));
        let (status, body) = dna.send(Method::POST, details, json!({"UserIp": "192.0.2.10"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("LicensePassword is required")));

        // Two failures, then the third locks 192.0.2.10 out.
        for _ in 0..2 {
            let (status, body) = dna.send(Method::POST, details, json!({"LicensePassword": "guess", "UserIp": "192.0.2.10"})).await;
            assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid LicensePassword")));
        }
        assert_eq!(status_of(&dna, "APP", "PW-1").await, "EXISTS ACTIVATION ACTIVATED VALID");
        let (status, body) = dna.send(Method::POST, details, json!({"LicensePassword": "guess", "UserIp": "192.0.2.10"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid password; too many invalid attempts: this UserIp is now in IPLOCKOUT")));
        assert_eq!(status_of(&dna, "APP", "PW-1").await, "EXISTS ACTIVATION IPLOCKOUT");
        // Locked out even with the right password; another IP is not.
        let (status, body) = dna.send(Method::POST, details, json!({"LicensePassword": "secret-1", "UserIp": "192.0.2.10"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("IPLOCKOUT: too many invalid attempts from this UserIp; try again later")));
        let (status, _) = dna.send(Method::POST, details, json!({"LicensePassword": "secret-1", "UserIp": "192.0.2.11"})).await;
        assert_eq!(status, StatusCode::OK);
        // The cooling period (5 s) ends by itself.
        tokio::time::sleep(std::time::Duration::from_millis(5_200)).await;
        assert_eq!(status_of(&dna, "APP", "PW-1").await, "EXISTS ACTIVATION ACTIVATED VALID");
        let (status, _) = dna.send(Method::POST, details, json!({"LicensePassword": "secret-1", "UserIp": "192.0.2.10"})).await;
        assert_eq!(status, StatusCode::OK);
        // An administrator can end a lockout early.
        for _ in 0..3 {
            dna.send(Method::POST, details, json!({"LicensePassword": "guess", "UserIp": "192.0.2.12"})).await;
        }
        assert_eq!(status_of(&dna, "APP", "PW-1").await, "EXISTS ACTIVATION IPLOCKOUT");
        let (status, body) = server.admin(Method::POST, &format!("/v1/dna/licenses/{id}/unlock"), None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"cleared": 2})));
        assert_eq!(status_of(&dna, "APP", "PW-1").await, "EXISTS ACTIVATION ACTIVATED VALID");

        // Password change with the current password.
        let password_path = "/dna/v1/licenses/APP/PW-1/Password";
        let (status, body) = dna.send(Method::POST, password_path, json!({"LicensePassword": "secret-1", "NewPassword": "x".repeat(17), "UserIp": "192.0.2.20"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("NewPassword must be at most 16 characters")));
        let (status, body) = dna.send(Method::POST, password_path, json!({"LicensePassword": "wrong", "NewPassword": "secret-2", "UserIp": "192.0.2.20"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid LicensePassword")));
        let (status, body) = dna.send(Method::POST, password_path, json!({"LicensePassword": "secret-1", "NewPassword": "secret-2", "UserIp": "192.0.2.20", "Test": true})).await;
        assert_eq!((status, body), (StatusCode::OK, message("Test event: the password was not changed")));
        let (status, body) = dna.send(Method::POST, password_path, json!({"LicensePassword": "secret-1", "NewPassword": "secret-2", "UserIp": "192.0.2.20", "SendDnaEmail": false})).await;
        assert_eq!((status, body), (StatusCode::OK, message("Password changed")));
        let (status, _) = dna.send(Method::POST, details, json!({"LicensePassword": "secret-1", "UserIp": "192.0.2.21"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = dna.send(Method::POST, details, json!({"LicensePassword": "secret-2", "UserIp": "192.0.2.21"})).await;
        assert_eq!(status, StatusCode::OK);

        // Recovery: a reset code stands in for the forgotten password, once.
        let (status, body) = dna.send(Method::POST, "/dna/v1/Licenses/APP/PW-1/passrecovery", json!({"UserIp": "192.0.2.30", "SendDnaEmail": true})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("SendDnaEmail is not supported: this server sends no email (use SendDnaEmail=false)")));
        let (status, body) = dna.send(Method::POST, "/dna/v1/Licenses/APP/PW-1/PassRecovery", json!({"UserIp": "192.0.2.30", "Test": true})).await;
        assert_eq!((status, body), (StatusCode::OK, message("Test event: no reset code was created")));
        let (status, body) = dna.send(Method::POST, "/dna/v1/Licenses/APP/PW-1/passrecovery", json!({"UserIp": "192.0.2.30", "SendDnaEmail": false})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let code = body["PasswordResetCode"].as_str().expect("reset code").to_string();
        assert_eq!(code.len(), 12);
        assert!(body["ExpiryDate"].is_string());
        // A reset code replaces the password only where DNA says so: in the password change.
        let (status, _) = dna.send(Method::POST, details, json!({"LicensePassword": code, "UserIp": "192.0.2.30"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = dna.send(Method::POST, password_path, json!({"LicensePassword": code, "NewPassword": "secret-3", "UserIp": "192.0.2.30"})).await;
        assert_eq!((status, body), (StatusCode::OK, message("Password changed")));
        let (status, _) = dna.send(Method::POST, password_path, json!({"LicensePassword": code, "NewPassword": "secret-4", "UserIp": "192.0.2.31"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a reset code works once");
        let (status, _) = dna.send(Method::POST, details, json!({"LicensePassword": "secret-3", "UserIp": "192.0.2.31"})).await;
        assert_eq!(status, StatusCode::OK);

        // Admin passwords exist for multi-user licenses only.
        let (status, body) = dna.send(Method::POST, "/dna/v1/Licenses/APP/PW-1/adminpassword", json!({"AdminPassword": "PW-1", "NewAdminPassword": "adm", "UserIp": "192.0.2.40"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("The License Code is not a multi-user license")));
        license(&server, json!({"product_id": product_id, "key": "MU-1", "terms": {"max_activations": 5}})).await;
        let admin_path = "/dna/v1/Licenses/APP/MU-1/AdminPassword";
        let (status, body) = dna.send(Method::POST, admin_path, json!({"AdminPassword": "guess", "NewAdminPassword": "adm-1", "UserIp": "192.0.2.40"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid AdminPassword")));
        // The first set takes the License Key (the code itself).
        let (status, body) = dna.send(Method::POST, admin_path, json!({"AdminPassword": "MU-1", "NewAdminPassword": "adm-1", "UserIp": "192.0.2.40"})).await;
        assert_eq!((status, body), (StatusCode::OK, message("Password changed")));
        let (_, body) = dna.get("/dna/v1/Licenses/APP/MU-1").await;
        assert_eq!(body["MuAdminPassSet"], true);
        let (status, _) = dna.send(Method::POST, admin_path, json!({"AdminPassword": "MU-1", "NewAdminPassword": "adm-2", "UserIp": "192.0.2.40"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the code no longer works once a password is set");
        let (status, _) = dna.send(Method::POST, admin_path, json!({"AdminPassword": "adm-1", "NewAdminPassword": "adm-2", "UserIp": "192.0.2.40"})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = dna.send(Method::POST, "/dna/v1/Licenses/APP/MU-1/Admin/PassRecovery", json!({"UserIp": "192.0.2.40"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let admin_code = body["PasswordResetCode"].as_str().unwrap().to_string();
        let (status, _) = dna.send(Method::POST, admin_path, json!({"AdminPassword": admin_code, "NewAdminPassword": "adm-3", "UserIp": "192.0.2.40"})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = dna.send(Method::POST, "/dna/v1/Licenses/APP/PW-1/admin/passrecovery", json!({"UserIp": "192.0.2.40"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("The License Code is not a multi-user license")));
    }

    async fn dna_device_removal_and_reactivation_lockout(server) {
        let product_id = server.product("APP").await;
        license(&server, json!({"product_id": product_id, "key": "DEV-1", "terms": {"max_activations": 2, "reactivation_lockout": {"limit": 3, "window_hours": 24}}})).await;
        activate(&server, "DEV-1", "m1").await;
        activate(&server, "DEV-1", "m2").await;
        let dna = client(&server).await;
        let (status, body) = dna.send(Method::DELETE, "/dna/v1/Licenses/APP/DEV-1/m1", json!({"UserIp": "192.0.2.1", "Test": true})).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, message("Test event against an ACTIVE product: the device was not removed")));
        let (status, body) = dna.send(Method::DELETE, "/dna/v1/Licenses/APP/DEV-1/m1", json!({"UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
        let (status, body) = dna.send(Method::DELETE, "/dna/v1/licenses/APP/DEV-1/m1", json!({"UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, message("DeviceId not found")));
        let (status, body, _) = dna.call(Method::DELETE, "/dna/v1/LICENSES/APP/DEV-1/unknown", Some(json!({"UserIp": "192.0.2.1"}))).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, message("DeviceId not found")));
        let (_, body) = dna.get("/dna/v1/Licenses/APP/DEV-1").await;
        let machines: Vec<&str> = body["Devices"].as_array().unwrap().iter().map(|d| d["MachineId"].as_str().unwrap()).collect();
        assert_eq!(machines, ["m2"]);
        assert_eq!(body["Status"], "EXISTS ACTIVATION ACTIVATED VALID");
        // The freed seat takes a third activation: the lockout limit (3 in 24 h) is now reached.
        activate(&server, "DEV-1", "m3").await;
        assert_eq!(status_of(&dna, "APP", "DEV-1").await, "EXISTS ACTIVATION REACTLOCKOUT");
        let (status, _) = dna.send(Method::DELETE, "/dna/v1/Licenses/APP/DEV-1/m3", json!({"UserIp": "192.0.2.1"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // And the domain refuses the next activation for the same reason the status names.
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "DEV-1", "fingerprint": "m4"})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("REACTIVATION_LOCKOUT")));
        assert_eq!(status_of(&dna, "APP", "DEV-1").await, "EXISTS ACTIVATION REACTLOCKOUT");
        // An administrator resets the lockout (here through the CLI); activations are allowed again.
        let (_, licenses) = server.admin(Method::GET, "/v1/licenses", None).await;
        let id = licenses["data"][0]["id"].as_i64().unwrap();
        let (code, stdout, stderr) = server.cli(&["dna", "reset-reactlockout", &id.to_string()]);
        assert_eq!((code, stdout.trim()), (0, "cleared 3 activation(s)"), "{stderr}");
        assert_eq!(status_of(&dna, "APP", "DEV-1").await, "EXISTS ACTIVATION ACTIVATED VALID");
        activate(&server, "DEV-1", "m4").await;
        let (status, body) = server.admin(Method::POST, &format!("/v1/dna/licenses/{id}/reset-reactivation-lockout"), None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"cleared": 1})));
        let (status, _) = server.admin(Method::POST, "/v1/dna/licenses/999999/reset-reactivation-lockout", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn dna_credits(server) {
        let product_id = server.product("APP").await;
        let (status, feature) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product_id, "code": "exports", "name": "Exports", "feature_type": "consumption", "max_consumptions": 10}))).await;
        assert_eq!(status, StatusCode::CREATED, "{feature}");
        license(&server, json!({"product_id": product_id, "key": "CR-1", "terms": {"license_type": "consumption", "consumption": {"max_consumptions": 100}}, "features": [{"code": "exports"}]})).await;
        license(&server, json!({"product_id": product_id, "key": "PLAIN-1"})).await;
        let dna = client(&server).await;
        let credits = json!([{"Target": "LICENSE", "Name": "Credits", "Count": 100}, {"Target": "LICENSE", "Name": "exports", "Count": 10}]);
        assert_eq!(dna.get("/dna/v1/credits/APP/CR-1?UserIp=192.0.2.1").await, (StatusCode::OK, credits.clone()));
        assert_eq!(dna.send(Method::GET, "/dna/v1/Credits/APP/CR-1", json!({"Target": "ALL", "UserIp": "192.0.2.1"})).await, (StatusCode::OK, credits));
        assert_eq!(dna.get("/dna/v1/credits/APP/CR-1?Target=LICENSE&UserIp=192.0.2.1").await.0, StatusCode::OK);
        // CR-1 has no activation email, so it reaches no EMAIL pool (dna::credit_pools).
        assert_eq!(dna.get("/dna/v1/credits/APP/CR-1?Target=EMAIL&UserIp=192.0.2.1").await, (StatusCode::OK, json!([])));
        let (status, body) = dna.get("/dna/v1/credits/APP/CR-1?Target=BOGUS&UserIp=192.0.2.1").await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid Target: use LICENSE, EMAIL or ALL")));
        assert_eq!(dna.get("/dna/v1/credits/APP/PLAIN-1?UserIp=192.0.2.1").await, (StatusCode::OK, json!([])));

        let consume = "/dna/v1/Credits/APP/CR-1/consume";
        let (status, body) = dna.send(Method::POST, consume, json!({"Name": "Credits", "Count": 30, "Target": "LICENSE", "UserIp": "192.0.2.1", "SendDnaEmail": false})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body[0], json!({"Target": "LICENSE", "Name": "Credits", "Count": 70}));
        let (status, body) = dna.send(Method::POST, consume, json!({"Name": "Credits", "Count": 71, "UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Not enough credits")));
        let (status, body) = dna.send(Method::POST, "/dna/v1/credits/APP/CR-1/Consume", json!({"Name": "exports", "Count": 4, "UserIp": "192.0.2.1"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!([{"Target": "LICENSE", "Name": "Credits", "Count": 70}, {"Target": "LICENSE", "Name": "exports", "Count": 6}]));
        for (bad, text) in [
            (json!({"Name": "Credits", "UserIp": "192.0.2.1"}), "Count is required"),
            (json!({"Name": "Credits", "Count": 20001, "UserIp": "192.0.2.1"}), "Invalid Count: must be between 0 and 20000"),
            (json!({"Name": "Credits", "Count": -1, "UserIp": "192.0.2.1"}), "Invalid Count: must be between 0 and 20000"),
            (json!({"Name": "Credits", "Count": 1, "Target": "EMAIL", "UserIp": "192.0.2.1"}), "The License Code has no activation email, so it has no EMAIL credits"),
            (json!({"Name": "Credits", "Count": "ten", "UserIp": "192.0.2.1"}), ""),
        ] {
            let (status, body) = dna.send(Method::POST, consume, bad.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            if !text.is_empty() {
                assert_eq!(body, message(text), "{bad}");
            }
        }
        let (status, body) = dna.send(Method::POST, consume, json!({"Name": "nosuch", "Count": 1, "UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, message("Credit Name not found for this license")));
        // Count 0 and test events use nothing.
        let (status, body) = dna.send(Method::POST, consume, json!({"Name": "Credits", "Count": 0, "UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body[0]["Count"].as_i64()), (StatusCode::OK, Some(70)));
        let (status, body) = dna.send(Method::POST, consume, json!({"Name": "Credits", "Count": 5, "Test": true, "UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body[0]["Count"].as_i64()), (StatusCode::OK, Some(70)));
        let (status, body) = dna.send(Method::POST, "/dna/v1/Credits/APP/PLAIN-1/consume", json!({"Name": "Credits", "Count": 1, "UserIp": "192.0.2.1"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("The License Code has no credits")));
        // The credits are the domain's consumption counter, visible natively.
        let (_, licenses) = server.admin(Method::GET, "/v1/licenses", None).await;
        let used = licenses["data"].as_array().unwrap().iter().find(|l| l["key"] == "CR-1").unwrap()["consumption_used"].clone();
        assert_eq!(used, 30);
    }

    async fn dna_management_api_and_cli(server) {
        let product_id = server.product("APP").await;
        let id = license(&server, json!({"product_id": product_id, "key": "CLI-1"})).await;
        let (status, body) = server.admin(Method::GET, &format!("/v1/dna/products/{product_id}/ip-lockout"), None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"max_failures": 5, "window_seconds": 900, "lockout_seconds": 3600})));
        let (status, body) = server.admin(Method::PUT, &format!("/v1/dna/products/{product_id}/ip-lockout"), Some(json!({"max_failures": 0, "window_seconds": 1, "lockout_seconds": 1}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")));
        let (status, _) = server.admin(Method::GET, "/v1/dna/products/999999/ip-lockout", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = server.admin(Method::PUT, &format!("/v1/dna/licenses/{id}/password"), Some(json!({"password": "x".repeat(17)}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, _) = server.admin(Method::PUT, "/v1/dna/licenses/999999/password", Some(json!({"password": "x"}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server.http.get(server.url(&format!("/v1/dna/licenses/{id}"))).send().await.map(|r| (r.status(), ())).unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let (code, stdout, stderr) = server.cli(&["dna", "set-ip-lockout", &product_id.to_string(), "--max-failures", "2", "--window-seconds", "60", "--lockout-seconds", "120"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("MAX FAILURES") && stdout.contains('2'), "{stdout}");
        let (code, stdout, _) = server.cli(&["--json", "dna", "ip-lockout", &product_id.to_string()]);
        assert_eq!(code, 0);
        assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!({"max_failures": 2, "window_seconds": 60, "lockout_seconds": 120}));
        let (code, _, stderr) = server.cli(&["dna", "set-password", &id.to_string(), "cli-pass"]);
        assert_eq!(code, 0, "{stderr}");
        let (code, _, stderr) = server.cli(&["dna", "update", &id.to_string(), "--email", "cli@example.com", "--data", "d1"]);
        assert_eq!(code, 0, "{stderr}");
        let (code, _, stderr) = server.cli(&["dna", "add-info-tag", &id.to_string(), "from the cli"]);
        assert_eq!(code, 0, "{stderr}");
        let (code, stdout, _) = server.cli(&["--json", "dna", "show", &id.to_string()]);
        assert_eq!(code, 0);
        assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!({"license_id": id, "status": "EXISTS ACTIVATION RESERVED VALID", "password_set": true, "admin_password_set": false, "activation_email": "cli@example.com", "license_data": "d1", "ip_locked": false}));
        let (code, stdout, _) = server.cli(&["dna", "info-tags", &id.to_string()]);
        assert_eq!(code, 0);
        assert!(stdout.contains("from the cli"), "{stdout}");
        let (code, stdout, _) = server.cli(&["dna", "unlock", &id.to_string()]);
        assert_eq!((code, stdout.trim()), (0, "cleared 0 IP(s)"));
        let (code, _, stderr) = server.cli(&["dna", "show", "999999"]);
        assert_eq!(code, 3, "{stderr}");
        let (code, _, _) = server.cli(&["dna", "set-password", &id.to_string(), "--clear"]);
        assert_eq!(code, 0);
        let (_, view) = server.admin(Method::GET, &format!("/v1/dna/licenses/{id}"), None).await;
        assert_eq!(view["password_set"], false);
        // The end user's password works over DNA once set by the CLI.
        let (code, _, _) = server.cli(&["dna", "set-password", &id.to_string(), "cli-pass"]);
        assert_eq!(code, 0);
        let dna = client(&server).await;
        let (status, _) = dna.send(Method::POST, "/dna/v1/Licenses/APP/CLI-1", json!({"LicensePassword": "cli-pass", "UserIp": "192.0.2.1"})).await;
        assert_eq!(status, StatusCode::OK);

        let (status, doc) = server.admin(Method::GET, "/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        for path in ["/v1/dna/products/{id}/ip-lockout", "/v1/dna/licenses/{id}", "/v1/dna/licenses/{id}/password", "/v1/dna/licenses/{id}/admin-password", "/v1/dna/licenses/{id}/unlock", "/v1/dna/licenses/{id}/reset-reactivation-lockout", "/v1/dna/licenses/{id}/info-tags"] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
        }
    }

    async fn dna_rate_limits(server) {
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--rate-limit-per-credential", "3"), ("--rate-limit-window-seconds", "4")]).await;
        let product_id = server.product("APP").await;
        license(&server, json!({"product_id": product_id, "key": "RL-1"})).await;
        let dna = client(&server).await;
        let other = client(&server).await;
        let path = "/dna/v1/Licenses/APP/RL-1/status";
        for _ in 0..3 {
            assert_eq!(dna.get(path).await.0, StatusCode::OK);
        }
        let (status, body, headers) = dna.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let reset: u64 = headers.get("x-ratelimit-reset").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("X-RateLimit-Reset");
        assert!((1..=4).contains(&reset), "{reset}");
        assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some(reset.to_string().as_str()));
        assert_eq!(body, message(&format!("API request limit exceeded; the limit resets in {reset} seconds")));
        // Each credential has its own allowance; probes and the native API are never limited.
        assert_eq!(other.get(path).await.0, StatusCode::OK);
        for _ in 0..20 {
            assert_eq!(server.http.get(server.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
            assert_eq!(server.http.get(server.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
        }
        assert_eq!(server.admin(Method::GET, "/v1/products", None).await.0, StatusCode::OK);
        // The window resets.
        tokio::time::sleep(std::time::Duration::from_millis(reset * 1000 + 200)).await;
        assert_eq!(dna.get(path).await.0, StatusCode::OK);

        // Per client IP, counted before authentication.
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--rate-limit-per-ip", "2"), ("--rate-limit-window-seconds", "60")]).await;
        let (status, _, _) = call_as(&server, Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let dna = client(&server).await;
        assert_eq!(dna.get(path).await.0, StatusCode::OK);
        let (status, body, headers) = dna.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        let reset: u64 = headers.get("x-ratelimit-reset").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("X-RateLimit-Reset");
        assert!((1..=60).contains(&reset), "{reset}");
        for _ in 0..5 {
            assert_eq!(server.http.get(server.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
        }
    }
}

/// Issue 12 (dialect fidelity).
#[path = "dna/credit_pools.rs"]
mod credit_pools;
#[path = "dna/fidelity.rs"]
mod fidelity;
#[path = "dna/trusted_proxy.rs"]
mod trusted_proxy;
