use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

/// The server root: says what answers here. Vendor SDKs probe it to decide whether they are
/// online (LicenseSpring's Python `is_online()` expects a 200 from the API host's root).
///
/// A browser (its `Accept` names `text/html`) is sent to the admin console at `/console` instead;
/// API clients, which do not ask for HTML, get the JSON as before.
pub async fn root(headers: HeaderMap) -> Response {
    let wants_html = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("text/html"));
    if wants_html {
        return Redirect::to("/console").into_response();
    }
    Json(json!({"name": "licensd", "version": env!("CARGO_PKG_VERSION"), "api": "/v1", "openapi": "/v1/openapi.json"}))
        .into_response()
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
