//! The native API over HTTP: authentication, input errors, every management resource, the signed
//! client actions and the public documents. Each test runs once on SQLite and once on PostgreSQL.

use crate::harness::*;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// The `error.code` of a native error body.
fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"))
}

/// Asserts a native error answer: exact status and exact `error.code`, with a message.
#[track_caller]
fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(code(body), want_code, "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error message missing: {body}"
    );
}

/// A raw request: any method, headers and body bytes. Returns status, headers and parsed JSON.
async fn raw(
    server: &Server,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = server.http.request(method, server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    (
        status,
        headers,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        },
    )
}

fn bearer() -> String {
    format!("Bearer {ADMIN_TOKEN}")
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// POST to the client API and return the verdict `code` of a validation.
async fn validate(server: &Server, body: Value) -> Value {
    let (status, value, headers, bytes) = server.client_post("/v1/licenses/actions/validate", body).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    verify_signature(server, &headers, &bytes).await;
    value
}

async fn validate_code(server: &Server, key: &str, fingerprint: Option<&str>) -> String {
    let mut body = json!({"key": key});
    if let Some(fingerprint) = fingerprint {
        body["fingerprint"] = json!(fingerprint);
    }
    validate(server, body).await["code"]
        .as_str()
        .expect("verdict code")
        .to_string()
}

async fn activate(server: &Server, key: &str, fingerprint: &str) -> (StatusCode, Value) {
    let (status, body, _, _) = server
        .client_post(
            "/v1/licenses/actions/activate",
            json!({"key": key, "fingerprint": fingerprint}),
        )
        .await;
    (status, body)
}

fn ids(page: &Value) -> Vec<i64> {
    page["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|row| row["id"].as_i64().expect("id"))
        .collect()
}

/// True when the JSON value contains an object key equal to `name` anywhere.
fn has_key(value: &Value, name: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, inner)| key == name || has_key(inner, name)),
        Value::Array(items) => items.iter().any(|item| has_key(item, name)),
        _ => false,
    }
}

fn default_key_shape(key: &str) -> bool {
    const CHARSET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let groups: Vec<&str> = key.split('-').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| g.len() == 5 && g.chars().all(|c| CHARSET.contains(c)))
}

backend_tests! {
    async fn api_auth_tokens(server) {
        // No Authorization header.
        let (status, headers, body) = raw(&server, Method::GET, "/v1/products", &[], None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(is_json(&headers));
        // A wrong token, a non-bearer scheme, an empty bearer.
        for header in ["Bearer wrong", "Basic x", "Bearer ", "Bearer", ADMIN_TOKEN] {
            let (status, _, body) = raw(&server, Method::GET, "/v1/products", &[("authorization", header)], None).await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        }
        // Management writes are refused without a token too, and nothing is created.
        let (status, _, body) = raw(&server, Method::POST, "/v1/products", &[("content-type", "application/json")], Some(br#"{"code":"x","name":"x"}"#.to_vec())).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

        // A minted token works until revoked.
        let (status, created) = server.admin(Method::POST, "/v1/admin-tokens", Some(json!({"name": "ci"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["secret"].as_str().expect("secret").to_string();
        let id = created["token"]["id"].as_i64().expect("token id");
        assert_eq!(created["token"]["name"], "ci");
        assert!(created["token"]["revoked_at"].is_null());
        let header = format!("Bearer {secret}");
        let (status, _, body) = raw(&server, Method::GET, "/v1/products", &[("authorization", header.as_str())], None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"], json!([]));
        let (status, list) = server.admin(Method::GET, "/v1/admin-tokens", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(list.as_array().expect("tokens").iter().any(|t| t["id"] == id && t["name"] == "ci"));
        assert!(!list.to_string().contains(&secret), "token list leaks the secret");

        let (status, revoked) = server.admin(Method::POST, &format!("/v1/admin-tokens/{id}/revoke"), None).await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        assert!(revoked["revoked_at"].is_i64(), "{revoked}");
        let (status, _, body) = raw(&server, Method::GET, "/v1/products", &[("authorization", header.as_str())], None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        let (status, body) = server.admin(Method::POST, "/v1/admin-tokens/999999/revoke", None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        // The bootstrap token still works.
        let (status, _) = server.admin(Method::GET, "/v1/products", None).await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn api_routing_path_and_query_errors(server) {
        let auth = bearer();
        let auth = [("authorization", auth.as_str())];
        let (status, headers, body) = raw(&server, Method::GET, "/v1/nope", &auth, None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "route_not_found");
        assert!(is_json(&headers), "{headers:?}");
        // Unknown routes answer the same without a token.
        let (status, _, body) = raw(&server, Method::GET, "/definitely/not/here", &[], None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "route_not_found");

        let (status, headers, body) = raw(&server, Method::PUT, "/v1/products", &auth, None).await;
        assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(is_json(&headers), "{headers:?}");
        let (status, _, body) = raw(&server, Method::DELETE, "/v1/licenses/actions/validate", &[], None).await;
        assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");

        for path in ["/v1/products/abc", "/v1/products/1.5", "/v1/licenses/x/devices", "/v1/licenses/1/users/y"] {
            let method = if path.ends_with("/y") { Method::DELETE } else { Method::GET };
            let (status, _, body) = raw(&server, method, path, &auth, None).await;
            assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_path");
        }
        for query in ["limit=0", "limit=abc", "limit=1001", "limit=-1", "after=x", "foo=1"] {
            let (status, _, body) = raw(&server, Method::GET, &format!("/v1/products?{query}"), &auth, None).await;
            assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
        }
        for path in ["/v1/licenses?status=bogus", "/v1/licenses?limit=0", "/v1/licenses?unknown=1", "/v1/events?limit=abc", "/v1/credentials?dialect=nope", "/v1/features?product_id=x"] {
            let (status, _, body) = raw(&server, Method::GET, path, &auth, None).await;
            assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
        }
        // Boundaries that are allowed.
        for query in ["limit=1", "limit=1000", "after=0"] {
            let (status, body) = server.admin(Method::GET, &format!("/v1/products?{query}"), None).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
        }
        // A missing resource is not_found, not route_not_found.
        let (status, body) = server.admin(Method::GET, "/v1/products/424242", None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }

    async fn api_body_errors(server) {
        let auth = bearer();
        let json_auth = [("authorization", auth.as_str()), ("content-type", "application/json")];
        let (status, _, body) = raw(&server, Method::POST, "/v1/products", &json_auth, Some(b"{\"code\": \"a\",".to_vec())).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed_json");
        let (status, _, body) = raw(&server, Method::POST, "/v1/products", &json_auth, Some(b"not json".to_vec())).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed_json");

        let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "a", "name": "A", "bogus_field": 1}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        assert!(body["error"]["message"].as_str().unwrap().contains("bogus_field"), "{body}");
        let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "a"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        assert!(body["error"]["message"].as_str().unwrap().contains("name"), "{body}");
        // Wrong types and unknown enum values are shape errors too.
        let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": 5, "name": "A"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "a", "name": "A", "status": "sleeping"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "a", "name": "A", "metadata": [1]}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");

        // Without a JSON content type.
        let (status, _, body) = raw(&server, Method::POST, "/v1/products", &[("authorization", auth.as_str())], Some(br#"{"code":"a","name":"A"}"#.to_vec())).await;
        assert_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        let (status, _, body) =
            raw(&server, Method::POST, "/v1/products", &[("authorization", auth.as_str()), ("content-type", "text/plain")], Some(br#"{"code":"a","name":"A"}"#.to_vec())).await;
        assert_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

        // Over the 1 MiB body limit: refused, nothing created.
        // Repeated: the client must always get to read the 413, never a reset connection
        // (the server reads the rest of the upload before answering).
        let big = json!({"code": "big", "name": "Big", "metadata": {"blob": "x".repeat(1_536 * 1024)}});
        for _ in 0..5 {
            let (status, _, body) = raw(&server, Method::POST, "/v1/products", &json_auth, Some(serde_json::to_vec(&big).unwrap())).await;
            assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        }
        let (status, list) = server.admin(Method::GET, "/v1/products", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["data"], json!([]), "a refused body must not create anything");

        // Values the shape allows but the rules do not.
        for bad in [json!({"code": "", "name": "A"}), json!({"code": "   ", "name": "A"}), json!({"code": "a", "name": ""}), json!({"code": "a", "name": "A", "trial_days": -1}), json!({"code": "x".repeat(129), "name": "A"})] {
            let (status, body) = server.admin(Method::POST, "/v1/products", Some(bad.clone())).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        }
        // Hostile strings are refused as codes and stored verbatim as names.
        for hostile in ["'; DROP TABLE products;--", "a b", "<script>", "a/b", "ü"] {
            let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": hostile, "name": "A"}))).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        }
        // A NUL is refused at the edge, before any rule (hardening::nul has the details).
        let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "\u{0}", "name": "A"}))).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_text");
        let hostile_name = "Robert'); DROP TABLE products;-- \" \\ %_ 🦀";
        let (status, product) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "ok", "name": hostile_name}))).await;
        assert_eq!(status, StatusCode::CREATED, "{product}");
        assert_eq!(product["name"], hostile_name);
        let (status, list) = server.admin(Method::GET, "/v1/products", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert_eq!(list["data"][0]["name"], hostile_name);

        // Negative limits in license terms.
        let product_id = product["id"].as_i64().unwrap();
        for terms in [json!({"max_activations": -1}), json!({"max_transfers": -2}), json!({"grace_period_hours": -1}), json!({"floating": {"seats": 0, "lease_seconds": 60}})] {
            let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product_id, "key": "NEG-1", "terms": terms}))).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        }
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product_id, "key": "NEG-1", "terms": {"max_activations": 1, "frobnicate": true}}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, list) = server.admin(Method::GET, "/v1/licenses", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["data"], json!([]));
    }

    async fn api_products_crud(server) {
        let (status, product) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "app", "name": "App", "metadata": {"tier": "gold"}}))).await;
        assert_eq!(status, StatusCode::CREATED, "{product}");
        let id = product["id"].as_i64().unwrap();
        assert_eq!(product["code"], "app");
        assert_eq!(product["auth_method"], "key");
        assert_eq!(product["status"], "active");
        assert_eq!(product["trial_allowed"], false);
        assert_eq!(product["metadata"], json!({"tier": "gold"}));
        assert!(product["created_at"].is_i64());

        let (status, body) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "app", "name": "Other"}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");

        let (status, got) = server.admin(Method::GET, &format!("/v1/products/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, product);

        let (status, patched) = server.admin(Method::PATCH, &format!("/v1/products/{id}"), Some(json!({"name": "App 2", "status": "disabled", "trial_allowed": true, "trial_days": 14}))).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"], "App 2");
        assert_eq!(patched["status"], "disabled");
        assert_eq!(patched["trial_days"], 14);
        assert_eq!(patched["code"], "app");
        assert_eq!(patched["metadata"], json!({"tier": "gold"}), "an absent field keeps its value");
        let (_, got) = server.admin(Method::GET, &format!("/v1/products/{id}"), None).await;
        assert_eq!(got["name"], "App 2");
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/products/{id}"), Some(json!({"name": ""}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/products/{id}"), Some(json!({"nmae": "typo"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::PATCH, "/v1/products/999999", Some(json!({"name": "x"}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        // Renaming onto another product's code conflicts.
        let other = server.product("other").await;
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/products/{other}"), Some(json!({"code": "app"}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");

        // A product with licenses cannot be deleted.
        server.license(other, "KEEP-ME", json!({})).await;
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/products/{other}"), None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, _) = server.admin(Method::GET, &format!("/v1/products/{other}"), None).await;
        assert_eq!(status, StatusCode::OK);

        let (status, body) = server.admin(Method::DELETE, &format!("/v1/products/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(body, Value::Null);
        let (status, body) = server.admin(Method::GET, &format!("/v1/products/{id}"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/products/{id}"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        // The code is free again.
        server.product("app").await;
    }

    async fn api_product_delete_refuses_or_cascades(server) {
        // One policy (`licensd_domain::product_deletion`): refused while licences exist, unless
        // `?cascade=true`, which removes them and logs each as `license.deleted`.
        let product = server.product("doomed").await;
        let first = server.license(product, "DOOMED-1", json!({})).await;
        let second = server.license(product, "DOOMED-2", json!({})).await;
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/products/{product}"), None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        assert_eq!(body["error"]["message"], "product has licenses");
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/products/{product}?cascade=false"), None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/products/{product}?cascade=maybe"), None).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
        for id in [first, second] {
            let (status, _) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
            assert_eq!(status, StatusCode::OK, "a refusal changes nothing");
        }
        let (_, events) = server.admin(Method::GET, "/v1/events?action=product.deleted", None).await;
        assert_eq!(events["data"], json!([]), "a refusal logs nothing");

        let (status, body) = server.admin(Method::DELETE, &format!("/v1/products/{product}?cascade=true"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        for id in [first, second] {
            let (status, body) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
            assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
            let (_, events) = server.admin(Method::GET, &format!("/v1/events?subject_type=license&subject_id={id}&action=license.deleted"), None).await;
            let data: Vec<&Value> = events["data"].as_array().unwrap().iter().map(|e| &e["data"]).collect();
            assert_eq!(data, vec![&json!({"cascade_from_product": product})]);
        }
        let (_, events) = server.admin(Method::GET, &format!("/v1/events?subject_type=product&subject_id={product}&action=product.deleted"), None).await;
        assert_eq!(events["data"].as_array().unwrap().len(), 1);
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/products/{product}?cascade=true"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }

    async fn api_cursor_pagination(server) {
        let mut created = Vec::new();
        for i in 0..5 {
            created.push(server.product(&format!("p{i}")).await);
        }
        let (status, page) = server.admin(Method::GET, "/v1/products?limit=2", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&page), created[0..2]);
        assert_eq!(page["next_after"], created[1]);
        let (_, page) = server.admin(Method::GET, &format!("/v1/products?limit=2&after={}", created[1]), None).await;
        assert_eq!(ids(&page), created[2..4]);
        assert_eq!(page["next_after"], created[3]);
        let (_, page) = server.admin(Method::GET, &format!("/v1/products?limit=2&after={}", created[3]), None).await;
        assert_eq!(ids(&page), created[4..5]);
        assert_eq!(page["next_after"], Value::Null);

        // Following next_after visits every row exactly once, in id order.
        let mut seen = Vec::new();
        let mut after: Option<i64> = None;
        for _ in 0..10 {
            let path = match after {
                Some(after) => format!("/v1/products?limit=2&after={after}"),
                None => "/v1/products?limit=2".to_string(),
            };
            let (_, page) = server.admin(Method::GET, &path, None).await;
            seen.extend(ids(&page));
            match page["next_after"].as_i64() {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, created);

        // A full last page still carries a cursor (the server cannot know it was the last); the
        // page after it is empty with no cursor.
        let (_, page) = server.admin(Method::GET, "/v1/products?limit=5", None).await;
        assert_eq!(ids(&page), created);
        assert_eq!(page["next_after"], created[4]);
        let (_, page) = server.admin(Method::GET, &format!("/v1/products?limit=5&after={}", created[4]), None).await;
        assert_eq!(page["data"], json!([]));
        assert_eq!(page["next_after"], Value::Null);
        // The default limit returns everything here, without a cursor.
        let (_, page) = server.admin(Method::GET, "/v1/products", None).await;
        assert_eq!(ids(&page), created);
        assert_eq!(page["next_after"], Value::Null);

        // Licenses and customers page the same way.
        for i in 0..3 {
            server.license(created[0], &format!("PAGE-{i}"), json!({})).await;
        }
        let (_, page) = server.admin(Method::GET, "/v1/licenses?limit=2", None).await;
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        let next = page["next_after"].as_i64().expect("cursor");
        let (_, page) = server.admin(Method::GET, &format!("/v1/licenses?limit=2&after={next}"), None).await;
        assert_eq!(page["data"].as_array().unwrap().len(), 1);
        assert_eq!(page["data"][0]["key"], "PAGE-2");
        assert_eq!(page["next_after"], Value::Null);
    }

    async fn api_features_and_policies(server) {
        let product = server.product("app").await;
        let other = server.product("other").await;
        let (status, feature) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "pro", "name": "Pro"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{feature}");
        let feature_id = feature["id"].as_i64().unwrap();
        assert_eq!(feature["feature_type"], "activation");
        assert_eq!(feature["floating_lease_seconds"], 1800);
        let (status, credits) =
            server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "credits", "name": "Credits", "feature_type": "consumption", "max_consumptions": 100}))).await;
        assert_eq!(status, StatusCode::CREATED, "{credits}");
        let (status, body) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "pro", "name": "Again"}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        // The same code on another product is fine.
        let (status, _) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": other, "code": "pro", "name": "Pro"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": 999999, "code": "x", "name": "X"}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "neg", "name": "N", "max_consumptions": -5}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "lease", "name": "L", "floating_lease_seconds": 0}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");

        let (status, list) = server.admin(Method::GET, &format!("/v1/features?product_id={product}"), None).await;
        assert_eq!(status, StatusCode::OK);
        let codes: BTreeSet<&str> = list.as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
        assert_eq!(codes, BTreeSet::from(["pro", "credits"]));
        let (_, all) = server.admin(Method::GET, "/v1/features", None).await;
        assert_eq!(all.as_array().unwrap().len(), 3);
        let (status, got) = server.admin(Method::GET, &format!("/v1/features/{feature_id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, feature);
        let (status, patched) = server.admin(Method::PATCH, &format!("/v1/features/{}", credits["id"]), Some(json!({"name": "Credits 2", "max_consumptions": null}))).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"], "Credits 2");
        assert_eq!(patched["max_consumptions"], Value::Null);

        // Policies.
        let (status, body) = server.admin(Method::POST, "/v1/policies", Some(json!({"product_id": product, "code": "bad", "name": "Bad", "features": [{"code": "nope"}]}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/policies", Some(json!({"product_id": product, "code": "bad", "name": "Bad", "duration_days": -1}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let terms = json!({"license_type": "time_limited", "max_activations": 3, "max_transfers": 2, "grace_period_hours": 24, "vm_allowed": false});
        let (status, policy) = server
            .admin(Method::POST, "/v1/policies", Some(json!({"product_id": product, "code": "annual", "name": "Annual", "terms": terms, "duration_days": 30, "maintenance_days": 10, "features": [{"code": "pro"}]})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{policy}");
        let policy_id = policy["id"].as_i64().unwrap();
        assert_eq!(policy["terms"]["max_activations"], 3);
        assert_eq!(policy["terms"]["license_type"], "time_limited");
        assert_eq!(policy["duration_days"], 30);
        let (status, body) = server.admin(Method::POST, "/v1/policies", Some(json!({"product_id": product, "code": "annual", "name": "Dup"}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, list) = server.admin(Method::GET, &format!("/v1/policies?product_id={product}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 1);
        let (_, list) = server.admin(Method::GET, &format!("/v1/policies?product_id={other}"), None).await;
        assert_eq!(list, json!([]));
        let (status, got) = server.admin(Method::GET, &format!("/v1/policies/{policy_id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, policy);
        let (status, patched) = server.admin(Method::PATCH, &format!("/v1/policies/{policy_id}"), Some(json!({"name": "Annual plan"}))).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"], "Annual plan");
        assert_eq!(patched["terms"], policy["terms"]);
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/policies/{policy_id}"), Some(json!({"features": [{"code": "ghost"}]}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");

        // A license issued from the policy takes its terms, duration and features.
        let (status, license) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "policy_id": policy_id}))).await;
        assert_eq!(status, StatusCode::CREATED, "{license}");
        assert_eq!(license["policy_id"], policy_id);
        assert_eq!(license["terms"], policy["terms"]);
        let created_at = license["created_at"].as_i64().unwrap();
        let expires_at = license["expires_at"].as_i64().expect("expires_at from duration_days");
        assert!((expires_at - (created_at + 30 * DAY_MS)).abs() < 5_000, "expires_at {expires_at} vs created_at {created_at} + 30 days");
        let maintenance = license["maintenance_expires_at"].as_i64().expect("maintenance from maintenance_days");
        assert!((maintenance - (created_at + 10 * DAY_MS)).abs() < 5_000);
        let (_, detail) = server.admin(Method::GET, &format!("/v1/licenses/{}", license["id"]), None).await;
        let granted: Vec<&str> = detail["features"].as_array().unwrap().iter().map(|f| f["definition"]["code"].as_str().unwrap()).collect();
        assert_eq!(granted, ["pro"]);
        // Explicit values win over the policy's.
        let (status, explicit) =
            server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "policy_id": policy_id, "terms": {"max_activations": 9}, "features": []}))).await;
        assert_eq!(status, StatusCode::CREATED, "{explicit}");
        assert_eq!(explicit["terms"]["max_activations"], 9);
        assert!(explicit["expires_at"].is_i64());
        // Feature grants on licenses are checked against the product too.
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "features": [{"code": "unknown"}]}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        // A policy of another product cannot be used.
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": other, "policy_id": policy_id}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "policy_id": 999999}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        // Deleting: a granted feature and a used policy are in use; unused ones go.
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/policies/{policy_id}"), None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/features/{feature_id}"), None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/features/{}", credits["id"]), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = server.admin(Method::GET, &format!("/v1/features/{}", credits["id"]), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (_, spare) = server.admin(Method::POST, "/v1/policies", Some(json!({"product_id": product, "code": "spare", "name": "Spare"}))).await;
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/policies/{}", spare["id"]), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = server.admin(Method::GET, &format!("/v1/policies/{}", spare["id"]), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }

    async fn api_license_keys_and_bulk(server) {
        let product = server.product("app").await;
        let (status, license) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "MY-OWN-KEY-1"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{license}");
        assert_eq!(license["key"], "MY-OWN-KEY-1");
        assert_eq!(license["status"], "active");
        assert_eq!(license["assignment"], "assigned");
        assert_eq!(license["terms"]["max_activations"], 1, "default terms");
        assert_eq!(license["terms"]["license_type"], "perpetual");
        assert_eq!(license["product_id"], product);

        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "MY-OWN-KEY-1"}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": ""}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": 999999, "key": "K"}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "starts_at": 2000, "expires_at": 1000}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");

        let mut generated = HashSet::new();
        for _ in 0..3 {
            let (status, license) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product}))).await;
            assert_eq!(status, StatusCode::CREATED, "{license}");
            let key = license["key"].as_str().expect("generated key").to_string();
            assert!(default_key_shape(&key), "generated key {key:?} is not 4 groups of 5 from the default charset");
            generated.insert(key);
        }
        assert_eq!(generated.len(), 3);

        let (status, bulk) = server
            .admin(Method::POST, "/v1/licenses/bulk", Some(json!({"count": 25, "pattern": {"prefix": "ACME-"}, "license": {"product_id": product, "terms": {"max_activations": 2}}})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{bulk}");
        assert_eq!(bulk["created"], 25);
        let issued = bulk["licenses"].as_array().unwrap();
        assert_eq!(issued.len(), 25);
        let keys: HashSet<&str> = issued.iter().map(|l| l["key"].as_str().unwrap()).collect();
        assert_eq!(keys.len(), 25, "bulk keys must be distinct");
        for key in &keys {
            let rest = key.strip_prefix("ACME-").unwrap_or_else(|| panic!("{key} lacks the prefix"));
            assert!(default_key_shape(rest), "{key}");
        }
        let ids: HashSet<i64> = issued.iter().map(|l| l["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 25);
        // Bulk licenses are real licenses with the template's terms.
        let first = issued[0]["id"].as_i64().unwrap();
        let (_, detail) = server.admin(Method::GET, &format!("/v1/licenses/{first}"), None).await;
        assert_eq!(detail["terms"]["max_activations"], 2);
        assert_eq!(detail["key"], issued[0]["key"]);
        let (_, page) = server.admin(Method::GET, &format!("/v1/licenses?product_id={product}&limit=1000"), None).await;
        assert_eq!(page["data"].as_array().unwrap().len(), 1 + 3 + 25);

        let (status, uuid) = server.admin(Method::POST, "/v1/licenses/bulk", Some(json!({"count": 2, "pattern": {"uuid": true}, "license": {"product_id": product}}))).await;
        assert_eq!(status, StatusCode::CREATED, "{uuid}");
        let key = uuid["licenses"][0]["key"].as_str().unwrap();
        assert_eq!(key.len(), 36, "{key}");
        assert_eq!(key.matches('-').count(), 4, "{key}");

        for bad in [
            json!({"count": 0, "license": {"product_id": product}}),
            json!({"count": 5, "pattern": {"chunks": 1, "chunk_length": 4}, "license": {"product_id": product}}),
            json!({"count": 5, "pattern": {"charset": "A"}, "license": {"product_id": product}}),
            json!({"count": 5, "pattern": {"chunks": 0}, "license": {"product_id": product}}),
            json!({"count": 5, "license": {"product_id": product, "key": "FIXED"}}),
            json!({"count": 1_000_000_000, "license": {"product_id": product}}),
        ] {
            let (status, body) = server.admin(Method::POST, "/v1/licenses/bulk", Some(bad.clone())).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        }
        let (status, body) = server.admin(Method::POST, "/v1/licenses/bulk", Some(json!({"count": -1, "license": {"product_id": product}}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        // Refused batches created nothing.
        let (_, page) = server.admin(Method::GET, &format!("/v1/licenses?product_id={product}&limit=1000"), None).await;
        assert_eq!(page["data"].as_array().unwrap().len(), 1 + 3 + 25 + 2);
    }

    async fn api_license_list_detail_edit_delete(server) {
        let app = server.product("app").await;
        let other = server.product("other").await;
        let a = server.license(app, "LIST-A", json!({"max_activations": 2})).await;
        let b = server.license(app, "LIST-B", json!({})).await;
        let c = server.license(other, "LIST-C", json!({})).await;

        let (status, page) = server.admin(Method::GET, &format!("/v1/licenses?product_id={app}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&page), [a, b]);
        let (_, page) = server.admin(Method::GET, &format!("/v1/licenses?product_id={other}"), None).await;
        assert_eq!(ids(&page), [c]);
        let (_, page) = server.admin(Method::GET, "/v1/licenses", None).await;
        assert_eq!(ids(&page), [a, b, c]);

        let (status, blocked) = server.admin(Method::POST, &format!("/v1/licenses/{b}/block"), None).await;
        assert_eq!(status, StatusCode::OK, "{blocked}");
        assert_eq!(blocked["status"], "blocked");
        let (_, page) = server.admin(Method::GET, "/v1/licenses?status=blocked", None).await;
        assert_eq!(ids(&page), [b]);
        let (_, page) = server.admin(Method::GET, &format!("/v1/licenses?status=active&product_id={app}"), None).await;
        assert_eq!(ids(&page), [a]);
        let (_, page) = server.admin(Method::GET, &format!("/v1/licenses?status=blocked&product_id={other}"), None).await;
        assert_eq!(page["data"], json!([]));

        // Detail: the license plus its features and devices.
        let (status, activated) = activate(&server, "LIST-A", "fp-detail").await;
        assert_eq!(status, StatusCode::CREATED, "{activated}");
        let (status, detail) = server.admin(Method::GET, &format!("/v1/licenses/{a}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(detail["id"], a);
        assert_eq!(detail["key"], "LIST-A");
        assert_eq!(detail["features"], json!([]));
        let devices = detail["devices"].as_array().expect("devices");
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0]["fingerprint"], "fp-detail");
        assert_eq!(devices[0]["license_id"], a);
        let (status, body) = server.admin(Method::GET, "/v1/licenses/999999", None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        // PATCH: expiry, status, terms, order_ref; null clears.
        let expires = now_ms() + 90 * DAY_MS;
        let (status, patched) =
            server.admin(Method::PATCH, &format!("/v1/licenses/{a}"), Some(json!({"expires_at": expires, "status": "suspended", "order_ref": "PO-1", "metadata": {"seat": 1}}))).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["expires_at"], expires);
        assert_eq!(patched["status"], "suspended");
        assert_eq!(patched["order_ref"], "PO-1");
        assert_eq!(patched["terms"]["max_activations"], 2, "absent terms are kept");
        assert_eq!(validate_code(&server, "LIST-A", None).await, "LICENSE_SUSPENDED");
        let (_, page) = server.admin(Method::GET, "/v1/licenses?order_ref=PO-1", None).await;
        assert_eq!(ids(&page), [a]);
        let (status, patched) = server.admin(Method::PATCH, &format!("/v1/licenses/{a}"), Some(json!({"expires_at": null, "status": "active"}))).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["expires_at"], Value::Null);
        assert_eq!(validate_code(&server, "LIST-A", Some("fp-detail")).await, "VALID");
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/licenses/{a}"), Some(json!({"terms": {"max_activations": -3}}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/licenses/{a}"), Some(json!({"key": "NEW"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/licenses/{a}"), Some(json!({"customer_id": 999999}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = server.admin(Method::PATCH, "/v1/licenses/999999", Some(json!({"status": "active"}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        // DELETE.
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/licenses/{c}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, body) = server.admin(Method::GET, &format!("/v1/licenses/{c}"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/licenses/{c}"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(validate_code(&server, "LIST-C", None).await, "LICENSE_NOT_FOUND");
        // With its product's last license gone, the product can be deleted.
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/products/{other}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    async fn api_license_status_changes(server) {
        let product = server.product("app").await;
        let id = server.license(product, "STATE-1", json!({})).await;
        assert_eq!(validate_code(&server, "STATE-1", None).await, "VALID");

        let (status, license) = server.admin(Method::POST, &format!("/v1/licenses/{id}/disable"), None).await;
        assert_eq!(status, StatusCode::OK, "{license}");
        assert_eq!(license["status"], "disabled");
        assert_eq!(validate_code(&server, "STATE-1", None).await, "LICENSE_DISABLED");
        let (status, body) = activate(&server, "STATE-1", "fp").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "LICENSE_DISABLED");

        let (status, license) = server.admin(Method::POST, &format!("/v1/licenses/{id}/enable"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(license["status"], "active");
        assert_eq!(validate_code(&server, "STATE-1", None).await, "VALID");

        let (status, license) = server.admin(Method::POST, &format!("/v1/licenses/{id}/block"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(license["status"], "blocked");
        assert_eq!(validate_code(&server, "STATE-1", None).await, "LICENSE_BLOCKED");
        let (status, body) = activate(&server, "STATE-1", "fp").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "LICENSE_BLOCKED");
        let (_, detail) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
        assert_eq!(detail["status"], "blocked");

        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{id}/enable"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(validate_code(&server, "STATE-1", None).await, "VALID");
        let (status, body) = activate(&server, "STATE-1", "fp").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // Each change is in the event log.
        let (_, events) = server.admin(Method::GET, &format!("/v1/events?subject_type=license&subject_id={id}"), None).await;
        let actions: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        for action in ["license.disabled", "license.enabled", "license.blocked"] {
            assert!(actions.contains(&action), "{action} missing from {actions:?}");
        }
        for verb in ["enable", "disable", "block"] {
            let (status, body) = server.admin(Method::POST, &format!("/v1/licenses/999999/{verb}"), None).await;
            assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        }
    }

    async fn api_client_validate_verdicts(server) {
        let product = server.product("app").await;
        let other = server.product("other").await;
        server.license(product, "VAL-OK", json!({"max_activations": 3})).await;
        let (status, body) = activate(&server, "VAL-OK", "fp-1").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let verdict = validate(&server, json!({"key": "VAL-OK"})).await;
        assert_eq!(verdict["valid"], true);
        assert_eq!(verdict["code"], "VALID");
        assert_eq!(verdict["license"]["product"], "app");
        assert_eq!(verdict["license"]["active_devices"], 1);
        assert_eq!(verdict["license"]["max_activations"], 3);
        assert!(verdict["checked_at"].is_i64());
        let verdict = validate(&server, json!({"key": "VAL-OK", "fingerprint": "fp-1", "product": "app"})).await;
        assert_eq!(verdict["code"], "VALID");
        assert_eq!(verdict["device"]["fingerprint"], "fp-1");

        let verdict = validate(&server, json!({"key": "NO-SUCH-KEY"})).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["code"], "LICENSE_NOT_FOUND");
        assert_eq!(verdict["license"], Value::Null);
        let verdict = validate(&server, json!({"key": "VAL-OK", "fingerprint": "fp-unknown"})).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["code"], "DEVICE_NOT_ACTIVATED");
        // The license belongs to another product: indistinguishable from a missing license.
        let verdict = validate(&server, json!({"key": "VAL-OK", "product": "other"})).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["code"], "LICENSE_NOT_FOUND");
        assert_eq!(verdict["license"], Value::Null, "no license details for a product mismatch");
        let verdict = validate(&server, json!({"key": "VAL-OK", "product": "no-such-product"})).await;
        assert_eq!(verdict["code"], "LICENSE_NOT_FOUND");

        let now = now_ms();
        server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "VAL-EXPIRED", "expires_at": now - 3_600_000}))).await;
        assert_eq!(validate_code(&server, "VAL-EXPIRED", None).await, "LICENSE_EXPIRED");
        let (status, body) = activate(&server, "VAL-EXPIRED", "fp").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "LICENSE_EXPIRED");
        let (status, body) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "VAL-LATER", "starts_at": now + 7 * DAY_MS}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(validate_code(&server, "VAL-LATER", None).await, "LICENSE_NOT_STARTED");
        // A grace period keeps an expired license valid, flagged.
        server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "VAL-GRACE", "expires_at": now - 3_600_000, "terms": {"grace_period_hours": 48}}))).await;
        let verdict = validate(&server, json!({"key": "VAL-GRACE"})).await;
        assert_eq!(verdict["code"], "VALID");
        assert_eq!(verdict["in_grace_period"], true);

        // A blocked device.
        let (status, blocked) = server.admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": "fp-1", "reason": "stolen"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{blocked}");
        assert_eq!(validate_code(&server, "VAL-OK", Some("fp-1")).await, "DEVICE_BLOCKED");
        let (status, body) = activate(&server, "VAL-OK", "fp-1").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "DEVICE_BLOCKED");
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/blocked-devices/{}", blocked["id"]), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(validate_code(&server, "VAL-OK", Some("fp-1")).await, "VALID");
        // A product-scoped block only affects that product.
        server.license(other, "VAL-OTHER", json!({})).await;
        activate(&server, "VAL-OTHER", "fp-2").await;
        server.admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": "fp-2", "product_id": product}))).await;
        assert_eq!(validate_code(&server, "VAL-OTHER", Some("fp-2")).await, "VALID");
        let (status, body) = activate(&server, "VAL-OK", "fp-2").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "DEVICE_BLOCKED");

        // A disabled product disables all its licenses, which wins over the device checks.
        let (status, _) = server.admin(Method::PATCH, &format!("/v1/products/{product}"), Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(validate_code(&server, "VAL-OK", None).await, "PRODUCT_DISABLED");
        assert_eq!(validate_code(&server, "VAL-OK", Some("fp-unknown")).await, "PRODUCT_DISABLED");
        assert_eq!(validate_code(&server, "VAL-OTHER", None).await, "VALID");
        let (status, body) = activate(&server, "VAL-OK", "fp-3").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "PRODUCT_DISABLED");
        server.admin(Method::PATCH, &format!("/v1/products/{product}"), Some(json!({"status": "archived"}))).await;
        assert_eq!(validate_code(&server, "VAL-OK", None).await, "PRODUCT_ARCHIVED");
        server.admin(Method::PATCH, &format!("/v1/products/{product}"), Some(json!({"status": "active"}))).await;
        assert_eq!(validate_code(&server, "VAL-OK", None).await, "VALID");

        // Input checks on validate are signed 422s.
        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/validate", json!({"key": ""})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        verify_signature(&server, &headers, &bytes).await;
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/validate", json!({"key": "VAL-OK", "fingerprint": "f".repeat(513)})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    }

    async fn api_client_activate_deactivate(server) {
        let product = server.product("app").await;
        let id = server.license(product, "ACT-1", json!({"max_activations": 1})).await;

        let (status, body, headers, bytes) = server
            .client_post("/v1/licenses/actions/activate", json!({"key": "ACT-1", "fingerprint": "fp-a", "hostname": "host-a", "os": "linux", "variables": {"k": "v"}, "nonce": "n-1"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        verify_signature(&server, &headers, &bytes).await;
        assert_eq!(body["code"], "ACTIVATED");
        assert_eq!(body["nonce"], "n-1");
        assert_eq!(body["device"]["fingerprint"], "fp-a");
        assert_eq!(body["device"]["hostname"], "host-a");
        assert_eq!(body["device"]["variables"], json!({"k": "v"}));
        assert_eq!(body["device"]["ip"], "127.0.0.1");
        assert_eq!(body["license"]["id"], id);
        assert_eq!(body["license"]["active_devices"], 1);

        let (status, body) = activate(&server, "ACT-1", "fp-a").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["code"], "ALREADY_ACTIVE");
        assert_eq!(body["license"]["active_devices"], 1);
        let (status, body) = activate(&server, "ACT-1", "fp-b").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "ACTIVATION_LIMIT_REACHED");

        // The answer lists the license's features whether or not it has any (a license without
        // features is answered without reading them again).
        let (status, body) = activate(&server, "ACT-1", "fp-a").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["license"]["features"], json!([]));
        let (status, _) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "pro", "name": "Pro"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = server.admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "ACT-FEAT", "features": [{"code": "pro"}]}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = activate(&server, "ACT-FEAT", "fp-f").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["license"]["features"], json!(["pro"]));

        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/activate", json!({"key": "NO-SUCH", "fingerprint": "fp"})).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "LICENSE_NOT_FOUND");
        verify_signature(&server, &headers, &bytes).await;

        // Input checks.
        for bad in [
            json!({"key": "ACT-1", "fingerprint": ""}),
            json!({"key": "ACT-1", "fingerprint": "fp", "variables": [1]}),
            json!({"key": "ACT-1", "fingerprint": "fp", "hostname": "h".repeat(1025)}),
            json!({"key": "ACT-1", "fingerprint": "fp", "nonce": "n".repeat(257)}),
            json!({"key": "ACT-1"}),
            json!({"key": "ACT-1", "fingerprint": "fp", "extra": 1}),
        ] {
            let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", bad.clone()).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        }

        // Virtual machines.
        server.license(product, "ACT-NOVM", json!({"vm_allowed": false, "max_activations": 5})).await;
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "ACT-NOVM", "fingerprint": "vm-1", "is_vm": true})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "VM_NOT_ALLOWED");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "ACT-NOVM", "fingerprint": "pc-1", "is_vm": false})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "ACT-1", "fingerprint": "fp-a", "is_vm": true})).await;
        assert_eq!(status, StatusCode::OK, "VMs are allowed by default: {body}");

        // Deactivation.
        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/deactivate", json!({"key": "ACT-1", "fingerprint": "fp-a", "nonce": "n-2"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        verify_signature(&server, &headers, &bytes).await;
        assert_eq!(body, json!({"code": "DEACTIVATED", "license_id": id, "nonce": "n-2"}));
        assert_eq!(validate_code(&server, "ACT-1", Some("fp-a")).await, "DEVICE_NOT_ACTIVATED");
        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/deactivate", json!({"key": "ACT-1", "fingerprint": "fp-a"})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "DEVICE_NOT_ACTIVATED");
        verify_signature(&server, &headers, &bytes).await;
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/deactivate", json!({"key": "ACT-1", "fingerprint": "never-seen"})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "DEVICE_NOT_ACTIVATED");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/deactivate", json!({"key": "NO-SUCH", "fingerprint": "fp-a"})).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "LICENSE_NOT_FOUND");
        // The freed seat takes a new device (unlimited transfers by default).
        let (status, body) = activate(&server, "ACT-1", "fp-b").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, detail) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
        assert_eq!(detail["transfer_count"], 1);
        assert_eq!(detail["deactivation_count"], 1);

        // No transfers allowed: after a deactivation a new device is refused.
        server.license(product, "ACT-NOXFER", json!({"max_activations": 1, "max_transfers": 0})).await;
        let (status, body) = activate(&server, "ACT-NOXFER", "fp-x").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/deactivate", json!({"key": "ACT-NOXFER", "fingerprint": "fp-x"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = activate(&server, "ACT-NOXFER", "fp-y").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "TRANSFER_LIMIT_REACHED");
        // One transfer allowed: the first move succeeds, the second is refused.
        server.license(product, "ACT-ONEXFER", json!({"max_activations": 1, "max_transfers": 1})).await;
        for (fingerprint, want) in [("m-1", StatusCode::CREATED), ("m-2", StatusCode::CREATED)] {
            let (status, body) = activate(&server, "ACT-ONEXFER", fingerprint).await;
            assert_eq!(status, want, "{body}");
            server.client_post("/v1/licenses/actions/deactivate", json!({"key": "ACT-ONEXFER", "fingerprint": fingerprint})).await;
        }
        let (status, body) = activate(&server, "ACT-ONEXFER", "m-3").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "TRANSFER_LIMIT_REACHED");
    }

    async fn api_client_consumption_and_floating(server) {
        let product = server.product("app").await;
        server.license(product, "PERP-1", json!({})).await;
        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/consume", json!({"key": "PERP-1", "amount": 1})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "NOT_CONSUMPTION");
        verify_signature(&server, &headers, &bytes).await;
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/consume", json!({"key": "NO-SUCH", "amount": 1})).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "LICENSE_NOT_FOUND");

        let id = server.license(product, "CONS-1", json!({"license_type": "consumption", "consumption": {"max_consumptions": 10}})).await;
        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/consume", json!({"key": "CONS-1", "amount": 3, "nonce": "c-1"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        verify_signature(&server, &headers, &bytes).await;
        assert_eq!(body, json!({"code": "CONSUMED", "license_id": id, "total": 3, "replayed": false, "nonce": "c-1"}));
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/consume", json!({"key": "CONS-1", "amount": -1})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "NEGATIVE_CONSUMPTION_NOT_ALLOWED");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/consume", json!({"key": "CONS-1", "amount": 0})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "CONSUMPTION_AMOUNT_INVALID");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/consume", json!({"key": "CONS-1", "amount": 8})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "CONSUMPTION_LIMIT_REACHED");
        // Idempotent retries count once.
        for replayed in [false, true] {
            let (status, body, _, _) = server.client_post("/v1/licenses/actions/consume", json!({"key": "CONS-1", "amount": 2, "idempotency_key": "order-7"})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["total"], 5);
            assert_eq!(body["replayed"], replayed);
        }
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/consume", json!({"key": "CONS-1", "amount": 1, "idempotency_key": ""})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (_, detail) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
        assert_eq!(detail["consumption_used"], 5);
        let verdict = validate(&server, json!({"key": "CONS-1"})).await;
        assert_eq!(verdict["license"]["consumption_used"], 5);
        // Negative amounts give units back where allowed.
        server.license(product, "CONS-NEG", json!({"license_type": "consumption", "consumption": {"max_consumptions": 10, "allow_negative": true}})).await;
        server.client_post("/v1/licenses/actions/consume", json!({"key": "CONS-NEG", "amount": 4})).await;
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/consume", json!({"key": "CONS-NEG", "amount": -3})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["total"], 1);

        // Floating: one seat.
        let floating = server.license(product, "FLOAT-1", json!({"max_activations": null, "floating": {"seats": 1, "lease_seconds": 600}})).await;
        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/checkout", json!({"key": "FLOAT-1", "fingerprint": "seat-a", "nonce": "f-1"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        verify_signature(&server, &headers, &bytes).await;
        assert_eq!(body["code"], "CHECKED_OUT");
        assert_eq!(body["nonce"], "f-1");
        assert_eq!(body["lease"]["fingerprint"], "seat-a");
        assert_eq!(body["lease"]["license_id"], floating);
        let expires = body["lease"]["expires_at"].as_i64().unwrap();
        assert!(expires > now_ms() + 500_000 && expires <= now_ms() + 600_000, "lease expiry {expires}");
        // A renewal by the holder is fine; a second device is refused.
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/checkout", json!({"key": "FLOAT-1", "fingerprint": "seat-a"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/checkout", json!({"key": "FLOAT-1", "fingerprint": "seat-b"})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "FLOATING_SEATS_EXHAUSTED");
        let (status, leases) = server.admin(Method::GET, &format!("/v1/licenses/{floating}/leases"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(leases.as_array().unwrap().len(), 1);
        assert_eq!(leases[0]["fingerprint"], "seat-a");
        // Floating licenses validate a fingerprint without an activation.
        assert_eq!(validate_code(&server, "FLOAT-1", Some("seat-b")).await, "VALID");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/checkout", json!({"key": "FLOAT-1", "fingerprint": "seat-b", "borrow_until": now_ms() + 3_600_000})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "BORROW_NOT_ALLOWED");

        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/release", json!({"key": "FLOAT-1", "fingerprint": "seat-a", "nonce": "r-1"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        verify_signature(&server, &headers, &bytes).await;
        assert_eq!(body, json!({"code": "RELEASED", "license_id": floating, "nonce": "r-1"}));
        let (_, leases) = server.admin(Method::GET, &format!("/v1/licenses/{floating}/leases"), None).await;
        assert_eq!(leases, json!([]));
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/checkout", json!({"key": "FLOAT-1", "fingerprint": "seat-b"})).await;
        assert_eq!(status, StatusCode::OK, "the released seat is free again: {body}");

        let (status, body, _, _) = server.client_post("/v1/licenses/actions/checkout", json!({"key": "PERP-1", "fingerprint": "seat-a"})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "NOT_FLOATING");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/checkout", json!({"key": "NO-SUCH", "fingerprint": "seat-a"})).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "LICENSE_NOT_FOUND");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/checkout", json!({"key": "FLOAT-1", "fingerprint": ""})).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    }

    async fn api_client_signatures_and_malformed_bodies(server) {
        let product = server.product("app").await;
        server.license(product, "SIG-1", json!({})).await;

        // Valid, denied and error answers are all signed over their exact bytes, nonce echoed.
        let (status, body, headers, bytes) = server.client_post("/v1/licenses/actions/validate", json!({"key": "SIG-1", "nonce": "abc-123"})).await;
        assert_eq!(status, StatusCode::OK);
        verify_signature(&server, &headers, &bytes).await;
        assert_eq!(body["nonce"], "abc-123");
        assert_eq!(body["code"], "VALID");
        let (_, body, headers, bytes) = server.client_post("/v1/licenses/actions/validate", json!({"key": "NOPE", "nonce": "xyz"})).await;
        verify_signature(&server, &headers, &bytes).await;
        assert_eq!(body["nonce"], "xyz");
        assert_eq!(body["code"], "LICENSE_NOT_FOUND");
        let (_, body, _, _) = server.client_post("/v1/licenses/actions/validate", json!({"key": "SIG-1"})).await;
        assert_eq!(body["nonce"], Value::Null);

        // The signing key is the active Ed25519 key.
        let kid = headers.get("x-licensd-key-id").unwrap().to_str().unwrap().to_string();
        let keys: Value = server.http.get(server.url("/v1/signing-keys")).send().await.unwrap().json().await.unwrap();
        let key = keys["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("kid published");
        assert_eq!(key["algorithm"], "Ed25519");
        assert_eq!(key["active"], true);

        // A tampered body does not verify.
        let signature = headers.get("x-licensd-signature").unwrap().to_str().unwrap();
        let public = licensd_crypto::PublicKey::from_pem(licensd_crypto::Algorithm::Ed25519, key["pem"].as_str().unwrap()).unwrap();
        let mut tampered = bytes.clone();
        let position = tampered.iter().position(|b| *b == b'x').unwrap();
        tampered[position] = b'y';
        assert!(public.verify(&tampered, &licensd_crypto::b64_decode(signature).unwrap()).is_err(), "a changed body must not verify");

        // Malformed bodies on every client action: 400 malformed_json, signed, with the error shape.
        for action in ["validate", "activate", "deactivate", "consume", "checkout", "release"] {
            let path = format!("/v1/licenses/actions/{action}");
            let response = server.http.post(server.url(&path)).header("content-type", "application/json").body("{\"key\": ").send().await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap().to_vec();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed_json");
            verify_signature(&server, &headers, &bytes).await;
            // Without a content type: 415, also signed.
            let response = server.http.post(server.url(&path)).body("{}").send().await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap().to_vec();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            assert_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
            verify_signature(&server, &headers, &bytes).await;
            // A wrong shape: 422 invalid_body, signed.
            let (status, body, headers, bytes) = server.client_post(&path, json!({"unexpected": true})).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
            verify_signature(&server, &headers, &bytes).await;
        }
        // The client API needs no admin token, and a bogus one does not matter.
        let response = server.http.post(server.url("/v1/licenses/actions/validate")).header(AUTHORIZATION, "Bearer wrong").json(&json!({"key": "SIG-1"})).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        // Signatures survive a key rotation: new answers use the new key, the old key stays published.
        let (status, rotated) = server.admin(Method::POST, "/v1/signing-keys/rotate", Some(json!({"algorithm": "Ed25519"}))).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let (_, _, headers, bytes) = server.client_post("/v1/licenses/actions/validate", json!({"key": "SIG-1"})).await;
        verify_signature(&server, &headers, &bytes).await;
        assert_ne!(headers.get("x-licensd-key-id").unwrap().to_str().unwrap(), kid);
        let keys: Value = server.http.get(server.url("/v1/signing-keys")).send().await.unwrap().json().await.unwrap();
        assert!(keys["keys"].as_array().unwrap().iter().any(|k| k["kid"] == kid.as_str() && k["active"] == false && k["retired_at"].is_i64()));
        let (status, body) = server.admin(Method::POST, "/v1/signing-keys/rotate", Some(json!({"algorithm": "DSA"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    }

    async fn api_devices_and_block_list(server) {
        let product = server.product("app").await;
        let id = server.license(product, "DEV-1", json!({"max_activations": 2})).await;
        activate(&server, "DEV-1", "dev-a").await;
        activate(&server, "DEV-1", "dev-b").await;
        let (status, devices) = server.admin(Method::GET, &format!("/v1/licenses/{id}/devices"), None).await;
        assert_eq!(status, StatusCode::OK);
        let devices = devices.as_array().unwrap().clone();
        let fingerprints: Vec<&str> = devices.iter().map(|d| d["fingerprint"].as_str().unwrap()).collect();
        assert_eq!(fingerprints, ["dev-a", "dev-b"]);
        assert!(devices.iter().all(|d| d["deactivated_at"].is_null() && d["license_id"] == id));
        let (status, body) = server.admin(Method::GET, "/v1/licenses/999999/devices", None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        let device_a = devices[0]["id"].as_i64().unwrap();
        let (status, got) = server.admin(Method::GET, &format!("/v1/devices/{device_a}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["fingerprint"], "dev-a");
        let (status, body) = server.admin(Method::GET, "/v1/devices/999999", None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        let (status, deactivated) = server.admin(Method::POST, &format!("/v1/devices/{device_a}/deactivate"), None).await;
        assert_eq!(status, StatusCode::OK, "{deactivated}");
        assert!(deactivated["deactivated_at"].is_i64());
        assert_eq!(validate_code(&server, "DEV-1", Some("dev-a")).await, "DEVICE_NOT_ACTIVATED");
        assert_eq!(validate_code(&server, "DEV-1", Some("dev-b")).await, "VALID");
        let (status, body) = server.admin(Method::POST, &format!("/v1/devices/{device_a}/deactivate"), None).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "DEVICE_NOT_ACTIVATED");
        let (status, body) = server.admin(Method::POST, "/v1/devices/999999/deactivate", None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        // The freed seat can be used again.
        let (status, body) = activate(&server, "DEV-1", "dev-c").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let verdict = validate(&server, json!({"key": "DEV-1"})).await;
        assert_eq!(verdict["license"]["active_devices"], 2);

        // Block-list.
        let (status, everywhere) = server.admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": "bad-fp", "reason": "chargeback"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{everywhere}");
        assert_eq!(everywhere["fingerprint"], "bad-fp");
        assert_eq!(everywhere["reason"], "chargeback");
        assert_eq!(everywhere["product_id"], Value::Null);
        let (status, body) = server.admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": "bad-fp"}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, scoped) = server.admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": "bad-fp", "product_id": product}))).await;
        assert_eq!(status, StatusCode::CREATED, "a product-scoped entry is distinct from the global one: {scoped}");
        let (status, body) = server.admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": "bad-fp", "product_id": product}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, body) = server.admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": ""}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/blocked-devices", Some(json!({"fingerprint": "x", "product_id": 999999}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        let (status, list) = server.admin(Method::GET, "/v1/blocked-devices", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 2);
        let (_, list) = server.admin(Method::GET, &format!("/v1/blocked-devices?product_id={product}"), None).await;
        assert!(list.as_array().unwrap().iter().any(|b| b["id"] == scoped["id"]), "{list}");
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/blocked-devices/{}", everywhere["id"]), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/blocked-devices/{}", everywhere["id"]), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (_, list) = server.admin(Method::GET, "/v1/blocked-devices", None).await;
        let remaining: Vec<i64> = list.as_array().unwrap().iter().map(|b| b["id"].as_i64().unwrap()).collect();
        assert_eq!(remaining, [scoped["id"].as_i64().unwrap()]);
        server.admin(Method::DELETE, &format!("/v1/blocked-devices/{}", scoped["id"]), None).await;
        let (_, list) = server.admin(Method::GET, "/v1/blocked-devices", None).await;
        assert_eq!(list, json!([]));
    }

    async fn api_customers_and_license_users(server) {
        let (status, customer) = server.admin(Method::POST, "/v1/customers", Some(json!({"email": "buyer@example.com", "name": "Buyer", "company": "ACME", "reference": "CRM-1"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{customer}");
        let customer_id = customer["id"].as_i64().unwrap();
        assert_eq!(customer["email"], "buyer@example.com");
        assert_eq!(customer["metadata"], json!({}));
        for bad in [json!({"email": "not-an-email"}), json!({"email": "a@b"}), json!({"email": "@example.com"}), json!({"email": "a b@example.com"}), json!({}), json!({"name": "x", "phone": "1"})] {
            let (status, body) = server.admin(Method::POST, "/v1/customers", Some(bad.clone())).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        }
        let (status, body) = server.admin(Method::POST, "/v1/customers", Some(json!({"email": "buyer@example.com"}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, second) = server.admin(Method::POST, "/v1/customers", Some(json!({"company": "Initech"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{second}");
        let (status, got) = server.admin(Method::GET, &format!("/v1/customers/{customer_id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, customer);
        let (status, page) = server.admin(Method::GET, "/v1/customers?limit=10", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&page), [customer_id, second["id"].as_i64().unwrap()]);
        let (status, patched) = server.admin(Method::PATCH, &format!("/v1/customers/{customer_id}"), Some(json!({"name": "Buyer Two", "company": null}))).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"], "Buyer Two");
        assert_eq!(patched["company"], Value::Null);
        assert_eq!(patched["email"], "buyer@example.com");
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/customers/{customer_id}"), Some(json!({"email": "broken"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/customers/{}", second["id"]), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = server.admin(Method::GET, &format!("/v1/customers/{}", second["id"]), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        // License users: passwords are never returned.
        let (status, user) =
            server.admin(Method::POST, "/v1/license-users", Some(json!({"email": "alice@example.com", "name": "Alice", "customer_id": customer_id, "password": "correct horse battery"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let alice = user["id"].as_i64().unwrap();
        assert_eq!(user["email"], "alice@example.com");
        assert_eq!(user["customer_id"], customer_id);
        assert!(!has_key(&user, "password") && !has_key(&user, "password_hash"), "{user}");
        assert!(!user.to_string().contains("correct horse"), "{user}");
        let (status, body) = server.admin(Method::POST, "/v1/license-users", Some(json!({"email": "alice@example.com"}))).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, body) = server.admin(Method::POST, "/v1/license-users", Some(json!({"email": "nope"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/license-users", Some(json!({"email": "short@example.com", "password": "1234567"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/license-users", Some(json!({"email": "orphan@example.com", "customer_id": 999999}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, bob) = server.admin(Method::POST, "/v1/license-users", Some(json!({"email": "bob@example.com"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{bob}");
        let bob = bob["id"].as_i64().unwrap();

        let (status, got) = server.admin(Method::GET, &format!("/v1/license-users/{alice}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!has_key(&got, "password") && !has_key(&got, "password_hash"), "{got}");
        let (status, page) = server.admin(Method::GET, "/v1/license-users", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&page), [alice, bob]);
        assert!(!has_key(&page, "password") && !has_key(&page, "password_hash"), "{page}");
        let (_, page) = server.admin(Method::GET, &format!("/v1/license-users?customer_id={customer_id}"), None).await;
        assert_eq!(ids(&page), [alice]);
        let (status, body) = server.admin(Method::POST, &format!("/v1/license-users/{bob}/password"), Some(json!({"password": "another long secret"}))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, body) = server.admin(Method::POST, &format!("/v1/license-users/{bob}/password"), Some(json!({"password": "short"}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (status, body) = server.admin(Method::POST, "/v1/license-users/999999/password", Some(json!({"password": "long enough pw"}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (_, got) = server.admin(Method::GET, &format!("/v1/license-users/{bob}"), None).await;
        assert!(!has_key(&got, "password") && !has_key(&got, "password_hash") && !got.to_string().contains("another long"), "{got}");

        // Assignment to a license limited to one user.
        let product = server.product("app").await;
        let license = server.license(product, "USERS-1", json!({"max_users": 1})).await;
        let (status, body) = server.admin(Method::POST, &format!("/v1/licenses/{license}/users"), Some(json!({"user_id": alice}))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, body) = server.admin(Method::POST, &format!("/v1/licenses/{license}/users"), Some(json!({"user_id": alice}))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "assigning twice is a no-op: {body}");
        let (status, body) = server.admin(Method::POST, &format!("/v1/licenses/{license}/users"), Some(json!({"user_id": bob}))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "LICENSE_USER_LIMIT_REACHED");
        let (status, users) = server.admin(Method::GET, &format!("/v1/licenses/{license}/users"), None).await;
        assert_eq!(status, StatusCode::OK);
        let assigned: Vec<i64> = users.as_array().unwrap().iter().map(|u| u["id"].as_i64().unwrap()).collect();
        assert_eq!(assigned, [alice]);
        assert!(!has_key(&users, "password_hash"), "{users}");
        let (status, body) = server.admin(Method::POST, &format!("/v1/licenses/{license}/users"), Some(json!({"user_id": 999999}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = server.admin(Method::POST, "/v1/licenses/999999/users", Some(json!({"user_id": alice}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        // Unassigning frees the seat for the other user.
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/licenses/{license}/users/{alice}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/licenses/{license}/users/{alice}"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = server.admin(Method::POST, &format!("/v1/licenses/{license}/users"), Some(json!({"user_id": bob}))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

        // A customer with users cannot be deleted; a user can.
        let (status, body) = server.admin(Method::DELETE, &format!("/v1/customers/{customer_id}"), None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/license-users/{alice}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = server.admin(Method::GET, &format!("/v1/license-users/{alice}"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/customers/{customer_id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    async fn api_credentials(server) {
        let product = server.product("app").await;
        let mut secrets = Vec::new();
        let mut created_ids = Vec::new();
        for dialect in ["native", "licensespring", "keymanager", "slascone", "dna"] {
            let (status, created) = server.admin(Method::POST, "/v1/credentials", Some(json!({"dialect": dialect, "name": format!("{dialect} app")}))).await;
            assert_eq!(status, StatusCode::CREATED, "{dialect}: {created}");
            let secret = created["secret"].as_str().expect("secret").to_string();
            assert!(secret.len() >= 16, "{dialect} secret too short: {secret:?}");
            let credential = &created["credential"];
            assert_eq!(credential["dialect"], dialect);
            assert!(credential["key_id"].as_str().is_some_and(|k| !k.is_empty()), "{created}");
            assert_eq!(credential["read_only"], false);
            assert_eq!(credential["product_id"], Value::Null);
            assert_eq!(credential["ip_allowlist"], json!([]));
            assert_eq!(credential["revoked_at"], Value::Null);
            assert!(!has_key(credential, "secret"), "{created}");
            secrets.push(secret);
            created_ids.push(credential["id"].as_i64().unwrap());
        }
        let distinct: HashSet<&String> = secrets.iter().collect();
        assert_eq!(distinct.len(), secrets.len());

        let (status, scoped) = server
            .admin(Method::POST, "/v1/credentials", Some(json!({"dialect": "licensespring", "name": "scoped", "product_id": product, "read_only": true, "ip_allowlist": ["192.0.2.7", "10.0.0.0/8", "2001:db8::/32"]})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{scoped}");
        secrets.push(scoped["secret"].as_str().unwrap().to_string());
        let scoped_id = scoped["credential"]["id"].as_i64().unwrap();
        assert_eq!(scoped["credential"]["product_id"], product);
        assert_eq!(scoped["credential"]["read_only"], true);
        assert_eq!(scoped["credential"]["ip_allowlist"], json!(["192.0.2.7", "10.0.0.0/8", "2001:db8::/32"]));

        for rule in ["300.1.1.1", "10.0.0.0/33", "2001:db8::/129", "example.com", "10.0.0.0/x", ""] {
            let (status, body) = server.admin(Method::POST, "/v1/credentials", Some(json!({"dialect": "native", "name": "bad ip", "ip_allowlist": [rule]}))).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        }
        for bad in [json!({"dialect": "klingon", "name": "x"}), json!({"dialect": "native", "name": ""}), json!({"dialect": "native"})] {
            let (status, body) = server.admin(Method::POST, "/v1/credentials", Some(bad.clone())).await;
            assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        }
        let (status, body) = server.admin(Method::POST, "/v1/credentials", Some(json!({"dialect": "native", "name": "x", "product_id": 999999}))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

        // Listing never shows a secret.
        let (status, list) = server.admin(Method::GET, "/v1/credentials", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 6);
        let text = list.to_string();
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "credential list leaks a secret");
        }
        assert!(!has_key(&list, "secret"), "{list}");
        let listed = list.as_array().unwrap().iter().find(|c| c["id"] == scoped_id).expect("scoped credential listed");
        assert_eq!(listed["read_only"], true);
        assert_eq!(listed["product_id"], product);
        assert_eq!(listed["ip_allowlist"], json!(["192.0.2.7", "10.0.0.0/8", "2001:db8::/32"]));
        let (_, filtered) = server.admin(Method::GET, "/v1/credentials?dialect=licensespring", None).await;
        let dialects: Vec<&str> = filtered.as_array().unwrap().iter().map(|c| c["dialect"].as_str().unwrap()).collect();
        assert_eq!(dialects, ["licensespring", "licensespring"]);

        let (status, revoked) = server.admin(Method::POST, &format!("/v1/credentials/{}/revoke", created_ids[0]), None).await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        assert!(revoked["revoked_at"].is_i64(), "{revoked}");
        assert!(!has_key(&revoked, "secret"));
        let (_, list) = server.admin(Method::GET, "/v1/credentials", None).await;
        let listed = list.as_array().unwrap().iter().find(|c| c["id"] == created_ids[0]).unwrap();
        assert!(listed["revoked_at"].is_i64());
        let (status, body) = server.admin(Method::POST, "/v1/credentials/999999/revoke", None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }

    async fn api_public_documents(server) {
        let response = server.http.get(server.url("/v1/signing-keys")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let keys: Value = response.json().await.unwrap();
        let keys = keys["keys"].as_array().expect("keys");
        let algorithms: BTreeSet<&str> = keys.iter().map(|k| k["algorithm"].as_str().unwrap()).collect();
        assert!(algorithms.contains("Ed25519"), "{algorithms:?}");
        for key in keys {
            assert!(key["pem"].as_str().unwrap().contains("BEGIN PUBLIC KEY"), "{key}");
            assert!(!key["pem"].as_str().unwrap().contains("PRIVATE"), "{key}");
            assert!(key["jwk"].is_object() && !has_key(&key["jwk"], "d"), "no private JWK members: {key}");
            assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        }
        assert!(keys.iter().any(|k| k["algorithm"] == "Ed25519" && k["active"] == true));
        // A fresh server publishes exactly its two active keys: Ed25519 and RSA.
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert_eq!(algorithms.len(), 2, "{algorithms:?}");
        assert!(keys.iter().all(|k| k["active"] == true && k["retired_at"].is_null()), "{keys:?}");

        let response = server.http.get(server.url("/v1/openapi.json")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        assert!(document["components"]["securitySchemes"]["bearer"].is_object(), "{}", document["components"]["securitySchemes"]);
        assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        // Every route native/mod.rs registers, with its methods.
        let expected: BTreeMap<&str, BTreeSet<&str>> = [
            ("/v1/openapi.json", &["get"][..]),
            ("/v1/products", &["post", "get"][..]),
            ("/v1/products/{id}", &["get", "patch", "delete"][..]),
            ("/v1/features", &["post", "get"][..]),
            ("/v1/features/{id}", &["get", "patch", "delete"][..]),
            ("/v1/policies", &["post", "get"][..]),
            ("/v1/policies/{id}", &["get", "patch", "delete"][..]),
            ("/v1/licenses", &["post", "get"][..]),
            ("/v1/licenses/bulk", &["post"][..]),
            ("/v1/licenses/{id}", &["get", "patch", "delete"][..]),
            ("/v1/licenses/{id}/enable", &["post"][..]),
            ("/v1/licenses/{id}/disable", &["post"][..]),
            ("/v1/licenses/{id}/block", &["post"][..]),
            ("/v1/licenses/{id}/devices", &["get"][..]),
            ("/v1/licenses/{id}/leases", &["get"][..]),
            ("/v1/licenses/{id}/users", &["get", "post"][..]),
            ("/v1/licenses/{id}/users/{user_id}", &["delete"][..]),
            ("/v1/devices/{id}", &["get"][..]),
            ("/v1/devices/{id}/deactivate", &["post"][..]),
            ("/v1/blocked-devices", &["post", "get"][..]),
            ("/v1/blocked-devices/{id}", &["delete"][..]),
            ("/v1/customers", &["post", "get"][..]),
            ("/v1/customers/{id}", &["get", "patch", "delete"][..]),
            ("/v1/license-users", &["post", "get"][..]),
            ("/v1/license-users/{id}", &["get", "delete"][..]),
            ("/v1/license-users/{id}/password", &["post"][..]),
            ("/v1/credentials", &["post", "get"][..]),
            ("/v1/credentials/{id}/revoke", &["post"][..]),
            ("/v1/admin-tokens", &["post", "get"][..]),
            ("/v1/admin-tokens/{id}/revoke", &["post"][..]),
            ("/v1/signing-keys", &["get"][..]),
            ("/v1/signing-keys/rotate", &["post"][..]),
            ("/v1/events", &["get"][..]),
            ("/v1/licenses/actions/validate", &["post"][..]),
            ("/v1/licenses/actions/activate", &["post"][..]),
            ("/v1/licenses/actions/deactivate", &["post"][..]),
            ("/v1/licenses/actions/consume", &["post"][..]),
            ("/v1/licenses/actions/checkout", &["post"][..]),
            ("/v1/licenses/actions/release", &["post"][..]),
            ("/v1/licenses/actions/checkout-file", &["post"][..]),
            ("/v1/licenses/{id}/license-file", &["post"][..]),
            // LicenseSpring dialect: product versions.
            ("/v1/products/{id}/versions", &["post", "get"][..]),
            ("/v1/product-versions/{id}", &["delete"][..]),
        ]
        .into_iter()
        .map(|(path, methods)| (path, methods.iter().copied().collect()))
        .collect();
        let paths = document["paths"].as_object().expect("paths");
        let documented: BTreeMap<&str, BTreeSet<&str>> = paths
            .iter()
            .map(|(path, item)| {
                let methods = item.as_object().unwrap().keys().map(String::as_str).filter(|m| ["get", "post", "put", "patch", "delete"].contains(m)).collect();
                (path.as_str(), methods)
            })
            .collect();
        // Every core route is documented with exactly its methods.
        let missing: Vec<(&&str, &BTreeSet<&str>)> = expected.iter().filter(|(path, methods)| documented.get(*path) != Some(*methods)).collect();
        assert!(missing.is_empty(), "core routes missing from the OpenAPI document or with other methods: {missing:?}");
        // Every documented operation (the dialects add their own management routes) exists in the
        // router: calling it never answers route_not_found or method_not_allowed.
        for (path, methods) in &documented {
            let concrete = path.split('/').map(|segment| if segment.starts_with('{') { "999999" } else { segment }).collect::<Vec<_>>().join("/");
            for method in methods {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let response = server.http.request(method.clone(), server.url(&concrete)).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                assert!(
                    !body.contains("route_not_found") && !body.contains("method_not_allowed") && status != StatusCode::METHOD_NOT_ALLOWED,
                    "documented {method} {path} is not routed: {status} {body}"
                );
            }
        }
        // Management operations require the bearer scheme; client actions and signing keys do not.
        let security = |path: &str, method: &str| paths[path][method]["security"].clone();
        assert!(security("/v1/products", "post").to_string().contains("bearer"));
        assert!(!security("/v1/licenses/actions/validate", "post").to_string().contains("bearer"));
        assert!(!security("/v1/signing-keys", "get").to_string().contains("bearer"));
    }

    async fn api_events(server) {
        let product = server.product("evented").await;
        let (status, events) = server.admin(Method::GET, "/v1/events?subject_type=product", None).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        let created: Vec<&Value> = events["data"].as_array().unwrap().iter().filter(|e| e["action"] == "product.created").collect();
        assert_eq!(created.len(), 1, "{events}");
        let event = created[0];
        assert_eq!(event["actor"], "admin:bootstrap");
        assert_eq!(event["subject_type"], "product");
        assert_eq!(event["subject_id"], product);
        assert_eq!(event["source_ip"], "127.0.0.1");
        assert!(event["at"].is_i64());
        assert!(events["data"].as_array().unwrap().iter().all(|e| e["subject_type"] == "product"), "{events}");

        // Filters by subject id and action, and pages.
        server.admin(Method::PATCH, &format!("/v1/products/{product}"), Some(json!({"name": "Renamed"}))).await;
        let (_, events) = server.admin(Method::GET, &format!("/v1/events?subject_type=product&subject_id={product}"), None).await;
        let actions: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["product.created", "product.updated"]);
        let (_, events) = server.admin(Method::GET, "/v1/events?action=product.updated", None).await;
        assert_eq!(events["data"].as_array().unwrap().len(), 1);
        let (_, events) = server.admin(Method::GET, "/v1/events?subject_type=product&limit=1", None).await;
        assert_eq!(events["data"].as_array().unwrap().len(), 1);
        assert!(events["next_after"].is_i64());

        // Actions by a minted token and by clients are attributed to them.
        let (_, token) = server.admin(Method::POST, "/v1/admin-tokens", Some(json!({"name": "robot"}))).await;
        let header = format!("Bearer {}", token["secret"].as_str().unwrap());
        let (status, _, _) = raw(&server, Method::POST, "/v1/products", &[("authorization", header.as_str()), ("content-type", "application/json")], Some(br#"{"code":"bot","name":"Bot"}"#.to_vec())).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, events) = server.admin(Method::GET, "/v1/events?subject_type=product&action=product.created", None).await;
        let actors: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
        assert_eq!(actors, ["admin:bootstrap", "admin:robot"]);
        server.license(product, "EVT-1", json!({})).await;
        activate(&server, "EVT-1", "fp").await;
        let (_, events) = server.admin(Method::GET, "/v1/events?action=license.activated", None).await;
        assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");
        assert_eq!(events["data"][0]["actor"], "client");
        assert_eq!(events["data"][0]["subject_type"], "license");

        let (status, _, body) = raw(&server, Method::GET, "/v1/events", &[], None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }

    async fn api_repeated_checks_reuse_signatures_and_never_serve_stale_bodies(server) {
        let product = server.product("cached").await;
        let license = server.license(product, "CACHE-1", json!({"max_activations": 2})).await;
        let (status, _, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "CACHE-1", "fingerprint": "fp"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let check = json!({"key": "CACHE-1", "fingerprint": "fp"});

        // Two checks within the same second give the same bytes and the same signature.
        let mut same_second = false;
        for _ in 0..20 {
            let (_, first, first_headers, first_bytes) = server.client_post("/v1/licenses/actions/validate", check.clone()).await;
            let (_, second, second_headers, second_bytes) = server.client_post("/v1/licenses/actions/validate", check.clone()).await;
            assert_eq!(first["code"], "VALID");
            assert_eq!(first["checked_at"].as_i64().unwrap() % 1000, 0, "checked_at is reported to the second");
            if first["checked_at"] == second["checked_at"] {
                assert_eq!(first_bytes, second_bytes);
                assert_eq!(first_headers.get("x-licensd-signature"), second_headers.get("x-licensd-signature"));
                verify_signature(&server, &second_headers, &second_bytes).await;
                same_second = true;
                break;
            }
        }
        assert!(same_second, "never saw two checks in the same second");

        // A change to the license shows at once, correctly signed: no stale body, no stale signature.
        let (status, _) = server.admin(Method::PATCH, &format!("/v1/licenses/{license}"), Some(json!({"metadata": {"seats": 7}}))).await;
        assert_eq!(status, StatusCode::OK);
        let (_, body, headers, bytes) = server.client_post("/v1/licenses/actions/validate", check.clone()).await;
        assert_eq!(body["license"]["metadata"], json!({"seats": 7}));
        verify_signature(&server, &headers, &bytes).await;
        // So does a client write (on SQLite it commits on the writer thread's own connection).
        assert_eq!(body["license"]["active_devices"], 1);
        let (status, _, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "CACHE-1", "fingerprint": "fp-2"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, body, headers, bytes) = server.client_post("/v1/licenses/actions/validate", check.clone()).await;
        assert_eq!(body["code"], "VALID");
        assert_eq!(body["license"]["active_devices"], 2);
        verify_signature(&server, &headers, &bytes).await;
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{license}/block"), None).await;
        assert_eq!(status, StatusCode::OK);
        let (_, body, headers, bytes) = server.client_post("/v1/licenses/actions/validate", check.clone()).await;
        assert_eq!(body["code"], "LICENSE_BLOCKED");
        assert_eq!(body["valid"], false);
        verify_signature(&server, &headers, &bytes).await;
    }
}

/// Issue 12 (dialect fidelity) for the native API.
#[path = "api/fidelity.rs"]
mod fidelity;
