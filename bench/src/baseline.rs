//! The same-run baseline: what the machine can do for each request shape with nothing but the
//! unavoidable work (parse JSON, look the license up in memory, build a response of the same size,
//! sign it with the same algorithm). licensd's figures are reported as a ratio to these.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use licensd_crypto::{Algorithm, SigningKey};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Key files written by `seed` (lines of `key` or `key fingerprint`); their keys are "known".
    #[arg(long)]
    keys: Vec<PathBuf>,
}

struct Baseline {
    licenses: HashMap<String, i64>,
    ed25519: SigningKey,
    rsa: SigningKey,
}

#[derive(Deserialize)]
struct ValidateRequest {
    key: String,
    fingerprint: Option<String>,
    nonce: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut licenses = HashMap::new();
    for path in &args.keys {
        for line in std::fs::read_to_string(path)?.lines() {
            if let Some(key) = line.split_whitespace().next() {
                let id = licenses.len() as i64 + 1;
                licenses.insert(key.to_string(), id);
            }
        }
    }
    let state = Arc::new(Baseline {
        licenses,
        ed25519: SigningKey::generate(Algorithm::Ed25519)?,
        rsa: SigningKey::generate(Algorithm::Rsa2048)?,
    });
    let app = Router::new()
        .route("/bare", post(bare))
        .route("/ed25519/validate", post(validate_ed25519))
        .route("/rsa2048/validate", post(validate_rsa))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("baseline: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// The bare handler: no parsing, no signing.
async fn bare() -> &'static str {
    "{\"status\":\"ok\"}"
}

async fn validate_ed25519(State(state): State<Arc<Baseline>>, body: Bytes) -> Response {
    validate(&state, &state.ed25519, &body)
}

async fn validate_rsa(State(state): State<Arc<Baseline>>, body: Bytes) -> Response {
    validate(&state, &state.rsa, &body)
}

/// Builds a response with the fields and size of licensd's validation answer.
fn validate(state: &Baseline, key: &SigningKey, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<ValidateRequest>(body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let (valid, code, id) = match state.licenses.get(&request.key) {
        Some(id) => (true, "VALID", Some(*id)),
        None => (false, "LICENSE_NOT_FOUND", None),
    };
    let response = json!({
        "valid": valid,
        "code": code,
        "detail": "license is valid",
        "in_grace_period": false,
        "maintenance_active": true,
        "license": id.map(|id| json!({
            "id": id, "product": "bench", "status": "active", "license_type": "perpetual", "kind": "normal",
            "starts_at": null, "expires_at": null, "maintenance_expires_at": null, "max_activations": 5,
            "active_devices": 1, "features": [], "consumption_used": 0, "metadata": {}
        })),
        "device": request.fingerprint.as_ref().map(|fingerprint| json!({
            "id": id, "license_id": id, "fingerprint": fingerprint, "name": null, "hostname": null, "os": null,
            "app_version": null, "ip": "127.0.0.1", "mac": null, "is_vm": false, "user_id": null, "variables": {},
            "activated_at": 1_767_225_600_000i64, "last_seen_at": 1_767_225_600_000i64, "deactivated_at": null
        })),
        "checked_at": 1_767_225_600_000i64,
        "nonce": request.nonce,
    });
    let Ok(bytes) = serde_json::to_vec(&response) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(signature) = key.sign(&bytes) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let (Ok(signature), Ok(kid)) = (
        HeaderValue::from_str(&licensd_crypto::b64(&signature)),
        HeaderValue::from_str(key.kid()),
    ) {
        headers.insert("x-licensd-signature", signature);
        headers.insert("x-licensd-key-id", kid);
    }
    response
}
