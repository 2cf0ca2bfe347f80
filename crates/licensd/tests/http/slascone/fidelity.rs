//! Issue 12 (dialect fidelity), SLASCONE points: each test runs on SQLite and PostgreSQL and
//! verifies every signature independently (the parent module's `Client`).

use super::*;

/// The root start tag of an XML document (up to its first `>`).
fn root_tag(xml: &str) -> &str {
    &xml[..=xml.find('>').expect("a start tag")]
}

backend_tests! {
    async fn every_answer_under_the_mount_is_signed_and_slascone_shaped(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        // A path below the mount that is no route: SLASCONE's 404, signed.
        let answer = client.post("/provisioning/no_such_route", json!({})).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.body, json!({"title": "Not Found", "status": 404, "detail": "route not found"}));
        let answer = client.send(Method::GET, "", None, &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.body["status"], 404);
        // A route of the dialect with a method it does not serve: 405, signed, with Allow.
        let answer = client.send(Method::GET, "/provisioning/activations", None, &[]).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.body, json!({"title": "Method Not Allowed", "status": 405}));
        let allow = answer.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(allow.contains("POST"), "Allow: {allow}");
        let answer = client.send(Method::DELETE, "/licenses/00000000-0000-8000-8000-000000000001", None, &[]).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        // A body over the server's limit: 413 in the dialect's shape, signed, on a client route and
        // on a back-office route; nothing was activated.
        let big = json!({"product_id": PRODUCT, "license_key": "x".repeat(1_200_000), "client_id": "C1"});
        let answer = client.post("/provisioning/activations", big.clone()).await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            answer.body,
            json!({"title": "Payload Too Large", "status": 413, "detail": "the request body is too large"})
        );
        let answer = admin_call(&client, Method::POST, "/customers", Some(big)).await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        // The X-Nonce is signed on these answers too.
        let nonce = [9u8; 16];
        let nonce_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce);
        let answer = client.send(Method::PUT, "/provisioning/activations", None, &[("X-Nonce", nonce_b64.as_str())]).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        let signature = answer.headers.get("x-nonce-signature").and_then(|v| v.to_str().ok()).expect("nonce signature").to_owned();
        client.record_nonce(&nonce, &signature);
        // Outside the mount licensd keeps its native shape.
        let response = server.http.get(server.url("/no/such/route")).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.headers().get("x-slascone-signature").is_none());
        client.verify_all().await;
    }

    async fn offline_files_declare_xsi_and_xsd_on_the_root_like_slascone(server) {
        let setup = setup(&server).await;
        let license_id = server.license(setup.product_id, "NS-KEY", json!({"max_activations": 2})).await;
        let client = Client::new(&server, setup.key.clone());
        let vectors = repo_root().join("testdata/vectors/slascone");
        let read = |name: &str| std::fs::read_to_string(vectors.join(name)).expect("vector");
        let vector_activation = read("ActivationFile.xml");
        let vector_license = read("OfflineLicenseFile.xml");
        let answer = client
            .send(
                Method::GET,
                &format!("/provisioning/activations/offline?product_id={PRODUCT}&license_key=NS-KEY&client_id=NS-CLIENT"),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let activation = String::from_utf8(answer.bytes.clone()).expect("utf-8");
        let answer = admin_call(&client, Method::GET, format!("/licenses/{}/xml", guid(license_id)), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let license = String::from_utf8(answer.bytes.clone()).expect("utf-8");
        // The root start tags are byte for byte those of SLASCONE's own files.
        assert_eq!(root_tag(&activation), root_tag(&vector_activation));
        assert_eq!(root_tag(&license), root_tag(&vector_license));
        // Nil elements use the root's prefix, as SLASCONE's do; nothing redeclares it.
        assert!(license.contains("<user_limits xsi:nil=\"true\"></user_limits>"), "{license}");
        assert_eq!(license.matches("xmlns:xsi").count(), 1, "{license}");
        // Still verified by xmlsec1; a tampered copy is not.
        let dir = tempfile::tempdir().expect("tmp");
        let pem = dir.path().join("key.pem");
        std::fs::write(&pem, rsa_pem(&server).await).expect("pem");
        for (name, xml, from, to) in [
            ("activation.xml", &activation, "NS-CLIENT", "NS-CLIENX"),
            ("license.xml", &license, "<user_limits xsi:nil=\"true\">", "<user_limits>"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, xml).expect("write");
            let (ok, output) = xmlsec_verify(&pem, &path);
            assert!(ok, "{name} does not verify:\n{output}\n{xml}");
            let tampered = dir.path().join(format!("tampered-{name}"));
            std::fs::write(&tampered, xml.replacen(from, to, 1)).expect("write");
            let (ok, output) = xmlsec_verify(&pem, &tampered);
            assert!(!ok, "tampered {name} verified:\n{output}");
        }
        client.verify_all().await;
    }

    async fn license_state_toggle_switches_active_and_inactive(server) {
        let setup = setup(&server).await;
        let license_id = server.license(setup.product_id, "TOGGLE-KEY", json!({"max_activations": 2})).await;
        let client = Client::new(&server, setup.key.clone());
        let activate = json!({"product_id": PRODUCT, "license_key": "TOGGLE-KEY", "client_id": "T1"});
        ok(&client.post("/provisioning/activations", activate.clone()).await);
        let beat = json!({"product_id": PRODUCT, "client_id": "T1"});
        // Off: the license answers 1002 until it is toggled back.
        let answer = client.post("/provisioning/licenses/state/toggle", json!({"license_id": guid(license_id)})).await;
        assert_eq!(ok(&answer), &json!({"license_id": guid(license_id), "is_license_active": false}));
        conflict(&client.post("/provisioning/heartbeats", beat.clone()).await, 1002, MSG_1002);
        conflict(&client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "TOGGLE-KEY", "client_id": "T2"})).await, 1002, MSG_1002);
        let (_, native) = server.admin(Method::GET, &format!("/v1/licenses/{license_id}"), None).await;
        assert_eq!(native["status"], "disabled", "{native}");
        // On again, by license key this time.
        let answer = client.post("/provisioning/licenses/state/toggle", json!({"license_key": "TOGGLE-KEY"})).await;
        assert_eq!(ok(&answer), &json!({"license_id": guid(license_id), "is_license_active": true}));
        assert_eq!(ok(&client.post("/provisioning/heartbeats", beat).await)["is_license_active"], true);
        // Unknown licenses: 1000; a key scoped to another product: 401; changes nothing.
        conflict(&client.post("/provisioning/licenses/state/toggle", json!({"license_id": guid(999_999)})).await, 1000, MSG_1000);
        conflict(&client.post("/provisioning/licenses/state/toggle", json!({"license_key": "NOPE"})).await, 1000, MSG_1000);
        conflict(&client.post("/provisioning/licenses/state/toggle", json!({})).await, 1000, MSG_1000);
        let other = server.product("toggle-other").await;
        let scoped = Client::new(&server, credential(&server, Some(other)).await);
        let answer = scoped.post("/provisioning/licenses/state/toggle", json!({"license_id": guid(license_id)})).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        let (_, native) = server.admin(Method::GET, &format!("/v1/licenses/{license_id}"), None).await;
        assert_eq!(native["status"], "active", "{native}");
        // Each toggle is one event.
        let (status, events) = server.admin(Method::GET, "/v1/events?action=slascone.license_state_toggled", None).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        let list = events["data"].as_array().or(events.as_array()).expect("events");
        assert_eq!(list.iter().filter(|e| e["action"] == "slascone.license_state_toggled").count(), 2, "{events}");
        scoped.verify_all().await;
        client.verify_all().await;
    }

    async fn an_unassigned_token_key_is_free_for_the_next_client(server) {
        let setup = setup(&server).await;
        server.license(setup.product_id, "FREE-TOKEN", json!({"max_activations": 1})).await;
        let client = Client::new(&server, setup.key.clone());
        let first = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "FREE-TOKEN", "client_id": "A"}))
            .await;
        let token = guid_of(&first, "token_key");
        let by_token = |client_id: &str| json!({"product_id": PRODUCT, "license_key": token, "client_id": client_id});
        // Assigned to A: nobody else may take it.
        conflict(&client.post("/provisioning/activations", by_token("B")).await, 2001, MSG_2001);
        // Unassigned: the next client takes the same token.
        ok(&client.post("/provisioning/unassign", json!({"token_key": token})).await);
        let taken = client.post("/provisioning/activations", by_token("B")).await;
        assert_eq!(ok(&taken)["token_key"], token.as_str());
        assert_eq!(taken.body["client_id"], "B");
        // The token is B's now: A is an unknown client, B heartbeats with the token key.
        conflict(&client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "A"})).await, 2006, MSG_2006);
        let beat = client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "B", "token_key": token})).await;
        assert_eq!(ok(&beat)["token_key"], token.as_str());
        conflict(&client.post("/provisioning/activations", by_token("A")).await, 2001, MSG_2001);
        // Freed again, it goes back to A; the single seat is never exceeded.
        ok(&client.post("/provisioning/unassign", json!({"token_key": token})).await);
        assert_eq!(ok(&client.post("/provisioning/activations", by_token("A")).await)["token_key"], token.as_str());
        conflict(
            &client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "FREE-TOKEN", "client_id": "C"})).await,
            2000,
            MSG_2000,
        );
        client.verify_all().await;
    }

    async fn edition_names_are_unique_per_product_whichever_api_created_them(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        const MSG_6013: &str = "This template/edition already exists.";
        let templates = format!("/products/{PRODUCT}/templates");
        // Created natively (code and name chosen apart), refused by the back office: 6013.
        let (status, body) = server
            .admin(Method::POST, "/v1/policies", Some(json!({"product_id": setup.product_id, "code": "silver", "name": "Silver Edition"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        conflict(&admin_call(&client, Method::POST, &templates, Some(json!({"name": "Silver Edition"}))).await, 6013, MSG_6013);
        // Created by the back office, refused natively (409) even with another code.
        let gold = guid_of(&admin_call(&client, Method::POST, &templates, Some(json!({"name": "Gold"}))).await, "id");
        let (status, body) = server
            .admin(Method::POST, "/v1/policies", Some(json!({"product_id": setup.product_id, "code": "gold-2", "name": "Gold"})))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        // A rename onto a taken name: 6013, the template keeps its name.
        conflict(&admin_call(&client, Method::PUT, format!("/templates/{gold}"), Some(json!({"name": "Silver Edition"}))).await, 6013, MSG_6013);
        let (status, body) = server.admin(Method::GET, &format!("/v1/policies?product_id={}", setup.product_id), None).await;
        assert_eq!(status, StatusCode::OK);
        let mut names: Vec<String> = body
            .as_array()
            .or(body["data"].as_array())
            .expect("policies")
            .iter()
            .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["Gold".to_owned(), "Silver Edition".to_owned()]);
        // The same name is free in another product.
        let other = server.product("edition-other").await;
        let (status, body) = server
            .admin(Method::POST, "/v1/policies", Some(json!({"product_id": other, "code": "gold", "name": "Gold"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        client.verify_all().await;
    }

    async fn guids_compare_in_any_case_and_text_is_bounded(server) {
        let setup = setup(&server).await;
        let key = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
        let license_id = server.license(setup.product_id, key, json!({"max_activations": 3})).await;
        let client = Client::new(&server, setup.key.clone());
        // Product id and license key in upper case name the same product and license.
        let first = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT.to_uppercase(), "license_key": key.to_uppercase(), "client_id": "G1"}))
            .await;
        assert_eq!(ok(&first)["license_id"], guid(license_id));
        let token = guid_of(&first, "token_key");
        let info = client.post("/provisioning/validate", json!({"license_key": key.to_uppercase(), "product_id": PRODUCT.to_uppercase()})).await;
        assert_eq!(ok(&info)["license_key"], key);
        // Token keys too: heartbeat and unassign with the upper-case form.
        let beat = client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "G1", "token_key": token.to_uppercase()})).await;
        assert_eq!(ok(&beat)["token_key"], token.as_str());
        ok(&client.post("/provisioning/unassign", json!({"token_key": token.to_uppercase()})).await);
        // The ISV id in any case (and a license GUID in upper case).
        let upper_isv = format!("/api/v2/isv/{}/provisioning/licenses/{}/tokens/floating/active/count", ISV.to_uppercase(), guid(license_id).to_uppercase());
        let response = server.http.get(server.url(&upper_isv)).header("ProvisioningKey", &setup.key).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        // timestamp_utc that is not an instant: 400, nothing activated.
        let answer = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": key, "client_id": "G2", "timestamp_utc": "yesterday"}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.body["title"], "Bad Request");
        conflict(&client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "G2"})).await, 2006, MSG_2006);
        let answer = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": key, "client_id": "G2", "timestamp_utc": "2026-01-02T03:04:05Z"}))
            .await;
        ok(&answer);
        // Maximum lengths (bounds.rs): client_id 256, other text 4096; beyond is 400 naming the field.
        let long_id = "c".repeat(257);
        let answer = client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": key, "client_id": long_id})).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.body["detail"], "client_id is longer than 256 characters");
        let answer = client
            .post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": key, "client_id": "G3", "client_name": "n".repeat(4097)}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.body["detail"], "client_name is longer than 4096 characters");
        let answer = client
            .send(Method::GET, &format!("/provisioning/activations/offline?product_id={PRODUCT}&license_key={key}&client_id={long_id}"), None, &[])
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        let answer = client.post("/provisioning/unassign", json!({"token_key": "k".repeat(257)})).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        // None of the refused activations took a token; the longest allowed id is fine.
        let (_, devices) = server.admin(Method::GET, &format!("/v1/licenses/{license_id}/devices"), None).await;
        let active = devices.as_array().or(devices["data"].as_array()).expect("devices").iter().filter(|d| d["deactivated_at"].is_null()).count();
        assert_eq!(active, 1, "{devices}");
        ok(&client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": key, "client_id": "c".repeat(256)})).await);
        client.verify_all().await;
    }

    async fn a_client_bound_to_another_license_of_the_product_is_moved(server) {
        let setup = setup(&server).await;
        let customer = |name: &'static str| {
            let server = &server;
            async move {
                let (status, body) = server.admin(Method::POST, "/v1/customers", Some(json!({"company": name, "reference": name}))).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                body["id"].as_i64().expect("id")
            }
        };
        let (alpha, beta) = (customer("Alpha").await, customer("Beta").await);
        let license = |key: &'static str, customer: Option<i64>, terms: Value| {
            let server = &server;
            async move {
                let (status, body) = server
                    .admin(Method::POST, "/v1/licenses", Some(json!({"product_id": setup.product_id, "key": key, "customer_id": customer, "terms": terms})))
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                body["id"].as_i64().expect("id")
            }
        };
        let one = json!({"max_activations": 1});
        let l1 = license("MOVE-A1", Some(alpha), one.clone()).await;
        let l2 = license("MOVE-B1", Some(beta), one.clone()).await;
        let l3 = license("MOVE-A2", Some(alpha), one.clone()).await;
        let l4 = license("MOVE-B2", Some(beta), one.clone()).await;
        let trial = license("MOVE-TRIAL", None, json!({"max_activations": 1, "kind": "trial"})).await;
        let client = Client::new(&server, setup.key.clone());
        let activate = |key: &str, client_id: &str| json!({"product_id": PRODUCT, "license_key": key, "client_id": client_id});
        let beat = json!({"product_id": PRODUCT, "client_id": "X"});
        let active_on = |license_id: i64| {
            let server = &server;
            async move {
                let (_, devices) = server.admin(Method::GET, &format!("/v1/licenses/{license_id}/devices"), None).await;
                devices.as_array().or(devices["data"].as_array()).expect("devices").iter()
                    .filter(|d| d["deactivated_at"].is_null())
                    .map(|d| d["fingerprint"].as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        ok(&client.post("/provisioning/activations", activate("MOVE-A1", "X")).await);
        // To another customer's license: moved, the old token released in the same step.
        assert_eq!(ok(&client.post("/provisioning/activations", activate("MOVE-B1", "X")).await)["license_id"], guid(l2));
        assert_eq!(active_on(l1).await, Vec::<String>::new());
        assert_eq!(ok(&client.post("/provisioning/heartbeats", beat.clone()).await)["license_id"], guid(l2));
        // The freed seat of the single-seat license is free for another client.
        ok(&client.post("/provisioning/activations", activate("MOVE-A1", "Y")).await);
        ok(&client.post("/provisioning/activations", activate("MOVE-A2", "X")).await);
        assert_eq!(active_on(l2).await, Vec::<String>::new());
        assert_eq!(active_on(l3).await, vec!["X".to_owned()]);
        // Between two licenses of the same customer the move is not allowed: 2005, nothing changes.
        let moved = client.post("/provisioning/activations", activate("MOVE-A1", "X")).await;
        conflict(&moved, 2005, "This client is already activated/assigned to this customer.");
        assert_eq!(active_on(l3).await, vec!["X".to_owned()]);
        // A refused activation (the target is full) releases nothing.
        ok(&client.post("/provisioning/activations", activate("MOVE-B2", "Z")).await);
        conflict(&client.post("/provisioning/activations", activate("MOVE-B2", "X")).await, 2000, MSG_2000);
        assert_eq!(active_on(l3).await, vec!["X".to_owned()]);
        assert_eq!(active_on(l4).await, vec!["Z".to_owned()]);
        // A temporary license coexists with the permanent one.
        ok(&client.post("/provisioning/activations", activate("MOVE-TRIAL", "X")).await);
        assert_eq!(active_on(l3).await, vec!["X".to_owned()]);
        assert_eq!(active_on(trial).await, vec!["X".to_owned()]);
        // Activating the same license again is still idempotent.
        ok(&client.post("/provisioning/activations", activate("MOVE-A2", "X")).await);
        assert_eq!(active_on(l3).await, vec!["X".to_owned()]);
        client.verify_all().await;
    }
}
