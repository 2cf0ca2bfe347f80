//! Issue 14 (d): creating a licence from an edition (with its legacy key) and adding a licence
//! user are one store transaction each. Requests racing for one legacy key leave exactly one
//! licence; a refused user assignment leaves no user; neither logs an event (before, a refusal
//! created and then removed the half-made licence or user, with both events). SQLite and
//! PostgreSQL; every signature verified.

use super::*;

const MSG_1005: &str = "A license with this legacy license key already exists.";
const MSG_1009: &str = "The maximum number of users has been reached.";

/// The actions of the events after `after` (the newest first id is `after + 1`).
async fn actions_after(server: &Server, after: i64) -> Vec<String> {
    let (status, page) = server
        .admin(Method::GET, &format!("/v1/events?after={after}&limit=500"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

async fn last_event(server: &Server) -> i64 {
    let (status, page) = server.admin(Method::GET, "/v1/events?limit=500", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page["next_after"].is_null(), "fewer than 500 events in these tests");
    page["data"]
        .as_array()
        .and_then(|d| d.iter().map(|e| e["id"].as_i64().expect("id")).max())
        .unwrap_or(0)
}

async fn licence_count(server: &Server) -> usize {
    let (status, page) = server.admin(Method::GET, "/v1/licenses?limit=500", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().expect("licences").len()
}

backend_tests! {
    async fn racing_creates_for_one_legacy_key_leave_one_licence_and_no_removal(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        let product = format!("/products/{PRODUCT}");
        ok(&admin_call(&client, Method::POST, format!("{product}/templates"), Some(json!({"name": "Named", "token_limit": 2}))).await);
        let issue = || {
            admin_call(
                &client,
                Method::POST,
                "/data_exchange/licenses/by_template",
                Some(json!({"product_id": PRODUCT, "template_name": "Named", "legacy_license_key": "RACE-1"})),
            )
        };
        let licences = licence_count(&server).await;
        let after = last_event(&server).await;
        let (a, b, c, d, e, f) = tokio::join!(issue(), issue(), issue(), issue(), issue(), issue());
        let answers = [a, b, c, d, e, f];
        assert_eq!(answers.iter().filter(|a| a.status == StatusCode::OK).count(), 1, "one create wins");
        for answer in answers.iter().filter(|a| a.status != StatusCode::OK) {
            conflict(answer, 1005, MSG_1005);
        }
        // A later one meets the key too.
        conflict(&issue().await, 1005, MSG_1005);
        assert_eq!(licence_count(&server).await, licences + 1);
        let actions = actions_after(&server, after).await;
        assert_eq!(actions.iter().filter(|a| *a == "slascone.license_created").count(), 1, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| *a == "slascone.legacy_key_set").count(), 1, "{actions:?}");
        assert!(!actions.iter().any(|a| a == "slascone.license_removed"), "{actions:?}");
        client.verify_all().await;
    }

    async fn a_refused_user_assignment_leaves_no_user_and_no_event(server) {
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        let license_id = server.license(setup.product_id, "ONE-USER", json!({"max_activations": 1, "max_users": 1})).await;
        let users = format!("/licenses/{}/users", guid(license_id));
        ok(&admin_call(&client, Method::POST, &users, Some(json!({"user_id": "ann@example.com"}))).await);
        let after = last_event(&server).await;
        let refused = admin_call(&client, Method::POST, &users, Some(json!({"user_id": "bob@example.com", "name": "Bob"}))).await;
        conflict(&refused, 1009, MSG_1009);
        assert_eq!(actions_after(&server, after).await, Vec::<String>::new());
        let (status, list) = server.admin(Method::GET, "/v1/license-users", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(!list.to_string().contains("bob@example.com"), "{list}");
        client.verify_all().await;
    }

    async fn hundreds_of_racing_add_user_requests_fill_the_user_limit_exactly(server) {
        const LIMIT: usize = 12;
        const CLIENTS: usize = 300;
        let setup = setup(&server).await;
        let client = Client::new(&server, setup.key.clone());
        let license_id = server
            .license(setup.product_id, "RACE-USERS", json!({"max_activations": 1, "max_users": LIMIT}))
            .await;
        let users = format!("/licenses/{}/users", guid(license_id));
        // One alone first: the events one accepted user writes.
        let before = last_event(&server).await;
        ok(&admin_call(&client, Method::POST, &users, Some(json!({"user_id": "first@example.com"}))).await);
        let per_user = actions_after(&server, before).await.len();
        assert!(per_user > 0, "adding a user logs its event");
        let after = last_event(&server).await;
        // Hundreds of clients at once, each adding a user of its own, over real HTTP.
        let url = server.url(&format!("/api/v2/isv/{ISV}{users}"));
        let mut tasks = tokio::task::JoinSet::new();
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(CLIENTS));
        for i in 0..CLIENTS {
            let (http, url, key, start) = (server.http.clone(), url.clone(), setup.key.clone(), start.clone());
            tasks.spawn(async move {
                start.wait().await;
                let answer = http
                    .post(&url)
                    .header("ProvisioningKey", key)
                    .header("AdminKey", crate::harness::ADMIN_TOKEN)
                    .json(&json!({"user_id": format!("racer{i}@example.com")}))
                    .send()
                    .await
                    .expect("request");
                let status = answer.status();
                let body: Value = answer.json().await.expect("json body");
                (i, status, body)
            });
        }
        let mut winners = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (i, status, body) = joined.expect("task");
            if status == StatusCode::OK {
                winners.push(i);
            } else {
                assert_eq!(
                    (status, body),
                    (StatusCode::CONFLICT, json!({"id": 1009, "message": MSG_1009, "help": null})),
                    "a refused add-user answers SLASCONE's documented error"
                );
            }
        }
        assert_eq!(winners.len(), LIMIT - 1, "exactly the limit's remaining users get in: {winners:?}");
        // Nothing extra stored: the licence's users are the first one and the winners, no user
        // row exists for a loser, and only the winners logged events.
        let (status, list) = server.admin(Method::GET, "/v1/license-users?limit=500", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let mut stored: Vec<String> = list["data"]
            .as_array()
            .expect("users")
            .iter()
            .filter_map(|u| u["email"].as_str().map(str::to_owned))
            .collect();
        stored.sort();
        let mut expected: Vec<String> = winners.iter().map(|i| format!("racer{i}@example.com")).collect();
        expected.push("first@example.com".into());
        expected.sort();
        assert_eq!(stored, expected);
        let (status, assigned) = server.admin(Method::GET, &format!("/v1/licenses/{license_id}/users"), None).await;
        assert_eq!(status, StatusCode::OK, "{assigned}");
        let assigned = assigned.as_array().or_else(|| assigned["data"].as_array()).map(Vec::len);
        assert_eq!(assigned, Some(LIMIT));
        assert_eq!(actions_after(&server, after).await.len(), per_user * (LIMIT - 1), "refusals log nothing");
        // Full: one more is refused too.
        conflict(
            &admin_call(&client, Method::POST, &users, Some(json!({"user_id": "late@example.com"}))).await,
            1009,
            MSG_1009,
        );
        client.verify_all().await;
    }
}
