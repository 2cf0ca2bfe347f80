//! `GET /metrics`, `--metrics-listen`, request ids and `--log-format json` (issue 17, "Metrics and
//! logs"), against the real binary on SQLite and PostgreSQL. Every exposition read here goes
//! through a strict OpenMetrics parser (`parse`).

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One sample: its name and labels.
type Key = (String, BTreeMap<String, String>);

/// A parsed exposition: every sample's value.
#[derive(Debug, Default)]
struct Exposition {
    samples: HashMap<Key, f64>,
    text: String,
}

impl Exposition {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.get(&(name.to_string(), labels)).copied().unwrap_or(0.0)
    }

    /// Every label value of every sample.
    fn label_values(&self) -> impl Iterator<Item = &String> {
        self.samples.keys().flat_map(|(_, labels)| labels.values())
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `{a="x",b="y"}` (without the braces) into a map; only `\\`, `\"` and `\n` escapes.
fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").ok_or(format!("label without =\" in {text:?}"))?;
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {text:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value in {text:?}")),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice in {text:?}"));
        }
        rest = &after[end + 1..];
        if let Some(next) = rest.strip_prefix(',') {
            rest = next;
        } else if !rest.is_empty() {
            return Err(format!("junk after label value in {text:?}"));
        }
    }
    Ok(labels)
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text.parse::<f64>().map_err(|_| format!("bad value {text:?}")),
    }
}

/// A strict reading of the OpenMetrics text format: descriptors before their samples, each family
/// once and contiguous, sample names that belong to their family's type, no duplicate series,
/// counters not negative, histograms with cumulative buckets ending in `+Inf` = `_count`, and
/// `# EOF` as the last line.
fn parse(text: &str) -> Result<Exposition, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("the exposition does not end with # EOF")?;
    let mut samples: HashMap<Key, f64> = HashMap::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped: HashSet<String> = HashSet::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        if line.is_empty() {
            return Err("empty line".into());
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if !is_metric_name(name) {
                return Err(format!("bad family name in {line:?}"));
            }
            if current.as_deref() != Some(name) {
                if let Some(done) = current.take() {
                    finished.insert(done);
                }
                if finished.contains(name) {
                    return Err(format!("family {name} is not contiguous"));
                }
                current = Some(name.to_string());
            }
            match kind {
                "HELP" => {
                    if !helped.insert(name.to_string()) {
                        return Err(format!("two HELP lines for {name}"));
                    }
                }
                "TYPE" => {
                    let kind = parts.next().unwrap_or("");
                    if ![
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown",
                    ]
                    .contains(&kind)
                    {
                        return Err(format!("bad type in {line:?}"));
                    }
                    if types.insert(name.to_string(), kind.to_string()).is_some() {
                        return Err(format!("two TYPE lines for {name}"));
                    }
                }
                "UNIT" => {}
                _ => return Err(format!("unknown descriptor {line:?}")),
            }
            continue;
        }
        let family = current
            .as_deref()
            .ok_or(format!("sample before any descriptor: {line:?}"))?;
        let kind = types.get(family).ok_or(format!("sample of {family} before its TYPE"))?;
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value in {line:?}"))?;
        let value = parse_value(value)?;
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (
                name,
                parse_labels(labels.strip_suffix('}').ok_or(format!("unclosed labels in {line:?}"))?)?,
            ),
            None => (series, BTreeMap::new()),
        };
        let suffix = name
            .strip_prefix(family)
            .ok_or(format!("sample {name} outside its family {family}"))?;
        let allowed: &[&str] = match kind.as_str() {
            "counter" => &["_total", "_created"],
            "gauge" | "unknown" => &[""],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            _ => &["", "_total", "_sum", "_count", "_created", "_info"],
        };
        if !allowed.contains(&suffix) {
            return Err(format!("sample {name} does not fit a {kind} {family}"));
        }
        if kind == "counter" && (value.is_nan() || value < 0.0) {
            return Err(format!("negative counter {line:?}"));
        }
        if suffix == "_bucket" && !labels.contains_key("le") {
            return Err(format!("bucket without le: {line:?}"));
        }
        if samples.insert((name.to_string(), labels), value).is_some() {
            return Err(format!("duplicate series {line:?}"));
        }
    }
    // Histograms: cumulative buckets, the last +Inf and equal to _count.
    for (family, kind) in &types {
        if kind != "histogram" {
            continue;
        }
        let mut series: HashMap<BTreeMap<String, String>, Vec<(f64, f64)>> = HashMap::new();
        for ((name, labels), value) in &samples {
            if *name == format!("{family}_bucket") {
                let mut base = labels.clone();
                let le = parse_value(&base.remove("le").unwrap_or_default())?;
                series.entry(base).or_default().push((le, *value));
            }
        }
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{family}{labels:?}: buckets are not cumulative"));
            }
            let last = buckets.last().copied().unwrap_or((0.0, 0.0));
            let count = samples.get(&(format!("{family}_count"), labels.clone()));
            if last.0 != f64::INFINITY || count != Some(&last.1) {
                return Err(format!("{family}{labels:?}: +Inf bucket {last:?} vs count {count:?}"));
            }
        }
    }
    Ok(Exposition {
        samples,
        text: text.to_string(),
    })
}

async fn scrape(server: &Server) -> Exposition {
    let response = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{:?}",
        response.headers()
    );
    let text = response.text().await.unwrap();
    parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

const REQUESTS: &str = "licensd_http_requests_total";
const DENIALS: &str = "licensd_client_denials_total";

#[test]
fn the_parser_is_strict() {
    let good = "# HELP a_b x.\n# TYPE a_b counter\na_b_total{k=\"v\\\"\"} 1\n# TYPE h histogram\nh_sum 1.5\nh_count 2\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\n# EOF\n";
    let parsed = parse(good).unwrap();
    assert_eq!(parsed.get("a_b_total", &[("k", "v\"")]), 1.0);
    for bad in [
        "# TYPE a counter\na_total 1\n",                                   // no EOF
        "# TYPE a counter\na 1\n# EOF\n",                                  // counter without _total
        "a_total 1\n# EOF\n",                                              // no descriptor
        "# TYPE a counter\na_total{k=v} 1\n# EOF\n",                       // unquoted
        "# TYPE a counter\na_total 1\na_total 2\n# EOF\n",                 // duplicate
        "# TYPE a counter\na_total -1\n# EOF\n",                           // negative counter
        "# TYPE a gauge\n# TYPE b gauge\nb 1\n# HELP a x\n# EOF\n",        // not contiguous
        "# TYPE h histogram\nh_count 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n", // +Inf != count
        "# TYPE a gauge\na{k=\"\\x\"} 1\n# EOF\n",                         // bad escape
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}

backend_tests! {
    async fn metrics_need_an_admin_token(server) {
        let url = server.url("/metrics");
        let response = server.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("x-request-id"));
        let response = server.http.get(&url).bearer_auth(format!("{ADMIN_TOKEN}-wrong")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // A client credential is not an admin token.
        let (status, created) = server
            .admin(Method::POST, "/v1/credentials", Some(json!({"dialect": "licensespring", "name": "app"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["secret"].as_str().unwrap();
        let response = server.http.get(&url).bearer_auth(secret).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // Any admin token reads it; a revoked one no longer does.
        let (status, token) = server.admin(Method::POST, "/v1/admin-tokens", Some(json!({"name": "prometheus"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        let secret = token["secret"].as_str().unwrap_or_else(|| panic!("{token}"));
        let response = server.http.get(&url).bearer_auth(secret).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        parse(&response.text().await.unwrap()).unwrap();
        let id = token["token"]["id"].as_i64().unwrap_or_else(|| panic!("{token}"));
        let (status, _) = server.admin(Method::POST, &format!("/v1/admin-tokens/{id}/revoke"), None).await;
        assert!(status.is_success(), "{status}");
        let response = server.http.get(&url).bearer_auth(secret).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    async fn requests_and_denials_are_counted_exactly(server) {
        let product = server.product("metrics-app").await;
        const KEY: &str = "METRICS-SECRET-KEY-7Q4Z";
        server.license(product, KEY, json!({"max_activations": 1})).await;
        let before = scrape(&server).await;

        let activate = |fingerprint: &'static str| {
            server
                .http
                .post(server.url("/v1/licenses/actions/activate"))
                .json(&json!({"key": KEY, "fingerprint": fingerprint}))
                .send()
        };
        assert_eq!(activate("machine-1").await.unwrap().status(), StatusCode::CREATED);
        let refused = activate("machine-2").await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "ACTIVATION_LIMIT_REACHED");
        // A "not valid" verdict (200) is a decision too.
        for _ in 0..2 {
            let verdict: Value = server
                .http
                .post(server.url("/v1/licenses/actions/validate"))
                .json(&json!({"key": "METRICS-NO-SUCH-KEY", "fingerprint": "machine-1"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(verdict["code"], "LICENSE_NOT_FOUND", "{verdict}");
        }
        // Key Manager: the same limit in its own codes, on a licence key of its own.
        const KM_KEY: &str = "KM-METRICS-SECRET-9X2W";
        let (status, body) = server
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(json!({"product_id": product, "key": KM_KEY, "assignment": "assigned", "terms": {"max_activations": 1}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, created) = server.admin(Method::POST, "/v1/keymanager/api-keys", Some(json!({"name": "app"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let api_key = created["api_key"].as_str().unwrap().to_string();
        let mut codes = Vec::new();
        for identifier in ["host-1", "host-2"] {
            let response = server
                .http
                .post(server.url("/api/v1/activate"))
                .bearer_auth(&api_key)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("license_key={KM_KEY}&identifier={identifier}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert!(response.headers().contains_key("x-request-id"));
            codes.push(response.text().await.unwrap());
        }
        // Paths that carry licence keys: DNA's licence segment, Key Manager's download path, and
        // an unknown path.
        let dna = server.http.get(server.url(&format!("/dna/v1/Licenses/metrics-app/{KEY}"))).send().await.unwrap();
        assert!(dna.headers().contains_key("x-request-id"));
        let dna_status = dna.status().as_u16().to_string();
        let download = server
            .http
            .get(server.url(&format!("/api/v1/download/{api_key}/{KM_KEY}/host-1/1")))
            .send()
            .await
            .unwrap();
        let download_status = download.status().as_u16().to_string();
        let unknown = server.http.get(server.url(&format!("/nothing/here/{KEY}"))).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

        let after = scrape(&server).await;
        let delta = |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
        let activate_route = [("dialect", "native"), ("route", "/v1/licenses/actions/activate"), ("method", "POST")];
        let with = |base: &[(&'static str, &'static str)], status: &'static str| {
            let mut labels = base.to_vec();
            labels.push(("status", status));
            labels
        };
        let text = &after.text;
        assert_eq!(delta(REQUESTS, &with(&activate_route, "201")), 1.0, "{text}");
        assert_eq!(delta(REQUESTS, &with(&activate_route, "422")), 1.0, "{text}");
        assert_eq!(
            delta(REQUESTS, &[("dialect", "native"), ("route", "/v1/licenses/actions/validate"), ("method", "POST"), ("status", "200")]),
            2.0,
            "{text}"
        );
        assert_eq!(delta(DENIALS, &[("dialect", "native"), ("code", "ACTIVATION_LIMIT_REACHED")]), 1.0, "{text}");
        assert_eq!(delta(DENIALS, &[("dialect", "native"), ("code", "LICENSE_NOT_FOUND")]), 2.0, "{text}");
        assert_eq!(
            delta(
                "licensd_http_request_duration_seconds_count",
                &[("dialect", "native"), ("route", "/v1/licenses/actions/activate")]
            ),
            2.0,
            "{text}"
        );
        assert_eq!(
            delta(REQUESTS, &[("dialect", "keymanager"), ("route", "/api/v1/activate"), ("method", "POST"), ("status", "200")]),
            2.0,
            "{codes:?}\n{text}"
        );
        assert_eq!(
            delta(DENIALS, &[("dialect", "keymanager"), ("code", "ACTIVATION_LIMIT_REACHED")]),
            1.0,
            "{codes:?}\n{text}"
        );
        // Paths with keys are counted under their route template; no key is in any label.
        let dna_series = after
            .samples
            .iter()
            .filter(|((name, labels), _)| name == REQUESTS && labels.get("dialect").map(String::as_str) == Some("dna"))
            .map(|((_, labels), value)| (labels.clone(), *value))
            .collect::<Vec<_>>();
        assert_eq!(dna_series.len(), 1, "{dna_series:?}");
        assert!(dna_series[0].0["route"].starts_with("/dna/v1"), "{dna_series:?}");
        assert_eq!(dna_series[0].0["status"], dna_status);
        assert!(
            after.samples.iter().any(|((name, labels), _)| name == REQUESTS
                && labels.get("route").is_some_and(|r| r.starts_with("/api/v1/download/{"))
                && labels["status"] == download_status),
            "{text}"
        );
        assert_eq!(
            delta(REQUESTS, &[("dialect", "other"), ("route", "unmatched"), ("method", "GET"), ("status", "404")]),
            1.0,
            "{text}"
        );
        for secret in [KEY, KM_KEY, api_key.as_str()] {
            assert!(!text.contains(secret), "{secret} in the exposition:\n{text}");
        }
        assert!(after.label_values().all(|v| !v.contains("METRICS-SECRET")));

        // Database pools and (SQLite) the read cache.
        let main_pool = after.get("licensd_db_pool_max_connections", &[("pool", "main")]);
        assert!(main_pool >= 1.0, "{text}");
        assert!(after.get("licensd_db_pool_connections", &[("pool", "main")]) >= 1.0, "{text}");
        if server.backend == Backend::Sqlite {
            assert_eq!(after.get("licensd_db_pool_max_connections", &[("pool", "writer")]), 1.0, "{text}");
            let lookups: f64 = after
                .samples
                .iter()
                .filter(|((name, _), _)| name == "licensd_read_cache_lookups_total")
                .map(|(_, value)| value)
                .sum();
            assert!(lookups > 0.0, "{text}");
        } else {
            assert!(!text.contains("licensd_read_cache_lookups_total{"), "{text}");
        }
    }

    async fn the_metrics_listener_needs_no_token(server) {
        let data_dir = tempfile::tempdir().unwrap();
        let database_url = match server.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await.url),
        };
        let mut run = Run::start(server.backend, &data_dir, database_url.as_deref(), &["--metrics-listen", "127.0.0.1:0"], "warn");
        let metrics = run.metrics.clone().expect("the metrics address is printed");
        let http = reqwest::Client::new();
        let response = http.get(&metrics).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        parse(&response.text().await.unwrap()).unwrap();
        // Only /metrics is there; the main listener still wants a token.
        let other = metrics.replace("/metrics", "/v1/products");
        assert_eq!(http.get(&other).send().await.unwrap().status(), StatusCode::NOT_FOUND);
        let main = format!("{}/metrics", run.base);
        assert_eq!(http.get(&main).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        run.stop();
    }

    async fn json_logs_carry_the_request_id_and_no_secrets(server) {
        let data_dir = tempfile::tempdir().unwrap();
        let database_url = match server.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await.url),
        };
        let backend = server.backend;
        drop(server);
        let mut run = Run::start(
            backend,
            &data_dir,
            database_url.as_deref(),
            &["--log-format", "json"],
            "debug",
        );
        let http = reqwest::Client::new();
        let admin = |method: Method, path: &str, body: Value| {
            http.request(method, format!("{}{path}", run.base)).bearer_auth(ADMIN_TOKEN).json(&body).send()
        };
        let product: Value = admin(Method::POST, "/v1/products", json!({"code": "logs", "name": "Logs"})).await.unwrap().json().await.unwrap();
        const KEY: &str = "LOGS-SECRET-KEY-3M8P";
        let created = admin(
            Method::POST,
            "/v1/licenses",
            json!({"product_id": product["id"], "key": KEY, "terms": {"max_activations": 1}}),
        )
        .await
        .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);

        // The client's id is kept and returned.
        let chosen = "req-metrics-0042";
        let response = http
            .post(format!("{}/v1/licenses/actions/activate", run.base))
            .header("x-request-id", chosen)
            .json(&json!({"key": KEY, "fingerprint": "machine-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["x-request-id"], chosen);
        // An id that is not sane (spaces, too long) is replaced by a generated one.
        let mut generated = Vec::new();
        for bad in ["has spaces in it".to_string(), "x".repeat(129)] {
            let response = http
                .post(format!("{}/v1/licenses/actions/validate", run.base))
                .header("x-request-id", &bad)
                .json(&json!({"key": KEY, "fingerprint": "machine-1"}))
                .send()
                .await
                .unwrap();
            let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32, "{id}");
            generated.push(id);
        }
        assert_ne!(generated[0], generated[1]);
        // Every dialect answers with an id, refusals included; keys in paths and queries.
        let mut dialect_ids = Vec::new();
        for path in [
            format!("/api/v4/check_license?license_key={KEY}&hardware_id=h"),
            format!("/api/v1/download/some-api-key/{KEY}/host-1/1"),
            "/api/v2/isv/00000000-0000-0000-0000-000000000000/provisioning/activations".to_string(),
            format!("/dna/v1/Licenses/logs/{KEY}"),
            "/healthz".to_string(),
        ] {
            let response = http.get(format!("{}{path}", run.base)).send().await.unwrap();
            let id = response.headers().get("x-request-id").unwrap_or_else(|| panic!("no x-request-id on {path}"));
            dialect_ids.push(id.to_str().unwrap().to_string());
        }
        let response = http
            .post(format!("{}/api/v1/verify", run.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("license_key={KEY}&identifier=host-1"))
            .send()
            .await
            .unwrap();
        assert!(response.headers().contains_key("x-request-id"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let log = run.stop();

        let mut lines_by_id: HashMap<String, usize> = HashMap::new();
        let mut count = 0;
        for line in log.lines() {
            count += 1;
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            assert!(value["level"].is_string() && value["timestamp"].is_string(), "{line}");
            // A line inside a request carries its id in its span.
            if let Some(id) = value["span"]["request_id"].as_str() {
                assert!(!id.is_empty(), "{line}");
                *lines_by_id.entry(id.to_string()).or_default() += 1;
                let spans = value["spans"].as_array().unwrap_or_else(|| panic!("{line}"));
                assert!(spans.iter().any(|s| s["request_id"] == id), "{line}");
            }
        }
        assert!(count > 10, "{log}");
        for id in std::iter::once(chosen.to_string()).chain(generated).chain(dialect_ids) {
            assert!(lines_by_id.get(&id).copied().unwrap_or(0) >= 2, "no lines for request {id}:\n{log}");
        }
        for secret in [KEY, "some-api-key"] {
            assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        }
    }
}

/// A `licensd serve` started here (not by the harness) to read its stdout (the metrics address)
/// and capture its stderr (the log).
struct Run {
    child: Child,
    base: String,
    metrics: Option<String>,
    log_path: std::path::PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Run {
    fn start(
        backend: Backend,
        data_dir: &tempfile::TempDir,
        database_url: Option<&str>,
        extra: &[&str],
        log: &str,
    ) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--log", log])
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(extra)
            .env("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("LICENSD_LOG")
            .env_remove("LICENSD_LOG_FORMAT")
            .env_remove("LICENSD_DATABASE_URL")
            .env_remove("LICENSD_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let _ = backend;
        let mut child = command.spawn().expect("spawn licensd");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let mut metrics = None;
        let base = loop {
            match receiver.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(address) = line.strip_prefix("licensd: metrics on ") {
                        metrics = Some(address.to_string());
                    } else if let Some(address) = line.strip_prefix("licensd: listening on ") {
                        break address.to_string();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "licensd did not start: {}",
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
            }
        };
        Run {
            child,
            base,
            metrics,
            log_path,
            _log_dir: log_dir,
        }
    }

    /// Stops the server and returns what it wrote to stderr.
    fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log_path).unwrap()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Delivery attempts are counted by kind and result, and the queue depth by kind and state:
/// one endpoint's receiver answers 503 once and then 200 (one failed attempt, one delivered),
/// another's target never answers (its delivery stays pending).
async fn webhook_deliveries_are_counted(backend: Backend) {
    use crate::outbox::{FAST_RETRY, Receiver};
    let server = Server::start_fresh_with(backend, &FAST_RETRY).await;
    let before = scrape(&server).await;
    for kind in ["webhook", "keymanager.random_assign"] {
        for state in ["pending", "dead"] {
            let labels = [("kind", kind), ("state", state)];
            assert!(
                before.samples.contains_key(&(
                    "licensd_webhook_queue_depth".to_string(),
                    labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
                )),
                "{kind} {state} reported before any delivery:\n{}",
                before.text
            );
            assert_eq!(before.get("licensd_webhook_queue_depth", &labels), 0.0);
        }
    }
    let receiver = Receiver::start(1).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed_url = format!("http://{}/hook", closed.local_addr().expect("address"));
    drop(closed);
    for url in [receiver.url(), closed_url] {
        let (status, body) = server
            .admin(
                Method::POST,
                "/v1/webhooks",
                Some(json!({"url": url, "event_types": ["product.created"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    server.product("counted").await;
    let accepted = receiver.wait_for(1).await;
    assert_eq!(accepted.len(), 1, "{:?}", receiver.requests());
    let after = scrape(&server).await;
    const ATTEMPTS: &str = "licensd_webhook_delivery_attempts_total";
    assert_eq!(
        after.get(ATTEMPTS, &[("kind", "webhook"), ("result", "delivered")]),
        1.0,
        "{}",
        after.text
    );
    // The 503 once, and the closed port at least once more (retried every few hundred ms).
    assert!(
        after.get(ATTEMPTS, &[("kind", "webhook"), ("result", "failed")]) >= 2.0,
        "{}",
        after.text
    );
    assert_eq!(after.get(ATTEMPTS, &[("kind", "webhook"), ("result", "dead")]), 0.0);
    assert_eq!(
        after.get(
            "licensd_webhook_queue_depth",
            &[("kind", "webhook"), ("state", "pending")]
        ),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(
        after.get("licensd_webhook_queue_depth", &[("kind", "webhook"), ("state", "dead")]),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_webhook_deliveries_are_counted() {
    webhook_deliveries_are_counted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_webhook_deliveries_are_counted() {
    webhook_deliveries_are_counted(Backend::Postgres).await;
}
