//! At `--log debug` no licence key, API key, token or password reaches the log: request
//! targets are logged redacted (`licensd_server::redact`).

use crate::harness::{ADMIN_TOKEN, Backend, PgDatabase, binary};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const LICENSE_KEY: &str = "LOGSECRET-LICENSE-4711";
const KM_API_KEY: &str = "LOGSECRETKMAPIKEY0815";
const TOKEN: &str = "LOGSECRET-TOKEN-42";
const PASSWORD: &str = "LOGSECRET-PASSWORD-99";

async fn no_secret_in_debug_log(backend: Backend) {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let log_path = data_dir.path().join("stderr.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let mut command = Command::new(binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log", "debug", "--data-dir"])
        .arg(data_dir.path())
        .env("LICENSD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("LICENSD_LOG")
        .env_remove("LICENSD_DATABASE_URL")
        .env_remove("LICENSD_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
    if backend == Backend::Postgres {
        command.arg("--database-url").arg(PgDatabase::create().await.url);
    }
    let mut child = command.spawn().expect("spawn licensd");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("licensd: listening on ") {
                let _ = sender.send(address.to_string());
            }
        }
    });
    let base = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("listening address");
    let http = reqwest::Client::new();
    let targets = [
        format!("/api/v1/download/{KM_API_KEY}/{LICENSE_KEY}/host-1/1"),
        format!("/api/v4/check_license?license_key={LICENSE_KEY}&hardware_id=hw&product=p"),
        format!("/dna/v1/licenses/PROD/{LICENSE_KEY}"),
        format!(
            "/api/v2/isv/00000000-0000-0000-0000-000000000001/provisioning/licenses/offline?license_key={LICENSE_KEY}&token={TOKEN}&password={PASSWORD}"
        ),
        format!("/v1/licenses?key={LICENSE_KEY}&access_token={TOKEN}"),
    ];
    for target in &targets {
        let _ = http.get(format!("{base}{target}")).send().await.expect("request");
    }
    let _ = http
        .post(format!("{base}/api/v1/verify"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("api_key={KM_API_KEY}&license_key={LICENSE_KEY}&identifier=i"))
        .send()
        .await
        .expect("request");
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).expect("read log");
    assert!(
        log.contains("/api/v1/download/***/***/host-1/1"),
        "requests are logged at debug:\n{log}"
    );
    assert!(log.contains("license_key=***"), "{log}");
    // Store calls open debug spans carrying ids only: the one handed the admin token is logged,
    // the token is not (checked below).
    assert!(
        log.contains("bootstrap_admin_token"),
        "store spans are logged at debug:\n{log}"
    );
    for secret in [LICENSE_KEY, KM_API_KEY, TOKEN, PASSWORD, ADMIN_TOKEN] {
        let leaks: Vec<&str> = log.lines().filter(|line| line.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret} is in the log:\n{}", leaks.join("\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_debug_log_holds_no_secret() {
    no_secret_in_debug_log(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_debug_log_holds_no_secret() {
    no_secret_in_debug_log(Backend::Postgres).await;
}
