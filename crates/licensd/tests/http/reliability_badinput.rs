//! Bad-input sweep (tests/reliability/README.md): every route of every dialect, read from the
//! server's source (`reliability_support::route_table`), gets hostile bodies and query strings —
//! truncated JSON, 20,000-deep nesting, NUL, invalid UTF-8, huge numbers, 1 MB strings — with a
//! valid credential of its dialect (so the bytes reach the parsers, not only the auth check) and
//! without one. Never a 5xx, never a dropped connection, never a panic line in the server's log,
//! on SQLite and PostgreSQL.

use crate::harness::Backend;
use crate::reliability_support::*;
use std::sync::Arc;

/// Cells that fail today because of a known, filed defect: (backend, route template prefix,
/// payload name prefix, why). Matching cells are still sent; the test fails if an entry no longer
/// matches any failing cell, so the list cannot go stale. Empty: the NUL defect (issue 13, 1) is fixed.
const KNOWN_DEFECTS_FIXED_ON_HARDENING: &[(Backend, &str, &str, &str)] = &[];

/// Field names the dialects read (native, LicenseSpring, Key Manager, SLASCONE, DNA).
const FIELDS: &[&str] = &[
    "key",
    "license_key",
    "fingerprint",
    "hardware_id",
    "product",
    "product_code",
    "product_id",
    "email",
    "password",
    "name",
    "code",
    "amount",
    "consumptions",
    "identifier",
    "license_id",
    "client_id",
    "token_key",
    "customer_id",
    "feature",
    "variables",
    "username",
    "idempotency_key",
    "nonce",
    "os",
    "hostname",
    "LicensePassword",
    "UserIp",
    "NewEmail",
    "Target",
    "Count",
    "license_keys",
    "quantity",
];

/// A valid-looking value for a field, so one hostile field at a time gets past the others.
fn valid(field: &str, fixtures: &Fixtures) -> serde_json::Value {
    use serde_json::json;
    match field {
        "key" | "license_key" | "token_key" => json!(LICENSE_KEY),
        "product" | "product_code" => json!(PRODUCT_CODE),
        "product_id" => json!(fixtures.product_id),
        "license_id" => json!(fixtures.license_id),
        "fingerprint" | "hardware_id" | "identifier" | "client_id" => json!("dev-1"),
        "email" | "NewEmail" | "username" => json!("a@example.com"),
        "amount" | "consumptions" | "quantity" | "Count" => json!(1),
        "UserIp" => json!("10.0.0.1"),
        "license_keys" => json!(["K-1"]),
        "variables" => json!({"a": "b"}),
        _ => json!("x"),
    }
}

#[derive(Debug, Clone)]
struct Payload {
    name: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    query: String,
}

fn json_object(fields: &[(&str, serde_json::Value)]) -> Vec<u8> {
    let map: serde_json::Map<String, serde_json::Value> =
        fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    serde_json::to_vec(&map).expect("json")
}

fn query_of(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The hostile payloads for one route; `slot` picks which field carries the hostile value in the
/// "one bad field among good ones" variants, so successive routes exercise different fields.
fn payloads(fixtures: &Fixtures, slot: usize) -> Vec<Payload> {
    use serde_json::{Value, json};
    let one = FIELDS[slot % FIELDS.len()];
    let with_one = |bad: Value| -> Vec<u8> {
        let fields: Vec<(&str, Value)> = FIELDS
            .iter()
            .map(|f| (*f, if *f == one { bad.clone() } else { valid(f, fixtures) }))
            .collect();
        json_object(&fields)
    };
    let all = |bad: Value| -> Vec<u8> {
        let fields: Vec<(&str, Value)> = FIELDS.iter().map(|f| (*f, bad.clone())).collect();
        json_object(&fields)
    };
    let valid_query: Vec<(&str, String)> = FIELDS
        .iter()
        .map(|f| {
            let v = valid(f, fixtures);
            (*f, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
        })
        .collect();
    let query_with = |bad: &str| -> String {
        let fields: Vec<(&str, &str)> = valid_query
            .iter()
            .map(|(f, v)| (*f, if *f == one { bad } else { v.as_str() }))
            .collect();
        query_of(&fields)
    };
    let depth = 20_000;
    let mut invalid_utf8 =
        b"{\"key\":\"\xff\xfe\xc3\x28\",\"license_key\":\"\xed\xa0\x80\",\"email\":\"\xc0\xaf\"}".to_vec();
    let huge = json!({
        "max_activations": 9_223_372_036_854_775_807_i64,
        "lease_seconds": 9_223_372_036_854_775_807_i64,
        "floating": {"seats": 9_223_372_036_854_775_807_i64, "lease_seconds": 9_223_372_036_854_775_807_i64},
        "consumption": {"max_consumptions": 9_223_372_036_854_775_807_i64},
    });
    let huge_fields: Vec<(&str, Value)> = FIELDS
        .iter()
        .map(|f| (*f, valid(f, fixtures)))
        .chain([
            ("terms", huge.clone()),
            ("amount", json!(9_223_372_036_854_775_807_i64)),
            ("consumptions", json!(-9_223_372_036_854_775_807_i64)),
            ("Count", json!(18_446_744_073_709_551_615_u64)),
            ("quantity", json!(9_223_372_036_854_775_807_i64)),
        ])
        .collect();
    let mut out = vec![
        Payload {
            name: "truncated_json",
            content_type: "application/json",
            body: br#"{"key": "REL-0001", "fingerprint": "dev"#.to_vec(),
            query: String::new(),
        },
        Payload {
            name: "deep_array",
            content_type: "application/json",
            body: format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
            query: String::new(),
        },
        Payload {
            name: "deep_object",
            content_type: "application/json",
            body: format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)).into_bytes(),
            query: String::new(),
        },
        Payload {
            name: "nul_every_field",
            content_type: "application/json",
            body: all(json!("a\u{0}b")),
            query: query_of(&FIELDS.iter().map(|f| (*f, "a%00b")).collect::<Vec<_>>()),
        },
        Payload {
            name: "nul_one_field",
            content_type: "application/json",
            body: with_one(json!("REL\u{0}0001")),
            query: query_with("REL%000001"),
        },
        Payload {
            name: "nul_form",
            content_type: "application/x-www-form-urlencoded",
            body: query_of(&FIELDS.iter().map(|f| (*f, "a%00b")).collect::<Vec<_>>()).into_bytes(),
            query: String::new(),
        },
        Payload {
            name: "invalid_utf8",
            content_type: "application/json",
            body: std::mem::take(&mut invalid_utf8),
            query: "key=%FF%FE&license_key=%C3%28&product=%ED%A0%80".to_string(),
        },
        Payload {
            name: "invalid_utf8_form",
            content_type: "application/x-www-form-urlencoded",
            body: b"key=\xff\xfe&license_key=%FF%FE&api_key=%C3%28".to_vec(),
            query: String::new(),
        },
        Payload {
            name: "huge_numbers",
            content_type: "application/json",
            body: json_object(&huge_fields),
            query: query_with("99999999999999999999999999999999"),
        },
        Payload {
            name: "huge_float",
            content_type: "application/json",
            body: with_one(json!(1.0e308)),
            query: query_with("1e400"),
        },
        Payload {
            name: "mb_string",
            content_type: "application/json",
            body: with_one(json!("A".repeat(1_000_000))),
            query: String::new(),
        },
        Payload {
            name: "mb_string_form",
            content_type: "application/x-www-form-urlencoded",
            body: format!("{one}={}&key={LICENSE_KEY}", "A".repeat(1_000_000)).into_bytes(),
            query: String::new(),
        },
    ];
    // A 1 MB string in the query too (hyper refuses over-long heads with a 4xx).
    out.push(Payload {
        name: "mb_query",
        content_type: "application/json",
        body: Vec::new(),
        query: format!("{one}={}", "A".repeat(1_000_000)),
    });
    out
}

/// Sends a request with an empty body over a fresh TCP connection; `Err` unless the server
/// answers with a status below 500.
async fn raw_request(
    base: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // The server may answer and close before it has read the whole head: keep what it sent.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    if read.is_err() {
        return Err("no answer within 30 s".to_string());
    }
    let text = String::from_utf8_lossy(&answer);
    let status: Option<u16> = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    match status {
        Some(code) if code < 500 => Ok(()),
        Some(code) => Err(format!("{code} {}", text.chars().take(300).collect::<String>())),
        None => Err(format!("no HTTP answer ({} bytes)", answer.len())),
    }
}

/// An error with its causes (reqwest's own text hides them).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[derive(Debug)]
struct Failure {
    method: String,
    path: String,
    payload: &'static str,
    authenticated: bool,
    what: String,
}

fn matches(entry: &(Backend, &str, &str, &str), backend: Backend, failure: &Failure) -> bool {
    let (b, path, payload, _) = entry;
    *b == backend && failure.path.starts_with(path) && failure.payload.starts_with(payload)
}

fn known(backend: Backend, failure: &Failure) -> bool {
    KNOWN_DEFECTS_FIXED_ON_HARDENING
        .iter()
        .any(|entry| matches(entry, backend, failure))
}

async fn sweep(backend: Backend) {
    let mut server = LoggedServer::start(backend).await;
    let fixtures = fixtures(&server).await;
    let routes = route_table();
    // One connection per request: a failure is then this request's, not a stale pooled one's.
    server.http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("http client");
    let semaphore = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, route) in routes.iter().enumerate() {
        let dialect = route.dialect();
        let path = fill(&route.path, ISV, DNA_PRODUCT, LICENSE_KEY);
        let method = if route.method == "ANY" {
            "POST"
        } else {
            route.method.as_str()
        };
        for payload in payloads(&fixtures, index) {
            for authenticated in [true, false] {
                let permit = Arc::clone(&semaphore).acquire_owned().await.expect("semaphore");
                let http = server.http.clone();
                let headers = if authenticated {
                    auth_headers(dialect, fixtures.credential_of(dialect))
                } else {
                    Vec::new()
                };
                let mut query = payload.query.clone();
                let mut body = payload.body.clone();
                if authenticated && dialect == Dialect::KeyManager {
                    // Key Manager reads its api_key from the body or the query.
                    let key = fixtures.keymanager.joined();
                    query = format!("api_key={key}&{query}");
                    if payload.content_type.ends_with("urlencoded") {
                        body = [format!("api_key={key}&").into_bytes(), body].concat();
                    }
                }
                let url = if query.is_empty() {
                    server.url(&path)
                } else {
                    server.url(&format!("{path}?{query}"))
                };
                let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
                let (route_method, route_path, name) = (route.method.clone(), route.path.clone(), payload.name);
                let content_type = payload.content_type;
                let raw_target = (payload.name == "mb_query").then(|| {
                    let target = url.splitn(4, '/').nth(3).unwrap_or("");
                    (server.base.clone(), format!("/{target}"))
                });
                tasks.spawn(async move {
                    let _permit = permit;
                    if let Some((base, target)) = raw_target {
                        // reqwest refuses URLs over 64 KiB: send this one by hand.
                        return raw_request(&base, method.as_str(), &target, &headers, content_type, &[])
                            .await
                            .err()
                            .map(|what| Failure {
                                method: route_method,
                                path: route_path,
                                payload: name,
                                authenticated,
                                what,
                            });
                    }
                    let mut request = http
                        .request(method.clone(), url.clone())
                        .header("content-type", content_type);
                    for (name, value) in &headers {
                        request = request.header(name, value);
                    }
                    let what = match request.body(body.clone()).send().await {
                        // The server may answer before reading a large body and close; the
                        // client then fails writing it. Send again by hand, keeping whatever the
                        // server answered: only no answer at all (or a 5xx) is a failure.
                        Err(error) => {
                            let target = format!("/{}", url.splitn(4, '/').nth(3).unwrap_or(""));
                            let base = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                            raw_request(&base, method.as_str(), &target, &headers, content_type, &body)
                                .await
                                .err()
                                .map(|raw| format!("no answer: {}; by hand: {raw}", chain(&error)))
                        }
                        Ok(response) => {
                            let status = response.status();
                            match response.bytes().await {
                                Err(error) => Some(format!("{status}, body broke off: {}", chain(&error))),
                                Ok(bytes) if status.is_server_error() => Some(format!(
                                    "{status} {}",
                                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                                )),
                                Ok(_) => None,
                            }
                        }
                    };
                    // Error texts quote the URL, which may carry a 1 MB query: keep them short.
                    what.map(|what| Failure {
                        method: route_method,
                        path: route_path,
                        payload: name,
                        authenticated,
                        what: what.chars().take(300).collect(),
                    })
                });
            }
        }
    }
    let mut failures = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Some(failure) = result.expect("request task") {
            failures.push(failure);
        }
    }
    failures.sort_by(|a, b| (&a.path, &a.method, a.payload).cmp(&(&b.path, &b.method, b.payload)));
    let (expected, unexpected): (Vec<&Failure>, Vec<&Failure>) = failures.iter().partition(|f| known(backend, f));
    let report = |list: &[&Failure]| {
        list.iter()
            .map(|f| {
                format!(
                    "{} {} [{}{}]: {}",
                    f.method,
                    f.path,
                    f.payload,
                    if f.authenticated { ", authenticated" } else { "" },
                    f.what
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        unexpected.is_empty(),
        "{backend:?}: {} bad-input cells failed:\n{}",
        unexpected.len(),
        report(&unexpected)
    );
    let stale: Vec<_> = KNOWN_DEFECTS_FIXED_ON_HARDENING
        .iter()
        .filter(|entry| entry.0 == backend && !expected.iter().any(|f| matches(entry, backend, f)))
        .collect();
    assert!(
        stale.is_empty(),
        "{backend:?}: these KNOWN_DEFECTS_FIXED_ON_HARDENING cells pass now; remove them: {stale:?}"
    );
    let health = server.http.get(server.url("/healthz")).send().await.expect("healthz");
    assert!(health.status().is_success(), "server unhealthy after the sweep");
    let panics = server.panic_lines();
    assert!(
        panics.is_empty(),
        "{backend:?}: panics in the server log:\n{}",
        panics.join("\n")
    );
    eprintln!(
        "{backend:?}: {} routes swept, {} known-defect cells",
        routes.len(),
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_bad_input_never_gets_a_5xx_or_a_panic() {
    sweep(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_bad_input_never_gets_a_5xx_or_a_panic() {
    sweep(Backend::Postgres).await;
}
