//! Native `/v1` management of what the LicenseSpring dialect brought into the domain: product
//! versions and their installation files (served by `versions` and `installation_file`).

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::native::{Admin, optional_text, require_text};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licensd_domain::product_version::ProductVersion;
use licensd_store::dialects::licensespring::NewProductVersion;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductVersion {
    /// Dotted version, e.g. `2.1.0`.
    pub version: String,
    /// Target environment (`win64`, `linux`, `mac`, …); absent serves every environment.
    pub environment: Option<String>,
    /// Release channel; absent is the default channel.
    pub channel: Option<String>,
    /// Release instant (ms since the epoch); defaults to now.
    pub release_date: Option<i64>,
    /// Where the installation file is downloaded from.
    pub download_url: String,
    pub hash_md5: Option<String>,
    pub size: Option<i64>,
    pub eula_link: Option<String>,
    pub release_notes_link: Option<String>,
    /// The lowest installed version this version installs over.
    pub requires_version: Option<String>,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

#[utoipa::path(post, path = "/v1/products/{id}/versions", tag = "product-versions", params(("id" = i64, Path)),
    request_body = CreateProductVersion,
    responses((status = 201, body = ProductVersion), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_product_version(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(product_id): ApiPath<i64>,
    ApiJson(body): ApiJson<CreateProductVersion>,
) -> Result<(StatusCode, Json<ProductVersion>), ApiError> {
    require_text("version", &body.version, 64)?;
    require_text("download_url", &body.download_url, 2048)?;
    for (name, value) in [
        ("environment", &body.environment),
        ("channel", &body.channel),
        ("hash_md5", &body.hash_md5),
        ("eula_link", &body.eula_link),
        ("release_notes_link", &body.release_notes_link),
        ("requires_version", &body.requires_version),
    ] {
        optional_text(name, value, 2048)?;
    }
    if body.size.is_some_and(|size| size < 0) {
        return Err(ApiError::unprocessable("size must not be negative"));
    }
    state
        .store
        .get_product(product_id)
        .await
        .map_err(|e| ApiError::from_store(e, "product"))?;
    let now = state.now();
    let new = NewProductVersion {
        product_id,
        version: body.version,
        environment: body.environment,
        channel: body.channel,
        release_date: body.release_date.unwrap_or(now),
        download_url: body.download_url,
        hash_md5: body.hash_md5,
        size: body.size,
        eula_link: body.eula_link,
        release_notes_link: body.release_notes_link,
        requires_version: body.requires_version,
        enabled: body.enabled,
    };
    let version = state
        .store
        .create_product_version(new, admin.event("product_version.created", "product_version"), now)
        .await
        .map_err(|e| ApiError::from_store(e, "product version"))?;
    Ok((StatusCode::CREATED, Json(version)))
}

#[utoipa::path(get, path = "/v1/products/{id}/versions", tag = "product-versions", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ProductVersion>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_product_versions(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(product_id): ApiPath<i64>,
) -> Result<Json<Vec<ProductVersion>>, ApiError> {
    state
        .store
        .get_product(product_id)
        .await
        .map_err(|e| ApiError::from_store(e, "product"))?;
    let versions = state
        .store
        .list_product_versions(product_id)
        .await
        .map_err(|e| ApiError::from_store(e, "product version"))?;
    Ok(Json(versions))
}

#[utoipa::path(delete, path = "/v1/product-versions/{id}", tag = "product-versions", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_product_version(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_product_version(
            id,
            admin.event("product_version.deleted", "product_version"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "product version"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create_product_version, list_product_versions, delete_product_version),
    components(schemas(CreateProductVersion, ProductVersion))
)]
pub struct LicenseSpringAdminApi;
