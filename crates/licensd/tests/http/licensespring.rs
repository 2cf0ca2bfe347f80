//! Black-box tests of the LicenseSpring License API v4 dialect (`/api/v4`): requests signed the way
//! the SDKs sign them, exact error codes and statuses, response signatures verified with the
//! server's published RSA key, and LicenseSpring's official Python SDK driven end to end
//! (tests/interop/licensespring/python_sdk.py) with its signature verification on.

use crate::harness::{Server, backend_tests};
use licensd_crypto::{Algorithm, PublicKey};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An API key + shared key pair.
#[derive(Clone)]
struct Cred {
    api_key: String,
    shared_key: String,
    id: i64,
}

/// RFC 7231 IMF-fixdate, as Python's `format_date_time` and JavaScript's `toUTCString` write it.
fn http_date(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).expect("after epoch").as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        months[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn authorization(cred: &Cred, date: &str) -> String {
    let message = format!("licenseSpring\ndate: {date}");
    let signature = licensd_crypto::b64(&licensd_crypto::hmac_sha256(
        cred.shared_key.as_bytes(),
        message.as_bytes(),
    ));
    format!(
        "algorithm=\"hmac-sha256\",headers=\"date\",signature=\"{signature}\",apiKey=\"{}\"",
        cred.api_key
    )
}

struct Reply {
    status: StatusCode,
    body: Value,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    #[track_caller]
    fn error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.body["code"].as_str()),
            (status, Some(code)),
            "{}",
            String::from_utf8_lossy(&self.bytes)
        );
        assert_eq!(self.body["status"], json!(status));
        assert!(self.body["message"].is_string());
    }
    #[track_caller]
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", String::from_utf8_lossy(&self.bytes));
        &self.body
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

async fn send(server: &Server, method: Method, path: &str, headers: &[(&str, String)], body: Option<Vec<u8>>) -> Reply {
    let mut request = server.http.request(method, server.url(path));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body").to_vec();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        headers,
        bytes,
    }
}

fn signed_headers(cred: &Cred) -> Vec<(&'static str, String)> {
    let date = http_date(SystemTime::now());
    vec![("authorization", authorization(cred, &date)), ("date", date)]
}

async fn get(server: &Server, cred: &Cred, endpoint: &str, query: &[(&str, &str)]) -> Reply {
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20")))
        .collect();
    let path = format!("/api/v4/{endpoint}?{}", query.join("&"));
    send(server, Method::GET, &path, &signed_headers(cred), None).await
}

async fn post(server: &Server, cred: &Cred, endpoint: &str, body: Value) -> Reply {
    let path = format!("/api/v4/{endpoint}");
    let bytes = serde_json::to_vec(&body).expect("json");
    send(server, Method::POST, &path, &signed_headers(cred), Some(bytes)).await
}

async fn credential(server: &Server, extra: Value) -> Cred {
    let mut body = json!({"dialect": "licensespring", "name": "app"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = server.admin(Method::POST, "/v1/credentials", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    Cred {
        api_key: created["credential"]["key_id"].as_str().expect("key_id").to_string(),
        shared_key: created["secret"].as_str().expect("secret").to_string(),
        id: created["credential"]["id"].as_i64().expect("id"),
    }
}

async fn rsa_public_pem(server: &Server) -> String {
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
        .find(|key| key["active"] == json!(true) && key["algorithm"].as_str().is_some_and(|a| a.starts_with("RSA")))
        .and_then(|key| key["pem"].as_str())
        .expect("active RSA key")
        .to_string()
}

/// Checks the `LicenseSignature` header over the exact body bytes.
async fn verify_v2(server: &Server, reply: &Reply) {
    let pem = rsa_public_pem(server).await;
    let public = PublicKey::from_pem(Algorithm::Rsa2048, &pem)
        .or_else(|_| PublicKey::from_pem(Algorithm::Rsa4096, &pem))
        .expect("pem");
    let signature = reply
        .headers
        .get("licensesignature")
        .and_then(|v| v.to_str().ok())
        .expect("LicenseSignature header");
    let signature = licensd_crypto::b64_decode(signature).expect("base64");
    public
        .verify(&reply.bytes, &signature)
        .expect("LicenseSignature verifies");
    let mut tampered = reply.bytes.clone();
    tampered.push(b' ');
    assert!(public.verify(&tampered, &signature).is_err());
}

async fn product(server: &Server, code: &str, extra: Value) -> i64 {
    let mut body = json!({"code": code, "name": code});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = server.admin(Method::POST, "/v1/products", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().expect("id")
}

async fn license(server: &Server, body: Value) -> i64 {
    let (status, created) = server.admin(Method::POST, "/v1/licenses", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().expect("id")
}

async fn feature(server: &Server, body: Value) {
    let (status, created) = server.admin(Method::POST, "/v1/features", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

async fn devices(server: &Server, license_id: i64) -> Vec<Value> {
    let (status, body) = server
        .admin(Method::GET, &format!("/v1/licenses/{license_id}/devices"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .cloned()
        .or_else(|| body["data"].as_array().cloned())
        .expect("device list")
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("epoch").as_millis() as i64
}

fn ident(product: &str, hwid: &str, key: &str) -> Value {
    json!({"product": product, "hardware_id": hwid, "license_key": key})
}

async fn check_license(server: &Server, cred: &Cred, product: &str, hwid: &str, key: &str) -> Reply {
    get(
        server,
        cred,
        "check_license",
        &[("product", product), ("hardware_id", hwid), ("license_key", key)],
    )
    .await
}

async fn license_user(server: &Server, body: Value) -> i64 {
    let (status, created) = server.admin(Method::POST, "/v1/license-users", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().expect("id")
}

async fn assign(server: &Server, license_id: i64, user_id: i64) {
    let (status, body) = server
        .admin(
            Method::POST,
            &format!("/v1/licenses/{license_id}/users"),
            Some(json!({"user_id": user_id})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
}

/// A schema-version-2 request file as the Python SDK writes it: `", "`/`": "` separators, the
/// outer HMAC over the exact inner JSON text.
fn request_file(cred: &Cred, inner: &Value, hex: bool) -> String {
    let text = python_dumps(inner);
    let mac = licensd_crypto::hmac_sha256(cred.shared_key.as_bytes(), text.as_bytes());
    let signature = if hex {
        licensd_crypto::hex(&mac)
    } else {
        licensd_crypto::b64(&mac)
    };
    let outer = format!("{{\"request\": {text}, \"signature\": \"{signature}\"}}");
    licensd_crypto::b64(outer.as_bytes())
}

/// `json.dumps` with default separators for flat objects of strings, numbers, booleans and nulls.
fn python_dumps(value: &Value) -> String {
    let fields: Vec<String> = value
        .as_object()
        .expect("object")
        .iter()
        .map(|(key, value)| format!("{}: {}", Value::String(key.clone()), value))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

async fn post_text(server: &Server, cred: &Cred, endpoint: &str, body: String) -> Reply {
    let mut request = server.http.post(server.url(&format!("/api/v4/{endpoint}")));
    for (name, value) in signed_headers(cred) {
        request = request.header(name, value);
    }
    let response = request
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body").to_vec();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        headers,
        bytes,
    }
}

/// A token in licensd's stateless format, for a chosen expiry.
fn oauth_token(cred: &Cred, expires_at: i64) -> String {
    let message = format!("licensd-oauth\n{}\n{expires_at}", cred.api_key);
    let mac = licensd_crypto::hmac_sha256(cred.shared_key.as_bytes(), message.as_bytes());
    format!(
        "lsat.{}.{expires_at}.{}",
        licensd_crypto::b64url(cred.api_key.as_bytes()),
        licensd_crypto::b64url(&mac)
    )
}

async fn bearer_get(server: &Server, token: &str, path: &str) -> Reply {
    let headers = [
        ("authorization", format!("Bearer {token}")),
        ("date", http_date(SystemTime::now())),
    ];
    send(server, Method::GET, path, &headers, None).await
}

async fn version(server: &Server, product_id: i64, body: Value) -> i64 {
    let (status, created) = server
        .admin(Method::POST, &format!("/v1/products/{product_id}/versions"), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().expect("id")
}

/// Runs the Node SDK scenario; panics with its output when it fails.
fn run_node(env: &[(&str, String)]) -> Value {
    let modules = std::env::var("LICENSD_INTEROP_NODE_MODULES").unwrap_or_else(|_| {
        panic!(
            "LICENSD_INTEROP_NODE_MODULES is not set: run scripts/test (or `source scripts/test --source-only; \
             install_interop_deps`), which installs @licensespring/node-sdk from tests/interop/package.json"
        )
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/licensespring/node_sdk.js"
    );
    let mut command = std::process::Command::new("node");
    command.arg(script).env("LS_NODE_MODULES", modules);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node SDK scenario failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("scenario prints JSON")
}

/// Runs the Python SDK scenario; panics with its output when it fails.
fn run_python(scenario: &str, env: &[(&str, String)]) -> Value {
    let python = std::env::var("LICENSD_INTEROP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "LICENSD_INTEROP_PYTHON is not set: run scripts/test (or `source scripts/test --source-only; \
             install_interop_deps`), which installs licensespring==4.0.0 into a virtualenv"
        )
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/licensespring/python_sdk.py"
    );
    let mut command = std::process::Command::new(python);
    command.arg(script).arg(scenario);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python SDK scenario {scenario} failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("scenario prints JSON")
}

/// A bundle product `bundle` containing `members` (new products), a bundle license `key` and one
/// member license per member (2 activations each), linked; returns (bundle license, member licenses).
async fn bundle_setup(server: &Server, bundle: &str, members: &[&str], key: &str) -> (i64, Vec<i64>) {
    let bundle_product = product(server, bundle, json!({})).await;
    let bundle_license = license(
        server,
        json!({"product_id": bundle_product, "key": key, "terms": {"max_activations": 5}}),
    )
    .await;
    let mut member_licenses = Vec::new();
    for (n, code) in members.iter().enumerate() {
        let member = product(server, code, json!({})).await;
        let (status, body) = server
            .admin(
                Method::POST,
                &format!("/v1/products/{bundle_product}/bundle-members"),
                Some(json!({"product_id": member})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let member_license = license(
            server,
            json!({"product_id": member, "key": format!("{key}-M{n}"), "terms": {"max_activations": 2}}),
        )
        .await;
        let (status, body) = server
            .admin(
                Method::POST,
                &format!("/v1/licenses/{bundle_license}/bundle-members"),
                Some(json!({"license_id": member_license})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        member_licenses.push(member_license);
    }
    (bundle_license, member_licenses)
}

backend_tests! {
    async fn auth_errors(server) {
        let cred = credential(&server, json!({})).await;
        product(&server, "app", json!({})).await;
        let query = [("product", "app"), ("hardware_id", "hw"), ("license_key", "K")];
        let path = "/api/v4/check_license?product=app&hardware_id=hw&license_key=K";
        let date = http_date(SystemTime::now());

        // No headers at all, or only one of them.
        send(&server, Method::GET, path, &[], None).await.error(400, "missing_headers");
        send(&server, Method::GET, path, &[("date", date.clone())], None).await.error(400, "missing_headers");
        // Authorization without apiKey.
        let no_key = "algorithm=\"hmac-sha256\",headers=\"date\",signature=\"abc\"".to_string();
        send(&server, Method::GET, path, &[("date", date.clone()), ("authorization", no_key)], None)
            .await
            .error(400, "authorization_missing_params");
        // Not a list of pairs.
        send(&server, Method::GET, path, &[("date", date.clone()), ("authorization", "garbage".into())], None)
            .await
            .error(400, "authorization_invalid_headers");
        // A Date that is not RFC 7231.
        let good = authorization(&cred, &date);
        send(&server, Method::GET, path, &[("date", "yesterday".into()), ("authorization", good.clone())], None)
            .await
            .error(400, "authorization_invalid_headers");
        // Another algorithm, or no signature: HMAC required.
        let md5 = good.replace("hmac-sha256", "hmac-md5");
        send(&server, Method::GET, path, &[("date", date.clone()), ("authorization", md5)], None)
            .await
            .error(400, "hmac_required");
        let unsigned = format!("algorithm=\"hmac-sha256\",headers=\"date\",apikey=\"{}\"", cred.api_key);
        send(&server, Method::GET, path, &[("date", date.clone()), ("authorization", unsigned)], None)
            .await
            .error(400, "hmac_required");
        // Unknown API key.
        let stranger = Cred { api_key: "no-such-key".into(), shared_key: "x".into(), id: 0 };
        get(&server, &stranger, "check_license", &query).await.error(400, "invalid_api_key");
        // Wrong shared key.
        let forged = Cred { shared_key: "wrong".into(), ..cred.clone() };
        get(&server, &forged, "check_license", &query).await.error(401, "signature_mismatch");
        // The product is read with the credential, but refused only after authentication: an
        // unknown product never changes an authentication refusal, nor does a missing or
        // malformed product parameter (read the old way, after authentication).
        let unknown = [("product", "nope"), ("hardware_id", "hw"), ("license_key", "K")];
        get(&server, &stranger, "check_license", &unknown).await.error(400, "invalid_api_key");
        get(&server, &forged, "check_license", &unknown).await.error(401, "signature_mismatch");
        get(&server, &stranger, "product_details", &[("product", "nope")]).await.error(400, "invalid_api_key");
        get(&server, &forged, "product_details", &[("product", "nope")]).await.error(401, "signature_mismatch");
        get(&server, &stranger, "check_license", &[("hardware_id", "hw"), ("license_key", "K")])
            .await
            .error(400, "invalid_api_key");
        get(&server, &cred, "check_license", &[("hardware_id", "hw"), ("license_key", "K")])
            .await
            .error(400, "missing_parameters");
        // (A NUL never gets that far: the edge refuses it in any body first.)
        let nul = json!({"product": "no\u{0}pe", "hardware_id": "hw", "license_key": "K"});
        post(&server, &stranger, "activate_license", nul).await.error(400, "validation_error");
        post(&server, &stranger, "activate_license", json!({"product": ["app"], "hardware_id": "hw", "license_key": "K"}))
            .await
            .error(400, "invalid_api_key");
        post(&server, &cred, "activate_license", json!({"product": ["app"], "hardware_id": "hw", "license_key": "K"}))
            .await
            .error(400, "validation_error");
        // A correctly signed Date 20 minutes old is outside the 15-minute window.
        let old = http_date(SystemTime::now() - Duration::from_secs(20 * 60));
        send(&server, Method::GET, path, &[("date", old.clone()), ("authorization", authorization(&cred, &old))], None)
            .await
            .error(401, "authentication_failure");
        // 10 minutes is inside it; Node's spelling (`apikey`, ", " separators) is accepted too.
        let recent = http_date(SystemTime::now() - Duration::from_secs(10 * 60));
        let node_style = authorization(&cred, &recent).replace("apiKey", "apikey").replace("\",", "\", ");
        send(&server, Method::GET, path, &[("date", recent), ("authorization", node_style)], None)
            .await
            .error(400, "license_not_found");
        // A bearer token that this server did not issue.
        send(&server, Method::GET, path, &[("date", date.clone()), ("authorization", "Bearer abc".into())], None)
            .await
            .error(400, "oauth_token_malformed");
        // check_license names an unknown product `unknown_product` (seed 004), others `unknown_product_code`.
        get(&server, &cred, "check_license", &[("product", "nope"), ("hardware_id", "hw"), ("license_key", "K")])
            .await
            .error(400, "unknown_product");
        // No identity provider: sso_url says so.
        let sso = get(&server, &cred, "sso_url", &[("product", "app"), ("customer_account_code", "acme"), ("response_type", "token")]).await;
        sso.error(400, "validation_error");
        assert!(sso.body["message"].as_str().is_some_and(|m| m.contains("identity provider")));
        // Unknown paths are JSON 404s; the root answers 200.
        get(&server, &cred, "no_such_endpoint", &[]).await.error(404, "not_found");
        let root = send(&server, Method::GET, "/api/v4/", &[], None).await;
        assert_eq!(root.status, StatusCode::OK);
    }

    async fn credential_errors(server) {
        let app = product(&server, "app", json!({})).await;
        let other = product(&server, "other", json!({})).await;
        let id = license(&server, json!({"product_id": app, "key": "AAAA-1111", "terms": {"max_activations": 5}})).await;
        let body = ident("app", "hw-1", "AAAA-1111");

        let revoked = credential(&server, json!({})).await;
        let (status, _) = server
            .admin(Method::POST, &format!("/v1/credentials/{}/revoke", revoked.id), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        post(&server, &revoked, "activate_license", body.clone()).await.error(400, "revoked_api_key");

        let read_only = credential(&server, json!({"read_only": true})).await;
        post(&server, &read_only, "activate_license", body.clone()).await.error(400, "read_only_api_key");

        let scoped = credential(&server, json!({"product_id": other})).await;
        post(&server, &scoped, "activate_license", body.clone()).await.error(400, "api_key_product_not_allowed");

        let elsewhere = credential(&server, json!({"ip_allowlist": ["192.0.2.0/24"]})).await;
        post(&server, &elsewhere, "activate_license", body.clone()).await.error(401, "authentication_failure");
        assert!(devices(&server, id).await.is_empty(), "refused requests activate nothing");

        let local = credential(&server, json!({"ip_allowlist": ["127.0.0.1"]})).await;
        post(&server, &local, "activate_license", body.clone()).await.ok();
        // The read-only key may still check.
        let checked = get(&server, &read_only, "check_license", &[("product", "app"), ("hardware_id", "hw-1"), ("license_key", "AAAA-1111")]).await;
        assert_eq!(checked.ok()["license_active"], json!(true));
    }

    async fn request_errors(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({})).await;
        license(&server, json!({"product_id": app, "key": "AAAA-1111", "terms": {"license_type": "consumption", "consumption": {"max_consumptions": 10}}})).await;
        let path = "/api/v4/activate_license";
        send(&server, Method::POST, path, &signed_headers(&cred), Some(b"{not json".to_vec()))
            .await
            .error(400, "invalid_json");
        post(&server, &cred, "activate_license", json!({"product": "app", "license_key": "AAAA-1111"}))
            .await
            .error(400, "missing_parameters");
        post(&server, &cred, "activate_license", json!({"hardware_id": "hw", "license_key": "AAAA-1111"}))
            .await
            .error(400, "missing_parameters");
        post(&server, &cred, "activate_license", ident("app", "hw", "AAAA-1111")).await.ok();
        let mut body = ident("app", "hw", "AAAA-1111");
        body["consumptions"] = json!("lots");
        post(&server, &cred, "add_consumption", body).await.error(400, "validation_error");
        get(&server, &cred, "check_license", &[("product", "app"), ("hardware_id", "hw"), ("license_key", "AAAA-1111"), ("license_id", "999999")])
            .await
            .error(400, "license_not_found");
    }

    async fn activation_errors(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({})).await;
        let other = product(&server, "other", json!({})).await;
        let disabled = product(&server, "off", json!({"status": "disabled"})).await;
        let archived = product(&server, "old", json!({"status": "archived"})).await;
        let now = now_ms();
        let day = 86_400_000_i64;
        let one = license(&server, json!({"product_id": app, "key": "ONE", "terms": {"max_activations": 1, "max_transfers": 0}})).await;
        license(&server, json!({"product_id": other, "key": "OTHER"})).await;
        license(&server, json!({"product_id": disabled, "key": "OFF"})).await;
        license(&server, json!({"product_id": archived, "key": "OLD"})).await;
        license(&server, json!({"product_id": app, "key": "DISABLED", "status": "disabled"})).await;
        license(&server, json!({"product_id": app, "key": "SUSPENDED", "status": "suspended"})).await;
        license(&server, json!({"product_id": app, "key": "LATER", "starts_at": now + 10 * day})).await;
        license(&server, json!({"product_id": app, "key": "EXPIRED", "expires_at": now - day})).await;
        license(&server, json!({"product_id": app, "key": "TRIAL", "expires_at": now - day, "terms": {"kind": "trial"}})).await;
        license(&server, json!({"product_id": app, "key": "NOVM", "terms": {"vm_allowed": false}})).await;
        license(&server, json!({"product_id": app, "key": "OPEN", "terms": {"max_activations": 10}})).await;
        let (status, _) = server
            .admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": "bad-hw"})))
            .await;
        assert_eq!(status, StatusCode::CREATED);

        let activate = |product: &str, hwid: &str, key: &str| post(&server, &cred, "activate_license", ident(product, hwid, key));
        activate("nope", "hw", "ONE").await.error(400, "unknown_product_code");
        activate("app", "hw", "NO-SUCH-KEY").await.error(400, "license_not_found");
        // A key of another product is not found under this one.
        activate("app", "hw", "OTHER").await.error(400, "license_not_found");
        activate("off", "hw", "OFF").await.error(400, "disabled_product");
        activate("old", "hw", "OLD").await.error(400, "archived_product");
        activate("app", "hw", "DISABLED").await.error(400, "license_not_enabled");
        activate("app", "hw", "SUSPENDED").await.error(400, "license_not_active");
        activate("app", "hw", "LATER").await.error(400, "license_start_date_error");
        activate("app", "hw", "EXPIRED").await.error(400, "license_expired");
        activate("app", "hw", "TRIAL").await.error(400, "trial_expired");
        activate("app", "", "OPEN").await.error(400, "invalid_hardware_id");
        activate("app", "bad-hw", "OPEN").await.error(400, "blacklisted");
        let mut vm = ident("app", "vm-1", "NOVM");
        vm["is_vm"] = json!(true);
        post(&server, &cred, "activate_license", vm).await.error(400, "vm_not_allowed");

        // Activation limit; re-activating the same device is free.
        let first = activate("app", "hw-a", "ONE").await;
        assert_eq!(first.ok()["times_activated"], json!(1));
        let again = activate("app", "hw-a", "ONE").await;
        assert_eq!(again.ok()["times_activated"], json!(1));
        activate("app", "hw-b", "ONE").await.error(400, "license_activated_max_times");
        assert_eq!(devices(&server, one).await.len(), 1, "a refused activation changes nothing");
        // max_transfers 0: moving to a new device after a deactivation is refused.
        let released = post(&server, &cred, "deactivate_license", ident("app", "hw-a", "ONE")).await;
        assert_eq!((released.status, released.text()), (StatusCode::OK, "license_deactivated".to_string()));
        activate("app", "hw-b", "ONE").await.error(400, "license_transferred_max_times");
    }

    async fn license_lifecycle(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({"metadata": {"tier": "Čistý ✓ / \"q\""}})).await;
        let expires = now_ms() + 30 * 86_400_000;
        license(&server, json!({"product_id": app, "key": "Life-Key-1", "expires_at": expires,
            "terms": {"max_activations": 2, "grace_period_hours": 24}, "metadata": {"note": "é"}})).await;
        let mut body = ident("app", "HW-Mixed", "Life-Key-1");
        body["variables"] = json!({"seat": "A"});
        body["os_ver"] = json!("Linux");
        let activated = post(&server, &cred, "activate_license", body).await;
        let object = activated.ok().clone();
        verify_v2(&server, &activated).await;
        // Compact JSON: re-serialising the parsed body gives the same bytes (what Node verifies).
        assert_eq!(serde_json::to_vec(&object).expect("json"), activated.bytes);
        assert_eq!(object["license_key"], json!("Life-Key-1"));
        assert_eq!(object["hardware_id"], json!("HW-Mixed"));
        assert_eq!(object["license_type"], json!("perpetual"));
        assert_eq!(object["product_details"]["short_code"], json!("app"));
        assert_eq!(object["product_details"]["authorization_method"], json!("license-key"));
        assert_eq!(object["allow_grace_period"], json!(true));
        assert_eq!(object["grace_period"], json!(24));
        assert_eq!(object["max_activations"], json!(2));
        assert_eq!(object["variables"][0]["variable"], json!("seat"));
        for key in ["id", "is_trial", "is_floating", "is_floating_cloud", "start_date", "maintenance_period",
            "allow_unlimited_activations", "transfer_count", "max_transfers", "prevent_vm", "metadata",
            "allow_overages", "max_overages"] {
            assert!(object.get(key).is_some(), "license object lacks {key}");
        }
        let validity = object["validity_period"].as_str().expect("validity").to_string();
        assert!(validity.ends_with('Z') && validity.len() == 24, "{validity}");
        // v1: RSA over lower(hardware_id#license_key#validity_period).
        let pem = rsa_public_pem(&server).await;
        let public = PublicKey::from_pem(Algorithm::Rsa2048, &pem).expect("pem");
        let v1 = licensd_crypto::b64_decode(object["license_signature"].as_str().expect("v1")).expect("b64");
        let message = format!("HW-Mixed#Life-Key-1#{validity}").to_lowercase();
        public.verify(message.as_bytes(), &v1).expect("v1 license_signature verifies");

        let query = [("product", "app"), ("hardware_id", "HW-Mixed"), ("license_key", "Life-Key-1"), ("include_expired_features", "false")];
        let checked = get(&server, &cred, "check_license", &query).await;
        assert_eq!(checked.ok()["license_active"], json!(true));
        assert_eq!(checked.body["license_enabled"], json!(true));
        assert_eq!(checked.body["is_expired"], json!(false));
        verify_v2(&server, &checked).await;
        // A device that never activated is not found.
        get(&server, &cred, "check_license", &[("product", "app"), ("hardware_id", "other"), ("license_key", "Life-Key-1")])
            .await
            .error(400, "device_not_found");

        let deactivated = post(&server, &cred, "deactivate_license", ident("app", "HW-Mixed", "Life-Key-1")).await;
        assert_eq!((deactivated.status, deactivated.text()), (StatusCode::OK, "license_deactivated".to_string()));
        get(&server, &cred, "check_license", &query).await.error(400, "device_not_found");
        post(&server, &cred, "deactivate_license", ident("app", "HW-Mixed", "Life-Key-1"))
            .await
            .error(400, "device_not_found");
    }

    async fn expired_license_checks_as_expired(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({})).await;
        let id = license(&server, json!({"product_id": app, "key": "SOON", "terms": {"max_activations": 1}})).await;
        post(&server, &cred, "activate_license", ident("app", "hw", "SOON")).await.ok();
        let (status, body) = server
            .admin(Method::PATCH, &format!("/v1/licenses/{id}"), Some(json!({"expires_at": now_ms() - 1000})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let query = [("product", "app"), ("hardware_id", "hw"), ("license_key", "SOON")];
        let checked = get(&server, &cred, "check_license", &query).await;
        assert_eq!(checked.ok()["is_expired"], json!(true));
        verify_v2(&server, &checked).await;
        // Disabling it is reported as not enabled.
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{id}/disable"), None).await;
        assert_eq!(status, StatusCode::OK);
        get(&server, &cred, "check_license", &query).await.error(400, "license_not_enabled");
    }

    async fn consumption_flow(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({})).await;
        feature(&server, json!({"product_id": app, "code": "render", "name": "Render", "feature_type": "consumption", "max_consumptions": 5})).await;
        feature(&server, json!({"product_id": app, "code": "export", "name": "Export"})).await;
        license(&server, json!({"product_id": app, "key": "METER", "terms": {"license_type": "consumption",
            "consumption": {"max_consumptions": 10, "allow_overages": true, "max_overages": 2}},
            "features": [{"code": "render"}, {"code": "export"}]})).await;
        license(&server, json!({"product_id": app, "key": "PLAIN"})).await;
        post(&server, &cred, "activate_license", ident("app", "hw", "METER")).await.ok();
        post(&server, &cred, "activate_license", ident("app", "hw", "PLAIN")).await.ok();
        let with = |key: &str, extra: Value| {
            let mut body = ident("app", "hw", key);
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            body
        };
        post(&server, &cred, "add_consumption", with("PLAIN", json!({"consumptions": 1}))).await.error(400, "license_not_consumption");
        let added = post(&server, &cred, "add_consumption", with("METER", json!({"consumptions": 11}))).await;
        assert_eq!(added.ok()["total_consumptions"], json!(11), "overage within max_overages");
        verify_v2(&server, &added).await;
        post(&server, &cred, "add_consumption", with("METER", json!({"consumptions": 2}))).await.error(400, "license_not_enough_consumptions");
        post(&server, &cred, "add_consumption", with("METER", json!({"consumptions": -1}))).await.error(400, "negative_consumptions_not_allowed");
        // A device that is not activated may not consume.
        let mut stranger = with("METER", json!({"consumptions": 1}));
        stranger["hardware_id"] = json!("stranger");
        post(&server, &cred, "add_consumption", stranger).await.error(400, "device_not_found");

        let feature_added = post(&server, &cred, "add_feature_consumption", with("METER", json!({"feature": "render", "consumptions": 5}))).await;
        assert_eq!(feature_added.ok()["total_consumptions"], json!(5));
        assert_eq!(feature_added.body["max_consumptions"], json!(5));
        verify_v2(&server, &feature_added).await;
        post(&server, &cred, "add_feature_consumption", with("METER", json!({"feature": "render", "consumptions": 1}))).await.error(400, "feature_not_enough_consumptions");
        post(&server, &cred, "add_feature_consumption", with("METER", json!({"feature": "export", "consumptions": 1}))).await.error(400, "unsupported_product_feature");
        post(&server, &cred, "add_feature_consumption", with("METER", json!({"feature": "nope", "consumptions": 1}))).await.error(400, "invalid_license_feature_code");
        get(&server, &cred, "check_license_feature", &[("product", "app"), ("hardware_id", "hw"), ("license_key", "METER"), ("feature", "nope")])
            .await
            .error(400, "invalid_license_feature_code");
        let checked = get(&server, &cred, "check_license_feature", &[("product", "app"), ("hardware_id", "hw"), ("license_key", "METER"), ("feature", "render")]).await;
        assert_eq!(checked.ok()["code"], json!("render"));
        assert_eq!(checked.body["total_consumptions"], json!(5));
        verify_v2(&server, &checked).await;
        // The license object carries the counters.
        let license = get(&server, &cred, "check_license", &[("product", "app"), ("hardware_id", "hw"), ("license_key", "METER")]).await;
        assert_eq!(license.ok()["total_consumptions"], json!(11));
        assert_eq!(license.body["max_consumptions"], json!(10));
        assert_eq!(license.body["max_overages"], json!(2));
    }

    async fn floating_flow(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({})).await;
        license(&server, json!({"product_id": app, "key": "FLOAT", "terms": {"max_activations": 5,
            "floating": {"seats": 1, "lease_seconds": 1800, "borrow_allowed": true, "max_borrow_hours": 48}}})).await;
        license(&server, json!({"product_id": app, "key": "NOBORROW", "terms": {"max_activations": 5,
            "floating": {"seats": 1, "lease_seconds": 1800}}})).await;
        for (hw, key) in [("a", "FLOAT"), ("b", "FLOAT"), ("a", "NOBORROW")] {
            post(&server, &cred, "activate_license", ident("app", hw, key)).await.ok();
        }
        let check = |hw: &'static str| check_license(&server, &cred, "app", hw, "FLOAT");
        let first = check("a").await;
        assert_eq!(first.ok()["is_floating_cloud"], json!(true));
        assert_eq!(first.body["floating_timeout"], json!(30));
        assert_eq!(first.body["floating_in_use_devices"], json!(1));
        check("b").await.error(400, "floating_not_available");
        post(&server, &cred, "floating/borrow", json!({"product": "app", "hardware_id": "a", "license_key": "NOBORROW", "borrowed_until": null}))
            .await
            .error(400, "license_borrow_not_allowed");
        let far = "2099-01-01T00:00:00.000Z";
        post(&server, &cred, "floating/borrow", json!({"product": "app", "hardware_id": "a", "license_key": "FLOAT", "borrowed_until": far}))
            .await
            .error(400, "borrow_until_not_valid");
        post(&server, &cred, "floating/borrow", json!({"product": "app", "hardware_id": "a", "license_key": "FLOAT", "borrowed_until": "soon"}))
            .await
            .error(400, "borrow_until_not_valid");
        let borrowed = post(&server, &cred, "floating/borrow", json!({"product": "app", "hardware_id": "a", "license_key": "FLOAT", "borrowed_until": null})).await;
        assert!(borrowed.ok()["borrowed_until"].as_str().is_some_and(|t| t.ends_with('Z')));
        verify_v2(&server, &borrowed).await;
        let after = check("a").await;
        assert_eq!(after.ok()["is_borrowed"], json!(true));
        let released = post(&server, &cred, "floating/release", ident("app", "a", "FLOAT")).await;
        assert_eq!((released.status, released.text()), (StatusCode::OK, String::new()));
        assert_eq!(check("b").await.ok()["floating_in_use_devices"], json!(1));
        // Releasing a seat the device does not hold.
        post(&server, &cred, "floating/release", ident("app", "a", "FLOAT")).await.error(400, "device_not_found");
    }

    async fn floating_features(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({})).await;
        feature(&server, json!({"product_id": app, "code": "seat", "name": "Seat", "floating_seats": 1, "floating_lease_seconds": 600})).await;
        feature(&server, json!({"product_id": app, "code": "fixed", "name": "Fixed"})).await;
        license(&server, json!({"product_id": app, "key": "FEAT", "terms": {"max_activations": 5,
            "floating": {"seats": 5, "lease_seconds": 1800, "borrow_allowed": true, "max_borrow_hours": 24}},
            "features": [{"code": "seat"}, {"code": "fixed"}]})).await;
        for hw in ["a", "b"] {
            post(&server, &cred, "activate_license", ident("app", hw, "FEAT")).await.ok();
        }
        let with = |hw: &str, feature: &str, extra: Value| {
            let mut body = ident("app", hw, "FEAT");
            body["feature"] = json!(feature);
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            body
        };
        // Checking a floating feature takes its seat.
        let checked = get(&server, &cred, "check_license_feature", &[("product", "app"), ("hardware_id", "a"), ("license_key", "FEAT"), ("feature", "seat")]).await;
        assert_eq!(checked.ok()["is_floating_cloud"], json!(true));
        assert_eq!(checked.body["floating_users"], json!(1));
        assert_eq!(checked.body["floating_timeout"], json!(10));
        assert_eq!(checked.body["floating_in_use_devices"], json!(1));
        verify_v2(&server, &checked).await;
        get(&server, &cred, "check_license_feature", &[("product", "app"), ("hardware_id", "b"), ("license_key", "FEAT"), ("feature", "seat")])
            .await
            .error(400, "floating_not_available");
        post(&server, &cred, "floating/feature_borrow", with("b", "seat", json!({}))).await.error(400, "floating_not_available");
        post(&server, &cred, "floating/feature_borrow", with("a", "fixed", json!({}))).await.error(400, "feature_not_floating");
        post(&server, &cred, "floating/feature_release", with("a", "fixed", json!({}))).await.error(400, "feature_not_floating");
        post(&server, &cred, "floating/feature_borrow", with("a", "nope", json!({}))).await.error(400, "invalid_license_feature_code");
        post(&server, &cred, "floating/feature_release", with("b", "seat", json!({}))).await.error(400, "floating_feature_device_not_in_use");
        post(&server, &cred, "floating/feature_borrow", with("a", "seat", json!({"borrowed_until": "2099-01-01T00:00:00Z"})))
            .await
            .error(400, "borrow_until_not_valid");
        let borrowed = post(&server, &cred, "floating/feature_borrow", with("a", "seat", json!({"borrowed_until": null}))).await;
        assert!(borrowed.ok()["borrowed_until"].as_str().is_some_and(|t| t.ends_with('Z')));
        verify_v2(&server, &borrowed).await;
        let released = post(&server, &cred, "floating/feature_release", with("a", "seat", json!({}))).await;
        assert_eq!((released.status, released.text()), (StatusCode::OK, String::new()));
        let taken = get(&server, &cred, "check_license_feature", &[("product", "app"), ("hardware_id", "b"), ("license_key", "FEAT"), ("feature", "seat")]).await;
        assert_eq!(taken.ok()["floating_in_use_devices"], json!(1));
    }

    async fn sdk_node(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "nodeapp", json!({})).await;
        feature(&server, json!({"product_id": app, "code": "render", "name": "Render", "feature_type": "consumption", "max_consumptions": 100})).await;
        let id = license(&server, json!({"product_id": app, "key": "NODE-KEY-0001",
            "expires_at": now_ms() + 40 * 86_400_000,
            "terms": {"license_type": "consumption", "max_activations": 2, "consumption": {"max_consumptions": 50}},
            "features": [{"code": "render"}]})).await;
        license(&server, json!({"product_id": app, "key": "NODE-OFFLINE-1", "terms": {"max_activations": 1}})).await;
        let (bundle, members) = bundle_setup(&server, "nodesuite", &["nodeedit", "nodeview"], "NODE-SUITE").await;
        let files = tempfile::tempdir().expect("tempdir");
        let result = run_node(&[
            ("LS_API_PATH", format!("{}/api/v4", server.base)),
            ("LS_API_KEY", cred.api_key.clone()),
            ("LS_SHARED_KEY", cred.shared_key.clone()),
            ("LS_PRODUCT", "nodeapp".into()),
            ("LS_PUBLIC_KEY", rsa_public_pem(&server).await),
            ("LS_KEY", "NODE-KEY-0001".into()),
            ("LS_OFFLINE_KEY", "NODE-OFFLINE-1".into()),
            ("LS_FEATURE", "render".into()),
            ("LS_HWID", "node-device-1".into()),
            ("LS_HWID2", "node-device-2".into()),
            ("LS_FILE_PATH", files.path().display().to_string()),
            ("LS_BUNDLE", "nodesuite".into()),
            ("LS_BUNDLE_KEY", "NODE-SUITE".into()),
        ]);
        assert_eq!(result["bundle"], json!({
            "activate": ["nodesuite", "nodeedit", "nodeview"],
            "check": [["nodesuite", true], ["nodeedit", true], ["nodeview", true]],
            "not_bundle": [400, "product_not_bundle"],
            // The SDK turns the exact `license_deactivated` reply into `true`.
            "deactivate": true,
            "check_after_deactivate": [400, "device_not_found"],
            "manager": {"activate": ["nodesuite", "nodeedit", "nodeview"], "check": [true, true, true], "deactivated": true},
        }));
        for id in std::iter::once(bundle).chain(members) {
            let devices = devices(&server, id).await;
            assert_eq!(devices.len(), 2, "license {id}: {devices:?}");
            assert!(devices.iter().all(|d| !d["deactivated_at"].is_null()));
        }
        assert_eq!(result["activate"], json!({"license_key": "NODE-KEY-0001", "short_code": "nodeapp", "times_activated": 1}));
        assert_eq!(result["check"], json!({"license_active": true, "license_enabled": true}));
        assert_eq!(result["check_feature"], json!("render"));
        assert_eq!(result["add_consumption"], json!(2));
        assert_eq!(result["add_feature_consumption"], json!(1));
        assert_eq!(result["product_details"], json!("nodeapp"));
        assert_eq!(result["offline"], json!({"online_key": "NODE-OFFLINE-1", "license_key": "NODE-OFFLINE-1", "deactivated": true}));
        assert_eq!(result["variables"], json!([["os", "linux"], ["seat", "node"]]));
        assert_eq!(result["foreign_key"][1], json!("license_signature_invalid"));
        assert_eq!(result["unknown_license"], json!([400, "license_not_found"]));
        assert_eq!(result["deactivate"], json!(true));
        assert_eq!(result["check_after_deactivate"], json!([400, "device_not_found"]));
        assert_eq!(result["manager"], json!({"license_active": true, "deactivated": true}));
        assert!(devices(&server, id).await.iter().all(|d| !d["deactivated_at"].is_null()));
    }

    async fn trial_and_product_details(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "trialapp", json!({"trial_allowed": true, "trial_days": 14, "metadata": {"edition": "pro"}})).await;
        product(&server, "notrial", json!({})).await;
        product(&server, "userapp", json!({"trial_allowed": true, "auth_method": "user"})).await;
        let (status, policy) = server.admin(Method::POST, "/v1/policies", Some(json!({"product_id": app, "code": "eval30",
            "name": "Evaluation", "duration_days": 30, "terms": {"max_activations": 3}}))).await;
        assert_eq!(status, StatusCode::CREATED, "{policy}");

        let details = get(&server, &cred, "product_details", &[("product", "trialapp"), ("include_latest_version", "true"), ("include_custom_fields", "true")]).await;
        assert_eq!(details.ok()["short_code"], json!("trialapp"));
        assert_eq!(details.body["allow_trial"], json!(true));
        assert_eq!(details.body["trial_days"], json!(14));
        assert_eq!(details.body["metadata"], json!({"edition": "pro"}));
        assert_eq!(details.body["custom_fields"], json!([]));
        verify_v2(&server, &details).await;
        get(&server, &cred, "product_details", &[("product", "nope")]).await.error(400, "unknown_product_code");

        get(&server, &cred, "trial_key", &[("product", "notrial"), ("hardware_id", "hw")]).await.error(400, "trial_not_allowed");
        get(&server, &cred, "trial_key", &[("product", "userapp"), ("hardware_id", "hw")]).await.error(400, "email_missing");
        get(&server, &cred, "trial_key", &[("product", "trialapp"), ("hardware_id", "hw"), ("license_policy", "nope")]).await.error(400, "unknown_policy_code");
        get(&server, &cred, "trial_key", &[("product", "trialapp"), ("hardware_id", "")]).await.error(400, "invalid_hardware_id");
        get(&server, &cred, "trial_key", &[("product", "trialapp")]).await.error(400, "missing_parameters");

        let trial = get(&server, &cred, "trial_key", &[("product", "trialapp"), ("hardware_id", "hw-t"), ("email", "a@example.com")]).await;
        assert_eq!(trial.ok()["is_trial"], json!(true));
        assert_eq!(trial.body["trial_days"], json!(14));
        verify_v2(&server, &trial).await;
        let key = trial.body["license"].as_str().expect("trial key").to_string();
        assert_eq!(trial.body["license_key"], json!(key));
        // The same device asking again gets the same trial.
        let again = get(&server, &cred, "trial_key", &[("product", "trialapp"), ("hardware_id", "hw-t")]).await;
        assert_eq!(again.ok()["license"], json!(key));
        // The trial activates, and its validity starts then: trial_days from now.
        let activated = post(&server, &cred, "activate_license", ident("trialapp", "hw-t", &key)).await;
        assert_eq!(activated.ok()["is_trial"], json!(true));
        assert!(activated.body["validity_period"].is_string());
        // A trial from a policy takes the policy's terms and duration.
        let policy_trial = get(&server, &cred, "trial_key", &[("product", "trialapp"), ("hardware_id", "hw-p"), ("license_policy", "eval30")]).await;
        assert_eq!(policy_trial.ok()["max_activations"], json!(3));
        assert_eq!(policy_trial.body["trial_days"], json!(30));
        // A read-only key may not issue trials.
        let read_only = credential(&server, json!({"read_only": true})).await;
        get(&server, &read_only, "trial_key", &[("product", "trialapp"), ("hardware_id", "hw-r")]).await.error(400, "read_only_api_key");
    }

    async fn sdk_python_trial(server) {
        let cred = credential(&server, json!({})).await;
        product(&server, "pytrial", json!({"trial_allowed": true, "trial_days": 7})).await;
        let files = tempfile::tempdir().expect("tempdir");
        let result = run_python(
            "trial",
            &[
                ("LS_DOMAIN", server.base.trim_start_matches("http://").to_string()),
                ("LS_API_KEY", cred.api_key.clone()),
                ("LS_SHARED_KEY", cred.shared_key.clone()),
                ("LS_PRODUCT", "pytrial".into()),
                ("LS_PUBLIC_KEY", rsa_public_pem(&server).await),
                ("LS_HWID", "trial-device".into()),
                ("LS_FILE_PATH", files.path().display().to_string()),
            ],
        );
        assert_eq!(
            result,
            json!({"trial_key_matches": true, "is_trial": true, "expires": true, "short_code": "pytrial", "allow_trial": true})
        );
    }

    async fn user_based_licenses(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "team", json!({"auth_method": "user"})).await;
        product(&server, "keyed", json!({})).await;
        let (status, customer) = server
            .admin(Method::POST, "/v1/customers", Some(json!({"email": "acme@example.com", "company": "Acme"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{customer}");
        let customer_id = customer["id"].as_i64().expect("customer id");
        let seat = license(&server, json!({"product_id": app, "customer_id": customer_id,
            "terms": {"max_activations": 5, "max_activations_per_user": 1}})).await;
        let alice = license_user(&server, json!({"email": "alice@example.com", "password": "s3cret-pass", "customer_id": customer_id, "name": "Alice Smith"})).await;
        let nopass = license_user(&server, json!({"email": "sso@example.com", "customer_id": customer_id})).await;
        license_user(&server, json!({"email": "idle@example.com", "password": "idle-pass"})).await;
        assign(&server, seat, alice).await;
        assign(&server, seat, nopass).await;

        let user_ident = |hw: &str, password: Option<&str>| {
            let mut body = json!({"product": "team", "hardware_id": hw, "username": "alice@example.com"});
            if let Some(password) = password {
                body["password"] = json!(password);
            }
            body
        };
        post(&server, &cred, "activate_license", user_ident("u-1", Some("wrong"))).await.error(401, "authentication_failure");
        post(&server, &cred, "activate_license", user_ident("u-1", None)).await.error(400, "missing_parameters");
        post(&server, &cred, "activate_license", json!({"product": "team", "hardware_id": "u-1", "username": "ghost@example.com", "password": "x"}))
            .await
            .error(400, "license_user_not_found");
        // A user with no license on this product.
        post(&server, &cred, "activate_license", json!({"product": "team", "hardware_id": "u-1", "username": "idle@example.com", "password": "idle-pass"}))
            .await
            .error(400, "license_user_not_found");
        let activated = post(&server, &cred, "activate_license", user_ident("u-1", Some("s3cret-pass"))).await;
        let object = activated.ok().clone();
        verify_v2(&server, &activated).await;
        assert_eq!(object["user"]["email"], json!("alice@example.com"));
        assert_eq!(object["user"]["first_name"], json!("Alice"));
        assert_eq!(object["user"]["total_activations"], json!(1));
        assert_eq!(object["product_details"]["authorization_method"], json!("user"));
        // v1 covers the user's e-mail instead of a key.
        let pem = rsa_public_pem(&server).await;
        let public = PublicKey::from_pem(Algorithm::Rsa2048, &pem).expect("pem");
        let v1 = licensd_crypto::b64_decode(object["license_signature"].as_str().expect("v1")).expect("b64");
        public.verify(b"u-1#alice@example.com#", &v1).expect("v1 over the user e-mail");
        // The per-user activation limit.
        post(&server, &cred, "activate_license", user_ident("u-2", Some("s3cret-pass"))).await.error(400, "license_user_activated_max_times");
        let checked = get(&server, &cred, "check_license", &[("product", "team"), ("hardware_id", "u-1"), ("username", "alice@example.com")]).await;
        assert_eq!(checked.ok()["license_active"], json!(true));

        // user_licenses
        let listed = get(&server, &cred, "user_licenses", &[("product", "team"), ("username", "alice@example.com"), ("password", "s3cret-pass")]).await;
        assert_eq!(listed.ok()[0]["license"]["id"], json!(seat));
        assert_eq!(listed.body[0]["user"]["email"], json!("alice@example.com"));
        verify_v2(&server, &listed).await;
        get(&server, &cred, "user_licenses", &[("product", "team"), ("username", "idle@example.com"), ("password", "idle-pass")])
            .await
            .error(400, "user_not_assigned_to_product");
        get(&server, &cred, "user_licenses", &[("product", "team"), ("username", "alice@example.com"), ("password", "nope")])
            .await
            .error(401, "authentication_failure");

        // customer_license_users
        let users = get(&server, &cred, "customer_license_users", &[("product", "team"), ("customer", "acme@example.com")]).await;
        assert_eq!(users.ok()["customer"]["email"], json!("acme@example.com"));
        let emails: Vec<&str> = users.body["users"].as_array().expect("users").iter().filter_map(|u| u["email"].as_str()).collect();
        assert_eq!(emails, ["alice@example.com", "sso@example.com"]);
        verify_v2(&server, &users).await;
        get(&server, &cred, "customer_license_users", &[("product", "team"), ("customer", "nobody@example.com")])
            .await
            .error(400, "customer_does_not_exist");
        get(&server, &cred, "customer_license_users", &[("product", "keyed"), ("customer", "acme@example.com")])
            .await
            .error(400, "invalid_product_auth_method");

        // change_password
        let change = |username: &str, password: &str| json!({"username": username, "password": password, "new_password": "n3w-password"});
        post(&server, &cred, "change_password", change("alice@example.com", "wrong")).await.error(401, "authentication_failure");
        let short = json!({"username": "alice@example.com", "password": "s3cret-pass", "new_password": "short"});
        post(&server, &cred, "change_password", short).await.error(400, "validation_error");
        post(&server, &cred, "change_password", change("ghost@example.com", "x")).await.error(400, "license_user_not_found");
        post(&server, &cred, "change_password", change("sso@example.com", "x")).await.error(400, "change_password_not_allowed");
        let changed = post(&server, &cred, "change_password", change("alice@example.com", "s3cret-pass")).await;
        assert_eq!((changed.status, changed.text()), (StatusCode::OK, "password_changed".to_string()));
        get(&server, &cred, "user_licenses", &[("product", "team"), ("username", "alice@example.com"), ("password", "s3cret-pass")])
            .await
            .error(401, "authentication_failure");
        get(&server, &cred, "user_licenses", &[("product", "team"), ("username", "alice@example.com"), ("password", "n3w-password")]).await.ok();

        let released = post(&server, &cred, "deactivate_license", json!({"product": "team", "hardware_id": "u-1", "username": "alice@example.com"})).await;
        assert_eq!((released.status, released.text()), (StatusCode::OK, "license_deactivated".to_string()));
    }

    async fn sdk_python_user(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "pyteam", json!({"auth_method": "user"})).await;
        let seat = license(&server, json!({"product_id": app, "terms": {"max_activations": 3}})).await;
        let user = license_user(&server, json!({"email": "bob@example.com", "password": "bobs-password"})).await;
        assign(&server, seat, user).await;
        let files = tempfile::tempdir().expect("tempdir");
        let result = run_python(
            "user",
            &[
                ("LS_DOMAIN", server.base.trim_start_matches("http://").to_string()),
                ("LS_API_KEY", cred.api_key.clone()),
                ("LS_SHARED_KEY", cred.shared_key.clone()),
                ("LS_PRODUCT", "pyteam".into()),
                ("LS_PUBLIC_KEY", rsa_public_pem(&server).await),
                ("LS_HWID", "bob-device".into()),
                ("LS_USER", "bob@example.com".into()),
                ("LS_PASSWORD", "bobs-password".into()),
                ("LS_FILE_PATH", files.path().display().to_string()),
            ],
        );
        assert_eq!(
            result,
            json!({"wrong_password": [401, "authentication_failure"], "user_email": "bob@example.com",
                "user_licenses": 1, "change_password": "password_changed", "deactivated": true})
        );
        // The new password is the one that works now.
        let listed = get(&server, &cred, "user_licenses", &[("product", "pyteam"), ("username", "bob@example.com"), ("password", "bobs-password-new")]).await;
        assert_eq!(listed.ok()[0]["license"]["id"], json!(seat));
    }

    async fn offline_activation(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "air", json!({})).await;
        license(&server, json!({"product_id": app, "key": "OFF-LINE-1", "terms": {"max_activations": 2}})).await;
        license(&server, json!({"product_id": app, "key": "OFF-FLOAT", "terms": {"floating": {"seats": 1, "lease_seconds": 600}}})).await;
        let inner = |key: &str, kind: &str| json!({"request": kind, "product": "air", "hardware_id": "air-hw",
            "license_key": key, "date": "Sun, 22 Nov 2026 08:30:00 GMT", "request_id": "req-123",
            "schema_version": 2, "api_key": cred.api_key});

        post_text(&server, &cred, "activate_offline", String::new()).await.error(400, "missing_content");
        post_text(&server, &cred, "activate_offline", "%%%".into()).await.error(400, "authorization_missing_params");
        // One changed byte inside the signed request breaks its signature.
        let file = request_file(&cred, &inner("OFF-LINE-1", "activation"), false);
        let forged = {
            let decoded = String::from_utf8(licensd_crypto::b64_decode(&file).expect("b64")).expect("utf8");
            licensd_crypto::b64(decoded.replace("air-hw", "evil-hw").as_bytes())
        };
        post_text(&server, &cred, "activate_offline", forged).await.error(401, "offline_signature_mismatch");
        post_text(&server, &cred, "activate_offline", request_file(&cred, &inner("OFF-FLOAT", "activation"), false))
            .await
            .error(400, "offline_floating_cloud_not_supported");
        post_text(&server, &cred, "activate_offline", request_file(&cred, &inner("NOPE", "activation"), false))
            .await
            .error(400, "license_not_found");

        // A hex outer signature (the C++ SDK's form) is accepted too.
        let activated = post_text(&server, &cred, "activate_offline", request_file(&cred, &inner("OFF-LINE-1", "activation"), true)).await;
        let mut object = activated.ok().clone();
        verify_v2(&server, &activated).await;
        assert_eq!(object["request_id"], json!("req-123"));
        assert_eq!(object["request"], json!("activation"));
        assert_eq!(object["hardware_id"], json!("air-hw"));
        // offline_signature: HMAC(shared key, date, key, hardware id, api key).
        let date = object["date"].as_str().expect("date").to_string();
        let message = format!("licenseSpring\ndate: {date}\nOFF-LINE-1\nair-hw\n{}", cred.api_key);
        let expected = licensd_crypto::b64(&licensd_crypto::hmac_sha256(cred.shared_key.as_bytes(), message.as_bytes()));
        assert_eq!(object["offline_signature"], json!(expected));
        // license_signature_v2 covers the object without both signature fields.
        let pem = rsa_public_pem(&server).await;
        let public = PublicKey::from_pem(Algorithm::Rsa2048, &pem).expect("pem");
        let map = object.as_object_mut().expect("object");
        map.remove("license_signature");
        let v2 = map.remove("license_signature_v2").expect("v2");
        let v2 = licensd_crypto::b64_decode(v2.as_str().expect("v2 text")).expect("b64");
        public.verify(&serde_json::to_vec(&object).expect("json"), &v2).expect("license_signature_v2 verifies");

        let deactivated = post_text(&server, &cred, "deactivate_offline", request_file(&cred, &inner("OFF-LINE-1", "deactivation"), false)).await;
        assert_eq!((deactivated.status, deactivated.text()), (StatusCode::OK, "license_deactivated".to_string()));
        post_text(&server, &cred, "deactivate_offline", request_file(&cred, &inner("OFF-LINE-1", "deactivation"), false))
            .await
            .error(400, "device_not_found");
        // A file of the wrong kind is refused.
        post_text(&server, &cred, "deactivate_offline", request_file(&cred, &inner("OFF-LINE-1", "activation"), false))
            .await
            .error(400, "validation_error");
    }

    async fn sdk_python_offline(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "pyoff", json!({})).await;
        let id = license(&server, json!({"product_id": app, "key": "PY-OFFLINE-1", "terms": {"max_activations": 1}})).await;
        let files = tempfile::tempdir().expect("tempdir");
        let result = run_python(
            "offline",
            &[
                ("LS_DOMAIN", server.base.trim_start_matches("http://").to_string()),
                ("LS_API_KEY", cred.api_key.clone()),
                ("LS_SHARED_KEY", cred.shared_key.clone()),
                ("LS_PRODUCT", "pyoff".into()),
                ("LS_PUBLIC_KEY", rsa_public_pem(&server).await),
                ("LS_HWID", "offline-device".into()),
                ("LS_KEY", "PY-OFFLINE-1".into()),
                ("LS_FILE_PATH", files.path().display().to_string()),
            ],
        );
        assert_eq!(result, json!({"request_id_echoed": true, "key": "PY-OFFLINE-1", "offline_activated": true, "deactivate": "license_deactivated"}));
        let devices = devices(&server, id).await;
        assert_eq!(devices.len(), 1);
        assert!(!devices[0]["deactivated_at"].is_null());
    }

    async fn sdk_python_bundle(server) {
        let cred = credential(&server, json!({})).await;
        let (bundle, members) = bundle_setup(&server, "pysuite", &["pyedit", "pyview"], "PY-SUITE").await;
        let files = tempfile::tempdir().expect("tempdir");
        let result = run_python(
            "bundle",
            &[
                ("LS_DOMAIN", server.base.trim_start_matches("http://").to_string()),
                ("LS_API_KEY", cred.api_key.clone()),
                ("LS_SHARED_KEY", cred.shared_key.clone()),
                ("LS_PRODUCT", "pysuite".into()),
                ("LS_MEMBER", "pyedit".into()),
                ("LS_PUBLIC_KEY", rsa_public_pem(&server).await),
                ("LS_KEY", "PY-SUITE".into()),
                ("LS_HWID", "bundle-1".into()),
                ("LS_HWID2", "bundle-2".into()),
                ("LS_HWID3", "bundle-3".into()),
                ("LS_FILE_PATH", files.path().display().to_string()),
            ],
        );
        assert_eq!(result, json!({
            "activate": ["pysuite", "pyedit", "pyview"],
            "check": [["pysuite", true], ["pyedit", true], ["pyview", true]],
            "not_bundle": [400, "product_not_bundle"],
            "deactivate": "license_deactivated",
            "check_after_deactivate": [400, "device_not_found"],
            "manager": {"codes": ["pyedit", "pysuite", "pyview"], "keys": ["PY-SUITE"], "member_active": true,
                "checked": ["pyedit", "pysuite", "pyview"], "reloaded": ["pyedit", "pysuite", "pyview"], "deactivated": true},
            "offline": ["pyedit", "pysuite", "pyview"],
        }));
        // Online devices 1 and 2 were released; the offline device 3 holds a seat on every license.
        for id in std::iter::once(bundle).chain(members) {
            let mut active: Vec<String> = devices(&server, id)
                .await
                .iter()
                .filter(|d| d["deactivated_at"].is_null())
                .map(|d| d["fingerprint"].as_str().expect("fingerprint").to_string())
                .collect();
            active.sort();
            assert_eq!(active, ["bundle-3"], "license {id}");
        }
    }

    async fn device_variables(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "vars", json!({})).await;
        license(&server, json!({"product_id": app, "key": "VARS", "terms": {"max_activations": 2}})).await;
        let mut body = ident("vars", "hw", "VARS");
        body["variables"] = json!({"seat": "A"});
        post(&server, &cred, "activate_license", body).await.ok();
        let mut track = ident("vars", "hw", "VARS");
        track["variables"] = json!({"gpu": "rtx", "cores": 8});
        let tracked = post(&server, &cred, "track_device_variables", track.clone()).await;
        let rows = tracked.ok().as_array().expect("rows").clone();
        verify_v2(&server, &tracked).await;
        let mut pairs: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r["variable"].as_str().unwrap_or("").to_string(), r["value"].as_str().unwrap_or("").to_string()))
            .collect();
        pairs.sort();
        assert_eq!(pairs, [("cores".into(), "8".into()), ("gpu".into(), "rtx".into()), ("seat".into(), "A".into())]);
        let fetched = get(&server, &cred, "get_device_variables", &[("product", "vars"), ("hardware_id", "hw"), ("license_key", "VARS")]).await;
        assert_eq!(fetched.ok().as_array().map(Vec::len), Some(3));
        assert!(fetched.body[0]["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
        verify_v2(&server, &fetched).await;
        // A device that is not active on the license.
        let mut stranger = track.clone();
        stranger["hardware_id"] = json!("other");
        post(&server, &cred, "track_device_variables", stranger).await.error(400, "device_not_found");
        get(&server, &cred, "get_device_variables", &[("product", "vars"), ("hardware_id", "other"), ("license_key", "VARS")])
            .await
            .error(400, "device_not_found");
        post(&server, &cred, "track_device_variables", ident("vars", "hw", "VARS")).await.error(400, "missing_parameters");
    }

    async fn oauth_flow(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "oa", json!({})).await;
        let other = product(&server, "ob", json!({})).await;
        license(&server, json!({"product_id": app, "key": "OAUTH-1", "terms": {"max_activations": 2}})).await;
        let url = send(&server, Method::GET, "/api/v4/oauth_url?login_type=client_credentials", &[], None).await;
        let token_url = url.ok()["url"].as_str().expect("url").to_string();
        assert_eq!(token_url, server.url("/api/v4/oauth/token"));
        let token_for = |id: &str, secret: &str| {
            format!("grant_type=client_credentials&client_id={}&client_secret={}", id, secret.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"))
        };
        let form = |body: String| server.http.post(token_url.clone()).header("content-type", "application/x-www-form-urlencoded").body(body).send();
        let wrong = form(token_for(&cred.api_key, "nope")).await.expect("token request");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let wrong: Value = wrong.json().await.expect("json");
        assert_eq!((wrong["error"].as_str(), wrong["code"].as_str()), (Some("invalid_client"), Some("invalid_client_credentials")));
        let bad_grant = form("grant_type=password".into()).await.expect("token request");
        assert_eq!(bad_grant.status(), StatusCode::BAD_REQUEST);
        let issued: Value = form(token_for(&cred.api_key, &cred.shared_key)).await.expect("token").json().await.expect("json");
        assert_eq!(issued["token_type"], json!("Bearer"));
        assert_eq!(issued["expires_in"], json!(3600));
        let token = issued["access_token"].as_str().expect("token").to_string();

        let activate_path = "/api/v4/activate_license";
        let headers = [("authorization", format!("Bearer {token}")), ("date", http_date(SystemTime::now()))];
        let activated = send(&server, Method::POST, activate_path, &headers, Some(serde_json::to_vec(&ident("oa", "hw", "OAUTH-1")).expect("json"))).await;
        assert_eq!(activated.ok()["license_key"], json!("OAUTH-1"));
        verify_v2(&server, &activated).await;
        let check = "/api/v4/check_license?product=oa&hardware_id=hw&license_key=OAUTH-1";
        assert_eq!(bearer_get(&server, &token, check).await.ok()["license_active"], json!(true));
        // Expired and tampered tokens.
        bearer_get(&server, &oauth_token(&cred, now_ms() - 1000), check).await.error(400, "oauth_token_expired");
        bearer_get(&server, &format!("{token}x"), check).await.error(400, "oauth_token_malformed");
        // A bearer request still needs its Date.
        send(&server, Method::GET, check, &[("authorization", format!("Bearer {token}"))], None).await.error(400, "missing_headers");
        // A product-scoped OAuth client.
        let scoped = credential(&server, json!({"product_id": other})).await;
        bearer_get(&server, &oauth_token(&scoped, now_ms() + 60_000), check).await.error(400, "oauth_product_not_allowed");
        // Revoking the credential ends its tokens.
        let (status, _) = server.admin(Method::POST, &format!("/v1/credentials/{}/revoke", cred.id), None).await;
        assert_eq!(status, StatusCode::OK);
        bearer_get(&server, &token, check).await.error(400, "revoked_api_key");
        let revoked = form(token_for(&cred.api_key, &cred.shared_key)).await.expect("token request");
        assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    }

    async fn sdk_python_oauth(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "pyoauth", json!({})).await;
        license(&server, json!({"product_id": app, "key": "PY-OAUTH-1", "terms": {"max_activations": 1}})).await;
        let files = tempfile::tempdir().expect("tempdir");
        let result = run_python(
            "oauth",
            &[
                ("LS_DOMAIN", server.base.trim_start_matches("http://").to_string()),
                ("LS_API_KEY", cred.api_key.clone()),
                ("LS_SHARED_KEY", cred.shared_key.clone()),
                ("LS_PRODUCT", "pyoauth".into()),
                ("LS_PUBLIC_KEY", rsa_public_pem(&server).await),
                ("LS_HWID", "oauth-device".into()),
                ("LS_KEY", "PY-OAUTH-1".into()),
                ("LS_FILE_PATH", files.path().display().to_string()),
            ],
        );
        assert_eq!(result, json!({"activate": "PY-OAUTH-1", "check": true, "refreshed_after_expiry": true,
            "wrong_secret": "InvalidClientCredentials", "deactivate": "license_deactivated",
            "offline_key": "PY-OAUTH-1", "offline_deactivate": "license_deactivated"}));
    }

    async fn versions_and_installation_files(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "upd", json!({})).await;
        let day = 86_400_000_i64;
        let now = now_ms();
        license(&server, json!({"product_id": app, "key": "UPD", "maintenance_expires_at": now - 5 * day, "terms": {"max_activations": 2}})).await;
        license(&server, json!({"product_id": app, "key": "UPD-FULL", "terms": {"max_activations": 2}})).await;
        version(&server, app, json!({"version": "1.0", "release_date": now - 30 * day, "download_url": "https://dl/1.0", "hash_md5": "aa", "size": 10})).await;
        version(&server, app, json!({"version": "1.5", "release_date": now - 10 * day, "download_url": "https://dl/1.5", "requires_version": "1.0"})).await;
        version(&server, app, json!({"version": "2.0", "release_date": now - day, "download_url": "https://dl/2.0"})).await;
        version(&server, app, json!({"version": "2.1", "release_date": now - day, "download_url": "https://dl/2.1", "enabled": false})).await;
        let beta = version(&server, app, json!({"version": "3.0", "channel": "beta", "release_date": now, "download_url": "https://dl/3.0"})).await;
        let (status, listed) = server.admin(Method::GET, &format!("/v1/products/{app}/versions"), None).await;
        assert_eq!((status, listed.as_array().map(Vec::len)), (StatusCode::OK, Some(5)));

        let q = |key: &'static str, extra: &[(&'static str, &'static str)]| {
            let mut query = vec![("product", "upd"), ("hardware_id", "hw"), ("license_key", key)];
            query.extend_from_slice(extra);
            query
        };
        get(&server, &cred, "versions", &q("UPD", &[])).await.error(400, "active_license_required");
        get(&server, &cred, "installation_file", &q("UPD", &[])).await.error(400, "active_license_required");
        let mut body = ident("upd", "hw", "UPD");
        body["app_ver"] = json!("1.0");
        post(&server, &cred, "activate_license", body.clone()).await.ok();
        body["license_key"] = json!("UPD-FULL");
        post(&server, &cred, "activate_license", body).await.ok();

        // Maintenance ended five days ago: 2.0 is not part of this license.
        let versions = get(&server, &cred, "versions", &q("UPD", &[])).await;
        let names: Vec<&str> = versions.ok().as_array().expect("list").iter().filter_map(|v| v["version"].as_str()).collect();
        assert_eq!(names, ["1.0", "1.5"]);
        verify_v2(&server, &versions).await;
        let full = get(&server, &cred, "versions", &q("UPD-FULL", &[])).await;
        let names: Vec<&str> = full.ok().as_array().expect("list").iter().filter_map(|v| v["version"].as_str()).collect();
        assert_eq!(names, ["1.0", "1.5", "2.0"]);
        let beta_list = get(&server, &cred, "versions", &q("UPD-FULL", &[("channel", "beta")])).await;
        assert_eq!(beta_list.ok()[0]["version"], json!("3.0"));
        // requires_version: an installed 0.9 cannot take 1.5.
        let old = get(&server, &cred, "versions", &q("UPD-FULL", &[("app_ver", "0.9")])).await;
        let names: Vec<&str> = old.ok().as_array().expect("list").iter().filter_map(|v| v["version"].as_str()).collect();
        assert_eq!(names, ["1.0", "2.0"]);

        let latest = get(&server, &cred, "installation_file", &q("UPD", &[])).await;
        assert_eq!(latest.ok()["installation_file"], json!("https://dl/1.5"));
        verify_v2(&server, &latest).await;
        let pinned = get(&server, &cred, "installation_file", &q("UPD", &[("version", "1.0")])).await;
        assert_eq!((pinned.ok()["hash_md5"].clone(), pinned.body["size"].clone()), (json!("aa"), json!(10)));
        get(&server, &cred, "installation_file", &q("UPD", &[("version", "2.0")])).await.error(400, "version_not_found");
        get(&server, &cred, "installation_file", &q("UPD-FULL", &[("version", "2.1")])).await.error(400, "version_not_found");

        let details = get(&server, &cred, "product_details", &[("product", "upd"), ("include_latest_version", "true")]).await;
        assert_eq!(details.ok()["latest_version"]["version"], json!("3.0"));
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/product-versions/{beta}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let details = get(&server, &cred, "product_details", &[("product", "upd"), ("include_latest_version", "true")]).await;
        assert_eq!(details.ok()["latest_version"]["version"], json!("2.0"));
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/product-versions/{beta}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn cli_manages_product_versions(server) {
        let app = product(&server, "clivers", json!({})).await;
        let app_id = app.to_string();
        let cli = |args: &[&str]| {
            let (code, stdout, stderr) = server.cli(args);
            assert_eq!(code, 0, "licensd {args:?}: {stdout} {stderr}");
            stdout
        };
        let added: Value = serde_json::from_str(
            cli(&["--json", "licensespring", "add-version", &app_id, "2.0", "--url", "https://dl/2.0", "--environment", "linux", "--requires-version", "1.0"]).trim(),
        )
        .expect("json");
        assert_eq!((added["version"].as_str(), added["requires_version"].as_str()), (Some("2.0"), Some("1.0")));
        let table = cli(&["licensespring", "versions", &app_id]);
        assert!(table.contains("2.0") && table.contains("https://dl/2.0"), "{table}");
        let id = added["id"].as_i64().expect("id").to_string();
        cli(&["licensespring", "delete-version", &id]);
        let listed: Value = serde_json::from_str(cli(&["--json", "licensespring", "versions", &app_id]).trim()).expect("json");
        assert_eq!(listed, json!([]));
        let (code, _, _) = server.cli(&["licensespring", "delete-version", &id]);
        assert_ne!(code, 0, "deleting a missing version fails");
    }

    async fn bundle_flow(server) {
        let cred = credential(&server, json!({})).await;
        let suite = product(&server, "suite", json!({})).await;
        let editor = product(&server, "editor", json!({})).await;
        let viewer = product(&server, "viewer", json!({})).await;
        let solo = product(&server, "solo", json!({})).await;
        // Membership through the native API, with its refusals.
        let members = |bundle: i64, member: i64| {
            let server = &server;
            async move {
                server
                    .admin(Method::POST, &format!("/v1/products/{bundle}/bundle-members"), Some(json!({"product_id": member})))
                    .await
            }
        };
        assert_eq!(members(suite, editor).await.0, StatusCode::CREATED);
        let (status, body) = members(suite, viewer).await;
        assert_eq!((status, body), (StatusCode::CREATED, json!({"product_id": suite, "member_product_ids": [editor, viewer]})));
        assert_eq!(members(suite, suite).await.0, StatusCode::CONFLICT);
        assert_eq!(members(editor, solo).await.0, StatusCode::CONFLICT, "bundles do not nest");
        assert_eq!(members(suite, 999_999).await.0, StatusCode::NOT_FOUND);

        let bundle = license(&server, json!({"product_id": suite, "key": "SUITE-KEY", "terms": {"max_activations": 5}})).await;
        let editor_license = license(&server, json!({"product_id": editor, "key": "EDITOR-KEY", "terms": {"max_activations": 1}})).await;
        let viewer_license = license(&server, json!({"product_id": viewer, "key": "VIEWER-KEY", "terms": {"max_activations": 2}})).await;
        license(&server, json!({"product_id": solo, "key": "SOLO-KEY"})).await;
        let solo_license = license(&server, json!({"product_id": solo, "key": "SOLO-2"})).await;
        let link = |member: i64| {
            let server = &server;
            async move {
                server
                    .admin(Method::POST, &format!("/v1/licenses/{bundle}/bundle-members"), Some(json!({"license_id": member})))
                    .await
            }
        };
        assert_eq!(link(editor_license).await.0, StatusCode::CREATED);
        let (status, body) = link(viewer_license).await;
        assert_eq!((status, body), (StatusCode::CREATED, json!({"license_id": bundle, "member_license_ids": [editor_license, viewer_license]})));
        assert_eq!(link(solo_license).await.0, StatusCode::CONFLICT, "not a member product");

        // Bundle calls on a plain product.
        post(&server, &cred, "activate_bundle", ident("solo", "HW-1", "SOLO-KEY")).await.error(400, "product_not_bundle");
        get(&server, &cred, "check_bundle", &[("product", "solo"), ("hardware_id", "HW-1"), ("license_key", "SOLO-KEY")])
            .await
            .error(400, "product_not_bundle");
        post(&server, &cred, "deactivate_bundle", ident("solo", "HW-1", "SOLO-KEY")).await.error(400, "product_not_bundle");
        post(&server, &cred, "activate_bundle", ident("nope", "HW-1", "SUITE-KEY")).await.error(400, "unknown_product_code");
        post(&server, &cred, "activate_bundle", ident("suite", "HW-1", "NOPE")).await.error(400, "license_not_found");
        post(&server, &cred, "activate_bundle", ident("suite", "HW-1", "EDITOR-KEY")).await.error(400, "license_not_found");
        post(&server, &cred, "activate_bundle", json!({"product": "suite", "license_key": "SUITE-KEY"}))
            .await
            .error(400, "missing_parameters");

        // Activation: the bundle license first, then the members; each signed over the bundle key.
        let activated = post(&server, &cred, "activate_bundle", ident("suite", "HW-1", "SUITE-KEY")).await;
        let list = activated.ok().as_array().expect("array").clone();
        verify_v2(&server, &activated).await;
        let codes: Vec<&str> = list.iter().map(|l| l["product_details"]["short_code"].as_str().expect("code")).collect();
        assert_eq!(codes, ["suite", "editor", "viewer"]);
        let ids: Vec<i64> = list.iter().map(|l| l["id"].as_i64().expect("id")).collect();
        assert_eq!(ids, [bundle, editor_license, viewer_license]);
        let pem = rsa_public_pem(&server).await;
        let public = PublicKey::from_pem(Algorithm::Rsa2048, &pem).expect("pem");
        for object in &list {
            assert_eq!(object["license_key"], json!("SUITE-KEY"));
            assert_eq!(object["hardware_id"], json!("HW-1"));
            assert_eq!(object["times_activated"], json!(1));
            let v1 = licensd_crypto::b64_decode(object["license_signature"].as_str().expect("v1")).expect("b64");
            public.verify(b"hw-1#suite-key#", &v1).expect("v1 over the bundle key");
        }
        // Again on the same device: nothing consumed.
        let again = post(&server, &cred, "activate_bundle", ident("suite", "HW-1", "SUITE-KEY")).await;
        assert!(again.ok().as_array().expect("array").iter().all(|l| l["times_activated"] == json!(1)));

        let checked = get(&server, &cred, "check_bundle", &[("product", "suite"), ("hardware_id", "HW-1"), ("license_key", "SUITE-KEY"), ("include_expired_features", "false")]).await;
        let list = checked.ok().as_array().expect("array").clone();
        verify_v2(&server, &checked).await;
        assert_eq!(list.len(), 3);
        assert!(list.iter().all(|l| l["license_active"] == json!(true) && l["license_enabled"] == json!(true) && l["is_expired"] == json!(false)));
        get(&server, &cred, "check_bundle", &[("product", "suite"), ("hardware_id", "HW-9"), ("license_key", "SUITE-KEY")])
            .await
            .error(400, "device_not_found");

        // Single-license calls reach a member through the bundle key (bundle_code optional).
        let member = check_license(&server, &cred, "editor", "HW-1", "SUITE-KEY").await;
        assert_eq!((member.ok()["id"].as_i64(), member.body["license_key"].as_str()), (Some(editor_license), Some("SUITE-KEY")));
        let with_code = [("product", "editor"), ("hardware_id", "HW-1"), ("license_key", "SUITE-KEY"), ("bundle_code", "suite")];
        assert_eq!(get(&server, &cred, "check_license", &with_code).await.ok()["id"], json!(editor_license));
        let own_key = [("product", "editor"), ("hardware_id", "HW-1"), ("license_key", "EDITOR-KEY"), ("bundle_code", "suite")];
        assert_eq!(get(&server, &cred, "check_license", &own_key).await.ok()["license_key"], json!("EDITOR-KEY"));
        let wrong_code = [("product", "editor"), ("hardware_id", "HW-1"), ("license_key", "SUITE-KEY"), ("bundle_code", "solo")];
        get(&server, &cred, "check_license", &wrong_code).await.error(400, "license_not_found");
        check_license(&server, &cred, "solo", "HW-1", "SUITE-KEY").await.error(400, "license_not_found");

        // A second device: the editor allows one, so the whole bundle is refused and nothing changes.
        post(&server, &cred, "activate_bundle", ident("suite", "HW-2", "SUITE-KEY")).await.error(400, "license_activated_max_times");
        for id in [bundle, editor_license, viewer_license] {
            let devices = devices(&server, id).await;
            assert_eq!(devices.len(), 1, "license {id}: {devices:?}");
            assert_eq!(devices[0]["fingerprint"], json!("HW-1"));
        }

        // A read-only key may check but not activate or deactivate.
        let reader = credential(&server, json!({"read_only": true})).await;
        post(&server, &reader, "activate_bundle", ident("suite", "HW-1", "SUITE-KEY")).await.error(400, "read_only_api_key");
        post(&server, &reader, "deactivate_bundle", ident("suite", "HW-1", "SUITE-KEY")).await.error(400, "read_only_api_key");

        // Deactivation releases every license; then there is nothing left to release.
        let deactivated = post(&server, &cred, "deactivate_bundle", ident("suite", "HW-1", "SUITE-KEY")).await;
        assert_eq!((deactivated.status, deactivated.text()), (StatusCode::OK, "license_deactivated".to_string()));
        for id in [bundle, editor_license, viewer_license] {
            assert!(devices(&server, id).await.iter().all(|d| !d["deactivated_at"].is_null()));
        }
        post(&server, &cred, "deactivate_bundle", ident("suite", "HW-1", "SUITE-KEY")).await.error(400, "device_not_found");
        get(&server, &cred, "check_bundle", &[("product", "suite"), ("hardware_id", "HW-1"), ("license_key", "SUITE-KEY")])
            .await
            .error(400, "device_not_found");
        // The freed seat takes the second device now.
        let moved = post(&server, &cred, "activate_bundle", ident("suite", "HW-2", "SUITE-KEY")).await;
        assert_eq!(moved.ok().as_array().map(Vec::len), Some(3));

        // A disabled member refuses the bundle.
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{editor_license}/disable"), None).await;
        assert_eq!(status, StatusCode::OK);
        post(&server, &cred, "activate_bundle", ident("suite", "HW-3", "SUITE-KEY")).await.error(400, "license_not_enabled");
        assert!(devices(&server, bundle).await.iter().all(|d| d["fingerprint"] != json!("HW-3")));
        get(&server, &cred, "check_bundle", &[("product", "suite"), ("hardware_id", "HW-2"), ("license_key", "SUITE-KEY")])
            .await
            .error(400, "license_not_enabled");

        // Unlinking through the wrong bundle is not found; through the right one it works.
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/licenses/{solo_license}/bundle-members/{viewer_license}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/licenses/{bundle}/bundle-members/{viewer_license}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, listed) = server.admin(Method::GET, &format!("/v1/licenses/{bundle}/bundle-members"), None).await;
        assert_eq!(listed, json!({"license_id": bundle, "member_license_ids": [editor_license]}));
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/products/{suite}/bundle-members/{viewer}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, listed) = server.admin(Method::GET, &format!("/v1/products/{suite}/bundle-members"), None).await;
        assert_eq!(listed, json!({"product_id": suite, "member_product_ids": [editor]}));
    }

    async fn bundle_activation_race(server) {
        let cred = credential(&server, json!({})).await;
        // Members allow 2 devices each: of 12 devices racing for the bundle, exactly 2 win.
        let (bundle, members) = bundle_setup(&server, "racesuite", &["racea", "raceb"], "RACE-SUITE").await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(12));
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let http = server.http.clone();
                let url = server.url("/api/v4/activate_bundle");
                let headers = signed_headers(&cred);
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let mut request = http.post(url).header("content-type", "application/json");
                    for (name, value) in headers {
                        request = request.header(name, value);
                    }
                    let body = serde_json::to_vec(&ident("racesuite", &format!("RACE-{i:02}"), "RACE-SUITE")).expect("json");
                    barrier.wait().await;
                    let response = request.body(body).send().await.expect("request");
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    (i, status, body)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (i, status, body) = task.await.expect("task");
            match status {
                StatusCode::OK => winners.push(format!("RACE-{i:02}")),
                _ => assert_eq!((status, &body["code"]), (StatusCode::BAD_REQUEST, &json!("license_activated_max_times")), "{body}"),
            }
        }
        assert_eq!(winners.len(), 2, "{winners:?}");
        for id in std::iter::once(bundle).chain(members) {
            let mut active: Vec<String> = devices(&server, id)
                .await
                .iter()
                .filter(|d| d["deactivated_at"].is_null())
                .map(|d| d["fingerprint"].as_str().expect("fingerprint").to_string())
                .collect();
            active.sort();
            assert_eq!(active, winners, "license {id}");
        }
    }

    async fn bundle_offline_activation(server) {
        let cred = credential(&server, json!({})).await;
        let suite = product(&server, "osuite", json!({})).await;
        let tool = product(&server, "otool", json!({})).await;
        let plain = product(&server, "oplain", json!({})).await;
        let (status, _) = server.admin(Method::POST, &format!("/v1/products/{suite}/bundle-members"), Some(json!({"product_id": tool}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let bundle = license(&server, json!({"product_id": suite, "key": "OB-KEY"})).await;
        let member = license(&server, json!({"product_id": tool, "key": "OB-TOOL", "terms": {"max_activations": 1}})).await;
        license(&server, json!({"product_id": plain, "key": "OB-PLAIN"})).await;
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{bundle}/bundle-members"), Some(json!({"license_id": member}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let inner = |product: &str, key: &str, hwid: &str| json!({"request": "activation", "product": product, "hardware_id": hwid,
            "license_key": key, "date": "Sun, 22 Nov 2026 08:30:00 GMT", "request_id": "bundle-req-1",
            "schema_version": 2, "api_key": cred.api_key});

        post_text(&server, &cred, "activate_bundle_offline", String::new()).await.error(400, "missing_content");
        post_text(&server, &cred, "activate_bundle_offline", request_file(&cred, &inner("oplain", "OB-PLAIN", "ohw"), false))
            .await
            .error(400, "product_not_bundle");
        let file = request_file(&cred, &inner("osuite", "OB-KEY", "ohw"), false);
        let forged = {
            let decoded = String::from_utf8(licensd_crypto::b64_decode(&file).expect("b64")).expect("utf8");
            licensd_crypto::b64(decoded.replace("ohw", "evil").as_bytes())
        };
        post_text(&server, &cred, "activate_bundle_offline", forged).await.error(401, "offline_signature_mismatch");

        let activated = post_text(&server, &cred, "activate_bundle_offline", file).await;
        let mut answer = activated.ok().clone();
        verify_v2(&server, &activated).await;
        let licenses = answer["licenses"].as_array().expect("licenses").clone();
        let codes: Vec<&str> = licenses.iter().map(|l| l["product_details"]["short_code"].as_str().expect("code")).collect();
        assert_eq!(codes, ["osuite", "otool"]);
        let pem = rsa_public_pem(&server).await;
        let public = PublicKey::from_pem(Algorithm::Rsa2048, &pem).expect("pem");
        for object in &licenses {
            assert_eq!((object["request_id"].as_str(), object["license_key"].as_str()), (Some("bundle-req-1"), Some("OB-KEY")));
            // Each license carries the single-license offline signatures.
            let mut unsigned = object.clone();
            let map = unsigned.as_object_mut().expect("object");
            map.remove("license_signature");
            let v2 = licensd_crypto::b64_decode(map.remove("license_signature_v2").expect("v2").as_str().expect("text")).expect("b64");
            public.verify(&serde_json::to_vec(&unsigned).expect("json"), &v2).expect("license_signature_v2");
        }
        // bundle_signature_v2 covers {"licenses": […]}.
        let bundle_v2 = answer.as_object_mut().expect("object").remove("bundle_signature_v2").expect("bundle signature");
        let bundle_v2 = licensd_crypto::b64_decode(bundle_v2.as_str().expect("text")).expect("b64");
        public.verify(&serde_json::to_vec(&answer).expect("json"), &bundle_v2).expect("bundle_signature_v2");
        assert_eq!(devices(&server, member).await.len(), 1);

        // The member's one seat is taken: another device is refused for the whole bundle.
        post_text(&server, &cred, "activate_bundle_offline", request_file(&cred, &inner("osuite", "OB-KEY", "ohw-2"), false))
            .await
            .error(400, "license_activated_max_times");
        assert_eq!(devices(&server, bundle).await.len(), 1);

        // An offline deactivation file naming the bundle product releases every license.
        let mut deactivation = inner("osuite", "OB-KEY", "ohw");
        deactivation["request"] = json!("deactivation");
        let done = post_text(&server, &cred, "deactivate_offline", request_file(&cred, &deactivation, false)).await;
        assert_eq!((done.status, done.text()), (StatusCode::OK, "license_deactivated".to_string()));
        for id in [bundle, member] {
            assert!(devices(&server, id).await.iter().all(|d| !d["deactivated_at"].is_null()));
        }
        post_text(&server, &cred, "deactivate_offline", request_file(&cred, &deactivation, false))
            .await
            .error(400, "device_not_found");
        let moved = post_text(&server, &cred, "activate_bundle_offline", request_file(&cred, &inner("osuite", "OB-KEY", "ohw-2"), false)).await;
        assert_eq!(moved.ok()["licenses"].as_array().map(Vec::len), Some(2));
    }

    async fn offline_uploads_and_consumption_sync(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "sync", json!({})).await;
        feature(&server, json!({"product_id": app, "code": "render", "name": "Render", "feature_type": "consumption", "max_consumptions": 5})).await;
        license(&server, json!({"product_id": app, "key": "SYNC-1", "terms": {"max_activations": 2, "license_type": "consumption",
            "consumption": {"max_consumptions": 10}}, "features": [{"code": "render"}]})).await;
        let inner = |kind: &str, extra: Value| {
            let mut inner = json!({"request": kind, "product": "sync", "hardware_id": "sync-hw", "license_key": "SYNC-1",
                "date": "Sun, 22 Nov 2026 08:30:00 GMT", "request_id": "sync-req", "schema_version": 2, "api_key": cred.api_key});
            inner.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
            inner
        };
        // The documented form upload: multipart/form-data with a `file` part.
        let upload = |endpoint: &'static str, file: String, part: &'static str| {
            let server = &server;
            async move {
                let body = format!("--b0undary\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"request.req\"\r\n\
                    Content-Type: application/octet-stream\r\n\r\n{file}\r\n--b0undary--\r\n");
                let response = server
                    .http
                    .post(server.url(&format!("/api/v4/{endpoint}")))
                    .header("content-type", "multipart/form-data; boundary=b0undary")
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                let status = response.status();
                let headers = response.headers().clone();
                let bytes = response.bytes().await.expect("body").to_vec();
                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                Reply { status, body, headers, bytes }
            }
        };
        upload("activate_offline", request_file(&cred, &inner("activation", json!({})), false), "other")
            .await
            .error(400, "missing_content");
        let activated = upload("activate_offline", request_file(&cred, &inner("activation", json!({})), false), "file").await;
        assert_eq!(activated.ok()["request_id"], json!("sync-req"));
        verify_v2(&server, &activated).await;

        // Usage recorded offline is synced through the consumption rules; a refusal changes nothing.
        let totals = || async {
            let checked = check_license(&server, &cred, "sync", "sync-hw", "SYNC-1").await;
            let features = checked.ok()["product_features"].as_array().expect("features").clone();
            (checked.body["total_consumptions"].clone(), features[0]["total_consumptions"].clone())
        };
        let deactivate = |extra: Value| upload("deactivate_offline", request_file(&cred, &inner("deactivation", extra), false), "file");
        deactivate(json!({"consumptions": 11})).await.error(400, "license_not_enough_consumptions");
        deactivate(json!({"consumptions": 1, "product_features": [{"code": "render", "consumptions": 6}]}))
            .await
            .error(400, "feature_not_enough_consumptions");
        deactivate(json!({"product_features": [{"code": "nope", "consumptions": 1}]}))
            .await
            .error(400, "invalid_license_feature_code");
        deactivate(json!({"product_features": [{"code": "render", "consumptions": "many"}]}))
            .await
            .error(400, "validation_error");
        assert_eq!(totals().await, (json!(0), json!(0)), "refused files change nothing");
        let done = deactivate(json!({"consumptions": 3, "product_features": [{"code": "render", "local_consumptions": 2}]})).await;
        assert_eq!((done.status, done.text()), (StatusCode::OK, "license_deactivated".to_string()));
        deactivate(json!({"consumptions": 3})).await.error(400, "device_not_found");
        post(&server, &cred, "activate_license", ident("sync", "sync-hw", "SYNC-1")).await.ok();
        assert_eq!(totals().await, (json!(3), json!(2)));
    }

    async fn expired_features_are_left_out_unless_asked(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "feat", json!({})).await;
        feature(&server, json!({"product_id": app, "code": "old", "name": "Old"})).await;
        feature(&server, json!({"product_id": app, "code": "new", "name": "New"})).await;
        license(&server, json!({"product_id": app, "key": "FEAT-1", "features": [
            {"code": "old", "overrides": {"expires_at": now_ms() - 1000}},
            {"code": "new", "overrides": {"expires_at": now_ms() + 86_400_000}}]})).await;
        post(&server, &cred, "activate_license", ident("feat", "hw", "FEAT-1")).await.ok();
        let codes = |reply: &Reply| -> Vec<String> {
            reply.ok()["product_features"].as_array().expect("features").iter()
                .map(|f| f["code"].as_str().expect("code").to_string()).collect()
        };
        let base = [("product", "feat"), ("hardware_id", "hw"), ("license_key", "FEAT-1")];
        assert_eq!(codes(&get(&server, &cred, "check_license", &base).await), ["new"]);
        let mut without = base.to_vec();
        without.push(("include_expired_features", "false"));
        assert_eq!(codes(&get(&server, &cred, "check_license", &without).await), ["new"]);
        let mut with = base.to_vec();
        with.push(("include_expired_features", "true"));
        let reply = get(&server, &cred, "check_license", &with).await;
        assert_eq!(codes(&reply), ["old", "new"]);
        verify_v2(&server, &reply).await;
        with.push(("include_expired_features", "maybe"));
        get(&server, &cred, "check_license", &with).await.error(400, "validation_error");
    }

    async fn cli_manages_bundles(server) {
        let suite = product(&server, "clisuite", json!({})).await.to_string();
        let tool = product(&server, "clitool", json!({})).await.to_string();
        let cli = |args: &[&str]| {
            let (code, stdout, stderr) = server.cli(args);
            assert_eq!(code, 0, "licensd {args:?}: {stdout} {stderr}");
            stdout
        };
        let added: Value = serde_json::from_str(cli(&["--json", "licensespring", "add-bundle-product", &suite, &tool]).trim()).expect("json");
        assert_eq!(added["member_product_ids"], json!([tool.parse::<i64>().expect("id")]));
        assert_eq!(cli(&["licensespring", "bundle-products", &suite]).trim(), format!("bundle {suite}: {tool}"));
        let bundle = license(&server, json!({"product_id": suite.parse::<i64>().expect("id"), "key": "CLI-SUITE"})).await.to_string();
        let member = license(&server, json!({"product_id": tool.parse::<i64>().expect("id"), "key": "CLI-TOOL"})).await.to_string();
        cli(&["licensespring", "link-bundle-license", &bundle, &member]);
        assert_eq!(cli(&["licensespring", "bundle-licenses", &bundle]).trim(), format!("bundle {bundle}: {member}"));
        let (code, _, _) = server.cli(&["licensespring", "link-bundle-license", &bundle, &member]);
        assert_ne!(code, 0, "linking twice fails");
        cli(&["licensespring", "unlink-bundle-license", &bundle, &member]);
        cli(&["licensespring", "remove-bundle-product", &suite, &tool]);
        assert_eq!(cli(&["licensespring", "bundle-products", &suite]).trim(), format!("bundle {suite}: -"));
    }

    async fn order_webhooks(server) {
        let cred = credential(&server, json!({})).await;
        let keyed = product(&server, "shop", json!({})).await;
        product(&server, "seats", json!({"auth_method": "user"})).await;
        let (status, _) = server.admin(Method::POST, "/v1/policies", Some(json!({"product_id": keyed, "code": "pro",
            "name": "Pro", "terms": {"max_activations": 3}}))).await;
        assert_eq!(status, StatusCode::CREATED);

        let keys = get(&server, &cred, "webhook/license", &[("product", "shop"), ("quantity", "3")]).await;
        let generated: Vec<String> = keys.ok()["licenses"].as_array().expect("keys").iter().filter_map(|k| k.as_str().map(str::to_string)).collect();
        assert_eq!(generated.len(), 3);
        verify_v2(&server, &keys).await;
        get(&server, &cred, "webhook/license", &[("product", "shop"), ("quantity", "10001")]).await.error(400, "quantity_too_large");

        let order = json!({"id": "ORD-1", "customer": {"email": "buyer@example.com", "first_name": "Ann", "company_name": "Acme"},
            "items": [
                {"product_code": "shop", "license_policy": "pro", "licenses": [{"key": generated[0]}, {}]},
                {"product_code": "seats", "licenses": [{"max_license_users": 2, "users": [{"email": "u1@example.com", "password": "first-password"}, {"email": "u2@example.com"}]}]}
            ]});
        let created = post(&server, &cred, "webhook/order", order.clone()).await;
        let licenses = created.ok()["licenses"].as_array().expect("licenses").clone();
        assert_eq!(licenses.len(), 3);
        assert_eq!(licenses[0]["license_key"], json!(generated[0]));
        assert!(licenses[1]["license_key"].is_string(), "a key is generated when none is given");
        assert_eq!(licenses[2]["users"], json!(["u1@example.com", "u2@example.com"]));
        // The ordered licenses work: a key activates with the policy's limit, a user logs in.
        let activated = post(&server, &cred, "activate_license", ident("shop", "hw", &generated[0])).await;
        assert_eq!(activated.ok()["max_activations"], json!(3));
        let user = post(&server, &cred, "activate_license", json!({"product": "seats", "hardware_id": "hw", "username": "u1@example.com", "password": "first-password"})).await;
        assert_eq!(user.ok()["customer"]["email"], json!("buyer@example.com"));

        // Refusals; none of them writes anything.
        let before = server.admin(Method::GET, "/v1/licenses?limit=1000", None).await.1;
        post(&server, &cred, "webhook/order", order.clone()).await.error(409, "order_id_exists");
        let reuse = json!({"id": "ORD-2", "items": [{"product_code": "shop", "licenses": [{"key": generated[0]}]}]});
        post(&server, &cred, "webhook/order", reuse).await.error(409, "license_key_exists");
        let users_on_key = json!({"id": "ORD-3", "items": [{"product_code": "shop", "licenses": [{"users": [{"email": "x@example.com"}]}]}]});
        post(&server, &cred, "webhook/order", users_on_key).await.error(400, "key_product_based_does_not_allow_users");
        let key_on_user = json!({"id": "ORD-4", "items": [{"product_code": "seats", "licenses": [{"key": "K-1"}]}]});
        post(&server, &cred, "webhook/order", key_on_user).await.error(400, "user_based_product_does_not_allow_license_key");
        let too_many = json!({"id": "ORD-5", "items": [{"product_code": "seats", "licenses": [{"max_license_users": 1, "users": [{"email": "a@example.com"}, {"email": "b@example.com"}]}]}]});
        post(&server, &cred, "webhook/order", too_many).await.error(400, "license_users_error");
        let account = json!({"id": "ORD-6", "customer_account_id": "42", "items": [{"product_code": "shop", "licenses": [{}]}]});
        post(&server, &cred, "webhook/order", account).await.error(400, "customer_account_not_found");
        let policy = json!({"id": "ORD-7", "items": [{"product_code": "shop", "license_policy": "nope", "licenses": [{}]}]});
        post(&server, &cred, "webhook/order", policy).await.error(400, "unknown_policy_code");
        let unknown = json!({"id": "ORD-8", "items": [{"product_code": "nope", "licenses": [{}]}]});
        post(&server, &cred, "webhook/order", unknown).await.error(400, "unknown_product_code");
        let after = server.admin(Method::GET, "/v1/licenses?limit=1000", None).await.1;
        assert_eq!(before, after, "refused orders create no licenses");
        // Appending to an existing order is allowed.
        let appended = json!({"id": "ORD-1", "append": true, "items": [{"product_code": "shop", "licenses": [{}]}]});
        assert_eq!(post(&server, &cred, "webhook/order", appended).await.ok()["licenses"].as_array().map(Vec::len), Some(1));
        let read_only = credential(&server, json!({"read_only": true})).await;
        post(&server, &read_only, "webhook/order", json!({"id": "ORD-9", "items": []})).await.error(400, "read_only_api_key");
    }

    async fn sdk_python_quickstart(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "quick", json!({})).await;
        version(&server, app, json!({"version": "1.0", "environment": "linux", "download_url": "https://dl.example.com/quick-1.0.tgz"})).await;
        version(&server, app, json!({"version": "1.2", "environment": "linux", "download_url": "https://dl.example.com/quick-1.2.tgz"})).await;
        version(&server, app, json!({"version": "9.0", "environment": "win64", "download_url": "https://dl.example.com/quick-9.0.exe"})).await;
        feature(&server, json!({"product_id": app, "code": "render", "name": "Render", "feature_type": "consumption", "max_consumptions": 100})).await;
        feature(&server, json!({"product_id": app, "code": "export", "name": "Export"})).await;
        let id = license(&server, json!({"product_id": app, "key": "QUICK-START-0001",
            "terms": {"license_type": "consumption", "max_activations": 2, "consumption": {"max_consumptions": 50}},
            "features": [{"code": "render"}, {"code": "export"}]})).await;
        let files = tempfile::tempdir().expect("tempdir");
        let result = run_python("quickstart", &[
            ("LS_DOMAIN", server.base.trim_start_matches("http://").to_string()),
            ("LS_API_KEY", cred.api_key.clone()),
            ("LS_SHARED_KEY", cred.shared_key.clone()),
            ("LS_PRODUCT", "quick".into()),
            ("LS_PUBLIC_KEY", rsa_public_pem(&server).await),
            ("LS_KEY", "QUICK-START-0001".into()),
            ("LS_FEATURE", "render".into()),
            ("LS_HWID", "py-device-1".into()),
            ("LS_HWID2", "py-device-2".into()),
            ("LS_FILE_PATH", files.path().display().to_string()),
        ]);
        assert_eq!(result["activate"], json!({"license_key": "QUICK-START-0001", "hardware_id": "py-device-1",
            "license_type": "consumption", "times_activated": 1, "short_code": "quick", "has_v1_signature": true}));
        assert_eq!(result["check"], json!({"license_active": true, "license_enabled": true, "is_expired": false,
            "id": id, "features": ["export", "render"]}));
        assert_eq!(result["check_feature"], json!("render"));
        assert_eq!(result["add_consumption"], json!(2));
        assert_eq!(result["add_feature_consumption"], json!(3));
        assert_ne!(result["stock_verifier"], json!("accepted"), "LicenseSpring's own key must reject our signature");
        assert_eq!(result["wrong_shared_key"], json!([401, "signature_mismatch"]));
        assert_eq!(result["unknown_license"], json!([400, "license_not_found"]));
        assert_eq!(result["unknown_feature"], json!([400, "invalid_license_feature_code"]));
        assert_eq!(result["deactivate"], json!("license_deactivated"));
        assert_eq!(result["check_after_deactivate"], json!([400, "device_not_found"]));
        assert_eq!(result["manager"], json!({"key": "QUICK-START-0001", "id_matches": true, "license_type": "consumption",
            "features": ["export", "render"], "reloaded_key": "QUICK-START-0001", "total_consumptions": 3,
            "feature_total": 4, "deactivated": true}));
        // The server agrees: every device released, counters as the SDK saw them.
        let (status, detail) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(detail["consumption_used"], json!(3));
        assert!(devices(&server, id).await.iter().all(|d| !d["deactivated_at"].is_null()));
    }
}

/// The floating scenario through the Python SDK, with a 4096-bit signing key (LicenseSpring's own
/// size), on both backends.
mod rsa4096 {
    use super::*;
    use crate::harness::Backend;

    async fn floating_with_4096_key(backend: Backend) {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(crate::harness::PgDatabase::create().await.url),
        };
        let server = Server::start_with(backend, data_dir, database_url, &[("--rsa-bits", "4096")]).await;
        let pem = rsa_public_pem(&server).await;
        assert!(
            PublicKey::from_pem(Algorithm::Rsa4096, &pem).is_ok(),
            "the active RSA key is 4096-bit"
        );
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "float", json!({})).await;
        feature(
            &server,
            json!({"product_id": app, "code": "turbo", "name": "Turbo", "floating_seats": 1}),
        )
        .await;
        license(
            &server,
            json!({"product_id": app, "key": "FLOAT-4096", "terms": {"max_activations": 5,
            "floating": {"seats": 1, "lease_seconds": 1800, "borrow_allowed": true, "max_borrow_hours": 24}},
            "features": [{"code": "turbo"}]}),
        )
        .await;
        let result = run_python(
            "floating",
            &[
                ("LS_DOMAIN", server.base.trim_start_matches("http://").to_string()),
                ("LS_API_KEY", cred.api_key.clone()),
                ("LS_SHARED_KEY", cred.shared_key.clone()),
                ("LS_PRODUCT", "float".into()),
                ("LS_PUBLIC_KEY", pem),
                ("LS_FLOATING_KEY", "FLOAT-4096".into()),
                ("LS_FLOATING_FEATURE", "turbo".into()),
                ("LS_HWID", "f-1".into()),
                ("LS_HWID2", "f-2".into()),
            ],
        );
        assert_eq!(
            result,
            json!({
                "check": {"is_floating_cloud": true, "floating_users": 1, "floating_in_use_devices": 1},
                "second_check": [400, "floating_not_available"],
                "borrowed_until_z": true,
                "release": "",
                "second_after_release": 1,
                "feature_check": 1,
                "feature_busy": [400, "floating_not_available"],
                "feature_borrow_z": true,
                "feature_release": "",
                "feature_second": 1,
            })
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_sdk_python_floating() {
        floating_with_4096_key(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_sdk_python_floating() {
        floating_with_4096_key(Backend::Postgres).await;
    }
}

/// Issue 12 (dialect fidelity).
#[path = "licensespring/fidelity.rs"]
mod fidelity;

#[path = "licensespring/expiry.rs"]
mod expiry;

#[path = "licensespring/rate_limits.rs"]
mod rate_limits;

#[path = "licensespring/trusted_proxy.rs"]
mod trusted_proxy;
