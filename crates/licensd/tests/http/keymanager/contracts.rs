//! Contract CRUD (825, 841–846) and the Contracts API (1200–1501).

use super::*;

/// A Contracts API call authenticated with the contract key as bearer token (JSON body).
async fn contract_call(
    km: &Km<'_>,
    method: Method,
    action: &str,
    contract_key: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let (status, _, decoded) = km
        .send_full(
            method,
            &format!("contracts/{action}"),
            contract_key,
            params,
            Transport::JsonBearer,
        )
        .await;
    (status, decoded)
}

backend_tests! {
    async fn contracts_and_the_contracts_api(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-contract").await;
        let pid = product.to_string();
        let bare = server.product("km-contract-bare").await;
        let (status, _) = server
            .admin(Method::POST, &format!("/v1/keymanager/products/{product}/generators"), Some(json!({"name": "g", "pattern": {"prefix": "RES-"}})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let key = api_key(&server, json!({"name": "shop", "capabilities": ["all"]})).await.1;
        let client = client_key(&server).await;

        // 825 with per-field errors, 841.
        let decoded = km.post("create-contract", &key, &[("contract_name", "R")], 825).await;
        assert_eq!(decoded["message"], "Incorrect data found");
        assert!(decoded["errors"]["contract_key"].is_string() && decoded["errors"]["product_id"].is_string(), "{decoded}");
        km.post("create-contract", &key, &[("contract_key", "reseller-key-0001"), ("contract_name", "R"), ("product_id", &pid), ("license_keys_quantity", "0")], 825).await;
        let fields = [
            ("contract_key", "reseller-key-0001"),
            ("contract_name", "Reseller"),
            ("contract_information", "10-site pack"),
            ("product_id", pid.as_str()),
            ("license_keys_quantity", "3"),
            ("status", "active"),
            ("can_get_info", "1"),
            ("can_generate", "1"),
            ("can_destroy", "1"),
            ("can_destroy_all", "1"),
        ];
        let decoded = km.post("create-contract", &key, &fields, 841).await;
        assert_eq!(decoded["message"], "contract created");
        let contract_id = decoded["contract"]["id"].as_i64().unwrap().to_string();
        assert_eq!(decoded["contract"]["license_keys_count"], 0);
        let decoded = km.post("create-contract", &key, &fields, 825).await;
        assert!(decoded["errors"]["contract_key"].is_string(), "{decoded}");
        km.post("create-contract", &client, &fields, 102).await;

        // update-contract: 825 for an unknown id or bad data, 842.
        km.post("update-contract", &key, &[("contract_id", "999999"), ("contract_name", "x")], 825).await;
        km.post("update-contract", &key, &[("contract_id", &contract_id), ("status", "paused")], 825).await;
        let decoded = km.post("update-contract", &key, &[("contract_id", &contract_id), ("contract_name", "Reseller A")], 842).await;
        assert_eq!((decoded["message"].as_str(), decoded["contract"]["name"].as_str()), (Some("contract updated"), Some("Reseller A")));

        // The Contracts API: 1200, 1204, 1300, 1206, 1205.
        let (_, decoded) = contract_call(&km, Method::GET, "get-info", "not-a-contract", &[]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1200), Some("Contract not found")));
        let (_, decoded) = contract_call(&km, Method::GET, "get-info", "reseller-key-0001", &[]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1204), Some("Contract found")));
        assert_eq!(decoded["product"]["id"], product);
        assert_eq!(decoded["generator"]["prefix"], "RES-");
        let (_, decoded) = contract_call(&km, Method::POST, "generate", "reseller-key-0001", &[("quantity", "2")]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1300), Some("Contract license keys generated")));
        let keys: Vec<String> = decoded["license_keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
        assert_eq!(keys.len(), 2);
        // The contract's keys work at once.
        km.post("activate", &client, &[("license_key", &keys[0]), ("identifier", "h")], 300).await;
        let (_, decoded) = contract_call(&km, Method::POST, "generate", "reseller-key-0001", &[("quantity", "2")]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1206), Some("Cannot generate this quantity")));
        let (_, decoded) = contract_call(&km, Method::POST, "generate", "reseller-key-0001", &[("quantity", "x")]).await;
        assert_eq!(decoded["code"], 1206);
        let (_, decoded) = contract_call(&km, Method::POST, "generate", "reseller-key-0001", &[("quantity", "1")]).await;
        assert_eq!(decoded["code"], 1300);
        let (_, decoded) = contract_call(&km, Method::POST, "generate", "reseller-key-0001", &[("quantity", "1")]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1205), Some("License keys limit reached")));
        // contract_uuid in the body works as well as the bearer token.
        let (_, _, decoded) = km
            .send_full(Method::POST, "contracts/generate", "", &[("contract_uuid", "reseller-key-0001"), ("quantity", "1")], Transport::Form)
            .await;
        assert_eq!(decoded["code"], 1205);

        let decoded = km.send(Method::GET, "get-all-contracts", &key, &[], Transport::Form).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(846), Some("All contracts")));
        assert_eq!(decoded["contracts"][0]["license_keys_count"], 3);

        // destroy: 1401 for a key that is not the contract's, 1400; destroy-all: 1500, then 1501.
        km.post("create-license-keys", &key, &[("product_id", &pid), ("license_keys", "[\"OUTSIDE\"]")], 900).await;
        let (_, decoded) = contract_call(&km, Method::POST, "destroy", "reseller-key-0001", &[("license_key", "OUTSIDE")]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1401), Some("License key not found")));
        let (_, decoded) = contract_call(&km, Method::POST, "destroy", "reseller-key-0001", &[("license_key", &keys[0])]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1400), Some("License key deleted")));
        km.post("verify", &client, &[("license_key", &keys[0]), ("identifier", "h")], 210).await;
        let (_, decoded) = contract_call(&km, Method::POST, "generate", "reseller-key-0001", &[("quantity", "1")]).await;
        assert_eq!(decoded["code"], 1300, "destroying a key frees its quota");
        let (_, decoded) = contract_call(&km, Method::POST, "destroy-all", "reseller-key-0001", &[]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1500), Some("License keys deleted")));
        let (_, decoded) = contract_call(&km, Method::POST, "destroy-all", "reseller-key-0001", &[]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1501), Some("No license keys not found")));
        km.post("verify", &client, &[("license_key", "OUTSIDE"), ("identifier", "h")], 201).await;

        // Permissions off → 102 (HTTP 401); a product without generator → 1203; inactive → 1202.
        km.post("update-contract", &key, &[("contract_id", &contract_id), ("can_get_info", "0"), ("can_destroy", "0")], 842).await;
        let (status, decoded) = contract_call(&km, Method::GET, "get-info", "reseller-key-0001", &[]).await;
        assert_eq!((status, decoded["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(102)));
        let (_, decoded) = contract_call(&km, Method::POST, "destroy", "reseller-key-0001", &[("license_key", "OUTSIDE")]).await;
        assert_eq!(decoded["code"], 102);
        let bare_id = bare.to_string();
        km.post("create-contract", &key, &[("contract_key", "bare-contract-01"), ("contract_name", "B"), ("contract_information", "bare"), ("product_id", &bare_id), ("license_keys_quantity", "5"), ("status", "active"), ("can_get_info", "1"), ("can_generate", "1"), ("can_destroy", "0"), ("can_destroy_all", "0")], 841).await;
        let (_, decoded) = contract_call(&km, Method::GET, "get-info", "bare-contract-01", &[]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1203), Some("Generator not found")));
        let (_, decoded) = contract_call(&km, Method::POST, "generate", "bare-contract-01", &[("quantity", "1")]).await;
        assert_eq!(decoded["code"], 1203);
        let (status, _) = server.admin(Method::PATCH, &format!("/v1/products/{bare}"), Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);
        let (_, decoded) = contract_call(&km, Method::GET, "get-info", "bare-contract-01", &[]).await;
        assert_eq!((decoded["code"].as_i64(), decoded["message"].as_str()), (Some(1202), Some("Product not found")));

        // delete-contract: 843, then 844.
        let decoded = km.post("delete-contract", &key, &[("contract_id", &contract_id)], 843).await;
        assert_eq!(decoded["message"], "contract deleted");
        let decoded = km.post("delete-contract", &key, &[("contract_id", &contract_id)], 844).await;
        assert_eq!(decoded["message"], "Contract not found");
        let (_, decoded) = contract_call(&km, Method::GET, "get-info", "reseller-key-0001", &[]).await;
        assert_eq!(decoded["code"], 1200);
        km.finish();
    }
}
