//! Black-box tests of the Key Manager dialect (`/api/v1`): every code each test names, on both
//! backends. Every envelope received is verified twice: at once with the Rust verifier
//! (`envelope::verify_envelope`) and, at the end of the test, in one batch by Python
//! `cryptography` (tests/interop/keymanager/verify_envelopes.py, via LICENSD_INTEROP_PYTHON).

use crate::harness::*;
use licensd_server::dialects::keymanager::envelope::verify_envelope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// A Key Manager client for one test: sends requests, checks and collects every envelope.
struct Km<'a> {
    server: &'a Server,
    global_pem: String,
    /// The product key the test expects `"product"` envelopes to be signed with.
    product_pem: Mutex<Option<String>>,
    /// (PEM, envelope text) of every answer, for the Python verifier.
    seen: Mutex<Vec<(String, String)>>,
}

/// How a request carries its parameters and API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// Form fields, `api_key` among them.
    Form,
    /// JSON body, API key as `Authorization: Bearer`.
    JsonBearer,
    /// Form fields, `api_key` in the query string.
    Query,
}

impl<'a> Km<'a> {
    async fn new(server: &'a Server) -> Self {
        let keys: Value = server
            .http
            .get(server.url("/v1/signing-keys"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let global_pem = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["active"] == true && k["algorithm"].as_str().unwrap().starts_with("RSA"))
            .expect("an active RSA key is published")["pem"]
            .as_str()
            .unwrap()
            .to_string();
        Km {
            server,
            global_pem,
            product_pem: Mutex::new(None),
            seen: Mutex::new(Vec::new()),
        }
    }

    fn trust_product_key(&self, pem: Option<String>) {
        *self.product_pem.lock().unwrap() = pem;
    }

    /// Checks one answer's envelope and returns HTTP status, `private_key_used` and the decoded
    /// (signed) response.
    async fn envelope(&self, response: reqwest::Response) -> (StatusCode, String, Value) {
        let status = response.status();
        let text = response.text().await.unwrap();
        let (used, decoded) = self.check_text(&text);
        (status, used, decoded)
    }

    /// Checks an envelope's text (an HTTP body or a webhook delivery).
    fn check_text(&self, text: &str) -> (String, Value) {
        let text = text.to_string();
        let envelope: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        let used = envelope["private_key_used"]
            .as_str()
            .expect("private_key_used")
            .to_string();
        let pem = match used.as_str() {
            "global" => self.global_pem.clone(),
            "product" => self
                .product_pem
                .lock()
                .unwrap()
                .clone()
                .expect("a product key was expected"),
            other => panic!("private_key_used {other:?}"),
        };
        let public = licensd_crypto::PublicKey::from_pem(licensd_crypto::Algorithm::Rsa2048, &pem)
            .or_else(|_| licensd_crypto::PublicKey::from_pem(licensd_crypto::Algorithm::Rsa4096, &pem))
            .unwrap();
        let decoded = verify_envelope(
            &public,
            envelope["response_base64"].as_str().unwrap(),
            envelope["signature"].as_str().unwrap(),
        )
        .unwrap_or_else(|e| panic!("envelope does not verify ({e}): {text}"));
        assert_eq!(decoded, envelope["response"], "response differs from response_base64");
        assert!(decoded["timestamp"].is_i64(), "{decoded}");
        self.seen.lock().unwrap().push((pem, text));
        (used, decoded)
    }

    async fn send(
        &self,
        method: Method,
        action: &str,
        key: &str,
        params: &[(&str, &str)],
        transport: Transport,
    ) -> Value {
        let (status, _, decoded) = self.send_full(method, action, key, params, transport).await;
        let code = decoded["code"].as_i64().unwrap();
        let expected = match code {
            100..=103 => StatusCode::UNAUTHORIZED,
            150 => StatusCode::FORBIDDEN,
            _ => StatusCode::OK,
        };
        assert_eq!(status, expected, "{decoded}");
        decoded
    }

    async fn send_full(
        &self,
        method: Method,
        action: &str,
        key: &str,
        params: &[(&str, &str)],
        transport: Transport,
    ) -> (StatusCode, String, Value) {
        let path = format!("/api/v1/{action}");
        let mut fields: Vec<(&str, &str)> = params.to_vec();
        let request = match transport {
            Transport::Form => {
                fields.push(("api_key", key));
                if method == Method::GET {
                    self.server
                        .http
                        .request(method, self.server.url(&format!("{path}?{}", encode(&fields))))
                } else {
                    form(self.server.http.request(method, self.server.url(&path)), &fields)
                }
            }
            Transport::Query => {
                let url = self.server.url(&format!("{path}?{}", encode(&[("api_key", key)])));
                if method == Method::GET {
                    self.server.http.request(method, format!("{url}&{}", encode(&fields)))
                } else {
                    form(self.server.http.request(method, url), &fields)
                }
            }
            Transport::JsonBearer => {
                let body: serde_json::Map<String, Value> = params
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect();
                if method == Method::GET {
                    self.server
                        .http
                        .request(method, self.server.url(&format!("{path}?{}", encode(&fields))))
                        .bearer_auth(key)
                } else {
                    self.server
                        .http
                        .request(method, self.server.url(&path))
                        .bearer_auth(key)
                        .json(&body)
                }
            }
        };
        let response = request.send().await.unwrap();
        self.envelope(response).await
    }

    /// POSTs form fields with `api_key` and asserts the code; returns the decoded response.
    async fn post(&self, action: &str, key: &str, params: &[(&str, &str)], code: i64) -> Value {
        let decoded = self.send(Method::POST, action, key, params, Transport::Form).await;
        assert_eq!(decoded["code"], code, "{action}: {decoded}");
        decoded
    }

    /// Runs every envelope of the test through the independent Python verifier.
    fn finish(self) {
        let python = std::env::var("LICENSD_INTEROP_PYTHON").unwrap_or_else(|_| {
            panic!("LICENSD_INTEROP_PYTHON is not set: run through scripts/test (install_interop_deps installs `cryptography`)")
        });
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/interop/keymanager/verify_envelopes.py"
        );
        let seen = self.seen.into_inner().unwrap();
        assert!(!seen.is_empty(), "the test received no envelope");
        let mut child = Command::new(&python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        {
            let mut stdin = child.stdin.take().unwrap();
            for (pem, envelope) in &seen {
                writeln!(stdin, "{}", json!({"pem": pem, "envelope": envelope})).unwrap();
            }
        }
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            seen.len(),
            "verifier output: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for (line, (_, envelope)) in lines.iter().zip(&seen) {
            assert!(line.starts_with("ok "), "Python verifier: {line} for {envelope}");
        }
        assert!(output.status.success());
    }
}

/// `application/x-www-form-urlencoded` text of `fields`.
fn encode(fields: &[(&str, &str)]) -> String {
    fn escape(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    }
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A form-encoded body, as the Key Manager Postman examples send.
fn form(request: reqwest::RequestBuilder, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(fields))
}

/// Creates a Key Manager API key through the native API; returns (credential id, api_key).
async fn api_key(server: &Server, body: Value) -> (i64, String) {
    let (status, created) = server.admin(Method::POST, "/v1/keymanager/api-keys", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["credential"]["id"].as_i64().unwrap(),
        created["api_key"].as_str().unwrap().to_string(),
    )
}

async fn client_key(server: &Server) -> String {
    api_key(server, json!({"name": "app"})).await.1
}

/// An assigned license key with an activation limit.
async fn assigned_license(server: &Server, product_id: i64, key: &str, limit: i64) -> i64 {
    let (status, body) = server
        .admin(
            Method::POST,
            "/v1/licenses",
            Some(json!({"product_id": product_id, "key": key, "assignment": "assigned", "terms": {"max_activations": limit}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

backend_tests! {
    async fn api_key_codes_and_transports(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-auth").await;
        assigned_license(&server, product, "KM-AUTH-1", 1).await;
        let (id, key) = api_key(&server, json!({"name": "app"})).await;
        let params = [("license_key", "KM-AUTH-1"), ("identifier", "host-1")];

        // 100: no key, an unknown key, a known key id with a wrong secret.
        let decoded = km.send(Method::POST, "verify", "", &params, Transport::Form).await;
        assert_eq!(decoded["code"], 100);
        assert_eq!(decoded["message"], "Invalid API Key");
        km.post("verify", "2964c3c9-0b5d-4d89-b3ac-4668f30bc492", &params, 100).await;
        let key_id = key.split_once('.').unwrap().0;
        km.post("verify", &format!("{key_id}.wrong-secret"), &params, 100).await;

        // The key works in a form body, as a query parameter and as a bearer token with JSON.
        for transport in [Transport::Form, Transport::Query, Transport::JsonBearer] {
            let decoded = km.send(Method::POST, "verify", &key, &params, transport).await;
            assert_eq!(decoded["code"], 202, "{transport:?}: {decoded}");
        }

        // 102: a key without the capability for the endpoint.
        let (_, activate_only) = api_key(&server, json!({"name": "activator", "capabilities": ["activate"]})).await;
        let decoded = km.post("verify", &activate_only, &params, 102).await;
        assert_eq!(decoded["message"], "The used API key doesn't have the required capability to access this endpoint");
        km.post("activate", &activate_only, &params, 300).await;
        // A read-only key keeps only the capabilities of endpoints that read.
        let (_, read_only) = api_key(&server, json!({"name": "ro", "capabilities": ["all"], "read_only": true})).await;
        km.post("activate", &read_only, &params, 102).await;
        km.post("verify", &read_only, &params, 200).await;

        // 103: outside the IP allow-list; inside it works.
        let (_, far) = api_key(&server, json!({"name": "far", "ip_allowlist": ["10.0.0.0/8"]})).await;
        let decoded = km.post("verify", &far, &params, 103).await;
        assert_eq!(decoded["message"], "API key can't be used from this IP address");
        let (_, near) = api_key(&server, json!({"name": "near", "ip_allowlist": ["127.0.0.0/8"]})).await;
        km.post("verify", &near, &params, 200).await;

        // 101: switched off, back on, then revoked.
        let (status, body) = server.admin(Method::PUT, &format!("/v1/keymanager/api-keys/{id}"), Some(json!({"active": false}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["active"], false);
        let decoded = km.post("verify", &key, &params, 101).await;
        assert_eq!(decoded["message"], "Inactive API Key");
        server.admin(Method::PUT, &format!("/v1/keymanager/api-keys/{id}"), Some(json!({"active": true}))).await;
        km.post("verify", &key, &params, 200).await;
        let (status, _) = server.admin(Method::POST, &format!("/v1/credentials/{id}/revoke"), None).await;
        assert_eq!(status, StatusCode::OK);
        km.post("verify", &key, &params, 101).await;

        // A key scoped to another product does not see this product's keys.
        let other = server.product("km-auth-other").await;
        let (_, scoped) = api_key(&server, json!({"name": "scoped", "product_id": other})).await;
        km.post("verify", &scoped, &params, 210).await;

        // Unknown capabilities are refused by the management API.
        let (status, _) = server
            .admin(Method::POST, "/v1/keymanager/api-keys", Some(json!({"name": "x", "capabilities": ["fly"]})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        km.finish();
    }

    async fn bad_input_gets_the_dialects_codes(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-bad").await;
        assigned_license(&server, product, "KM-BAD", 1).await;
        let key = api_key(&server, json!({"name": "shop", "capabilities": ["all"]})).await.1;
        let url = server.url("/api/v1/verify");
        // Broken JSON, a JSON array, broken form escapes and binary bodies are empty requests.
        let bodies: [(&str, Vec<u8>); 4] = [
            ("application/json", b"{\"license_key\": ".to_vec()),
            ("application/json", b"[1, 2]".to_vec()),
            ("application/x-www-form-urlencoded", b"license_key=%ZZ&identifier=%".to_vec()),
            ("application/octet-stream", vec![0xff, 0xfe, 0x00, 0x01]),
        ];
        for (content_type, body) in bodies {
            let response = server
                .http
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let (status, _, decoded) = km.envelope(response).await;
            assert_eq!((status, decoded["code"].as_i64()), (StatusCode::OK, Some(215)), "{content_type}");
        }
        // JSON numbers and booleans are read as their text; nested values are ignored.
        let response = server
            .http
            .post(server.url("/api/v1/create-license-keys"))
            .bearer_auth(&key)
            .json(&json!({"product_id": product, "license_keys": ["N1"], "activation_limit": 3, "validity": {"days": 1}}))
            .send()
            .await
            .unwrap();
        let (_, _, decoded) = km.envelope(response).await;
        assert_eq!(decoded["code"], 900, "{decoded}");
        let oversized = "x".repeat(5000);
        km.post("create-product", &key, &[("name", oversized.as_str())], 751).await;
        km.post("update-license-key", &key, &[("license_key", "KM-BAD"), ("owner_name", oversized.as_str())], 951).await;
        km.post("create-license-keys", &key, &[("product_id", "NaN"), ("license_keys", "not json")], 901).await;
        km.post("random-assign-license-keys", &key, &[("product_id", "1e3"), ("quantity", "2")], 805).await;
        km.post("verify", &key, &[("license_key", "KM-BAD"), ("identifier", "h")], 202).await;
        km.finish();
    }

    async fn access_block_list(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-block").await;
        assigned_license(&server, product, "KM-BLOCK-1", 5).await;
        let key = client_key(&server).await;
        km.post("activate", &key, &[("license_key", "KM-BLOCK-1"), ("identifier", "HW-OK")], 300).await;

        let mut ids = Vec::new();
        for (kind, value) in [("identifier", "HW-BAD"), ("domain", "pirate.example")] {
            let (status, block) = server
                .admin(Method::POST, "/v1/keymanager/access-blocks", Some(json!({"kind": kind, "value": value, "reason": "abuse"})))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{block}");
            ids.push(block["id"].as_i64().unwrap());
        }
        let (status, _) = server
            .admin(Method::POST, "/v1/keymanager/access-blocks", Some(json!({"kind": "identifier", "value": "HW-BAD"})))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        for identifier in ["HW-BAD", "https://shop.pirate.example/"] {
            for action in ["verify", "activate", "deactivate", "get-license-key-details"] {
                let decoded = km.post(action, &key, &[("license_key", "KM-BLOCK-1"), ("identifier", identifier)], 150).await;
                assert_eq!(decoded["message"], "Access denied");
            }
        }
        // Nothing was activated by the refused requests.
        let (_, devices) = server.admin(Method::GET, "/v1/licenses", None).await;
        let license_id = devices["data"][0]["id"].as_i64().unwrap();
        let (_, devices) = server.admin(Method::GET, &format!("/v1/licenses/{license_id}/devices"), None).await;
        assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
        km.post("verify", &key, &[("license_key", "KM-BLOCK-1"), ("identifier", "HW-OK")], 200).await;

        // An IP block refuses everything from that address, whatever the identifier.
        let (status, ip_block) = server
            .admin(Method::POST, "/v1/keymanager/access-blocks", Some(json!({"kind": "ip", "value": "127.0.0.0/8"})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        km.post("verify", &key, &[("license_key", "KM-BLOCK-1"), ("identifier", "HW-OK")], 150).await;
        let (status, _) = server
            .admin(Method::DELETE, &format!("/v1/keymanager/access-blocks/{}", ip_block["id"]), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        km.post("verify", &key, &[("license_key", "KM-BLOCK-1"), ("identifier", "HW-OK")], 200).await;
        let (status, _) = server
            .admin(Method::POST, "/v1/keymanager/access-blocks", Some(json!({"kind": "ip", "value": "not-an-ip"})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, list) = server.admin(Method::GET, "/v1/keymanager/access-blocks", None).await;
        assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
        km.finish();
    }

    async fn verify_activate_deactivate_cycle(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-cycle").await;
        assigned_license(&server, product, "KM-CYCLE-1", 1).await;
        let key = client_key(&server).await;
        let a = [("license_key", "KM-CYCLE-1"), ("identifier", "host-a")];
        let b = [("license_key", "KM-CYCLE-1"), ("identifier", "host-b")];

        let decoded = km.post("verify", &key, &a, 202).await;
        assert_eq!(decoded["message"], "No activation found for this license key/identifier combination");
        km.post("get-license-key-details", &key, &a, 202).await;
        let decoded = km.post("activate", &key, &a, 300).await;
        assert_eq!(decoded["message"], "License key activated");
        let decoded = km.post("activate", &key, &a, 301).await;
        assert_eq!(decoded["message"], "License key already active");
        let decoded = km.post("verify", &key, &a, 200).await;
        assert_eq!(decoded["message"], "Valid license key");
        let decoded = km.post("activate", &key, &b, 302).await;
        assert_eq!(decoded["message"], "License key reached activation limit");
        let decoded = km.post("deactivate", &key, &b, 401).await;
        assert_eq!(decoded["message"], "License key already inactive");
        let decoded = km.post("deactivate", &key, &a, 400).await;
        assert_eq!(decoded["message"], "License key deactivated");
        km.post("deactivate", &key, &a, 401).await;
        km.post("verify", &key, &a, 202).await;
        km.post("activate", &key, &b, 300).await;
        km.post("verify", &key, &b, 200).await;
        // Unknown keys and missing identifiers on every client command.
        for action in ["activate", "deactivate", "get-license-key-details"] {
            km.post(action, &key, &[("license_key", "NOPE"), ("identifier", "host-a")], 210).await;
            km.post(action, &key, &[("license_key", "KM-CYCLE-1")], 215).await;
        }
        km.finish();
    }

    async fn verify_status_codes(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-status").await;
        let key = client_key(&server).await;
        let id = |k: &'static str| [("license_key", k), ("identifier", "host")];

        let decoded = km.post("verify", &key, &id("UNKNOWN"), 210).await;
        assert_eq!(decoded["message"], "Invalid license key");
        km.post("verify", &key, &[("identifier", "host")], 210).await;
        assigned_license(&server, product, "KM-OK", 1).await;
        let decoded = km.post("verify", &key, &[("license_key", "KM-OK")], 215).await;
        assert_eq!(decoded["message"], "Identifier is required");
        km.post("verify", &key, &[("license_key", "KM-OK"), ("identifier", "  ")], 215).await;
        km.post("activate", &key, &[("license_key", "KM-OK")], 215).await;

        // 201: in stock (Key Manager "available"), for verify and activate.
        let (status, body) = server
            .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "KM-STOCK", "assignment": "in_stock"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let decoded = km.post("verify", &key, &id("KM-STOCK"), 201).await;
        assert_eq!(decoded["message"], "This license key is not assigned");
        km.post("activate", &key, &id("KM-STOCK"), 201).await;

        // 204: blocked.
        let blocked = assigned_license(&server, product, "KM-BLOCKED", 1).await;
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{blocked}/block"), None).await;
        assert_eq!(status, StatusCode::OK);
        let decoded = km.post("verify", &key, &id("KM-BLOCKED"), 204).await;
        assert_eq!(decoded["message"], "License key blocked");
        km.post("activate", &key, &id("KM-BLOCKED"), 204).await;

        // 205: expired.
        let (status, body) = server
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(json!({"product_id": product, "key": "KM-OLD", "assignment": "assigned", "expires_at": 1_000_000_000_000i64})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let decoded = km.post("verify", &key, &id("KM-OLD"), 205).await;
        assert_eq!(decoded["message"], "License key expired");
        km.post("activate", &key, &id("KM-OLD"), 205).await;

        // 203: the product is not active.
        let (status, body) = server
            .admin(Method::PATCH, &format!("/v1/products/{product}"), Some(json!({"status": "disabled"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let decoded = km.post("verify", &key, &id("KM-OK"), 203).await;
        assert_eq!(decoded["message"], "The product associated with this license key is not active or doesn't exist");
        km.post("activate", &key, &id("KM-OK"), 203).await;
        km.finish();
    }

    async fn license_key_details_and_product_key(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-details").await;
        assigned_license(&server, product, "KM-DETAILS-1", 3).await;
        let key = client_key(&server).await;
        let params = [("license_key", "KM-DETAILS-1"), ("identifier", "site.example")];
        km.post("activate", &key, &params, 300).await;
        let decoded = km.post("get-license-key-details", &key, &params, 500).await;
        assert_eq!(decoded["message"], "Active license key found");
        assert_eq!(decoded["licenseKey"]["license_key"], "KM-DETAILS-1");
        assert_eq!(decoded["licenseKey"]["activation_limit"], 3);
        assert_eq!(decoded["licenseKey"]["expires_at"], false);
        assert_eq!(decoded["licenseKey"]["meta_data"], json!([]));
        assert_eq!(decoded["product"]["id"], product);
        assert_eq!(decoded["product"]["name"], "km-details");
        assert_eq!(decoded["product"]["description"], "");

        // A product key signs answers about the product's licenses; the global key all else.
        let (status, created) = server
            .admin(Method::POST, &format!("/v1/keymanager/products/{product}/signing-key"), None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let pem = created["pem"].as_str().unwrap().to_string();
        let (_, fetched) = server
            .admin(Method::GET, &format!("/v1/keymanager/products/{product}/signing-key"), None)
            .await;
        assert_eq!(fetched["pem"], pem.as_str());
        km.trust_product_key(Some(pem.clone()));
        for (action, code) in [("get-license-key-details", 500), ("verify", 200), ("activate", 301)] {
            let (status, used, decoded) = km.send_full(Method::POST, action, &key, &params, Transport::Form).await;
            assert_eq!((status, used.as_str(), decoded["code"].as_i64()), (StatusCode::OK, "product", Some(code)));
        }
        let (_, used, decoded) = km
            .send_full(Method::POST, "verify", &key, &[("license_key", "NOPE"), ("identifier", "x")], Transport::Form)
            .await;
        assert_eq!((used.as_str(), decoded["code"].as_i64()), ("global", Some(210)));
        // The global key does not verify a product envelope.
        let response = server
            .http
            .post(server.url("/api/v1/verify"));
        let response = form(response, &[("api_key", key.as_str()), ("license_key", "KM-DETAILS-1"), ("identifier", "site.example")])
            .send()
            .await
            .unwrap();
        let envelope: Value = response.json().await.unwrap();
        let global = licensd_crypto::PublicKey::from_pem(licensd_crypto::Algorithm::Rsa2048, &km.global_pem).unwrap();
        assert!(verify_envelope(&global, envelope["response_base64"].as_str().unwrap(), envelope["signature"].as_str().unwrap()).is_err());

        let (status, _) = server
            .admin(Method::DELETE, &format!("/v1/keymanager/products/{product}/signing-key"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, used, _) = km.send_full(Method::POST, "verify", &key, &params, Transport::Form).await;
        assert_eq!(used, "global");
        let (status, _) = server
            .admin(Method::POST, "/v1/keymanager/products/999999/signing-key", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        km.finish();
    }
}

#[path = "keymanager/backoffice.rs"]
mod backoffice;

#[path = "keymanager/cli.rs"]
mod cli;
#[path = "keymanager/contracts.rs"]
mod contracts;
#[path = "keymanager/envato.rs"]
mod envato;
#[path = "keymanager/extras.rs"]
mod extras;
#[path = "keymanager/fidelity.rs"]
mod fidelity;
#[path = "keymanager/provisioning.rs"]
mod provisioning;
#[path = "keymanager/trusted_proxy.rs"]
mod trusted_proxy;
