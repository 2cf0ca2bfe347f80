//! Verify code 206: an Envato purchase code imported as a license key, against a local stand-in
//! for the Envato Market API on 127.0.0.1.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VALID: &str = "86781236-23d0-4b3c-7dfa-c1c147e0dece";
const OTHER_ITEM: &str = "11111111-2222-4333-8444-555555555555";
const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

/// Answers `GET /v3/market/author/sale?code=…` like Envato: a sale for two codes, 404 otherwise;
/// every request must carry the configured token.
async fn fake_envato(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&data).contains("\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => data.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&data).to_string();
            let authorised = request
                .to_ascii_lowercase()
                .contains("authorization: bearer envato-token");
            let (status, body) = if !authorised {
                ("401 Unauthorized", "{}".to_string())
            } else if request.starts_with(&format!("GET /v3/market/author/sale?code={VALID} ")) {
                (
                    "200 OK",
                    json!({"item": {"id": 12345}, "buyer": "envato-buyer"}).to_string(),
                )
            } else if request.starts_with(&format!("GET /v3/market/author/sale?code={OTHER_ITEM} ")) {
                ("200 OK", json!({"item": {"id": 99999}, "buyer": "someone"}).to_string())
            } else {
                ("404 Not Found", json!({"error": 404}).to_string())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}

backend_tests! {
    async fn envato_purchase_codes_are_imported(server) {
        // Without an Envato token configured, unknown keys stay unknown.
        let plain = Km::new(&server).await;
        let key = client_key(&server).await;
        plain.post("verify", &key, &[("license_key", VALID), ("identifier", "shop.example")], 210).await;
        plain.finish();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let envato_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(fake_envato(listener));
        let database_url = match server.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await.url),
        };
        let server = Server::start_with(
            server.backend,
            tempfile::tempdir().unwrap(),
            database_url,
            &[("LICENSD_ENVATO_TOKEN", "envato-token"), ("LICENSD_ENVATO_API_URL", envato_url.as_str())],
        )
        .await;
        let km = Km::new(&server).await;
        let shop = api_key(&server, json!({"name": "shop", "capabilities": ["all"]})).await.1;
        let key = client_key(&server).await;
        let decoded = km
            .post("create-product", &shop, &[("name", "Theme"), ("description", "A theme"), ("source", "envato"), ("external_reference", "12345")], 750)
            .await;
        let product = decoded["product_id"].as_i64().unwrap();

        km.post("verify", &key, &[("license_key", UNKNOWN), ("identifier", "shop.example")], 210).await;
        // A sale of an item that is not ours is not imported.
        km.post("verify", &key, &[("license_key", OTHER_ITEM), ("identifier", "shop.example")], 210).await;
        let decoded = km
            .post("verify", &key, &[("license_key", VALID), ("identifier", "shop.example"), ("email", "buyer@example.com")], 206)
            .await;
        assert_eq!(decoded["message"], "Envato purchase code added");
        // From now on the code is a license key like any other, activated where it was verified.
        km.post("verify", &key, &[("license_key", VALID), ("identifier", "shop.example")], 200).await;
        let decoded = km.post("get-license-key-details", &key, &[("license_key", VALID), ("identifier", "shop.example")], 500).await;
        assert_eq!(decoded["licenseKey"]["owner_email"], "buyer@example.com");
        assert_eq!(decoded["licenseKey"]["owner_name"], "envato-buyer");
        assert_eq!(decoded["product"]["id"], product);
        assert_eq!(decoded["product"]["source"], "envato");
        km.post("verify", &key, &[("license_key", VALID), ("identifier", "other.example")], 202).await;
        km.post("activate", &key, &[("license_key", VALID), ("identifier", "other.example")], 302).await;
        km.finish();
    }
}
