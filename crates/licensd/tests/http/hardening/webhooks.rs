//! Key Manager's queued random-assign callback refuses private, loopback and link-local
//! targets (901, nothing assigned) unless `--allow-private-webhooks` is set (as the harness does).

use crate::harness::{Backend, Server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Percent-encodes a form value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn queued(server: &Server, key: &str, product: i64, hook: &str) -> Value {
    let response = server
        .http
        .post(server.url("/api/v1/random-assign-license-keys-queued"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "api_key={}&product_id={product}&quantity=1&webhook_url={}",
            enc(key),
            enc(hook)
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let envelope: Value = response.json().await.expect("json");
    envelope["response"].clone()
}

async fn internal_targets_are_refused(backend: Backend) {
    let server = Server::start_fresh_with(backend, &[("LICENSD_ALLOW_PRIVATE_WEBHOOKS", "false")]).await;
    let product = server.product("hooks").await;
    let (status, created) = server
        .admin(
            Method::POST,
            "/v1/keymanager/api-keys",
            Some(json!({"name": "shop", "capabilities": ["all"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["api_key"].as_str().expect("api_key").to_string();
    server.license(product, "HOOK-1", json!({})).await;
    let (status, _) = server
        .admin(Method::PATCH, "/v1/licenses/1", Some(json!({"assignment": "in_stock"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    for hook in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hook",
        "http://[::ffff:127.0.0.1]:9/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0:9/hook",
    ] {
        let reply = queued(&server, &key, product, hook).await;
        assert_eq!(reply["code"], 901, "{hook}: {reply}");
    }
    // Nothing was assigned: the key is still in stock.
    let (_, license) = server.admin(Method::GET, "/v1/licenses/1", None).await;
    assert_eq!(license["assignment"], "in_stock", "{license}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_queued_callback_refuses_internal_targets() {
    internal_targets_are_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_queued_callback_refuses_internal_targets() {
    internal_targets_are_refused(Backend::Postgres).await;
}
