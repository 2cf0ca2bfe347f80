//! Durable webhook delivery (issue 13, defect 7): Key Manager's queued random-assign result goes
//! to an outbox in the assignment's transaction and a worker POSTs it, retried with backoff,
//! across a kill -9, and exactly once with two nodes on one PostgreSQL database.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Retries come quickly in tests (production: 10 s doubling); attempts time out after 2 s.
pub(crate) const FAST_RETRY: [(&str, &str); 2] = [("--outbox-retry-base-ms", "200"), ("--webhook-timeout", "2")];

/// A receiver on 127.0.0.1 that answers the first `failures` requests 503 and the rest 200,
/// and keeps every request body with the status it answered.
pub(crate) struct Receiver {
    address: std::net::SocketAddr,
    log: Arc<Mutex<Vec<(u16, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub(crate) async fn start(failures: usize) -> Self {
        Self::on(
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            failures,
        )
    }

    fn on(listener: tokio::net::TcpListener, failures: usize) -> Self {
        let address = listener.local_addr().expect("address");
        let log: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                loop {
                    let Ok((mut socket, _)) = listener.accept().await else {
                        return;
                    };
                    let log = log.clone();
                    tokio::spawn(async move {
                        let Some(body) = read_request(&mut socket).await else {
                            return;
                        };
                        let status = {
                            let mut log = log.lock().unwrap();
                            let status = if log.len() < failures { 503 } else { 200 };
                            log.push((status, body));
                            status
                        };
                        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                        let _ = socket.write_all(reply.as_bytes()).await;
                    });
                }
            }
        });
        Self { address, log, task }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    pub(crate) fn requests(&self) -> Vec<(u16, String)> {
        self.log.lock().unwrap().clone()
    }

    /// The bodies answered 200.
    fn accepted(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b)
            .collect()
    }

    /// Waits until `count` bodies were accepted (at most 60 s), then a little longer for strays.
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.accepted().len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {:?} arrived",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Long enough for a second copy to show up if one were on its way (retries: 200 ms).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.accepted()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP request; returns its body.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return String::from_utf8(data[end + 4..end + 4 + length].to_vec()).ok();
            }
        }
    }
}

/// A Key Manager API key and `stock` in-stock keys of a new product; returns (api key, product).
async fn shop(server: &Server, stock: usize) -> (String, i64) {
    let product = server.product("outbox").await;
    let (status, created) = server
        .admin(
            Method::POST,
            "/v1/keymanager/api-keys",
            Some(json!({"name": "shop", "capabilities": ["all"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    for n in 0..stock {
        let id = server.license(product, &format!("OUTBOX-{n}"), json!({})).await;
        let (status, body) = server
            .admin(
                Method::PATCH,
                &format!("/v1/licenses/{id}"),
                Some(json!({"assignment": "in_stock"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (created["api_key"].as_str().expect("api_key").to_string(), product)
}

/// Percent-encodes a form value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The queued random assignment; asserts the 807 answer.
async fn queue(server: &Server, key: &str, product: i64, quantity: usize, hook: &str, identifier: &str) {
    let response = server
        .http
        .post(server.url("/api/v1/random-assign-license-keys-queued"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "api_key={}&product_id={product}&quantity={quantity}&webhook_url={}&identifier={}",
            enc(key),
            enc(hook),
            enc(identifier)
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let envelope: Value = response.json().await.expect("json");
    assert_eq!(envelope["response"]["code"], 807, "{envelope}");
}

/// The signed result inside a callback body.
fn result(body: &str) -> Value {
    let envelope: Value = serde_json::from_str(body).expect("callback body is JSON");
    let decoded =
        licensd_crypto::b64_decode(envelope["response_base64"].as_str().expect("response_base64")).expect("base64");
    let response: Value = serde_json::from_slice(&decoded).expect("signed response is JSON");
    assert_eq!(response, envelope["response"], "the signed text is the response");
    response
}

fn assigned_keys(result: &Value) -> Vec<String> {
    let mut keys: Vec<String> = result["license_keys"]
        .as_array()
        .expect("license_keys")
        .iter()
        .map(|k| k["license_key"].as_str().expect("key").to_string())
        .collect();
    keys.sort();
    keys
}

async fn in_stock(server: &Server) -> usize {
    let (_, list) = server.admin(Method::GET, "/v1/licenses?limit=100", None).await;
    list["data"]
        .as_array()
        .expect("license list")
        .iter()
        .filter(|l| l["assignment"] == "in_stock")
        .count()
}

async fn callback_arrives(backend: Backend) {
    let server = Server::start_fresh_with(backend, &FAST_RETRY).await;
    let (key, product) = shop(&server, 3).await;
    let receiver = Receiver::start(0).await;
    queue(&server, &key, product, 2, &receiver.url(), "order-1").await;
    let accepted = receiver.wait_for(1).await;
    assert_eq!(accepted.len(), 1, "{:?}", receiver.requests());
    let result = result(&accepted[0]);
    assert_eq!(
        (result["code"].as_i64(), result["identifier"].as_str()),
        (Some(803), Some("order-1")),
        "{result}"
    );
    assert_eq!(assigned_keys(&result), vec!["OUTBOX-0", "OUTBOX-1"]);
    assert_eq!(in_stock(&server).await, 1);
}

async fn unavailable_receiver_is_retried(backend: Backend) {
    let server = Server::start_fresh_with(backend, &FAST_RETRY).await;
    let (key, product) = shop(&server, 1).await;
    // Answers 503 twice, then 200.
    let receiver = Receiver::start(2).await;
    queue(&server, &key, product, 1, &receiver.url(), "order-2").await;
    let accepted = receiver.wait_for(1).await;
    let requests = receiver.requests();
    assert_eq!(
        requests.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![503, 503, 200]
    );
    // Every attempt carried the same signed result.
    assert!(requests.iter().all(|(_, body)| *body == accepted[0]));
    assert_eq!(result(&accepted[0])["code"], 803);
}

async fn kill9_between_commit_and_delivery(backend: Backend) {
    let server = Server::start_fresh_with(backend, &FAST_RETRY).await;
    let (key, product) = shop(&server, 1).await;
    // A port nobody listens on yet: every attempt before the kill is refused.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = port.local_addr().expect("address");
    drop(port);
    let hook = format!("http://{address}/hook");
    queue(&server, &key, product, 1, &hook, "order-3").await;
    // The assignment is committed; its callback has not been delivered.
    assert_eq!(in_stock(&server).await, 0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (data_dir, database_url) = server.stop();

    let receiver = Receiver::on(tokio::net::TcpListener::bind(address).await.expect("rebind"), 0);
    let server = Server::start_with(backend, data_dir, database_url, &FAST_RETRY).await;
    let accepted = receiver.wait_for(1).await;
    assert_eq!(
        receiver.requests().len(),
        1,
        "delivered once: {:?}",
        receiver.requests()
    );
    let result = result(&accepted[0]);
    assert_eq!(
        (result["code"].as_i64(), result["identifier"].as_str()),
        (Some(803), Some("order-3"))
    );
    assert_eq!(assigned_keys(&result), vec!["OUTBOX-0"]);
    drop(server);
}

/// The first outbox row's (status, attempts, last error), read from the database itself.
async fn outbox_row(server: &Server) -> (String, i64, Option<String>) {
    use sqlx::Connection;
    let sql = "SELECT status, attempts, last_error FROM outbox_deliveries ORDER BY id LIMIT 1";
    match &server.database_url {
        Some(url) => {
            let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query_as(sql)
                .fetch_one(&mut connection)
                .await
                .expect("outbox row")
        }
        None => {
            let url = format!("sqlite://{}", server.data_dir.path().join("licensd.db").display());
            let mut connection = sqlx::SqliteConnection::connect(&url).await.expect("connect");
            sqlx::query_as(sql)
                .fetch_one(&mut connection)
                .await
                .expect("outbox row")
        }
    }
}

/// The target is checked again at each attempt: a callback queued while private targets were
/// allowed is not sent to 127.0.0.1 by a server that refuses them (the refusal is recorded and
/// retried), and is sent once they are allowed again.
async fn private_target_is_refused_at_delivery(backend: Backend) {
    let server = Server::start_fresh_with(backend, &FAST_RETRY).await;
    let (key, product) = shop(&server, 1).await;
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = port.local_addr().expect("address");
    drop(port);
    queue(&server, &key, product, 1, &format!("http://{address}/hook"), "order-4").await;
    let (data_dir, database_url) = server.stop();

    let receiver = Receiver::on(tokio::net::TcpListener::bind(address).await.expect("rebind"), 0);
    let mut refusing = FAST_RETRY.to_vec();
    refusing.push(("LICENSD_ALLOW_PRIVATE_WEBHOOKS", "false"));
    let server = Server::start_with(backend, data_dir, database_url, &refusing).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let refused_attempts = loop {
        let (status, attempts, error) = outbox_row(&server).await;
        if error.as_deref().is_some_and(|e| e.contains("allowed address")) && attempts >= 3 {
            assert_eq!(status, "pending");
            break attempts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refusal recorded: {status} {attempts} {error:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());
    let (data_dir, database_url) = server.stop();

    let server = Server::start_with(backend, data_dir, database_url, &FAST_RETRY).await;
    let accepted = receiver.wait_for(1).await;
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(result(&accepted[0])["identifier"], "order-4");
    let (status, attempts, _) = outbox_row(&server).await;
    assert_eq!(status, "delivered");
    assert!(attempts > refused_attempts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_private_target_is_refused_at_delivery() {
    private_target_is_refused_at_delivery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_private_target_is_refused_at_delivery() {
    private_target_is_refused_at_delivery(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_callback_arrives() {
    callback_arrives(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_callback_arrives() {
    callback_arrives(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_unavailable_receiver_is_retried() {
    unavailable_receiver_is_retried(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_unavailable_receiver_is_retried() {
    unavailable_receiver_is_retried(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_kill9_between_commit_and_delivery() {
    kill9_between_commit_and_delivery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_kill9_between_commit_and_delivery() {
    kill9_between_commit_and_delivery(Backend::Postgres).await;
}

/// Two nodes on one PostgreSQL database: each callback is delivered once, whichever node
/// queued it. The receiver is down at first, so every delivery is retried by whichever node
/// claims it when it falls due again: both nodes compete for the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_nodes_deliver_each_callback_once() {
    const ORDERS: usize = 12;
    let database = PgDatabase::create().await;
    let master = licensd_crypto::MasterKey::generate().expect("master key").to_base64();
    let mut env = FAST_RETRY.to_vec();
    env.push(("LICENSD_MASTER_KEY", master.as_str()));
    let nodes = [
        Server::start_with(
            Backend::Postgres,
            tempfile::tempdir().unwrap(),
            Some(database.url.clone()),
            &env,
        )
        .await,
        Server::start_with(
            Backend::Postgres,
            tempfile::tempdir().unwrap(),
            Some(database.url),
            &env,
        )
        .await,
    ];
    let (key, product) = shop(&nodes[0], ORDERS).await;
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = port.local_addr().expect("address");
    drop(port);
    let hook = format!("http://{address}/hook");
    for order in 0..ORDERS {
        queue(&nodes[order % 2], &key, product, 1, &hook, &format!("order-{order}")).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let receiver = Receiver::on(tokio::net::TcpListener::bind(address).await.expect("rebind"), 0);
    let accepted = receiver.wait_for(ORDERS).await;
    assert_eq!(receiver.requests().len(), ORDERS, "{:?}", receiver.requests());
    let mut orders: Vec<String> = accepted
        .iter()
        .map(|body| result(body)["identifier"].as_str().expect("identifier").to_string())
        .collect();
    orders.sort();
    orders.dedup();
    assert_eq!(orders.len(), ORDERS, "each order once: {orders:?}");
    let mut keys: Vec<String> = accepted.iter().flat_map(|body| assigned_keys(&result(body))).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), ORDERS, "each key assigned once");
}
