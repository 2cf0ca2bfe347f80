//! Issue 12, point 8: `PUT /licenses/{license_id}` applies `template_id`, `is_temporary` and
//! `legacy_license_key` with the limits, in one transaction (1005, 8002, 8003; a refusal changes
//! nothing, events included). Each test runs on SQLite and PostgreSQL and verifies every
//! signature independently.

use super::*;

const MSG_1005: &str = "A license with this legacy license key already exists.";
const MSG_2007: &str = "Unknown legacy license key.";
const MSG_8002: &str = "Switching to an edition with a different provisioning mode is not allowed.";
const MSG_8003: &str = "A non-temporary license cannot be converted to a temporary license, or vice-versa.";

/// The license id a licensd license GUID holds.
fn id_of(license_guid: &str) -> i64 {
    i64::from_str_radix(&license_guid[24..], 16).expect("licensd GUID")
}

/// What an update may change, as the license's clients and the native API see it.
#[derive(Debug, PartialEq)]
struct Seen {
    template_id: Value,
    template_name: Value,
    is_temporary: Value,
    legacy_license_key: Value,
    token_limit: Value,
    policy_id: Value,
    events: usize,
}

async fn seen(server: &Server, client: &Client<'_>, key: &str, license_id: i64) -> Seen {
    let info = client.post("/provisioning/validate", json!({"license_key": key})).await;
    let info = ok(&info).clone();
    let (status, native) = server
        .admin(Method::GET, &format!("/v1/licenses/{license_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{native}");
    let (status, events) = server
        .admin(
            Method::GET,
            &format!("/v1/events?subject_type=license&subject_id={license_id}&limit=500"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    Seen {
        template_id: info["template_id"].clone(),
        template_name: info["template_name"].clone(),
        is_temporary: info["is_temporary"].clone(),
        legacy_license_key: info["legacy_license_key"].clone(),
        token_limit: info["token_limit"].clone(),
        policy_id: native["policy_id"].clone(),
        events: events["data"].as_array().expect("events").len(),
    }
}

backend_tests! {
    async fn license_update_applies_template_temporary_and_legacy_key(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        let product = format!("/products/{PRODUCT}");
        let template = |body: Value| admin_call(&client, Method::POST, format!("{product}/templates"), Some(body));
        let named_a = guid_of(&template(json!({"name": "Named A", "token_limit": 2})).await, "id");
        let named_b = guid_of(&template(json!({"name": "Named B", "token_limit": 5})).await, "id");
        let floating = guid_of(&template(json!({"name": "Floating", "provisioning_mode": 1, "floating_token_limit": 2})).await, "id");
        let temporary = guid_of(&template(json!({"name": "Temporary", "is_temporary": true})).await, "id");
        let issue = |legacy: &'static str| {
            admin_call(
                &client,
                Method::POST,
                "/data_exchange/licenses/by_template",
                Some(json!({"product_id": PRODUCT, "template_name": "Named A", "legacy_license_key": legacy})),
            )
        };
        let info = ok(&issue("LEG-A").await).clone();
        let license = info["license_id"].as_str().expect("license").to_owned();
        let key = info["license_key"].as_str().expect("key").to_owned();
        let license_id = id_of(&license);
        ok(&issue("LEG-B").await);
        let update = |body: Value| admin_call(&client, Method::PUT, format!("/licenses/{license}"), Some(body));
        let before = seen(&server, &client, &key, license_id).await;
        assert_eq!(before.template_id, json!(named_a));
        assert_eq!(before.legacy_license_key, "LEG-A");

        // The happy path: edition, legacy key and limits change together; the license keeps its
        // temporary flag (stated, unchanged) and its own limits unless the update sets them.
        let answer = update(json!({"template_id": named_b.to_uppercase(), "is_temporary": false, "legacy_license_key": "LEG-NEW", "token_limit": 3})).await;
        assert_eq!(ok(&answer)["template_id"], json!(named_b));
        let after = seen(&server, &client, &key, license_id).await;
        assert_eq!(after.template_id, json!(named_b));
        assert_eq!(after.template_name, "Named B");
        assert_eq!(after.is_temporary, false);
        assert_eq!(after.legacy_license_key, "LEG-NEW");
        assert_eq!(after.token_limit, 3);
        assert_eq!(after.policy_id, json!(id_of(&named_b)));
        assert_eq!(after.events, before.events + 1, "one update, one event");
        let found = client.post("/provisioning/licenses/by_license", json!({"legacy_license_key": "LEG-NEW"})).await;
        assert_eq!(ok(&found)[0]["license_key"], json!(key));
        conflict(&client.post("/provisioning/licenses/by_license", json!({"legacy_license_key": "LEG-A"})).await, 2007, MSG_2007);
        // Its own legacy key again is no conflict.
        ok(&update(json!({"legacy_license_key": "LEG-NEW"})).await);
        let after = seen(&server, &client, &key, license_id).await;

        // 1005: another license has the legacy key; the token limit sent with it is not applied.
        conflict(&update(json!({"legacy_license_key": "LEG-B", "token_limit": 4})).await, 1005, MSG_1005);
        assert_eq!(seen(&server, &client, &key, license_id).await, after);
        // 8002: an edition with another provisioning mode; the legacy key sent with it is not set.
        conflict(&update(json!({"template_id": floating, "legacy_license_key": "LEG-X"})).await, 8002, MSG_8002);
        assert_eq!(seen(&server, &client, &key, license_id).await, after);
        conflict(&client.post("/provisioning/licenses/by_license", json!({"legacy_license_key": "LEG-X"})).await, 2007, MSG_2007);
        // 8003: a non-temporary license stays non-temporary, by flag or by edition.
        conflict(&update(json!({"is_temporary": true, "token_limit": 9})).await, 8003, MSG_8003);
        conflict(&update(json!({"template_id": temporary})).await, 8003, MSG_8003);
        assert_eq!(seen(&server, &client, &key, license_id).await, after);
        // An unknown edition, or one of another product, is a (signed) 404; nothing changes.
        let other_product = server.product("other-product").await;
        let (status, other_policy) = server
            .admin(Method::POST, "/v1/policies", Some(json!({"product_id": other_product, "code": "other", "name": "Other", "terms": {}})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{other_policy}");
        let other_template = guid(other_policy["id"].as_i64().expect("id"));
        for template_id in [guid(999_999), other_template, "not-a-guid".to_owned()] {
            let answer = update(json!({"template_id": template_id, "legacy_license_key": "LEG-Y"})).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{template_id}: {}", answer.body);
        }
        assert_eq!(seen(&server, &client, &key, license_id).await, after);
        // `""` removes the legacy key.
        ok(&update(json!({"legacy_license_key": ""})).await);
        conflict(&client.post("/provisioning/licenses/by_license", json!({"legacy_license_key": "LEG-NEW"})).await, 2007, MSG_2007);
        assert_eq!(seen(&server, &client, &key, license_id).await.legacy_license_key, Value::Null);
        client.verify_all().await;
    }

    async fn a_temporary_license_stays_temporary_on_update(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        let product = format!("/products/{PRODUCT}");
        let template = |body: Value| admin_call(&client, Method::POST, format!("{product}/templates"), Some(body));
        guid_of(&template(json!({"name": "Trial", "is_temporary": true})).await, "id");
        let trial_two = guid_of(&template(json!({"name": "Trial two", "is_temporary": true})).await, "id");
        let named = guid_of(&template(json!({"name": "Named"})).await, "id");
        let info = admin_call(&client, Method::POST, "/data_exchange/licenses/by_template", Some(json!({"product_id": PRODUCT, "template_name": "Trial"}))).await;
        let info = ok(&info).clone();
        let license = info["license_id"].as_str().expect("license").to_owned();
        let key = info["license_key"].as_str().expect("key").to_owned();
        let license_id = id_of(&license);
        assert_eq!(info["is_temporary"], true);
        let update = |body: Value| admin_call(&client, Method::PUT, format!("/licenses/{license}"), Some(body));
        let before = seen(&server, &client, &key, license_id).await;
        conflict(&update(json!({"is_temporary": false})).await, 8003, MSG_8003);
        conflict(&update(json!({"template_id": named})).await, 8003, MSG_8003);
        // The edition switch of its own path follows the same rule.
        conflict(&admin_call(&client, Method::PUT, format!("/licenses/{license}/template"), Some(json!({"template_id": named}))).await, 8003, MSG_8003);
        assert_eq!(seen(&server, &client, &key, license_id).await, before);
        // Another temporary edition is fine.
        let answer = update(json!({"template_id": trial_two, "is_temporary": true})).await;
        assert_eq!(ok(&answer)["template_name"], "Trial two");
        assert_eq!(ok(&answer)["is_temporary"], true);
        client.verify_all().await;
    }
}
