//! Issue 12, point 10: licensd answers to one ISV id (`--slascone-isv-id`, or one generated on the
//! first start and kept in the database); any other is refused with SLASCONE's 401, signed. Also
//! the rest of the point: `timestamp_utc` that is not an instant and text beyond the documented
//! maximum lengths are 400s in data gathering and consumption too, and nothing is recorded.

use super::*;
use crate::harness::Backend;

const OTHER_ISV: &str = "8a3b1c2d-0000-4000-8000-0000000000ff";
const UNKNOWN_ISV: &str = "unknown ISV id";

/// Active devices of a license.
async fn active_devices(server: &Server, license_id: i64) -> usize {
    let (_, devices) = server
        .admin(Method::GET, &format!("/v1/licenses/{license_id}/devices"), None)
        .await;
    devices
        .as_array()
        .or(devices["data"].as_array())
        .expect("devices")
        .iter()
        .filter(|d| d["deactivated_at"].is_null())
        .count()
}

/// The bare ISV id the CLI prints.
fn cli_isv_id(server: &Server) -> String {
    let (code, out, err) = server.cli(&["slascone", "isv-id"]);
    assert_eq!(code, 0, "{out}{err}");
    out.trim().to_owned()
}

/// An activation under `isv`: its status.
async fn activate_under(server: &Server, key: &str, isv: &str, license_key: &str) -> StatusCode {
    server
        .http
        .post(server.url(&format!("/api/v2/isv/{isv}/provisioning/activations")))
        .header("ProvisioningKey", key)
        .json(&json!({"product_id": PRODUCT, "license_key": license_key, "client_id": "C1"}))
        .send()
        .await
        .expect("request")
        .status()
}

backend_tests! {
    async fn another_isv_id_is_refused_with_a_signed_401(server) {
        let setup = setup(&server).await;
        let license_id = server.license(setup.product_id, "ISV-KEY", json!({"max_activations": 2})).await;
        let client = Client::new(&server, setup.key.clone());
        let unauthorized = json!({"title": "Unauthorized", "status": 401, "detail": UNKNOWN_ISV});
        let body = json!({"product_id": PRODUCT, "license_key": "ISV-KEY", "client_id": "C1"});
        // A good ProvisioningKey under another ISV: 401, nothing activated.
        for isv in [OTHER_ISV.to_owned(), OTHER_ISV.to_uppercase()] {
            let answer = client.send_isv(&isv, Method::POST, "/provisioning/activations", Some(body.clone()), &[]).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
            assert_eq!(answer.body, unauthorized);
        }
        assert_eq!(active_devices(&server, license_id).await, 0);
        // AdminKey routes, unknown paths and wrong methods under another ISV: the same 401.
        let admin = [("AdminKey", crate::harness::ADMIN_TOKEN)];
        let answer = client.send_isv(OTHER_ISV, Method::GET, &format!("/licenses/{}/xml", guid(license_id)), None, &admin).await;
        assert_eq!(answer.body, unauthorized);
        let answer = client.send_isv(OTHER_ISV, Method::POST, "/customers", Some(json!({"company_name": "X", "customer_number": "1", "email": "x@example.com"})), &admin).await;
        assert_eq!(answer.body, unauthorized);
        let answer = client.send_isv(OTHER_ISV, Method::POST, "/provisioning/no_such_route", Some(json!({})), &[]).await;
        assert_eq!(answer.body, unauthorized);
        let answer = client.send_isv(OTHER_ISV, Method::GET, "/provisioning/activations", None, &[]).await;
        assert_eq!(answer.body, unauthorized);
        // The X-Nonce is signed on the refusal too.
        let nonce = [3u8; 16];
        let nonce_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce);
        let answer = client
            .send_isv(OTHER_ISV, Method::POST, "/provisioning/validate", Some(json!({"license_key": "ISV-KEY"})), &[("X-Nonce", nonce_b64.as_str())])
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        let signature = answer.headers.get("x-nonce-signature").and_then(|v| v.to_str().ok()).expect("nonce signature").to_owned();
        client.record_nonce(&nonce, &signature);
        // A malformed ISV id is no route of this server: a signed 404.
        let answer = client.send_isv("not-a-guid", Method::POST, "/provisioning/activations", Some(body.clone()), &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
        assert_eq!(answer.body["status"], 404);
        // The server's own ISV id, in any case, works.
        let answer = client.send_isv(&ISV.to_uppercase(), Method::POST, "/provisioning/activations", Some(body), &[]).await;
        ok(&answer);
        assert_eq!(active_devices(&server, license_id).await, 1);
        // The native API and the CLI name it.
        let (status, isv) = server.admin(Method::GET, "/v1/slascone/isv", None).await;
        assert_eq!((status, isv), (StatusCode::OK, json!({"isv_id": ISV})));
        assert_eq!(cli_isv_id(&server), ISV);
        client.verify_all().await;
    }

    async fn data_gathering_checks_timestamps_and_lengths(server) {
        let setup = setup(&server).await;
        let (status, documents) = server
            .admin(
                Method::POST,
                "/v1/features",
                Some(json!({"product_id": setup.product_id, "code": "documents", "name": "Documents",
                            "feature_type": "consumption", "max_consumptions": 10})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{documents}");
        let documents_id = guid(documents["id"].as_i64().expect("id"));
        let (status, license) = server
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(json!({"product_id": setup.product_id, "key": "TS-KEY", "terms": {"max_activations": 2},
                            "features": [{"code": "documents"}]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{license}");
        let license_id = license["id"].as_i64().expect("id");
        let client = Client::new(&server, setup.key.clone());
        ok(&client.post("/provisioning/activations", json!({"product_id": PRODUCT, "license_key": "TS-KEY", "client_id": "C1"})).await);
        let products = format!("/products/{PRODUCT}");
        let field = admin_call(&client, Method::POST, format!("{products}/analytical_fields"), Some(json!({"name": "Cores", "type": "numeric"}))).await;
        let field_id = guid_of(&field, "id");
        let feature = admin_call(&client, Method::POST, format!("{products}/usage_features"), Some(json!({"name": "Export"}))).await;
        let feature_id = guid_of(&feature, "id");
        let remaining = || async {
            let answer = client.post("/provisioning/validate/consumption", json!({"license_id": guid(license_id), "limitation_id": documents_id})).await;
            ok(&answer)["remaining"].clone()
        };
        let usage_total = || async {
            let answer = admin_call(&client, Method::GET, format!("/licenses/{}/usage", guid(license_id)), None).await;
            ok(&answer).clone()
        };
        let usage_before = usage_total().await;

        // timestamp_utc that is not an instant: 400 in each data gathering call, nothing recorded
        // (a good item before the bad one is not recorded either).
        let bad = "2026-13-45T99:00:00Z";
        let answer = client
            .post("/data_gathering/consumption_heartbeats", json!({"client_id": "C1", "consumption_heartbeat": [
                {"limitation_id": documents_id, "value": 1, "timestamp_utc": "2026-01-02T03:04:05Z"},
                {"limitation_id": documents_id, "value": 1, "timestamp_utc": bad}]}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.body["title"], "Bad Request");
        assert_eq!(remaining().await, 10);
        // An item that is an array, not an object, was read by position (limitation_id, user_id,
        // external_id, timestamp_utc, value) and consumed: now the whole heartbeat is a 400.
        let answer = client
            .post("/data_gathering/consumption_heartbeats", json!({"client_id": "C1", "consumption_heartbeat": [
                {"limitation_id": documents_id, "value": 1},
                [documents_id, null, null, null, 1]]}))
            .await;
        assert_eq!(
            answer.body,
            json!({"title": "Bad Request", "status": 400, "detail": "invalid JSON body: invalid type: sequence, expected a JSON object"})
        );
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(remaining().await, 10);
        let answer = client
            .post("/data_gathering/usage_heartbeats", json!({"client_id": "C1", "usage_heartbeat": [
                {"usage_feature_id": feature_id, "value": 2},
                {"usage_feature_id": feature_id, "value": 2, "timestamp_utc": "not a date"}]}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(usage_total().await, usage_before);
        let answer = client
            .post("/data_gathering/analytical_heartbeats", json!({"client_id": "C1", "analytical_heartbeat": [
                {"analytical_field_id": field_id, "value": "8", "timestamp_utc": "yesterday"}]}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        let (status, values) = server.admin(Method::GET, &format!("/v1/slascone/licenses/{license_id}/analytics"), None).await;
        assert_eq!((status, values), (StatusCode::OK, json!([])));

        // Lengths: client_id at most 256, instants 64, other text 4096; beyond, a 400 naming the field.
        let long_client = "c".repeat(257);
        let answer = client.post("/data_gathering/usage_heartbeats", json!({"client_id": long_client, "usage_heartbeat": [{"usage_feature_id": feature_id}]})).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.body["detail"], "client_id is longer than 256 characters");
        let answer = client
            .post("/data_gathering/consumption_heartbeats", json!({"client_id": "C1", "consumption_heartbeat": [
                {"limitation_id": documents_id, "value": 1, "timestamp_utc": format!("2026-01-02T03:04:05{}Z", ".0".repeat(40))}]}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.body["detail"], "timestamp_utc is longer than 64 characters");
        let answer = client
            .post("/data_gathering/analytical_heartbeats", json!({"client_id": "C1", "analytical_heartbeat": [
                {"analytical_field_id": field_id, "value": "9".repeat(4097)}]}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.body["detail"], "value is longer than 4096 characters");
        let answer = client.post("/provisioning/heartbeats", json!({"product_id": PRODUCT, "client_id": "C1", "operating_system": "o".repeat(4097)})).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(answer.body["detail"], "operating_system is longer than 4096 characters");
        assert_eq!(remaining().await, 10);
        assert_eq!(usage_total().await, usage_before);
        // A good heartbeat still counts.
        let answer = client
            .post("/data_gathering/consumption_heartbeats", json!({"client_id": "C1", "consumption_heartbeat": [
                {"limitation_id": documents_id, "value": 1, "timestamp_utc": "2026-01-02T03:04:05Z"}]}))
            .await;
        ok(&answer);
        assert_eq!(remaining().await, 9);
        client.verify_all().await;
    }
}

/// Without `--slascone-isv-id` licensd generates an ISV id on its first start and keeps it in the
/// database: the same after a restart; a configured one replaces it while it is set.
async fn generated_isv_id_is_kept_across_restarts(backend: Backend) {
    let unset = [("!LICENSD_SLASCONE_ISV_ID", "")];
    let server = Server::start_fresh_with(backend, &unset).await;
    let setup = setup(&server).await;
    server
        .license(setup.product_id, "GEN-KEY", json!({"max_activations": 5}))
        .await;
    let generated = cli_isv_id(&server);
    assert!(
        generated.len() == 36 && generated.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
        "{generated}"
    );
    assert_ne!(generated, ISV);
    assert_eq!(
        activate_under(&server, &setup.key, &generated, "GEN-KEY").await,
        StatusCode::OK
    );
    assert_eq!(
        activate_under(&server, &setup.key, ISV, "GEN-KEY").await,
        StatusCode::UNAUTHORIZED
    );
    // Restarted on the same database: the same id.
    let (data_dir, database_url) = server.stop();
    let server = Server::start_with(backend, data_dir, database_url, &unset).await;
    assert_eq!(cli_isv_id(&server), generated);
    assert_eq!(
        activate_under(&server, &setup.key, &generated.to_uppercase(), "GEN-KEY").await,
        StatusCode::OK
    );
    // A configured id wins while it is set (the generated one is then another ISV's) …
    let (data_dir, database_url) = server.stop();
    let configured = [("--slascone-isv-id", OTHER_ISV)];
    let server = Server::start_with(backend, data_dir, database_url, &configured).await;
    assert_eq!(cli_isv_id(&server), OTHER_ISV);
    assert_eq!(
        activate_under(&server, &setup.key, OTHER_ISV, "GEN-KEY").await,
        StatusCode::OK
    );
    assert_eq!(
        activate_under(&server, &setup.key, &generated, "GEN-KEY").await,
        StatusCode::UNAUTHORIZED
    );
    // … and the kept one is back when it is unset again.
    let (data_dir, database_url) = server.stop();
    let server = Server::start_with(backend, data_dir, database_url, &unset).await;
    assert_eq!(cli_isv_id(&server), generated);
}

mod generated_isv_id_is_kept {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        generated_isv_id_is_kept_across_restarts(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        generated_isv_id_is_kept_across_restarts(Backend::Postgres).await;
    }
}
