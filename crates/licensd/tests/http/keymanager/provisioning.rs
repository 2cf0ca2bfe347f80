//! Generators, generate, assign-license-key, random-assign-license-keys and the queued variant.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn generator(server: &Server, product: i64, body: Value) -> i64 {
    let (status, created) = server
        .admin(
            Method::POST,
            &format!("/v1/keymanager/products/{product}/generators"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().unwrap()
}

/// Accepts one HTTP request on 127.0.0.1 and hands back its body.
async fn receive_one(listener: tokio::net::TcpListener) -> String {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the whole request arrived");
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await
                    .unwrap();
                return String::from_utf8(data[end + 4..end + 4 + length].to_vec()).unwrap();
            }
        }
    }
}

backend_tests! {
    async fn generators_generate_and_assign(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-gen").await;
        let pid = product.to_string();
        let bare = server.product("km-gen-bare").await;
        let key = api_key(&server, json!({"name": "shop", "capabilities": ["all"]})).await.1;
        let client = client_key(&server).await;
        let gid = generator(
            &server,
            product,
            json!({"name": "pro", "pattern": {"prefix": "PRO-", "chunks": 4, "chunk_length": 5}, "activation_limit": 2, "validity_days": 30}),
        )
        .await;
        generator(&server, product, json!({"name": "uuid", "pattern": {"uuid": true}, "active": false})).await;
        let (status, _) = server
            .admin(Method::POST, &format!("/v1/keymanager/products/{product}/generators"), Some(json!({"name": "weak", "pattern": {"chunks": 1, "chunk_length": 2}})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let decoded = km.send(Method::GET, "get-all-generators", &key, &[], Transport::Form).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(820), Some("All generators")));
        let listed = decoded["products"].as_array().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0]["method"], "chunk-system");
        assert_eq!(listed[0]["prefix"], "PRO-");
        assert_eq!(listed[0]["number_of_chunks"], 4);
        assert_eq!(listed[1]["method"], "uuid");
        assert_eq!(listed[1]["status"], 0);

        // generate: 815, 806 for an unknown generator, 901 for a bad quantity.
        let decoded = km.post("generate", &key, &[("generator_id", &gid.to_string()), ("quantity", "3")], 815).await;
        assert_eq!(decoded["message"], "Generated license keys");
        let minted: Vec<String> = decoded["licenseKeys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
        assert_eq!(minted.len(), 3);
        assert!(minted.iter().all(|k| k.starts_with("PRO-") && k.len() == 4 + 4 * 5 + 3), "{minted:?}");
        let decoded = km.post("generate", &key, &[("generator_id", "999999"), ("quantity", "1")], 806).await;
        assert_eq!(decoded["message"], "Generator not found");
        km.post("generate", &key, &[("generator_id", &gid.to_string()), ("quantity", "0")], 901).await;
        km.post("generate", &key, &[("generator_id", &gid.to_string()), ("quantity", "1001")], 901).await;
        km.post("generate", &client, &[("generator_id", &gid.to_string()), ("quantity", "1")], 102).await;

        // Minted keys are in stock until assigned.
        km.post("verify", &client, &[("license_key", &minted[0]), ("identifier", "h")], 201).await;
        let decoded = km
            .post("assign-license-key", &key, &[("license_key", &minted[0]), ("owner_name", "Bob"), ("email", "bob@example.com")], 800)
            .await;
        assert_eq!(decoded, json!({"code": 800, "message": "License key assigned", "timestamp": decoded["timestamp"]}));
        let listed = km.send(Method::GET, "get-license-keys", &key, &[("owner_email", "bob@example.com")], Transport::Form).await;
        let bob = &listed["license_keys"][0];
        assert_eq!((bob["license_key"].as_str(), bob["status"].as_str(), bob["owner_name"].as_str()), (Some(minted[0].as_str()), Some("assigned"), Some("Bob")));
        assert!(bob["assigned_at"].is_string(), "{listed}");
        let decoded = km.post("assign-license-key", &key, &[("license_key", &minted[0])], 801).await;
        assert_eq!(decoded["message"], "Invalid or already assigned license key");
        km.post("assign-license-key", &key, &[("license_key", "NOPE")], 801).await;
        km.post("verify", &client, &[("license_key", &minted[0]), ("identifier", "h")], 202).await;
        for (identifier, code) in [("h", 300), ("i", 300), ("j", 302)] {
            km.post("activate", &client, &[("license_key", &minted[0]), ("identifier", identifier)], code).await;
        }

        let decoded = km.send(Method::GET, "get-available-license-keys-count", &key, &[("product_id", &pid)], Transport::Form).await;
        assert_eq!(decoded["count"], 2);

        // random-assign: 805, 802 (with what is available), 803, 806 without a generator.
        let decoded = km.post("random-assign-license-keys", &key, &[("product_id", "999999"), ("quantity", "1")], 805).await;
        assert_eq!(decoded["message"], "Product not found");
        let decoded = km
            .post("random-assign-license-keys", &key, &[("product_id", &pid), ("quantity", "5"), ("generate", "0")], 802)
            .await;
        assert_eq!((decoded["message"].as_str(), decoded["available_quantity"].as_i64()), (Some("Insufficient license keys"), Some(2)));
        let decoded = km
            .post(
                "random-assign-license-keys",
                &key,
                &[("product_id", &pid), ("quantity", "2"), ("owner_name", "Cy"), ("owner_email", "cy@example.com")],
                803,
            )
            .await;
        assert_eq!(decoded["message"], "License keys assigned");
        let assigned = decoded["license_keys"].as_array().unwrap();
        assert_eq!(assigned.len(), 2);
        assert!(assigned.iter().all(|k| k["status"] == "assigned" && k["owner_email"] == "cy@example.com"), "{decoded}");
        let decoded = km.send(Method::GET, "get-available-license-keys-count", &key, &[("product_id", &pid)], Transport::Form).await;
        assert_eq!(decoded["count"], 0);
        // generate = 1 mints the shortfall with the product's generator.
        let decoded = km
            .post("random-assign-license-keys", &key, &[("product_id", &pid), ("quantity", "3"), ("generate", "1"), ("owner_email", "d@example.com")], 803)
            .await;
        let assigned = decoded["license_keys"].as_array().unwrap();
        assert_eq!(assigned.len(), 3);
        assert!(assigned.iter().all(|k| k["license_key"].as_str().unwrap().starts_with("PRO-") && k["status"] == "assigned" && k["activation_limit"] == 2), "{decoded}");
        let bare_id = bare.to_string();
        let decoded = km
            .post("random-assign-license-keys", &key, &[("product_id", &bare_id), ("quantity", "1"), ("generate", "1")], 806)
            .await;
        assert_eq!(decoded["message"], "Generator not found");
        km.finish();
    }

    async fn queued_random_assign_calls_back(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-queue").await;
        let pid = product.to_string();
        let key = api_key(&server, json!({"name": "shop", "capabilities": ["all"]})).await.1;
        km.post("create-license-keys", &key, &[("product_id", &pid), ("license_keys", "[\"Q1\",\"Q2\"]")], 900).await;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = tokio::spawn(receive_one(listener));
        let decoded = km
            .post(
                "random-assign-license-keys-queued",
                &key,
                &[("product_id", &pid), ("quantity", "2"), ("webhook_url", &hook), ("identifier", "order-77")],
                807,
            )
            .await;
        assert_eq!(decoded["message"], "Request Queued");
        let body = tokio::time::timeout(std::time::Duration::from_secs(20), received).await.unwrap().unwrap();
        let (_, result) = km.check_text(&body);
        assert_eq!(result["code"], 803, "{result}");
        assert_eq!(result["identifier"], "order-77");
        assert_eq!(result["license_keys"].as_array().map(Vec::len), Some(2));

        // Failures travel in the callback too (here: nothing left in stock).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = tokio::spawn(receive_one(listener));
        km.post("random-assign-license-keys-queued", &key, &[("product_id", &pid), ("quantity", "1"), ("webhook_url", &hook)], 807).await;
        let body = tokio::time::timeout(std::time::Duration::from_secs(20), received).await.unwrap().unwrap();
        let (_, result) = km.check_text(&body);
        assert_eq!((result["code"].as_i64(), result["available_quantity"].as_i64()), (Some(802), Some(0)));
        // A missing or unusable webhook URL is refused up front.
        km.post("random-assign-license-keys-queued", &key, &[("product_id", &pid), ("quantity", "1"), ("webhook_url", "ftp://x")], 901).await;
        km.finish();
    }
}
