//! Key Manager API v1 (issue 4), mounted at /api/v1. Not implemented yet: no routes are mounted.

use crate::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}

pub fn admin_routes() -> Router<AppState> {
    Router::new()
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new().build()
}
