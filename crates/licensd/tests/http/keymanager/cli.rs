//! `licensd keymanager …`: everything the dialect adds is manageable from the CLI, and what the CLI
//! sets is what the Key Manager API then does.

use super::*;

fn cli_json(server: &Server, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let (code, stdout, stderr) = server.cli(&full);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("{stdout}"))
    }
}

backend_tests! {
    async fn cli_manages_keys_blocks_generators_downloadables_and_contracts(server) {
        let km = Km::new(&server).await;
        let product = server.product("km-cli").await;
        let pid = product.to_string();

        let (code, stdout, stderr) = server.cli(&["keymanager", "capabilities"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("create-product") && stdout.contains("client default"), "{stdout}");
        let created = cli_json(&server, &["keymanager", "create-key", "shop", "--capability", "verify", "--capability", "generate", "--capability", "activate"]);
        let key = created["api_key"].as_str().unwrap().to_string();
        let id = created["credential"]["id"].as_i64().unwrap().to_string();
        let (code, stdout, _) = server.cli(&["keymanager", "keys"]);
        assert_eq!(code, 0);
        assert!(stdout.contains("shop") && stdout.contains("generate"), "{stdout}");
        let (code, _, stderr) = server.cli(&["keymanager", "create-key", "bad", "--capability", "fly"]);
        assert_eq!(code, 5, "{stderr}");

        // A generator made with the CLI mints through the API.
        let generator = cli_json(&server, &["keymanager", "create-generator", &pid, "cli", "--prefix", "CLI-", "--chunks", "3", "--chunk-length", "6", "--activation-limit", "1"]);
        let gid = generator["id"].as_i64().unwrap().to_string();
        let listed = cli_json(&server, &["keymanager", "generators", "--product", &pid]);
        assert_eq!(listed.as_array().map(Vec::len), Some(1));
        let decoded = km.post("generate", &key, &[("generator_id", &gid), ("quantity", "1")], 815).await;
        assert!(decoded["licenseKeys"][0].as_str().unwrap().starts_with("CLI-"));

        // Capabilities and the on/off switch.
        cli_json(&server, &["keymanager", "update-key", &id, "--capability", "verify"]);
        km.post("generate", &key, &[("generator_id", &gid), ("quantity", "1")], 102).await;
        cli_json(&server, &["keymanager", "update-key", &id, "--disable"]);
        km.post("verify", &key, &[("license_key", "x"), ("identifier", "y")], 101).await;
        cli_json(&server, &["keymanager", "update-key", &id, "--enable", "--capability", "verify", "--capability", "activate"]);
        km.post("verify", &key, &[("license_key", "x"), ("identifier", "y")], 210).await;

        // The block list.
        let block = cli_json(&server, &["keymanager", "block", "identifier", "EVIL-1", "--reason", "chargeback"]);
        km.post("verify", &key, &[("license_key", "x"), ("identifier", "EVIL-1")], 150).await;
        let (code, stdout, _) = server.cli(&["keymanager", "blocks"]);
        assert_eq!(code, 0);
        assert!(stdout.contains("EVIL-1") && stdout.contains("chargeback"), "{stdout}");
        cli_json(&server, &["keymanager", "unblock", &block["id"].as_i64().unwrap().to_string()]);
        km.post("verify", &key, &[("license_key", "x"), ("identifier", "EVIL-1")], 210).await;
        let (code, _, _) = server.cli(&["keymanager", "block", "planet", "x"]);
        assert_eq!(code, 5);

        // The product key.
        let product_key = cli_json(&server, &["keymanager", "product-key", &pid]);
        assert!(product_key["pem"].as_str().unwrap().contains("BEGIN PUBLIC KEY"));
        let (code, stdout, _) = server.cli(&["keymanager", "show-product-key", &pid]);
        assert_eq!(code, 0);
        assert!(stdout.contains("RSA-2048") && stdout.contains("BEGIN PUBLIC KEY"), "{stdout}");
        cli_json(&server, &["keymanager", "delete-product-key", &pid]);
        let (code, _, _) = server.cli(&["keymanager", "show-product-key", &pid]);
        assert_eq!(code, 3);

        // Downloadables with an uploaded file.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app-1.2.0.zip");
        std::fs::write(&file, b"zip bytes").unwrap();
        let d = cli_json(&server, &["keymanager", "create-downloadable", &pid, "120", "1.2.0", "--published", "--summary", "new"]);
        let did = d["id"].as_i64().unwrap().to_string();
        let uploaded = cli_json(&server, &["keymanager", "upload-file", &did, file.to_str().unwrap()]);
        assert_eq!((uploaded["file_name"].as_str(), uploaded["file_size"].as_i64()), (Some("app-1.2.0.zip"), Some(9)));
        let (code, stdout, _) = server.cli(&["keymanager", "downloadables", "--product", &pid]);
        assert_eq!(code, 0);
        assert!(stdout.contains("app-1.2.0.zip"), "{stdout}");
        cli_json(&server, &["keymanager", "delete-downloadable", &did]);

        // Contracts.
        let contract = cli_json(&server, &["keymanager", "create-contract", &pid, "Agency", "2", "--contract-key", "agency-secret-key"]);
        assert_eq!(contract["contract_key"], "agency-secret-key");
        let (_, _, decoded) = km.send_full(Method::GET, "contracts/get-info", "agency-secret-key", &[], Transport::JsonBearer).await;
        assert_eq!(decoded["code"], 1204);
        let (code, stdout, _) = server.cli(&["keymanager", "contracts"]);
        assert_eq!(code, 0);
        assert!(stdout.contains("Agency"), "{stdout}");
        cli_json(&server, &["keymanager", "delete-contract", &contract["contract"]["id"].as_i64().unwrap().to_string()]);
        let (_, _, decoded) = km.send_full(Method::GET, "contracts/get-info", "agency-secret-key", &[], Transport::JsonBearer).await;
        assert_eq!(decoded["code"], 1200);
        cli_json(&server, &["keymanager", "delete-generator", &gid]);
        km.finish();
    }
}
