//! `licensd serve --trusted-proxy`: behind a trusted reverse proxy an API key's IP allow-list and
//! the per-IP allowance see the client the proxy names in `X-Forwarded-For` (every answer's
//! envelope is verified, as in the parent module).

use super::*;

/// `verify` with an API key, from the client `forwarded` names; returns status and decoded answer.
async fn verify_via(km: &Km<'_>, key: &str, forwarded: &str) -> (StatusCode, Value) {
    let fields = [("license_key", "KM-XFF-1"), ("identifier", "host-1"), ("api_key", key)];
    let request =
        form(km.server.http.post(km.server.url("/api/v1/verify")), &fields).header("x-forwarded-for", forwarded);
    let (status, _, decoded) = km.envelope(request.send().await.unwrap()).await;
    (status, decoded)
}

backend_tests! {
    async fn key_manager_checks_and_counts_the_client_a_trusted_proxy_forwards(server) {
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let flags = [("--trusted-proxy", "127.0.0.1/32"), ("--rate-limit-per-ip", "2"), ("--rate-limit-window-seconds", "60")];
        let server = Server::start_with(backend, data_dir, database_url, &flags).await;
        let km = Km::new(&server).await;
        let product = server.product("km-xff").await;
        assigned_license(&server, product, "KM-XFF-1", 1).await;
        let (_, listed) = api_key(&server, json!({"name": "listed", "ip_allowlist": ["203.0.113.7"]})).await;
        let refused = |(status, decoded): (StatusCode, Value)| {
            assert_eq!(
                (status, decoded["code"].as_i64(), decoded["message"].as_str()),
                (StatusCode::UNAUTHORIZED, Some(103), Some("API key can't be used from this IP address")),
                "{decoded}"
            );
        };

        let (status, decoded) = verify_via(&km, &listed, "203.0.113.7").await;
        assert_eq!((status, decoded["code"].as_i64()), (StatusCode::OK, Some(202)), "{decoded}");
        refused(verify_via(&km, &listed, "198.51.100.9").await);
        // A spoofed left-most entry is not the client.
        refused(verify_via(&km, &listed, "203.0.113.7, 198.51.100.9").await);
        // The allowed client's second request, then its allowance is spent; another client's is not.
        assert_eq!(verify_via(&km, &listed, "203.0.113.7").await.1["code"], 202);
        let (status, decoded) = verify_via(&km, &listed, "203.0.113.7").await;
        assert_eq!(
            (status, decoded["code"].as_i64(), decoded["message"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some(429), Some("Too Many Requests")),
            "{decoded}"
        );
        refused(verify_via(&km, &listed, "192.0.2.50").await);
        km.finish();
    }
}
