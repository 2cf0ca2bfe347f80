//! Admin tokens' limits (`POST /v1/admin-tokens` with `expires_at` and `ip_allowlist`), enforced
//! by the one `Admin` extractor with `access::admit_admin`: an expired token gets 401, a request
//! from outside the allow-list 403 `ip_not_allowed`, a refused request changes nothing, bad
//! limits at creation get the native 422. The console's sign-in and SLASCONE's `AdminKey` obey
//! the same rule. On SQLite and PostgreSQL.

use crate::console_browser::PlainSession;
use crate::harness::{Server, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("millis fit")
}

/// Creates an admin token with `body` (as the bootstrap administrator); returns the answer.
async fn create(server: &Server, body: Value) -> Value {
    let (status, created) = server.admin(Method::POST, "/v1/admin-tokens", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

fn secret(created: &Value) -> String {
    created["secret"].as_str().expect("secret").to_string()
}

/// `method path` with `token` as the bearer (and `forwarded` as `X-Forwarded-For`).
async fn call(
    server: &Server,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    forwarded: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = server.http.request(method, server.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.expect("json body"))
}

/// A SLASCONE back-office call (`AdminKey: token`) creating a customer.
async fn slascone_customer(server: &Server, token: &str) -> (StatusCode, Value) {
    let path = format!("/api/v2/isv/{}/customers", crate::harness::SLASCONE_ISV);
    let response = server
        .http
        .post(server.url(&path))
        .header("AdminKey", token)
        .json(&json!({"company_name": "X", "customer_number": "1", "email": "x@example.com"}))
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("json body"))
}

fn slascone_refusal(detail: &str) -> Value {
    json!({"title": "Unauthorized", "status": 401, "detail": detail})
}

/// How many events the log holds.
async fn event_count(server: &Server) -> usize {
    let (mut count, mut after) = (0, 0);
    loop {
        let (status, page) = server
            .admin(Method::GET, &format!("/v1/events?after={after}&limit=500"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let data = page["data"].as_array().expect("events");
        count += data.len();
        if let Some(last) = data.last() {
            after = last["id"].as_i64().expect("event id");
        }
        if page["next_after"].is_null() {
            return count;
        }
    }
}

fn expired_body() -> Value {
    json!({"error": {"code": "unauthorized", "message": "this admin token has expired"}})
}

fn ip_refused_body() -> Value {
    json!({"error": {"code": "ip_not_allowed", "message": "this admin token may not be used from this address"}})
}

fn invalid(message: &str) -> Value {
    json!({"error": {"code": "invalid_body", "message": message}})
}

backend_tests! {
    async fn an_admin_token_works_until_its_expiry_then_gets_401(server) {
        let expires_at = now_ms() + 2_000;
        let created = create(&server, json!({"name": "ci", "expires_at": expires_at})).await;
        assert_eq!(created["token"]["expires_at"], json!(expires_at));
        assert_eq!(created["token"]["ip_allowlist"], json!([]));
        let token = secret(&created);
        let (status, body) = call(&server, &token, Method::GET, "/v1/products", None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = call(&server, &token, Method::POST, "/v1/products", Some(json!({"code": "before", "name": "Before"})), None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, session, _) = PlainSession::sign_in(&server, &token, &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let session = session.expect("console session");
        assert_eq!(session.get("/console").await.0, StatusCode::OK);

        while now_ms() <= expires_at {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let events = event_count(&server).await;
        let (status, body) = call(&server, &token, Method::GET, "/v1/products", None, None).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, expired_body()));
        let (status, body) = call(&server, &token, Method::POST, "/v1/products", Some(json!({"code": "after", "name": "After"})), None).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, expired_body()));
        // SLASCONE's back office takes admin tokens as `AdminKey`: the same rule, its own 401.
        let (status, body) = slascone_customer(&server, &token).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, slascone_refusal("the AdminKey has expired")));
        assert_eq!(event_count(&server).await, events, "a refused request changes nothing");
        let (_, products) = server.admin(Method::GET, "/v1/products", None).await;
        let codes: Vec<&Value> = products["data"].as_array().expect("products").iter().map(|p| &p["code"]).collect();
        assert_eq!(codes, [&json!("before")]);
        // The bootstrap token has no limits.
        let (status, _) = server.admin(Method::GET, "/v1/products", None).await;
        assert_eq!(status, StatusCode::OK);
        // The console session ends with its token, and an expired token opens no new one.
        assert_eq!(session.get("/console").await.0, StatusCode::SEE_OTHER);
        let (status, session, _) = PlainSession::sign_in(&server, &token, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(session.is_none());
    }

    async fn an_admin_token_is_refused_outside_its_ip_allowlist(server) {
        let elsewhere = create(&server, json!({"name": "shop", "ip_allowlist": ["203.0.113.7"]})).await;
        assert_eq!(elsewhere["token"]["ip_allowlist"], json!(["203.0.113.7"]));
        assert!(elsewhere["token"]["expires_at"].is_null());
        let elsewhere = secret(&elsewhere);
        let events = event_count(&server).await;
        let (status, body) = call(&server, &elsewhere, Method::GET, "/v1/products", None, None).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, ip_refused_body()));
        let (status, body) = call(&server, &elsewhere, Method::POST, "/v1/products", Some(json!({"code": "x", "name": "X"})), None).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, ip_refused_body()));
        let (status, body) = slascone_customer(&server, &elsewhere).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, slascone_refusal("the AdminKey may not be used from this address")));
        assert_eq!(event_count(&server).await, events, "a refused request changes nothing");
        // A client cannot pick its address with X-Forwarded-For: no proxy is trusted here.
        let (status, body) = call(&server, &elsewhere, Method::GET, "/v1/products", None, Some("203.0.113.7")).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, ip_refused_body()));
        // The address is checked before read-only.
        let read_only = secret(&create(&server, json!({"name": "ro", "read_only": true, "ip_allowlist": ["198.51.100.0/24"]})).await);
        let (status, body) = call(&server, &read_only, Method::POST, "/v1/products", Some(json!({"code": "x", "name": "X"})), None).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, ip_refused_body()));
        let local_reader = secret(&create(&server, json!({"name": "local-ro", "read_only": true, "ip_allowlist": ["127.0.0.1"]})).await);
        let (status, body) = slascone_customer(&server, &local_reader).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, slascone_refusal("the AdminKey is read-only")));
        let (status, _, _) = PlainSession::sign_in(&server, &elsewhere, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no console session from outside the list");

        let here = secret(&create(&server, json!({"name": "local", "ip_allowlist": ["10.0.0.0/8", "127.0.0.1"]})).await);
        let (status, body) = call(&server, &here, Method::POST, "/v1/products", Some(json!({"code": "local", "name": "Local"})), None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = slascone_customer(&server, &here).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, session, _) = PlainSession::sign_in(&server, &here, &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(session.is_some());

        // Behind a trusted proxy the forwarded client is the address checked.
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--trusted-proxy", "127.0.0.1/32")]).await;
        let (status, body) = call(&server, &elsewhere, Method::GET, "/v1/products", None, Some("203.0.113.7")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = call(&server, &elsewhere, Method::GET, "/v1/products", None, Some("203.0.113.8")).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, ip_refused_body()));
    }

    async fn admin_token_limits_are_checked_listed_and_logged(server) {
        let events = event_count(&server).await;
        let cases = [
            (json!({"name": "a", "ip_allowlist": ["10.0.0.0/33"]}), invalid(r#"ip_allowlist entry "10.0.0.0/33" has an invalid prefix length"#)),
            (json!({"name": "a", "ip_allowlist": ["not-an-ip"]}), invalid(r#"ip_allowlist entry "not-an-ip" is not an IP address or CIDR range"#)),
            (json!({"name": "a", "ip_allowlist": vec!["192.0.2.1"; 65]}), invalid("ip_allowlist must have at most 64 entries")),
            (json!({"name": "a", "expires_at": now_ms() - 1_000}), invalid("expires_at must be in the future")),
        ];
        for (body, want) in cases {
            let (status, answer) = server.admin(Method::POST, "/v1/admin-tokens", Some(body.clone())).await;
            assert_eq!((status, answer), (StatusCode::UNPROCESSABLE_ENTITY, want), "{body}");
        }
        let (status, answer) = server.admin(Method::POST, "/v1/admin-tokens", Some(json!({"name": "a", "expires_at": -5}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_body");
        // The credentials' allow-lists have the same limit.
        let (status, answer) = server.admin(Method::POST, "/v1/credentials", Some(json!({"dialect": "dna", "name": "c", "ip_allowlist": vec!["192.0.2.1"; 65]}))).await;
        assert_eq!((status, answer), (StatusCode::UNPROCESSABLE_ENTITY, invalid("ip_allowlist must have at most 64 entries")));
        assert_eq!(event_count(&server).await, events, "refused creations log nothing");

        let expires_at = now_ms() + 86_400_000;
        let created = create(&server, json!({"name": "ci", "expires_at": expires_at, "ip_allowlist": ["192.0.2.0/24", "2001:db8::1"]})).await;
        let id = created["token"]["id"].clone();
        let view = json!({
            "id": id, "name": "ci", "read_only": false, "expires_at": expires_at,
            "ip_allowlist": ["192.0.2.0/24", "2001:db8::1"],
            "created_at": created["token"]["created_at"], "revoked_at": null,
        });
        assert_eq!(created["token"], view);
        let (status, list) = server.admin(Method::GET, "/v1/admin-tokens", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list.as_array().expect("tokens").iter().find(|t| t["id"] == id), Some(&view));
        let (status, logged) = server.admin(Method::GET, "/v1/events?action=admin_token.created", None).await;
        assert_eq!(status, StatusCode::OK, "{logged}");
        let event = logged["data"].as_array().expect("events").iter().find(|e| e["subject_id"] == id).expect("creation logged").clone();
        assert_eq!(
            event["data"],
            json!({"name": "ci", "read_only": false, "expires_at": expires_at, "ip_allowlist": ["192.0.2.0/24", "2001:db8::1"]})
        );
        // The OpenAPI document describes the new fields.
        let (status, doc) = server.admin(Method::GET, "/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        for schema in ["CreateAdminToken", "AdminTokenView"] {
            let properties = &doc["components"]["schemas"][schema]["properties"];
            assert!(properties["expires_at"].is_object() && properties["ip_allowlist"].is_object(), "{schema}: {properties}");
        }
    }
}
