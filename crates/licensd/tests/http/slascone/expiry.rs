//! Issue 14: "expired" has one definition (`rules::is_expired`, grace included). A licence past
//! its expiry but inside its grace period is reported not expired and still valid, exactly as
//! LicenseSpring reports it (`licensespring::expiry`); past the grace it is expired. Runs on SQLite
//! and PostgreSQL and verifies every signature.

use super::*;
use std::time::{SystemTime, UNIX_EPOCH};

const HOUR_MS: i64 = 3_600_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("epoch").as_millis() as i64
}

backend_tests! {
    async fn a_licence_inside_its_grace_period_is_not_expired(server) {
        let setup = setup(&server).await;
        let license_id = server
            .license(setup.product_id, "GRACE-KEY", json!({"max_activations": 3, "grace_period_hours": 48}))
            .await;
        let client = Client::new(&server, setup.key.clone());
        let activate = json!({"product_id": PRODUCT, "license_key": "GRACE-KEY", "client_id": "C1"});
        assert_eq!(client.post("/provisioning/activations", activate).await.status, StatusCode::OK);
        // Expired an hour ago, with two days of grace.
        let (status, body) = server
            .admin(Method::PATCH, &format!("/v1/licenses/{license_id}"), Some(json!({"expires_at": now_ms() - HOUR_MS})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let validated = client.post("/provisioning/validate", json!({"license_key": "GRACE-KEY"})).await;
        assert_eq!(validated.status, StatusCode::OK, "{}", validated.body);
        assert_eq!(validated.body["is_license_expired"], false, "{}", validated.body);
        assert_eq!(validated.body["is_license_valid"], true, "{}", validated.body);
        let beat = client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1"})).await;
        assert_eq!(beat.status, StatusCode::OK, "{}", beat.body);
        assert_eq!(beat.body["is_license_expired"], false, "{}", beat.body);
        // Past the grace too: expired (1001 on the heartbeat).
        let (status, body) = server
            .admin(Method::PATCH, &format!("/v1/licenses/{license_id}"), Some(json!({"expires_at": now_ms() - 49 * HOUR_MS})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let validated = client.post("/provisioning/validate", json!({"license_key": "GRACE-KEY"})).await;
        assert_eq!(validated.body["is_license_expired"], true, "{}", validated.body);
        assert_eq!(validated.body["is_license_valid"], false, "{}", validated.body);
        conflict(&client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1"})).await, 1001, MSG_1001);
        client.verify_all().await;
    }
}
