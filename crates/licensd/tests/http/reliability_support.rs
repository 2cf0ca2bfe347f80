//! Shared pieces of the reliability suite (tests/reliability/README.md): a `licensd serve` whose
//! stderr goes to a file (so a test can look for panic lines) and that can be killed with SIGKILL
//! and restarted on the same database, a small seeded random generator, and the route table read
//! from the server's source.

#![allow(dead_code)]

use crate::harness::{ADMIN_TOKEN, Backend, PgDatabase, binary};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `licensd serve` whose stderr is written to `log`; killed (SIGKILL) when dropped.
pub struct LoggedServer {
    child: Option<Child>,
    pub base: String,
    pub backend: Backend,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub log: PathBuf,
    pub http: reqwest::Client,
    extra: Vec<(String, String)>,
    _keep: std::sync::Arc<tempfile::TempDir>,
}

impl LoggedServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    /// Starts with extra `serve` arguments (`--flag`, value) or environment variables.
    pub async fn start_with(backend: Backend, extra: &[(&str, &str)]) -> Self {
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await.url),
        };
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let mut server = LoggedServer {
            child: None,
            base: String::new(),
            backend,
            data_dir,
            database_url,
            log: dir.path().join("server.log"),
            http: client(),
            extra: extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            _keep: dir,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open server log");
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("LICENSD_LOG", "warn")
            .env("LICENSD_SLASCONE_ISV_ID", ISV)
            .env_remove("LICENSD_DATABASE_URL")
            .env_remove("LICENSD_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if let Some(url) = &self.database_url {
            command
                .arg("--database-url")
                .arg(url)
                .arg("--max-connections")
                .arg("16");
        }
        for (key, value) in &self.extra {
            if key.starts_with("--") {
                command.arg(key).arg(value);
            } else {
                command.env(key, value);
            }
        }
        let mut child = command.spawn().expect("spawn licensd");
        let stdout = child.stdout.take().expect("piped stdout");
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
        match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => self.base = base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "licensd did not report a listening address within 60 s; log:\n{}",
                    self.log_text()
                );
            }
        }
        self.child = Some(child);
    }

    /// SIGKILL (`Child::kill` sends SIGKILL on Unix): no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the binary again on the same data dir and database (new port, fresh HTTP client).
    pub fn restart(&mut self) {
        self.kill9();
        self.http = client();
        self.spawn();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Lines of the server's stderr that report a panic.
    pub fn panic_lines(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|line| line.contains("panicked at") || line.contains("RUST_BACKTRACE"))
            .map(str::to_string)
            .collect()
    }

    /// An admin JSON request; status and body (`Null` when empty, a string when not JSON).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin request");
        let status = response.status();
        let text = response.text().await.expect("admin body");
        let value = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        (status, value)
    }

    pub async fn admin_ok(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, value) = self.admin(method, path, Some(body)).await;
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// xorshift64*: seeded from `LICENSD_RELIABILITY_SEED` or the clock; the seed is printed so a
/// failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn from_env(what: &str) -> Self {
        let seed = std::env::var("LICENSD_RELIABILITY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(42)
            });
        eprintln!("{what}: LICENSD_RELIABILITY_SEED={seed}");
        Rng(seed | 1)
    }

    pub fn seeded(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// One route of the HTTP application, as its source declares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    /// The path template (`{id}` etc. as in the source).
    pub path: String,
    /// Source file the route was read from, relative to `licensd-server/src`.
    pub file: String,
}

impl Route {
    pub fn dialect(&self) -> Dialect {
        Dialect::of(&self.path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dialect {
    Native,
    LicenseSpring,
    KeyManager,
    Slascone,
    Dna,
    Health,
}

impl Dialect {
    pub fn of(path: &str) -> Dialect {
        if path.starts_with("/api/v4") {
            Dialect::LicenseSpring
        } else if path.starts_with("/api/v1") {
            Dialect::KeyManager
        } else if path.starts_with("/api/v2") {
            Dialect::Slascone
        } else if path.starts_with("/dna/") {
            Dialect::Dna
        } else if path.starts_with("/v1") {
            Dialect::Native
        } else {
            Dialect::Health
        }
    }
}

fn server_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../licensd-server/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read licensd-server/src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first string literal in `text` (no escapes in route paths).
fn first_literal(text: &str) -> Option<(String, usize)> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some((text[start..start + len].to_string(), start + len + 1))
}

/// The text of the call starting at `open` (an opening parenthesis), up to its matching `)`.
fn balanced(text: &str, open: usize) -> &str {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    &text[open..]
}

const METHODS: [(&str, &str); 6] = [
    ("get(", "GET"),
    ("post(", "POST"),
    ("put(", "PUT"),
    ("patch(", "PATCH"),
    ("delete(", "DELETE"),
    ("any(", "ANY"),
];

/// Every `.route("path", method(handler).method(handler))` in `licensd-server/src`, with the
/// prefix of a `.nest(PREFIX, …)` in the same file, plus the DNA resources its catch-all route
/// dispatches (read from the endpoint list of `dialects/dna/mod.rs`). Catch-all fallbacks
/// (`{*rest}`) are left out: they are not endpoints.
pub fn route_table() -> Vec<Route> {
    let root = server_src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut routes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        let name = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
        // Skip unit-test modules: only the code before `#[cfg(test)]` builds routers.
        let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
        let prefix = if code.contains(".nest(PREFIX,") {
            code.split("const PREFIX: &str = ")
                .nth(1)
                .and_then(first_literal)
                .map(|(p, _)| p)
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut rest = code;
        while let Some(at) = rest.find(".route(") {
            let open = at + ".route".len();
            let call = balanced(rest, open);
            rest = &rest[open + 1..];
            let Some((path, after)) = first_literal(call) else {
                continue;
            };
            if path.contains("{*") || !path.starts_with('/') {
                continue;
            }
            let handlers = &call[after..];
            for (needle, method) in METHODS {
                let mut search = handlers;
                while let Some(pos) = search.find(needle) {
                    let before = search[..pos].chars().last();
                    // `post(` but not `repost(`: the method is at the start or after `.`/space/`(`.
                    if before.is_none_or(|c| matches!(c, '.' | ' ' | '(' | ',' | '\n' | ':')) {
                        routes.push(Route {
                            method: method.to_string(),
                            path: format!("{prefix}{path}"),
                            file: name.clone(),
                        });
                        break;
                    }
                    search = &search[pos + needle.len()..];
                }
            }
        }
    }
    routes.extend(dna_routes());
    routes.sort();
    routes.dedup();
    routes
}

/// DNA's resources from the endpoint list in `dialects/dna/mod.rs` (lines like
/// ``//! - `GET Licenses/{p}/{l}/status` → …``; `…/x` abbreviates `Licenses/{p}/{l}/x`).
fn dna_routes() -> Vec<Route> {
    let text = std::fs::read_to_string(server_src().join("dialects/dna/mod.rs")).expect("read dna/mod.rs");
    let mut routes = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with("//!")) {
        for piece in line.split('`').skip(1).step_by(2) {
            let Some((method, path)) = piece.split_once(' ') else {
                continue;
            };
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
                continue;
            }
            let path = path.split('[').next().unwrap_or(path).trim();
            let path = path.replace('…', "Licenses/{p}/{l}");
            routes.push(Route {
                method: method.to_string(),
                path: format!("/dna/v1/{path}"),
                file: "dialects/dna/mod.rs".to_string(),
            });
        }
    }
    routes
}

/// Fills a path template: `{isv_id}` with `isv`, DNA's `{p}`/`{l}` with `dna_product`/`dna_key`,
/// every other parameter with `1`.
pub fn fill(path: &str, isv: &str, dna_product: &str, dna_key: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e).unwrap_or(rest.len() - 1);
        let name = &rest[start + 1..end];
        out.push_str(match name {
            "isv_id" => isv,
            "p" => dna_product,
            "l" => dna_key,
            _ => "1",
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_route_table_is_read_from_the_source() {
    let routes = route_table();
    let has = |method: &str, path: &str| routes.iter().any(|r| r.method == method && r.path == path);
    assert!(has("POST", "/v1/licenses/actions/activate"), "{routes:#?}");
    assert!(has("GET", "/api/v4/check_license"));
    assert!(has("POST", "/api/v1/activate"));
    assert!(has("POST", "/api/v2/isv/{isv_id}/provisioning/activations"));
    assert!(has("GET", "/dna/v1/Licenses/{p}/{l}/status"));
    assert!(has("POST", "/dna/v1/Credits/{p}/{l}/consume"));
    assert!(has("DELETE", "/dna/v1/Licenses/{p}/{l}/{deviceId}"));
    for dialect in [
        Dialect::Native,
        Dialect::LicenseSpring,
        Dialect::KeyManager,
        Dialect::Slascone,
        Dialect::Dna,
    ] {
        let n = routes.iter().filter(|r| r.dialect() == dialect).count();
        assert!(n >= 10, "{dialect:?}: only {n} routes read");
    }
    assert!(routes.len() > 200, "{}", routes.len());
}

/// The SLASCONE ISV id the suite uses in paths.
pub const ISV: &str = crate::harness::SLASCONE_ISV;
pub const PRODUCT_CODE: &str = "relprod";
pub const LICENSE_KEY: &str = "REL-0001-0002-0003";
pub const DNA_PRODUCT: &str = "relprod";

/// One credential of each dialect (`key_id`, secret, id) plus the fixtures they act on.
#[derive(Debug, Clone)]
pub struct Fixtures {
    pub product_id: i64,
    pub license_id: i64,
    pub licensespring: Credential,
    pub keymanager: Credential,
    pub slascone: Credential,
    pub dna: Credential,
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub key_id: String,
    pub secret: String,
    pub id: i64,
}

impl Credential {
    /// The Key Manager `api_key` and SLASCONE `ProvisioningKey` form: `key_id.secret`.
    pub fn joined(&self) -> String {
        format!("{}.{}", self.key_id, self.secret)
    }
}

/// Creates a credential of `dialect` with extra settings (`read_only`, `ip_allowlist`, `product_id`).
pub async fn credential(server: &LoggedServer, dialect: &str, extra: serde_json::Value) -> Credential {
    let mut body = serde_json::json!({"dialect": dialect, "name": format!("{dialect} app")});
    if let (Some(target), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    let created = server.admin_ok(reqwest::Method::POST, "/v1/credentials", body).await;
    Credential {
        key_id: created["credential"]["key_id"].as_str().expect("key_id").to_string(),
        secret: created["secret"].as_str().expect("secret").to_string(),
        id: created["credential"]["id"].as_i64().expect("id"),
    }
}

/// A product, a licence with a key and a device, and one credential per dialect.
pub async fn fixtures(server: &LoggedServer) -> Fixtures {
    use reqwest::Method;
    use serde_json::json;
    let product_id = server
        .admin_ok(
            Method::POST,
            "/v1/products",
            json!({"code": PRODUCT_CODE, "name": "Reliability"}),
        )
        .await["id"]
        .as_i64()
        .expect("product id");
    let license_id = server
        .admin_ok(
            Method::POST,
            "/v1/licenses",
            json!({"product_id": product_id, "key": LICENSE_KEY, "terms": {"max_activations": 5}}),
        )
        .await["id"]
        .as_i64()
        .expect("license id");
    let (status, body) = server
        .admin(
            Method::POST,
            "/v1/licenses/actions/activate",
            Some(json!({"key": LICENSE_KEY, "fingerprint": "dev-1"})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    Fixtures {
        product_id,
        license_id,
        licensespring: credential(server, "licensespring", json!({})).await,
        keymanager: credential(server, "keymanager", json!({})).await,
        slascone: credential(server, "slascone", json!({})).await,
        dna: credential(server, "dna", json!({})).await,
    }
}

/// RFC 7231 IMF-fixdate of now (LicenseSpring's signed `Date`).
pub fn http_date_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after epoch")
        .as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
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

/// LicenseSpring's HMAC headers (`Date`, `Authorization`) for a credential.
pub fn licensespring_headers(credential: &Credential) -> Vec<(String, String)> {
    let date = http_date_now();
    let message = format!("licenseSpring\ndate: {date}");
    let signature = licensd_crypto::b64(&licensd_crypto::hmac_sha256(
        credential.secret.as_bytes(),
        message.as_bytes(),
    ));
    vec![
        (
            "authorization".to_string(),
            format!(
                "algorithm=\"hmac-sha256\",headers=\"date\",signature=\"{signature}\",apiKey=\"{}\"",
                credential.key_id
            ),
        ),
        ("date".to_string(), date),
    ]
}

/// The headers that authenticate as `credential` on `route`'s dialect (the native API: the admin
/// token). Key Manager takes its `api_key` in the body or query instead (see `km_api_key`).
pub fn auth_headers(dialect: Dialect, credential: &Credential) -> Vec<(String, String)> {
    use base64::Engine;
    match dialect {
        Dialect::Native | Dialect::Health => {
            vec![("authorization".to_string(), format!("Bearer {ADMIN_TOKEN}"))]
        }
        Dialect::LicenseSpring => licensespring_headers(credential),
        Dialect::KeyManager => Vec::new(),
        Dialect::Slascone => vec![
            ("ProvisioningKey".to_string(), credential.joined()),
            ("AdminKey".to_string(), ADMIN_TOKEN.to_string()),
        ],
        Dialect::Dna => vec![(
            "authorization".to_string(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", credential.key_id, credential.secret))
            ),
        )],
    }
}

impl Fixtures {
    /// This dialect's (valid) credential; the native API has none (it uses the admin token).
    pub fn credential_of(&self, dialect: Dialect) -> &Credential {
        match dialect {
            Dialect::LicenseSpring => &self.licensespring,
            Dialect::KeyManager => &self.keymanager,
            Dialect::Slascone => &self.slascone,
            Dialect::Dna => &self.dna,
            Dialect::Native | Dialect::Health => &self.licensespring,
        }
    }
}
