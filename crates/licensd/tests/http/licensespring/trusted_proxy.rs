//! `licensd serve --trusted-proxy`: behind a trusted reverse proxy a LicenseSpring credential's IP
//! allow-list and the events' `source_ip` see the client the proxy names in `X-Forwarded-For`;
//! without the setting the header is ignored (a client cannot choose its address).

use super::*;

/// A signed LicenseSpring POST with `X-Forwarded-For: forwarded` when given.
async fn post_via(server: &Server, cred: &Cred, endpoint: &str, body: Value, forwarded: Option<&str>) -> Reply {
    let mut headers = signed_headers(cred);
    if let Some(forwarded) = forwarded {
        headers.push(("x-forwarded-for", forwarded.to_string()));
    }
    let bytes = serde_json::to_vec(&body).expect("json");
    send(
        server,
        Method::POST,
        &format!("/api/v4/{endpoint}"),
        &headers,
        Some(bytes),
    )
    .await
}

/// The `source_ip` of every event with `action`, oldest first.
async fn source_ips(server: &Server, action: &str) -> Vec<Value> {
    let (status, events) = server
        .admin(Method::GET, &format!("/v1/events?action={action}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["source_ip"].clone())
        .collect()
}

backend_tests! {
    async fn licensespring_allow_lists_and_events_see_the_client_a_trusted_proxy_forwards(server) {
        let app = product(&server, "app", json!({})).await;
        let id = license(&server, json!({"product_id": app, "key": "AAAA-1111", "terms": {"max_activations": 10}})).await;
        let listed = credential(&server, json!({"ip_allowlist": ["203.0.113.7"]})).await;
        let open = credential(&server, json!({})).await;

        // No trusted proxy (the default): the header is ignored, the client is the peer 127.0.0.1.
        post_via(&server, &listed, "activate_license", ident("app", "hw-1", "AAAA-1111"), Some("203.0.113.7"))
            .await
            .error(401, "authentication_failure");
        assert!(devices(&server, id).await.is_empty(), "refused requests activate nothing");
        post_via(&server, &open, "activate_license", ident("app", "hw-0", "AAAA-1111"), Some("203.0.113.7"))
            .await
            .ok();
        assert_eq!(source_ips(&server, "license.activated").await, [json!("127.0.0.1")]);

        // Behind a trusted proxy on 127.0.0.1.
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--trusted-proxy", "127.0.0.1/32")]).await;
        let activated = post_via(&server, &listed, "activate_license", ident("app", "hw-1", "AAAA-1111"), Some("203.0.113.7")).await;
        assert_eq!(activated.ok()["license_key"], json!("AAAA-1111"));
        // Another client, a spoofed left-most entry, no header (the proxy itself) and a malformed
        // header (the proxy itself): all refused as from an address off the list.
        for forwarded in [Some("198.51.100.9"), Some("203.0.113.7, 198.51.100.9"), None, Some("203.0.113.7:4711")] {
            post_via(&server, &listed, "activate_license", ident("app", "hw-2", "AAAA-1111"), forwarded)
                .await
                .error(401, "authentication_failure");
        }
        // A chain of trusted proxies is walked: 127.0.0.1 is skipped.
        post_via(&server, &listed, "activate_license", ident("app", "hw-3", "AAAA-1111"), Some("192.0.2.1, 203.0.113.7, 127.0.0.1"))
            .await
            .ok();
        let fingerprints: Vec<String> = devices(&server, id)
            .await
            .iter()
            .filter_map(|device| device["fingerprint"].as_str().map(str::to_string))
            .collect();
        assert_eq!(fingerprints, ["hw-0", "hw-1", "hw-3"]);
        // The events record the forwarded client.
        assert_eq!(
            source_ips(&server, "license.activated").await,
            [json!("127.0.0.1"), json!("203.0.113.7"), json!("203.0.113.7")]
        );

        // The admin API's events too.
        let response = server
            .http
            .post(server.url("/v1/products"))
            .bearer_auth(crate::harness::ADMIN_TOKEN)
            .header("x-forwarded-for", "2001:db8::7")
            .json(&json!({"code": "forwarded", "name": "forwarded"}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(source_ips(&server, "product.created").await, [json!("127.0.0.1"), json!("2001:db8::7")]);
    }
}
