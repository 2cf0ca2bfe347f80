//! Starts `licensd serve` on a free port with a fresh database and talks to it.

#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// The SLASCONE ISV id every test server answers to (`LICENSD_SLASCONE_ISV_ID`); a test that wants
/// the generated one passes `("!LICENSD_SLASCONE_ISV_ID", "")` in `extra`.
pub const SLASCONE_ISV: &str = "8a3b1c2d-0000-4000-8000-000000000001";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend: `sqlite::name` and `postgres::name`.
macro_rules! backend_tests {
    ($(async fn $name:ident($server:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let $server = crate::harness::Server::start(crate::harness::Backend::Sqlite).await;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let $server = crate::harness::Server::start(crate::harness::Backend::Postgres).await;
                    $body
                }
            )*
        }
    };
}
pub(crate) use backend_tests;

/// A scratch PostgreSQL database, created from `LICENSD_TEST_PG_URL`.
pub struct PgDatabase {
    pub url: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl PgDatabase {
    pub async fn create() -> Self {
        let admin_url = match std::env::var("LICENSD_TEST_PG_URL") {
            Ok(url) => url,
            Err(_) => {
                panic!("LICENSD_TEST_PG_URL is not set: run the suite with scripts/test, which starts PostgreSQL")
            }
        };
        let name = format!(
            "licensd_http_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to LICENSD_TEST_PG_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base.to_string())
            .expect("database URL has a path");
        Self {
            url: format!("{base}/{name}"),
        }
    }
}

/// A running `licensd serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub backend: Backend,
    pub data_dir: tempfile::TempDir,
    pub database_url: Option<String>,
    pub http: reqwest::Client,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_licensd")
}

impl Server {
    pub async fn start(backend: Backend) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await.url),
        };
        Self::start_with(backend, data_dir, database_url, &[]).await
    }

    /// Starts with extra `serve` arguments and environment, reusing a data dir and database
    /// (`("--flag", value)` adds a flag, `("NAME", value)` sets a variable, `("!NAME", _)` removes one).
    pub async fn start_with(
        backend: Backend,
        data_dir: tempfile::TempDir,
        database_url: Option<String>,
        extra: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir.path())
            .env("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("LICENSD_LOG", "warn")
            // Tests receive webhooks on 127.0.0.1 (hardening::webhooks turns this off again).
            .env("LICENSD_ALLOW_PRIVATE_WEBHOOKS", "true")
            .env("LICENSD_SLASCONE_ISV_ID", SLASCONE_ISV)
            .env_remove("LICENSD_DATABASE_URL")
            .env_remove("LICENSD_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &database_url {
            command
                .arg("--database-url")
                .arg(url)
                .arg("--max-connections")
                .arg("32");
        }
        for (key, value) in extra {
            if key.starts_with("--") {
                command.arg(key).arg(value);
            } else if let Some(name) = key.strip_prefix('!') {
                // `!NAME` removes a variable the harness sets by default.
                command.env_remove(name);
            } else {
                command.env(key, value);
            }
        }
        let mut child = command.spawn().expect("spawn licensd");
        let stdout = child.stdout.take().expect("piped stdout");
        // The server prints its bound address on stdout; read it on a thread (blocking I/O).
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut sent = false;
            while let Some(Ok(line)) = lines.next() {
                if !sent && let Some(address) = line.strip_prefix("licensd: listening on ") {
                    let _ = sender.send(address.to_string());
                    sent = true;
                }
            }
        });
        let base = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("licensd did not report a listening address within 60 s");
            }
        };
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("http client");
        Server {
            child,
            base,
            backend,
            data_dir,
            database_url,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// An admin request; returns status and JSON body (`Value::Null` for an empty body).
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }

    /// An unauthenticated JSON POST (the client API); returns status, body and headers.
    pub async fn client_post(
        &self,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap, Vec<u8>) {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body").to_vec();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value, headers, bytes)
    }

    /// Creates a product and returns its id.
    pub async fn product(&self, code: &str) -> i64 {
        let (status, body) = self
            .admin(
                Method::POST,
                "/v1/products",
                Some(serde_json::json!({"code": code, "name": code})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().expect("product id")
    }

    /// Creates a license with the given terms and key; returns its id.
    pub async fn license(&self, product_id: i64, key: &str, terms: Value) -> i64 {
        let (status, body) = self
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(serde_json::json!({"product_id": product_id, "key": key, "terms": terms})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().expect("license id")
    }

    /// Runs the CLI against this server; returns exit code, stdout, stderr.
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(binary())
            .arg("--server")
            .arg(&self.base)
            .arg("--token")
            .arg(ADMIN_TOKEN)
            .args(args)
            .env_remove("LICENSD_TOKEN")
            .env_remove("LICENSD_SERVER")
            .output()
            .expect("run licensd cli");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// The server process (to signal it or wait for its exit).
    pub fn process(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Starts a server on a fresh database of `backend` with extra `serve` arguments / environment.
    pub async fn start_fresh_with(backend: Backend, extra: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await.url),
        };
        Self::start_with(backend, data_dir, database_url, extra).await
    }

    /// Stops the server and hands back its data dir and database for a restart.
    pub fn stop(mut self) -> (tempfile::TempDir, Option<String>) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"));
        (data_dir, self.database_url.take())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Verifies a client-API response signature against the server's published Ed25519 key.
pub async fn verify_signature(server: &Server, headers: &reqwest::header::HeaderMap, body: &[u8]) {
    let kid = headers
        .get("x-licensd-key-id")
        .and_then(|v| v.to_str().ok())
        .expect("key id header");
    let signature = headers
        .get("x-licensd-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signature header");
    assert_eq!(
        headers
            .get("x-licensd-signature-algorithm")
            .and_then(|v| v.to_str().ok()),
        Some("Ed25519")
    );
    let keys: Value = server
        .http
        .get(server.url("/v1/signing-keys"))
        .send()
        .await
        .expect("keys")
        .json()
        .await
        .expect("keys json");
    let key = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid published");
    let public =
        licensd_crypto::PublicKey::from_pem(licensd_crypto::Algorithm::Ed25519, key["pem"].as_str().expect("pem"))
            .expect("pem parses");
    let signature = licensd_crypto::b64_decode(signature).expect("base64 signature");
    public.verify(body, &signature).expect("response signature verifies");
}
