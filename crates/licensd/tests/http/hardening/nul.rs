//! A NUL character in any text input is refused at the edge with the dialect's own 400, on
//! SQLite and PostgreSQL alike (PostgreSQL cannot store it; it used to answer 503 / 500), and
//! nothing is written.

use crate::harness::backend_tests;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const NUL_MESSAGE_BODY: &str = "the request body contains a NUL character, which no text field may hold";

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

backend_tests! {
    async fn nul_in_native_inputs_is_a_400_and_writes_nothing(server) {
        let (status, body) = server
            .admin(Method::POST, "/v1/products", Some(json!({"code": "nul\u{0}code", "name": "n"})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body, json!({"error": {"code": "invalid_text", "message": NUL_MESSAGE_BODY}}));
        let (status, body) = server.admin(Method::GET, "/v1/products", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"].as_array().map(Vec::len), Some(0), "{body}");

        // In the query string and in a path segment.
        let (status, body) = server.admin(Method::GET, "/v1/licenses?key=a%00b", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "invalid_text");
        let (status, body) = server.admin(Method::GET, "/v1/products/a%00b", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            body,
            json!({"error": {"code": "invalid_text", "message": "the request path contains a NUL character, which no text field may hold"}})
        );

        // An escaped backslash before `u0000` is ordinary text and goes through.
        let product = server.product("plain").await;
        let (status, body) = server
            .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "KEY\\u0000TEXT", "terms": {}})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["key"], "KEY\\u0000TEXT");
    }

    async fn nul_in_dialect_inputs_is_each_dialects_400(server) {
        // LicenseSpring: its {status, code, message} error.
        let (status, body) = send(
            server.http.post(server.url("/api/v4/activate_license"))
                .json(&json!({"license_key": "AAAA\u{0}", "hardware_id": "hw"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body, json!({"status": 400, "code": "validation_error", "message": NUL_MESSAGE_BODY}));
        let (status, body) = send(server.http.get(server.url("/api/v4/check_license?license_key=A%00&hardware_id=h"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], "validation_error");

        // SLASCONE: ProblemDetails 400, no Retry-After.
        let response = server
            .http
            .post(server.url("/api/v2/isv/00000000-0000-0000-0000-000000000001/provisioning/activations"))
            .json(&json!({"license_key": "K\u{0}", "client_id": "c", "product_id": "00000000-0000-0000-0000-000000000002"}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("retry-after").is_none());
        let body: Value = response.json().await.expect("json");
        assert_eq!(body, json!({"title": "Bad Request", "status": 400, "detail": NUL_MESSAGE_BODY}));

        // DNA: {"Message": …}.
        let (status, body) = send(server.http.get(server.url("/dna/v1/licenses/A%00B"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body, json!({"Message": "the request path contains a NUL character, which no text field may hold"}));

        // Key Manager: the signed 901 "Incorrect data found" envelope, as a 400.
        let (status, body) = send(
            server.http.post(server.url("/api/v1/verify"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("api_key=x&license_key=a%00b&identifier=i"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["response"]["code"], 901, "{body}");
        assert_eq!(body["response"]["message"], "Incorrect data found");
        assert!(body["signature"].as_str().is_some_and(|s| !s.is_empty()), "{body}");
    }
}
