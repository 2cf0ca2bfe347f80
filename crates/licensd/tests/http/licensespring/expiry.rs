//! Issue 14: "expired" has one definition (`rules::is_expired`, grace included). A licence past
//! its `validity_period` but inside its `grace_period` checks as not expired (reference 6.2:
//! `validity_with_grace`), exactly as SLASCONE reports it (`slascone::expiry`); past the grace it
//! is expired. Runs on SQLite and PostgreSQL; every answer's v2 signature is verified.

use super::*;

const HOUR_MS: i64 = 3_600_000;

backend_tests! {
    async fn a_licence_inside_its_grace_period_is_not_expired(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({})).await;
        let id = license(&server, json!({"product_id": app, "key": "GRACE", "terms": {"max_activations": 1, "grace_period_hours": 48}})).await;
        post(&server, &cred, "activate_license", ident("app", "hw", "GRACE")).await.ok();
        let (status, body) = server
            .admin(Method::PATCH, &format!("/v1/licenses/{id}"), Some(json!({"expires_at": now_ms() - HOUR_MS})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let query = [("product", "app"), ("hardware_id", "hw"), ("license_key", "GRACE")];
        let checked = get(&server, &cred, "check_license", &query).await;
        assert_eq!(checked.ok()["is_expired"], json!(false));
        verify_v2(&server, &checked).await;
        let (status, body) = server
            .admin(Method::PATCH, &format!("/v1/licenses/{id}"), Some(json!({"expires_at": now_ms() - 49 * HOUR_MS})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let checked = get(&server, &cred, "check_license", &query).await;
        assert_eq!(checked.ok()["is_expired"], json!(true));
        verify_v2(&server, &checked).await;
    }
}
