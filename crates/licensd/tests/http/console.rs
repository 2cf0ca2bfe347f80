//! The admin console (`/console`, crate `licensd-console`) in a real headless Chromium, on SQLite
//! and PostgreSQL: sign-in, products, licences, devices, bulk issue, credentials, refusals, CSRF,
//! session expiry, read-only tokens. Screenshots of each page land in
//! `target/console-screenshots/`.

use crate::console_browser::{Browser, PlainSession, event_count, product_count};
use crate::harness::{ADMIN_TOKEN, Backend, Server, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Creates an admin token (read-only or not) through the API; returns its secret.
async fn admin_token(server: &Server, name: &str, read_only: bool) -> String {
    let (status, body) = server
        .admin(
            Method::POST,
            "/v1/admin-tokens",
            Some(json!({"name": name, "read_only": read_only})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["secret"].as_str().expect("secret").to_string()
}

backend_tests! {
    async fn console_sign_in_dashboard_and_sign_out(server) {
        // A browser asking for `/` is sent to the console; API clients still get the JSON.
        let (status, root) = server.admin(Method::GET, "/", None).await;
        assert_eq!((status, root["api"].as_str()), (StatusCode::OK, Some("/v1")));
        let product = server.product("dash").await;
        server.license(product, "DASH-KEY-1", json!({"max_activations": 3})).await;
        let (status, _, _, _) = server
            .client_post("/v1/licenses/actions/activate", json!({"key": "DASH-KEY-1", "fingerprint": "m-1"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);

        let browser = Browser::start(&server, "dashboard").await;
        browser.goto("/").await;
        assert_eq!(browser.path().await, "/console/sign-in", "a signed-out browser lands on the sign-in page");
        browser.shot("sign-in").await;
        // A wrong token is refused on the page.
        browser.fill("#token", "not-a-token-at-all-000").await;
        browser.click("#sign-in").await;
        assert!(browser.text("#error").await.contains("Invalid or revoked admin token"));
        browser.sign_in(ADMIN_TOKEN).await;
        assert_eq!(browser.path().await, "/console");
        assert_eq!(browser.text("#count-products").await, "1");
        assert_eq!(browser.text("#count-licences").await, "1");
        assert_eq!(browser.text("#count-active").await, "1");
        assert_eq!(browser.text("#count-devices").await, "1");
        assert!(browser.exists("#activity-chart").await, "the activity chart is drawn");
        assert!(browser.source().await.contains("license.activated"), "latest events list the activation");
        let shot = browser.shot("dashboard").await;
        if server.backend == Backend::Sqlite {
            // The README's picture of the dashboard.
            let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console-dashboard.png");
            if std::env::var_os("LICENSD_UPDATE_CONSOLE_SCREENSHOT").is_some() {
                std::fs::copy(&shot, docs).expect("copy dashboard screenshot");
            }
        }
        for (path, name) in [("/console/customers", "customers"), ("/console/signing-keys", "signing-keys"), ("/console/events", "events")] {
            browser.goto(path).await;
            assert!(!browser.exists("#error").await, "{path} shows no error");
            browser.shot(name).await;
        }
        browser.click("#sign-out").await;
        assert_eq!(browser.path().await, "/console/sign-in");
        browser.goto("/console").await;
        assert!(browser.path().await.starts_with("/console/sign-in"), "signed out: the dashboard needs a new sign-in");
        browser.close().await;
    }

    async fn console_dashboard_counts_validations_per_day(server) {
        let product = server.product("val").await;
        server.license(product, "VAL-KEY-1", json!({"max_activations": 3})).await;
        let (status, _, _, _) = server
            .client_post("/v1/licenses/actions/activate", json!({"key": "VAL-KEY-1", "fingerprint": "m-1"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        for _ in 0..3 {
            let (status, body, _, _) = server
                .client_post("/v1/licenses/actions/validate", json!({"key": "VAL-KEY-1", "fingerprint": "m-1"}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (_, session, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[]).await;
        let session = session.expect("signed in");
        let (status, page) = session.get("/console").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("id=\"validations-line\""), "the chart draws validations");
        assert!(page.contains(": 3 validations</title>"), "today's three validations: {page}");
        assert!(page.contains(": 1 activations</title>"), "and the activation");
        // Written once: a second look (nothing new pending) shows the same count, not double.
        let (_, page) = session.get("/console").await;
        assert!(page.contains(": 3 validations</title>"));
        let (status, _, _, _) = server
            .client_post("/v1/licenses/actions/validate", json!({"key": "VAL-KEY-1", "fingerprint": "m-1"}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, page) = session.get("/console").await;
        assert!(page.contains(": 4 validations</title>"));
    }

    async fn console_bulk_issue_job_page(server) {
        let product_id = server.product("bulkjob").await;
        let (_, session, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[]).await;
        let session = session.expect("signed in");
        let csrf = session.csrf().await;
        let product = product_id.to_string();
        let form = |count: &'static str| {
            vec![("csrf", csrf.clone()), ("count", count.to_string()), ("product_id", product.clone())]
        };
        let post = |fields: Vec<(&'static str, String)>| {
            let session = &session;
            async move {
                let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                session.post("/console/licenses/bulk", &pairs).await
            }
        };
        // Polls the job's page until it stops reloading itself; returns its status and page.
        let finish = |location: String| {
            let session = &session;
            async move {
                for _ in 0..600 {
                    let (status, page) = session.get(&location).await;
                    if !page.contains("http-equiv=\"refresh\"") {
                        return (status, page);
                    }
                    assert!(page.contains("<progress id=\"bulk-progress\">"), "a running job shows its progress: {page}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                panic!("the bulk-issue job never finished");
            }
        };
        let location_of = |page: &str| -> String {
            assert!(page.starts_with("/console/licenses/bulk/jobs/job_"), "redirected to the job: {page}");
            page.to_string()
        };
        // POST answers at once with the job's page.
        let answer = session
            .http
            .post(format!("{}/console/licenses/bulk", session.base))
            .header("cookie", format!("licensd_console={}", session.cookie))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form("40")).expect("form"))
            .send()
            .await
            .expect("post");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let location = location_of(answer.headers().get("location").and_then(|v| v.to_str().ok()).expect("location"));
        let (status, page) = finish(location.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("40 licences issued"), "{page}");
        assert!(page.contains("id=\"download-keys\""));
        let (_, listed) = server.admin(Method::GET, &format!("/v1/licenses?product_id={product_id}&limit=100"), None).await;
        assert_eq!(listed["data"].as_array().map(Vec::len), Some(40));
        // Another admin does not see this admin's job.
        let other = admin_token(&server, "other-admin", false).await;
        let (_, other_session, _) = PlainSession::sign_in(&server, &other, &[]).await;
        let (status, _) = other_session.expect("other admin").get(&location).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // A count over the server's limit: the job's page shows the handler's refusal, nothing issued.
        let events = event_count(&server).await;
        let answer = session
            .http
            .post(format!("{}/console/licenses/bulk", session.base))
            .header("cookie", format!("licensd_console={}", session.cookie))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form("100000000")).expect("form"))
            .send()
            .await
            .expect("post");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let location = location_of(answer.headers().get("location").and_then(|v| v.to_str().ok()).expect("location"));
        let (status, page) = finish(location).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
        assert!(page.contains("id=\"error\""));
        let (_, listed) = server.admin(Method::GET, &format!("/v1/licenses?product_id={product_id}&limit=100"), None).await;
        assert_eq!(listed["data"].as_array().map(Vec::len), Some(40));
        assert_eq!(event_count(&server).await, events);
        // A form the console refuses before any job (no count): on the form, nothing started.
        let (status, page) = post(form("")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("count is required"));
        // No CSRF token: refused.
        let (status, _) = session.post("/console/licenses/bulk", &[("count", "2"), ("product_id", product.as_str())]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(event_count(&server).await, events);
    }

    async fn console_product_licence_and_device(server) {
        let browser = Browser::start(&server, "licences").await;
        browser.sign_in(ADMIN_TOKEN).await;
        browser.goto("/console/products").await;
        browser.fill("#code", "desk").await;
        browser.fill("#name", "Desk App").await;
        browser.click("#create-product").await;
        assert!(browser.path().await.starts_with("/console/products/"));
        let (_, products) = server.admin(Method::GET, "/v1/products", None).await;
        assert_eq!(products["data"][0]["code"], "desk", "the product exists through the API too");
        let product_id = products["data"][0]["id"].as_i64().expect("id");
        // A policy on the product page, then its edit.
        browser.fill("#policy-code", "pro").await;
        browser.fill("#policy-name", "Pro").await;
        browser.fill("#policy-max", "2").await;
        browser.click("#create-policy").await;
        assert!(browser.text("#policies").await.contains("Pro"));
        browser.shot("product").await;
        // Issue a licence from the licences page.
        browser.goto("/console/licenses").await;
        browser.select("#new-product", &product_id.to_string()).await;
        browser.fill("#max_activations", "2").await;
        browser.fill("#order_ref", "ORDER-77").await;
        browser.click("#issue-licence").await;
        let path = browser.path().await;
        let licence_id: i64 = path.trim_start_matches("/console/licenses/").parse().expect("licence page");
        let key = browser.text("#licence-key").await;
        assert_eq!(browser.text("#max-activations").await, "2");
        // A client-API activation shows up as a device.
        let (status, body, _, _) = server
            .client_post("/v1/licenses/actions/activate", json!({"key": key, "fingerprint": "laptop-7", "hostname": "build-01"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        browser.goto(&format!("/console/licenses/{licence_id}")).await;
        let devices = browser.text("#devices").await;
        assert!(devices.contains("laptop-7") && devices.contains("build-01") && devices.contains("active"), "{devices}");
        browser.shot("licence").await;
        let (_, listed) = server.admin(Method::GET, &format!("/v1/licenses/{licence_id}/devices"), None).await;
        let device_id = listed[0]["id"].as_i64().expect("device id");
        browser.click(&format!("#deactivate-{device_id}")).await;
        assert!(browser.text(".notice").await.contains("Device deactivated"));
        assert!(browser.text("#devices").await.contains("deactivated"));
        let (_, device) = server.admin(Method::GET, &format!("/v1/devices/{device_id}"), None).await;
        assert!(device["deactivated_at"].is_i64(), "deactivated through the store: {device}");
        // Disable, and the search finds the licence by order reference and by key.
        browser.click("#disable").await;
        assert_eq!(browser.text("#licence-status").await, "disabled");
        browser.goto("/console/licenses?q=ORDER-77").await;
        assert!(browser.text("#licences").await.contains(&key));
        browser.goto(&format!("/console/licenses?q={key}")).await;
        assert!(browser.text("#licences").await.contains("ORDER-77"));
        browser.goto("/console/licenses?status=active").await;
        assert!(!browser.text("#licences").await.contains(&key), "the status filter leaves out the disabled licence");
        browser.shot("licences").await;
        browser.close().await;
    }

    async fn console_extend_expiry_and_reset_consumption(server) {
        let product_id = server.product("meter").await;
        let terms = json!({"license_type": "consumption", "consumption": {"max_consumptions": 10}});
        let licence_id = server.license(product_id, "METER-KEY-1", terms).await;
        let (status, body, _, _) = server
            .client_post("/v1/licenses/actions/consume", json!({"key": "METER-KEY-1", "amount": 3}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let browser = Browser::start(&server, "consumption").await;
        browser.sign_in(ADMIN_TOKEN).await;
        browser.goto(&format!("/console/licenses/{licence_id}")).await;
        assert_eq!(browser.text("#consumption").await, "3 of 10");
        browser.click("#reset-consumption").await;
        assert!(browser.text(".notice").await.contains("Consumption reset"));
        assert_eq!(browser.text("#consumption").await, "0 of 10");
        let (_, licence) = server.admin(Method::GET, &format!("/v1/licenses/{licence_id}"), None).await;
        assert_eq!(licence["consumption_used"], 0, "{licence}");
        // Extend the expiry (the date picker's value set as a user would pick it).
        browser
            .client
            .execute("document.getElementById('new-expiry').value = '2030-12-31';", vec![])
            .await
            .expect("set date");
        browser.click("#extend-button").await;
        assert!(browser.text("#licence-expires").await.starts_with("2030-12-31"));
        let (_, licence) = server.admin(Method::GET, &format!("/v1/licenses/{licence_id}"), None).await;
        assert_eq!(licence["expires_at"], 1_924_991_999_000_i64, "the end of 2030-12-31 UTC: {licence}");
        // The timeline shows both changes.
        let timeline = browser.source().await;
        assert!(timeline.contains("license.consumption_reset") && timeline.contains("license.updated"));
        browser.shot("consumption").await;
        browser.close().await;
    }

    async fn console_bulk_issue_and_download_keys(server) {
        let product_id = server.product("bulk").await;
        let browser = Browser::start(&server, "bulk").await;
        browser.sign_in(ADMIN_TOKEN).await;
        browser.goto("/console/licenses/bulk").await;
        browser.fill("#count", "25").await;
        browser.select("#new-product", &product_id.to_string()).await;
        browser.click("#bulk-issue").await;
        assert!(browser.path().await.starts_with("/console/licenses/bulk/jobs/"), "the job's progress page");
        browser.wait_for("#bulk-result").await;
        assert!(browser.text("#bulk-result").await.contains("25 licences issued"));
        browser.shot("bulk").await;
        let href = browser
            .client
            .find(fantoccini::Locator::Css("#download-keys"))
            .await
            .expect("download link")
            .attr("href")
            .await
            .expect("href")
            .expect("href value");
        let (status, csv) = browser.fetch(&href).await;
        assert_eq!(status, 200);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "id,key,product_id,status,expires_at");
        assert_eq!(lines.len(), 26, "{csv}");
        let (_, listed) = server.admin(Method::GET, &format!("/v1/licenses?product_id={product_id}&limit=100"), None).await;
        let keys: Vec<&str> = listed["data"].as_array().expect("licences").iter().filter_map(|l| l["key"].as_str()).collect();
        assert_eq!(keys.len(), 25);
        for key in keys {
            assert!(csv.contains(key), "the CSV holds every issued key");
        }
        browser.close().await;
    }

    async fn console_credentials_and_signing_keys(server) {
        let browser = Browser::start(&server, "credentials").await;
        browser.sign_in(ADMIN_TOKEN).await;
        browser.goto("/console/credentials").await;
        browser.fill("#cred-name", "storefront").await;
        browser.select("#dialect", "keymanager").await;
        browser.fill("#cred-ips", "192.0.2.0/24").await;
        browser.click("#create-credential").await;
        let secret = browser.text("#new-secret").await;
        assert!(secret.len() >= 32, "the secret is shown once: {secret}");
        browser.shot("credentials").await;
        let (_, listed) = server.admin(Method::GET, "/v1/credentials", None).await;
        let credential = &listed[0];
        assert_eq!(credential["ip_allowlist"], json!(["192.0.2.0/24"]));
        let id = credential["id"].as_i64().expect("id");
        browser.goto("/console/credentials").await;
        assert!(!browser.source().await.contains(&secret), "the secret is not shown again");
        browser.click(&format!("#revoke-{id}")).await;
        assert!(browser.text(&format!("#credential-{id} .state")).await.starts_with("revoked"));
        let (_, listed) = server.admin(Method::GET, "/v1/credentials", None).await;
        assert!(listed[0]["revoked_at"].is_i64(), "revoked through the store");
        // Signing keys: rotate Ed25519, the old key stays published.
        let (_, before) = server.admin(Method::GET, "/v1/signing-keys", None).await;
        browser.goto("/console/signing-keys").await;
        browser.select("#algorithm", "Ed25519").await;
        browser.click("#rotate-key").await;
        let (_, after) = server.admin(Method::GET, "/v1/signing-keys", None).await;
        assert_eq!(after["keys"].as_array().map(Vec::len), before["keys"].as_array().map(|k| k.len() + 1));
        let kid = after["keys"].as_array().expect("keys").iter().find(|k| k["active"] == true && k["algorithm"] == "Ed25519").expect("active key")["kid"].as_str().expect("kid").to_string();
        let (status, pem) = browser.fetch(&format!("/console/signing-keys/{kid}")).await;
        assert_eq!(status, 200);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
        // Key Manager API keys: created with their capabilities (the key shown once), revoked.
        browser.goto("/console/dialects/keymanager").await;
        browser.fill("#km-name", "shop-backend").await;
        browser.fill("#km-caps", "verify, activate").await;
        browser.click("#create-km-key").await;
        let api_key = browser.text("#new-api-key").await;
        assert!(api_key.contains('.'), "<key id>.<secret>: {api_key}");
        let (_, keys) = server.admin(Method::GET, "/v1/keymanager/api-keys", None).await;
        let key = keys.as_array().expect("keys").iter().find(|k| k["credential"]["name"] == "shop-backend").expect("created").clone();
        let caps: Vec<&str> = key["capabilities"].as_array().expect("caps").iter().filter_map(Value::as_str).collect();
        assert!(caps.contains(&"verify") && caps.contains(&"activate") && caps.len() == 2, "{key}");
        let km_id = key["credential"]["id"].as_i64().expect("id");
        assert!(browser.text("#km-keys").await.contains("shop-backend"));
        browser.shot("keymanager-keys").await;
        browser.click(&format!("#revoke-{km_id}")).await;
        assert!(browser.text(&format!("#credential-{km_id} .state")).await.starts_with("revoked"));
        browser.close().await;
    }

    async fn console_refusal_is_shown_and_changes_nothing(server) {
        server.product("taken").await;
        let browser = Browser::start(&server, "refusal").await;
        browser.sign_in(ADMIN_TOKEN).await;
        let events = event_count(&server).await;
        browser.goto("/console/products").await;
        browser.fill("#code", "taken").await;
        browser.fill("#name", "Duplicate").await;
        browser.click("#create-product").await;
        let error = browser.text("#error").await;
        assert!(error.contains("conflict"), "the refusal is shown: {error}");
        browser.shot("refusal").await;
        assert_eq!(product_count(&server).await, 1, "nothing was created");
        assert_eq!(event_count(&server).await, events, "no event was written");
        // A licence beyond the limits: the domain's refusal, the form stays.
        browser.goto("/console/licenses").await;
        browser.fill("#max_activations", "-1").await;
        browser.click("#issue-licence").await;
        assert!(browser.text("#error").await.contains("max_activations"));
        let (_, licences) = server.admin(Method::GET, "/v1/licenses", None).await;
        assert_eq!(licences["data"], json!([]));
        assert_eq!(event_count(&server).await, events);
        browser.close().await;
    }

    async fn console_post_without_csrf_is_refused(server) {
        let (status, session, cookie) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/console"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain HTTP: no Secure attribute");
        let session = session.expect("signed in");
        let events = event_count(&server).await;
        let (status, page) = session.post("/console/products", &[("code", "nocsrf"), ("name", "x"), ("auth_method", "key")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("CSRF"));
        let (status, _) = session
            .post("/console/products", &[("csrf", "forged"), ("code", "nocsrf"), ("name", "x"), ("auth_method", "key")])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(product_count(&server).await, 0);
        assert_eq!(event_count(&server).await, events);
        let csrf = session.csrf().await;
        let (status, _) = session
            .post("/console/products", &[("csrf", csrf.as_str()), ("code", "withcsrf"), ("name", "x"), ("auth_method", "key")])
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "the same form with the session's token is accepted");
        assert_eq!(product_count(&server).await, 1);
        // Behind a TLS proxy the cookie is Secure.
        let (_, _, cookie) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[("x-forwarded-proto", "https")]).await;
        assert!(cookie.contains("; Secure"), "{cookie}");
        // Sign-in attempts are limited per address (10 a minute).
        let mut last = StatusCode::OK;
        for _ in 0..10 {
            last = PlainSession::sign_in(&server, "wrong-token-0123456789", &[]).await.0;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
        let (status, session, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[]).await;
        assert_eq!((status, session.is_none()), (StatusCode::TOO_MANY_REQUESTS, true), "even the right token waits");
    }

    async fn console_read_only_token_changes_nothing(server) {
        let product_id = server.product("ro").await;
        let licence_id = server.license(product_id, "RO-KEY-1", json!({})).await;
        let token = admin_token(&server, "auditor", true).await;
        // The API refuses its writes too.
        let refused = server
            .http
            .post(server.url("/v1/products"))
            .bearer_auth(&token)
            .json(&json!({"code": "x", "name": "x"}))
            .send()
            .await
            .expect("request");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["error"]["code"], "read_only_token");
        let browser = Browser::start(&server, "read-only").await;
        browser.sign_in(&token).await;
        assert_eq!(browser.text("#read-only").await, "read-only");
        browser.goto("/console/products").await;
        assert!(browser.text("#products").await.contains("ro"), "it sees everything");
        assert!(!browser.exists("#new-product").await, "no create form");
        browser.goto(&format!("/console/licenses/{licence_id}")).await;
        assert!(!browser.exists("#disable").await && !browser.exists("#extend").await, "no actions");
        browser.shot("read-only-licence").await;
        browser.goto("/console/credentials").await;
        assert!(!browser.exists("#new-credential").await);
        browser.close().await;
        // A POST it forges with its own valid CSRF token is refused and changes nothing.
        let (_, session, _) = PlainSession::sign_in(&server, &token, &[]).await;
        let session = session.expect("read-only sign-in");
        let (_, html) = session.get(&format!("/console/licenses/{licence_id}")).await;
        let csrf = crate::console_browser::hidden(&html, "csrf").expect("csrf (sign-out form)");
        let events = event_count(&server).await;
        let (status, page) = session.post(&format!("/console/licenses/{licence_id}/disable"), &[("csrf", csrf.as_str())]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("read-only"));
        let (_, licence) = server.admin(Method::GET, &format!("/v1/licenses/{licence_id}"), None).await;
        assert_eq!(licence["status"], "active", "{licence}");
        assert_eq!(event_count(&server).await, events);
    }
}

/// Expiry needs a server with a short session lifetime.
async fn signed_out_after_expiry(backend: Backend) {
    let server = Server::start_fresh_with(backend, &[("--console-session-ttl", "2")]).await;
    let browser = Browser::start(&server, "expiry").await;
    browser.sign_in(ADMIN_TOKEN).await;
    assert_eq!(browser.path().await, "/console");
    let (_, plain, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[]).await;
    let plain = plain.expect("signed in over HTTP");
    assert_eq!(plain.get("/console/licenses").await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    // The browser drops the cookie at its Max-Age; the server refuses the session all the same
    // when a client keeps sending it.
    browser.goto("/console/licenses").await;
    assert!(
        browser.path().await.starts_with("/console/sign-in"),
        "signed out in the browser"
    );
    browser.shot("expired").await;
    let (status, location) = plain.get("/console/licenses").await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/console/sign-in?expired=1")
    );
    let (status, page) = plain.get("/console/sign-in?expired=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your session has ended"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_console_signed_out_after_expiry() {
    signed_out_after_expiry(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_console_signed_out_after_expiry() {
    signed_out_after_expiry(Backend::Postgres).await;
}

/// Two nodes on one PostgreSQL database know the same console sessions: signed in on one, the
/// other serves the pages and accepts the session's forms; signed out on one, both refuse it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_console_sessions_are_shared_by_nodes() {
    let database = crate::harness::PgDatabase::create().await;
    let master = licensd_crypto::MasterKey::generate().expect("master key").to_base64();
    let env = [("LICENSD_MASTER_KEY", master.as_str())];
    let first = Server::start_with(
        Backend::Postgres,
        tempfile::tempdir().unwrap(),
        Some(database.url.clone()),
        &env,
    )
    .await;
    let second = Server::start_with(
        Backend::Postgres,
        tempfile::tempdir().unwrap(),
        Some(database.url),
        &env,
    )
    .await;
    let (_, session, _) = PlainSession::sign_in(&first, ADMIN_TOKEN, &[]).await;
    let mut session = session.expect("signed in on the first node");
    let csrf = session.csrf().await;
    session.base = second.base.clone();
    let (status, page) = session.get("/console/products").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, _) = session
        .post(
            "/console/products",
            &[
                ("csrf", csrf.as_str()),
                ("code", "shared"),
                ("name", "Shared"),
                ("auth_method", "key"),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the second node accepts the first node's session and CSRF token"
    );
    assert_eq!(product_count(&first).await, 1);
    let (status, _) = session.post("/console/sign-out", &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    session.base = first.base.clone();
    let (status, location) = session.get("/console/products").await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/console/sign-in?expired=1")
    );
}

/// Posts the bulk-issue form; returns the job page's path it redirects to.
async fn start_bulk_job(session: &PlainSession, product_id: i64, count: usize) -> String {
    let csrf = session.csrf().await;
    let form = [
        ("csrf", csrf),
        ("count", count.to_string()),
        ("product_id", product_id.to_string()),
    ];
    let answer = session
        .http
        .post(format!("{}/console/licenses/bulk", session.base))
        .header("cookie", format!("licensd_console={}", session.cookie))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).expect("form"))
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    assert!(location.starts_with("/console/licenses/bulk/jobs/job_"), "{location}");
    location
}

/// Polls a job's page until it stops reloading itself; returns its status and page.
async fn finished_job(session: &PlainSession, location: &str) -> (StatusCode, String) {
    for _ in 0..1200 {
        let (status, page) = session.get(location).await;
        if !page.contains("http-equiv=\"refresh\"") {
            return (status, page);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the bulk-issue job never finished");
}

/// Bulk-issue jobs live in the database: node B shows the job node A ran and serves its keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_console_bulk_job_is_shown_by_another_node() {
    let database = crate::harness::PgDatabase::create().await;
    let master = licensd_crypto::MasterKey::generate().expect("master key").to_base64();
    let env = [("LICENSD_MASTER_KEY", master.as_str())];
    let a = Server::start_with(
        Backend::Postgres,
        tempfile::tempdir().unwrap(),
        Some(database.url.clone()),
        &env,
    )
    .await;
    let b = Server::start_with(
        Backend::Postgres,
        tempfile::tempdir().unwrap(),
        Some(database.url),
        &env,
    )
    .await;
    let product_id = a.product("twonodes").await;
    let (_, session, _) = PlainSession::sign_in(&a, ADMIN_TOKEN, &[]).await;
    let mut session = session.expect("signed in on node A");
    let location = start_bulk_job(&session, product_id, 30).await;
    session.base = b.base.clone();
    let (status, page) = finished_job(&session, &location).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("30 licences issued"), "node B shows node A's job: {page}");
    let csv_path = format!("{location}/keys.csv");
    let (status, csv) = session.get(&csv_path).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = b
        .admin(
            Method::GET,
            &format!("/v1/licenses?product_id={product_id}&limit=100"),
            None,
        )
        .await;
    let keys: Vec<&str> = listed["data"]
        .as_array()
        .expect("licences")
        .iter()
        .filter_map(|l| l["key"].as_str())
        .collect();
    assert_eq!(keys.len(), 30);
    assert_eq!(csv.lines().count(), 31, "{csv}");
    for key in keys {
        assert!(csv.contains(key), "node B's CSV holds every key");
    }
}

/// A job cut short by the server's end (SIGKILL) is shown failed after the restart, and not one
/// of its licences exists: the issue is one transaction.
async fn interrupted_bulk_job_is_failed(backend: Backend) {
    let extra = [("--max-bulk-licenses", "200000")];
    let server = Server::start_fresh_with(backend, &extra).await;
    let product_id = server.product("interrupted").await;
    let (_, session, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[]).await;
    let session = session.expect("signed in");
    let location = start_bulk_job(&session, product_id, 200_000).await;
    let (status, page) = session.get(&location).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Issuing 200000 licences"),
        "still running when the server stops: {page}"
    );
    let (data_dir, database_url) = server.stop();
    let server = Server::start_with(backend, data_dir, database_url, &extra).await;
    let (_, session, _) = PlainSession::sign_in(&server, ADMIN_TOKEN, &[]).await;
    let session = session.expect("signed in after the restart");
    let (status, page) = finished_job(&session, &location).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{page}");
    assert!(
        page.contains("interrupted") && page.contains("no licence was issued"),
        "{page}"
    );
    let (_, listed) = server.admin(Method::GET, "/v1/licenses?limit=10", None).await;
    assert_eq!(listed["data"], json!([]), "nothing half-issued");
    let (status, _) = session.get(&format!("{location}/keys.csv")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no keys for a failed job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_console_interrupted_bulk_job_is_failed() {
    interrupted_bulk_job_is_failed(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_console_interrupted_bulk_job_is_failed() {
    interrupted_bulk_job_is_failed(Backend::Postgres).await;
}
