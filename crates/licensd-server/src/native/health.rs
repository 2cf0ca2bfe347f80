use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// The server root: says what answers here. Vendor SDKs probe it to decide whether they are
/// online (LicenseSpring's Python `is_online()` expects a 200 from the API host's root).
pub async fn root() -> Json<Value> {
    Json(json!({"name": "licensd", "version": env!("CARGO_PKG_VERSION"), "api": "/v1", "openapi": "/v1/openapi.json"}))
}

/// Liveness: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "database unreachable"})),
            )
        }
    }
}
