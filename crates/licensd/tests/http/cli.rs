//! The admin CLI against a real server (SQLite): human tables, `--json`, and the exit codes
//! scripts rely on (0 ok, 1 server/connection, 2 usage, 3 not found, 4 conflict, 5 invalid, 6 auth).

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::Command;

/// Runs the CLI with an explicit server and token (or none); returns exit code, stdout, stderr.
fn run_cli(server: &str, token: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(binary());
    command.arg("--server").arg(server);
    if let Some(token) = token {
        command.arg("--token").arg(token);
    }
    command
        .args(args)
        .env_remove("LICENSD_TOKEN")
        .env_remove("LICENSD_SERVER")
        .env_remove("LICENSD_USER_PASSWORD");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run licensd cli");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs the CLI and requires success; returns stdout.
#[track_caller]
fn ok(server: &Server, args: &[&str]) -> String {
    let (code, stdout, stderr) = server.cli(args);
    assert_eq!(code, 0, "licensd {args:?} failed: stdout {stdout:?} stderr {stderr:?}");
    stdout
}

/// Runs the CLI with `--json` and parses its output.
#[track_caller]
fn ok_json(server: &Server, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let stdout = ok(server, &all);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("licensd {args:?} printed invalid JSON ({e}): {stdout:?}"))
}

/// Table data rows (everything after the header line, minus a "(more: …)" footer).
fn rows(table: &str) -> Vec<&str> {
    table
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty() && !line.starts_with("(more"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_products_tables_and_json() {
    let server = Server::start(Backend::Sqlite).await;
    let created = ok(&server, &["product", "create", "app", "My App"]);
    assert!(
        created
            .lines()
            .any(|l| l.starts_with("CODE") && l.trim_end().ends_with("app")),
        "{created}"
    );
    assert!(
        created
            .lines()
            .any(|l| l.starts_with("NAME") && l.trim_end().ends_with("My App")),
        "{created}"
    );
    let created = ok_json(
        &server,
        &[
            "product",
            "create",
            "tool",
            "Tool",
            "--auth",
            "user",
            "--trial-days",
            "14",
        ],
    );
    assert_eq!(created["code"], "tool");
    assert_eq!(created["auth_method"], "user");
    assert_eq!(created["trial_allowed"], true);
    assert_eq!(created["trial_days"], 14);
    let tool_id = created["id"].as_i64().unwrap();

    let table = ok(&server, &["product", "list"]);
    let header = table.lines().next().unwrap_or_default();
    assert!(header.starts_with("ID  CODE  NAME"), "{table}");
    for column in ["AUTH", "STATUS", "CREATED"] {
        assert!(header.contains(column), "{header}");
    }
    let data = rows(&table);
    assert_eq!(data.len(), 2, "{table}");
    assert!(
        data[0].starts_with("1   app   My App") && data[0].contains("key") && data[0].contains("active"),
        "{table}"
    );
    // Instants render as RFC 3339.
    assert!(data[0].contains('T') && data[0].trim_end().ends_with('Z'), "{table}");

    let list = ok_json(&server, &["product", "list"]);
    let codes: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["app", "tool"]);
    assert_eq!(list["next_after"], Value::Null);
    // A full page says how to get the next one.
    let page = ok(&server, &["product", "list", "--limit", "1"]);
    assert_eq!(rows(&page).len(), 1, "{page}");
    assert!(page.trim_end().ends_with("(more: --after 1)"), "{page}");
    let page = ok_json(&server, &["product", "list", "--limit", "1", "--after", "1"]);
    assert_eq!(page["data"][0]["code"], "tool");

    let shown = ok_json(&server, &["product", "show", &tool_id.to_string()]);
    assert_eq!(shown["name"], "Tool");
    let updated = ok_json(
        &server,
        &[
            "product",
            "update",
            &tool_id.to_string(),
            "--name",
            "Tool 2",
            "--status",
            "disabled",
        ],
    );
    assert_eq!(updated["name"], "Tool 2");
    assert_eq!(updated["status"], "disabled");
    let out = ok(&server, &["product", "delete", &tool_id.to_string()]);
    assert_eq!(out, "");
    let (code, _, stderr) = server.cli(&["product", "show", &tool_id.to_string()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("not_found"), "{stderr}");

    // Features and policies through the CLI.
    let feature = ok_json(&server, &["feature", "create", "--product", "1", "pro", "Pro"]);
    assert_eq!(feature["code"], "pro");
    assert!(ok(&server, &["feature", "list", "--product", "1"]).contains("pro"));
    let policy = ok_json(
        &server,
        &[
            "policy",
            "create",
            "--product",
            "1",
            "std",
            "Standard",
            "--max-activations",
            "3",
            "--duration-days",
            "30",
        ],
    );
    assert_eq!(policy["terms"]["max_activations"], 3);
    assert_eq!(policy["duration_days"], 30);
    let policies = ok(&server, &["policy", "list"]);
    assert!(
        policies
            .lines()
            .next()
            .unwrap_or_default()
            .starts_with("ID  PRODUCT  CODE"),
        "{policies}"
    );
    assert_eq!(rows(&policies).len(), 1, "{policies}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_licenses_bulk_show_block_devices() {
    let server = Server::start(Backend::Sqlite).await;
    let product = server.product("app").await.to_string();

    let created = ok_json(
        &server,
        &[
            "license",
            "create",
            "--product",
            &product,
            "--key",
            "CLI-KEY-1",
            "--max-activations",
            "2",
            "--expires",
            "2099-01-01T00:00:00Z",
        ],
    );
    assert_eq!(created["key"], "CLI-KEY-1");
    assert_eq!(created["terms"]["max_activations"], 2);
    assert_eq!(created["expires_at"], 4_070_908_800_000i64);
    let id = created["id"].as_i64().unwrap().to_string();
    let generated = ok_json(&server, &["license", "create", "--product", &product]);
    assert!(generated["key"].as_str().is_some_and(|k| k.len() == 23), "{generated}");

    // Bulk: 30 keys in batches of 7, one per line.
    let out = ok(
        &server,
        &[
            "license",
            "bulk",
            "--count",
            "30",
            "--batch-size",
            "7",
            "--product",
            &product,
            "--prefix",
            "BULK-",
        ],
    );
    let keys: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(keys.len(), 30, "{out}");
    let distinct: HashSet<&str> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), 30, "bulk keys must be distinct");
    assert!(
        keys.iter()
            .all(|k| k.starts_with("BULK-") && k.len() == "BULK-".len() + 23),
        "{out}"
    );
    let (_, page) = server
        .admin(
            Method::GET,
            &format!("/v1/licenses?product_id={product}&limit=1000"),
            None,
        )
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 32);
    let events = ok_json(&server, &["events", "--subject-type", "license"]);
    let bulk_events = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "license.bulk_created")
        .count();
    assert_eq!(bulk_events, 5, "30 keys in batches of 7 are 5 requests");
    // Bulk to a file, with JSON output.
    let file = server.data_dir.path().join("keys.txt");
    let summary = ok_json(
        &server,
        &[
            "license",
            "bulk",
            "--count",
            "3",
            "--product",
            &product,
            "--uuid",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(summary["created"], 3);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written.lines().count(), 3);
    assert!(written.lines().all(|k| k.len() == 36), "{written}");

    // Devices.
    let (status, body, _, _) = server
        .client_post(
            "/v1/licenses/actions/activate",
            json!({"key": "CLI-KEY-1", "fingerprint": "cli-fp-1", "hostname": "box"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let devices = ok(&server, &["device", "list", &id]);
    assert!(
        devices
            .lines()
            .next()
            .unwrap_or_default()
            .starts_with("ID  FINGERPRINT"),
        "{devices}"
    );
    assert_eq!(rows(&devices).len(), 1, "{devices}");
    assert!(
        devices.contains("cli-fp-1") && devices.contains("box") && devices.contains("127.0.0.1"),
        "{devices}"
    );
    let device_id = body["device"]["id"].as_i64().unwrap().to_string();

    // Show: a record plus the devices table.
    let shown = ok(&server, &["license", "show", &id]);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("KEY") && l.trim_end().ends_with("CLI-KEY-1")),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("STATUS") && l.trim_end().ends_with("active")),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("MAX ACTIVATIONS") && l.trim_end().ends_with('2')),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("EXPIRES") && l.contains("2099-01-01T00:00:00")),
        "{shown}"
    );
    assert!(shown.contains("Devices:") && shown.contains("cli-fp-1"), "{shown}");

    let blocked = ok(&server, &["license", "block", &id]);
    assert!(blocked.contains("blocked"), "{blocked}");
    let detail = ok_json(&server, &["license", "show", &id]);
    assert_eq!(detail["status"], "blocked");
    assert_eq!(detail["devices"][0]["fingerprint"], "cli-fp-1");
    let listed = ok_json(&server, &["license", "list", "--status", "blocked"]);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["key"], "CLI-KEY-1");
    assert_eq!(ok_json(&server, &["license", "enable", &id])["status"], "active");
    assert_eq!(ok_json(&server, &["license", "disable", &id])["status"], "disabled");

    let deactivated = ok_json(&server, &["device", "deactivate", &device_id]);
    assert!(deactivated["deactivated_at"].is_i64(), "{deactivated}");
    let entry = ok_json(
        &server,
        &["device", "block", "evil-fp", "--product", &product, "--reason", "fraud"],
    );
    assert_eq!(entry["fingerprint"], "evil-fp");
    let blocked_list = ok(&server, &["device", "blocked"]);
    assert!(
        blocked_list.contains("evil-fp") && blocked_list.contains("fraud"),
        "{blocked_list}"
    );
    ok(&server, &["device", "unblock", &entry["id"].to_string()]);
    assert_eq!(rows(&ok(&server, &["device", "blocked"])).len(), 0);

    let generated_id = generated["id"].to_string();
    assert_eq!(ok(&server, &["license", "delete", &generated_id]), "");
    let (code, _, _) = server.cli(&["license", "show", &generated_id]);
    assert_eq!(code, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_people_credentials_tokens_keys() {
    let server = Server::start(Backend::Sqlite).await;
    let customer = ok_json(
        &server,
        &[
            "customer",
            "create",
            "--email",
            "buyer@example.com",
            "--company",
            "ACME",
        ],
    );
    assert_eq!(customer["email"], "buyer@example.com");
    let customers = ok(&server, &["customer", "list"]);
    assert!(
        customers.lines().next().unwrap_or_default().starts_with("ID  EMAIL"),
        "{customers}"
    );
    assert_eq!(rows(&customers).len(), 1, "{customers}");
    assert!(
        customers.contains("buyer@example.com") && customers.contains("ACME"),
        "{customers}"
    );
    let customer_id = customer["id"].to_string();
    assert_eq!(ok_json(&server, &["customer", "show", &customer_id])["company"], "ACME");

    // License users: the password comes from the environment and never comes back.
    let (code, stdout, stderr) = run_cli(
        &server.base,
        Some(ADMIN_TOKEN),
        &[
            "--json",
            "user",
            "create",
            "alice@example.com",
            "--customer",
            &customer_id,
            "--password-from-env",
        ],
        &[("LICENSD_USER_PASSWORD", "a very long password")],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.contains("password") && !stdout.contains("a very long"),
        "{stdout}"
    );
    let user: Value = serde_json::from_str(stdout.trim()).unwrap();
    let (code, _, stderr) = server.cli(&["user", "create", "bob@example.com", "--password-from-env"]);
    assert_eq!(code, 2, "missing LICENSD_USER_PASSWORD is a usage error: {stderr}");
    let users = ok(&server, &["user", "list", "--customer", &customer_id]);
    assert!(
        users.contains("alice@example.com") && !users.contains("password"),
        "{users}"
    );
    let product = server.product("app").await;
    let license = server.license(product, "USER-LIC", json!({})).await;
    assert_eq!(
        ok(
            &server,
            &["user", "assign", &license.to_string(), &user["id"].to_string()]
        ),
        ""
    );

    // Credentials: the secret is printed once, and only by create.
    let created = ok(
        &server,
        &[
            "credential",
            "create",
            "--dialect",
            "native",
            "sdk",
            "--allow-ip",
            "10.0.0.0/8",
            "--read-only",
        ],
    );
    let secret_line = created
        .lines()
        .find(|l| l.starts_with("secret (shown once)"))
        .unwrap_or_else(|| panic!("{created}"));
    let secret = secret_line.trim_start_matches("secret (shown once)").trim();
    assert!(secret.len() >= 16, "{created}");
    assert!(
        created.contains("10.0.0.0/8") && created.contains("native"),
        "{created}"
    );
    let credentials = ok(&server, &["credential", "list"]);
    assert!(
        credentials.contains("sdk") && !credentials.contains(secret),
        "{credentials}"
    );
    let json_created = ok_json(&server, &["credential", "create", "--dialect", "dna", "dna-app"]);
    assert!(json_created["secret"].as_str().is_some_and(|s| !s.is_empty()));
    let revoked = ok_json(
        &server,
        &["credential", "revoke", &json_created["credential"]["id"].to_string()],
    );
    assert!(revoked["revoked_at"].is_i64());
    let (code, _, stderr) = server.cli(&[
        "credential",
        "create",
        "--dialect",
        "native",
        "bad",
        "--allow-ip",
        "300.1.1.1",
    ]);
    assert_eq!(code, 5, "{stderr}");

    // Admin tokens: the new token works, then stops working when revoked.
    let created = ok(&server, &["token", "create", "ci-bot"]);
    let secret = created
        .lines()
        .find_map(|l| l.strip_prefix("secret (shown once)"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    let (code, stdout, stderr) = run_cli(&server.base, Some(&secret), &["--json", "product", "list"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(stdout.trim()).unwrap()["data"][0]["code"],
        "app"
    );
    let tokens = ok_json(&server, &["token", "list"]);
    let token_id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci-bot")
        .expect("token listed")["id"]
        .to_string();
    assert!(!tokens.to_string().contains(&secret));
    ok(&server, &["token", "revoke", &token_id]);
    let (code, _, stderr) = run_cli(&server.base, Some(&secret), &["product", "list"], &[]);
    assert_eq!(code, 6, "{stderr}");
    // A limited token: expiry, IP allow-list and read-only, shown by the list.
    ok(
        &server,
        &[
            "token",
            "create",
            "shop",
            "--read-only",
            "--expires-at",
            "2099-01-01T00:00:00Z",
            "--ip",
            "203.0.113.7",
            "--ip",
            "10.0.0.0/8",
        ],
    );
    let tokens = ok_json(&server, &["token", "list"]);
    let shop = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "shop")
        .expect("token listed");
    assert_eq!(
        (&shop["read_only"], &shop["expires_at"], &shop["ip_allowlist"]),
        (
            &json!(true),
            &json!(4_070_908_800_000_i64),
            &json!(["203.0.113.7", "10.0.0.0/8"])
        )
    );
    let listed = ok(&server, &["token", "list"]);
    assert!(
        listed.lines().next().unwrap_or_default().contains("EXPIRES"),
        "{listed}"
    );
    let (code, _, stderr) = server.cli(&["token", "create", "bad", "--expires-at", "tomorrow"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = server.cli(&["token", "create", "bad", "--ip", "300.1.1.1"]);
    assert_eq!(code, 5, "{stderr}");

    // Signing keys: a fresh server has two, one Ed25519.
    let keys = ok(&server, &["keys", "list"]);
    assert!(keys.lines().next().unwrap_or_default().starts_with("KID"), "{keys}");
    assert_eq!(rows(&keys).len(), 2, "{keys}");
    assert!(keys.contains("Ed25519"), "{keys}");
    let rotated = ok_json(&server, &["keys", "rotate", "Ed25519"]);
    assert_eq!(rotated.as_array().unwrap().len(), 3, "{rotated}");

    // The event log names who did what.
    let events = ok(&server, &["events", "--subject-type", "customer"]);
    assert!(
        events.contains("admin:bootstrap") && events.contains("customer.created"),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_exit_codes() {
    let server = Server::start(Backend::Sqlite).await;
    ok(&server, &["product", "create", "app", "App"]);

    // 3: not found.
    let (code, stdout, stderr) = server.cli(&["license", "show", "999999"]);
    assert_eq!(code, 3, "{stdout} {stderr}");
    assert!(stderr.contains("404") && stderr.contains("not_found"), "{stderr}");
    let (code, _, _) = server.cli(&["product", "delete", "999999"]);
    assert_eq!(code, 3);
    // 4: conflict.
    let (code, _, stderr) = server.cli(&["product", "create", "app", "Again"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("409") && stderr.contains("conflict"), "{stderr}");
    // 5: invalid input, or refused by a rule.
    let (code, _, stderr) = server.cli(&["product", "create", "bad code!", "Bad"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("422") && stderr.contains("invalid_body"), "{stderr}");
    let (code, _, stderr) = server.cli(&["license", "create", "--product", "1", "--max-activations=-1"]);
    assert_eq!(code, 5, "{stderr}");
    let (code, _, stderr) = server.cli(&["product", "list", "--limit", "0"]);
    assert_eq!(code, 5, "a 400 from the server is invalid input: {stderr}");
    let (code, _, stderr) = server.cli(&[
        "license",
        "bulk",
        "--count",
        "5",
        "--product",
        "1",
        "--chunks",
        "1",
        "--chunk-length",
        "4",
    ]);
    assert_eq!(code, 5, "{stderr}");
    // 6: authentication.
    let (code, _, stderr) = run_cli(&server.base, Some("wrong-token"), &["product", "list"], &[]);
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("401") && stderr.contains("unauthorized"), "{stderr}");
    let (code, _, stderr) = run_cli(&server.base, None, &["product", "list"], &[]);
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("no admin token"), "{stderr}");
    let (code, _, _) = run_cli(
        &server.base,
        None,
        &["product", "list"],
        &[("LICENSD_TOKEN", ADMIN_TOKEN)],
    );
    assert_eq!(code, 0, "LICENSD_TOKEN is read from the environment");
    // 1: the server cannot be reached.
    let (code, _, stderr) = run_cli("http://127.0.0.1:1", Some(ADMIN_TOKEN), &["product", "list"], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");
    // 2: usage errors, from clap and from the CLI's own checks.
    for args in [
        &["product", "frobnicate"][..],
        &["license", "show", "not-a-number"][..],
        &["product", "create", "only-code"][..],
        &["--no-such-flag", "product", "list"][..],
        &[][..],
    ] {
        let (code, stdout, stderr) = server.cli(args);
        assert_eq!(code, 2, "licensd {args:?}: {stdout} {stderr}");
    }
    for args in [
        &["license", "create", "--product", "1", "--terms", "{not json"][..],
        &["license", "create", "--product", "1", "--expires", "next tuesday"][..],
        &["license", "bulk", "--count", "0", "--product", "1"][..],
        &["license", "bulk", "--count", "3", "--batch-size", "0", "--product", "1"][..],
    ] {
        let (code, stdout, stderr) = server.cli(args);
        assert_eq!(code, 2, "licensd {args:?}: {stdout} {stderr}");
    }
    // Nothing above created anything beyond the first product.
    let list = ok_json(&server, &["product", "list"]);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let licenses = ok_json(&server, &["license", "list"]);
    assert_eq!(licenses["data"], json!([]));
}
