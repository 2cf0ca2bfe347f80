//! Issue 12, point 19: DNA credits with `Target: EMAIL` (the pool shared by every code of one buyer
//! e-mail, per product) and `Target: ALL` (the code's own credits first, then the pool).

use super::*;
use std::sync::Arc;

const IP: &str = "192.0.2.1";

async fn set_email(server: &Server, license_id: i64, email: &str) {
    let (status, body) = server
        .admin(
            Method::PATCH,
            &format!("/v1/dna/licenses/{license_id}"),
            Some(json!({ "activation_email": email })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn fund(
    server: &Server,
    method: Method,
    product_id: i64,
    email: &str,
    name: &str,
    count: i64,
) -> (StatusCode, Value) {
    let path = match method {
        Method::PUT => format!("/v1/dna/products/{product_id}/credit-pools"),
        _ => format!("/v1/dna/products/{product_id}/credit-pools/add"),
    };
    server
        .admin(
            method,
            &path,
            Some(json!({"email": email, "name": name, "count": count})),
        )
        .await
}

fn entry(target: &str, name: &str, count: i64) -> Value {
    json!({"Target": target, "Name": name, "Count": count})
}

impl Dna<'_> {
    async fn credits(&self, product: &str, code: &str, target: &str) -> (StatusCode, Value) {
        self.get(&format!("/dna/v1/credits/{product}/{code}?Target={target}&UserIp={IP}"))
            .await
    }
    async fn consume(&self, product: &str, code: &str, target: &str, name: &str, count: i64) -> (StatusCode, Value) {
        self.send(
            Method::POST,
            &format!("/dna/v1/Credits/{product}/{code}/consume"),
            json!({"Name": name, "Count": count, "Target": target, "UserIp": IP, "SendDnaEmail": false}),
        )
        .await
    }
}

/// The pools of one product as the native API lists them: (email, name, count, consumed).
async fn pools(server: &Server, product_id: i64) -> Vec<(String, String, i64, i64)> {
    let (status, body) = server
        .admin(
            Method::GET,
            &format!("/v1/dna/products/{product_id}/credit-pools"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .expect("pool list")
        .iter()
        .map(|p| {
            (
                p["email"].as_str().unwrap_or_default().to_string(),
                p["name"].as_str().unwrap_or_default().to_string(),
                p["count"].as_i64().unwrap_or(-1),
                p["consumed"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

async fn event_count(server: &Server) -> usize {
    let (status, body) = server
        .admin(Method::GET, "/v1/events?action=dna.credits_consume&limit=1000", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().map(Vec::len).expect("event page")
}

backend_tests! {
    async fn dna_email_and_all_credits_share_one_pool_per_buyer_email(server) {
        let product_id = server.product("APP").await;
        let other_product = server.product("OTHER").await;
        let consumption = json!({"license_type": "consumption", "consumption": {"max_consumptions": 10}});
        let a1 = license(&server, json!({"product_id": product_id, "key": "A-1", "terms": consumption})).await;
        let a2 = license(&server, json!({"product_id": product_id, "key": "A-2"})).await;
        let b1 = license(&server, json!({"product_id": product_id, "key": "B-1"})).await;
        license(&server, json!({"product_id": product_id, "key": "N-1", "terms": consumption})).await;
        let o1 = license(&server, json!({"product_id": other_product, "key": "O-1"})).await;
        // Two codes of one buyer (the address compares without case), another buyer, and the same
        // buyer on another product.
        set_email(&server, a1, "Buyer@Example.com").await;
        set_email(&server, a2, "buyer@example.com").await;
        set_email(&server, b1, "other@example.com").await;
        set_email(&server, o1, "buyer@example.com").await;

        // Funding: a balance set through the API, a replenishment through the CLI.
        let (status, body) = fund(&server, Method::PUT, product_id, "BUYER@example.com", "Credits", 20).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["email"].as_str(), body["name"].as_str(), body["count"].as_i64(), body["consumed"].as_i64()), (Some("buyer@example.com"), Some("Credits"), Some(20), Some(0)));
        let (code, stdout, stderr) = server.cli(&["dna", "set-pool", &product_id.to_string(), "--email", "buyer@example.com", "--name", "exports", "--count", "2"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("exports"), "{stdout}");
        let (code, stdout, stderr) = server.cli(&["dna", "add-pool-credits", &product_id.to_string(), "--email", "buyer@example.com", "--name", "exports", "--count", "3", "--json"]);
        assert_eq!(code, 0, "{stderr}");
        let added: Value = serde_json::from_str(stdout.trim()).expect("json");
        assert_eq!(added["count"], 5, "{stdout}");
        let (code, stdout, stderr) = server.cli(&["dna", "pools", &product_id.to_string(), "--email", "Buyer@Example.com"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("buyer@example.com") && stdout.contains("exports"), "{stdout}");

        let dna = client(&server).await;
        let pool = |credits: i64, exports: i64| vec![entry("EMAIL", "Credits", credits), entry("EMAIL", "exports", exports)];
        // Both codes of the buyer read the same pool; ALL lists the code's own credits first.
        assert_eq!(dna.credits("APP", "A-2", "EMAIL").await, (StatusCode::OK, json!(pool(20, 5))));
        let mut all = vec![entry("LICENSE", "Credits", 10)];
        all.extend(pool(20, 5));
        assert_eq!(dna.credits("APP", "A-1", "all").await, (StatusCode::OK, json!(all)));
        assert_eq!(dna.credits("APP", "A-1", "LICENSE").await, (StatusCode::OK, json!([entry("LICENSE", "Credits", 10)])));
        // The target also comes in a JSON body, as DNA documents it.
        assert_eq!(dna.send(Method::GET, "/dna/v1/credits/APP/A-1", json!({"Target": "EMAIL", "UserIp": IP})).await, (StatusCode::OK, json!(pool(20, 5))));
        // Another buyer, and the same buyer on another product, have no pool here.
        assert_eq!(dna.credits("APP", "B-1", "EMAIL").await, (StatusCode::OK, json!([])));
        assert_eq!(dna.credits("OTHER", "O-1", "EMAIL").await, (StatusCode::OK, json!([])));

        // EMAIL: what one code uses, the other sees gone.
        assert_eq!(dna.consume("APP", "A-2", "EMAIL", "Credits", 7).await, (StatusCode::OK, json!(pool(13, 5))));
        assert_eq!(dna.credits("APP", "A-1", "EMAIL").await, (StatusCode::OK, json!(pool(13, 5))));
        // ALL: the code's own credits first…
        let (status, body) = dna.consume("APP", "A-1", "ALL", "Credits", 8).await;
        let mut all = vec![entry("LICENSE", "Credits", 2)];
        all.extend(pool(13, 5));
        assert_eq!((status, body), (StatusCode::OK, json!(all)));
        // …then, when they are too few, the pool (whole, never split).
        let (status, body) = dna.consume("APP", "A-1", "ALL", "Credits", 5).await;
        let mut all = vec![entry("LICENSE", "Credits", 2)];
        all.extend(pool(8, 5));
        assert_eq!((status, body), (StatusCode::OK, json!(all)));
        // A code without credits of its own goes straight to the pool; so does a pooled name the
        // code does not have.
        assert_eq!(dna.consume("APP", "A-2", "ALL", "Credits", 3).await, (StatusCode::OK, json!(pool(5, 5))));
        let (status, body) = dna.consume("APP", "A-1", "ALL", "exports", 1).await;
        let mut all = vec![entry("LICENSE", "Credits", 2)];
        all.extend(pool(5, 4));
        assert_eq!((status, body), (StatusCode::OK, json!(all)));
        // Count 0 and test events use nothing.
        assert_eq!(dna.consume("APP", "A-2", "EMAIL", "Credits", 0).await, (StatusCode::OK, json!(pool(5, 4))));
        let (status, body) = dna.send(Method::POST, "/dna/v1/Credits/APP/A-2/consume", json!({"Name": "exports", "Count": 4, "Target": "EMAIL", "Test": true, "UserIp": IP})).await;
        assert_eq!((status, body), (StatusCode::OK, json!(pool(5, 4))));

        // Exhausted: 400 "Not enough credits", and nothing changes (pools, the code's counter,
        // events).
        let events = event_count(&server).await;
        let before = pools(&server, product_id).await;
        assert_eq!(dna.consume("APP", "A-2", "EMAIL", "Credits", 6).await, (StatusCode::BAD_REQUEST, message("Not enough credits")));
        assert_eq!(dna.consume("APP", "A-1", "ALL", "Credits", 6).await, (StatusCode::BAD_REQUEST, message("Not enough credits")));
        assert_eq!(dna.consume("APP", "A-1", "EMAIL", "nosuch", 1).await, (StatusCode::NOT_FOUND, message("Credit Name not found for this license")));
        assert_eq!(dna.consume("APP", "A-2", "ALL", "nosuch", 1).await, (StatusCode::NOT_FOUND, message("Credit Name not found for this license")));
        assert_eq!(pools(&server, product_id).await, before);
        assert_eq!(event_count(&server).await, events);
        let mut all = vec![entry("LICENSE", "Credits", 2)];
        all.extend(pool(5, 4));
        assert_eq!(dna.credits("APP", "A-1", "ALL").await, (StatusCode::OK, json!(all)));
        assert_eq!(before, vec![("buyer@example.com".to_string(), "Credits".to_string(), 5, 15), ("buyer@example.com".to_string(), "exports".to_string(), 4, 1)]);

        // A code without an e-mail reaches no pool: it reads none, and consuming from one is refused.
        assert_eq!(dna.credits("APP", "N-1", "EMAIL").await, (StatusCode::OK, json!([])));
        assert_eq!(dna.credits("APP", "N-1", "ALL").await, (StatusCode::OK, json!([entry("LICENSE", "Credits", 10)])));
        assert_eq!(dna.consume("APP", "N-1", "EMAIL", "Credits", 1).await, (StatusCode::BAD_REQUEST, message("The License Code has no activation email, so it has no EMAIL credits")));
        assert_eq!(dna.consume("APP", "N-1", "ALL", "exports", 1).await, (StatusCode::NOT_FOUND, message("Credit Name not found for this license")));
        assert_eq!(dna.consume("APP", "N-1", "ALL", "Credits", 1).await.0, StatusCode::OK);
        // A code whose e-mail changes reaches the new address's pool.
        set_email(&server, a2, "other@example.com").await;
        assert_eq!(dna.credits("APP", "A-2", "EMAIL").await, (StatusCode::OK, json!([])));
        // A banned code uses no pool credits: the code's own state is checked first.
        assert_eq!(fund(&server, Method::PUT, product_id, "other@example.com", "Credits", 3).await.0, StatusCode::OK);
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{b1}/block"), None).await;
        assert_eq!(status, StatusCode::OK);
        for target in ["EMAIL", "ALL"] {
            assert_eq!(dna.consume("APP", "B-1", target, "Credits", 1).await, (StatusCode::BAD_REQUEST, message("The License Code is BANNED")), "{target}");
        }
        assert_eq!(dna.consume("APP", "A-2", "EMAIL", "Credits", 1).await, (StatusCode::OK, json!([entry("EMAIL", "Credits", 2)])));
        let (status, body) = dna.consume("APP", "A-2", "BOGUS", "Credits", 1).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, message("Invalid Target: use LICENSE, EMAIL or ALL")));

        // Funding is checked: at most 5 credit names per e-mail, balances 0…10^12, real addresses.
        for name in ["c3", "c4", "c5"] {
            assert_eq!(fund(&server, Method::PUT, product_id, "buyer@example.com", name, 1).await.0, StatusCode::OK);
        }
        for (email, name, count) in [
            ("buyer@example.com", "c6", 1),
            ("buyer@example.com", "Credits", -1),
            ("buyer@example.com", "Credits", 1_000_000_000_001),
            ("not-an-address", "Credits", 1),
            ("buyer@example.com", "", 1),
        ] {
            let (status, body) = fund(&server, Method::PUT, product_id, email, name, count).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{email} {name} {count}: {body}");
        }
        let (status, body) = fund(&server, Method::POST, product_id, "buyer@example.com", "Credits", i64::MAX).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fund(&server, Method::PUT, 999_999, "buyer@example.com", "Credits", 1).await.0, StatusCode::NOT_FOUND);
        let (status, _) = server.admin(Method::GET, "/v1/dna/products/999999/credit-pools", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = server.admin(Method::GET, &format!("/v1/dna/products/{product_id}/credit-pools?email=Other@example.com"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body[0]["email"].as_str(), body[0]["count"].as_i64(), body[0]["consumed"].as_i64(), body.as_array().map(Vec::len)), (Some("other@example.com"), Some(2), Some(1), Some(1)));
    }

    async fn dna_email_pool_concurrent_consumptions_never_overdraw(server) {
        let product_id = server.product("APP").await;
        let a1 = license(&server, json!({"product_id": product_id, "key": "RACE-1"})).await;
        let a2 = license(&server, json!({"product_id": product_id, "key": "RACE-2"})).await;
        set_email(&server, a1, "race@example.com").await;
        set_email(&server, a2, "race@example.com").await;
        assert_eq!(fund(&server, Method::PUT, product_id, "race@example.com", "Credits", 20).await.0, StatusCode::OK);
        let dna = client(&server).await;
        // 50 consumptions of 1 at once, from both codes of the buyer, half of them through ALL.
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let http = server.http.clone();
                let url = server.url(&format!("/dna/v1/Credits/APP/RACE-{}/consume", 1 + i % 2));
                let target = if i % 4 < 2 { "EMAIL" } else { "ALL" };
                let (id, key) = (dna.client_id.clone(), dna.api_key.clone());
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    let response = http
                        .post(url)
                        .basic_auth(id, Some(key))
                        .json(&json!({"Name": "Credits", "Count": 1, "Target": target, "UserIp": IP}))
                        .send()
                        .await
                        .expect("request");
                    let status = response.status();
                    (status, response.json::<Value>().await.expect("json"))
                })
            })
            .collect();
        let mut accepted = 0;
        for handle in handles {
            let (status, body) = handle.await.expect("task");
            match status {
                StatusCode::OK => accepted += 1,
                StatusCode::BAD_REQUEST => assert_eq!(body, message("Not enough credits")),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(accepted, 20);
        assert_eq!(pools(&server, product_id).await, vec![("race@example.com".to_string(), "Credits".to_string(), 0, 20)]);
        assert_eq!(dna.credits("APP", "RACE-2", "EMAIL").await, (StatusCode::OK, json!([entry("EMAIL", "Credits", 0)])));
    }
}
