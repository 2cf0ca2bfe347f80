//! SLASCONE API v2 (issue 5), mounted at /api/v2/isv/{isv_id}. Not implemented yet: no routes are mounted.

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
