//! access-downloadables, download, send-telemetry-data and get-telemetry-data.

use super::*;

async fn downloadable(server: &Server, product: i64, numeric: i64, published: bool) -> i64 {
    let (status, created) = server
        .admin(
            Method::POST,
            &format!("/v1/keymanager/products/{product}/downloadables"),
            Some(json!({"numeric_version": numeric, "version": format!("1.0.{}", numeric % 100), "update_summary": "fixes", "published": published})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().unwrap()
}

backend_tests! {
    async fn downloadables_and_download(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-dl").await;
        let license = assigned_license(&server, product, "KM-DL", 2).await;
        let client = client_key(&server).await;
        let with_file = downloadable(&server, product, 102, true).await;
        downloadable(&server, product, 103, true).await;
        downloadable(&server, product, 104, false).await;
        let (status, _) = server
            .admin(Method::POST, &format!("/v1/keymanager/products/{product}/downloadables"), Some(json!({"numeric_version": 102, "version": "dup"})))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let content = b"PK\x03\x04 plugin bytes".to_vec();
        let response = server
            .http
            .put(server.url(&format!("/v1/keymanager/downloadables/{with_file}/file?name=../plugin.zip")))
            .bearer_auth(ADMIN_TOKEN)
            .body(content.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let uploaded: Value = response.json().await.unwrap();
        assert_eq!((uploaded["file_name"].as_str(), uploaded["file_size"].as_i64()), (Some("plugin.zip"), Some(content.len() as i64)));

        let params = [("license_key", "KM-DL"), ("identifier", "site.example")];
        km.post("access-downloadables", &client, &params, 202).await;
        km.post("activate", &client, &params, 300).await;
        let decoded = km.post("access-downloadables", &client, &params, 600).await;
        assert_eq!(decoded["message"], "Downloads");
        let offered = decoded["downloadables"].as_array().unwrap();
        assert_eq!(offered.iter().map(|d| d["numeric_version"].as_i64().unwrap()).collect::<Vec<_>>(), vec![102, 103]);
        let url = offered[0]["url"].as_str().unwrap().to_string();
        assert!(url.starts_with(&server.base) && url.ends_with("/102"), "{url}");

        // The file itself, counted.
        let response = server.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get("content-disposition").and_then(|v| v.to_str().ok()),
            Some("attachment; filename=\"plugin.zip\"")
        );
        assert_eq!(response.bytes().await.unwrap().to_vec(), content);
        let (_, fetched) = server.admin(Method::GET, &format!("/v1/keymanager/downloadables/{with_file}"), None).await;
        assert_eq!(fetched["download_counter"], 1);

        // 700: a version without a file, an unknown or unpublished one.
        for version in ["103", "999", "104", "x"] {
            let response = server.http.get(url.replace("/102", &format!("/{version}"))).send().await.unwrap();
            let (status, _, decoded) = km.envelope(response).await;
            assert_eq!((status, decoded["code"].as_i64()), (StatusCode::OK, Some(700)), "{version}");
            assert_eq!(decoded["message"], "The request file doesn't exist");
        }
        // 701: an identifier without an activation, an unknown key, a blocked license.
        let other_identifier = licensd_crypto::b64(b"elsewhere.example");
        let segments: Vec<&str> = url.rsplitn(3, '/').collect();
        let unentitled = format!("{}/{}/102", segments[2], other_identifier);
        let response = server.http.get(&unentitled).send().await.unwrap();
        let (_, _, decoded) = km.envelope(response).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(701), Some("You don't have permission to access it")));
        let response = server.http.get(url.replace("/KM-DL/", "/NOPE/")).send().await.unwrap();
        let (_, _, decoded) = km.envelope(response).await;
        assert_eq!(decoded["code"], 701);
        let (status, _) = server.admin(Method::POST, &format!("/v1/licenses/{license}/block"), None).await;
        assert_eq!(status, StatusCode::OK);
        let response = server.http.get(&url).send().await.unwrap();
        let (_, _, decoded) = km.envelope(response).await;
        assert_eq!(decoded["code"], 701);
        km.post("access-downloadables", &client, &params, 204).await;
        // A bad API key in the URL is the usual 100.
        let response = server.http.get(url.replacen(&client, "nope.nope", 1)).send().await.unwrap();
        let (status, _, decoded) = km.envelope(response).await;
        assert_eq!((status, decoded["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(100)));
        km.finish();
    }

    async fn telemetry_is_kept_and_flagged(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-tel").await;
        let pid = product.to_string();
        assigned_license(&server, product, "KM-TEL", 1).await;
        let client = client_key(&server).await;
        let reader = api_key(&server, json!({"name": "analytics", "capabilities": ["get-telemetry-data"]})).await.1;

        downloadable(&server, product, 101, true).await;
        let decoded = km
            .post(
                "send-telemetry-data",
                &client,
                &[("data_type", "numeric-single-value"), ("numeric_data_single_value", "42"), ("data_group", "opens"), ("license_key", "KM-TEL"), ("product_id", &pid), ("user_identifier", "u1"), ("activation_identifier", "desk-1"), ("product_version", "1.0.1")],
                830,
            )
            .await;
        assert_eq!((decoded["message"].as_str(), &decoded["errors"]), (Some("Correct format data saved"), &json!([])));
        let decoded = km
            .post("send-telemetry-data", &client, &[("data_type", "numeric-xy-axis"), ("numeric_data_x", "1"), ("data_group", "perf"), ("license_key", "KM-TEL")], 831)
            .await;
        assert_eq!(decoded["message"], "Incorrect format data saved");
        assert!(decoded["errors"]["numeric_data_y"].is_array(), "{decoded}");
        // A cracked copy's made-up key is stored and red-flagged.
        km.post("send-telemetry-data", &client, &[("data_type", "text"), ("text_data", "hi"), ("data_group", "g"), ("license_key", "CRACKED-123"), ("user_identifier", "u2"), ("activation_identifier", "desk-2"), ("product_version", "1.0.1")], 830).await;
        km.post("get-telemetry-data", &client, &[], 102).await;

        let decoded = km.send(Method::GET, "get-telemetry-data", &reader, &[], Transport::Form).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(970), Some("Telemetry data found")));
        assert_eq!(decoded["data"].as_array().map(Vec::len), Some(3));
        let decoded = km.send(Method::GET, "get-telemetry-data", &reader, &[("has_red_flags", "1")], Transport::Form).await;
        let flagged = decoded["data"].as_array().unwrap();
        assert_eq!(flagged.len(), 1);
        assert_eq!((flagged[0]["license_key"].as_str(), flagged[0]["license_key_exists"].as_i64()), (Some("CRACKED-123"), Some(0)));
        let decoded = km.send(Method::GET, "get-telemetry-data", &reader, &[("license_key", "KM-TEL")], Transport::JsonBearer).await;
        let records = decoded["data"].as_array().unwrap();
        assert_eq!(records.len(), 2);
        assert!(records.iter().any(|r| r["is_correct_format"] == 0 && r["data_group"] == "perf"));
        assert!(records.iter().any(|r| r["data"] == json!({"value": 42.0}) && r["user_identifier"] == "u1" && r["has_red_flags"] == 0));
        km.finish();
    }
}
