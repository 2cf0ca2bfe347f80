//! Products, feature definitions and policies.

use super::{PageQuery, Paged};
use crate::error::{ApiError, ErrorBody, ForResource, created, no_content, ok_json};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::validate::{
    metadata_or_empty, require_days, require_instant, require_non_negative, require_text, within,
};
use crate::http::{Admin, lookup};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licensd_domain::*;
use licensd_store::{NewPolicy, NewProduct};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    /// Short code clients use to name the product (LicenseSpring short_code, DNA ProductID).
    pub code: String,
    pub name: String,
    #[serde(default = "key_auth")]
    pub auth_method: AuthMethod,
    #[serde(default = "active_product")]
    pub status: ProductStatus,
    #[serde(default)]
    pub trial_allowed: bool,
    #[serde(default)]
    pub trial_days: i64,
    pub metadata: Option<serde_json::Value>,
}

fn key_auth() -> AuthMethod {
    AuthMethod::Key
}
fn active_product() -> ProductStatus {
    ProductStatus::Active
}

fn check_code(code: &str) -> Result<(), ApiError> {
    require_text("code", code, 128)?;
    if !code.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(ApiError::unprocessable(
            "code may contain only letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/products", tag = "products", request_body = CreateProduct,
    responses((status = 201, body = Product), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_product(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateProduct>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    check_code(&body.code)?;
    require_text("name", &body.name, 256)?;
    require_days("trial_days", Some(body.trial_days))?;
    let new = NewProduct {
        code: body.code,
        name: body.name,
        auth_method: body.auth_method,
        status: body.status,
        trial_allowed: body.trial_allowed,
        trial_days: body.trial_days,
        metadata: metadata_or_empty(body.metadata)?,
    };
    let event = admin.event("product.created", "product");
    created("product", state.store.create_product(new, event, state.now())).await
}

#[utoipa::path(get, path = "/v1/products", tag = "products", params(PageQuery), responses((status = 200, body = Paged<Product>)), security(("bearer" = [])))]
pub async fn list_products(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<Product>>, ApiError> {
    let page = query.page()?;
    let products = state.store.list_products(page).await?;
    Ok(Json(Paged::new(products, page.limit, |p| p.id.get())))
}

#[utoipa::path(get, path = "/v1/products/{id}", tag = "products", params(("id" = i64, Path)), responses((status = 200, body = Product), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_product(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
) -> Result<Json<Product>, ApiError> {
    ok_json("product", state.store.get_product(id)).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    pub code: Option<String>,
    pub name: Option<String>,
    pub auth_method: Option<AuthMethod>,
    pub status: Option<ProductStatus>,
    pub trial_allowed: Option<bool>,
    pub trial_days: Option<i64>,
    pub metadata: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/v1/products/{id}", tag = "products", params(("id" = i64, Path)), request_body = UpdateProduct,
    responses((status = 200, body = Product), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_product(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<UpdateProduct>,
) -> Result<Json<Product>, ApiError> {
    let mut product = lookup::product(&state, id).await?;
    if let Some(code) = body.code {
        check_code(&code)?;
        product.code = code;
    }
    if let Some(name) = body.name {
        require_text("name", &name, 256)?;
        product.name = name;
    }
    if let Some(auth_method) = body.auth_method {
        product.auth_method = auth_method;
    }
    if let Some(status) = body.status {
        product.status = status;
    }
    if let Some(trial_allowed) = body.trial_allowed {
        product.trial_allowed = trial_allowed;
    }
    if let Some(trial_days) = body.trial_days {
        require_days("trial_days", Some(trial_days))?;
        product.trial_days = trial_days;
    }
    if body.metadata.is_some() {
        product.metadata = metadata_or_empty(body.metadata)?;
    }
    let event = admin.event("product.updated", "product").subject(id);
    ok_json("product", state.store.update_product(product, event, state.now())).await
}

/// `DELETE /v1/products/{id}` options.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteProductQuery {
    /// Delete the product's licences with it (each logged as `license.deleted`); without it a
    /// product that has licences is refused with 409.
    #[serde(default)]
    pub cascade: bool,
}

#[utoipa::path(delete, path = "/v1/products/{id}", tag = "products", params(("id" = i64, Path), DeleteProductQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_product(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiQuery(query): ApiQuery<DeleteProductQuery>,
) -> Result<StatusCode, ApiError> {
    let deletion = if query.cascade {
        product_deletion::ProductDeletion::Cascade
    } else {
        product_deletion::ProductDeletion::RefuseWhileLicensed
    };
    let write = state.store.delete_product(
        id,
        deletion,
        admin.event("product.deleted", "product").subject(id),
        state.now(),
    );
    no_content("product", write).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFeature {
    pub product_id: i64,
    pub code: String,
    pub name: String,
    #[serde(default = "activation_feature")]
    pub feature_type: FeatureType,
    pub max_consumptions: Option<i64>,
    #[serde(default)]
    pub allow_overages: bool,
    pub max_overages: Option<i64>,
    #[serde(default)]
    pub allow_negative: bool,
    #[serde(default = "never")]
    pub reset_period: ResetPeriod,
    pub floating_seats: Option<i64>,
    #[serde(default = "default_lease_seconds")]
    pub floating_lease_seconds: i64,
    pub metadata: Option<serde_json::Value>,
}

fn activation_feature() -> FeatureType {
    FeatureType::Activation
}
fn never() -> ResetPeriod {
    ResetPeriod::Never
}
fn default_lease_seconds() -> i64 {
    1800
}

fn check_feature_numbers(
    max_consumptions: Option<i64>,
    max_overages: Option<i64>,
    floating_seats: Option<i64>,
    lease: i64,
) -> Result<(), ApiError> {
    require_non_negative("max_consumptions", max_consumptions)?;
    require_non_negative("max_overages", max_overages)?;
    require_non_negative("floating_seats", floating_seats)?;
    if lease < 1 {
        return Err(ApiError::unprocessable("floating_lease_seconds must be at least 1"));
    }
    within(limits::count("max_consumptions", max_consumptions))?;
    within(limits::count("max_overages", max_overages))?;
    within(limits::count("floating_seats", floating_seats))?;
    within(limits::check(
        "floating_lease_seconds",
        lease,
        1,
        limits::MAX_LEASE_SECONDS,
    ))
}

#[utoipa::path(post, path = "/v1/features", tag = "features", request_body = CreateFeature,
    responses((status = 201, body = FeatureDefinition), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_feature(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateFeature>,
) -> Result<(StatusCode, Json<FeatureDefinition>), ApiError> {
    check_code(&body.code)?;
    require_text("name", &body.name, 256)?;
    check_feature_numbers(
        body.max_consumptions,
        body.max_overages,
        body.floating_seats,
        body.floating_lease_seconds,
    )?;
    state
        .store
        .get_product(ProductId::new(body.product_id))
        .await
        .for_resource("product")?;
    let new = FeatureSpec {
        product_id: ProductId::new(body.product_id),
        code: body.code,
        name: body.name,
        feature_type: body.feature_type,
        max_consumptions: body.max_consumptions,
        allow_overages: body.allow_overages,
        max_overages: body.max_overages,
        allow_negative: body.allow_negative,
        reset_period: body.reset_period,
        floating_seats: body.floating_seats,
        floating_lease_seconds: body.floating_lease_seconds,
        metadata: metadata_or_empty(body.metadata)?,
    };
    let event = admin.event("feature.created", "feature");
    created("feature", state.store.create_feature(new, event, state.now())).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProductFilter {
    pub product_id: Option<i64>,
}

#[utoipa::path(get, path = "/v1/features", tag = "features", params(ProductFilter), responses((status = 200, body = Vec<FeatureDefinition>)), security(("bearer" = [])))]
pub async fn list_features(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ProductFilter>,
) -> Result<Json<Vec<FeatureDefinition>>, ApiError> {
    Ok(Json(
        state.store.list_features(filter.product_id.map(ProductId::new)).await?,
    ))
}

#[utoipa::path(get, path = "/v1/features/{id}", tag = "features", params(("id" = i64, Path)), responses((status = 200, body = FeatureDefinition), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_feature(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<FeatureDefinition>, ApiError> {
    ok_json("feature", state.store.get_feature(id)).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFeature {
    pub name: Option<String>,
    pub feature_type: Option<FeatureType>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_consumptions: Option<Option<i64>>,
    pub allow_overages: Option<bool>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_overages: Option<Option<i64>>,
    pub allow_negative: Option<bool>,
    pub reset_period: Option<ResetPeriod>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub floating_seats: Option<Option<i64>>,
    pub floating_lease_seconds: Option<i64>,
    pub metadata: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/v1/features/{id}", tag = "features", params(("id" = i64, Path)), request_body = UpdateFeature, responses((status = 200, body = FeatureDefinition)), security(("bearer" = [])))]
pub async fn update_feature(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateFeature>,
) -> Result<Json<FeatureDefinition>, ApiError> {
    let mut feature = state.store.get_feature(id).await.for_resource("feature")?;
    if let Some(name) = body.name {
        require_text("name", &name, 256)?;
        feature.spec.name = name;
    }
    if let Some(kind) = body.feature_type {
        feature.spec.feature_type = kind;
    }
    if let Some(value) = body.max_consumptions {
        feature.spec.max_consumptions = value;
    }
    if let Some(value) = body.allow_overages {
        feature.spec.allow_overages = value;
    }
    if let Some(value) = body.max_overages {
        feature.spec.max_overages = value;
    }
    if let Some(value) = body.allow_negative {
        feature.spec.allow_negative = value;
    }
    if let Some(value) = body.reset_period {
        feature.spec.reset_period = value;
    }
    if let Some(value) = body.floating_seats {
        feature.spec.floating_seats = value;
    }
    if let Some(value) = body.floating_lease_seconds {
        feature.spec.floating_lease_seconds = value;
    }
    if body.metadata.is_some() {
        feature.spec.metadata = metadata_or_empty(body.metadata)?;
    }
    check_feature_numbers(
        feature.spec.max_consumptions,
        feature.spec.max_overages,
        feature.spec.floating_seats,
        feature.spec.floating_lease_seconds,
    )?;
    let event = admin.event("feature.updated", "feature").subject(id);
    ok_json("feature", state.store.update_feature(feature, event, state.now())).await
}

#[utoipa::path(delete, path = "/v1/features/{id}", tag = "features", params(("id" = i64, Path)), responses((status = 204), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_feature(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("feature.deleted", "feature").subject(id);
    no_content("feature", state.store.delete_feature(id, event, state.now())).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    pub product_id: i64,
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub terms: LicenseTerms,
    pub duration_days: Option<i64>,
    pub maintenance_days: Option<i64>,
    #[serde(default)]
    pub features: Vec<FeatureGrant>,
    pub metadata: Option<serde_json::Value>,
}

/// Rejects terms no license could be issued with.
pub fn check_terms(terms: &LicenseTerms) -> Result<(), ApiError> {
    require_non_negative("terms.max_activations", terms.max_activations)?;
    require_non_negative("terms.max_transfers", terms.max_transfers)?;
    require_non_negative("terms.grace_period_hours", Some(terms.grace_period_hours))?;
    require_non_negative("terms.max_users", terms.max_users)?;
    require_non_negative("terms.max_activations_per_user", terms.max_activations_per_user)?;
    if let Some(floating) = &terms.floating {
        if floating.seats < 1 || floating.lease_seconds < 1 {
            return Err(ApiError::unprocessable(
                "terms.floating needs seats >= 1 and lease_seconds >= 1",
            ));
        }
        require_non_negative("terms.floating.max_borrow_hours", Some(floating.max_borrow_hours))?;
    }
    if let Some(consumption) = &terms.consumption {
        require_non_negative("terms.consumption.max_consumptions", consumption.max_consumptions)?;
        require_non_negative("terms.consumption.max_overages", consumption.max_overages)?;
    }
    if terms.license_type == LicenseType::Consumption && terms.consumption.is_none() {
        return Err(ApiError::unprocessable("a consumption license needs terms.consumption"));
    }
    within(limits::check_terms(terms))?;
    if let Some(lockout) = &terms.reactivation_lockout
        && (lockout.limit < 1 || lockout.window_hours < 1)
    {
        return Err(ApiError::unprocessable(
            "terms.reactivation_lockout needs limit >= 1 and window_hours >= 1",
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = CreatePolicy, responses((status = 201, body = Policy), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_policy(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreatePolicy>,
) -> Result<(StatusCode, Json<Policy>), ApiError> {
    check_code(&body.code)?;
    require_text("name", &body.name, 256)?;
    check_terms(&body.terms)?;
    require_days("duration_days", body.duration_days)?;
    require_days("maintenance_days", body.maintenance_days)?;
    state
        .store
        .get_product(ProductId::new(body.product_id))
        .await
        .for_resource("product")?;
    check_feature_codes(&state, ProductId::new(body.product_id), &body.features).await?;
    let new = NewPolicy {
        product_id: ProductId::new(body.product_id),
        code: body.code,
        name: body.name,
        terms: body.terms,
        duration_days: body.duration_days,
        maintenance_days: body.maintenance_days,
        features: body.features,
        metadata: metadata_or_empty(body.metadata)?,
    };
    let event = admin.event("policy.created", "policy");
    created("policy", state.store.create_policy(new, event, state.now())).await
}

/// Feature grants must name features of the same product.
pub async fn check_feature_codes(
    state: &AppState,
    product_id: ProductId,
    grants: &[FeatureGrant],
) -> Result<(), ApiError> {
    if grants.is_empty() {
        return Ok(());
    }
    for grant in grants {
        let overrides = &grant.overrides;
        within(limits::count("overrides.max_consumptions", overrides.max_consumptions))?;
        within(limits::count("overrides.max_overages", overrides.max_overages))?;
        within(limits::count("overrides.floating_seats", overrides.floating_seats))?;
        require_instant("overrides.expires_at", overrides.expires_at)?;
    }
    let known = state.store.list_features(Some(product_id)).await?;
    for grant in grants {
        if !known.iter().any(|f| f.spec.code == grant.code) {
            return Err(ApiError::unprocessable(format!(
                "unknown feature code {:?} for this product",
                grant.code
            )));
        }
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies", params(ProductFilter), responses((status = 200, body = Vec<Policy>)), security(("bearer" = [])))]
pub async fn list_policies(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ProductFilter>,
) -> Result<Json<Vec<Policy>>, ApiError> {
    Ok(Json(
        state.store.list_policies(filter.product_id.map(ProductId::new)).await?,
    ))
}

#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies", params(("id" = i64, Path)), responses((status = 200, body = Policy), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_policy(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Policy>, ApiError> {
    ok_json("policy", state.store.get_policy(id)).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePolicy {
    pub name: Option<String>,
    pub terms: Option<LicenseTerms>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub duration_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub maintenance_days: Option<Option<i64>>,
    pub features: Option<Vec<FeatureGrant>>,
    pub metadata: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/v1/policies/{id}", tag = "policies", params(("id" = i64, Path)), request_body = UpdatePolicy, responses((status = 200, body = Policy)), security(("bearer" = [])))]
pub async fn update_policy(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdatePolicy>,
) -> Result<Json<Policy>, ApiError> {
    let mut policy = state.store.get_policy(id).await.for_resource("policy")?;
    if let Some(name) = body.name {
        require_text("name", &name, 256)?;
        policy.name = name;
    }
    if let Some(terms) = body.terms {
        check_terms(&terms)?;
        policy.terms = terms;
    }
    if let Some(days) = body.duration_days {
        require_days("duration_days", days)?;
        policy.duration_days = days;
    }
    if let Some(days) = body.maintenance_days {
        require_days("maintenance_days", days)?;
        policy.maintenance_days = days;
    }
    if let Some(features) = body.features {
        check_feature_codes(&state, policy.product_id, &features).await?;
        policy.features = features;
    }
    if body.metadata.is_some() {
        policy.metadata = metadata_or_empty(body.metadata)?;
    }
    let event = admin.event("policy.updated", "policy").subject(id);
    ok_json("policy", state.store.update_policy(policy, event, state.now())).await
}

#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies", params(("id" = i64, Path)), responses((status = 204), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_policy(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("policy.deleted", "policy").subject(id);
    no_content("policy", state.store.delete_policy(id, event, state.now())).await
}
