//! Native management (`/v1/slascone/…`, bearer admin token) of the concepts the SLASCONE dialect
//! brings into the domain: analytical fields, usage features and usage modules of a product, and
//! the usage and analytical values a license's clients reported.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::native::{Admin, require_text};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use licensd_domain::analytics::{AnalyticalField, AnalyticalFieldType, UsageFeature, UsageModule};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/slascone/products/{id}/analytical-fields",
            get(list_analytical_fields).post(create_analytical_field),
        )
        .route(
            "/v1/slascone/products/{id}/usage-features",
            get(list_usage_features).post(create_usage_feature),
        )
        .route(
            "/v1/slascone/usage-features/{id}/modules",
            get(list_usage_modules).post(create_usage_module),
        )
        .route("/v1/slascone/licenses/{id}/usage", get(license_usage))
        .route("/v1/slascone/licenses/{id}/analytics", get(license_analytics))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_analytical_fields,
        create_analytical_field,
        list_usage_features,
        create_usage_feature,
        list_usage_modules,
        create_usage_module,
        license_usage,
        license_analytics
    ),
    components(schemas(
        AnalyticalField,
        AnalyticalFieldType,
        UsageFeature,
        UsageModule,
        CreateAnalyticalField,
        CreateNamed,
        UsageTotalView,
        AnalyticalValueView
    ))
)]
pub struct SlasconeAdminApi;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAnalyticalField {
    pub name: String,
    pub field_type: AnalyticalFieldType,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNamed {
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageTotalView {
    pub usage_feature_id: i64,
    pub usage_module_id: Option<i64>,
    pub total: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AnalyticalValueView {
    pub field_id: i64,
    /// The reported text, or a JSON array of texts.
    pub value: String,
    pub reported_at: licensd_domain::Millis,
}

async fn product_exists(state: &AppState, id: i64) -> Result<(), ApiError> {
    state
        .store
        .get_product(id)
        .await
        .map(|_| ())
        .map_err(|e| ApiError::from_store(e, "product"))
}

#[utoipa::path(get, path = "/v1/slascone/products/{id}/analytical-fields", tag = "slascone", responses((status = 200, body = Vec<AnalyticalField>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_analytical_fields(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<AnalyticalField>>, ApiError> {
    product_exists(&state, id).await?;
    Ok(Json(state.store.slascone_analytical_fields(id).await?))
}

#[utoipa::path(post, path = "/v1/slascone/products/{id}/analytical-fields", tag = "slascone", request_body = CreateAnalyticalField, responses((status = 201, body = AnalyticalField), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_analytical_field(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CreateAnalyticalField>,
) -> Result<(StatusCode, Json<AnalyticalField>), ApiError> {
    require_text("name", &body.name, 256)?;
    product_exists(&state, id).await?;
    let field = state
        .store
        .slascone_create_analytical_field(
            id,
            body.name.trim(),
            body.field_type,
            admin.event("slascone.analytical_field_created", "product"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "analytical field"))?;
    Ok((StatusCode::CREATED, Json(field)))
}

#[utoipa::path(get, path = "/v1/slascone/products/{id}/usage-features", tag = "slascone", responses((status = 200, body = Vec<UsageFeature>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_usage_features(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<UsageFeature>>, ApiError> {
    product_exists(&state, id).await?;
    Ok(Json(state.store.slascone_usage_features(id).await?))
}

#[utoipa::path(post, path = "/v1/slascone/products/{id}/usage-features", tag = "slascone", request_body = CreateNamed, responses((status = 201, body = UsageFeature), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_usage_feature(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CreateNamed>,
) -> Result<(StatusCode, Json<UsageFeature>), ApiError> {
    require_text("name", &body.name, 256)?;
    product_exists(&state, id).await?;
    let feature = state
        .store
        .slascone_create_usage_feature(
            id,
            body.name.trim(),
            admin.event("slascone.usage_feature_created", "product"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "usage feature"))?;
    Ok((StatusCode::CREATED, Json(feature)))
}

#[utoipa::path(get, path = "/v1/slascone/usage-features/{id}/modules", tag = "slascone", responses((status = 200, body = Vec<UsageModule>)), security(("bearer" = [])))]
pub async fn list_usage_modules(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<UsageModule>>, ApiError> {
    Ok(Json(state.store.slascone_usage_modules(id).await?))
}

#[utoipa::path(post, path = "/v1/slascone/usage-features/{id}/modules", tag = "slascone", request_body = CreateNamed, responses((status = 201, body = UsageModule), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_usage_module(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CreateNamed>,
) -> Result<(StatusCode, Json<UsageModule>), ApiError> {
    require_text("name", &body.name, 256)?;
    let module = state
        .store
        .slascone_create_usage_module(
            id,
            body.name.trim(),
            admin.event("slascone.usage_module_created", "usage_feature"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "usage feature"))?;
    Ok((StatusCode::CREATED, Json(module)))
}

#[utoipa::path(get, path = "/v1/slascone/licenses/{id}/usage", tag = "slascone", responses((status = 200, body = Vec<UsageTotalView>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn license_usage(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<UsageTotalView>>, ApiError> {
    state
        .store
        .get_license(id)
        .await
        .map_err(|e| ApiError::from_store(e, "license"))?;
    let totals = state.store.slascone_usage_totals(id).await?;
    Ok(Json(
        totals
            .into_iter()
            .map(|t| UsageTotalView {
                usage_feature_id: t.usage_feature_id,
                usage_module_id: t.usage_module_id,
                total: t.total,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/slascone/licenses/{id}/analytics", tag = "slascone", responses((status = 200, body = Vec<AnalyticalValueView>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn license_analytics(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<AnalyticalValueView>>, ApiError> {
    state
        .store
        .get_license(id)
        .await
        .map_err(|e| ApiError::from_store(e, "license"))?;
    let values = state.store.slascone_analytical_values(id).await?;
    Ok(Json(
        values
            .into_iter()
            .map(|v| AnalyticalValueView {
                field_id: v.field_id,
                value: v.value,
                reported_at: v.reported_at,
            })
            .collect(),
    ))
}
