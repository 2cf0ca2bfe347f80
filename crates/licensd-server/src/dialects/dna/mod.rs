//! Softworkz DNA REST v1 (issue 6), mounted at /dna/v1. Not implemented yet: no routes are mounted.

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
