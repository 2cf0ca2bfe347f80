//! `licensd serve --trusted-proxy`: behind a trusted reverse proxy DNA's per-IP rate limit and a
//! credential's IP allow-list count the client the proxy names in `X-Forwarded-For`, each client
//! with its own allowance; without the setting the header is ignored and every request is the
//! peer's.

use super::*;

const CLIENT: &str = "203.0.113.7";
const OTHER: &str = "198.51.100.9";

/// A DNA GET as `(client_id, api_key)` with `X-Forwarded-For: forwarded` when given.
async fn get_via(server: &Server, auth: (&str, &str), path: &str, forwarded: Option<&str>) -> (StatusCode, Value) {
    let mut request = server
        .http
        .get(server.url(path))
        .header("Accept", "application/json")
        .basic_auth(auth.0, Some(auth.1));
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn limited(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        && body["Message"]
            .as_str()
            .is_some_and(|m| m.starts_with("API request limit exceeded; the limit resets in "))
}

/// A server on a fresh database of `backend` with two requests per client IP a minute and `extra`.
async fn limited_server(server: Server, extra: &[(&str, &str)]) -> Server {
    let backend = server.backend;
    let (data_dir, database_url) = server.stop();
    let mut flags = vec![("--rate-limit-per-ip", "2"), ("--rate-limit-window-seconds", "60")];
    flags.extend_from_slice(extra);
    Server::start_with(backend, data_dir, database_url, &flags).await
}

backend_tests! {
    async fn dna_limits_and_admits_each_client_a_trusted_proxy_forwards(server) {
        let server = limited_server(server, &[("--trusted-proxy", "127.0.0.1/32")]).await;
        let product_id = server.product("APP").await;
        license(&server, json!({"product_id": product_id, "key": "XFF-1"})).await;
        let (id, key, _) = credential(&server, json!({"ip_allowlist": [CLIENT]})).await;
        let auth = (id.as_str(), key.as_str());
        let path = "/dna/v1/Licenses/APP/XFF-1/status";
        let refused = (StatusCode::UNAUTHORIZED, message("The apiKey may not be used from this address"));

        let (status, body) = get_via(&server, auth, path, Some(CLIENT)).await;
        assert_eq!((status, body["Status"].as_str()), (StatusCode::OK, Some("EXISTS ACTIVATION RESERVED VALID")), "{body}");
        assert_eq!(get_via(&server, auth, path, Some(OTHER)).await, refused);
        assert_eq!(get_via(&server, auth, path, Some(CLIENT)).await.0, StatusCode::OK);
        // The allowed client's two requests are spent; the other client has one left, then none.
        let (status, body) = get_via(&server, auth, path, Some(CLIENT)).await;
        assert!(limited(status, &body), "{status} {body}");
        assert_eq!(get_via(&server, auth, path, Some(OTHER)).await, refused);
        let (status, body) = get_via(&server, auth, path, Some(&format!("{CLIENT}, {OTHER}"))).await;
        assert!(limited(status, &body), "a spoofed left-most entry is not the client: {status} {body}");
        // A third client, and the proxy itself (no header), each have their own allowance.
        assert_eq!(get_via(&server, auth, path, Some("192.0.2.50")).await, refused);
        assert_eq!(get_via(&server, auth, path, None).await, refused);
    }

    async fn dna_ignores_forwarded_addresses_without_a_trusted_proxy(server) {
        let server = limited_server(server, &[]).await;
        let product_id = server.product("APP").await;
        license(&server, json!({"product_id": product_id, "key": "XFF-1"})).await;
        let (id, key, _) = credential(&server, json!({"ip_allowlist": [CLIENT]})).await;
        let auth = (id.as_str(), key.as_str());
        let path = "/dna/v1/Licenses/APP/XFF-1/status";
        let refused = (StatusCode::UNAUTHORIZED, message("The apiKey may not be used from this address"));
        // The peer 127.0.0.1 is not on the list, whatever the header says, and all three
        // requests share its allowance.
        assert_eq!(get_via(&server, auth, path, Some(CLIENT)).await, refused);
        assert_eq!(get_via(&server, auth, path, Some(OTHER)).await, refused);
        let (status, body) = get_via(&server, auth, path, Some("192.0.2.50")).await;
        assert!(limited(status, &body), "{status} {body}");
    }
}
