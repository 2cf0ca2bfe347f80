//! The same-run baseline: what the machine can do for each request shape with nothing but the
//! unavoidable work (parse JSON, look the license up in memory, build a response of the same size,
//! sign it with the same algorithm). licensd's figures are reported as a ratio to these. With
//! `--pg-url` / `--sqlite-db` it also serves the database ceilings (`ceiling.rs`): the same
//! answers after one point read or one single-row insert transaction.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
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
    /// File with the LicenseSpring OAuth client id and secret (`id secret`), written by `seed`.
    #[arg(long)]
    ls_client: Option<PathBuf>,
    /// PostgreSQL for the database ceilings (`/pg/read`, `/pg/write`).
    #[arg(long)]
    pg_url: Option<String>,
    /// Connections of the ceilings' PostgreSQL pool (licensd's `--max-connections` in the run).
    #[arg(long, default_value_t = 32)]
    pg_pool: u32,
    /// SQLite database file for the database ceilings (`/sqlite/read`, `/sqlite/write`);
    /// created anew.
    #[arg(long)]
    sqlite_db: Option<PathBuf>,
}

pub(crate) struct Baseline {
    licenses: HashMap<String, i64>,
    ls_client: Option<(String, String)>,
    pub(crate) ed25519: SigningKey,
    pub(crate) rsa: SigningKey,
}

/// The client requests the baselines answer (validate, and the ceilings' writes; other fields of
/// an activation or consumption body are ignored).
#[derive(Deserialize)]
pub(crate) struct ValidateRequest {
    pub(crate) key: String,
    pub(crate) fingerprint: Option<String>,
    pub(crate) nonce: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut licenses = HashMap::new();
    let mut keys = Vec::new();
    for path in &args.keys {
        for line in std::fs::read_to_string(path)?.lines() {
            if let Some(key) = line.split_whitespace().next() {
                let id = licenses.len() as i64 + 1;
                if licenses.insert(key.to_string(), id).is_none() {
                    keys.push(key.to_string());
                }
            }
        }
    }
    let ls_client = match &args.ls_client {
        Some(path) => {
            let text = std::fs::read_to_string(path)?;
            let mut parts = text.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(id), Some(secret)) => Some((id.to_string(), secret.to_string())),
                _ => anyhow::bail!("{} must hold `client_id client_secret`", path.display()),
            }
        }
        None => None,
    };
    let state = Arc::new(Baseline {
        licenses,
        ls_client,
        ed25519: SigningKey::generate(Algorithm::Ed25519)?,
        rsa: SigningKey::generate(Algorithm::Rsa2048)?,
    });
    let ceilings = crate::ceiling::routes(
        state.clone(),
        &keys,
        args.pg_url.as_deref(),
        args.pg_pool,
        args.sqlite_db.as_deref(),
    )
    .await?;
    let app = Router::new()
        .route("/bare", post(bare))
        .route("/ed25519/validate", post(validate_ed25519))
        .route("/rsa2048/validate", post(validate_rsa))
        .route("/ls/check_license", axum::routing::get(ls_check_license))
        .with_state(state)
        .merge(ceilings);
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
    answer(key, &request, state.licenses.get(&request.key).copied())
}

/// The validate answer for the license `id` (`None`: not found), signed with `key`.
pub(crate) fn answer(key: &SigningKey, request: &ValidateRequest, id: Option<i64>) -> Response {
    let (valid, code) = match id {
        Some(_) => (true, "VALID"),
        None => (false, "LICENSE_NOT_FOUND"),
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
        "nonce": &request.nonce,
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

/// LicenseSpring `check_license` as the baseline does it: check the bearer token's HMAC, look the
/// license up, render a license object of the dialect's size and sign it with RSA-2048
/// (`LicenseSignature` header and `license_signature` field, like the dialect).
async fn ls_check_license(
    State(state): State<Arc<Baseline>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // Verify the bearer token exactly as the dialect does: lsat.<id>.<expires>.<HMAC>.
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let parts: Vec<&str> = token.unwrap_or_default().split('.').collect();
    let Some((client_id, secret)) = &state.ls_client else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let verified = parts.len() == 4 && {
        let message = format!("licensd-oauth\n{client_id}\n{}", parts[2]);
        let expected = licensd_crypto::b64url(&licensd_crypto::hmac_sha256(secret.as_bytes(), message.as_bytes()));
        licensd_crypto::constant_time_eq(expected.as_bytes(), parts[3].as_bytes())
    };
    if !verified {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let key = query.get("license_key").cloned().unwrap_or_default();
    let Some(id) = state.licenses.get(&key) else {
        return (StatusCode::BAD_REQUEST, "{\"code\":\"license_not_found\"}").into_response();
    };
    let hardware_id = query.get("hardware_id").cloned().unwrap_or_default();
    let mut license = json!({
        "id": id, "license_key": key, "license_type": "perpetual", "is_trial": false, "license_active": true,
        "license_enabled": true, "is_expired": false, "validity_period": null, "validity_with_grace_period": null,
        "start_date": null, "maintenance_period": null, "enable_maintenance_period": false, "allow_grace_period": false,
        "grace_period": 0, "max_activations": 5, "times_activated": 1, "transfer_count": 0, "max_transfers": 0,
        "allow_unlimited_activations": false, "prevent_vm": false, "is_floating": false, "is_floating_cloud": false,
        "floating_users": 0, "floating_timeout": 0, "max_consumptions": 0, "total_consumptions": 0,
        "allow_unlimited_consumptions": false, "allow_negative_consumptions": false, "allow_overages": false,
        "max_overages": 0, "reset_consumption": false, "consumption_period": null, "is_air_gapped": false,
        "is_hardware_key_auth": false, "license_signature": "", "metadata": {}, "product_features": [],
        "custom_fields": [], "customer": {"email": "", "company_name": "", "first_name": "", "last_name": ""},
        "product_details": {"product_id": 1, "product_name": "Benchmark", "short_code": "bench", "authorization_method": "license-key",
            "metadata": {}, "allow_trial": false, "trial_days": 0, "is_bundle": false},
        "device_id": id, "hardware_id": hardware_id, "borrowed_until": null, "user": null, "order_store_id": "",
    });
    let v1 = format!("{hardware_id}#{key}#");
    let Ok(v1_signature) = state.rsa.sign(v1.as_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    license["license_signature"] = json!(licensd_crypto::b64(&v1_signature));
    let Ok(bytes) = serde_json::to_vec(&license) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(signature) = state.rsa.sign(&bytes) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "algorithm=\"rsa-sha256\",signature=\"{}\"",
        licensd_crypto::b64(&signature)
    )) {
        response.headers_mut().insert("licensesignature", value);
    }
    response
}
