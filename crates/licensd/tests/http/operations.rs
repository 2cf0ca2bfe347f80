//! Operating licensd: `licensd backup` of a live SQLite database.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs `licensd backup` with the given arguments; returns exit code, stdout, stderr.
fn run_backup(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let output = Command::new(binary())
        .arg("backup")
        .args(args)
        .env_remove("LICENSD_DATABASE_URL")
        .env_remove("LICENSD_DATA_DIR")
        .env_remove("LICENSD_CONFIG")
        .output()
        .expect("run licensd backup");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A validation verdict without what legitimately differs between two answers given at two
/// moments (timestamps, the server's nonce echo).
fn verdict(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !key.ends_with("_at") && !matches!(key.as_str(), "now" | "timestamp" | "nonce"))
                .map(|(key, value)| (key.clone(), verdict(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(verdict).collect()),
        other => other.clone(),
    }
}

async fn validate(server: &Server, key: &str, fingerprint: &str) -> Value {
    let (status, body, _, _) = server
        .client_post(
            "/v1/licenses/actions/validate",
            json!({"key": key, "fingerprint": fingerprint}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_backup_of_a_live_server_restores_every_acknowledged_write() {
    let server = Arc::new(Server::start(Backend::Sqlite).await);
    let product = server.product("BACKUP").await;

    // A writer creates and activates licences for as long as the test lets it; a licence is
    // "acknowledged" once both its creation and its activation have been answered.
    let acknowledged = Arc::new(Mutex::new(Vec::<usize>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (server, acknowledged, stop) = (server.clone(), acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let key = format!("LIVE-{i}");
                server.license(product, &key, json!({"max_activations": 3})).await;
                let (status, body, _, _) = server
                    .client_post(
                        "/v1/licenses/actions/activate",
                        json!({"key": key, "fingerprint": format!("fp-{i}")}),
                    )
                    .await;
                assert!(status.is_success(), "{status} {body}");
                acknowledged.lock().expect("lock").push(i);
                i += 1;
            }
            i
        })
    };
    while acknowledged.lock().expect("lock").len() < 5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = out_dir.path().join("licensd.db");
    let before = acknowledged.lock().expect("lock").len();
    let (code, stdout, stderr) = {
        let (data_dir, out) = (server.data_dir.path().to_owned(), out.clone());
        tokio::task::spawn_blocking(move || {
            run_backup(&[
                "--data-dir".as_ref(),
                data_dir.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
            ])
        })
        .await
        .expect("backup thread")
    };
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("To restore"), "{stdout}");
    assert!(stdout.contains("master key"), "{stdout}");
    // Writes went on during the backup and after it.
    let target = acknowledged.lock().expect("lock").len() + 3;
    while acknowledged.lock().expect("lock").len() < target {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let written = writer.await.expect("writer");
    assert!(written > before);

    // A second server on the copy (with the same master key) while the first keeps running.
    std::fs::copy(
        server.data_dir.path().join("master.key"),
        out_dir.path().join("master.key"),
    )
    .expect("copy master key");
    let restored = Server::start_with(Backend::Sqlite, out_dir, None, &[]).await;
    for i in 0..before {
        let (key, fingerprint) = (format!("LIVE-{i}"), format!("fp-{i}"));
        let live = validate(&server, &key, &fingerprint).await;
        let copy = validate(&restored, &key, &fingerprint).await;
        assert_eq!(
            verdict(&copy),
            verdict(&live),
            "licence {key} answers differently after restore"
        );
        assert_eq!(live["code"], copy["code"]);
    }
    // The copy is a usable database: the restored server accepts writes of its own.
    let copied = restored.product("AFTER-RESTORE").await;
    assert!(copied > 0);

    // An existing file is never overwritten.
    let again = restored.data_dir.path().join("licensd.db");
    let size = std::fs::metadata(&again).expect("backup file").len();
    let (code, _, stderr) = run_backup(&[
        "--data-dir".as_ref(),
        server.data_dir.path().as_os_str(),
        "--out".as_ref(),
        again.as_os_str(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::metadata(&again).expect("backup file").len(), size);
    let (status, _) = restored
        .admin(Method::GET, &format!("/v1/products/{copied}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_backup_is_refused_with_a_pointer_to_pg_dump() {
    let server = Server::start(Backend::Postgres).await;
    let url = server.database_url.clone().expect("postgres url");
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = out_dir.path().join("backup.db");
    let (code, stdout, stderr) = run_backup(&[
        "--database-url".as_ref(),
        url.as_ref(),
        "--data-dir".as_ref(),
        server.data_dir.path().as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!out.exists(), "nothing is written for PostgreSQL");
}
