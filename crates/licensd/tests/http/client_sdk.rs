//! The Rust client SDK (crates/licensd-client) against the real server: the whole client API,
//! answers tampered with or replayed by a proxy, a foreign pinned key, licence files (issued by the client
//! route and the admin route, expired, bound to another device, clock set back, checked by the
//! independent Python verifier too) and the offline grace path.

use crate::harness::{Server, backend_tests};
use licensd_client::{Client, ClientConfig, ClientError, Denial, DeviceDetails, LicenceFileError, Source};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FINGERPRINT: &str = "sdk-machine-0001";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The server's active Ed25519 public key (PEM).
async fn server_pem(server: &Server) -> String {
    let keys: Value = server
        .http
        .get(server.url("/v1/signing-keys"))
        .send()
        .await
        .expect("keys")
        .json()
        .await
        .expect("keys json");
    keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["algorithm"] == "Ed25519" && k["active"] == json!(true))
        .and_then(|k| k["pem"].as_str())
        .expect("active Ed25519 key")
        .to_string()
}

fn config(base: &str, key: &str, fingerprint: &str, pem: &str) -> ClientConfig {
    ClientConfig::new(base, key, fingerprint)
        .trust_pem(pem)
        .expect("pem")
        .timeout(Duration::from_secs(5))
}

fn client(config: ClientConfig) -> Client {
    Client::new(config).expect("client")
}

fn denial(result: Result<impl std::fmt::Debug, ClientError>) -> Denial {
    match result {
        Err(ClientError::Denied { denial, .. }) => denial,
        other => panic!("expected a denial, got {other:?}"),
    }
}

// --- a proxy that can change one byte of every answer ------------------------------------------

/// An HTTP/1.1 message: head (with the blank line) and body.
type Message = (Vec<u8>, Vec<u8>);

/// Reads one HTTP/1.1 message (headers and a Content-Length body) from `stream`.
async fn read_message(stream: &mut TcpStream) -> Option<Message> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer.split_off(head_end);
    Some((buffer, body))
}

/// Forwards each request to `upstream`; while `tamper` is set, the last ASCII digit of every
/// answer body is changed (the JSON stays valid, only the signature can tell). One request per
/// connection.
async fn start_proxy(upstream: String, tamper: Arc<AtomicBool>, replay: Arc<AtomicBool>) -> String {
    // The last untouched answer, for replaying.
    let recorded: Arc<std::sync::Mutex<Option<Message>>> = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let address = listener.local_addr().expect("proxy address");
    tokio::spawn(async move {
        while let Ok((mut downstream, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let tamper = tamper.clone();
            let replay = replay.clone();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let Some((head, body)) = read_message(&mut downstream).await else {
                    return;
                };
                let Ok(mut server) = TcpStream::connect(upstream.trim_start_matches("http://")).await else {
                    return;
                };
                if server.write_all(&head).await.is_err() || server.write_all(&body).await.is_err() {
                    return;
                }
                let Some((mut head, mut body)) = read_message(&mut server).await else {
                    return;
                };
                if replay.load(Ordering::SeqCst) {
                    if let Some((old_head, old_body)) = recorded.lock().expect("recorded").clone() {
                        (head, body) = (old_head, old_body);
                    }
                } else {
                    *recorded.lock().expect("recorded") = Some((head.clone(), body.clone()));
                }
                if tamper.load(Ordering::SeqCst)
                    && let Some(at) = body.iter().rposition(u8::is_ascii_digit)
                {
                    body[at] = if body[at] == b'9' { b'8' } else { body[at] + 1 };
                }
                // Close after one answer, and say so.
                let head = String::from_utf8_lossy(&head).replacen("\r\n", "\r\nconnection: close\r\n", 1);
                let _ = downstream.write_all(head.as_bytes()).await;
                let _ = downstream.write_all(&body).await;
                let _ = downstream.shutdown().await;
            });
        }
    });
    format!("http://{address}")
}

fn run_python_verifier(cases: &Path, pems: &[&Path]) -> (bool, String) {
    let python = std::env::var("LICENSD_INTEROP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "LICENSD_INTEROP_PYTHON is not set: run scripts/test (install_interop_deps installs Python cryptography)"
        )
    });
    let output = std::process::Command::new(python)
        .arg(repo_root().join("tests/interop/licence-file/verify_licence_file.py"))
        .arg(cases)
        .args(pems)
        .output()
        .expect("run python verifier");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

backend_tests! {
    async fn sdk_drives_the_whole_client_api(server) {
        let pem = server_pem(&server).await;
        let product = server.product("sdk-app").await;
        server.license(product, "SDK-KEY-0001", json!({"max_activations": 1})).await;
        server.license(product, "SDK-CONS-0001", json!({"license_type": "consumption", "consumption": {"max_consumptions": 10}})).await;
        server.license(product, "SDK-FLOAT-0001", json!({"max_activations": null, "floating": {"seats": 1, "lease_seconds": 600}})).await;

        let sdk = client(config(&server.base, "SDK-KEY-0001", FINGERPRINT, &pem).product("sdk-app"));
        assert_eq!(denial(sdk.validate().await), Denial::DeviceNotActivated);
        let activation = sdk.activate(&DeviceDetails { hostname: Some("build-01".into()), ..DeviceDetails::default() }).await.expect("activate");
        assert!(activation.newly_activated);
        assert_eq!(activation.device.fingerprint, FINGERPRINT);
        assert_eq!(activation.device.hostname.as_deref(), Some("build-01"));
        assert!(!sdk.activate(&DeviceDetails::default()).await.expect("again").newly_activated);
        let validation = sdk.validate().await.expect("valid");
        assert_eq!(validation.source, Source::Online);
        assert_eq!(validation.license.product, "sdk-app");
        assert_eq!(validation.license.active_devices, 1);
        // The activation limit is a signed denial with its domain code.
        let other = client(config(&server.base, "SDK-KEY-0001", "second-machine", &pem));
        assert_eq!(denial(other.activate(&DeviceDetails::default()).await), Denial::ActivationLimitReached);
        // Another product code: the licence is not found for it.
        let wrong_product = client(config(&server.base, "SDK-KEY-0001", FINGERPRINT, &pem).product("other-app"));
        assert_eq!(denial(wrong_product.validate().await), Denial::LicenseNotFound);
        let unknown = client(config(&server.base, "NO-SUCH-KEY", FINGERPRINT, &pem));
        match unknown.activate(&DeviceDetails::default()).await {
            Err(ClientError::Denied { denial: Denial::LicenseNotFound, status: 404, .. }) => {}
            other => panic!("{other:?}"),
        }

        let meter = client(config(&server.base, "SDK-CONS-0001", FINGERPRINT, &pem));
        let first = meter.consume(3, None, Some("job-1")).await.expect("consume");
        assert_eq!((first.total, first.replayed), (3, false));
        let replay = meter.consume(3, None, Some("job-1")).await.expect("replay");
        assert_eq!((replay.total, replay.replayed), (3, true));
        assert_eq!(denial(meter.consume(8, None, None).await), Denial::ConsumptionLimitReached);

        let seat = client(config(&server.base, "SDK-FLOAT-0001", FINGERPRINT, &pem));
        let lease = seat.checkout(None).await.expect("checkout");
        assert_eq!(lease.fingerprint, FINGERPRINT);
        let renewed = seat.heartbeat().await.expect("heartbeat");
        assert_eq!(renewed.id, lease.id);
        assert!(renewed.expires_at >= lease.expires_at);
        let rival = client(config(&server.base, "SDK-FLOAT-0001", "rival-machine", &pem));
        assert_eq!(denial(rival.checkout(None).await), Denial::FloatingSeatsExhausted);
        seat.release().await.expect("release");
        rival.checkout(None).await.expect("the released seat is free");

        // The blocking wrapper, from a thread outside the runtime.
        let blocking_config = config(&server.base, "SDK-KEY-0001", FINGERPRINT, &pem);
        let blocking = std::thread::spawn(move || {
            let sdk = licensd_client::blocking::Client::new(blocking_config).expect("blocking client");
            let valid = sdk.validate().expect("blocking validate");
            sdk.deactivate().expect("blocking deactivate");
            (valid.license.product, sdk.validate().map(|_| ()))
        })
        .join()
        .expect("thread");
        assert_eq!(blocking.0, "sdk-app");
        assert_eq!(denial(blocking.1), Denial::DeviceNotActivated);
    }

    async fn sdk_refuses_tampered_answers_and_foreign_keys(server) {
        let pem = server_pem(&server).await;
        let product = server.product("sdk-tamper").await;
        server.license(product, "SDK-TAMPER-0001", json!({"max_activations": 2})).await;
        let tamper = Arc::new(AtomicBool::new(false));
        let replay = Arc::new(AtomicBool::new(false));
        let proxy = start_proxy(server.base.clone(), tamper.clone(), replay.clone()).await;
        let cache = tempfile::tempdir().expect("cache dir");
        let sdk = client(config(&proxy, "SDK-TAMPER-0001", FINGERPRINT, &pem).cache_dir(cache.path()));

        // Untouched, the proxy is transparent.
        sdk.activate(&DeviceDetails::default()).await.expect("activate through the proxy");
        sdk.validate().await.expect("validate through the proxy");

        // An older signed answer replayed in place of the fresh one: its nonce gives it away.
        replay.store(true, Ordering::SeqCst);
        assert!(matches!(sdk.validate().await, Err(ClientError::NonceMismatch)));
        replay.store(false, Ordering::SeqCst);
        sdk.validate().await.expect("fresh answers are accepted again");

        // One byte changed: every answer is refused, and the cache does not stand in for it.
        tamper.store(true, Ordering::SeqCst);
        assert!(matches!(sdk.validate().await, Err(ClientError::BadSignature)), "validate");
        assert!(matches!(sdk.activate(&DeviceDetails::default()).await, Err(ClientError::BadSignature)));
        assert!(matches!(sdk.checkout_licence_file(None, false).await, Err(ClientError::BadSignature)));
        assert!(matches!(sdk.deactivate().await, Err(ClientError::BadSignature)));
        tamper.store(false, Ordering::SeqCst);
        // The tampered deactivation was refused by the client, but the server did deactivate:
        // what the client refused is the answer, not the request.
        assert_eq!(denial(sdk.validate().await), Denial::DeviceNotActivated);

        // A client that pins another key trusts nothing this server says.
        let foreign = licensd_crypto::SigningKey::generate(licensd_crypto::Algorithm::Ed25519).expect("key");
        let stranger = client(ClientConfig::new(&server.base, "SDK-TAMPER-0001", FINGERPRINT).trust_key(foreign.public_key()));
        match stranger.activate(&DeviceDetails::default()).await {
            Err(ClientError::UntrustedKey(kid)) => assert_ne!(kid, foreign.kid()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(stranger.validate().await, Err(ClientError::UntrustedKey(_))));
        // A licence file signed by the server is refused by that client, offline as well.
        let file = sdk.checkout_licence_file(None, false).await.expect("file");
        assert!(matches!(
            stranger.verify_licence_file(&file.file),
            Err(ClientError::LicenceFile(LicenceFileError::UntrustedKey(_)))
        ));
    }

    async fn licence_files_are_issued_bound_and_expire(server) {
        let pem = server_pem(&server).await;
        let product = server.product("sdk-files").await;
        let feature = server
            .admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "export", "name": "Export"})))
            .await;
        assert_eq!(feature.0, StatusCode::CREATED, "{}", feature.1);
        let (status, body) = server
            .admin(Method::POST, "/v1/licenses", Some(json!({
                "product_id": product, "key": "SDK-FILE-0001", "features": [{"code": "export"}],
                "terms": {"max_activations": 2}, "metadata": {"edition": "pro"}
            })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let license_id = body["id"].as_i64().expect("id");
        let sdk = client(config(&server.base, "SDK-FILE-0001", FINGERPRINT, &pem));

        // Not activated yet: refused by the client route and the admin route alike.
        assert_eq!(denial(sdk.checkout_licence_file(None, false).await), Denial::DeviceNotActivated);
        let (status, body) = server
            .admin(Method::POST, &format!("/v1/licenses/{license_id}/license-file"), Some(json!({"fingerprint": FINGERPRINT})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "DEVICE_NOT_ACTIVATED");

        sdk.activate(&DeviceDetails::default()).await.expect("activate");
        let before = now_ms();
        let issued = sdk.checkout_licence_file(None, false).await.expect("file");
        assert!(!issued.encrypted);
        assert!(issued.issued_at >= before - 1000 && issued.issued_at <= now_ms());
        assert_eq!(issued.expires_at, issued.issued_at + 30 * 86_400_000);
        let file = sdk.verify_licence_file(&issued.file).expect("verifies offline");
        assert_eq!(file.contents.fingerprint, FINGERPRINT);
        assert_eq!(file.contents.license.id, license_id);
        assert_eq!(file.contents.license.product, "sdk-files");
        assert_eq!(file.contents.license.metadata["edition"], "pro");
        assert_eq!(file.contents.features.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(), ["export"]);

        // Encrypted: only the licence key opens it.
        let sealed = sdk.checkout_licence_file(Some(3600), true).await.expect("encrypted file");
        assert!(sealed.encrypted);
        assert!(!sealed.file.contains(&licensd_crypto::b64(FINGERPRINT.as_bytes())[..12]));
        assert_eq!(sdk.verify_licence_file(&sealed.file).expect("opens").contents.fingerprint, FINGERPRINT);
        let wrong_key = client(config(&server.base, "SDK-FILE-9999", FINGERPRINT, &pem));
        assert!(matches!(wrong_key.verify_licence_file(&sealed.file), Err(ClientError::LicenceFile(LicenceFileError::Decrypt))));

        // Another machine cannot use it.
        let elsewhere = client(config(&server.base, "SDK-FILE-0001", "another-machine", &pem));
        assert!(matches!(
            elsewhere.verify_licence_file(&issued.file),
            Err(ClientError::LicenceFile(LicenceFileError::FingerprintMismatch))
        ));

        // The admin route: a one-minute file, expired a minute later.
        let (status, body) = server
            .admin(Method::POST, &format!("/v1/licenses/{license_id}/license-file"), Some(json!({"fingerprint": FINGERPRINT, "ttl_seconds": 60})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["code"], "ISSUED");
        let short = body["file"].as_str().expect("file").to_string();
        assert_eq!(body["expires_at"].as_i64(), body["issued_at"].as_i64().map(|at| at + 60_000));
        let later = client(config(&server.base, "SDK-FILE-0001", FINGERPRINT, &pem).clock(|| now_ms() + 61_000));
        assert!(matches!(later.verify_licence_file(&short), Err(ClientError::LicenceFile(LicenceFileError::Expired))));
        assert!(sdk.verify_licence_file(&short).is_ok());

        // The clock set back behind the last time seen (kept in the cache directory).
        let cache = tempfile::tempdir().expect("cache");
        let ahead = client(config(&server.base, "SDK-FILE-0001", FINGERPRINT, &pem).cache_dir(cache.path()).clock(|| now_ms() + 3_600_000));
        ahead.verify_licence_file(&issued.file).expect("seen an hour ahead");
        let back = client(config(&server.base, "SDK-FILE-0001", FINGERPRINT, &pem).cache_dir(cache.path()));
        assert!(matches!(back.verify_licence_file(&issued.file), Err(ClientError::LicenceFile(LicenceFileError::ClockRolledBack))));

        // Bad input and unknown licences.
        let (status, body) = server
            .admin(Method::POST, &format!("/v1/licenses/{license_id}/license-file"), Some(json!({"fingerprint": FINGERPRINT, "ttl_seconds": 5})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, _) = server
            .admin(Method::POST, "/v1/licenses/999999/license-file", Some(json!({"fingerprint": FINGERPRINT})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server
            .admin(Method::POST, &format!("/v1/licenses/{license_id}/license-file"), Some(json!({"fingerprint": FINGERPRINT, "extra": 1})))
            .await;
        assert!(status.is_client_error());
        let (status, body, headers, bytes) = server
            .client_post("/v1/licenses/actions/checkout-file", json!({"key": "SDK-FILE-0001", "fingerprint": FINGERPRINT, "ttl_seconds": 400_000_000}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        crate::harness::verify_signature(&server, &headers, &bytes).await;

        // The independent Python verifier agrees, on these files and on the golden vectors.
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("key.pem"), &pem).expect("pem");
        std::fs::write(dir.path().join("issued.lic"), &issued.file).expect("file");
        std::fs::write(dir.path().join("sealed.lic"), &sealed.file).expect("file");
        std::fs::write(dir.path().join("short.lic"), &short).expect("file");
        let now = now_ms();
        let cases = json!([
            {"name": "issued", "file": "issued.lic", "fingerprint": FINGERPRINT, "now": now, "last_seen": null, "licence_key": null, "expect": "ok"},
            {"name": "sealed", "file": "sealed.lic", "fingerprint": FINGERPRINT, "now": now, "last_seen": null, "licence_key": "SDK-FILE-0001", "expect": "ok"},
            {"name": "sealed, no key", "file": "sealed.lic", "fingerprint": FINGERPRINT, "now": now, "last_seen": null, "licence_key": null, "expect": "key_required"},
            {"name": "elsewhere", "file": "issued.lic", "fingerprint": "another-machine", "now": now, "last_seen": null, "licence_key": null, "expect": "fingerprint_mismatch"},
            {"name": "short, later", "file": "short.lic", "fingerprint": FINGERPRINT, "now": now + 61_000, "last_seen": null, "licence_key": null, "expect": "expired"},
            {"name": "clock back", "file": "issued.lic", "fingerprint": FINGERPRINT, "now": now, "last_seen": now + 3_600_000, "licence_key": null, "expect": "clock_rolled_back"},
        ]);
        std::fs::write(dir.path().join("cases.json"), cases.to_string()).expect("cases");
        let (ok, output) = run_python_verifier(&dir.path().join("cases.json"), &[&dir.path().join("key.pem")]);
        assert!(ok && output.contains("checked 6 cases, 0 mismatches"), "{output}");
        let vectors = repo_root().join("testdata/licence-file");
        let (ok, output) = run_python_verifier(&vectors.join("cases.json"), &[&vectors.join("public-key.pem")]);
        assert!(ok && output.contains("checked 11 cases, 0 mismatches"), "{output}");
    }

    async fn sdk_falls_back_to_the_cached_answer_within_the_grace_period(server) {
        let pem = server_pem(&server).await;
        let product = server.product("sdk-offline").await;
        server.license(product, "SDK-OFFLINE-0001", json!({"max_activations": 1})).await;
        let cache = tempfile::tempdir().expect("cache dir");
        let online_config = config(&server.base, "SDK-OFFLINE-0001", FINGERPRINT, &pem).cache_dir(cache.path());
        let sdk = client(online_config.clone());
        sdk.activate(&DeviceDetails::default()).await.expect("activate");
        let online = sdk.validate().await.expect("online");
        assert_eq!(online.source, Source::Online);

        // The server goes away.
        let backend = server.backend;
        let (data_dir, database_url) = server.stop();
        let offline = sdk.validate().await.expect("cached answer stands in");
        assert_eq!(offline.source, Source::Cached);
        assert_eq!(offline.checked_at, online.checked_at);
        assert_eq!(offline.license, online.license);
        // Past the grace period the cache no longer counts.
        let past_grace = client(online_config.clone().offline_grace(Duration::from_secs(3600)).clock(|| now_ms() + 3_601_000 + 1_000));
        assert!(matches!(past_grace.validate().await, Err(ClientError::GraceExpired { .. })));
        let within = client(online_config.clone().offline_grace(Duration::from_secs(3600)).clock(|| now_ms() + 1_800_000));
        assert_eq!(within.validate().await.expect("within grace").source, Source::Cached);
        // That moved "last seen" half an hour ahead: now the real clock looks set back.
        assert!(matches!(sdk.validate().await, Err(ClientError::ClockRolledBack)));
        // Without a cache there is nothing to fall back on; a changed cache is refused.
        let no_cache = client(config(&online_config.server, "SDK-OFFLINE-0001", FINGERPRINT, &pem));
        assert!(matches!(no_cache.validate().await, Err(ClientError::Unreachable(_))));
        let cache_file = std::fs::read_dir(cache.path())
            .expect("cache dir")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.to_string_lossy().contains("licensd-validation-"))
            .expect("cached validation");
        let original = std::fs::read_to_string(&cache_file).expect("cache");
        let mut cached: Value = serde_json::from_str(&original).expect("json");
        let mut body = licensd_crypto::b64_decode(cached["body"].as_str().expect("body")).expect("b64");
        let at = body.iter().rposition(u8::is_ascii_digit).expect("digit");
        body[at] = if body[at] == b'9' { b'8' } else { body[at] + 1 };
        cached["body"] = json!(licensd_crypto::b64(&body));
        std::fs::write(&cache_file, cached.to_string()).expect("write");
        let future = client(online_config.clone().clock(|| now_ms() + 1_900_000));
        assert!(matches!(future.validate().await, Err(ClientError::BadSignature)));
        std::fs::write(&cache_file, &original).expect("restore");
        assert_eq!(future.validate().await.expect("restored").source, Source::Cached);

        // Back online: a signed refusal removes the cached answer, so it cannot be used offline.
        let server = Server::start_with(backend, data_dir, database_url, &[]).await;
        let config_again = config(&server.base, "SDK-OFFLINE-0001", FINGERPRINT, &pem)
            .cache_dir(cache.path())
            .clock(|| now_ms() + 2_000_000);
        let again = client(config_again.clone());
        assert_eq!(again.validate().await.expect("online again").source, Source::Online);
        again.deactivate().await.expect("deactivate");
        assert_eq!(denial(again.validate().await), Denial::DeviceNotActivated);
        drop(server);
        assert!(matches!(again.validate().await, Err(ClientError::Unreachable(_))));
    }
}
