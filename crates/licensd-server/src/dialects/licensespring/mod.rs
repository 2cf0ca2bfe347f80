//! LicenseSpring License API v4 (issue 3), mounted at /api/v4. Not implemented yet: no routes are mounted.

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
