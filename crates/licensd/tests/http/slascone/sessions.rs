//! Issue 12, point 4: SLASCONE floating sessions belong to a session_id (each test runs on SQLite
//! and PostgreSQL and verifies every signature independently with the parent module's `Client`).

use super::*;
use std::sync::Arc;

const MSG_1010: &str = "Unknown license user.";
const MSG_12002: &str =
    "The maximum number of floating sessions with same client has been reached. Can not open an additional session.";
const MSG_12006: &str = "A session with the same user is already active.";

fn session(license_id: i64, client_id: &str, session_id: &str) -> Value {
    json!({"license_id": guid(license_id), "client_id": client_id, "session_id": session_id})
}

fn user_session(license_id: i64, client_id: &str, session_id: &str, user_id: &str) -> Value {
    json!({"license_id": guid(license_id), "client_id": client_id, "session_id": session_id, "user_id": user_id})
}

async fn active_count(client: &Client<'_>, license_id: i64) -> Value {
    let path = format!(
        "/provisioning/licenses/{}/tokens/floating/active/count",
        guid(license_id)
    );
    let answer = client.send(Method::GET, &path, None, &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

/// A product with SLASCONE client type Users (`auth_method: user`), its credential, and a floating
/// license on it with `ann@example.com` assigned as its user.
async fn users_license(server: &Server, client_key: &mut String, floating: Value) -> (i64, i64) {
    let (status, product) = server
        .admin(
            Method::POST,
            "/v1/products",
            Some(json!({"code": "users-product", "name": "U", "auth_method": "user"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product_id = product["id"].as_i64().expect("id");
    *client_key = credential(server, Some(product_id)).await;
    let license_id = server
        .license(
            product_id,
            "USERS-FLOAT",
            json!({"max_activations": null, "floating": floating}),
        )
        .await;
    let response = server
        .http
        .post(server.url(&format!("/api/v2/isv/{ISV}/licenses/{}/users", guid(license_id))))
        .header("AdminKey", crate::harness::ADMIN_TOKEN)
        .json(&json!({"user_id": "ann@example.com", "name": "Ann"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    (product_id, license_id)
}

/// Sends every body to `/provisioning/session/open` at once, each from its own task (its own HTTP
/// request), released together by a barrier; returns (status, conflict id or 0) per request.
async fn race_opens(server: &Server, key: &str, bodies: Vec<Value>) -> Vec<(StatusCode, u64)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let request = server
                .http
                .post(server.url(&format!("/api/v2/isv/{ISV}/provisioning/session/open")))
                .header("ProvisioningKey", key)
                .json(&body);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let response = request.send().await.expect("request reaches the server");
                let status = response.status();
                assert!(response.headers().get("x-slascone-signature").is_some());
                let body: Value = response.json().await.expect("json body");
                (status, body["id"].as_u64().unwrap_or(0))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.expect("task"));
    }
    answers
}

fn tally(answers: &[(StatusCode, u64)]) -> (usize, Vec<u64>) {
    let opened = answers.iter().filter(|(status, _)| *status == StatusCode::OK).count();
    let mut refused: Vec<u64> = answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::OK)
        .map(|(_, id)| *id)
        .collect();
    refused.dedup();
    (opened, refused)
}

backend_tests! {
    async fn sessions_belong_to_a_session_id_of_a_client(server) {
        let setup = setup(&server).await;
        let license_id = server
            .license(setup.product_id, "SESSIONS", json!({"max_activations": null, "floating": {"seats": 3, "lease_seconds": 300}}))
            .await;
        let client = Client::new(&server, setup.key.clone());
        let open = |body: Value| client.post("/provisioning/session/open", body);
        let close = |body: Value| client.post("/provisioning/session/close", body);
        assert_eq!(open(session(license_id, "C1", "s1")).await.status, StatusCode::OK);
        // The same session id again renews it: still one session.
        assert_eq!(open(session(license_id, "C1", "s1")).await.status, StatusCode::OK);
        assert_eq!(active_count(&client, license_id).await, json!(1));
        // A second session id of the same client: the per-client limit (absent = 1) is reached.
        conflict(&open(session(license_id, "C1", "s2")).await, 12002, MSG_12002);
        assert_eq!(active_count(&client, license_id).await, json!(1));
        // Another client takes its own seat with the same session id text.
        assert_eq!(open(session(license_id, "C2", "s1")).await.status, StatusCode::OK);
        assert_eq!(active_count(&client, license_id).await, json!(2));
        // Close acts on the session id of the client: C1 holds no s2, C3 holds no s1.
        conflict(&close(session(license_id, "C1", "s2")).await, 12001, MSG_12001);
        conflict(&close(session(license_id, "C3", "s1")).await, 12001, MSG_12001);
        assert_eq!(active_count(&client, license_id).await, json!(2));
        assert_eq!(close(session(license_id, "C1", "s1")).await.status, StatusCode::OK);
        conflict(&close(session(license_id, "C1", "s1")).await, 12001, MSG_12001);
        // C2's session is untouched; C1 may open another session id now.
        assert_eq!(active_count(&client, license_id).await, json!(1));
        assert_eq!(open(session(license_id, "C1", "s2")).await.status, StatusCode::OK);
        // GUID session ids compare in any case.
        let guid_session = "0F536992-168E-48B9-80BB-08DC375B9BB8";
        assert_eq!(open(session(license_id, "C3", guid_session)).await.status, StatusCode::OK);
        assert_eq!(open(session(license_id, "C3", &guid_session.to_lowercase())).await.status, StatusCode::OK);
        assert_eq!(close(session(license_id, "C3", &guid_session.to_lowercase())).await.status, StatusCode::OK);

        // Sessions per client are counted from 1 (a bad value is refused at the edge).
        let (status, body) = server
            .admin(
                Method::POST,
                "/v1/licenses",
                Some(json!({"product_id": setup.product_id, "terms": {"max_activations": null, "floating": {"seats": 5, "lease_seconds": 300, "sessions_per_client": 0}}})),
            )
            .await;
        assert!(status.is_client_error(), "{status} {body}");
        // A license whose floating terms allow two sessions per client.
        let two = server
            .license(
                setup.product_id,
                "TWO-PER-CLIENT",
                json!({"max_activations": null, "floating": {"seats": 5, "lease_seconds": 300, "sessions_per_client": 2}}),
            )
            .await;
        assert_eq!(open(session(two, "C1", "a")).await.status, StatusCode::OK);
        assert_eq!(open(session(two, "C1", "b")).await.status, StatusCode::OK);
        conflict(&open(session(two, "C1", "c")).await, 12002, MSG_12002);
        assert_eq!(open(session(two, "C1", "a")).await.status, StatusCode::OK);
        assert_eq!(active_count(&client, two).await, json!(2));
        // The refused open recorded nothing: three opens (a, b, a renewed), three events.
        let path = format!("/v1/events?subject_type=license&subject_id={two}&action=slascone.session_opened&limit=100");
        let (status, events) = server.admin(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        assert_eq!(events["data"].as_array().map(Vec::len), Some(3), "{events}");
        client.verify_all().await;
    }

    async fn a_users_floating_license_gives_seats_to_its_users_on_one_client_at_a_time(server) {
        let mut key = String::new();
        let (_, license_id) =
            users_license(&server, &mut key, json!({"seats": 3, "lease_seconds": 300, "sessions_per_client": 2})).await;
        let client = Client::new(&server, key);
        let open = |body: Value| client.post("/provisioning/session/open", body);
        // A user the license does not have: no seat (1010, see the sessions module docs).
        conflict(&open(user_session(license_id, "C1", "s1", "bob@example.com")).await, 1010, MSG_1010);
        assert_eq!(active_count(&client, license_id).await, json!(0));
        let answer = open(user_session(license_id, "C1", "s1", "Ann@Example.com")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        // Ann is active on C1: another client of hers gets 12006, C1 may open a second session.
        conflict(&open(user_session(license_id, "C2", "s2", "ann@example.com")).await, 12006, MSG_12006);
        assert_eq!(open(user_session(license_id, "C1", "s2", "ann@example.com")).await.status, StatusCode::OK);
        assert_eq!(active_count(&client, license_id).await, json!(2));
        for id in ["s1", "s2"] {
            let closed = client.post("/provisioning/session/close", user_session(license_id, "C1", id, "ann@example.com")).await;
            assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
        }
        // Once her sessions on C1 are closed, C2 may have her.
        assert_eq!(open(user_session(license_id, "C2", "s2", "ann@example.com")).await.status, StatusCode::OK);
        client.verify_all().await;
    }

    async fn concurrent_session_opens_never_exceed_the_limits(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        // Seats: 16 clients race for 4 floating tokens.
        let seats = server
            .license(setup.product_id, "RACE-SEATS", json!({"max_activations": null, "floating": {"seats": 4, "lease_seconds": 300, "sessions_per_client": 3}}))
            .await;
        let bodies = (0..16).map(|i| session(seats, &format!("client-{i}"), &format!("session-{i}"))).collect();
        let answers = race_opens(&server, &setup.key, bodies).await;
        assert_eq!(tally(&answers), (4, vec![1007]), "{answers:?}");
        assert_eq!(active_count(&client, seats).await, json!(4));
        // Sessions per client: one client races 12 session ids for its 3 sessions.
        let per_client = server
            .license(setup.product_id, "RACE-CLIENT", json!({"max_activations": null, "floating": {"seats": 20, "lease_seconds": 300, "sessions_per_client": 3}}))
            .await;
        let bodies = (0..12).map(|i| session(per_client, "one-client", &format!("session-{i}"))).collect();
        let answers = race_opens(&server, &setup.key, bodies).await;
        assert_eq!(tally(&answers), (3, vec![12002]), "{answers:?}");
        assert_eq!(active_count(&client, per_client).await, json!(3));
        // One user: 8 clients race for her; exactly one gets her.
        let mut key = String::new();
        let (_, users) = users_license(&server, &mut key, json!({"seats": 20, "lease_seconds": 300})).await;
        let bodies = (0..8).map(|i| user_session(users, &format!("desk-{i}"), &format!("s-{i}"), "ann@example.com")).collect();
        let answers = race_opens(&server, &key, bodies).await;
        assert_eq!(tally(&answers), (1, vec![12006]), "{answers:?}");
        let users_client = Client::new(&server, key);
        assert_eq!(active_count(&users_client, users).await, json!(1));
        client.verify_all().await;
        users_client.verify_all().await;
    }
}
