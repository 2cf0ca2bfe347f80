//! A vendor application's licence check, ready to copy: activate on first run, validate at every
//! start, fall back to the cached signed answer when the server cannot be reached.
//!
//! ```sh
//! LICENSD_SERVER=http://127.0.0.1:8080 LICENSD_LICENCE_KEY=ABCD-1234 \
//! LICENSD_PUBLIC_KEY=server-ed25519.pem cargo run -p licensd-client --example vendor_app
//! ```
//!
//! `LICENSD_PUBLIC_KEY` is the server's Ed25519 public key (PEM, from `GET /v1/signing-keys`);
//! a real application compiles it in with `include_str!`. `LICENSD_CACHE_DIR` (default
//! `./vendor-app-licence`) holds the offline cache.

use licensd_client::blocking::Client;
use licensd_client::{ClientConfig, ClientError, Denial, DeviceDetails, Source, machine_fingerprint};
use std::process::ExitCode;
use std::time::Duration;

/// Picked once per product and never changed: it keys the machine fingerprint.
const APP_SALT: &[u8] = b"com.example.vendor-app/licence";

fn env(name: &str) -> Result<String, ClientError> {
    std::env::var(name).map_err(|_| ClientError::Config(format!("set {name}")))
}

fn client() -> Result<Client, ClientError> {
    let pem = std::fs::read_to_string(env("LICENSD_PUBLIC_KEY")?)
        .map_err(|e| ClientError::Config(format!("LICENSD_PUBLIC_KEY: {e}")))?;
    let fingerprint = match std::env::var("LICENSD_FINGERPRINT") {
        Ok(fingerprint) => fingerprint,
        Err(_) => machine_fingerprint(APP_SALT)?,
    };
    let cache = std::env::var("LICENSD_CACHE_DIR").unwrap_or_else(|_| "vendor-app-licence".into());
    let config = ClientConfig::new(env("LICENSD_SERVER")?, env("LICENSD_LICENCE_KEY")?, fingerprint)
        .trust_pem(&pem)?
        .cache_dir(cache)
        .offline_grace(Duration::from_secs(7 * 24 * 3600))
        .timeout(Duration::from_secs(5));
    Client::new(config)
}

/// Validates; on a first run (device not activated yet) activates and validates again.
fn check_licence(client: &Client) -> Result<licensd_client::Validation, ClientError> {
    match client.validate() {
        Err(error) if error.denial() == Some(Denial::DeviceNotActivated) => {
            let details = DeviceDetails {
                app_version: Some(env!("CARGO_PKG_VERSION").to_string()),
                os: Some(std::env::consts::OS.to_string()),
                ..DeviceDetails::default()
            };
            let activation = client.activate(&details)?;
            println!("activated this machine (device {})", activation.device.id);
            client.validate()
        }
        other => other,
    }
}

fn main() -> ExitCode {
    let outcome = client().and_then(|client| check_licence(&client));
    match outcome {
        Ok(validation) => {
            let source = match validation.source {
                Source::Online => "checked online",
                Source::Cached => "offline, using the last signed answer",
            };
            println!(
                "licensed: {} ({source}); features: {}",
                validation.license.product,
                validation.license.features.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(ClientError::Denied { denial, message, .. }) => {
            eprintln!("not licensed: {message} ({denial:?})");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("licence check failed: {error}");
            ExitCode::from(1)
        }
    }
}
