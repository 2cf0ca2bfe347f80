//! Black-box tests of the SLASCONE dialect (`/api/v2/isv/{isv_id}`) on both backends. Every
//! response signature is verified independently with Python `cryptography`
//! (tests/interop/slascone/verify_signatures.py, env LICENSD_INTEROP_PYTHON) and every offline XML
//! file with `xmlsec1 --verify` (Debian package from tests/interop/apt-packages.txt).

use crate::harness::{Server, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

const ISV: &str = crate::harness::SLASCONE_ISV;
const PRODUCT: &str = "47df1df5-bbc8-4b1b-a185-58ddfb1d3271";

/// Issue 12: behaviour as SLASCONE's documents and clients expect (tests in slascone/).
#[path = "slascone/fidelity.rs"]
mod fidelity;
/// Issue 12, point 10: the ISV id (`--slascone-isv-id` or generated), timestamps and lengths.
#[path = "slascone/isv.rs"]
mod isv;
/// Issue 12, point 8: PUT /licenses/{license_id} with template, temporary flag and legacy key.
#[path = "slascone/license_edits.rs"]
mod license_edits;

/// Issue 13 defect 3: the ProvisioningKey's read-only flag and IP allow-list.
#[path = "slascone/credential_flags.rs"]
mod credential_flags;
/// Issue 12, point 4: floating sessions belong to a session_id.
#[path = "slascone/sessions.rs"]
mod sessions;

#[path = "slascone/expiry.rs"]
mod expiry;

#[path = "slascone/one_transaction.rs"]
mod one_transaction;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn guid(id: i64) -> String {
    format!("00000000-0000-8000-8000-{id:012x}")
}

/// One answer of the dialect with its signatures.
struct Answer {
    status: StatusCode,
    body: Value,
    bytes: Vec<u8>,
    headers: reqwest::header::HeaderMap,
}

/// Talks to the dialect and records every signature for the independent verifier.
struct Client<'a> {
    server: &'a Server,
    key: String,
    cases: std::sync::Mutex<Vec<Value>>,
}

impl<'a> Client<'a> {
    fn new(server: &'a Server, key: String) -> Self {
        Client {
            server,
            key,
            cases: std::sync::Mutex::new(Vec::new()),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>, extra: &[(&str, &str)]) -> Answer {
        self.send_isv(ISV, method, path, body, extra).await
    }

    /// `send` under another ISV id than the server's.
    async fn send_isv(
        &self,
        isv: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .server
            .http
            .request(method, self.server.url(&format!("/api/v2/isv/{isv}{path}")))
            .header("ProvisioningKey", &self.key);
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body").to_vec();
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        let signature = headers
            .get("x-slascone-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path}: no x-slascone-signature on a {status} answer"))
            .to_owned();
        let b64 = |data: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data);
        let mut cases = self.cases.lock().expect("cases");
        cases.push(
            json!({"name": format!("{path} {status}"), "data": b64(&bytes), "signature": signature, "expect": true}),
        );
        // Negative control: the same signature must not verify a body with one byte changed.
        let mut tampered = bytes.clone();
        if let Some(first) = tampered.first_mut() {
            *first ^= 0x01;
        }
        cases.push(json!({"name": format!("{path} tampered"), "data": b64(&tampered), "signature": signature, "expect": false}));
        Answer {
            status,
            body,
            bytes,
            headers,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    fn record_nonce(&self, nonce: &[u8], signature: &str) {
        let b64 = |data: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data);
        self.cases
            .lock()
            .expect("cases")
            .push(json!({"name": "nonce", "data": b64(nonce), "signature": signature, "expect": true}));
    }

    /// Verifies every recorded signature with Python `cryptography` against the published key.
    async fn verify_all(&self) {
        let pem = rsa_pem(self.server).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let pem_path = dir.path().join("key.pem");
        std::fs::write(&pem_path, pem).expect("write pem");
        let cases_path = dir.path().join("cases.json");
        let cases = self.cases.lock().expect("cases").clone();
        assert!(!cases.is_empty());
        std::fs::write(&cases_path, serde_json::to_vec(&cases).expect("json")).expect("write cases");
        let (ok, output) = run_python(&[pem_path.to_str().expect("utf-8"), cases_path.to_str().expect("utf-8")]);
        assert!(ok, "independent signature verification failed:\n{output}");
        assert!(
            output.contains(&format!("checked {} signatures, 0 mismatches", cases.len())),
            "{output}"
        );
    }
}

fn run_python(args: &[&str]) -> (bool, String) {
    let python = std::env::var("LICENSD_INTEROP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "LICENSD_INTEROP_PYTHON is not set: run scripts/test (install_interop_deps installs Python cryptography)"
        )
    });
    let script = repo_root().join("tests/interop/slascone/verify_signatures.py");
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("run python verifier");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `xmlsec1 --verify --pubkey-pem`; true when the file's signature verifies.
fn xmlsec_verify(pem: &std::path::Path, file: &std::path::Path) -> (bool, String) {
    let output = Command::new("xmlsec1")
        .arg("--verify")
        .arg("--pubkey-pem")
        .arg(pem)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmlsec1 is not installed ({e}): run scripts/test, which installs tests/interop/apt-packages.txt")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn rsa_pem(server: &Server) -> String {
    let keys: Value = server
        .http
        .get(server.url("/v1/signing-keys"))
        .send()
        .await
        .expect("keys")
        .json()
        .await
        .expect("keys json");
    keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["active"] == true && k["algorithm"].as_str().is_some_and(|a| a.starts_with("RSA")))
        .and_then(|k| k["pem"].as_str())
        .expect("active RSA key published")
        .to_owned()
}

/// A product whose code is its SLASCONE GUID, a provisioning key scoped to it, and helpers.
struct Setup {
    product_id: i64,
    key: String,
}

async fn setup(server: &Server) -> Setup {
    let (status, product) = server
        .admin(
            Method::POST,
            "/v1/products",
            Some(json!({"code": PRODUCT, "name": "BI Server"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product_id = product["id"].as_i64().expect("id");
    let key = credential(server, Some(product_id)).await;
    Setup { product_id, key }
}

async fn credential(server: &Server, product_id: Option<i64>) -> String {
    let (status, created) = server
        .admin(
            Method::POST,
            "/v1/credentials",
            Some(json!({"dialect": "slascone", "name": "app", "product_id": product_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    format!(
        "{}.{}",
        created["credential"]["key_id"].as_str().expect("key id"),
        created["secret"].as_str().expect("secret")
    )
}

fn conflict(answer: &Answer, id: u64, message: &str) {
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
    assert_eq!(answer.body, json!({"id": id, "message": message, "help": null}));
}

const MSG_1000: &str = "The input is not a valid license key.";
const MSG_1001: &str = "The license is expired.";
const MSG_1002: &str = "The license is not activated.";
const MSG_1007: &str = "The number of allowed connections has been reached.";
const MSG_2000: &str = "This master license has no available tokens. You can either add token(s) to this license or unassign some existing token(s).";
const MSG_2001: &str = "Token already assigned.";
const MSG_2002: &str = "This token is not assigned.";
const MSG_2003: &str = "Unknown token license key.";
const MSG_2004: &str = "This token key is already unassigned.";
const MSG_2006: &str = "Unknown client.";
const MSG_2010: &str = "Missing unique device/client id.";
const MSG_3000: &str = "Unknown product.";
const MSG_4000: &str = "Unknown customer.";
const MSG_4001: &str =
    "No available licenses for this customer. Create a new license or add tokens to an existing license.";
const MSG_5000: &str =
    "This client is assigned to a different token license key. Use the right or no token license key.";
const MSG_6006: &str = "Unknown license limitation.";
const MSG_6007: &str = "The consumption value must be higher than 0.";
const MSG_6008: &str = "The consumption limit has been reached.";
const MSG_6009: &str = "The consumption mode is disabled.";
const MSG_6019: &str = "This limitation does not exist.";
const MSG_12000: &str =
    "The provisioning mode of this license is set to Named. Sessions need the provisioning mode to be Floating.";
const MSG_12001: &str = "No open session were found.";

/// An AdminKey call of the dialect (signatures recorded for the independent verifier).
async fn admin_call(client: &Client<'_>, method: Method, path: impl AsRef<str>, body: Option<Value>) -> Answer {
    client
        .send(
            method,
            path.as_ref(),
            body,
            &[("AdminKey", crate::harness::ADMIN_TOKEN)],
        )
        .await
}

fn ok(answer: &Answer) -> &Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    &answer.body
}

fn guid_of(answer: &Answer, field: &str) -> String {
    ok(answer)[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {}", answer.body))
        .to_owned()
}

async fn native_count(server: &Server, path: &str) -> usize {
    let (status, list) = server.admin(Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().or(list.as_array()).map(Vec::len).expect("list")
}

backend_tests! {
    async fn golden_vectors_verify_with_the_independent_verifiers(server) {
        // The oracles themselves: SLASCONE's own demo signatures verify, tampered data does not.
        let _ = &server;
        let dir = repo_root().join("testdata/vectors/slascone");
        let body = std::fs::read(dir.join("license.json")).expect("license.json");
        let signature = std::fs::read_to_string(dir.join("signature.txt")).expect("signature.txt");
        let b64 = |data: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data);
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        let cases = json!([
            {"name": "demo license.json", "data": b64(&body), "signature": signature.trim(), "expect": true},
            {"name": "demo tampered", "data": b64(&tampered), "signature": signature.trim(), "expect": false},
        ]);
        let tmp = tempfile::tempdir().expect("tmp");
        let cases_path = tmp.path().join("cases.json");
        std::fs::write(&cases_path, cases.to_string()).expect("write");
        let pem = dir.join("slascone_demo_public_key.pem");
        let (ok, output) = run_python(&[pem.to_str().expect("utf-8"), cases_path.to_str().expect("utf-8")]);
        assert!(ok, "{output}");
        // Our own Rust verifier agrees.
        let public = licensd_crypto::PublicKey::from_pem(
            licensd_crypto::Algorithm::Rsa2048,
            &std::fs::read_to_string(&pem).expect("pem"),
        )
        .expect("demo pem");
        let decoded = licensd_crypto::b64_decode(signature.trim()).expect("b64");
        assert!(public.verify(&body, &decoded).is_ok());
        assert!(public.verify(&tampered, &decoded).is_err());
        for (file, expect) in [
            ("License-91fad880-90c4-46cb-8d8b-0a12445c6f0e.xml", true),
            ("ActivationFile.xml", true),
            ("OfflineLicenseFile.xml", true),
            ("License-91fad880-90c4-46cb-8d8b-0a12445c6f0e_scam.xml", false),
        ] {
            let (ok, output) = xmlsec_verify(&pem, &dir.join(file));
            assert_eq!(ok, expect, "{file}: {output}");
        }
    }

    async fn auth_signatures_and_nonce(server) {
        let setup = setup(&server).await;
        server.license(setup.product_id, "AUTH-KEY-1", json!({"max_activations": 2})).await;
        let client = Client::new(&server, setup.key.clone());
        let body = json!({"product_id": PRODUCT, "license_key": "AUTH-KEY-1", "client_id": "C1"});
        // Missing, malformed, unknown and wrong-secret keys are 401 (signed too).
        for bad in ["", "nonsense", "00000000-0000-0000-0000-000000000000.secret"] {
            let bad_client = Client::new(&server, bad.to_owned());
            let answer = bad_client.post("/provisioning/activations", body.clone()).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad}: {}", answer.body);
            bad_client.verify_all().await;
        }
        let (key_id, _) = setup.key.split_once('.').expect("dot");
        let wrong = Client::new(&server, format!("{key_id}.wrong-secret"));
        assert_eq!(wrong.post("/provisioning/activations", body.clone()).await.status, StatusCode::UNAUTHORIZED);
        // A key scoped to another product is a bad key for this one.
        let other_product = server.product("other-product").await;
        let scoped = Client::new(&server, credential(&server, Some(other_product)).await);
        assert_eq!(scoped.post("/provisioning/activations", body.clone()).await.status, StatusCode::UNAUTHORIZED);
        // A revoked key is refused.
        let (status, list) = server.admin(Method::GET, "/v1/credentials?dialect=slascone", None).await;
        assert_eq!(status, StatusCode::OK);
        let scoped_id = list
            .as_array()
            .expect("list")
            .iter()
            .find(|c| c["product_id"] == other_product)
            .and_then(|c| c["id"].as_i64())
            .expect("scoped credential");
        let (status, _) = server.admin(Method::POST, &format!("/v1/credentials/{scoped_id}/revoke"), None).await;
        assert_eq!(status, StatusCode::OK);
        let answer = scoped
            .send(Method::POST, "/provisioning/activations", Some(json!({"product_id": "other-product", "license_key": "x", "client_id": "c"})), &[])
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        // A malformed ISV id is not a route of this server.
        let response = server
            .http
            .post(server.url("/api/v2/isv/not-a-guid/provisioning/activations"))
            .header("ProvisioningKey", &setup.key)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        // Success with X-Nonce: body and nonce signatures, both checked independently below.
        let nonce = [7u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let nonce_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce);
        let answer = client
            .send(Method::POST, "/provisioning/activations", Some(body.clone()), &[("X-Nonce", nonce_b64.as_str())])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let nonce_signature = answer
            .headers
            .get("x-nonce-signature")
            .and_then(|v| v.to_str().ok())
            .expect("X-Nonce-Signature")
            .to_owned();
        client.record_nonce(&nonce, &nonce_signature);
        // Without a nonce there is no nonce signature.
        let answer = client.post("/provisioning/validate", json!({"license_key": "AUTH-KEY-1"})).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.headers.get("x-nonce-signature").is_none());
        // A nonce that is not Base64 is a (signed) 400; malformed JSON too.
        let answer = client
            .send(Method::POST, "/provisioning/validate", Some(json!({"license_key": "AUTH-KEY-1"})), &[("X-Nonce", "***")])
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let response = server
            .http
            .post(server.url(&format!("/api/v2/isv/{ISV}/provisioning/activations")))
            .header("ProvisioningKey", &setup.key)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("x-slascone-signature").is_some());
        client.verify_all().await;
    }

    async fn activation_heartbeat_unassign_flow(server) {
        let setup = setup(&server).await;
        let (status, customer) = server
            .admin(Method::POST, "/v1/customers", Some(json!({"company": "Factor GmbH", "reference": "10368", "email": "it@factor.example"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{customer}");
        let customer_id = customer["id"].as_i64().expect("id");
        let (status, license) = server
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(json!({
                    "product_id": setup.product_id, "key": "FLOW-KEY-1", "customer_id": customer_id,
                    "terms": {"max_activations": 2},
                    "metadata": {"slascone": {"license_name": "Site license", "freeride": 3}}
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{license}");
        let license_id = license["id"].as_i64().expect("id");
        let client = Client::new(&server, setup.key.clone());
        let activation = client
            .post(
                "/provisioning/activations",
                json!({"product_id": PRODUCT, "license_key": "FLOW-KEY-1", "client_id": "DEVICE-A",
                       "client_name": "Workstation A", "client_description": "demo", "software_version": "24.1"}),
            )
            .await;
        assert_eq!(activation.status, StatusCode::OK, "{}", activation.body);
        let info = &activation.body;
        let token_key = info["token_key"].as_str().expect("token key").to_owned();
        assert_eq!(token_key.len(), 36);
        assert_eq!(info["license_key"], "FLOW-KEY-1");
        assert_eq!(info["license_id"], guid(license_id));
        assert_eq!(info["license_name"], "Site license");
        assert_eq!(info["client_id"], "DEVICE-A");
        assert_eq!(info["client_name"], "Workstation A");
        assert_eq!(info["client_description"], "demo");
        assert_eq!(info["product_id"], PRODUCT);
        assert_eq!(info["product_name"], "BI Server");
        assert_eq!(info["provisioning_mode"], 0);
        assert_eq!(info["client_type"], 0);
        assert_eq!(info["is_license_active"], true);
        assert_eq!(info["is_license_expired"], false);
        assert_eq!(info["is_license_valid"], true);
        assert_eq!(info["token_limit"], 2);
        assert_eq!(info["freeride"], 3);
        assert_eq!(info["customer"], json!({"customer_id": guid(customer_id), "company_name": "Factor GmbH", "customer_number": "10368"}));
        // The body is signed as sent: the exact bytes.
        assert!(!activation.bytes.is_empty());
        // Activating again is idempotent: the same token.
        let again = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "FLOW-KEY-1", "client_id": "DEVICE-A"}))
            .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.body["token_key"], token_key.as_str());
        // Heartbeat: with and without the token key.
        let beat = client
            .post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "DEVICE-A", "software_version": "24.2", "operating_system": "Linux"}))
            .await;
        assert_eq!(beat.status, StatusCode::OK, "{}", beat.body);
        assert_eq!(beat.body["token_key"], token_key.as_str());
        assert_eq!(beat.body["is_license_valid"], true);
        let beat = client
            .post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "DEVICE-A", "token_key": token_key}))
            .await;
        assert_eq!(beat.status, StatusCode::OK, "{}", beat.body);
        // The heartbeat recorded what the client reported.
        let (_, devices) = server.admin(Method::GET, &format!("/v1/licenses/{license_id}/devices"), None).await;
        let device = &devices.as_array().or_else(|| devices["data"].as_array()).expect("devices")[0];
        assert_eq!(device["os"], "Linux");
        assert_eq!(device["app_version"], "24.2");
        // The token key activates its own client again, and nobody else (2001).
        let by_token = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": token_key, "client_id": "DEVICE-A"}))
            .await;
        assert_eq!(by_token.status, StatusCode::OK, "{}", by_token.body);
        // Unassign frees the token.
        let unassigned = client.post("/provisioning/unassign", json!({"token_key": token_key})).await;
        assert_eq!(unassigned.status, StatusCode::OK, "{}", unassigned.body);
        assert_eq!(unassigned.body, json!("The token was unassigned."));
        let beat = client
            .post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "DEVICE-A"}))
            .await;
        conflict(&beat, 2006, MSG_2006);
        client.verify_all().await;
    }

    async fn conflicts_activation(server) {
        let setup = setup(&server).await;
        server.license(setup.product_id, "ONE-SEAT", json!({"max_activations": 1})).await;
        let client = Client::new(&server, setup.key.clone());
        let activate = |key: &str, client_id: &str, product: &str| {
            json!({"product_id": product, "license_key": key, "client_id": client_id})
        };
        conflict(&client.post("/provisioning/activations", activate("NOPE", "C1", PRODUCT)).await, 1000, MSG_1000);
        conflict(&client.post("/provisioning/activations", activate("ONE-SEAT", "", PRODUCT)).await, 2010, MSG_2010);
        conflict(
            &client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "ONE-SEAT"})).await,
            2010,
            MSG_2010,
        );
        // An unscoped key reaches the product lookup: 3000 for an unknown product.
        let unscoped = Client::new(&server, credential(&server, None).await);
        conflict(
            &unscoped.post("/provisioning/activations", activate("ONE-SEAT", "C1", "9f348d95-2ce0-427f-8398-9dea7daf28fd")).await,
            3000,
            MSG_3000,
        );
        unscoped.verify_all().await;
        assert_eq!(client.post("/provisioning/activations", activate("ONE-SEAT", "C1", PRODUCT)).await.status, StatusCode::OK);
        conflict(&client.post("/provisioning/activations", activate("ONE-SEAT", "C2", PRODUCT)).await, 2000, MSG_2000);
        // The refused activation changed nothing: C1 still holds the only token, C2 none.
        let beat = client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C2"})).await;
        conflict(&beat, 2006, MSG_2006);
        let beat = client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1"})).await;
        assert_eq!(beat.status, StatusCode::OK);
        client.verify_all().await;
    }

    async fn conflicts_license_state(server) {
        let setup = setup(&server).await;
        let license_id = server.license(setup.product_id, "STATE-KEY", json!({"max_activations": 3})).await;
        let client = Client::new(&server, setup.key.clone());
        let activate = |client_id: &str| json!({"product_id": PRODUCT, "license_key": "STATE-KEY", "client_id": client_id});
        assert_eq!(client.post("/provisioning/activations", activate("C1")).await.status, StatusCode::OK);
        // Disabled: 1002 on activation and heartbeat; validate reports it as not valid.
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{license_id}/disable"), None).await;
        assert_eq!(status, StatusCode::OK);
        conflict(&client.post("/provisioning/activations", activate("C2")).await, 1002, MSG_1002);
        conflict(&client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1"})).await, 1002, MSG_1002);
        let validated = client.post("/provisioning/validate", json!({"license_key": "STATE-KEY"})).await;
        assert_eq!(validated.status, StatusCode::OK);
        assert_eq!(validated.body["is_license_active"], false);
        assert_eq!(validated.body["is_license_valid"], false);
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{license_id}/enable"), None).await;
        assert_eq!(status, StatusCode::OK);
        // Expired: 1001 on activation and heartbeat.
        let (status, body) = server
            .admin(Method::PATCH, &format!("/v1/licenses/{license_id}"), Some(json!({"expires_at": 1_000_000})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        conflict(&client.post("/provisioning/activations", activate("C2")).await, 1001, MSG_1001);
        conflict(&client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1"})).await, 1001, MSG_1001);
        let validated = client.post("/provisioning/validate", json!({"license_key": "STATE-KEY"})).await;
        assert_eq!(validated.body["is_license_expired"], true);
        assert_eq!(validated.body["expiration_date_utc"], "1970-01-01T00:16:40Z");
        client.verify_all().await;
    }

    async fn conflicts_tokens(server) {
        let setup = setup(&server).await;
        server.license(setup.product_id, "TOKEN-KEY", json!({"max_activations": 3})).await;
        let client = Client::new(&server, setup.key.clone());
        let first = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "TOKEN-KEY", "client_id": "C1"}))
            .await;
        assert_eq!(first.status, StatusCode::OK);
        let token = first.body["token_key"].as_str().expect("token").to_owned();
        // 2001: the token key is C1's; C2 cannot take it.
        conflict(
            &client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": token, "client_id": "C2"})).await,
            2001,
            MSG_2001,
        );
        // 2003: unknown token key (unassign and heartbeat).
        let unknown = "4e420432-8ba4-439c-98b3-7929f33d5e87";
        conflict(&client.post("/provisioning/unassign", json!({"token_key": unknown})).await, 2003, MSG_2003);
        conflict(
            &client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1", "token_key": unknown})).await,
            2003,
            MSG_2003,
        );
        // 5000: C2 (activated with the license key) sends C1's token key.
        assert_eq!(
            client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "TOKEN-KEY", "client_id": "C2"})).await.status,
            StatusCode::OK
        );
        conflict(
            &client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C2", "token_key": token})).await,
            5000,
            MSG_5000,
        );
        // 2006: a client never activated.
        conflict(&client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C9"})).await, 2006, MSG_2006);
        // 2004 / 2002: after unassigning.
        assert_eq!(client.post("/provisioning/unassign", json!({"token_key": token})).await.status, StatusCode::OK);
        conflict(&client.post("/provisioning/unassign", json!({"token_key": token})).await, 2004, MSG_2004);
        conflict(
            &client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1", "token_key": token})).await,
            2002,
            MSG_2002,
        );
        client.verify_all().await;
    }

    async fn validate_and_lookup(server) {
        let setup = setup(&server).await;
        let (_, customer) = server.admin(Method::POST, "/v1/customers", Some(json!({"company": "Ring Retail"}))).await;
        let customer_id = customer["id"].as_i64().expect("id");
        let (_, empty_customer) = server.admin(Method::POST, "/v1/customers", Some(json!({"company": "Nobody"}))).await;
        let empty_id = empty_customer["id"].as_i64().expect("id");
        let (status, license) = server
            .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": setup.product_id, "key": "LOOK-KEY", "customer_id": customer_id})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{license}");
        let client = Client::new(&server, setup.key.clone());
        conflict(&client.post("/provisioning/validate", json!({"license_key": "NOPE"})).await, 1000, MSG_1000);
        conflict(&client.post("/provisioning/validate", json!({})).await, 1000, MSG_1000);
        let answer = client.post("/provisioning/validate", json!({"license_key": "LOOK-KEY"})).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body["is_license_valid"], true);
        assert_eq!(answer.body["token_key"], Value::Null);
        let answer = client.post("/provisioning/licenses/by_license", json!({"license_key": "LOOK-KEY"})).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body.as_array().map(Vec::len), Some(1));
        assert_eq!(answer.body[0]["license_key"], "LOOK-KEY");
        conflict(&client.post("/provisioning/licenses/by_license", json!({"license_key": "NOPE"})).await, 1000, MSG_1000);
        let answer = client.post("/provisioning/licenses/by_customer", json!({"customer_id": guid(customer_id)})).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body.as_array().map(Vec::len), Some(1));
        assert_eq!(answer.body[0]["customer"]["company_name"], "Ring Retail");
        conflict(&client.post("/provisioning/licenses/by_customer", json!({"customer_id": guid(999_999)})).await, 4000, MSG_4000);
        conflict(&client.post("/provisioning/licenses/by_customer", json!({"customer_id": guid(empty_id)})).await, 4001, MSG_4001);
        client.verify_all().await;
    }

    async fn sessions_floating(server) {
        let setup = setup(&server).await;
        let named_id = server.license(setup.product_id, "NAMED-KEY", json!({"max_activations": 1})).await;
        let floating_id = server
            .license(
                setup.product_id,
                "FLOAT-KEY",
                json!({"max_activations": null, "floating": {"seats": 1, "lease_seconds": 300, "borrow_allowed": true, "max_borrow_hours": 48}}),
            )
            .await;
        let client = Client::new(&server, setup.key.clone());
        let open = |license_id: i64, client_id: &str| {
            json!({"license_id": guid(license_id), "client_id": client_id, "session_id": "0f536992-168e-48b9-80bb-08dc375b9bb8"})
        };
        conflict(&client.post("/provisioning/session/open", open(named_id, "C1")).await, 12000, MSG_12000);
        conflict(&client.post("/provisioning/session/open", json!({"license_id": "bogus", "client_id": "C1", "session_id": "s"})).await, 1000, MSG_1000);
        conflict(&client.post("/provisioning/session/open", json!({"license_id": guid(floating_id), "session_id": "s"})).await, 2010, MSG_2010);
        conflict(
            &client.post("/provisioning/session/open", json!({"license_id": guid(floating_id), "client_id": "C1"})).await,
            12005,
            "The session id is mandatory.",
        );
        let mut with_checkout = open(floating_id, "C1");
        with_checkout["checkout_period"] = json!(0);
        conflict(
            &client.post("/provisioning/session/open", with_checkout).await,
            12003,
            "The checkout period must be a positive number of minutes.",
        );
        let count_path = format!("/provisioning/licenses/{}/tokens/floating/active/count", guid(floating_id));
        let count = client.send(Method::GET, &count_path, None, &[]).await;
        assert_eq!((count.status, count.body.clone()), (StatusCode::OK, json!(0)));
        let opened = client.post("/provisioning/session/open", open(floating_id, "C1")).await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
        assert_eq!(opened.body["is_session_valid"], true);
        assert_eq!(opened.body["max_open_session_count"], 1);
        assert!(opened.body["session_valid_until"].as_str().is_some_and(|t| t.ends_with('Z')));
        // Renewal by the same client keeps its seat; another client finds none (1007).
        assert_eq!(client.post("/provisioning/session/open", open(floating_id, "C1")).await.status, StatusCode::OK);
        conflict(&client.post("/provisioning/session/open", open(floating_id, "C2")).await, 1007, MSG_1007);
        let count = client.send(Method::GET, &count_path, None, &[]).await;
        assert_eq!(count.body, json!(1));
        let closed = client.post("/provisioning/session/close", open(floating_id, "C1")).await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
        conflict(&client.post("/provisioning/session/close", open(floating_id, "C1")).await, 12001, MSG_12001);
        // The seat is free again; a borrowed (checked-out) session lasts the checkout period.
        let mut borrowed = open(floating_id, "C2");
        borrowed["checkout_period"] = json!(600);
        let answer = client.post("/provisioning/session/open", borrowed).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let until = answer.body["session_valid_until"].as_str().expect("until").to_owned();
        let modified = answer.body["session_modified_date"].as_str().expect("modified").to_owned();
        assert!(until > modified, "{until} > {modified}");
        client.verify_all().await;
    }

    async fn sessions_user_type_products_need_a_user(server) {
        let (status, product) = server
            .admin(Method::POST, "/v1/products", Some(json!({"code": "user-product", "name": "U", "auth_method": "user"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{product}");
        let product_id = product["id"].as_i64().expect("id");
        let (status, license) = server
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(json!({"product_id": product_id, "terms": {"max_activations": null, "floating": {"seats": 2, "lease_seconds": 60}}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{license}");
        let license_id = license["id"].as_i64().expect("id");
        let client = Client::new(&server, credential(&server, Some(product_id)).await);
        conflict(
            &client.post("/provisioning/session/open", json!({"license_id": guid(license_id), "client_id": "C1", "session_id": "s1"})).await,
            12004,
            "The user id is mandatory for a floating license with client type Users.",
        );
        let open = json!({"license_id": guid(license_id), "client_id": "C1", "session_id": "s1", "user_id": "u@example.com"});
        // A user the license does not have gets no seat (issue 12 point 4, slascone/sessions.rs).
        conflict(&client.post("/provisioning/session/open", open.clone()).await, 1010, "Unknown license user.");
        let response = server
            .http
            .post(server.url(&format!("/api/v2/isv/{ISV}/licenses/{}/users", guid(license_id))))
            .header("AdminKey", crate::harness::ADMIN_TOKEN)
            .json(&json!({"user_id": "u@example.com"}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let answer = client.post("/provisioning/session/open", open).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        client.verify_all().await;
    }

    async fn offline_files_verify_with_xmlsec1(server) {
        let setup = setup(&server).await;
        let (_, customer) = server.admin(Method::POST, "/v1/customers", Some(json!({"company": "Factor & Söhne <GmbH>", "reference": "10368"}))).await;
        let customer_id = customer["id"].as_i64().expect("id");
        let (status, feature) = server
            .admin(Method::POST, "/v1/features", Some(json!({"product_id": setup.product_id, "code": "print", "name": "Print"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{feature}");
        let (status, license) = server
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(json!({"product_id": setup.product_id, "key": "OFFLINE-KEY", "customer_id": customer_id,
                            "terms": {"max_activations": 2}, "features": [{"code": "print"}]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{license}");
        let license_id = license["id"].as_i64().expect("id");
        let client = Client::new(&server, setup.key.clone());
        let answer = client
            .send(
                Method::GET,
                &format!("/provisioning/activations/offline?product_id={PRODUCT}&license_key=OFFLINE-KEY&client_id=24A43FCC-3674&file_name=ActivationFile.xml"),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let activation_xml = String::from_utf8(answer.bytes.clone()).expect("utf-8");
        assert!(activation_xml.starts_with("<slascone_activation_file xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><license_key>OFFLINE-KEY</license_key><token_key>"), "{activation_xml}");
        assert!(activation_xml.contains("<client_id>24A43FCC-3674</client_id>"));
        // The license file (AdminKey = a licensd admin token), with an inline activation.
        let response = server
            .http
            .get(server.url(&format!("/api/v2/isv/{ISV}/licenses/{}/xml?client_id=24A43FCC-3674", guid(license_id))))
            .header("AdminKey", crate::harness::ADMIN_TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("x-slascone-signature").is_some());
        let license_xml = response.text().await.expect("text");
        assert!(license_xml.starts_with("<slascone_license_file xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><modified_date_utc>"), "{license_xml}");
        assert!(license_xml.contains("<company_name>Factor &amp; Söhne &lt;GmbH&gt;</company_name>"), "{license_xml}");
        assert!(license_xml.contains("<features><id>"));
        assert!(license_xml.contains("<name>Print</name>"));
        assert!(license_xml.contains("<client_id>24A43FCC-3674</client_id><Signature"));
        // Without an AdminKey: 401.
        let response = server
            .http
            .get(server.url(&format!("/api/v2/isv/{ISV}/licenses/{}/xml", guid(license_id))))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let dir = tempfile::tempdir().expect("tmp");
        let pem = dir.path().join("key.pem");
        std::fs::write(&pem, rsa_pem(&server).await).expect("pem");
        for (name, xml, from, to) in [
            ("activation.xml", &activation_xml, "24A43FCC-3674", "24A43FCC-9999"),
            ("license.xml", &license_xml, "<name>Print</name>", "<name>Prunt</name>"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, xml).expect("write");
            let (ok, output) = xmlsec_verify(&pem, &path);
            assert!(ok, "{name} does not verify:\n{output}\n{xml}");
            let tampered = dir.path().join(format!("tampered-{name}"));
            std::fs::write(&tampered, xml.replacen(from, to, 1)).expect("write");
            let (ok, output) = xmlsec_verify(&pem, &tampered);
            assert!(!ok, "tampered {name} verified:\n{output}");
        }
        client.verify_all().await;
    }

    async fn consumption_heartbeats_status_and_rollback(server) {
        let setup = setup(&server).await;
        let (status, documents) = server
            .admin(
                Method::POST,
                "/v1/features",
                Some(json!({"product_id": setup.product_id, "code": "documents", "name": "Documents",
                            "feature_type": "consumption", "max_consumptions": 10, "reset_period": "monthly"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{documents}");
        let documents_id = guid(documents["id"].as_i64().expect("id"));
        let (status, print) = server
            .admin(Method::POST, "/v1/features", Some(json!({"product_id": setup.product_id, "code": "print", "name": "Print"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{print}");
        let print_id = guid(print["id"].as_i64().expect("id"));
        let (status, license) = server
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(json!({"product_id": setup.product_id, "key": "CONS-KEY", "terms": {"max_activations": 2},
                            "features": [{"code": "documents"}, {"code": "print"}]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{license}");
        let license_guid = guid(license["id"].as_i64().expect("id"));
        let client = Client::new(&server, setup.key.clone());
        let status_of = |limitation: &str| json!({"license_id": license_guid, "limitation_id": limitation});
        let answer = client.post("/provisioning/validate/consumption", status_of(&documents_id)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!((answer.body["limit"].clone(), answer.body["remaining"].clone(), answer.body["balance"].clone()), (json!(10), json!(10), json!(0)));
        assert!(answer.body["next_reset_date_utc"].as_str().is_some_and(|d| d.ends_with("T00:00:00Z")));
        conflict(&client.post("/provisioning/validate/consumption", status_of("00cf2984-d71a-4c66-9f49-08da833189e3")).await, 6006, MSG_6006);
        conflict(&client.post("/provisioning/validate/consumption", status_of(&print_id)).await, 6009, MSG_6009);
        let beat = |limitation: &str, value: Value, external: &str| {
            json!({"client_id": "C1", "consumption_heartbeat": [{"limitation_id": limitation, "value": value, "external_id": external}]})
        };
        // Before activation the client is unknown.
        conflict(&client.post("/data_gathering/consumption_heartbeats", beat(&documents_id, json!(1), "e0")).await, 2006, MSG_2006);
        assert_eq!(
            client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "CONS-KEY", "client_id": "C1"})).await.status,
            StatusCode::OK
        );
        conflict(&client.post("/data_gathering/consumption_heartbeats", json!({"consumption_heartbeat": []})).await, 2010, MSG_2010);
        let answer = client.post("/data_gathering/consumption_heartbeats", beat(&documents_id, json!(4), "e1")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body[0]["limitation_id"], documents_id.as_str());
        assert_eq!((answer.body[0]["balance"].clone(), answer.body[0]["remaining"].clone()), (json!(4), json!(6)));
        let transaction = answer.body[0]["transaction_id"].as_str().expect("transaction").to_owned();
        // The same external id is not counted twice.
        let again = client.post("/data_gathering/consumption_heartbeats", beat(&documents_id, json!(4), "e1")).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.body[0]["balance"], 4);
        assert_eq!(again.body[0]["transaction_id"], transaction.as_str());
        conflict(&client.post("/data_gathering/consumption_heartbeats", beat(&documents_id, json!(0), "e2")).await, 6007, MSG_6007);
        conflict(&client.post("/data_gathering/consumption_heartbeats", beat(&documents_id, json!(-2), "e2")).await, 6007, MSG_6007);
        conflict(&client.post("/data_gathering/consumption_heartbeats", beat("no-such-limitation", json!(1), "e2")).await, 6006, MSG_6006);
        conflict(&client.post("/data_gathering/consumption_heartbeats", beat(&print_id, json!(1), "e2")).await, 6009, MSG_6009);
        conflict(&client.post("/data_gathering/consumption_heartbeats", beat(&documents_id, json!(7), "e3")).await, 6008, MSG_6008);
        // The refused heartbeat counted nothing.
        let answer = client.post("/provisioning/validate/consumption", status_of(&documents_id)).await;
        assert_eq!(answer.body["balance"], 4);
        // Rollback gives the 4 units back, once.
        let answer = client.post("/data_gathering/consumption_heartbeats/rollback", json!([transaction])).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let answer = client.post("/provisioning/validate/consumption", status_of(&documents_id)).await;
        assert_eq!((answer.body["balance"].clone(), answer.body["remaining"].clone()), (json!(0), json!(10)));
        let answer = client
            .post("/data_gathering/consumption_heartbeats/rollback", json!({"transaction_ids": [transaction]}))
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        let answer = client.post("/provisioning/validate/consumption", status_of(&documents_id)).await;
        assert_eq!(answer.body["balance"], 0);
        conflict(&client.post("/data_gathering/consumption_heartbeats/rollback", json!([guid(999_999)])).await, 6019, MSG_6019);
        // Now 10 fit exactly.
        let answer = client.post("/data_gathering/consumption_heartbeats", beat(&documents_id, json!(10), "e4")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body[0]["remaining"], 0);
        client.verify_all().await;
    }


    async fn rate_limited_answers_carry_retry_after(server) {
        let setup = setup(&server).await;
        server.license(setup.product_id, "RATE-KEY", json!({"max_activations": 1})).await;
        let backend = server.backend;
        let (dir, database) = server.stop();
        let server = Server::start_with(backend, dir, database, &[("--rate-limit-per-credential", "2")]).await;
        let client = Client::new(&server, setup.key.clone());
        for _ in 0..2 {
            let answer = client.post("/provisioning/validate", json!({"license_key": "RATE-KEY"})).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        }
        let answer = client.post("/provisioning/validate", json!({"license_key": "RATE-KEY"})).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{}", answer.body);
        let retry: u64 = answer
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After seconds");
        assert!((1..=60).contains(&retry), "{retry}");
        client.verify_all().await;
    }

    async fn per_ip_limit_answers_429_with_retry_after(server) {
        let setup = setup(&server).await;
        server.license(setup.product_id, "IP-KEY", json!({"max_activations": 1})).await;
        let backend = server.backend;
        let (dir, database) = server.stop();
        let server = Server::start_with(backend, dir, database, &[("--rate-limit-per-ip", "3"), ("--rate-limit-window-seconds", "60")]).await;
        let client = Client::new(&server, setup.key.clone());
        // The IP allowance counts every request of the dialect, also unauthenticated ones.
        let bad = Client::new(&server, "nonsense".to_owned());
        assert_eq!(bad.post("/provisioning/validate", json!({"license_key": "IP-KEY"})).await.status, StatusCode::UNAUTHORIZED);
        for _ in 0..2 {
            let answer = client.post("/provisioning/validate", json!({"license_key": "IP-KEY"})).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        }
        for answer in [
            client.post("/provisioning/validate", json!({"license_key": "IP-KEY"})).await,
            admin_call(&client, Method::POST, "/tags", Some(json!({"name": "VIP"}))).await,
        ] {
            assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{}", answer.body);
            let retry: u64 = answer
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After seconds");
            assert!((1..=60).contains(&retry), "{retry}");
        }
        // The refused admin call stored nothing; the native API is not the dialect's allowance.
        let (status, tags) = server.admin(Method::GET, "/v1/slascone/entries/tag", None).await;
        assert_eq!((status, tags), (StatusCode::OK, json!([])));
        client.verify_all().await;
        bad.verify_all().await;
    }

    async fn data_gathering_analytical_and_usage(server) {
        let setup = setup(&server).await;
        server.license(setup.product_id, "DATA-KEY", json!({"max_activations": 2})).await;
        let admin = |path: &str, body: Value| {
            let request = server
                .http
                .post(server.url(&format!("/api/v2/isv/{ISV}{path}")))
                .header("AdminKey", crate::harness::ADMIN_TOKEN)
                .json(&body);
            async move {
                let response = request.send().await.expect("request");
                let status = response.status();
                assert!(response.headers().get("x-slascone-signature").is_some());
                (status, response.json::<Value>().await.expect("json"))
            }
        };
        let products = format!("/products/{PRODUCT}");
        let (status, cpu) = admin(&format!("{products}/analytical_fields"), json!({"name": "CPU cores", "type": "numeric"})).await;
        assert_eq!(status, StatusCode::OK, "{cpu}");
        assert_eq!(cpu["type"], "numeric");
        let (status, cloud) = admin(&format!("{products}/analytical_fields"), json!({"name": "Cloud", "type": "boolean"})).await;
        assert_eq!(status, StatusCode::OK, "{cloud}");
        let (status, os) = admin(&format!("{products}/analytical_fields"), json!({"name": "OS", "type": "alphanumeric"})).await;
        assert_eq!(status, StatusCode::OK, "{os}");
        let (status, body) = admin(&format!("{products}/analytical_fields"), json!({"name": "CPU cores", "type": "numeric"})).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, json!({"id": 6015, "message": "This analytical field already exists.", "help": null})));
        let (status, body) = admin(&format!("{products}/analytical_fields"), json!({"name": "X", "type": "float"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = admin("/products/00000000-1111-2222-3333-444444444444/analytical_fields", json!({"name": "X", "type": "numeric"})).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, json!({"id": 3000, "message": MSG_3000, "help": null})));
        let (status, export) = admin(&format!("{products}/usage_features"), json!({"name": "Export"})).await;
        assert_eq!(status, StatusCode::OK, "{export}");
        let (status, body) = admin(&format!("{products}/usage_features"), json!({"name": "Export"})).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, json!({"id": 6010, "message": "This usage feature already exists.", "help": null})));
        let export_id = export["id"].as_str().expect("id").to_owned();
        let modules = format!("{products}/usage_features/{export_id}/usage_modules");
        let (status, pdf) = admin(&modules, json!({"name": "PDF"})).await;
        assert_eq!(status, StatusCode::OK, "{pdf}");
        let (status, body) = admin(&modules, json!({"name": "PDF"})).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, json!({"id": 6011, "message": "This usage module already exists.", "help": null})));
        // Without an AdminKey: 401.
        let response = server
            .http
            .post(server.url(&format!("/api/v2/isv/{ISV}{products}/usage_features")))
            .json(&json!({"name": "Y"}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        let client = Client::new(&server, setup.key.clone());
        assert_eq!(
            client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "DATA-KEY", "client_id": "C1"})).await.status,
            StatusCode::OK
        );
        let analytical = |items: Value| json!({"client_id": "C1", "analytical_heartbeat": items});
        let cpu_id = cpu["id"].as_str().expect("id");
        let cloud_id = cloud["id"].as_str().expect("id");
        let os_id = os["id"].as_str().expect("id");
        let answer = client
            .post("/data_gathering/analytical_heartbeats", analytical(json!([
                {"analytical_field_id": cpu_id, "value": "8", "timestamp_utc": "2026-11-23T08:00:00Z"},
                {"analytical_field_id": cloud_id, "value": true},
                {"analytical_field_id": os_id, "value_array": ["Linux", "x64"]},
            ])))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        conflict(&client.post("/data_gathering/analytical_heartbeats", analytical(json!([{"analytical_field_id": guid(999_999), "value": "1"}]))).await, 6000, "Unknown analytical field.");
        conflict(&client.post("/data_gathering/analytical_heartbeats", analytical(json!([{"analytical_field_id": cpu_id, "value": "eight"}]))).await, 6001, "A numerical analytical field can not accept an alphanumerical value.");
        conflict(
            &client.post("/data_gathering/analytical_heartbeats", analytical(json!([{"analytical_field_id": cpu_id, "value": "1"}, {"analytical_field_id": cpu_id, "value": "2"}]))).await,
            6003,
            "At least one analytical field appears more than once in the array. Make sure it is used just once.",
        );
        conflict(&client.post("/data_gathering/analytical_heartbeats", analytical(json!([{"analytical_field_id": cloud_id, "value": "maybe"}]))).await, 6005, "A boolean field can only accept true or false as a value.");
        conflict(&client.post("/data_gathering/analytical_heartbeats", json!({"client_id": "C9", "analytical_heartbeat": []})).await, 2006, MSG_2006);

        let pdf_id = pdf["id"].as_str().expect("id");
        let usage = |items: Value| json!({"client_id": "C1", "usage_heartbeat": items});
        let answer = client
            .post("/data_gathering/usage_heartbeats", usage(json!([
                {"usage_feature_id": export_id, "usage_module_id": pdf_id, "value": 3},
                {"usage_feature_id": export_id, "value": 2},
            ])))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let answer = client
            .post("/data_gathering/usage_heartbeats_by_name", usage(json!([{"usage_feature_name": "Export", "usage_module_name": "PDF", "value": 4}])))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        conflict(&client.post("/data_gathering/usage_heartbeats", usage(json!([{"usage_feature_id": guid(999_999), "value": 1}]))).await, 6002, "Unknown usage feature.");
        conflict(&client.post("/data_gathering/usage_heartbeats_by_name", usage(json!([{"usage_feature_name": "Import", "value": 1}]))).await, 6002, "Unknown usage feature.");
        conflict(
            &client.post("/data_gathering/usage_heartbeats", usage(json!([{"usage_feature_id": export_id, "usage_module_id": guid(999_999), "value": 1}]))).await,
            6004,
            "Unknown usage module.",
        );
        // A refused heartbeat records nothing, even its valid items.
        conflict(
            &client.post("/data_gathering/usage_heartbeats_by_name", usage(json!([{"usage_feature_name": "Export", "value": 50}, {"usage_feature_name": "Export", "usage_module_name": "DOCX", "value": 1}]))).await,
            6004,
            "Unknown usage module.",
        );
        let (_, licenses) = server.admin(Method::GET, "/v1/licenses", None).await;
        let license_id = licenses["data"][0]["id"].as_i64().expect("license id");
        let response = server
            .http
            .get(server.url(&format!("/api/v2/isv/{ISV}/licenses/{}/usage", guid(license_id))))
            .header("AdminKey", crate::harness::ADMIN_TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let totals: Value = response.json().await.expect("json");
        assert_eq!(
            totals,
            json!([
                {"usage_feature_id": export_id, "usage_module_id": null, "total": 2},
                {"usage_feature_id": export_id, "usage_module_id": pdf_id, "total": 7},
            ])
        );
        client.verify_all().await;
    }


    async fn native_admin_manages_data_gathering(server) {
        let setup = setup(&server).await;
        let license_id = server.license(setup.product_id, "NATIVE-KEY", json!({"max_activations": 1})).await;
        let base = format!("/v1/slascone/products/{}", setup.product_id);
        let (status, field) = server
            .admin(Method::POST, &format!("{base}/analytical-fields"), Some(json!({"name": "Cores", "field_type": "numeric"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{field}");
        assert_eq!(field["field_type"], "numeric");
        let (status, body) = server
            .admin(Method::POST, &format!("{base}/analytical-fields"), Some(json!({"name": "Cores", "field_type": "boolean"})))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, body) = server
            .admin(Method::POST, &format!("{base}/analytical-fields"), Some(json!({"name": "X", "field_type": "float"})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, body) = server
            .admin(Method::POST, "/v1/slascone/products/999999/analytical-fields", Some(json!({"name": "X", "field_type": "numeric"})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, list) = server.admin(Method::GET, &format!("{base}/analytical-fields"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().map(Vec::len), Some(1));
        let (status, feature) = server.admin(Method::POST, &format!("{base}/usage-features"), Some(json!({"name": "Export"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{feature}");
        let feature_id = feature["id"].as_i64().expect("id");
        let (status, module) = server
            .admin(Method::POST, &format!("/v1/slascone/usage-features/{feature_id}/modules"), Some(json!({"name": "PDF"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{module}");
        let (status, body) = server
            .admin(Method::POST, "/v1/slascone/usage-features/999999/modules", Some(json!({"name": "PDF"})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        // Reports through the dialect show up in the native views.
        let client = Client::new(&server, setup.key.clone());
        assert_eq!(
            client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "NATIVE-KEY", "client_id": "C1"})).await.status,
            StatusCode::OK
        );
        let answer = client
            .post("/data_gathering/usage_heartbeats", json!({"client_id": "C1", "usage_heartbeat": [{"usage_feature_id": guid(feature_id), "value": 5}]}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let answer = client
            .post(
                "/data_gathering/analytical_heartbeats",
                json!({"client_id": "C1", "analytical_heartbeat": [{"analytical_field_id": guid(field["id"].as_i64().expect("id")), "value": 16, "timestamp_utc": "2026-11-23T08:00:00Z"}]}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let (status, usage) = server.admin(Method::GET, &format!("/v1/slascone/licenses/{license_id}/usage"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(usage, json!([{"usage_feature_id": feature_id, "usage_module_id": null, "total": 5}]));
        let (status, analytics) = server.admin(Method::GET, &format!("/v1/slascone/licenses/{license_id}/analytics"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(analytics[0]["value"], "16");
        assert_eq!(analytics[0]["reported_at"], 1_795_420_800_000_i64);
        let (status, _) = server.admin(Method::GET, "/v1/slascone/licenses/999999/usage", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, openapi) = server.admin(Method::GET, "/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(openapi["paths"]["/v1/slascone/products/{id}/analytical-fields"]["post"].is_object());
        client.verify_all().await;
    }


    async fn cli_manages_data_gathering(server) {
        let product = server.product("cli-product").await;
        let product_arg = product.to_string();
        let (code, stdout, stderr) = server.cli(&["--json", "slascone", "add-analytical-field", &product_arg, "Cores", "numeric"]);
        assert_eq!(code, 0, "{stderr}");
        let field: Value = serde_json::from_str(stdout.trim()).expect("json");
        assert_eq!((field["name"].clone(), field["field_type"].clone()), (json!("Cores"), json!("numeric")));
        let (code, _, stderr) = server.cli(&["slascone", "add-analytical-field", &product_arg, "Cores", "numeric"]);
        assert_ne!(code, 0);
        assert!(stderr.contains("already exists"), "{stderr}");
        let (code, stdout, stderr) = server.cli(&["slascone", "analytical-fields", &product_arg]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("Cores") && stdout.contains("numeric"), "{stdout}");
        let (code, stdout, stderr) = server.cli(&["--json", "slascone", "add-usage-feature", &product_arg, "Export"]);
        assert_eq!(code, 0, "{stderr}");
        let feature: Value = serde_json::from_str(stdout.trim()).expect("json");
        let feature_arg = feature["id"].as_i64().expect("id").to_string();
        let (code, _, stderr) = server.cli(&["slascone", "add-usage-module", &feature_arg, "PDF"]);
        assert_eq!(code, 0, "{stderr}");
        let (code, stdout, _) = server.cli(&["slascone", "usage-modules", &feature_arg]);
        assert_eq!(code, 0);
        assert!(stdout.contains("PDF"), "{stdout}");
        let (code, stdout, _) = server.cli(&["slascone", "usage-features", &product_arg]);
        assert_eq!(code, 0);
        assert!(stdout.contains("Export"), "{stdout}");
    }


    async fn license_users(server) {
        let setup = setup(&server).await;
        let license_id = server.license(setup.product_id, "USERS-KEY", json!({"max_activations": 1, "max_users": 1})).await;
        let users = format!("/api/v2/isv/{ISV}/licenses/{}/users", guid(license_id));
        let call = |method: Method, path: String, body: Option<Value>| {
            let mut request = server.http.request(method, server.url(&path)).header("AdminKey", crate::harness::ADMIN_TOKEN);
            if let Some(body) = body {
                request = request.json(&body);
            }
            async move {
                let response = request.send().await.expect("request");
                let status = response.status();
                assert!(response.headers().get("x-slascone-signature").is_some());
                let text = response.text().await.expect("text");
                (status, serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)))
            }
        };
        let conflict_body = |id: u64, message: &str| json!({"id": id, "message": message, "help": null});
        let (status, body) = call(Method::POST, users.clone(), Some(json!({"user_id": "not-an-email"}))).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, conflict_body(1012, "Invalid email-address.")));
        let (status, body) = call(Method::POST, users.clone(), Some(json!({"user_id": "Ann@Example.com", "name": "Ann"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"user_id": "ann@example.com", "name": "Ann", "is_active": true}));
        let (status, body) = call(Method::POST, users.clone(), Some(json!({"user_id": "ann@example.com"}))).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, conflict_body(1008, "A user with this user id already exists.")));
        let (status, body) = call(Method::POST, users.clone(), Some(json!({"user_id": "bob@example.com"}))).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, conflict_body(1009, "The maximum number of users has been reached.")));
        // The refused request left no user behind.
        let (status, list) = server.admin(Method::GET, "/v1/license-users", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(!list.to_string().contains("bob@example.com"), "{list}");
        // The license's LicenseInfo lists its users.
        let client = Client::new(&server, setup.key.clone());
        let info = client.post("/provisioning/validate", json!({"license_key": "USERS-KEY"})).await;
        assert_eq!(info.body["license_users"], json!([{"user_id": "ann@example.com", "name": "Ann", "is_active": true}]));
        let listed = client.post("/provisioning/licenses/by_user", json!({"user_id": "ANN@example.com"})).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
        assert_eq!(listed.body[0]["license_key"], "USERS-KEY");
        conflict(
            &client.post("/provisioning/licenses/by_user", json!({"user_id": "nobody@example.com"})).await,
            1010,
            "Unknown license user.",
        );
        let (status, body) = call(Method::DELETE, format!("{users}/bob@example.com"), None).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, conflict_body(1010, "Unknown license user.")));
        let (status, _) = call(Method::DELETE, format!("{users}/ann@example.com"), None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(Method::DELETE, format!("{users}/ann@example.com"), None).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, conflict_body(1010, "Unknown license user.")));
        let (status, body) = call(Method::POST, users.clone(), Some(json!({"user_id": "bob@example.com"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = call(Method::POST, format!("/api/v2/isv/{ISV}/licenses/{}/users", guid(999_999)), Some(json!({"user_id": "c@example.com"}))).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, conflict_body(1000, MSG_1000)));
        client.verify_all().await;
    }

    async fn backoffice_customers_and_master_data(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        // The back office needs the AdminKey: a ProvisioningKey alone is 401.
        let answer = client.post("/customers", json!({"company_name": "ACME"})).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        let enterprise = admin_call(&client, Method::POST, "/customers/types", Some(json!({"name": "Enterprise"}))).await;
        let enterprise = guid_of(&enterprise, "id");
        conflict(
            &admin_call(&client, Method::POST, "/customers/types", Some(json!({"name": " Enterprise "}))).await,
            9004,
            "This customer type already exists.",
        );
        let cases = [
            (json!({}), 9002, "Company name can not be empty."),
            (json!({"company_name": "  "}), 9002, "Company name can not be empty."),
            (json!({"company_name": "ACME"}), 4004, "Missing customer number."),
            (json!({"company_name": "ACME", "customer_number": "C-1"}), 4005, "Missing customer email."),
            (
                json!({"company_name": "ACME", "customer_number": "C-1", "email": "it@acme.example", "country": "XX"}),
                9000,
                "Unknown country.",
            ),
            (
                json!({"company_name": "ACME", "customer_number": "C-1", "email": "it@acme.example", "country": "ch", "language": "klingon"}),
                9006,
                "Unknown customer language.",
            ),
            (
                json!({"company_name": "ACME", "customer_number": "C-1", "email": "it@acme.example", "customer_type_id": guid(987_654)}),
                9001,
                "Unknown customer type.",
            ),
        ];
        for (body, id, message) in cases {
            conflict(&admin_call(&client, Method::POST, "/customers", Some(body)).await, id, message);
        }
        let created = admin_call(
            &client,
            Method::POST,
            "/customers",
            Some(json!({"company_name": "ACME", "customer_number": "C-1", "email": "IT@acme.example",
                "country": "ch", "language": "de-CH", "customer_type_id": enterprise, "prospect_number": "P-1"})),
        )
        .await;
        let body = ok(&created).clone();
        assert_eq!(body["company_name"], "ACME");
        assert_eq!(body["customer_number"], "C-1");
        assert_eq!(body["email"], "it@acme.example");
        assert_eq!(body["country"], "CH");
        assert_eq!(body["language"], "de");
        assert_eq!(body["customer_type_id"], json!(enterprise));
        assert_eq!(body["prospect_number"], "P-1");
        let customer_guid = body["customer_id"].as_str().expect("customer id").to_owned();
        let duplicates = [
            (json!({"company_name": "Other", "customer_number": "C-1", "email": "x@other.example"}), 4002, "A customer with this number already exists."),
            (json!({"company_name": "Other", "customer_number": "C-2", "email": "it@ACME.example"}), 4003, "This email is already assigned to another customer."),
            (json!({"company_name": "Other", "customer_number": "C-2", "email": "x@other.example", "prospect_number": "P-1"}), 9005, "A customer with this prospect number already exists."),
        ];
        for (body, id, message) in duplicates {
            conflict(&admin_call(&client, Method::POST, "/customers", Some(body)).await, id, message);
        }
        // Nine refusals, one customer: a refused request stores nothing.
        assert_eq!(native_count(&server, "/v1/customers").await, 1);
        ok(&admin_call(&client, Method::POST, "/customers", Some(json!({"company_name": "Other", "customer_number": "C-2", "email": "x@other.example"}))).await);
        // The native API sees the same customer and master data, and refuses the same duplicates.
        let customer_id = i64::from_str_radix(&customer_guid[24..], 16).expect("guid id");
        let (status, native) = server.admin(Method::GET, &format!("/v1/slascone/customers/{customer_id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{native}");
        assert_eq!(native["profile"]["customer_number"], "C-1");
        assert_eq!(native["profile"]["country"], "CH");
        assert_eq!(native["customer"]["reference"], "C-1");
        let (status, refused) = server
            .admin(Method::POST, "/v1/slascone/customers", Some(json!({"email": "new@acme.example", "company": "N", "customer_number": "C-2"})))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        let (status, types) = server.admin(Method::GET, "/v1/slascone/entries/customer_type", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(types.as_array().map(Vec::len), Some(1), "{types}");
        // LicenseInfo carries the customer number of the license's customer.
        server
            .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": setup.product_id, "key": "CUST-KEY", "customer_id": customer_id})))
            .await;
        let info = client.post("/provisioning/validate", json!({"license_key": "CUST-KEY"})).await;
        assert_eq!(ok(&info)["customer"]["customer_number"], "C-1");
        client.verify_all().await;
    }

    async fn registered_webhooks_receive_events_in_slascone_form(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        let receiver = crate::outbox::Receiver::start(0).await;
        let hook = admin_call(&client, Method::POST, "/webhooks", Some(json!({"name": "CRM", "url": receiver.url()}))).await;
        let webhook_guid = ok(&hook)["id"].as_str().expect("id").to_string();
        let license = server.license(setup.product_id, "HOOKED-1", json!({})).await;
        let answer = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "HOOKED-1", "client_id": "C1"}))
            .await;
        ok(&answer);
        // The webhook's own registration, license.created (admin API) and the SLASCONE
        // activation, each once.
        let bodies = receiver.wait_for(3).await;
        assert_eq!(bodies.len(), 3, "{:?}", receiver.requests());
        let mut bodies: Vec<Value> = bodies.iter().map(|b| serde_json::from_str(b).expect("JSON body")).collect();
        bodies.sort_by_key(|b| b["id"].as_str().map(str::to_string));
        let events: Vec<(&str, &str)> = bodies
            .iter()
            .map(|b| (b["event"].as_str().expect("event"), b["entity_type"].as_str().expect("entity_type")))
            .collect();
        assert_eq!(events, [("slascone.webhook_created", "webhook"), ("license.created", "license"), ("slascone.activated", "license")]);
        assert_eq!(bodies[0]["entity_id"], webhook_guid.as_str());
        let license_guid = format!("00000000-0000-8000-8000-{license:012x}");
        for body in &bodies {
            assert_eq!(body["webhook_id"], webhook_guid.as_str(), "{body}");
            assert_eq!(body["webhook_name"], "CRM", "{body}");
            let id = body["id"].as_str().expect("event GUID");
            assert!(id.starts_with("00000000-0000-8000-8000-") && id.len() == 36, "{body}");
            let at = body["created_date_utc"].as_str().expect("created_date_utc");
            assert!(at.len() == 24 && at.ends_with('Z') && at.as_bytes()[10] == b'T', "{body}");
        }
        for body in &bodies[1..] {
            assert_eq!(body["entity_id"], license_guid.as_str(), "{body}");
        }
        // A refused request logs nothing and sends nothing.
        let refused = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "NO-SUCH-KEY", "client_id": "C2"}))
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert_eq!(receiver.wait_for(3).await.len(), 3, "{:?}", receiver.requests());
    }

    async fn backoffice_webhooks_tags_and_resellers(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        for body in [json!({}), json!({"name": "n"}), json!({"url": "https://hooks.example/x"}), json!({"name": " ", "url": "https://hooks.example/x"})] {
            conflict(&admin_call(&client, Method::POST, "/webhooks", Some(body)).await, 10002, "Name and url can not be empty.");
        }
        for url in ["hooks.example/x", "ftp://hooks.example/x", "https://", "not a url"] {
            conflict(
                &admin_call(&client, Method::POST, "/webhooks", Some(json!({"name": "n", "url": url}))).await,
                10003,
                "Invalid Url format.",
            );
        }
        let hook = admin_call(&client, Method::POST, "/webhooks", Some(json!({"name": "CRM", "url": "https://hooks.example/x"}))).await;
        assert_eq!(ok(&hook)["url"], "https://hooks.example/x");
        assert_eq!(hook.body["name"], "CRM");
        conflict(
            &admin_call(&client, Method::POST, "/webhooks", Some(json!({"name": "Other", "url": "https://hooks.example/x"}))).await,
            10001,
            "A webhook with this url already exists.",
        );
        let (_, hooks) = server.admin(Method::GET, "/v1/slascone/entries/webhook", None).await;
        assert_eq!(hooks.as_array().map(Vec::len), Some(1), "{hooks}");

        // Tags: creating is idempotent by name; assignments need exactly one target.
        let tag = guid_of(&admin_call(&client, Method::POST, "/tags", Some(json!({"name": "VIP"}))).await, "id");
        assert_eq!(guid_of(&admin_call(&client, Method::POST, "/tags", Some(json!({"name": "VIP"}))).await, "id"), tag);
        let customer = guid_of(
            &admin_call(&client, Method::POST, "/customers", Some(json!({"company_name": "ACME", "customer_number": "C-1", "email": "a@acme.example"}))).await,
            "customer_id",
        );
        let license_id = server.license(setup.product_id, "TAG-KEY", json!({"max_activations": 1})).await;
        const MSG_13002: &str = "Invalid data, enter a customerId or a licenseId.";
        for body in [json!({"tag_id": tag}), json!({"tag_id": tag, "customer_id": customer, "license_id": guid(license_id)}), json!({"tag_id": tag, "customer_id": ""})] {
            conflict(&admin_call(&client, Method::POST, "/tags/assignments", Some(body)).await, 13002, MSG_13002);
        }
        for tag_id in [json!(guid(999_999)), json!("not-a-guid"), Value::Null] {
            conflict(
                &admin_call(&client, Method::POST, "/tags/assignments", Some(json!({"tag_id": tag_id, "customer_id": customer}))).await,
                13001,
                "Unknown tag.",
            );
        }
        let assigned = admin_call(&client, Method::POST, "/tags/assignments", Some(json!({"tag_id": tag, "customer_id": customer}))).await;
        assert_eq!(ok(&assigned).as_array().map(Vec::len), Some(1));
        const MSG_13003: &str = "This tag assignment already exists.";
        conflict(
            &admin_call(&client, Method::POST, &format!("/customers/{customer}/tags"), Some(json!({"tag_id": tag}))).await,
            13003,
            MSG_13003,
        );
        ok(&admin_call(&client, Method::POST, &format!("/licenses/{}/tags", guid(license_id)), Some(json!({"tag_id": tag}))).await);
        conflict(
            &admin_call(&client, Method::POST, "/tags/assignments", Some(json!({"tag_id": tag, "license_id": guid(license_id)}))).await,
            13003,
            MSG_13003,
        );
        conflict(
            &admin_call(&client, Method::POST, &format!("/customers/{}/tags", guid(999_999)), Some(json!({"tag_id": tag}))).await,
            4000,
            MSG_4000,
        );
        conflict(
            &admin_call(&client, Method::POST, &format!("/licenses/{}/tags", guid(999_999)), Some(json!({"tag_id": tag}))).await,
            1000,
            MSG_1000,
        );
        let (status, tags) = server.admin(Method::GET, &format!("/v1/slascone/licenses/{license_id}/tags"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(tags.as_array().map(|t| t.iter().map(|t| t["name"].clone()).collect::<Vec<_>>()), Some(vec![json!("VIP")]));

        // Resellers, their types and contacts.
        let reseller = guid_of(&admin_call(&client, Method::POST, "/resellers", Some(json!({"name": "Channel AG"}))).await, "id");
        conflict(
            &admin_call(&client, Method::POST, "/resellers", Some(json!({"name": "Channel AG"}))).await,
            14001,
            "This reseller already exists.",
        );
        ok(&admin_call(&client, Method::POST, "/resellers/types", Some(json!({"name": "Distributor"}))).await);
        conflict(
            &admin_call(&client, Method::POST, "/resellers/types", Some(json!({"name": "Distributor"}))).await,
            14003,
            "This reseller type already exists.",
        );
        let contacts = format!("/resellers/{reseller}/contacts");
        ok(&admin_call(&client, Method::POST, &contacts, Some(json!({"email": "Sales@channel.example", "name": "Sales"}))).await);
        conflict(
            &admin_call(&client, Method::POST, &contacts, Some(json!({"email": "sales@channel.example"}))).await,
            14002,
            "This reseller contact already exists.",
        );
        let missing = admin_call(&client, Method::POST, &format!("/resellers/{}/contacts", guid(999_999)), Some(json!({"email": "a@b.example"}))).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
        // The native API manages the same entries (a duplicate is its 409 there).
        let (status, _) = server.admin(Method::POST, "/v1/slascone/entries/reseller", Some(json!({"name": "Channel AG"}))).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = server.admin(Method::POST, "/v1/slascone/entries/nonsense", Some(json!({"name": "x"}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        client.verify_all().await;
    }

    async fn backoffice_catalogue_and_editions(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        let product = format!("/products/{PRODUCT}");
        for (path, body, id, message) in [
            ("license_types", json!({"name": "Subscription"}), 6012, "This license type already exists."),
            ("heartbeat_types", json!({"name": "Daily"}), 6014, "This heartbeat type already exists."),
            ("variables", json!({"name": "Region", "description": "Sales region"}), 6017, "This variable already exists."),
            ("limitations", json!({"name": "API calls", "value": 100}), 6016, "This limitation already exists."),
            ("features", json!({"name": "Export"}), 6018, "This feature already exists."),
            ("templates", json!({"name": "Standard", "token_limit": 2}), 6013, "This template/edition already exists."),
        ] {
            ok(&admin_call(&client, Method::POST, &format!("{product}/{path}"), Some(body.clone())).await);
            conflict(&admin_call(&client, Method::POST, &format!("{product}/{path}"), Some(body.clone())).await, id, message);
            conflict(&admin_call(&client, Method::POST, &format!("/products/no-such-product/{path}"), Some(body)).await, 3000, MSG_3000);
        }
        // Features and limitations are the product's feature definitions (native API).
        let (_, features) = server.admin(Method::GET, &format!("/v1/features?product_id={}", setup.product_id), None).await;
        let names: Vec<(Value, Value)> = features
            .as_array()
            .or(features["data"].as_array())
            .expect("features")
            .iter()
            .map(|f| (f["name"].clone(), f["feature_type"].clone()))
            .collect();
        assert_eq!(names, vec![(json!("API calls"), json!("consumption")), (json!("Export"), json!("activation"))]);
        let template = |body: Value| admin_call(&client, Method::POST, format!("{product}/templates"), Some(body));
        let floating = guid_of(&template(json!({"name": "Floating", "provisioning_mode": 1, "floating_token_limit": 3, "session_period": 10})).await, "id");
        let trial = guid_of(&template(json!({"name": "Trial", "is_temporary": true})).await, "id");
        let spare = guid_of(&template(json!({"name": "Spare"})).await, "id");
        let (_, policies) = server.admin(Method::GET, &format!("/v1/policies?product_id={}", setup.product_id), None).await;
        let standard = policies
            .as_array()
            .or(policies["data"].as_array())
            .expect("policies")
            .iter()
            .find(|p| p["name"] == "Standard")
            .and_then(|p| p["id"].as_i64())
            .expect("Standard edition");
        conflict(
            &admin_call(&client, Method::PUT, &format!("/templates/{}", guid(standard)), Some(json!({"provisioning_mode": 1}))).await,
            6020,
            "Changing the template's provisioning mode is not allowed.",
        );
        conflict(
            &admin_call(&client, Method::PUT, &format!("/templates/{floating}"), Some(json!({"provisioning_mode": 0}))).await,
            6020,
            "Changing the template's provisioning mode is not allowed.",
        );
        let updated = admin_call(&client, Method::PUT, &format!("/templates/{floating}"), Some(json!({"floating_token_limit": 5}))).await;
        assert_eq!(ok(&updated)["floating_token_limit"], 5);
        assert_eq!(updated.body["provisioning_mode"], 1);
        assert_eq!(updated.body["session_period"], 10);
        // A product keeps at least one edition.
        let (_, other) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "single-edition", "name": "Single"}))).await;
        let other_id = other["id"].as_i64().expect("product");
        let only = guid_of(&admin_call(&client, Method::POST, "/products/single-edition/templates", Some(json!({"name": "Only"}))).await, "id");
        const MSG_8000: &str = "This template can not be deleted. A product needs to have at least one template.";
        conflict(&admin_call(&client, Method::DELETE, &format!("/templates/{only}"), None).await, 8000, MSG_8000);
        assert_eq!(native_count(&server, &format!("/v1/policies?product_id={other_id}")).await, 1);
        assert_eq!(admin_call(&client, Method::DELETE, &format!("/templates/{spare}"), None).await.status, StatusCode::OK);

        // Data exchange: a license from an edition by name, with the product's catalogue values.
        let variable = {
            let (_, list) = server.admin(Method::GET, &format!("/v1/slascone/entries/variable?scope_id={}", setup.product_id), None).await;
            guid(list[0]["id"].as_i64().expect("variable"))
        };
        let license_type = {
            let (_, list) = server.admin(Method::GET, "/v1/slascone/entries/license_type", None).await;
            guid(list[0]["id"].as_i64().expect("license type"))
        };
        let customer = guid_of(
            &admin_call(&client, Method::POST, "/customers", Some(json!({"company_name": "ACME", "customer_number": "C-1", "email": "a@acme.example"}))).await,
            "customer_id",
        );
        let base = json!({"product_id": PRODUCT, "template_name": "Standard", "customer_id": customer});
        let with = |extra: Value| {
            let mut body = base.clone();
            for (k, v) in extra.as_object().expect("object") {
                body[k] = v.clone();
            }
            body
        };
        let by_template = "/data_exchange/licenses/by_template";
        for (body, id, message) in [
            (with(json!({"product_id": "no-such-product"})), 3000, MSG_3000),
            (with(json!({"template_name": "Platinum"})), 8001, "Unknown template/edition name."),
            (with(json!({"customer_id": guid(999_999)})), 4000, MSG_4000),
            (with(json!({"expiration_date_utc": "31/12/2030"})), 9003, "The expiration date is not valid. Supported formats: mm/dd/yyyy, dd.mm.yyyy, yyyy-mm-dd."),
            (with(json!({"expiration_date_utc": "2030-02-30"})), 9003, "The expiration date is not valid. Supported formats: mm/dd/yyyy, dd.mm.yyyy, yyyy-mm-dd."),
            (with(json!({"license_type_id": guid(999_999)})), 2009, "Unknown license type."),
            (with(json!({"variables": [{"id": guid(999_999), "value": "x"}]})), 3002, "Unknown product variable."),
            (with(json!({"features": [guid(999_999)]})), 3001, "Unknown product feature."),
            (with(json!({"limitations": [{"id": guid(999_999), "value": 5}]})), 3003, "Unknown product limitation."),
        ] {
            conflict(&admin_call(&client, Method::POST, by_template, Some(body)).await, id, message);
        }
        let licenses_path = format!("/v1/licenses?product_id={}", setup.product_id);
        assert_eq!(native_count(&server, &licenses_path).await, 0);
        let created = admin_call(
            &client,
            Method::POST,
            by_template,
            Some(with(json!({"expiration_date_utc": "12/31/2030", "license_name": "ACME main", "legacy_license_key": "OLD-1",
                "license_type_id": license_type, "variables": [{"id": variable, "value": "EMEA"}]}))),
        )
        .await;
        let info = ok(&created).clone();
        assert_eq!(info["template_name"], "Standard");
        assert_eq!(info["token_limit"], 2);
        assert_eq!(info["license_name"], "ACME main");
        assert_eq!(info["legacy_license_key"], "OLD-1");
        assert_eq!(info["expiration_date_utc"], "2030-12-31T00:00:00Z");
        assert_eq!(info["license_type"], json!({"id": license_type, "name": "Subscription"}));
        assert_eq!(info["variables"], json!([{"id": variable, "name": "Region", "description": "Sales region", "value": "EMEA"}]));
        conflict(
            &admin_call(&client, Method::POST, by_template, Some(with(json!({"legacy_license_key": "OLD-1"})))).await,
            1005,
            "A license with this legacy license key already exists.",
        );
        assert_eq!(native_count(&server, &licenses_path).await, 1);
        // The client sees the same values on validate.
        let key = info["license_key"].as_str().expect("key").to_owned();
        let validated = client.post("/provisioning/validate", json!({"license_key": key})).await;
        assert_eq!(ok(&validated)["variables"], info["variables"]);
        assert_eq!(validated.body["license_type"], info["license_type"]);

        // Switching editions keeps the provisioning mode and the temporary-ness.
        let license = info["license_id"].as_str().expect("license id").to_owned();
        let switch = |template: String| admin_call(&client, Method::PUT, format!("/licenses/{license}/template"), Some(json!({"template_id": template})));
        conflict(&switch(floating.clone()).await, 8002, "Switching to an edition with a different provisioning mode is not allowed.");
        conflict(&switch(trial.clone()).await, 8003, "A non-temporary license cannot be converted to a temporary license, or vice-versa.");
        let premium = guid_of(&template(json!({"name": "Premium"})).await, "id");
        let switched = switch(premium).await;
        assert_eq!(ok(&switched)["template_name"], "Premium");
        let missing = switch(only).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
        // A license that still uses an edition keeps it.
        let (_, policies) = server.admin(Method::GET, &format!("/v1/policies?product_id={}", setup.product_id), None).await;
        let premium_id = policies
            .as_array()
            .or(policies["data"].as_array())
            .expect("policies")
            .iter()
            .find(|p| p["name"] == "Premium")
            .and_then(|p| p["id"].as_i64())
            .expect("premium");
        let in_use = admin_call(&client, Method::DELETE, &format!("/templates/{}", guid(premium_id)), None).await;
        assert_eq!(in_use.status, StatusCode::BAD_REQUEST, "{}", in_use.body);
        client.verify_all().await;
    }

    async fn license_updates_releases_and_legacy_keys(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        let product = format!("/products/{PRODUCT}");
        ok(&admin_call(&client, Method::POST, format!("{product}/templates"), Some(json!({"name": "Standard", "token_limit": 2}))).await);
        ok(&admin_call(&client, Method::POST, format!("{product}/templates"), Some(json!({"name": "Trial", "is_temporary": true}))).await);
        let by_template = "/data_exchange/licenses/by_template";
        let issue = |template: &'static str, extra: Value| {
            let mut body = json!({"product_id": PRODUCT, "template_name": template});
            for (k, v) in extra.as_object().expect("object") {
                body[k] = v.clone();
            }
            admin_call(&client, Method::POST, by_template, Some(body))
        };
        let info = ok(&issue("Standard", json!({"legacy_license_key": "OLD-7"})).await).clone();
        let license = info["license_id"].as_str().expect("license").to_owned();
        let key = info["license_key"].as_str().expect("key").to_owned();
        let update = |body: Value| admin_call(&client, Method::PUT, format!("/licenses/{license}"), Some(body));

        // Legacy keys: lookup by the key a migrated license had (2007 when unknown).
        conflict(
            &client.post("/provisioning/licenses/by_license", json!({"legacy_license_key": "OLD-0"})).await,
            2007,
            "Unknown legacy license key.",
        );
        let found = client.post("/provisioning/licenses/by_license", json!({"legacy_license_key": "OLD-7"})).await;
        assert_eq!(ok(&found)[0]["license_key"], json!(key));
        assert_eq!(found.body[0]["legacy_license_key"], "OLD-7");

        // Tokens and users cannot drop below what is assigned.
        let activate = |client_id: &'static str, version: &'static str| {
            client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": key, "client_id": client_id, "software_version": version}))
        };
        ok(&activate("C1", "2.0").await);
        const MSG_2008: &str = "Can not decrease the number of devices/tokens.";
        conflict(&update(json!({"token_limit": 0})).await, 2008, MSG_2008);
        assert_eq!(ok(&update(json!({"token_limit": 1})).await)["token_limit"], 1);
        let users = format!("/licenses/{license}/users");
        ok(&admin_call(&client, Method::POST, &users, Some(json!({"user_id": "ann@example.com"}))).await);
        conflict(
            &update(json!({"user_limit": 0, "token_limit": 5})).await,
            1011,
            "Can not decrease the license user limit. You need to delete existing active users.",
        );
        // The refused update changed nothing (not even the token limit it also carried).
        let validated = client.post("/provisioning/validate", json!({"license_key": key})).await;
        assert_eq!(ok(&validated)["token_limit"], 1);
        ok(&update(json!({"user_limit": 1, "token_limit": 2})).await);
        for (body, id, message) in [
            (json!({"license_type_id": guid(999_999)}), 2009, "Unknown license type."),
            (json!({"expiration_date_utc": "2030/12/31"}), 9003, "The expiration date is not valid. Supported formats: mm/dd/yyyy, dd.mm.yyyy, yyyy-mm-dd."),
            (json!({"software_release_limitation": "9.9"}), 1004, "Unknown software release limitation. If you want to reset the softwareReleaseLimitation, then use softwareReleaseLimitation= ‘none’ or softwareReleaseLimitation= ”."),
        ] {
            conflict(&update(body).await, id, message);
        }
        conflict(
            &issue("Standard", json!({"software_release_limitation": "9.9"})).await,
            1004,
            "Unknown software release limitation. If you want to reset the softwareReleaseLimitation, then use softwareReleaseLimitation= ‘none’ or softwareReleaseLimitation= ”.",
        );
        let updated = update(json!({"expiration_date_utc": "31.12.2030"})).await;
        assert_eq!(ok(&updated)["expiration_date_utc"], "2030-12-31T00:00:00Z");

        // Software release limitations: a client newer than the license's release is refused.
        let release = admin_call(&client, Method::POST, format!("{product}/software_release_limitations"), Some(json!({"software_release": "2.0"}))).await;
        let release_id = guid_of(&release, "id");
        let again = admin_call(&client, Method::POST, format!("{product}/software_release_limitations"), Some(json!({"software_release": "2.0"}))).await;
        assert_eq!(guid_of(&again, "id"), release_id);
        let limited = update(json!({"software_release_limitation": "2.0"})).await;
        assert_eq!(ok(&limited)["software_release_limitation"], json!({"id": release_id, "product_id": PRODUCT, "software_release": "2.0"}));
        let heartbeat = |version: &'static str| {
            client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1", "software_version": version, "operating_system": "Linux"}))
        };
        const MSG_1003: &str = "Non compliant software version.";
        conflict(&heartbeat("2.1").await, 1003, MSG_1003);
        conflict(&activate("C2", "10.0").await, 1003, MSG_1003);
        let fine = heartbeat("2.0.0").await;
        assert_eq!(ok(&fine)["is_software_version_valid"], true);
        assert_eq!(fine.body["software_release_limitation"]["software_release"], "2.0");
        // The refused activation assigned no token.
        let (_, devices) = server.admin(Method::GET, &format!("/v1/licenses/{}/devices", i64::from_str_radix(&license[24..], 16).expect("id")), None).await;
        assert_eq!(devices.as_array().or(devices["data"].as_array()).map(Vec::len), Some(1), "{devices}");
        let reset = update(json!({"software_release_limitation": "none"})).await;
        assert_eq!(ok(&reset)["software_release_limitation"], Value::Null);
        ok(&heartbeat("2.1").await);

        // Days after activation cannot be chosen once a token is assigned.
        let trial = ok(&issue("Trial", json!({})).await).clone();
        let trial_license = trial["license_id"].as_str().expect("trial").to_owned();
        let trial_key = trial["license_key"].as_str().expect("trial key").to_owned();
        let days = json!({"expiration_mode": 1, "expiration_days": 30});
        ok(&admin_call(&client, Method::PUT, format!("/licenses/{trial_license}"), Some(days.clone())).await);
        ok(&client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": trial_key, "client_id": "T1"})).await);
        conflict(
            &admin_call(&client, Method::PUT, format!("/licenses/{trial_license}"), Some(days.clone())).await,
            2011,
            "Can not change the expiration mode to Days After Activation, because a token is already assigned.",
        );
        // licensd counts days from activation for temporary licenses only.
        assert_eq!(update(days).await.status, StatusCode::BAD_REQUEST);
        conflict(&admin_call(&client, Method::PUT, format!("/licenses/{}", guid(999_999)), Some(json!({"token_limit": 1}))).await, 1000, MSG_1000);
        client.verify_all().await;
    }

}
