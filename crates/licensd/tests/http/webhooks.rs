//! Outbound webhook endpoints (issue 17, "Webhooks"): `/v1/webhooks` and `licensd webhooks`.
//! The signing secret is generated in the Standard Webhooks form, shown once at creation and
//! never again; URLs and event types are checked (422) the same way on both databases. Events
//! fan out to the enabled endpoints subscribed to their type through the outbox, in the event's
//! transaction: a refused request sends nothing.

use crate::harness::*;
use crate::outbox::Receiver;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests! {
    async fn webhook_endpoints_are_created_listed_updated_and_deleted(server) {
        let (status, created) = server
            .admin(
                Method::POST,
                "/v1/webhooks",
                Some(json!({"url": "https://hooks.example.com/licensd", "event_types": ["license.activated", "device.deactivated"], "description": "CRM"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["secret"].as_str().expect("secret");
        let key = secret.strip_prefix("whsec_").expect("whsec_ prefix");
        let bytes = base64::engine::general_purpose::STANDARD.decode(key).expect("base64 secret");
        assert!(bytes.len() >= 24, "{} secret bytes", bytes.len());
        let hook = &created["webhook"];
        let id = hook["id"].as_i64().expect("id");
        assert_eq!(hook["url"], "https://hooks.example.com/licensd");
        assert_eq!(hook["event_types"], json!(["license.activated", "device.deactivated"]));
        assert_eq!(hook["description"], "CRM");
        assert_eq!(hook["enabled"], true);

        // A second endpoint gets another secret.
        let (status, other) = server
            .admin(Method::POST, "/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/x", "event_types": ["*"], "enabled": false})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{other}");
        assert_ne!(other["secret"], created["secret"]);
        assert_eq!(other["webhook"]["enabled"], false);

        // The secret is never shown again.
        let (status, list) = server.admin(Method::GET, "/v1/webhooks", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
        assert!(!list.to_string().contains(key), "{list}");
        let (status, got) = server.admin(Method::GET, &format!("/v1/webhooks/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&got, hook);

        let (status, updated) = server
            .admin(
                Method::PATCH,
                &format!("/v1/webhooks/{id}"),
                Some(json!({"event_types": ["license.created"], "enabled": false, "description": null})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["event_types"], json!(["license.created"]));
        assert_eq!(updated["enabled"], false);
        assert_eq!(updated["description"], Value::Null);
        assert_eq!(updated["url"], "https://hooks.example.com/licensd");

        let (status, _) = server.admin(Method::DELETE, &format!("/v1/webhooks/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for (method, body) in [(Method::GET, None), (Method::PATCH, Some(json!({"enabled": true}))), (Method::DELETE, None)] {
            let (status, answer) = server.admin(method, &format!("/v1/webhooks/{id}"), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        }
        let (_, list) = server.admin(Method::GET, "/v1/webhooks", None).await;
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    }

    async fn webhook_settings_are_checked(server) {
        let long = format!("https://example.com/{}", "a".repeat(3000));
        for body in [
            json!({"url": "https://example.com/h", "event_types": []}),
            json!({"url": "https://example.com/h", "event_types": ["license.nonsense"]}),
            json!({"url": "https://example.com/h", "event_types": ["license.created", "license.created"]}),
            json!({"url": "ftp://example.com/h", "event_types": ["*"]}),
            json!({"url": "not a url", "event_types": ["*"]}),
            json!({"url": long, "event_types": ["*"]}),
            json!({"url": "https://example.com/h", "event_types": ["*"], "description": "d".repeat(2000)}),
        ] {
            let (status, answer) = server.admin(Method::POST, "/v1/webhooks", Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {answer}");
        }
        let (status, _) = server
            .admin(Method::POST, "/v1/webhooks", Some(json!({"url": "https://example.com/h", "event_types": ["*"], "secret": "mine"})))
            .await;
        assert!(status.is_client_error(), "{status}");
        let (_, created) = server
            .admin(Method::POST, "/v1/webhooks", Some(json!({"url": "https://example.com/h", "event_types": ["*"]})))
            .await;
        let id = created["webhook"]["id"].as_i64().expect("id");
        for body in [json!({"event_types": ["nope.nope"]}), json!({"url": "mailto:x@example.com"})] {
            let (status, answer) = server.admin(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {answer}");
        }
        let (_, unchanged) = server.admin(Method::GET, &format!("/v1/webhooks/{id}"), None).await;
        assert_eq!(unchanged, created["webhook"]);
    }

    async fn the_cli_manages_webhook_endpoints(server) {
        let (code, out, err) = server.cli(&["--json", "webhooks", "create", "https://example.com/cli", "--event", "license.created,license.deleted", "--description", "from the CLI"]);
        assert_eq!(code, 0, "{out} {err}");
        let created: Value = serde_json::from_str(&out).expect("json");
        assert!(created["secret"].as_str().is_some_and(|s| s.starts_with("whsec_")), "{created}");
        let id = created["webhook"]["id"].as_i64().expect("id").to_string();
        assert_eq!(created["webhook"]["event_types"], json!(["license.created", "license.deleted"]));

        let (code, out, err) = server.cli(&["webhooks", "list"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("https://example.com/cli"), "{out}");
        let (code, out, err) = server.cli(&["--json", "webhooks", "update", &id, "--disable", "--event", "*"]);
        assert_eq!(code, 0, "{err}");
        let updated: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(updated["enabled"], false);
        assert_eq!(updated["event_types"], json!(["*"]));
        let (code, _, _) = server.cli(&["webhooks", "create", "https://example.com/x", "--event", "bogus.type"]);
        assert_eq!(code, 5, "invalid settings exit 5");
        let (code, _, err) = server.cli(&["webhooks", "delete", &id]);
        assert_eq!(code, 0, "{err}");
        let (code, _, _) = server.cli(&["webhooks", "show", &id]);
        assert_eq!(code, 3, "not found exits 3");
    }

    async fn events_fan_out_to_the_endpoints_subscribed_to_them(server) {
        let subscribed = Receiver::start(0).await;
        let disabled = Receiver::start(0).await;
        let deleted = Receiver::start(0).await;
        let hook = |url: String, types: Value, enabled: bool| json!({"url": url, "event_types": types, "enabled": enabled});
        let (status, body) = server.admin(Method::POST, "/v1/webhooks", Some(hook(subscribed.url(), json!(["license.activated"]), true))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = server.admin(Method::POST, "/v1/webhooks", Some(hook(disabled.url(), json!(["*"]), false))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, gone) = server.admin(Method::POST, "/v1/webhooks", Some(hook(deleted.url(), json!(["*"]), true))).await;
        assert_eq!(status, StatusCode::CREATED, "{gone}");
        let gone = gone["webhook"]["id"].as_i64().expect("id");
        let (status, _) = server.admin(Method::DELETE, &format!("/v1/webhooks/{gone}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // license.created is not subscribed; the second activation is refused (limit 1).
        let product = server.product("hooks").await;
        let license = server.license(product, "HOOK-1", json!({"max_activations": 1})).await;
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "HOOK-1", "fingerprint": "fp-a"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "HOOK-1", "fingerprint": "fp-b"})).await;
        assert!(status.is_client_error(), "{status} {body}");

        let bodies = subscribed.wait_for(1).await;
        assert_eq!(bodies.len(), 1, "{:?}", subscribed.requests());
        let delivered: Value = serde_json::from_str(&bodies[0]).expect("JSON body");
        assert_eq!(delivered["type"], "license.activated", "{delivered}");
        assert_eq!(delivered["data"]["action"], "license.activated", "{delivered}");
        assert_eq!(delivered["data"]["subject_type"], "license", "{delivered}");
        assert_eq!(delivered["data"]["subject_id"], license, "{delivered}");
        assert!(delivered["data"]["id"].as_i64().is_some(), "{delivered}");
        assert!(delivered["data"]["data"].is_object(), "{delivered}");
        let timestamp = delivered["timestamp"].as_str().expect("timestamp");
        assert!(timestamp.len() == 24 && timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T', "{timestamp}");
        // The event the body reports is the one in the log.
        let (_, events) = server.admin(Method::GET, "/v1/events?limit=1000", None).await;
        let logged = events["data"]
            .as_array()
            .expect("events")
            .iter()
            .find(|e| e["id"] == delivered["data"]["id"])
            .cloned()
            .expect("the delivered event is logged");
        assert_eq!(logged["action"], "license.activated");
        assert!(disabled.requests().is_empty(), "{:?}", disabled.requests());
        assert!(deleted.requests().is_empty(), "{:?}", deleted.requests());
    }
}
