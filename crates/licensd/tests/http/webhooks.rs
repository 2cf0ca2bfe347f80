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
        for field in ["id", "at", "actor", "source_ip", "action", "subject_type", "subject_id", "data"] {
            assert_eq!(logged[field], delivered["data"][field], "{field}: {logged} vs {delivered}");
        }
        assert!(disabled.requests().is_empty(), "{:?}", disabled.requests());
        assert!(deleted.requests().is_empty(), "{:?}", deleted.requests());
    }
}

/// The Python receiver (tests/interop/webhooks/receiver.py): every request checked with the
/// `standardwebhooks` package; the lines it reports.
struct PythonReceiver {
    child: std::process::Child,
    port: u16,
    lines: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl PythonReceiver {
    fn start(secret: &str) -> Self {
        Self::on_port(secret, 0)
    }

    /// Listens on `port` (0: any free port).
    fn on_port(secret: &str, port: u16) -> Self {
        use std::io::BufRead as _;
        let python = std::env::var("LICENSD_INTEROP_PYTHON").unwrap_or_else(|_| {
            panic!("LICENSD_INTEROP_PYTHON is not set: run scripts/test (installs standardwebhooks)")
        });
        let script =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/webhooks/receiver.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .arg(secret)
            .arg(port.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the Python receiver");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("receiver port");
        let port = first
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("receiver said {first:?}"));
        let lines: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(value);
                }
            }
        });
        Self { child, port, lines }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Waits for `count` requests (at most 60 s), then a little longer for strays.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.lines.lock().unwrap().len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {:?}",
                self.lines.lock().unwrap()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for PythonReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signatures checked by the independent Python verifier.
mod signed {
    use super::*;

    backend_tests! {
    async fn deliveries_are_signed_as_standard_webhooks_verifiers_expect(server) {
        let (status, created) = server
            .admin(Method::POST, "/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/later", "event_types": ["license.created", "license.activated"]})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["webhook"]["id"].as_i64().expect("id");
        let receiver = PythonReceiver::start(created["secret"].as_str().expect("secret"));
        let (status, body) = server.admin(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(json!({"url": receiver.url()}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let product = server.product("signed").await;
        server.license(product, "SIGNED-1", json!({})).await;
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "SIGNED-1", "fingerprint": "fp"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let lines = receiver.wait_for(2).await;
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|l| l["verified"] == true), "{lines:?}");
        let mut types: Vec<String> = lines
            .iter()
            .map(|l| serde_json::from_str::<Value>(l["body"].as_str().expect("body")).expect("JSON")["type"].as_str().expect("type").to_string())
            .collect();
        types.sort();
        assert_eq!(types, ["license.activated", "license.created"]);
        assert_ne!(lines[0]["id"], lines[1]["id"], "one webhook-id per delivery");

        // Disabled: nothing more is sent.
        let (status, _) = server.admin(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(json!({"enabled": false}))).await;
        assert_eq!(status, StatusCode::OK);
        server.license(product, "SIGNED-2", json!({})).await;
        let lines = receiver.wait_for(2).await;
        assert_eq!(lines.len(), 2, "{lines:?}");
    }
        async fn the_delivery_log_shows_each_delivery_and_redelivers_on_request(server) {
            let (status, created) = server
                .admin(Method::POST, "/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/later", "event_types": ["product.created"]})))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let id = created["webhook"]["id"].as_i64().expect("id");
            let receiver = PythonReceiver::start(created["secret"].as_str().expect("secret"));
            let (status, _) = server.admin(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(json!({"url": receiver.url()}))).await;
            assert_eq!(status, StatusCode::OK);
            let product = server.product("logged").await;
            let lines = receiver.wait_for(1).await;
            assert_eq!(lines.len(), 1, "{lines:?}");

            let (status, log) = server.admin(Method::GET, &format!("/v1/webhooks/{id}/deliveries"), None).await;
            assert_eq!(status, StatusCode::OK, "{log}");
            let rows = log["data"].as_array().expect("data");
            assert_eq!(rows.len(), 1, "{log}");
            let delivery = &rows[0];
            assert_eq!(delivery["status"], "delivered", "{delivery}");
            assert_eq!(delivery["attempts"], 1, "{delivery}");
            assert_eq!(delivery["last_status"], 204, "{delivery}");
            assert_eq!(delivery["webhook_id"], id, "{delivery}");
            assert_eq!(delivery["body"]["type"], "product.created", "{delivery}");
            assert_eq!(delivery["body"]["data"]["subject_id"], product, "{delivery}");
            assert_eq!(delivery["id"].as_i64().map(|d| d.to_string()).as_deref(), lines[0]["id"].as_str(), "webhook-id is the delivery id");

            // Redelivered on request: same webhook-id, verified again, a second attempt logged.
            let delivery_id = delivery["id"].as_i64().expect("delivery id");
            let (status, again) = server.admin(Method::POST, &format!("/v1/webhooks/deliveries/{delivery_id}/redeliver"), None).await;
            assert_eq!(status, StatusCode::OK, "{again}");
            assert_eq!(again["status"], "pending", "{again}");
            let lines = receiver.wait_for(2).await;
            assert_eq!(lines.len(), 2, "{lines:?}");
            assert!(lines.iter().all(|l| l["verified"] == true), "{lines:?}");
            assert_eq!(lines[0]["id"], lines[1]["id"]);
            let (_, log) = server.admin(Method::GET, &format!("/v1/webhooks/{id}/deliveries"), None).await;
            assert_eq!(log["data"][0]["attempts"], 2, "{log}");
            assert_eq!(log["data"][0]["status"], "delivered", "{log}");

            for (path, expected) in [
                ("/v1/webhooks/deliveries/999999/redeliver".to_string(), StatusCode::NOT_FOUND),
                (format!("/v1/webhooks/{}/deliveries", id + 1000), StatusCode::NOT_FOUND),
            ] {
                let method = if path.ends_with("redeliver") { Method::POST } else { Method::GET };
                let (status, body) = server.admin(method, &path, None).await;
                assert_eq!(status, expected, "{path}: {body}");
            }
            // A disabled endpoint's deliveries are not sent again.
            let (status, _) = server.admin(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(json!({"enabled": false}))).await;
            assert_eq!(status, StatusCode::OK);
            let (status, body) = server.admin(Method::POST, &format!("/v1/webhooks/deliveries/{delivery_id}/redeliver"), None).await;
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
        }
    }
}

/// Changes to endpoints are events too, logged in the change's transaction; the CLI shows an
/// endpoint's delivery log and redelivers.
mod endpoint_events {
    use super::*;

    backend_tests! {
        async fn endpoint_changes_are_events_and_the_cli_shows_and_redelivers_deliveries(server) {
            let (status, watcher) = server
                .admin(Method::POST, "/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/later", "event_types": ["webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.deleted"]})))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{watcher}");
            let watcher_id = watcher["webhook"]["id"].as_i64().expect("id");
            let receiver = PythonReceiver::start(watcher["secret"].as_str().expect("secret"));
            let (status, _) = server.admin(Method::PATCH, &format!("/v1/webhooks/{watcher_id}"), Some(json!({"url": receiver.url()}))).await;
            assert_eq!(status, StatusCode::OK);

            let (status, other) = server
                .admin(Method::POST, "/v1/webhooks", Some(json!({"url": "https://example.com/other", "event_types": ["*"], "description": "other"})))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{other}");
            let other_id = other["webhook"]["id"].as_i64().expect("id");
            let secret = other["secret"].as_str().expect("secret").to_string();
            let (status, _) = server.admin(Method::PATCH, &format!("/v1/webhooks/{other_id}"), Some(json!({"enabled": false}))).await;
            assert_eq!(status, StatusCode::OK);
            let (status, _) = server.admin(Method::DELETE, &format!("/v1/webhooks/{other_id}"), None).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            // A refused change logs nothing.
            let (status, _) = server.admin(Method::PATCH, &format!("/v1/webhooks/{other_id}"), Some(json!({"enabled": true}))).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            let (status, _) = server.admin(Method::POST, "/v1/webhooks", Some(json!({"url": "ftp://x", "event_types": ["*"]}))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

            // The watcher's own URL change, then the other endpoint's life.
            let lines = receiver.wait_for(4).await;
            assert_eq!(lines.len(), 4, "{lines:?}");
            assert!(lines.iter().all(|l| l["verified"] == true), "{lines:?}");
            let mut seen: Vec<(i64, String, i64, bool)> = lines
                .iter()
                .map(|l| {
                    let body: Value = serde_json::from_str(l["body"].as_str().expect("body")).expect("JSON");
                    let data = &body["data"];
                    assert_eq!(data["subject_type"], "webhook_endpoint", "{body}");
                    assert_eq!(data["actor"], "admin:bootstrap", "{body}");
                    assert!(!body.to_string().contains(&secret[6..]), "no secret in {body}");
                    (
                        data["id"].as_i64().expect("event id"),
                        body["type"].as_str().expect("type").to_string(),
                        data["subject_id"].as_i64().expect("subject"),
                        data["data"]["enabled"].as_bool().expect("enabled"),
                    )
                })
                .collect();
            seen.sort();
            let seen: Vec<(String, i64, bool)> = seen.into_iter().map(|(_, t, s, e)| (t, s, e)).collect();
            assert_eq!(
                seen,
                [
                    ("webhook_endpoint.updated".to_string(), watcher_id, true),
                    ("webhook_endpoint.created".to_string(), other_id, true),
                    ("webhook_endpoint.updated".to_string(), other_id, false),
                    ("webhook_endpoint.deleted".to_string(), other_id, false),
                ]
            );

            // The CLI: the delivery log, then a redelivery of the first delivery.
            let (code, out, err) = server.cli(&["--json", "webhooks", "deliveries", &watcher_id.to_string(), "--limit", "2"]);
            assert_eq!(code, 0, "{out} {err}");
            let page: Value = serde_json::from_str(&out).expect("json");
            let rows = page["data"].as_array().expect("data");
            assert_eq!(rows.len(), 2, "{page}");
            assert!(rows.iter().all(|r| r["status"] == "delivered"), "{page}");
            let first = rows[0]["id"].as_i64().expect("delivery id");
            let (code, out, err) = server.cli(&["webhooks", "deliveries", &watcher_id.to_string(), "--after", &rows[1]["id"].to_string()]);
            assert_eq!(code, 0, "{err}");
            assert_eq!(out.lines().filter(|l| l.contains("delivered")).count(), 2, "{out}");
            let (code, out, err) = server.cli(&["webhooks", "redeliver", &first.to_string()]);
            assert_eq!(code, 0, "{out} {err}");
            assert!(out.contains("pending"), "{out}");
            let lines = receiver.wait_for(5).await;
            assert_eq!(lines.len(), 5, "{lines:?}");
            assert_eq!(lines[4]["id"].as_str(), Some(first.to_string().as_str()), "{lines:?}");
            assert_eq!(lines[4]["verified"], true);
            let (code, _, _) = server.cli(&["webhooks", "redeliver", "999999"]);
            assert_eq!(code, 3, "an unknown delivery exits 3");
            let (code, _, _) = server.cli(&["webhooks", "deliveries", "999999"]);
            assert_eq!(code, 3, "an unknown endpoint exits 3");
        }
    }
}

/// A port nothing listens on yet (bound, then released).
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

/// The event type and subject id a delivered body reports.
fn event_of(line: &Value) -> (String, i64) {
    let body: Value = serde_json::from_str(line["body"].as_str().expect("body")).expect("JSON body");
    (
        body["type"].as_str().expect("type").to_string(),
        body["data"]["subject_id"].as_i64().expect("subject_id"),
    )
}

/// Durability of endpoint deliveries: an event's delivery is queued in the event's transaction,
/// so a kill -9 before it is sent loses nothing, and nodes sharing a PostgreSQL database send it
/// once.
mod durable {
    use super::*;
    use crate::outbox::FAST_RETRY;

    /// An activation is committed while its endpoint is down; licensd is killed (SIGKILL) before
    /// any attempt succeeds; after a restart the receiver gets the event once, signed.
    async fn kill9_between_event_and_delivery(backend: Backend) {
        let server = Server::start_fresh_with(backend, &FAST_RETRY).await;
        let port = free_port().await;
        let (status, created) = server
            .admin(
                Method::POST,
                "/v1/webhooks",
                Some(json!({"url": format!("http://127.0.0.1:{port}/hook"), "event_types": ["license.activated"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["secret"].as_str().expect("secret").to_string();
        let product = server.product("kill9").await;
        let license = server.license(product, "KILL9-1", json!({})).await;
        let (status, body, _, _) = server
            .client_post(
                "/v1/licenses/actions/activate",
                json!({"key": "KILL9-1", "fingerprint": "fp"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // Committed, not delivered: nothing listens until after the kill.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let (data_dir, database_url) = server.stop();

        let receiver = PythonReceiver::on_port(&secret, port);
        let server = Server::start_with(backend, data_dir, database_url, &FAST_RETRY).await;
        let lines = receiver.wait_for(1).await;
        assert_eq!(lines.len(), 1, "delivered once: {lines:?}");
        assert_eq!(lines[0]["verified"], true, "{lines:?}");
        assert_eq!(event_of(&lines[0]), ("license.activated".to_string(), license));
        let (_, log) = server
            .admin(
                Method::GET,
                &format!("/v1/webhooks/{}/deliveries", created["webhook"]["id"]),
                None,
            )
            .await;
        let rows = log["data"].as_array().expect("data");
        assert_eq!(rows.len(), 1, "{log}");
        assert_eq!(rows[0]["status"], "delivered", "{log}");
        assert_eq!(
            rows[0]["id"].as_i64().map(|i| i.to_string()).as_deref(),
            lines[0]["id"].as_str()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_kill9_between_event_and_webhook_delivery() {
        kill9_between_event_and_delivery(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_kill9_between_event_and_webhook_delivery() {
        kill9_between_event_and_delivery(Backend::Postgres).await;
    }

    /// Two nodes on one PostgreSQL database, events written on both while the endpoint is down:
    /// once it is up, every event arrives exactly once (one request per webhook-id, one
    /// webhook-id per licence), whichever node claims each retry.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_two_nodes_deliver_each_webhook_event_once() {
        const LICENSES: usize = 16;
        let database = PgDatabase::create().await;
        let master = licensd_crypto::MasterKey::generate().expect("master key").to_base64();
        let mut env = FAST_RETRY.to_vec();
        env.push(("LICENSD_MASTER_KEY", master.as_str()));
        let nodes = [
            Server::start_with(
                Backend::Postgres,
                tempfile::tempdir().unwrap(),
                Some(database.url.clone()),
                &env,
            )
            .await,
            Server::start_with(
                Backend::Postgres,
                tempfile::tempdir().unwrap(),
                Some(database.url),
                &env,
            )
            .await,
        ];
        let port = free_port().await;
        let (status, created) = nodes[0]
            .admin(
                Method::POST,
                "/v1/webhooks",
                Some(json!({"url": format!("http://127.0.0.1:{port}/hook"), "event_types": ["license.created"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let product = nodes[1].product("two-nodes").await;
        let mut licenses = Vec::new();
        for n in 0..LICENSES {
            licenses.push(nodes[n % 2].license(product, &format!("TWO-{n}"), json!({})).await);
        }
        // Both nodes fail and reschedule the deliveries for a while.
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let receiver = PythonReceiver::on_port(created["secret"].as_str().expect("secret"), port);
        let lines = receiver.wait_for(LICENSES).await;
        assert_eq!(lines.len(), LICENSES, "{lines:?}");
        assert!(lines.iter().all(|l| l["verified"] == true), "{lines:?}");
        let mut per_id = std::collections::BTreeMap::<String, usize>::new();
        for line in &lines {
            *per_id
                .entry(line["id"].as_str().expect("webhook-id").to_string())
                .or_default() += 1;
        }
        assert_eq!(per_id.len(), LICENSES, "{per_id:?}");
        assert!(per_id.values().all(|&n| n == 1), "{per_id:?}");
        let mut delivered: Vec<i64> = lines
            .iter()
            .map(|l| {
                let (kind, subject) = event_of(l);
                assert_eq!(kind, "license.created");
                subject
            })
            .collect();
        delivered.sort();
        licenses.sort();
        assert_eq!(delivered, licenses);
    }
}
