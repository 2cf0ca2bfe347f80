//! The server's life: health, first start, restarts, key rotation, secrets at rest, migrations,
//! configuration and the event log.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN_LINE_PREFIX: &str = "licensd: first start; admin token (shown once, store it now): ";

/// Every `LICENSD_*` setting `serve` reads, cleared so the caller's environment cannot leak in.
const SETTINGS_ENV: &[&str] = &[
    "LICENSD_CONFIG",
    "LICENSD_LISTEN",
    "LICENSD_DATA_DIR",
    "LICENSD_DATABASE_URL",
    "LICENSD_MASTER_KEY_FILE",
    "LICENSD_MASTER_KEY",
    "LICENSD_RSA_BITS",
    "LICENSD_MAX_CONNECTIONS",
    "LICENSD_MAX_BULK_LICENSES",
    "LICENSD_ADMIN_TOKEN",
    "LICENSD_LOG",
];

/// `licensd <args>` with a clean environment plus `env`.
fn licensd(args: &[String], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary());
    command.args(args);
    for var in SETTINGS_ENV {
        command.env_remove(var);
    }
    command.env("LICENSD_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("UTF-8 temp path").to_string()
}

/// `serve` arguments for a data dir and, on PostgreSQL, a database.
fn serve_args(data_dir: &Path, database_url: Option<&str>) -> Vec<String> {
    let mut args = strings(&["serve", "--listen", "127.0.0.1:0", "--data-dir"]);
    args.push(path_str(data_dir));
    if let Some(url) = database_url {
        args.extend(strings(&["--database-url", url, "--max-connections", "8"]));
    }
    args
}

async fn scratch_database(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await.url),
    }
}

/// A `licensd serve` this file started itself, keeping every stdout line; killed when dropped.
struct Spawned {
    child: Child,
    base: String,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Spawned {
    /// Starts the command and waits for its "listening on" line.
    fn start(mut command: Command) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = command.spawn().expect("spawn licensd");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let collected = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let address = line.strip_prefix("licensd: listening on ").map(str::to_string);
                collected.lock().expect("stdout lines").push(line);
                if let Some(address) = address {
                    let _ = sender.send(address);
                }
            }
        });
        match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Spawned {
                child,
                base,
                stdout: lines,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "licensd did not report a listening address within 60 s; stdout: {:?}",
                    lines.lock().expect("stdout lines")
                );
            }
        }
    }

    /// The stdout lines so far (all lines printed before "listening on" are included).
    fn lines(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout lines").clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command that must exit on its own (within 60 s); returns exit code, stdout, stderr.
fn run_to_exit(mut command: Command) -> (i32, String, String) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn licensd");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for licensd") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "licensd did not exit within 60 s; stdout: {:?}; stderr: {:?}",
                out.join(),
                err.join()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().expect("stdout reader"), err.join().expect("stderr reader"));
    (status.code().unwrap_or(-1), out, err)
}

async fn get_status(http: &reqwest::Client, url: String, token: &str) -> StatusCode {
    http.get(url).bearer_auth(token).send().await.expect("request").status()
}

async fn signing_keys(server: &Server) -> Vec<Value> {
    let response = server
        .http
        .get(server.url("/v1/signing-keys"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("keys json");
    body["keys"].as_array().expect("keys array").clone()
}

fn kid(key: &Value) -> String {
    key["kid"].as_str().expect("kid").to_string()
}

/// Kids of the active keys of one algorithm.
fn active(keys: &[Value], algorithm: &str) -> Vec<String> {
    keys.iter()
        .filter(|k| k["algorithm"] == algorithm && k["active"] == json!(true))
        .map(kid)
        .collect()
}

/// One active RSA-2048 and one active Ed25519 key, each published as PEM and JWK.
fn assert_key_set(keys: &[Value]) {
    assert_eq!(active(keys, "RSA-2048").len(), 1, "{keys:?}");
    assert_eq!(active(keys, "Ed25519").len(), 1, "{keys:?}");
    assert_eq!(
        keys.iter().filter(|k| k["active"] == json!(true)).count(),
        2,
        "{keys:?}"
    );
    for key in keys {
        let pem = key["pem"].as_str().expect("pem");
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
        assert!(pem.trim_end().ends_with("-----END PUBLIC KEY-----"), "{pem}");
        let jwk = &key["jwk"];
        assert_eq!(jwk["kid"], key["kid"], "{key}");
        match key["algorithm"].as_str() {
            Some("RSA-2048") => {
                assert_eq!(jwk["kty"], "RSA", "{key}");
                assert_eq!(jwk["e"], "AQAB", "{key}");
                assert!(jwk["n"].as_str().is_some_and(|n| !n.is_empty()), "{key}");
            }
            Some("Ed25519") => {
                assert_eq!(jwk["kty"], "OKP", "{key}");
                assert_eq!(jwk["crv"], "Ed25519", "{key}");
                assert!(jwk["x"].as_str().is_some_and(|x| !x.is_empty()), "{key}");
            }
            other => panic!("unexpected algorithm {other:?}: {key}"),
        }
    }
}

/// The whole event log after `after`, following the cursor.
async fn events_after(server: &Server, mut after: i64) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let (status, page) = server
            .admin(Method::GET, &format!("/v1/events?after={after}&limit=1000"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        events.extend(page["data"].as_array().expect("events").iter().cloned());
        match page["next_after"].as_i64() {
            Some(next) => after = next,
            None => return events,
        }
    }
}

fn event_id(event: &Value) -> i64 {
    event["id"].as_i64().expect("event id")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

backend_tests! {
    async fn health_and_readiness_answer(server) {
        let response = server.http.get(server.url("/healthz")).send().await.expect("healthz");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.expect("json"), json!({"status": "ok"}));
        let response = server.http.get(server.url("/readyz")).send().await.expect("readyz");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.expect("json"),
            json!({"status": "ready"})
        );
        // The root answers too: vendor SDKs probe it to decide whether they are online.
        let response = server.http.get(server.url("/")).send().await.expect("root");
        assert_eq!(response.status(), StatusCode::OK);
        let root = response.json::<Value>().await.expect("json");
        assert_eq!(root["name"], "licensd");
        assert_eq!(root["openapi"], "/v1/openapi.json");
    }

    async fn restart_keeps_the_signing_keys(server) {
        let before = signing_keys(&server).await;
        assert_key_set(&before);
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[]).await;
        let after = signing_keys(&server).await;
        assert_key_set(&after);
        assert_eq!(
            before.iter().map(kid).collect::<BTreeSet<_>>(),
            after.iter().map(kid).collect::<BTreeSet<_>>()
        );
        assert_eq!(active(&before, "Ed25519"), active(&after, "Ed25519"));
        assert_eq!(active(&before, "RSA-2048"), active(&after, "RSA-2048"));
        for key in &before {
            let same = after.iter().find(|k| k["kid"] == key["kid"]).expect("kid still listed");
            assert_eq!(same["pem"], key["pem"], "public key of {} changed", key["kid"]);
        }
    }

    async fn rotation_retires_the_old_ed25519_key_and_signs_with_the_new(server) {
        let before = signing_keys(&server).await;
        let old_ed = active(&before, "Ed25519").pop().expect("active Ed25519 key");
        let old_rsa = active(&before, "RSA-2048");

        let (status, body) = server
            .admin(
                Method::POST,
                "/v1/signing-keys/rotate",
                Some(json!({"algorithm": "Ed25519"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let rotated = body["keys"].as_array().expect("keys").clone();
        assert_key_set(&rotated);
        let new_ed = active(&rotated, "Ed25519").pop().expect("new active Ed25519 key");
        assert_ne!(new_ed, old_ed);
        assert_eq!(
            active(&rotated, "RSA-2048"),
            old_rsa,
            "rotating Ed25519 leaves RSA alone"
        );
        let old = rotated
            .iter()
            .find(|k| k["kid"] == old_ed.as_str())
            .expect("the old key stays listed");
        assert_eq!(old["active"], json!(false), "{old}");
        assert!(old["retired_at"].as_i64().is_some(), "{old}");
        assert_eq!(signing_keys(&server).await, rotated);

        let product = server.product("rotate").await;
        server
            .license(product, "ROTATE-KEY-0001", json!({"max_activations": 1}))
            .await;
        let (status, _, headers, bytes) = server
            .client_post("/v1/licenses/actions/validate", json!({"key": "ROTATE-KEY-0001"}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers.get("x-licensd-key-id").and_then(|v| v.to_str().ok()),
            Some(new_ed.as_str())
        );
        verify_signature(&server, &headers, &bytes).await;

        // The rotation is durable.
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[]).await;
        let keys = signing_keys(&server).await;
        assert_eq!(active(&keys, "Ed25519"), vec![new_ed.clone()]);
        assert!(
            keys.iter()
                .any(|k| k["kid"] == old_ed.as_str() && k["active"] == json!(false))
        );
        let (status, _, headers, bytes) = server
            .client_post(
                "/v1/licenses/actions/activate",
                json!({"key": "ROTATE-KEY-0001", "fingerprint": "after-restart"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(
            headers.get("x-licensd-key-id").and_then(|v| v.to_str().ok()),
            Some(new_ed.as_str())
        );
        verify_signature(&server, &headers, &bytes).await;
    }

    async fn every_state_change_is_in_the_event_log(server) {
        let last = events_after(&server, 0).await.last().map(event_id).unwrap_or(0);
        let product = server.product("events").await;
        let license = server
            .license(product, "EVENTS-KEY-0001", json!({"max_activations": 1}))
            .await;
        let (status, body, _, _) = server
            .client_post(
                "/v1/licenses/actions/activate",
                json!({"key": "EVENTS-KEY-0001", "fingerprint": "first"}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::CREATED, Some("ACTIVATED")),
            "{body}"
        );

        let events = events_after(&server, last).await;
        let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().expect("action")).collect();
        assert_eq!(
            actions,
            ["product.created", "license.created", "license.activated"],
            "{events:?}"
        );
        let ids: Vec<i64> = events.iter().map(event_id).collect();
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "ids not increasing: {ids:?}"
        );
        assert_eq!(events[0]["subject_id"], json!(product));
        assert_eq!(events[1]["subject_id"], json!(license));

        // A refused activation changes nothing, so it logs nothing.
        let count = events_after(&server, 0).await.len();
        let (status, body, _, _) = server
            .client_post(
                "/v1/licenses/actions/activate",
                json!({"key": "EVENTS-KEY-0001", "fingerprint": "second"}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("ACTIVATION_LIMIT_REACHED")),
            "{body}"
        );
        let after = events_after(&server, 0).await;
        assert_eq!(after.len(), count, "a denied activation was logged: {:?}", after.last());
        assert_eq!(after.last().map(event_id), ids.last().copied());
    }
}

/// Like `backend_tests!`, for tests that start (or do not start) the server themselves.
macro_rules! per_backend {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $backend = crate::harness::Backend::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $backend = crate::harness::Backend::Postgres;
                    $body
                }
            )*
        }
    };
}

mod boot {
    use super::*;

    per_backend! {
        async fn first_start_prints_one_admin_token_and_later_starts_none(backend) {
            let data_dir = tempfile::tempdir().expect("temp dir");
            let database_url = scratch_database(backend).await;
            let args = serve_args(data_dir.path(), database_url.as_deref());
            let http = reqwest::Client::new();

            let first = Spawned::start(licensd(&args, &[]));
            let lines = first.lines();
            let token_lines: Vec<&String> = lines.iter().filter(|l| l.contains("admin token")).collect();
            assert_eq!(token_lines.len(), 1, "stdout: {lines:?}");
            let token = token_lines[0]
                .strip_prefix(TOKEN_LINE_PREFIX)
                .unwrap_or_else(|| panic!("unexpected token line: {:?}", token_lines[0]))
                .to_string();
            assert!(
                token.starts_with("lsd_") && token.len() > 20 && !token.contains(char::is_whitespace),
                "token {token:?}"
            );
            assert_eq!(
                lines.iter().filter(|l| l.contains(&token)).count(),
                1,
                "the token is shown once: {lines:?}"
            );
            assert_eq!(
                get_status(&http, first.url("/v1/products"), &token).await,
                StatusCode::OK
            );
            assert_eq!(
                get_status(&http, first.url("/v1/products"), "lsd_not-the-token-0123456789").await,
                StatusCode::UNAUTHORIZED
            );
            first.stop();

            let second = Spawned::start(licensd(&args, &[]));
            let lines = second.lines();
            assert!(
                !lines.iter().any(|l| l.contains("admin token") || l.contains("lsd_")),
                "second start printed a token: {lines:?}"
            );
            assert_eq!(
                get_status(&http, second.url("/v1/products"), &token).await,
                StatusCode::OK
            );
            second.stop();
        }

        async fn migrate_is_idempotent(backend) {
            let data_dir = tempfile::tempdir().expect("temp dir");
            let database_url = scratch_database(backend).await;
            let mut args = strings(&["migrate", "--data-dir"]);
            args.push(path_str(data_dir.path()));
            if let Some(url) = &database_url {
                args.extend(strings(&["--database-url", url]));
            }
            for run in 1..=2 {
                let (code, stdout, stderr) = run_to_exit(licensd(&args, &[]));
                assert_eq!(code, 0, "run {run}: stdout {stdout:?} stderr {stderr:?}");
                assert_eq!(
                    stdout.trim_end(),
                    "licensd: database is up to date",
                    "run {run}: stderr {stderr:?}"
                );
            }
            if backend == Backend::Sqlite {
                assert!(data_dir.path().join("licensd.db").is_file());
            }
            // A server starts on the migrated database.
            let server = Spawned::start(licensd(
                &serve_args(data_dir.path(), database_url.as_deref()),
                &[("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)],
            ));
            assert_eq!(
                get_status(&reqwest::Client::new(), server.url("/v1/products"), ADMIN_TOKEN).await,
                StatusCode::OK
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_not_stored_in_plain_text_sqlite() {
    let server = Server::start(Backend::Sqlite).await;
    let product = server.product("plaintext-visible-product").await;
    server
        .license(product, "SECRET-KEY-1234567890", json!({"max_activations": 2}))
        .await;
    let (status, created) = server
        .admin(
            Method::POST,
            "/v1/credentials",
            Some(json!({"dialect": "native", "name": "at-rest"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("credential secret").to_string();
    assert!(secret.len() >= 16, "{secret}");
    let (status, body, _, _) = server
        .client_post(
            "/v1/licenses/actions/activate",
            json!({"key": "SECRET-KEY-1234567890", "fingerprint": "at-rest-device"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let dir = server.data_dir.path();
    let mut bytes = std::fs::read(dir.join("licensd.db")).expect("read licensd.db");
    if let Ok(wal) = std::fs::read(dir.join("licensd.db-wal")) {
        bytes.extend(wal);
    }
    // The search works: plain data is found.
    assert!(
        contains(&bytes, "plaintext-visible-product"),
        "the product code is not in the database files; is this the right file?"
    );
    for (what, needle) in [
        ("license key", "SECRET-KEY-1234567890"),
        ("admin token", ADMIN_TOKEN),
        ("credential secret", secret.as_str()),
    ] {
        assert!(!contains(&bytes, needle), "the {what} is stored in plain text");
    }

    let master = dir.join("master.key");
    let metadata = std::fs::metadata(&master).expect("master.key exists");
    assert!(metadata.is_file());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600, "master.key mode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_supplies_settings_and_flags_and_env_override_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (from_file, from_env, from_flag) = (
        dir.path().join("from-file"),
        dir.path().join("from-env"),
        dir.path().join("from-flag"),
    );
    let config = dir.path().join("licensd.toml");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n", path_str(&from_file)),
    )
    .expect("write config");
    let config_args = vec!["serve".to_string(), "--config".to_string(), path_str(&config)];
    let http = reqwest::Client::new();

    let server = Spawned::start(licensd(&config_args, &[("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)]));
    assert!(
        server.base.starts_with("http://127.0.0.1:") && !server.base.ends_with(":0"),
        "{}",
        server.base
    );
    assert_eq!(
        get_status(&http, server.url("/v1/products"), ADMIN_TOKEN).await,
        StatusCode::OK
    );
    assert!(
        from_file.join("licensd.db").is_file(),
        "data_dir from the config file is not used"
    );
    assert!(from_file.join("master.key").is_file());
    server.stop();

    // Environment beats the file.
    let server = Spawned::start(licensd(
        &config_args,
        &[
            ("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN),
            ("LICENSD_DATA_DIR", &path_str(&from_env)),
        ],
    ));
    assert_eq!(
        get_status(&http, server.url("/healthz"), ADMIN_TOKEN).await,
        StatusCode::OK
    );
    assert!(
        from_env.join("licensd.db").is_file(),
        "LICENSD_DATA_DIR does not override the config file"
    );
    server.stop();

    // A flag beats both.
    let mut args = config_args.clone();
    args.extend(["--data-dir".to_string(), path_str(&from_flag)]);
    let server = Spawned::start(licensd(
        &args,
        &[
            ("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN),
            ("LICENSD_DATA_DIR", &path_str(&from_env)),
        ],
    ));
    assert_eq!(
        get_status(&http, server.url("/healthz"), ADMIN_TOKEN).await,
        StatusCode::OK
    );
    assert!(
        from_flag.join("licensd.db").is_file(),
        "--data-dir does not override env and config file"
    );
    server.stop();
}

#[test]
fn unknown_config_key_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\nbogus_setting = 1\n",
            path_str(&dir.path().join("data"))
        ),
    )
    .expect("write config");
    let (code, stdout, stderr) = run_to_exit(licensd(
        &["serve".to_string(), "--config".to_string(), path_str(&config)],
        &[("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)],
    ));
    assert_ne!(code, 0, "stdout {stdout:?}");
    assert!(
        stderr.contains(&path_str(&config)),
        "the message does not name the file: {stderr:?}"
    );
    assert!(
        stderr.contains("bogus_setting"),
        "the message does not name the key: {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
}

#[test]
fn rsa_bits_1024_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = serve_args(dir.path(), None);
    args.extend(strings(&["--rsa-bits", "1024"]));
    let (code, stdout, stderr) = run_to_exit(licensd(&args, &[("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)]));
    assert_ne!(code, 0, "stdout {stdout:?}");
    assert!(stderr.contains("1024"), "{stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
}

#[test]
fn unsupported_database_url_is_refused_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = run_to_exit(licensd(
        &serve_args(dir.path(), Some("mysql://x")),
        &[("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)],
    ));
    assert_eq!(code, 1, "stdout {stdout:?} stderr {stderr:?}");
    assert!(stderr.starts_with("licensd: "), "{stderr:?}");
    assert!(
        stderr.contains("database"),
        "the message does not say what is wrong: {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
    // A refused start leaves nothing behind: no master key that belongs to no database.
    assert!(
        !dir.path().join("master.key").exists(),
        "a master key was written for a refused start"
    );
}
