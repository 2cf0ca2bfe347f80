//! The OpenAPI document served at `/v1/openapi.json`, assembled in one place from the native
//! API's fragment (`native::openapi`) and each dialect's (`dialects::openapi`).

use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(paths(document))]
struct MetaDoc;

/// The whole document: native paths, this endpoint, then every dialect's paths.
pub fn full() -> utoipa::openapi::OpenApi {
    let mut document = crate::native::openapi::ApiDoc::openapi();
    document.merge(MetaDoc::openapi());
    for fragment in crate::dialects::openapi() {
        document.merge(fragment);
    }
    document
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", responses((status = 200, description = "The OpenAPI 3.1 document of this API")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(full())
}
