//! The vendor dialects: thin translation layers that parse a vendor's requests, call the store and
//! domain, and render the vendor's replies and codes. Each owns its routes (mounted at the vendor's
//! prefix), the native `/v1` management routes for the concepts it brought into the domain, and an
//! OpenAPI fragment for those management routes.

pub mod dna;
pub mod keymanager;
pub mod licensespring;
pub mod slascone;

use crate::state::AppState;
use axum::Router;

/// Every dialect's wire API.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(licensespring::routes(state))
        .merge(keymanager::routes(state))
        .merge(slascone::routes(state))
        .merge(dna::routes())
}

/// Native `/v1` management routes the dialects add.
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .merge(licensespring::admin_routes())
        .merge(keymanager::admin_routes())
        .merge(slascone::admin_routes())
        .merge(dna::admin_routes())
}

/// OpenAPI fragments for `admin_routes`, merged into `/v1/openapi.json`.
pub fn openapi() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        licensespring::openapi(),
        keymanager::openapi(),
        slascone::openapi(),
        dna::openapi(),
    ]
}
