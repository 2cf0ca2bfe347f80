//! Issue 13 defect 3: a SLASCONE ProvisioningKey's `read_only` and `ip_allowlist` are enforced
//! (`access::admit`, the rule every dialect shares). A refusal is SLASCONE's signed 401
//! ProblemDetails and changes nothing; each test runs on SQLite and PostgreSQL and verifies every
//! signature independently (the parent module's `Client`).

use super::*;

/// A provisioning key of `product_id` with extra settings (`read_only`, `ip_allowlist`).
async fn key_with(server: &Server, product_id: i64, extra: Value) -> String {
    let mut body = json!({"dialect": "slascone", "name": "flagged", "product_id": product_id});
    for (name, value) in extra.as_object().expect("object") {
        body[name] = value.clone();
    }
    let (status, created) = server.admin(Method::POST, "/v1/credentials", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    format!(
        "{}.{}",
        created["credential"]["key_id"].as_str().expect("key id"),
        created["secret"].as_str().expect("secret")
    )
}

/// Everything a refused call could have changed: the event log and the license's devices.
async fn state_of(server: &Server, license_id: i64) -> (Value, Value) {
    let (status, events) = server.admin(Method::GET, "/v1/events?limit=1000", None).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let (status, devices) = server
        .admin(Method::GET, &format!("/v1/licenses/{license_id}/devices"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{devices}");
    (events, devices)
}

fn unauthorized(answer: &Answer, detail: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"title": "Unauthorized", "status": 401, "detail": detail})
    );
}

fn activation(client_id: &str) -> Value {
    json!({"product_id": PRODUCT, "license_key": "FLAG-KEY", "client_id": client_id})
}

backend_tests! {
    async fn a_read_only_provisioning_key_reads_but_cannot_write(server) {
        let setup = setup(&server).await;
        let license_id = server.license(setup.product_id, "FLAG-KEY", json!({"max_activations": 3})).await;
        let full = Client::new(&server, setup.key.clone());
        let device = ok(&full.post("/provisioning/activations", activation("RO-HELD")).await).clone();
        let token_key = device["token_key"].as_str().expect("token key").to_owned();
        let read_only = Client::new(&server, key_with(&server, setup.product_id, json!({"read_only": true})).await);
        let before = state_of(&server, license_id).await;

        // Every call that changes state is refused, and nothing changes.
        let answer = read_only.post("/provisioning/activations", activation("RO-NEW")).await;
        unauthorized(&answer, "the ProvisioningKey is read-only");
        let heartbeat = json!({"product_id": PRODUCT, "client_id": "RO-HELD", "software_version": "1.0", "operating_system": "Linux"});
        unauthorized(&read_only.post("/provisioning/heartbeats", heartbeat).await, "the ProvisioningKey is read-only");
        unauthorized(
            &read_only.post("/provisioning/unassign", json!({"token_key": token_key})).await,
            "the ProvisioningKey is read-only",
        );
        let offline = format!("/provisioning/activations/offline?product_id={PRODUCT}&license_key=FLAG-KEY&client_id=RO-OFF");
        unauthorized(&read_only.send(Method::GET, &offline, None, &[]).await, "the ProvisioningKey is read-only");
        let toggle = json!({"license_id": guid(license_id)});
        unauthorized(&read_only.post("/provisioning/licenses/state/toggle", toggle).await, "the ProvisioningKey is read-only");
        let usage = json!({"client_id": "RO-HELD", "usage_heartbeat": []});
        unauthorized(&read_only.post("/data_gathering/usage_heartbeats", usage).await, "the ProvisioningKey is read-only");
        assert_eq!(state_of(&server, license_id).await, before, "a refused call changed state");

        // Reads work with the same key.
        let validated = read_only.post("/provisioning/validate", json!({"license_key": "FLAG-KEY"})).await;
        assert_eq!(ok(&validated)["license_key"], "FLAG-KEY");
        let found = read_only.post("/provisioning/licenses/by_license", json!({"license_key": "FLAG-KEY"})).await;
        assert_eq!(ok(&found).as_array().map(Vec::len), Some(1));
        assert_eq!(state_of(&server, license_id).await, before, "a read changed state");

        // The full key still activates the same request (the refusal was about the key).
        ok(&full.post("/provisioning/activations", activation("RO-NEW")).await);
        assert_ne!(state_of(&server, license_id).await, before);
        full.verify_all().await;
        read_only.verify_all().await;
    }

    async fn a_provisioning_key_is_used_only_from_its_allowed_addresses(server) {
        let setup = setup(&server).await;
        let license_id = server.license(setup.product_id, "FLAG-KEY", json!({"max_activations": 3})).await;
        let elsewhere = Client::new(
            &server,
            key_with(&server, setup.product_id, json!({"ip_allowlist": ["192.0.2.0/24", "2001:db8::/32"]})).await,
        );
        let before = state_of(&server, license_id).await;
        let detail = "the ProvisioningKey may not be used from this address";
        unauthorized(&elsewhere.post("/provisioning/activations", activation("IP-FAR")).await, detail);
        // Reads are refused too: the key may not be used at all from here.
        unauthorized(&elsewhere.post("/provisioning/validate", json!({"license_key": "FLAG-KEY"})).await, detail);
        let count = format!("/provisioning/licenses/{}/tokens/floating/active/count", guid(license_id));
        unauthorized(&elsewhere.send(Method::GET, &count, None, &[]).await, detail);
        assert_eq!(state_of(&server, license_id).await, before, "a refused call changed state");

        // Allowed for the test client's address (127.0.0.1): works.
        let here = Client::new(&server, key_with(&server, setup.product_id, json!({"ip_allowlist": ["127.0.0.1"]})).await);
        let info = ok(&here.post("/provisioning/activations", activation("IP-NEAR")).await).clone();
        assert_eq!(info["client_id"], "IP-NEAR");
        // The same address written as an IPv4-mapped IPv6 range matches as well.
        let mapped = Client::new(
            &server,
            key_with(&server, setup.product_id, json!({"ip_allowlist": ["::ffff:127.0.0.0/104"]})).await,
        );
        ok(&mapped.post("/provisioning/validate", json!({"license_key": "FLAG-KEY"})).await);

        // A malformed rule is refused when the key is created.
        let (status, body) = server
            .admin(
                Method::POST,
                "/v1/credentials",
                Some(json!({"dialect": "slascone", "name": "bad", "ip_allowlist": ["127.0.0.1/33"]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        elsewhere.verify_all().await;
        here.verify_all().await;
        mapped.verify_all().await;
    }

    async fn behind_a_trusted_proxy_the_forwarded_client_is_checked_and_counted(server) {
        let setup = setup(&server).await;
        server.license(setup.product_id, "FLAG-KEY", json!({"max_activations": 3})).await;
        let backend = server.backend;
        let (dir, database) = server.stop();
        let server = Server::start_with(
            backend,
            dir,
            database,
            &[("--trusted-proxy", "127.0.0.1/32"), ("--rate-limit-per-ip", "2"), ("--rate-limit-window-seconds", "60")],
        )
        .await;
        let listed = Client::new(&server, key_with(&server, setup.product_id, json!({"ip_allowlist": ["203.0.113.7"]})).await);
        let validate = |forwarded: &'static str| {
            let listed = &listed;
            async move {
                listed
                    .send(Method::POST, "/provisioning/validate", Some(json!({"license_key": "FLAG-KEY"})), &[("x-forwarded-for", forwarded)])
                    .await
            }
        };
        let detail = "the ProvisioningKey may not be used from this address";
        ok(&validate("203.0.113.7").await);
        unauthorized(&validate("198.51.100.9").await, detail);
        // A spoofed left-most entry is not the client.
        unauthorized(&validate("203.0.113.7, 198.51.100.9").await, detail);
        // Each forwarded client has its own per-IP allowance.
        ok(&validate("203.0.113.7").await);
        let over = validate("203.0.113.7").await;
        assert_eq!((over.status, &over.body), (StatusCode::TOO_MANY_REQUESTS, &json!({"title": "Too Many Requests", "status": 429})));
        unauthorized(&validate("192.0.2.50").await, detail);
        listed.verify_all().await;
    }
}
