//! Back-office endpoints: license-key and product CRUD, their metadata, lists and the stock count.

use super::*;

/// A key with every capability, as a shop back office would hold.
async fn backoffice_key(server: &Server) -> String {
    api_key(server, json!({"name": "shop", "capabilities": ["all"]}))
        .await
        .1
}

backend_tests! {
    async fn license_key_crud(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-crud").await;
        let pid = product.to_string();
        let key = backoffice_key(&server).await;
        let client = client_key(&server).await;

        // 102: creating keys is not a client capability.
        km.post("create-license-keys", &client, &[("product_id", &pid), ("license_keys", "[\"X\"]")], 102).await;
        // 901: unknown product, bad status, bad numbers, no keys.
        let decoded = km
            .post("create-license-keys", &key, &[("product_id", "999999"), ("license_keys", "[\"KM-A\"]")], 901)
            .await;
        assert_eq!(decoded["message"], "Incorrect data found");
        assert!(decoded["errors"]["product_id"].is_array(), "{decoded}");
        let decoded = km
            .post("create-license-keys", &key, &[("product_id", &pid), ("license_keys", "[\"KM-A\"]"), ("status", "lost"), ("validity", "-1")], 901)
            .await;
        assert!(decoded["errors"]["status"].is_array() && decoded["errors"]["validity"].is_array(), "{decoded}");
        km.post("create-license-keys", &key, &[("product_id", &pid)], 901).await;
        // 900: created and duplicate counts (a repeated key in the batch is a duplicate).
        let decoded = km
            .post(
                "create-license-keys",
                &key,
                &[
                    ("product_id", &pid),
                    ("license_keys", "[\"KM-A\",\"KM-B\",\"KM-A\"]"),
                    ("activation_limit", "2"),
                    ("validity", "30"),
                    ("status", "assigned"),
                    ("owner_name", "Ada"),
                    ("owner_email", "ada@example.com"),
                    ("assigned_at", "2030-01-01 00:00:00"),
                ],
                900,
            )
            .await;
        assert_eq!(decoded["message"], "License keys creation result");
        assert_eq!((decoded["created"].as_i64(), decoded["duplicate"].as_i64()), (Some(2), Some(1)));
        // 902: every key exists already.
        let decoded = km.post("create-license-keys", &key, &[("product_id", &pid), ("license_keys", "[\"KM-A\"]")], 902).await;
        assert_eq!(decoded["message"], "No license keys created");
        // JSON bodies carry the list as an array.
        let response = server
            .http
            .post(server.url("/api/v1/create-license-keys"))
            .bearer_auth(&key)
            .json(&json!({"product_id": product, "license_keys": ["KM-C"], "status": "available"}))
            .send()
            .await
            .unwrap();
        let (status, _, decoded) = km.envelope(response).await;
        assert_eq!((status, decoded["code"].as_i64()), (StatusCode::OK, Some(900)));

        let decoded = km.send(Method::GET, "get-license-keys", &key, &[("product_id", &pid)], Transport::Form).await;
        assert_eq!(decoded["code"], 730);
        assert_eq!(decoded["message"], "License keys");
        let keys = decoded["license_keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3);
        let a = keys.iter().find(|k| k["license_key"] == "KM-A").unwrap();
        assert_eq!(a["status"], "assigned");
        assert_eq!(a["activation_limit"], 2);
        assert_eq!(a["validity"], 30);
        assert_eq!(a["owner_email"], "ada@example.com");
        assert_eq!(a["assigned_at"], "2030-01-01 00:00:00");
        let decoded = km.send(Method::GET, "get-license-keys", &key, &[("status", "available")], Transport::JsonBearer).await;
        assert_eq!(decoded["license_keys"].as_array().map(Vec::len), Some(1), "{decoded}");

        // The activation limit given is the domain's: a third identifier is refused.
        for (identifier, code) in [("h1", 300), ("h2", 300), ("h3", 302)] {
            km.post("activate", &client, &[("license_key", "KM-A"), ("identifier", identifier)], code).await;
        }

        // update-license-key: 951 bad data, 952 unknown, 950 updated.
        km.post("update-license-key", &key, &[("activation_limit", "1")], 951).await;
        km.post("update-license-key", &key, &[("license_key", "NOPE"), ("activation_limit", "1")], 952).await;
        let decoded = km.post("update-license-key", &key, &[("license_key", "KM-A"), ("activation_limit", "x")], 951).await;
        assert!(decoded["errors"]["activation_limit"].is_array(), "{decoded}");
        km.post("update-license-key", &key, &[("license_key", "KM-A"), ("product_id", "999999")], 951).await;
        let decoded = km.post("update-license-key", &key, &[("license_key", "KM-A"), ("status", "blocked")], 950).await;
        assert_eq!(decoded["message"], "License keys updated");
        km.post("verify", &client, &[("license_key", "KM-A"), ("identifier", "h1")], 204).await;
        km.post("update-license-key", &key, &[("license_key", "KM-A"), ("status", "assigned"), ("validity", "0")], 950).await;
        km.post("verify", &client, &[("license_key", "KM-A"), ("identifier", "h1")], 200).await;
        km.post("update-license-key", &key, &[("license_key", "KM-A"), ("assigned_at", "2001-01-01"), ("validity", "1")], 950).await;
        km.post("verify", &client, &[("license_key", "KM-A"), ("identifier", "h1")], 205).await;

        // delete-license-key: 850, then 851.
        let decoded = km.post("delete-license-key", &key, &[("license_key", "KM-B")], 850).await;
        assert_eq!(decoded["message"], "License key deleted");
        let decoded = km.post("delete-license-key", &key, &[("license_key", "KM-B")], 851).await;
        assert_eq!(decoded["message"], "License key not found");
        km.post("verify", &client, &[("license_key", "KM-B"), ("identifier", "h1")], 210).await;
        km.finish();
    }

    async fn license_key_meta(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-meta").await;
        assigned_license(&server, product, "KM-META", 1).await;
        let client = client_key(&server).await;
        let base = |extra: &[(&'static str, &'static str)]| {
            let mut params = vec![("license_key", "KM-META"), ("identifier", "host")];
            params.extend_from_slice(extra);
            params
        };

        let decoded = km.post("create-license-key-meta", &client, &base(&[("value", "v")]), 450).await;
        assert_eq!(decoded["message"], "Meta key is required");
        let decoded = km.post("create-license-key-meta", &client, &base(&[("key", "seat")]), 451).await;
        assert_eq!(decoded["message"], "Meta value is required");
        let decoded = km.post("create-license-key-meta", &client, &base(&[("key", "seat"), ("value", "A1")]), 453).await;
        assert_eq!(decoded["message"], "Metadata created");
        let meta_id = decoded["meta_id"].as_i64().unwrap();
        let decoded = km.post("create-license-key-meta", &client, &base(&[("key", "seat"), ("value", "A2")]), 452).await;
        assert_eq!(decoded["message"], "Meta key already exists");
        km.post(
            "create-license-key-meta",
            &client,
            &[("license_key", "NOPE"), ("identifier", "host"), ("key", "k"), ("value", "v")],
            210,
        )
        .await;

        km.post("update-license-key-meta", &client, &base(&[("value", "v")]), 350).await;
        km.post("update-license-key-meta", &client, &base(&[("key", "seat")]), 351).await;
        let decoded = km.post("update-license-key-meta", &client, &base(&[("key", "other"), ("value", "v")]), 352).await;
        assert_eq!(decoded["message"], "Meta key doesn't exist");
        let decoded = km.post("update-license-key-meta", &client, &base(&[("key", "seat"), ("value", "B7")]), 353).await;
        assert_eq!((decoded["message"].as_str(), decoded["meta_id"].as_i64()), (Some("Metadata updated"), Some(meta_id)));

        // The metadata shows in the license key's details.
        km.post("activate", &client, &base(&[]), 300).await;
        let decoded = km.post("get-license-key-details", &client, &base(&[]), 500).await;
        assert_eq!(decoded["licenseKey"]["meta_data"], json!([{"key": "seat", "value": "B7"}]));

        km.post("delete-license-key-meta", &client, &base(&[]), 250).await;
        let decoded = km.post("delete-license-key-meta", &client, &base(&[("key", "seat")]), 252).await;
        assert_eq!(decoded["message"], "Metadata deleted");
        let decoded = km.post("delete-license-key-meta", &client, &base(&[("key", "seat")]), 251).await;
        assert_eq!(decoded["message"], "Meta key doesn't exist");

        // A key still in stock takes no metadata (201).
        let (status, _) = server
            .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": product, "key": "KM-STOCK", "assignment": "in_stock"})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        km.post(
            "create-license-key-meta",
            &client,
            &[("license_key", "KM-STOCK"), ("identifier", "host"), ("key", "k"), ("value", "v")],
            201,
        )
        .await;
        km.finish();
    }

    async fn product_crud_meta_and_lists(server) {
        let km = Km::new(&server).await;
        let key = backoffice_key(&server).await;
        let client = client_key(&server).await;

        let decoded = km.post("create-product", &key, &[("description", "no name")], 751).await;
        assert_eq!(decoded["message"], "Incorrect data found");
        assert!(decoded["errors"]["name"].is_array(), "{decoded}");
        let decoded = km.post("create-product", &key, &[("name", "Pro"), ("status", "sleeping")], 751).await;
        assert!(decoded["errors"]["status"].is_array(), "{decoded}");
        km.post("create-product", &key, &[("name", "Pro"), ("source", "envato")], 751).await;
        let decoded = km
            .post(
                "create-product",
                &key,
                &[("name", "Pro"), ("description", "The pro plugin"), ("source", "internal"), ("status", "active"), ("require_non_expired", "1")],
                750,
            )
            .await;
        assert_eq!(decoded["message"], "Product created");
        let product = decoded["product_id"].as_i64().unwrap();
        let pid = product.to_string();
        km.post("create-product", &client, &[("name", "Nope")], 102).await;

        // Product meta: 274/270/271 → 273 → 272; 374/370/371/372 → 373; 483/480/481 → 482.
        km.post("create-product-meta", &key, &[("product_id", "999999"), ("key", "k"), ("value", "v")], 274).await;
        km.post("create-product-meta", &key, &[("product_id", &pid), ("value", "v")], 270).await;
        km.post("create-product-meta", &key, &[("product_id", &pid), ("key", "tier")], 271).await;
        let decoded = km.post("create-product-meta", &key, &[("product_id", &pid), ("key", "tier"), ("value", "gold")], 273).await;
        assert_eq!(decoded["message"], "Product meta created");
        let decoded = km.post("create-product-meta", &key, &[("product_id", &pid), ("key", "tier"), ("value", "x")], 272).await;
        assert_eq!(decoded["message"], "Meta key already exists");
        let decoded = km.post("update-product-meta", &key, &[("product_id", "999999"), ("key", "tier"), ("value", "x")], 374).await;
        assert_eq!(decoded["message"], "Product not found");
        km.post("update-product-meta", &key, &[("product_id", &pid), ("value", "x")], 370).await;
        km.post("update-product-meta", &key, &[("product_id", &pid), ("key", "tier")], 371).await;
        let decoded = km.post("update-product-meta", &key, &[("product_id", &pid), ("key", "size"), ("value", "x")], 372).await;
        assert_eq!(decoded["message"], "Meta key doesn't exists");
        let decoded = km.post("update-product-meta", &key, &[("product_id", &pid), ("key", "tier"), ("value", "platinum")], 373).await;
        assert_eq!(decoded["message"], "Product meta updated");

        let decoded = km.send(Method::GET, "get-all-products", &key, &[], Transport::Form).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(810), Some("All products")));
        let listed = decoded["products"].as_array().unwrap().iter().find(|p| p["id"] == product).unwrap().clone();
        assert_eq!(listed["name"], "Pro");
        assert_eq!(listed["description"], "The pro plugin");
        assert_eq!(listed["require_non_expired"], 1);
        assert_eq!(listed["meta_data"][0]["value"], "platinum");

        km.post("delete-product-meta", &key, &[("product_id", "999999"), ("key", "tier")], 483).await;
        km.post("delete-product-meta", &key, &[("product_id", &pid)], 480).await;
        let decoded = km.post("delete-product-meta", &key, &[("product_id", &pid), ("key", "size")], 481).await;
        assert_eq!(decoded["message"], "Meta key doesn't exists");
        let decoded = km.post("delete-product-meta", &key, &[("product_id", &pid), ("key", "tier")], 482).await;
        assert_eq!(decoded["message"], "Product meta deleted");

        // Stock count: 740 unknown product, 741 with the count of available keys.
        let decoded = km.send(Method::GET, "get-available-license-keys-count", &key, &[("product_id", "999999")], Transport::Form).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(740), Some("Product doesn't exist")));
        km.post("create-license-keys", &key, &[("product_id", &pid), ("license_keys", "[\"S1\",\"S2\",\"S3\"]")], 900).await;
        km.post("create-license-keys", &key, &[("product_id", &pid), ("license_keys", "[\"T1\"]"), ("status", "assigned")], 900).await;
        let decoded = km.send(Method::GET, "get-available-license-keys-count", &key, &[("product_id", &pid)], Transport::Query).await;
        assert_eq!((decoded["code"].as_i64(), decoded["count"].as_i64()), (Some(741), Some(3)));

        // update-product: 651 unknown / invalid, 650; an inactive product gives 203 on verify.
        let decoded = km.post("update-product", &key, &[("product_id", "999999"), ("name", "x")], 651).await;
        assert_eq!(decoded["message"], "Incorrect data found");
        km.post("update-product", &key, &[("product_id", &pid), ("status", "asleep")], 651).await;
        let decoded = km.post("update-product", &key, &[("product_id", &pid), ("status", "inactive")], 650).await;
        assert_eq!(decoded["message"], "Product updated");
        km.post("verify", &client, &[("license_key", "T1"), ("identifier", "h")], 203).await;
        km.post("update-product", &key, &[("product_id", &pid), ("status", "active"), ("name", "Pro 2")], 650).await;
        km.post("verify", &client, &[("license_key", "T1"), ("identifier", "h")], 202).await;
        let (_, native) = server.admin(Method::GET, &format!("/v1/products/{product}"), None).await;
        assert_eq!(native["name"], "Pro 2");

        // delete-product removes the product with its keys (its contract has no "in use" answer,
        // so it cascades: `licensd_domain::product_deletion`), each logged: 550, then 551.
        km.post("activate", &client, &[("license_key", "T1"), ("identifier", "h")], 300).await;
        let (_, keys) = server.admin(Method::GET, &format!("/v1/licenses?product_id={product}"), None).await;
        let mut key_ids: Vec<i64> = keys["data"].as_array().unwrap().iter().map(|l| l["id"].as_i64().unwrap()).collect();
        key_ids.sort_unstable();
        assert!(key_ids.len() >= 4, "{keys}");
        let decoded = km.post("delete-product", &key, &[("product_id", &pid)], 550).await;
        assert_eq!(decoded["message"], "Product deleted");
        let (_, events) = server.admin(Method::GET, "/v1/events?action=license.deleted&limit=100", None).await;
        let mut cascaded: Vec<i64> = events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["data"] == json!({"cascade_from_product": product}))
            .map(|e| e["subject_id"].as_i64().unwrap())
            .collect();
        cascaded.sort_unstable();
        assert_eq!(cascaded, key_ids);
        let (status, _) = server.admin(Method::GET, &format!("/v1/licenses/{}", key_ids[0]), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let decoded = km.post("delete-product", &key, &[("product_id", &pid)], 551).await;
        assert_eq!(decoded["message"], "Product not found");
        km.post("verify", &client, &[("license_key", "T1"), ("identifier", "h")], 210).await;
        km.finish();
    }
}
