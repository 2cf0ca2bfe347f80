//! Fidelity to the Key Manager documents and clients (issue 12, points 12–17): rate limits,
//! `license_keys` that is not a JSON array, multipart bodies, assign-and-activate-license-key,
//! unknown routes and wrong methods, and the documented formats of dates and empty values.

use super::*;

/// A key with every capability, as a shop back office would hold.
async fn shop_key(server: &Server) -> String {
    api_key(server, json!({"name": "shop", "capabilities": ["all"]}))
        .await
        .1
}

/// How many licenses exist (native API).
async fn license_count(server: &Server) -> usize {
    let (status, page) = server.admin(Method::GET, "/v1/licenses", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().len()
}

/// A `multipart/form-data` body as PHP curl writes it for an array `CURLOPT_POSTFIELDS`: text
/// parts, plus `files` as file parts (name, file name, content).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &str)]) -> (String, Vec<u8>) {
    let boundary = "------------------------7b2f0c1e9d4a5e63";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    for (name, file, content) in files {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

/// POSTs a multipart body (and optionally a bearer key); returns the decoded signed response.
async fn post_multipart(km: &Km<'_>, action: &str, bearer: Option<&str>, content_type: &str, body: Vec<u8>) -> Value {
    let mut request = km
        .server
        .http
        .post(km.server.url(&format!("/api/v1/{action}")))
        .header("content-type", content_type)
        .body(body);
    if let Some(key) = bearer {
        request = request.bearer_auth(key);
    }
    let (status, _, decoded) = km.envelope(request.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{decoded}");
    decoded
}

/// A raw form POST: HTTP status, `Retry-After`, and the envelope text.
async fn raw_post(server: &Server, action: &str, fields: &[(&str, &str)]) -> (StatusCode, Option<String>, String) {
    let response = form(server.http.post(server.url(&format!("/api/v1/{action}"))), fields)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, retry_after, response.text().await.unwrap())
}

/// Checks a signed 429: HTTP 429, `Retry-After`, the top-level `retry_after` the SDKs read, and the
/// signed response in full. Returns the seconds advertised.
fn assert_rate_limited(km: &Km<'_>, (status, header, text): (StatusCode, Option<String>, String), window: u64) -> u64 {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    let (used, decoded) = km.check_text(&text);
    assert_eq!(used, "global");
    let envelope: Value = serde_json::from_str(&text).unwrap();
    let seconds = envelope["retry_after"].as_u64().expect("top-level retry_after");
    assert!((1..=window).contains(&seconds), "{seconds}");
    assert_eq!(header.as_deref(), Some(seconds.to_string().as_str()));
    assert_eq!(
        decoded,
        json!({"code": 429, "message": "Too Many Requests", "retry_after": seconds, "timestamp": decoded["timestamp"]})
    );
    let keys: Vec<&str> = envelope.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "private_key_used",
            "response",
            "response_base64",
            "retry_after",
            "signature"
        ]
    );
    seconds
}

backend_tests! {
    async fn rate_limits_apply_to_key_manager(server) {
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--rate-limit-per-credential", "2"), ("--rate-limit-window-seconds", "3")]).await;
        let km = Km::new(&server).await;
        let product = server.product("km-rate").await;
        assigned_license(&server, product, "KM-RATE", 5).await;
        let first = client_key(&server).await;
        let second = client_key(&server).await;
        let params = [("license_key", "KM-RATE"), ("identifier", "host")];
        km.post("activate", &first, &params, 300).await;
        km.post("verify", &first, &params, 200).await;
        let over = raw_post(&server, "verify", &[("api_key", first.as_str()), ("license_key", "KM-RATE"), ("identifier", "host")]).await;
        let seconds = assert_rate_limited(&km, over, 3);
        // Other credentials have their own allowance; unknown keys are not counted as anyone's.
        km.post("verify", &second, &params, 200).await;
        for _ in 0..3 {
            km.post("verify", "2964c3c9-0b5d-4d89-b3ac-4668f30bc492", &params, 100).await;
        }
        // The refused request changed nothing, and the window resets.
        tokio::time::sleep(std::time::Duration::from_millis(seconds * 1000 + 200)).await;
        km.post("verify", &first, &params, 200).await;

        // Per client IP, counted before the API key is looked at, on every route of the mount.
        let (data_dir, database_url) = server.stop();
        let server = Server::start_with(backend, data_dir, database_url, &[("--rate-limit-per-ip", "3"), ("--rate-limit-window-seconds", "60")]).await;
        let km = Km::new(&server).await;
        km.post("verify", "", &params, 100).await;
        km.post("verify", &first, &params, 200).await;
        km.post("verify", &second, &params, 200).await;
        let over = raw_post(&server, "verify", &[("api_key", second.as_str()), ("license_key", "KM-RATE"), ("identifier", "host")]).await;
        assert_rate_limited(&km, over, 60);
        let response = server
            .http
            .get(server.url(&format!("/api/v1/download/{first}/KM-RATE/aG9zdA%3D%3D/1")))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let header = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_rate_limited(&km, (status, header, response.text().await.unwrap()), 60);
        // Health probes and the native API are never limited.
        for _ in 0..5 {
            assert_eq!(server.http.get(server.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
        }
        assert_eq!(server.admin(Method::GET, "/v1/products", None).await.0, StatusCode::OK);
        km.finish();
    }

    async fn create_license_keys_wants_a_json_array(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-array").await;
        let pid = product.to_string();
        let key = shop_key(&server).await;
        let (_, events_before) = server.admin(Method::GET, "/v1/events", None).await;
        let refusal = json!({"license_keys": ["The license keys must be a JSON array of strings."]});
        // Form fields: a bare key, a comma list, an object, numbers, broken JSON.
        for text in ["KM-RAW", "KM-1,KM-2", "{\"a\":\"KM-O\"}", "[1,2]", "[\"KM-OPEN\"", "\"KM-S\""] {
            let decoded = km.post("create-license-keys", &key, &[("product_id", &pid), ("license_keys", text)], 901).await;
            assert_eq!(decoded, json!({"code": 901, "message": "Incorrect data found", "errors": refusal, "timestamp": decoded["timestamp"]}), "{text}");
        }
        // JSON bodies: a string, an object, a number, an array holding a non-string.
        for value in [json!("KM-J"), json!({"k": "KM-J"}), json!(7), json!(["KM-J", {"k": 1}])] {
            let response = server
                .http
                .post(server.url("/api/v1/create-license-keys"))
                .bearer_auth(&key)
                .json(&json!({"product_id": product, "license_keys": value}))
                .send()
                .await
                .unwrap();
            let (status, _, decoded) = km.envelope(response).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(decoded["code"], 901, "{value}: {decoded}");
            assert_eq!(decoded["errors"], refusal, "{value}");
        }
        // Nothing was created and nothing recorded.
        assert_eq!(license_count(&server).await, 0);
        let (_, events_after) = server.admin(Method::GET, "/v1/events", None).await;
        assert_eq!(events_before, events_after);
        // A JSON array (text in a form field) still works.
        let decoded = km.post("create-license-keys", &key, &[("product_id", &pid), ("license_keys", "[\"KM-OK\"]")], 900).await;
        assert_eq!(decoded["created"], 1);
        assert_eq!(license_count(&server).await, 1);
        km.finish();
    }

    async fn multipart_bodies_are_read_like_form_fields(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-multipart").await;
        let pid = product.to_string();
        assigned_license(&server, product, "KM-MP", 2).await;
        let client = client_key(&server).await;
        let shop = shop_key(&server).await;
        let fields = [("api_key", client.as_str()), ("license_key", "KM-MP"), ("identifier", "mp.example")];
        let (content_type, body) = multipart(&fields, &[]);
        let decoded = post_multipart(&km, "activate", None, &content_type, body).await;
        assert_eq!(decoded, json!({"code": 300, "message": "License key activated", "timestamp": decoded["timestamp"]}));
        let (content_type, body) = multipart(&fields, &[]);
        assert_eq!(post_multipart(&km, "verify", None, &content_type, body).await["code"], 200);
        // A JSON array in a text part, as a PHP client json_encodes it.
        let (content_type, body) = multipart(
            &[("api_key", shop.as_str()), ("product_id", pid.as_str()), ("license_keys", "[\"MP-1\",\"MP-2\"]"), ("status", "available")],
            &[],
        );
        let decoded = post_multipart(&km, "create-license-keys", None, &content_type, body).await;
        assert_eq!(decoded, json!({"code": 900, "message": "License keys creation result", "created": 2, "duplicate": 0, "timestamp": decoded["timestamp"]}));
        // File parts are not parameters: the identifier sent as a file is missing.
        let (content_type, body) = multipart(
            &[("api_key", client.as_str()), ("license_key", "KM-MP")],
            &[("identifier", "id.txt", "mp.example")],
        );
        assert_eq!(post_multipart(&km, "verify", None, &content_type, body).await["code"], 215);
        // A broken multipart body is an empty one (the key still comes from the bearer header).
        let (content_type, body) = multipart(&fields, &[]);
        let truncated = body[..body.len() / 2].to_vec();
        assert_eq!(post_multipart(&km, "verify", Some(&client), &content_type, truncated).await["code"], 215);
        assert_eq!(post_multipart(&km, "verify", Some(&client), "multipart/form-data", b"license_key=KM-MP".to_vec()).await["code"], 215);
        km.finish();
    }

    async fn assign_and_activate_license_key(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-aa").await;
        let pid = product.to_string();
        let shop = shop_key(&server).await;
        let client = client_key(&server).await;
        km.post("create-license-keys", &shop, &[("product_id", &pid), ("license_keys", "[\"AA-1\",\"AA-2\",\"AA-3\"]"), ("validity", "30"), ("activation_limit", "1")], 900).await;
        let params = |key: &'static str, identifier: &'static str| {
            vec![("license_key", key), ("identifier", identifier), ("owner_email", "ada@example.com"), ("owner_name", "Ada"), ("post_url", "https://shop.example/receiver.php")]
        };
        // Codes before anything changes: capability (102), identifier (215), unknown key (801).
        km.post("assign-and-activate-license-key", &client, &params("AA-1", "site.example"), 102).await;
        km.post("assign-and-activate-license-key", &shop, &[("license_key", "AA-1")], 215).await;
        km.post("assign-and-activate-license-key", &shop, &params("NOPE", "site.example"), 801).await;

        // 300: assigned (owner, assignment date, expiry from validity) and activated at once.
        let decoded = km.post("assign-and-activate-license-key", &shop, &params("AA-1", "site.example"), 300).await;
        assert_eq!(decoded, json!({"code": 300, "message": "License key activated", "timestamp": decoded["timestamp"]}));
        km.post("verify", &client, &[("license_key", "AA-1"), ("identifier", "site.example")], 200).await;
        km.post("activate", &client, &[("license_key", "AA-1"), ("identifier", "site.example")], 301).await;
        let listed = km.send(Method::GET, "get-license-keys", &shop, &[("product_id", &pid)], Transport::Form).await;
        let aa1 = listed["license_keys"].as_array().unwrap().iter().find(|k| k["license_key"] == "AA-1").unwrap().clone();
        assert_eq!((aa1["status"].as_str(), aa1["owner_email"].as_str(), aa1["owner_name"].as_str()), (Some("assigned"), Some("ada@example.com"), Some("Ada")));
        assert!(aa1["assigned_at"].is_string() && aa1["expires_at"].is_string(), "{aa1}");
        // 801: already assigned.
        km.post("assign-and-activate-license-key", &shop, &params("AA-1", "other.example"), 801).await;

        // An activation refusal assigns nothing either: the product is inactive (203).
        km.post("update-product", &shop, &[("product_id", &pid), ("status", "inactive")], 650).await;
        let (_, events_before) = server.admin(Method::GET, "/v1/events", None).await;
        km.post("assign-and-activate-license-key", &shop, &params("AA-2", "site.example"), 203).await;
        let (_, events_after) = server.admin(Method::GET, "/v1/events", None).await;
        assert_eq!(events_before, events_after);
        let listed = km.send(Method::GET, "get-license-keys", &shop, &[("product_id", &pid)], Transport::Form).await;
        let aa2 = listed["license_keys"].as_array().unwrap().iter().find(|k| k["license_key"] == "AA-2").unwrap().clone();
        assert_eq!(aa2["status"], "available", "{aa2}");
        assert!(aa2["owner_email"].is_null(), "{aa2}");
        km.post("update-product", &shop, &[("product_id", &pid), ("status", "active")], 650).await;
        // A blocked key is not assignable (801); a key in stock is, through a JSON body too.
        km.post("update-license-key", &shop, &[("license_key", "AA-2"), ("status", "blocked")], 950).await;
        km.post("assign-and-activate-license-key", &shop, &params("AA-2", "site.example"), 801).await;
        let decoded = km
            .send(Method::POST, "assign-and-activate-license-key", &shop, &params("AA-3", "desk-1"), Transport::JsonBearer)
            .await;
        assert_eq!(decoded["code"], 300, "{decoded}");
        km.post("activate", &client, &[("license_key", "AA-3"), ("identifier", "desk-2")], 302).await;
        km.finish();
    }
}
