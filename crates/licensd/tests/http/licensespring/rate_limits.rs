//! `--rate-limit-per-ip` and `--rate-limit-per-credential` hold for the License API as for the
//! other dialects: over an allowance, a JSON 429 `too_many_requests` with `Retry-After` (a 4xx the
//! SDKs report as an API error, not as "server unreachable").

use super::*;
use crate::harness::Server;

#[track_caller]
fn assert_too_many(reply: &Reply, window: u64) -> u64 {
    let seconds: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=window).contains(&seconds), "{seconds}");
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.text());
    assert_eq!(
        reply.body,
        json!({"status": 429, "code": "too_many_requests", "message": format!("too many requests; retry in {seconds} s")})
    );
    seconds
}

backend_tests! {
    async fn license_api_rate_limits_per_address_and_per_credential(server) {
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--rate-limit-per-ip", "3"), ("--rate-limit-window-seconds", "60")]).await;
        product(&server, "app", json!({})).await;
        let cred = credential(&server, json!({})).await;
        let stranger = Cred { api_key: "no-such-key".into(), ..cred.clone() };
        // Per address, counted before authentication: failed and unknown calls count too.
        get(&server, &stranger, "product_details", &[("product", "app")]).await.error(400, "invalid_api_key");
        send(&server, Method::GET, "/api/v4/no_such_endpoint", &[], None).await.error(404, "not_found");
        get(&server, &cred, "product_details", &[("product", "app")]).await.ok();
        let over = get(&server, &cred, "product_details", &[("product", "app")]).await;
        assert_too_many(&over, 60);
        let activation = post(&server, &cred, "activate_license", ident("app", "hw-1", "NO-KEY")).await;
        assert_too_many(&activation, 60);
        // Other APIs keep their own allowance; probes are never limited.
        assert_eq!(server.admin(Method::GET, "/v1/products", None).await.0, StatusCode::OK);
        let probe = server.http.get(server.url("/healthz")).send().await.expect("healthz");
        assert_eq!(probe.status(), StatusCode::OK);

        // Per credential, counted once a request has authenticated: a credential's allowance is
        // not spent by requests that fail to authenticate with its key id.
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--rate-limit-per-credential", "2"), ("--rate-limit-window-seconds", "5")]).await;
        let other = credential(&server, json!({})).await;
        let forged = Cred { shared_key: "wrong".into(), ..cred.clone() };
        for _ in 0..3 {
            get(&server, &forged, "product_details", &[("product", "app")]).await.error(401, "signature_mismatch");
        }
        for _ in 0..2 {
            get(&server, &cred, "product_details", &[("product", "app")]).await.ok();
        }
        let over = get(&server, &cred, "product_details", &[("product", "app")]).await;
        let seconds = assert_too_many(&over, 5);
        get(&server, &other, "product_details", &[("product", "app")]).await.ok();
        // The window resets.
        tokio::time::sleep(Duration::from_millis(seconds * 1000 + 200)).await;
        get(&server, &cred, "product_details", &[("product", "app")]).await.ok();
    }
}
