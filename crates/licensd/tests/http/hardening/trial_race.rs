//! One LicenseSpring trial per product and hardware id, even when many clients ask at once (it
//! was check-then-insert without a lock; a unique index on the trial marker now decides).

use crate::harness::{Server, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::SystemTime;

async fn credential(server: &Server) -> (String, String) {
    let (status, created) = server
        .admin(
            Method::POST,
            "/v1/credentials",
            Some(json!({"dialect": "licensespring", "name": "app"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["credential"]["key_id"].as_str().expect("key_id").to_string(),
        created["secret"].as_str().expect("secret").to_string(),
    )
}

async fn trial_key(server: &Server, api_key: &str, shared_key: &str, hardware_id: &str) -> (StatusCode, Value) {
    let date = httpdate::fmt_http_date(SystemTime::now());
    let message = format!("licenseSpring\ndate: {date}");
    let signature = licensd_crypto::b64(&licensd_crypto::hmac_sha256(shared_key.as_bytes(), message.as_bytes()));
    let authorization =
        format!("algorithm=\"hmac-sha256\",headers=\"date\",signature=\"{signature}\",apiKey=\"{api_key}\"");
    let response = server
        .http
        .get(server.url(&format!("/api/v4/trial_key?product=racer&hardware_id={hardware_id}")))
        .header("date", date)
        .header("authorization", authorization)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

backend_tests! {
    async fn concurrent_trial_requests_issue_one_trial_per_device(server) {
        let server = std::sync::Arc::new(server);
        let (status, body) = server
            .admin(Method::POST, "/v1/products", Some(json!({"code": "racer", "name": "racer", "trial_allowed": true, "trial_days": 7})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let product = body["id"].as_i64().expect("id");
        let (api_key, shared_key) = credential(&server).await;
        for round in 0..3 {
            let hardware_id = format!("race-hw-{round}");
            let mut tasks = Vec::new();
            for _ in 0..24 {
                let (server, api_key, shared_key, hardware_id) =
                    (server.clone(), api_key.clone(), shared_key.clone(), hardware_id.clone());
                tasks.push(tokio::spawn(async move { trial_key(&server, &api_key, &shared_key, &hardware_id).await }));
            }
            let mut keys = std::collections::BTreeSet::new();
            for task in tasks {
                let (status, body) = task.await.expect("task");
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(body["is_trial"], json!(true), "{body}");
                keys.insert(body["license_key"].as_str().expect("license_key").to_string());
            }
            assert_eq!(keys.len(), 1, "every client got the same trial: {keys:?}");
        }
        let (_, body) = server.admin(Method::GET, &format!("/v1/licenses?product_id={product}&limit=100"), None).await;
        assert_eq!(body["data"].as_array().map(Vec::len), Some(3), "one trial per device: {body}");
        let (_, events) = server.admin(Method::GET, "/v1/events?action=license.trial_issued&limit=500", None).await;
        let issued = events["data"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|event| event["action"] == "license.trial_issued")
            .count();
        assert_eq!(issued, 3, "one trial_issued event per device");
    }
}
