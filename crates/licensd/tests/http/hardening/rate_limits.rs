//! The client API (`/v1/licenses/actions/*`) takes no credential: a license key is its only
//! secret. `--rate-limit-per-ip` bounds how fast one address can guess keys there, as it does for
//! every dialect: over the allowance, a signed 429 `rate_limited` with `Retry-After`, before the
//! request is read, and nothing changes.

use crate::harness::{Server, backend_tests, verify_signature};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests! {
    async fn client_api_guesses_are_limited_per_address(server) {
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--rate-limit-per-ip", "3"), ("--rate-limit-window-seconds", "60")]).await;
        let product = server.product("app").await;
        let license = server.license(product, "RL-KEY-1", json!({"max_activations": 5})).await;
        for guess in ["RL-KEY-2", "RL-KEY-3", "RL-KEY-4"] {
            let (status, body, _, _) = server.client_post("/v1/licenses/actions/validate", json!({"key": guess})).await;
            assert_eq!((status, &body["valid"], &body["code"]), (StatusCode::OK, &json!(false), &json!("LICENSE_NOT_FOUND")), "{body}");
        }
        // The right key is refused too once the address is over its allowance, on every action.
        for (path, body) in [
            ("/v1/licenses/actions/validate", json!({"key": "RL-KEY-1"})),
            ("/v1/licenses/actions/activate", json!({"key": "RL-KEY-1", "fingerprint": "device-1"})),
            ("/v1/licenses/actions/checkout-file", json!({"key": "RL-KEY-1", "fingerprint": "device-1"})),
        ] {
            let (status, answer, headers, bytes) = server.client_post(path, body).await;
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{path}: {answer}");
            let seconds: u64 = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
            assert!((1..=60).contains(&seconds), "{seconds}");
            let message = format!("too many requests from this address; retry in {seconds} s");
            assert_eq!(answer, json!({"error": {"code": "rate_limited", "message": message}}), "{path}");
            verify_signature(&server, &headers, &bytes).await;
        }
        // Nothing was activated; the admin API and probes are not limited.
        let (status, devices) = server.admin(Method::GET, &format!("/v1/licenses/{license}/devices"), None).await;
        assert_eq!((status, devices), (StatusCode::OK, Value::Array(vec![])));
        assert_eq!(server.admin(Method::GET, "/v1/products", None).await.0, StatusCode::OK);
        let probe = server.http.get(server.url("/readyz")).send().await.expect("readyz");
        assert_eq!(probe.status(), StatusCode::OK);

        // Behind a trusted proxy each forwarded client has its own allowance.
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--rate-limit-per-ip", "1"), ("--trusted-proxy", "127.0.0.1/32")]).await;
        let validate_from = |client: &'static str| {
            let request = server.http.post(server.url("/v1/licenses/actions/validate")).header("x-forwarded-for", client).json(&json!({"key": "RL-KEY-1"}));
            async move { request.send().await.expect("validate").status() }
        };
        assert_eq!(validate_from("203.0.113.7").await, StatusCode::OK);
        assert_eq!(validate_from("203.0.113.7").await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(validate_from("203.0.113.8").await, StatusCode::OK);

        // Without an allowance (the default) the client API is not limited.
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[]).await;
        for _ in 0..10 {
            let (status, body, _, _) = server.client_post("/v1/licenses/actions/validate", json!({"key": "RL-KEY-1"})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
}
