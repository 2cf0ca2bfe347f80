//! Native `/v1` management of what the LicenseSpring dialect brought into the domain: product
//! versions and their installation files (served by `versions` and `installation_file`), and
//! bundles (a bundle product's member products; a bundle license's member licenses), served by
//! `activate_bundle`, `check_bundle`, `deactivate_bundle` and `activate_bundle_offline`.
use licensd_domain::LicenseId;
use licensd_domain::ProductId;

use crate::error::{ApiError, ErrorBody, ForResource, created, no_content};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::validate::{optional_text, require_text};
use crate::http::{Admin, lookup};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licensd_domain::product_version::{ProductVersion, ProductVersionSpec};
use serde::{Deserialize, Serialize};

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
    ApiPath(product_id): ApiPath<ProductId>,
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
    lookup::product(&state, product_id).await?;
    let now = state.now();
    let new = ProductVersionSpec {
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
    let write = state
        .store
        .create_product_version(new, admin.event("product_version.created", "product_version"), now);
    created("product version", write).await
}

#[utoipa::path(get, path = "/v1/products/{id}/versions", tag = "product-versions", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ProductVersion>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_product_versions(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(product_id): ApiPath<ProductId>,
) -> Result<Json<Vec<ProductVersion>>, ApiError> {
    lookup::product(&state, product_id).await?;
    let versions = state
        .store
        .list_product_versions(product_id)
        .await
        .for_resource("product version")?;
    Ok(Json(versions))
}

#[utoipa::path(delete, path = "/v1/product-versions/{id}", tag = "product-versions", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_product_version(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("product_version.deleted", "product_version");
    let write = state.store.delete_product_version(id, event, state.now());
    no_content("product version", write).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBundleProduct {
    /// The member product to add to the bundle (a product that is not itself a bundle).
    pub product_id: i64,
}

/// A bundle product and its member products.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BundleProducts {
    pub product_id: i64,
    /// Ascending; empty when the product is not a bundle.
    pub member_product_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBundleLicense {
    /// The member license: a license of one of the bundle product's member products.
    pub license_id: i64,
}

/// A bundle license and its member licenses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BundleLicenses {
    pub license_id: i64,
    /// Ascending.
    pub member_license_ids: Vec<i64>,
}

async fn bundle_products_of(state: &AppState, product_id: ProductId) -> Result<BundleProducts, ApiError> {
    lookup::product(state, product_id).await?;
    let member_product_ids = state.store.bundle_products(product_id).await.for_resource("product")?;
    Ok(BundleProducts {
        product_id: product_id.get(),
        member_product_ids: member_product_ids.into_iter().map(i64::from).collect(),
    })
}

async fn bundle_licenses_of(state: &AppState, license_id: LicenseId) -> Result<BundleLicenses, ApiError> {
    lookup::license(state, license_id).await?;
    let member_license_ids = state.store.bundle_licenses(license_id).await.for_resource("license")?;
    Ok(BundleLicenses {
        license_id: license_id.get(),
        member_license_ids: member_license_ids.into_iter().map(i64::from).collect(),
    })
}

#[utoipa::path(post, path = "/v1/products/{id}/bundle-members", tag = "bundles", params(("id" = i64, Path)),
    request_body = AddBundleProduct,
    responses((status = 201, body = BundleProducts), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_bundle_product(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(product_id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<AddBundleProduct>,
) -> Result<(StatusCode, Json<BundleProducts>), ApiError> {
    let member_id = ProductId::new(body.product_id);
    for id in [product_id, member_id] {
        lookup::product(&state, id).await?;
    }
    state
        .store
        .add_bundle_product(
            product_id,
            member_id,
            admin.event("product.bundle_member_added", "product"),
            state.now(),
        )
        .await
        .for_resource("product")?;
    Ok((StatusCode::CREATED, Json(bundle_products_of(&state, product_id).await?)))
}

#[utoipa::path(get, path = "/v1/products/{id}/bundle-members", tag = "bundles", params(("id" = i64, Path)),
    responses((status = 200, body = BundleProducts), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_bundle_products(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(product_id): ApiPath<ProductId>,
) -> Result<Json<BundleProducts>, ApiError> {
    Ok(Json(bundle_products_of(&state, product_id).await?))
}

#[utoipa::path(delete, path = "/v1/products/{id}/bundle-members/{member_id}", tag = "bundles",
    params(("id" = i64, Path), ("member_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn remove_bundle_product(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath((product_id, member_id)): ApiPath<(ProductId, ProductId)>,
) -> Result<StatusCode, ApiError> {
    let write = state.store.remove_bundle_product(
        product_id,
        member_id,
        admin.event("product.bundle_member_removed", "product"),
        state.now(),
    );
    no_content("bundle member product", write).await
}

#[utoipa::path(post, path = "/v1/licenses/{id}/bundle-members", tag = "bundles", params(("id" = i64, Path)),
    request_body = LinkBundleLicense,
    responses((status = 201, body = BundleLicenses), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn link_bundle_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(license_id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<LinkBundleLicense>,
) -> Result<(StatusCode, Json<BundleLicenses>), ApiError> {
    let member_id = LicenseId::new(body.license_id);
    for id in [license_id, member_id] {
        lookup::license(&state, id).await?;
    }
    state
        .store
        .link_bundle_license(
            license_id,
            member_id,
            admin.event("license.bundle_member_linked", "license"),
            state.now(),
        )
        .await
        .for_resource("license")?;
    Ok((StatusCode::CREATED, Json(bundle_licenses_of(&state, license_id).await?)))
}

#[utoipa::path(get, path = "/v1/licenses/{id}/bundle-members", tag = "bundles", params(("id" = i64, Path)),
    responses((status = 200, body = BundleLicenses), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_bundle_licenses(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(license_id): ApiPath<LicenseId>,
) -> Result<Json<BundleLicenses>, ApiError> {
    Ok(Json(bundle_licenses_of(&state, license_id).await?))
}

#[utoipa::path(delete, path = "/v1/licenses/{id}/bundle-members/{member_id}", tag = "bundles",
    params(("id" = i64, Path), ("member_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn unlink_bundle_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath((license_id, member_id)): ApiPath<(LicenseId, LicenseId)>,
) -> Result<StatusCode, ApiError> {
    // Only a member of this bundle license is unlinked through it.
    let linked = state.store.bundle_of_license(member_id).await.for_resource("license")?;
    if linked != Some(license_id) {
        return Err(ApiError::not_found("bundle member license"));
    }
    let event = admin.event("license.bundle_member_unlinked", "license");
    let write = state.store.unlink_bundle_license(member_id, event, state.now());
    no_content("bundle member license", write).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_product_version,
        list_product_versions,
        delete_product_version,
        add_bundle_product,
        list_bundle_products,
        remove_bundle_product,
        link_bundle_license,
        list_bundle_licenses,
        unlink_bundle_license
    ),
    components(schemas(
        CreateProductVersion,
        ProductVersion,
        AddBundleProduct,
        BundleProducts,
        LinkBundleLicense,
        BundleLicenses
    ))
)]
pub struct LicenseSpringAdminApi;
