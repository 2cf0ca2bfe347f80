//! The console's dialect settings pages (DNA IP lockout policies, SLASCONE customers and
//! editions) over HTTP, on SQLite and PostgreSQL: every action runs the dialect's own command, a
//! refusal is shown in the page and changes nothing, forms need the session's CSRF token, and a
//! read-only admin token changes nothing.

use crate::console_browser::{Browser, PlainSession, event_count, hidden};
use crate::harness::{ADMIN_TOKEN, Server, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn signed_in(server: &Server, token: &str) -> (PlainSession, String) {
    let (status, session, _) = PlainSession::sign_in(server, token, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = session.expect("signed in");
    let (_, html) = session.get("/console/dialects/dna").await;
    let csrf = hidden(&html, "csrf").expect("csrf field");
    (session, csrf)
}

async fn lockout(server: &Server, product: i64) -> Value {
    let (status, body) = server
        .admin(Method::GET, &format!("/v1/dna/products/{product}/ip-lockout"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn policies(server: &Server, product: i64) -> Vec<Value> {
    let (status, body) = server
        .admin(Method::GET, &format!("/v1/policies?product_id={product}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().cloned().expect("a list of policies")
}

fn policy_id(list: &[Value], name: &str) -> i64 {
    list.iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["id"].as_i64())
        .unwrap_or_else(|| panic!("no policy {name} in {list:?}"))
}

async fn customer_exists(server: &Server, id: i64) -> bool {
    let (status, _) = server.admin(Method::GET, &format!("/v1/customers/{id}"), None).await;
    status == StatusCode::OK
}

backend_tests! {
    async fn console_dna_lockout_policy(server) {
        let product = server.product("dna-app").await;
        let (session, csrf) = signed_in(&server, ADMIN_TOKEN).await;
        let (status, page) = session.get("/console/dialects/dna").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&format!("id=\"lockout-{product}\"")), "the product is listed");
        assert!(page.contains("<td class=\"kind\">default</td>"), "{page}");

        let form = |max: &'static str| {
            vec![("product_id", product.to_string()), ("max_failures", max.to_string()), ("window_seconds", "60".to_string()), ("lockout_seconds", "120".to_string())]
        };
        let post = |csrf: Option<&str>, fields: Vec<(&'static str, String)>| {
            let mut all: Vec<(String, String)> = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            if let Some(csrf) = csrf {
                all.push(("csrf".into(), csrf.to_string()));
            }
            all
        };
        let send = |fields: Vec<(String, String)>, path: String| {
            let session = &session;
            async move {
                let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                session.post(&path, &pairs).await
            }
        };
        let events = event_count(&server).await;
        // Without the session's CSRF token: refused, nothing changed.
        let (status, page) = send(post(None, form("3")), "/console/dialects/dna".into()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("CSRF"));
        // A policy the DNA admin API refuses (0 failures): refused in the form, nothing changed.
        let (status, page) = send(post(Some(&csrf), form("0")), "/console/dialects/dna".into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("id=\"error\"") && page.contains("at least 1"), "{page}");
        assert_eq!(lockout(&server, product).await, json!({"max_failures": 5, "window_seconds": 900, "lockout_seconds": 3600}));
        assert_eq!(event_count(&server).await, events);
        // An unknown product: 404 in the form.
        let mut unknown = post(Some(&csrf), form("3"));
        unknown[0].1 = "999999".into();
        let (status, page) = send(unknown, "/console/dialects/dna".into()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(page.contains("id=\"error\""));
        assert_eq!(event_count(&server).await, events);
        // Accepted: the dialect's store command and its event.
        let (status, page) = send(post(Some(&csrf), form("3")), "/console/dialects/dna".into()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("<td class=\"kind\">custom</td>"));
        assert_eq!(lockout(&server, product).await, json!({"max_failures": 3, "window_seconds": 60, "lockout_seconds": 120}));
        assert_eq!(event_count(&server).await, events + 1);
        let (_, logged) = server.admin(Method::GET, "/v1/events?action=dna.ip_lockout_policy_set", None).await;
        assert_eq!(logged["data"][0]["subject_id"], product, "{logged}");
        // Reset to the default.
        let (status, _) = send(post(Some(&csrf), vec![]), format!("/console/dialects/dna/{product}/reset")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(lockout(&server, product).await, json!({"max_failures": 5, "window_seconds": 900, "lockout_seconds": 3600}));
    }

    async fn console_slascone_customers(server) {
        let plain = server.admin(Method::POST, "/v1/customers", Some(json!({"email": "plain@example.com", "name": "Plain"}))).await;
        assert_eq!(plain.0, StatusCode::CREATED, "{}", plain.1);
        let plain_id = plain.1["id"].as_i64().expect("id");
        let (session, csrf) = signed_in(&server, ADMIN_TOKEN).await;
        let fields = |number: &'static str, email: &'static str, country: &'static str| {
            vec![("csrf", csrf.clone()), ("email", email.to_string()), ("company", "ACME".to_string()), ("customer_number", number.to_string()), ("prospect_number", String::new()), ("country", country.to_string()), ("language", "de".to_string())]
        };
        let send = |fields: Vec<(&'static str, String)>| {
            let session = &session;
            async move {
                let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                session.post("/console/dialects/slascone/customers", &pairs).await
            }
        };
        let (status, page) = send(fields("C-1", "buyer@example.com", "DE")).await;
        assert_eq!(status, StatusCode::CREATED, "{page}");
        assert!(page.contains("<td class=\"number\">C-1</td>"), "{page}");
        let (_, list) = server.admin(Method::GET, "/v1/customers?limit=100", None).await;
        let id = list["data"].as_array().expect("customers").iter().find(|c| c["email"] == "buyer@example.com").and_then(|c| c["id"].as_i64()).expect("created customer");
        let (status, profile) = server.admin(Method::GET, &format!("/v1/slascone/customers/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{profile}");
        assert_eq!((profile["profile"]["customer_number"].as_str(), profile["profile"]["country"].as_str()), (Some("C-1"), Some("DE")));
        assert!(!page.contains(&format!("id=\"sl-customer-{plain_id}\"")), "customers without a SLASCONE profile are not listed");

        let events = event_count(&server).await;
        // The SLASCONE admin API's refusals, shown in the page, nothing changed.
        let (status, page) = send(fields("C-1", "other@example.com", "DE")).await;
        assert_eq!(status, StatusCode::CONFLICT, "a taken customer number");
        assert!(page.contains("id=\"error\""));
        let (status, page) = send(fields("C-2", "other@example.com", "Atlantis")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("unknown country"), "{page}");
        let (status, _) = send(fields("C-2", "not-an-address", "DE")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(event_count(&server).await, events);
        let (_, list) = server.admin(Method::GET, "/v1/customers?limit=100", None).await;
        assert_eq!(list["data"].as_array().map(Vec::len), Some(2));

        // Delete: only customers of the list; the profile goes with the customer.
        let (status, page) = session.post(&format!("/console/dialects/slascone/customers/{plain_id}/delete"), &[("csrf", csrf.as_str())]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(page.contains("id=\"error\""));
        assert!(customer_exists(&server, plain_id).await);
        let (status, _) = session.post(&format!("/console/dialects/slascone/customers/{id}/delete"), &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
        assert!(customer_exists(&server, id).await);
        assert_eq!(event_count(&server).await, events);
        let (status, page) = session.post(&format!("/console/dialects/slascone/customers/{id}/delete"), &[("csrf", csrf.as_str())]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(!customer_exists(&server, id).await);
        assert!(!page.contains(&format!("id=\"sl-customer-{id}\"")));
    }

    async fn console_slascone_editions(server) {
        let product = server.product("sl-app").await;
        let (session, csrf) = signed_in(&server, ADMIN_TOKEN).await;
        let create = |name: &'static str, mode: &'static str, session_period: &'static str| {
            let session = &session;
            let csrf = csrf.clone();
            async move {
                let product = product.to_string();
                session
                    .post(
                        "/console/dialects/slascone/editions",
                        &[("csrf", csrf.as_str()), ("product_id", product.as_str()), ("name", name), ("provisioning_mode", mode), ("token_limit", "3"), ("session_period", session_period), ("expiration_days", "365")],
                    )
                    .await
            }
        };
        let (status, page) = create("Pro", "0", "").await;
        assert_eq!(status, StatusCode::CREATED, "{page}");
        let (status, _) = create("Basic", "1", "30").await;
        assert_eq!(status, StatusCode::CREATED);
        let list = policies(&server, product).await;
        let pro = policy_id(&list, "Pro");
        let basic = policy_id(&list, "Basic");
        assert_eq!(list.iter().find(|p| p["id"] == pro).map(|p| (p["terms"]["max_activations"].clone(), p["duration_days"].clone())), Some((json!(3), json!(365))));
        let (_, page) = session.get(&format!("/console/dialects/slascone/editions?product={product}")).await;
        assert!(page.contains(&format!("id=\"edition-{pro}\"")) && page.contains(&format!("id=\"edition-{basic}\"")));

        let events = event_count(&server).await;
        // The back office's refusals: an existing name (6013), a bad session period, no name.
        let (status, page) = create("Pro", "0", "").await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(page.contains("conflict 6013"), "{page}");
        let (status, page) = create("Other", "1", "0").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("id=\"error\""));
        let (status, _) = create("", "0", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(policies(&server, product).await.len(), 2);
        assert_eq!(event_count(&server).await, events);

        // Delete one; the last one stays (conflict 8000), nothing changed.
        let (status, _) = session.post(&format!("/console/dialects/slascone/editions/{basic}/delete"), &[("csrf", csrf.as_str())]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(policies(&server, product).await.len(), 1);
        let events = event_count(&server).await;
        let (status, page) = session.post(&format!("/console/dialects/slascone/editions/{pro}/delete"), &[("csrf", csrf.as_str())]).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(page.contains("conflict 8000"), "{page}");
        assert_eq!(policies(&server, product).await.len(), 1);
        assert_eq!(event_count(&server).await, events);
        // Without CSRF: refused.
        let (status, _) = session.post(&format!("/console/dialects/slascone/editions/{pro}/delete"), &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    async fn console_dialect_settings_read_only(server) {
        let product = server.product("ro-dialects").await;
        let (status, body) = server.admin(Method::POST, "/v1/admin-tokens", Some(json!({"name": "auditor", "read_only": true}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = body["secret"].as_str().expect("secret").to_string();
        let (session, csrf) = signed_in(&server, &token).await;
        for (path, form) in [
            ("/console/dialects/dna", "set-lockout"),
            ("/console/dialects/slascone/customers", "new-sl-customer"),
            ("/console/dialects/slascone/editions", "new-edition"),
        ] {
            let (status, page) = session.get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(!page.contains(&format!("id=\"{form}\"")), "{path}: no form for a read-only token");
        }
        let events = event_count(&server).await;
        let product_text = product.to_string();
        for (path, fields) in [
            ("/console/dialects/dna".to_string(), vec![("product_id", product_text.as_str()), ("max_failures", "2"), ("window_seconds", "2"), ("lockout_seconds", "2")]),
            (format!("/console/dialects/dna/{product}/reset"), vec![]),
            ("/console/dialects/slascone/customers".to_string(), vec![("email", "ro@example.com"), ("company", "RO"), ("customer_number", "RO-1")]),
            ("/console/dialects/slascone/editions".to_string(), vec![("product_id", product_text.as_str()), ("name", "RO")]),
        ] {
            let mut all = vec![("csrf", csrf.as_str())];
            all.extend(fields);
            let (status, page) = session.post(&path, &all).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert!(page.contains("read-only"), "{path}");
        }
        assert_eq!(event_count(&server).await, events);
        assert_eq!(lockout(&server, product).await["max_failures"], 5);
        assert!(policies(&server, product).await.is_empty());
        // The pages in a browser (screenshots for the README's list of pages).
        let browser = Browser::start(&server, "dialects").await;
        browser.sign_in(ADMIN_TOKEN).await;
        for (path, name) in [
            ("/console/dialects/dna", "dna-lockout"),
            ("/console/dialects/slascone/customers", "slascone-customers"),
            ("/console/dialects/slascone/editions", "slascone-editions"),
        ] {
            browser.goto(path).await;
            assert!(!browser.exists("#error").await, "{path} shows no error");
            browser.shot(name).await;
        }
        browser.close().await;
    }
}
