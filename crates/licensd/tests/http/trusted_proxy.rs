//! `licensd serve --trusted-proxy`: the native client API's events and the console's sign-in
//! limiter see the client a trusted reverse proxy names in `X-Forwarded-For` (the dialects' own
//! cases are in `licensespring/trusted_proxy.rs` and `dna/trusted_proxy.rs`).

use crate::console_browser::PlainSession;
use crate::harness::{ADMIN_TOKEN, Server, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Restarts `server` on its database behind a trusted proxy on 127.0.0.1.
async fn behind_proxy(server: Server) -> Server {
    let backend = server.backend;
    let (data_dir, database_url) = server.stop();
    Server::start_with(backend, data_dir, database_url, &[("--trusted-proxy", "127.0.0.1/32")]).await
}

/// A native client-API activation with `X-Forwarded-For: forwarded`.
async fn activate_via(server: &Server, fingerprint: &str, forwarded: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .post(server.url("/v1/licenses/actions/activate"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"key": "XFF-KEY-1", "fingerprint": fingerprint}))
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

backend_tests! {
    async fn native_client_events_and_devices_record_the_forwarded_client(server) {
        let product = server.product("xff").await;
        let id = server.license(product, "XFF-KEY-1", json!({"max_activations": 5})).await;
        // No trusted proxy: the header is ignored.
        assert_eq!(activate_via(&server, "m-1", "203.0.113.7").await.0, StatusCode::CREATED);
        let server = behind_proxy(server).await;
        assert_eq!(activate_via(&server, "m-2", "203.0.113.7").await.0, StatusCode::CREATED);
        assert_eq!(activate_via(&server, "m-3", "192.0.2.1, ::ffff:198.51.100.9").await.0, StatusCode::CREATED);
        let (status, events) = server.admin(Method::GET, "/v1/events?action=license.activated", None).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        let sources: Vec<&Value> = events["data"].as_array().expect("events").iter().map(|e| &e["source_ip"]).collect();
        assert_eq!(sources, [&json!("127.0.0.1"), &json!("203.0.113.7"), &json!("198.51.100.9")]);
        let (status, devices) = server.admin(Method::GET, &format!("/v1/licenses/{id}/devices"), None).await;
        assert_eq!(status, StatusCode::OK, "{devices}");
        let devices = devices.as_array().cloned().or_else(|| devices["data"].as_array().cloned()).expect("devices");
        let ips: Vec<(&str, &str)> = devices
            .iter()
            .map(|d| (d["fingerprint"].as_str().unwrap_or(""), d["ip"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(ips, [("m-1", "127.0.0.1"), ("m-2", "203.0.113.7"), ("m-3", "198.51.100.9")]);
    }

    async fn console_sign_in_attempts_are_counted_per_forwarded_client(server) {
        let server = behind_proxy(server).await;
        let wrong = "wrong-token-0123456789";
        let from = |ip: &'static str| [("x-forwarded-for", ip)];
        for _ in 0..10 {
            assert_eq!(PlainSession::sign_in(&server, wrong, &from("203.0.113.7")).await.0, StatusCode::UNAUTHORIZED);
        }
        let (status, session, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &from("203.0.113.7")).await;
        assert_eq!((status, session.is_none()), (StatusCode::TOO_MANY_REQUESTS, true));
        // Another client behind the same proxy has its own allowance, and so has the proxy itself.
        let (status, session, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &from("198.51.100.9")).await;
        assert_eq!((status, session.is_some()), (StatusCode::SEE_OTHER, true));
        let (status, session, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[]).await;
        assert_eq!((status, session.is_some()), (StatusCode::SEE_OTHER, true));
    }
}

/// An invalid `--trusted-proxy` stops `serve` before it listens, with a message naming the entry.
#[test]
fn an_invalid_trusted_proxy_is_a_startup_error() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(crate::harness::binary())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxy",
            "127.0.0.1/32",
            "--trusted-proxy",
            "10.0.0.0/33",
        ])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("LICENSD_DATABASE_URL")
        .env_remove("LICENSD_TRUSTED_PROXY")
        .output()
        .expect("run licensd");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(output.stdout, b"");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "licensd: trusted_proxy must be an IP address or CIDR range such as 10.0.0.0/8, not \"10.0.0.0/33\": \"10.0.0.0/33\" has an invalid prefix length\n"
    );
}
