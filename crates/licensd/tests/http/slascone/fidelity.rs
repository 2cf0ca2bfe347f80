//! Issue 12 (dialect fidelity), SLASCONE points: each test runs on SQLite and PostgreSQL and
//! verifies every signature independently (the parent module's `Client`).

use super::*;

backend_tests! {
    async fn every_answer_under_the_mount_is_signed_and_slascone_shaped(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        // A path below the mount that is no route: SLASCONE's 404, signed.
        let answer = client.post("/provisioning/no_such_route", json!({})).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.body, json!({"title": "Not Found", "status": 404, "detail": "route not found"}));
        let answer = client.send(Method::GET, "", None, &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.body["status"], 404);
        // A route of the dialect with a method it does not serve: 405, signed, with Allow.
        let answer = client.send(Method::GET, "/provisioning/activations", None, &[]).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.body, json!({"title": "Method Not Allowed", "status": 405}));
        let allow = answer.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(allow.contains("POST"), "Allow: {allow}");
        let answer = client.send(Method::DELETE, "/licenses/00000000-0000-8000-8000-000000000001", None, &[]).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        // A body over the server's limit: 413 in the dialect's shape, signed, on a client route and
        // on a back-office route; nothing was activated.
        let big = json!({"product_id": PRODUCT, "license_key": "x".repeat(1_200_000), "client_id": "C1"});
        let answer = client.post("/provisioning/activations", big.clone()).await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            answer.body,
            json!({"title": "Payload Too Large", "status": 413, "detail": "the request body is too large"})
        );
        let answer = admin_call(&client, Method::POST, "/customers", Some(big)).await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        // The X-Nonce is signed on these answers too.
        let nonce = [9u8; 16];
        let nonce_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce);
        let answer = client.send(Method::PUT, "/provisioning/activations", None, &[("X-Nonce", nonce_b64.as_str())]).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        let signature = answer.headers.get("x-nonce-signature").and_then(|v| v.to_str().ok()).expect("nonce signature").to_owned();
        client.record_nonce(&nonce, &signature);
        // Outside the mount licensd keeps its native shape.
        let response = server.http.get(server.url("/no/such/route")).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.headers().get("x-slascone-signature").is_none());
        client.verify_all().await;
    }
}
