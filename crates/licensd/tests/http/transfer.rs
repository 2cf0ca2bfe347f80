//! `licensd export` / `licensd import`: a dataset made through the native API and every dialect on
//! one engine moves to a fresh database of the other; a server started on the copy with the same
//! master key answers the same client requests identically (the same stored state, the same new
//! ids) with signatures that verify against the public keys the original published. An import
//! into a database that holds data is refused and changes nothing.

use crate::harness::*;
use licensd_crypto::{Algorithm, PublicKey};
use licensd_server::dialects::keymanager::envelope::verify_envelope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

const ISV: &str = "8a3b1c2d-0000-4000-8000-000000000001";
const SLASCONE_PRODUCT: &str = "47df1df5-bbc8-4b1b-a185-58ddfb1d3271";
const DNA_PASSWORD: &str = "horse-battery-7";

/// Runs `licensd <args>` without inheriting settings from the environment; returns exit code,
/// stdout and stderr.
fn run_licensd(args: &[&OsStr], master_key: Option<&str>) -> (i32, String, String) {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env_remove("LICENSD_DATABASE_URL")
        .env_remove("LICENSD_DATA_DIR")
        .env_remove("LICENSD_CONFIG")
        .env_remove("LICENSD_MASTER_KEY");
    if let Some(key) = master_key {
        command.env("LICENSD_MASTER_KEY", key);
    }
    let output = command.output().expect("run licensd");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `--data-dir` (and `--database-url` on PostgreSQL) naming a database.
fn location(data_dir: &Path, database_url: Option<&str>) -> Vec<std::ffi::OsString> {
    let mut args = vec!["--data-dir".into(), data_dir.as_os_str().to_owned()];
    if let Some(url) = database_url {
        args.push("--database-url".into());
        args.push(url.into());
    }
    args
}

fn export(server: &Server, out: &Path) -> (i32, String, String) {
    let mut args: Vec<std::ffi::OsString> = vec!["export".into(), "--out".into(), out.as_os_str().to_owned()];
    args.extend(location(server.data_dir.path(), server.database_url.as_deref()));
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run_licensd(&args, None)
}

fn import(
    input: &Path,
    data_dir: &Path,
    database_url: Option<&str>,
    master_key: Option<&str>,
) -> (i32, String, String) {
    let mut args: Vec<std::ffi::OsString> = vec!["import".into(), "--in".into(), input.as_os_str().to_owned()];
    args.extend(location(data_dir, database_url));
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run_licensd(&args, master_key)
}

/// The credentials the dataset's dialect clients use.
struct Dataset {
    licensespring: (String, String),
    slascone: String,
    keymanager: String,
    dna: (String, String),
}

async fn created(server: &Server, path: &str, body: Value) -> Value {
    let (status, created) = server.admin(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {created}");
    created
}

async fn credential(server: &Server, body: Value) -> (String, String) {
    let created = created(server, "/v1/credentials", body).await;
    (
        created["credential"]["key_id"].as_str().expect("key id").to_owned(),
        created["secret"].as_str().expect("secret").to_owned(),
    )
}

async fn native_activate(server: &Server, key: &str, fingerprint: &str) -> (StatusCode, Value) {
    let (status, body, _, _) = server
        .client_post(
            "/v1/licenses/actions/activate",
            json!({"key": key, "fingerprint": fingerprint, "hostname": format!("{fingerprint}.example")}),
        )
        .await;
    (status, body)
}

/// A dataset made only through the public APIs: native licences with devices and a denial,
/// a LicenseSpring activation, a SLASCONE activation (a sealed token key), a Key Manager key and
/// activation, a DNA licence with its password and an activation, and the events of all that.
async fn seed(server: &Server) -> Dataset {
    let native = server.product("NATIVE").await;
    server
        .license(native, "NATIVE-KEY-1", json!({"max_activations": 3}))
        .await;
    for fingerprint in ["fp-1", "fp-2"] {
        let (status, body) = native_activate(server, "NATIVE-KEY-1", fingerprint).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // A deleted licence: the copy must not hand its id out again either.
    let gone = server
        .license(native, "NATIVE-GONE", json!({"max_activations": 1}))
        .await;
    let (status, body) = server
        .admin(Method::DELETE, &format!("/v1/licenses/{gone}"), None)
        .await;
    assert!(status.is_success(), "{status} {body}");

    let ls_product = server.product("lsapp").await;
    server
        .license(ls_product, "LS-KEY-1", json!({"max_activations": 2}))
        .await;
    let licensespring = credential(server, json!({"dialect": "licensespring", "name": "ls app"})).await;
    let reply = licensespring_call(
        server,
        &licensespring,
        Method::POST,
        "/api/v4/activate_license",
        Some(json!({"product": "lsapp", "hardware_id": "hw-1", "license_key": "LS-KEY-1"})),
    )
    .await;
    assert_eq!(reply.0, StatusCode::OK, "{}", reply.1);

    let sc_product = created(
        server,
        "/v1/products",
        json!({"code": SLASCONE_PRODUCT, "name": "BI Server"}),
    )
    .await;
    let sc_product = sc_product["id"].as_i64().expect("id");
    server
        .license(sc_product, "SC-KEY-1", json!({"max_activations": 2}))
        .await;
    let (key_id, secret) = credential(
        server,
        json!({"dialect": "slascone", "name": "sc app", "product_id": sc_product}),
    )
    .await;
    let slascone = format!("{key_id}.{secret}");
    let (status, body, _) = slascone_activate(server, &slascone).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["token_key"].is_string(), "{body}");

    let km_product = server.product("kmapp").await;
    created(
        server,
        "/v1/licenses",
        json!({"product_id": km_product, "key": "KM-KEY-1", "assignment": "assigned", "terms": {"max_activations": 2}}),
    )
    .await;
    let km = created(server, "/v1/keymanager/api-keys", json!({"name": "km app"})).await;
    let keymanager = km["api_key"].as_str().expect("api key").to_owned();
    let (status, text) = keymanager_call(server, &keymanager, "activate", "host-1").await;
    assert_eq!(status, StatusCode::OK, "{text}");

    let dna_product = server.product("DNAAPP").await;
    let dna_license = created(
        server,
        "/v1/licenses",
        json!({"product_id": dna_product, "key": "DNA-KEY-1", "assignment": "assigned", "terms": {"max_activations": 2}}),
    )
    .await;
    let (status, body) = server
        .admin(
            Method::PUT,
            &format!("/v1/dna/licenses/{}/password", dna_license["id"]),
            Some(json!({"password": DNA_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = native_activate(server, "DNA-KEY-1", "machine-1").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let dna = credential(server, json!({"dialect": "dna", "name": "portal"})).await;

    Dataset {
        licensespring,
        slascone,
        keymanager,
        dna,
    }
}

/// A LicenseSpring request signed as the SDKs sign it (HMAC-SHA256 of the date header).
async fn licensespring_call(
    server: &Server,
    (api_key, shared_key): &(String, String),
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let signature = licensd_crypto::b64(&licensd_crypto::hmac_sha256(
        shared_key.as_bytes(),
        format!("licenseSpring\ndate: {date}").as_bytes(),
    ));
    let mut request = server
        .http
        .request(method, server.url(path))
        .header("date", &date)
        .header(
            "authorization",
            format!("algorithm=\"hmac-sha256\",headers=\"date\",signature=\"{signature}\",apiKey=\"{api_key}\""),
        );
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn slascone_activate(server: &Server, key: &str) -> (StatusCode, Value, (Vec<u8>, String)) {
    let response = server
        .http
        .post(server.url(&format!("/api/v2/isv/{ISV}/provisioning/activations")))
        .header("ProvisioningKey", key)
        .json(&json!({"product_id": SLASCONE_PRODUCT, "license_key": "SC-KEY-1", "client_id": "DEVICE-A"}))
        .send()
        .await
        .expect("request");
    let status = response.status();
    let signature = response
        .headers()
        .get("x-slascone-signature")
        .and_then(|v| v.to_str().ok())
        .expect("x-slascone-signature")
        .to_owned();
    let bytes = response.bytes().await.expect("body").to_vec();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        (bytes, signature),
    )
}

/// `application/x-www-form-urlencoded` text of `fields`.
fn form(fields: &[(&str, &str)]) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn keymanager_call(server: &Server, api_key: &str, action: &str, identifier: &str) -> (StatusCode, String) {
    let response = server
        .http
        .post(server.url(&format!("/api/v1/{action}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("api_key", api_key),
            ("license_key", "KM-KEY-1"),
            ("identifier", identifier),
        ]))
        .send()
        .await
        .expect("request");
    (response.status(), response.text().await.expect("body"))
}

/// The public keys a server publishes.
async fn published_keys(server: &Server) -> Value {
    let (status, keys) = server.admin(Method::GET, "/v1/signing-keys", None).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    keys
}

fn public_key(keys: &Value, pick: impl Fn(&Value) -> bool) -> PublicKey {
    let key = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| pick(k))
        .unwrap_or_else(|| panic!("no such key in {keys}"));
    let algorithm = match key["algorithm"].as_str().expect("algorithm") {
        "Ed25519" => Algorithm::Ed25519,
        "RSA-4096" | "RS4096" => Algorithm::Rsa4096,
        _ => Algorithm::Rsa2048,
    };
    PublicKey::from_pem(algorithm, key["pem"].as_str().expect("pem")).expect("pem parses")
}

fn active_rsa(keys: &Value) -> PublicKey {
    public_key(keys, |k| {
        k["active"] == true && k["algorithm"].as_str().is_some_and(|a| a.starts_with("RS"))
    })
}

/// What a client may legitimately see change between two moments: clocks and echoes of them.
fn stable(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| {
                    let key = key.to_ascii_lowercase();
                    !(key.ends_with("_at")
                        || key.contains("timestamp")
                        || key.contains("server_time")
                        || matches!(key.as_str(), "at" | "now" | "date" | "last_check" | "last_seen"))
                })
                .map(|(key, value)| (key.clone(), stable(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(stable).collect()),
        other => other.clone(),
    }
}

/// The same client requests against either server; every signature checked against `keys`
/// (the keys the original server published before the move). Returns (what, status, answer).
async fn probe(server: &Server, data: &Dataset, keys: &Value) -> Vec<(&'static str, u16, Value)> {
    let mut answers = Vec::new();

    // Native: a validation (Ed25519-signed), a new activation (its device id comes from the id
    // counter), and the limit's denial.
    let (status, body, headers, bytes) = server
        .client_post(
            "/v1/licenses/actions/validate",
            json!({"key": "NATIVE-KEY-1", "fingerprint": "fp-1", "nonce": "nonce-1"}),
        )
        .await;
    let kid = headers
        .get("x-licensd-key-id")
        .and_then(|v| v.to_str().ok())
        .expect("key id")
        .to_owned();
    let signature = headers
        .get("x-licensd-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signature");
    public_key(keys, |k| k["kid"] == kid.as_str())
        .verify(&bytes, &licensd_crypto::b64_decode(signature).expect("base64"))
        .expect("native signature verifies with the original key");
    answers.push(("native validate", status.as_u16(), body));
    let (status, body) = native_activate(server, "NATIVE-KEY-1", "fp-3").await;
    answers.push(("native activate", status.as_u16(), body));
    let (status, body) = native_activate(server, "NATIVE-KEY-1", "fp-4").await;
    answers.push(("native activate over the limit", status.as_u16(), body));

    // LicenseSpring.
    let (status, body) = licensespring_call(
        server,
        &data.licensespring,
        Method::GET,
        "/api/v4/check_license?product=lsapp&hardware_id=hw-1&license_key=LS-KEY-1",
        None,
    )
    .await;
    answers.push(("licensespring check_license", status.as_u16(), body));
    let (status, body) = licensespring_call(
        server,
        &data.licensespring,
        Method::POST,
        "/api/v4/activate_license",
        Some(json!({"product": "lsapp", "hardware_id": "hw-2", "license_key": "LS-KEY-1"})),
    )
    .await;
    answers.push(("licensespring activate", status.as_u16(), body));

    // SLASCONE: activating again hands back the same (sealed) token key.
    let (status, body, (bytes, signature)) = slascone_activate(server, &data.slascone).await;
    active_rsa(keys)
        .verify(&bytes, &licensd_crypto::b64_decode(&signature).expect("base64"))
        .expect("SLASCONE signature verifies with the original key");
    answers.push(("slascone activate again", status.as_u16(), body));

    // Key Manager: verify and a second activation, in signed envelopes.
    for (what, action, identifier) in [
        ("keymanager verify", "verify", "host-1"),
        ("keymanager activate", "activate", "host-2"),
    ] {
        let (status, text) = keymanager_call(server, &data.keymanager, action, identifier).await;
        let envelope: Value = serde_json::from_str(&text).expect("envelope");
        let decoded = verify_envelope(
            &active_rsa(keys),
            envelope["response_base64"].as_str().expect("response_base64"),
            envelope["signature"].as_str().expect("signature"),
        )
        .expect("Key Manager envelope verifies with the original key");
        answers.push((what, status.as_u16(), decoded));
    }

    // DNA: the licence password (an argon2id hash) still opens the licence.
    let response = server
        .http
        .post(server.url("/dna/v1/Licenses/DNAAPP/DNA-KEY-1"))
        .basic_auth(&data.dna.0, Some(&data.dna.1))
        .json(&json!({"LicensePassword": DNA_PASSWORD, "UserIp": "198.51.100.7"}))
        .send()
        .await
        .expect("request");
    let status = response.status();
    answers.push((
        "dna licence",
        status.as_u16(),
        response.json().await.unwrap_or(Value::Null),
    ));
    answers
}

/// Everything the management API shows, which must be identical right after the move.
async fn admin_views(server: &Server) -> Vec<(String, Value)> {
    let mut views = Vec::new();
    for path in [
        "/v1/products",
        "/v1/licenses?limit=100",
        "/v1/events?limit=500",
        "/v1/credentials",
        "/v1/signing-keys",
        "/v1/licenses/1/devices",
        "/v1/keymanager/api-keys",
    ] {
        let (status, body) = server.admin(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        views.push((path.to_owned(), body));
    }
    views
}

async fn moves_with_identical_answers(from: Backend, to: Backend) {
    let master = licensd_crypto::MasterKey::generate().expect("master key").to_base64();
    let env = [("LICENSD_MASTER_KEY", master.as_str())];
    let source = Server::start_fresh_with(from, &env).await;
    let data = seed(&source).await;
    let keys = published_keys(&source).await;
    let before = admin_views(&source).await;

    let work = tempfile::tempdir().expect("temp dir");
    let file = work.path().join("licensd-export.jsonl");
    let (code, stdout, stderr) = export(&source, &file);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("exported"), "{stdout}");
    assert!(stdout.contains("master key"), "{stdout}");
    let text = std::fs::read_to_string(&file).expect("export file");
    let header: Value = serde_json::from_str(text.lines().next().expect("header")).expect("header JSON");
    assert_eq!(header["format"], "licensd-export");
    assert_eq!(header["format_version"], 1);
    assert!(header["schema_version"].as_i64().is_some_and(|v| v > 0), "{header}");
    assert!(text.lines().last().is_some_and(|l| l.starts_with("{\"end\"")));

    let target_dir = tempfile::tempdir().expect("temp dir");
    let target_url = match to {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await.url),
    };
    let (code, stdout, stderr) = import(&file, target_dir.path(), target_url.as_deref(), Some(&master));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("imported"), "{stdout}");
    let target = Server::start_with(to, target_dir, target_url, &env).await;

    // The same state, and the same public keys.
    assert_eq!(published_keys(&target).await, keys);
    let after = admin_views(&target).await;
    for ((path, original), (_, copy)) in before.iter().zip(&after) {
        assert_eq!(copy, original, "{path} differs after the move");
    }

    // The same answers to the same requests (the original keeps running beside the copy).
    let original = probe(&source, &data, &keys).await;
    let copy = probe(&target, &data, &keys).await;
    for ((what, status, body), (_, copy_status, copy_body)) in original.iter().zip(&copy) {
        assert_eq!(copy_status, status, "{what}: {copy_body} vs {body}");
        assert_eq!(
            stable(copy_body),
            stable(body),
            "{what} answers differently after the move"
        );
    }
    let codes: Vec<u16> = original.iter().map(|(_, status, _)| *status).collect();
    assert_eq!(codes, [200, 201, 422, 200, 200, 200, 200, 200, 200], "{original:?}");
    // Both went on identically: the same rows and new ids on each side (only clocks differ).
    let (original, copy) = (admin_views(&source).await, admin_views(&target).await);
    for ((path, original), (_, copy)) in original.iter().zip(&copy) {
        assert_eq!(stable(copy), stable(original), "{path} differs after the same requests");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_to_postgres_every_answer_identical() {
    moves_with_identical_answers(Backend::Sqlite, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_to_sqlite_every_answer_identical() {
    moves_with_identical_answers(Backend::Postgres, Backend::Sqlite).await;
}

backend_tests! {
    async fn import_into_a_database_with_data_is_refused_and_changes_nothing(server) {
        let product = server.product("KEEP").await;
        server.license(product, "KEEP-1", json!({"max_activations": 1})).await;
        let work = tempfile::tempdir().expect("temp dir");
        let file = work.path().join("export.jsonl");
        let (code, stdout, stderr) = export(&server, &file);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        // An export never overwrites.
        let size = std::fs::metadata(&file).expect("export").len();
        let (code, _, stderr) = export(&server, &file);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("already exists"), "{stderr}");
        assert_eq!(std::fs::metadata(&file).expect("export").len(), size);

        let before = admin_views(&server).await;
        let (code, stdout, stderr) = import(&file, server.data_dir.path(), server.database_url.as_deref(), None);
        assert_eq!(code, 1, "{stdout}\n{stderr}");
        assert!(stderr.contains("not empty"), "{stderr}");
        assert!(stderr.contains("nothing was changed"), "{stderr}");
        assert_eq!(admin_views(&server).await, before, "a refused import changed the database");
    }
}
