//! kill -9 (tests/reliability/README.md): concurrent activations and consumptions with
//! idempotency keys, the server SIGKILLed at a random moment and restarted on the same database,
//! `LICENSD_RELIABILITY_KILL_CYCLES` times (default 10) per database. After each restart:
//! - every acknowledged write is there (acknowledged activations are active devices, acknowledged
//!   consumptions replay as `replayed: true` with their key),
//! - nothing is over a limit (active devices, consumption cap),
//! - retrying the requests that were in flight at the kill, with their idempotency keys (or
//!   their fingerprints for activations), makes the counters exactly what the answers say.

use crate::harness::Backend;
use crate::reliability_support::{LoggedServer, Rng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ACTIVATION_KEY: &str = "KILL9-ACTIVATE-0001";
const CONSUMPTION_KEY: &str = "KILL9-CONSUME-0001";
const MAX_ACTIVATIONS: i64 = 150;
const MAX_CONSUMPTION: i64 = 1500;
const WORKERS: usize = 8;

#[derive(Debug, Clone)]
enum Op {
    Activate { fingerprint: String },
    Consume { key: String, amount: i64 },
}

impl Op {
    fn request(&self) -> (&'static str, Value) {
        match self {
            Op::Activate { fingerprint } => (
                "/v1/licenses/actions/activate",
                json!({"key": ACTIVATION_KEY, "fingerprint": fingerprint}),
            ),
            Op::Consume { key, amount } => (
                "/v1/licenses/actions/consume",
                json!({"key": CONSUMPTION_KEY, "amount": amount, "idempotency_key": key}),
            ),
        }
    }
}

/// What the client learnt about one request.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// The write happened (201/200 with the success code).
    Done,
    /// Refused by a limit (422): nothing written.
    Refused,
    /// No answer: the server died while the request was in flight.
    Unknown,
}

/// Sends `op` once; `Err` carries an unexpected answer (never acceptable, killed or not).
async fn send(http: &reqwest::Client, base: &str, op: &Op) -> Result<(Outcome, Value), String> {
    let (path, body) = op.request();
    let response = match http.post(format!("{base}{path}")).json(&body).send().await {
        Ok(response) => response,
        Err(_) => return Ok((Outcome::Unknown, Value::Null)),
    };
    let status = response.status();
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(_) => return Ok((Outcome::Unknown, Value::Null)),
    };
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = value["code"]
        .as_str()
        .or_else(|| value["error"]["code"].as_str())
        .unwrap_or("");
    let outcome = match (op, status, code) {
        (Op::Activate { .. }, StatusCode::CREATED, "ACTIVATED") => Outcome::Done,
        (Op::Activate { .. }, StatusCode::OK, "ALREADY_ACTIVE") => Outcome::Done,
        (Op::Activate { .. }, StatusCode::UNPROCESSABLE_ENTITY, "ACTIVATION_LIMIT_REACHED") => Outcome::Refused,
        (Op::Consume { .. }, StatusCode::OK, "CONSUMED") => Outcome::Done,
        (Op::Consume { .. }, StatusCode::UNPROCESSABLE_ENTITY, "CONSUMPTION_LIMIT_REACHED") => Outcome::Refused,
        _ => {
            return Err(format!(
                "{op:?}: unexpected {status} {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
    };
    Ok((outcome, value))
}

struct Record {
    op: Op,
    outcome: Outcome,
}

async fn active_fingerprints(server: &LoggedServer, license: i64) -> BTreeSet<String> {
    let (status, body) = server
        .admin(Method::GET, &format!("/v1/licenses/{license}/devices"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .expect("devices")
        .iter()
        .filter(|d| d["deactivated_at"].is_null())
        .map(|d| d["fingerprint"].as_str().expect("fingerprint").to_string())
        .collect()
}

async fn consumption_used(server: &LoggedServer, license: i64) -> i64 {
    let (status, body) = server
        .admin(Method::GET, &format!("/v1/licenses/{license}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["consumption_used"].as_i64().expect("consumption_used")
}

fn cycles() -> usize {
    std::env::var("LICENSD_RELIABILITY_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

async fn kill9_cycles(backend: Backend) {
    let mut rng = Rng::from_env(&format!("kill9 {backend:?}"));
    let mut server = LoggedServer::start(backend).await;
    let product = server
        .admin_ok(Method::POST, "/v1/products", json!({"code": "kill9", "name": "kill9"}))
        .await["id"]
        .as_i64()
        .expect("product id");
    let activation_license = server
        .admin_ok(
            Method::POST,
            "/v1/licenses",
            json!({"product_id": product, "key": ACTIVATION_KEY, "terms": {"max_activations": MAX_ACTIVATIONS}}),
        )
        .await["id"]
        .as_i64()
        .expect("license id");
    let consumption_license = server
        .admin_ok(
            Method::POST,
            "/v1/licenses",
            json!({"product_id": product, "key": CONSUMPTION_KEY, "terms": {
                "license_type": "consumption", "max_activations": null,
                "consumption": {"max_consumptions": MAX_CONSUMPTION}}}),
        )
        .await["id"]
        .as_i64()
        .expect("license id");

    // Every request ever sent, with its final outcome (after retries).
    let mut history: Vec<Record> = Vec::new();
    let mut limit_refusals = 0usize;
    let mut in_flight_total = 0usize;
    for cycle in 0..cycles() {
        let records: Arc<Mutex<Vec<Record>>> = Arc::default();
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut workers = Vec::new();
        for worker in 0..WORKERS {
            let http = server.http.clone();
            let base = server.base.clone();
            let records = Arc::clone(&records);
            let errors = Arc::clone(&errors);
            let seed = rng.next();
            workers.push(tokio::spawn(async move {
                let mut local = Rng::seeded(seed);
                for i in 0.. {
                    let id = format!("c{cycle}-w{worker}-{i}");
                    let op = if local.next().is_multiple_of(2) {
                        Op::Activate { fingerprint: id }
                    } else {
                        Op::Consume {
                            key: id,
                            amount: local.range(1, 3) as i64,
                        }
                    };
                    match send(&http, &base, &op).await {
                        Ok((outcome, _)) => {
                            let stop = outcome == Outcome::Unknown;
                            records.lock().expect("records").push(Record { op, outcome });
                            if stop {
                                return;
                            }
                        }
                        Err(error) => {
                            errors.lock().expect("errors").push(error);
                            return;
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.range(30, 400))).await;
        server.kill9();
        for worker in workers {
            tokio::time::timeout(Duration::from_secs(60), worker)
                .await
                .expect("worker stops after the kill")
                .expect("worker task");
        }
        let errors = std::mem::take(&mut *errors.lock().expect("errors"));
        assert!(
            errors.is_empty(),
            "cycle {cycle}: unexpected answers:\n{}",
            errors.join("\n")
        );
        server.restart();

        let mut records = std::mem::take(&mut *records.lock().expect("records"));
        // 1. Every acknowledged write survived the kill.
        let active = active_fingerprints(&server, activation_license).await;
        for record in records.iter().filter(|r| r.outcome == Outcome::Done) {
            match &record.op {
                Op::Activate { fingerprint } => assert!(
                    active.contains(fingerprint),
                    "cycle {cycle}: acknowledged activation {fingerprint} lost after kill -9"
                ),
                Op::Consume { .. } => {
                    let (outcome, body) = send(&server.http, &server.base, &record.op)
                        .await
                        .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
                    assert_eq!(outcome, Outcome::Done, "cycle {cycle}: {record:?}", record = record.op);
                    assert_eq!(
                        body["replayed"],
                        json!(true),
                        "cycle {cycle}: acknowledged consumption {:?} lost after kill -9: {body}",
                        record.op
                    );
                }
            }
        }
        // 2. Nothing over a limit, even before the in-flight requests are settled.
        let used = consumption_used(&server, consumption_license).await;
        assert!(
            active.len() as i64 <= MAX_ACTIVATIONS,
            "cycle {cycle}: {} active devices",
            active.len()
        );
        assert!(
            used <= MAX_CONSUMPTION,
            "cycle {cycle}: consumption {used} over the cap"
        );

        // 3. Retry what was in flight with the same keys; then the counters are exact.
        for record in records.iter_mut().filter(|r| r.outcome == Outcome::Unknown) {
            in_flight_total += 1;
            let (outcome, _) = send(&server.http, &server.base, &record.op)
                .await
                .unwrap_or_else(|e| panic!("cycle {cycle}: retry: {e}"));
            assert_ne!(outcome, Outcome::Unknown, "cycle {cycle}: retry got no answer");
            record.outcome = outcome;
        }
        limit_refusals += records.iter().filter(|r| r.outcome == Outcome::Refused).count();
        history.extend(records);

        let expected_active: BTreeSet<String> = history
            .iter()
            .filter_map(|r| match (&r.op, &r.outcome) {
                (Op::Activate { fingerprint }, Outcome::Done) => Some(fingerprint.clone()),
                _ => None,
            })
            .collect();
        let expected_used: i64 = history
            .iter()
            .filter_map(|r| match (&r.op, &r.outcome) {
                (Op::Consume { amount, .. }, Outcome::Done) => Some(*amount),
                _ => None,
            })
            .sum();
        assert_eq!(
            active_fingerprints(&server, activation_license).await,
            expected_active,
            "cycle {cycle}: active devices differ from the acknowledged activations"
        );
        assert_eq!(
            consumption_used(&server, consumption_license).await,
            expected_used,
            "cycle {cycle}: consumption differs from the acknowledged amounts"
        );
    }
    let panics = server.panic_lines();
    assert!(panics.is_empty(), "panics in the server log:\n{}", panics.join("\n"));
    if backend == Backend::Sqlite {
        // One more kill, then SQLite itself checks the file: every page, index and constraint.
        server.kill9();
        assert_eq!(
            sqlite_integrity_check(&server.data_dir.join("licensd.db")).await,
            ["ok"]
        );
    }
    eprintln!(
        "kill9 {backend:?}: {} cycles, {} requests, {in_flight_total} in flight at a kill, {limit_refusals} limit refusals",
        cycles(),
        history.len()
    );
    assert!(history.len() > cycles() * WORKERS, "too few requests to mean anything");
}

/// `PRAGMA integrity_check` (and `foreign_key_check`) of a SQLite database file nobody has open:
/// `["ok"]` when sound, else SQLite's list of problems.
async fn sqlite_integrity_check(path: &std::path::Path) -> Vec<String> {
    use sqlx::{Connection, Row};
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false);
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("open the database file");
    let mut report: Vec<String> = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&mut connection)
        .await
        .expect("integrity_check")
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    let dangling = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut connection)
        .await
        .expect("foreign_key_check");
    report.extend(
        dangling
            .iter()
            .map(|row| format!("foreign key violation in {}", row.get::<String, _>(0))),
    );
    let _ = connection.close().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_kill9_keeps_every_acknowledged_write_and_every_limit() {
    kill9_cycles(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_kill9_keeps_every_acknowledged_write_and_every_limit() {
    kill9_cycles(Backend::Postgres).await;
}
