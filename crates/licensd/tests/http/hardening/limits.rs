//! Durations, counts and amounts are bounded at the /v1 edge (`licensd_domain::limits`), and the
//! OpenAPI document states the same bounds. A lease of i64::MAX seconds used to be accepted and
//! made every SLASCONE answer about the licence panic.

use crate::harness::backend_tests;
use reqwest::{Method, StatusCode};
use serde_json::json;

backend_tests! {
    async fn numbers_beyond_the_documented_maxima_are_refused(server) {
        let product = server.product("limits").await;
        let floating = |lease: i64| json!({"product_id": product, "terms": {"floating": {"seats": 1, "lease_seconds": lease}}});
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(floating(i64::MAX))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            body,
            json!({"error": {"code": "invalid_body", "message": "terms.floating.lease_seconds must be between 1 and 31622400, not 9223372036854775807"}})
        );
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(floating(31_622_400))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let key = body["key"].as_str().expect("key").to_string();

        for (field, value, message) in [
            ("max_activations", json!({"max_activations": 1_000_000_001i64}), "terms.max_activations must be between 0 and 1000000000, not 1000000001"),
            ("grace_period_hours", json!({"grace_period_hours": i64::MAX}), "terms.grace_period_hours must be between 0 and 876600, not 9223372036854775807"),
        ] {
            let (status, body) = server
                .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "terms": value})))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
            assert_eq!(body["error"]["message"], message, "{field}");
        }
        let (status, body) = server
            .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "expires_at": i64::MAX})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["message"], "expires_at must be between 0 and 253402300799999, not 9223372036854775807");
        let (status, body) = server
            .admin(Method::POST, "/v1/policies", Some(json!({"product_id": product, "code": "p", "name": "p", "terms": {}, "duration_days": 36_526})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["message"], "duration_days must be between 0 and 36525, not 36526");

        // Consumption amounts on the native client API.
        let (status, body, _, _) = server
            .client_post("/v1/licenses/actions/consume", json!({"key": key, "amount": i64::MAX}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["message"], "amount must be between -1000000000 and 1000000000, not 9223372036854775807");

        // Only the one licence at the maximum was created.
        let (_, body) = server.admin(Method::GET, &format!("/v1/licenses?product_id={product}"), None).await;
        assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");
    }

    async fn openapi_states_the_maxima(server) {
        let (status, doc) = server.admin(Method::GET, "/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        let schemas = &doc["components"]["schemas"];
        let lease = &schemas["FloatingTerms"]["properties"]["lease_seconds"];
        assert_eq!((lease["minimum"].as_f64(), lease["maximum"].as_f64()), (Some(1.0), Some(31_622_400.0)), "{lease}");
        let activations = &schemas["LicenseTerms"]["properties"]["max_activations"];
        assert_eq!(activations["maximum"].as_f64(), Some(1_000_000_000.0), "{activations}");
        let amount = &schemas["ConsumeRequest"]["properties"]["amount"];
        assert_eq!((amount["minimum"].as_f64(), amount["maximum"].as_f64()), (Some(-1_000_000_000.0), Some(1_000_000_000.0)), "{amount}");
    }
}
