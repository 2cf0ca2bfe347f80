//! Native management (`/v1/slascone/…`, bearer admin token) of the concepts the SLASCONE dialect
//! brings into the domain: analytical fields, usage features and usage modules of a product, and
//! the usage and analytical values a license's clients reported; and the ISV id the dialect
//! answers to (`GET /v1/slascone/isv`).
use licensd_domain::CustomerId;
use licensd_domain::{LicenseId, ProductId};

use crate::error::{ApiError, ErrorBody, ForResource, created, no_content};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::validate::require_text;
use crate::http::{Admin, lookup};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use licensd_domain::Customer;
use licensd_domain::analytics::{AnalyticalField, AnalyticalFieldType, UsageFeature, UsageModule};
use licensd_domain::backoffice::{self, CustomerProfile, Entry, EntryKind, TagTarget};
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
        .route("/v1/slascone/entries/{kind}", get(list_entries).post(create_entry))
        .route("/v1/slascone/customers", axum::routing::post(create_customer))
        .route("/v1/slascone/customers/{id}", get(get_customer_profile))
        .route("/v1/slascone/tags/{id}/assignments", axum::routing::post(assign_tag))
        .route("/v1/slascone/licenses/{id}/tags", get(license_tags))
        .route(
            "/v1/slascone/licenses/{id}/values",
            get(license_values).put(set_license_value),
        )
        .route(
            "/v1/slascone/licenses/{id}/legacy-key",
            axum::routing::put(set_legacy_key),
        )
        .route("/v1/slascone/isv", get(isv_id))
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
        license_analytics,
        list_entries,
        create_entry,
        create_customer,
        get_customer_profile,
        assign_tag,
        license_tags,
        license_values,
        set_license_value,
        set_legacy_key,
        isv_id
    ),
    components(schemas(
        AnalyticalField,
        AnalyticalFieldType,
        UsageFeature,
        UsageModule,
        CreateAnalyticalField,
        CreateNamed,
        UsageTotalView,
        AnalyticalValueView,
        Entry,
        EntryKind,
        CustomerProfile,
        CreateEntry,
        CreateCustomer,
        CustomerWithProfile,
        AssignTag,
        SetLicenseValue,
        LicenseValueView,
        SetLegacyKey,
        IsvView
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

/// The ISV id the SLASCONE dialect answers to (`/api/v2/isv/{isv_id}`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IsvView {
    /// `--slascone-isv-id`, or the one licensd generated on its first start (see `isv.rs`).
    pub isv_id: String,
}

#[utoipa::path(get, path = "/v1/slascone/isv", tag = "slascone", responses((status = 200, body = IsvView)), security(("bearer" = [])))]
pub async fn isv_id(_admin: Admin, State(state): State<AppState>) -> Json<IsvView> {
    Json(IsvView {
        isv_id: state.settings.slascone_isv_id.clone(),
    })
}

#[utoipa::path(get, path = "/v1/slascone/products/{id}/analytical-fields", tag = "slascone", responses((status = 200, body = Vec<AnalyticalField>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_analytical_fields(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
) -> Result<Json<Vec<AnalyticalField>>, ApiError> {
    lookup::product(&state, id).await?;
    Ok(Json(state.store.analytical_fields(id).await?))
}

#[utoipa::path(post, path = "/v1/slascone/products/{id}/analytical-fields", tag = "slascone", request_body = CreateAnalyticalField, responses((status = 201, body = AnalyticalField), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_analytical_field(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<CreateAnalyticalField>,
) -> Result<(StatusCode, Json<AnalyticalField>), ApiError> {
    require_text("name", &body.name, 256)?;
    lookup::product(&state, id).await?;
    let write = state.store.create_analytical_field(
        id,
        body.name.trim(),
        body.field_type,
        admin.event("slascone.analytical_field_created", "product"),
        state.now(),
    );
    created("analytical field", write).await
}

#[utoipa::path(get, path = "/v1/slascone/products/{id}/usage-features", tag = "slascone", responses((status = 200, body = Vec<UsageFeature>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_usage_features(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
) -> Result<Json<Vec<UsageFeature>>, ApiError> {
    lookup::product(&state, id).await?;
    Ok(Json(state.store.usage_features(id).await?))
}

#[utoipa::path(post, path = "/v1/slascone/products/{id}/usage-features", tag = "slascone", request_body = CreateNamed, responses((status = 201, body = UsageFeature), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_usage_feature(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<CreateNamed>,
) -> Result<(StatusCode, Json<UsageFeature>), ApiError> {
    require_text("name", &body.name, 256)?;
    lookup::product(&state, id).await?;
    let write = state.store.create_usage_feature(
        id,
        body.name.trim(),
        admin.event("slascone.usage_feature_created", "product"),
        state.now(),
    );
    created("usage feature", write).await
}

#[utoipa::path(get, path = "/v1/slascone/usage-features/{id}/modules", tag = "slascone", responses((status = 200, body = Vec<UsageModule>)), security(("bearer" = [])))]
pub async fn list_usage_modules(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<UsageModule>>, ApiError> {
    Ok(Json(state.store.usage_modules(id).await?))
}

#[utoipa::path(post, path = "/v1/slascone/usage-features/{id}/modules", tag = "slascone", request_body = CreateNamed, responses((status = 201, body = UsageModule), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_usage_module(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CreateNamed>,
) -> Result<(StatusCode, Json<UsageModule>), ApiError> {
    require_text("name", &body.name, 256)?;
    let write = state.store.create_usage_module(
        id,
        body.name.trim(),
        admin.event("slascone.usage_module_created", "usage_feature"),
        state.now(),
    );
    created("usage feature", write).await
}

#[utoipa::path(get, path = "/v1/slascone/licenses/{id}/usage", tag = "slascone", responses((status = 200, body = Vec<UsageTotalView>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn license_usage(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Vec<UsageTotalView>>, ApiError> {
    lookup::license(&state, id).await?;
    let totals = state.store.usage_totals(id).await?;
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
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Vec<AnalyticalValueView>>, ApiError> {
    lookup::license(&state, id).await?;
    let values = state.store.analytical_values(id).await?;
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

// --- back office: the same store commands the dialect's AdminKey paths use (backoffice/) ---

fn kind_of(text: &str) -> Result<EntryKind, ApiError> {
    EntryKind::parse(text).ok_or_else(|| ApiError::not_found("entry kind"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeQuery {
    /// The product (license types, heartbeat types, variables) or reseller (contacts).
    pub scope_id: Option<i64>,
}

#[utoipa::path(get, path = "/v1/slascone/entries/{kind}", tag = "slascone", params(("kind" = EntryKind, Path), ScopeQuery), responses((status = 200, body = Vec<Entry>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_entries(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(kind): ApiPath<String>,
    crate::http::extract::ApiQuery(query): crate::http::extract::ApiQuery<ScopeQuery>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    let kind = kind_of(&kind)?;
    Ok(Json(state.store.list_entries(kind, query.scope_id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntry {
    /// 0 (or absent) for global kinds.
    #[serde(default)]
    pub scope_id: i64,
    /// Unique within (kind, scope): a webhook's URL, a reseller contact's email.
    pub name: String,
    pub detail: Option<String>,
}

#[utoipa::path(post, path = "/v1/slascone/entries/{kind}", tag = "slascone", params(("kind" = EntryKind, Path)), request_body = CreateEntry, responses((status = 201, body = Entry), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_entry(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(kind): ApiPath<String>,
    ApiJson(body): ApiJson<CreateEntry>,
) -> Result<(StatusCode, Json<Entry>), ApiError> {
    let kind = kind_of(&kind)?;
    let name = super::backoffice::entry_name(Some(&body.name))
        .ok_or_else(|| ApiError::unprocessable("name must be 1 to 256 characters"))?;
    if kind == EntryKind::Webhook && !backoffice::valid_webhook_url(&name) {
        return Err(ApiError::unprocessable(
            "a webhook's name is its URL: an absolute http(s) URL",
        ));
    }
    match super::backoffice::check_entry_scope(&state, kind, body.scope_id).await {
        Ok(()) => {}
        Err(None) => {
            return Err(ApiError::unprocessable(
                "scope_id does not name this kind's product or reseller (0 for global kinds)",
            ));
        }
        Err(Some(error)) => return Err(error.into()),
    }
    let detail = body.detail.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let entry = state
        .store
        .create_entry(
            kind,
            body.scope_id,
            &name,
            detail,
            admin.event(&format!("slascone.{}_created", kind.as_str()), kind.as_str()),
            state.now(),
        )
        .await
        .for_resource("entry")?;
    Ok((StatusCode::CREATED, Json(entry)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub email: String,
    pub company: String,
    pub customer_number: String,
    pub prospect_number: Option<String>,
    pub customer_type_id: Option<i64>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// ISO 639-1.
    pub language: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerWithProfile {
    pub customer: Customer,
    pub profile: CustomerProfile,
}

#[utoipa::path(post, path = "/v1/slascone/customers", tag = "slascone", request_body = CreateCustomer, responses((status = 201, body = CustomerWithProfile), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_customer(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> Result<(StatusCode, Json<CustomerWithProfile>), ApiError> {
    require_text("email", &body.email, 254)?;
    require_text("company", &body.company, 256)?;
    require_text("customer_number", &body.customer_number, 128)?;
    let email = body.email.trim().to_ascii_lowercase();
    if !licensd_domain::contact::is_plausible_email(&email) {
        return Err(ApiError::unprocessable("email is not a valid address"));
    }
    let country = match body.country.as_deref() {
        Some(text) => Some(backoffice::country_code(text).ok_or_else(|| ApiError::unprocessable("unknown country"))?),
        None => None,
    };
    let language = match body.language.as_deref() {
        Some(text) => Some(backoffice::language_code(text).ok_or_else(|| ApiError::unprocessable("unknown language"))?),
        None => None,
    };
    if let Some(type_id) = body.customer_type_id
        && state
            .store
            .find_entry(EntryKind::CustomerType, type_id)
            .await?
            .is_none()
    {
        return Err(ApiError::unprocessable("unknown customer type"));
    }
    let profile = CustomerProfile {
        customer_id: CustomerId::new(0),
        customer_number: body.customer_number.trim().to_owned(),
        prospect_number: body
            .prospect_number
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
        customer_type_id: body.customer_type_id,
        country,
        language,
    };
    let (customer, profile) = state
        .store
        .create_customer_with_profile(
            &email,
            body.company.trim(),
            profile,
            admin.event("slascone.customer_created", "customer"),
            state.now(),
        )
        .await
        .for_resource("customer")?;
    Ok((StatusCode::CREATED, Json(CustomerWithProfile { customer, profile })))
}

#[utoipa::path(get, path = "/v1/slascone/customers/{id}", tag = "slascone", responses((status = 200, body = CustomerWithProfile), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_customer_profile(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<CustomerId>,
) -> Result<Json<CustomerWithProfile>, ApiError> {
    let customer = state.store.get_customer(id).await.for_resource("customer")?;
    let profile = state
        .store
        .customer_profile(id)
        .await?
        .ok_or_else(|| ApiError::not_found("SLASCONE customer profile"))?;
    Ok(Json(CustomerWithProfile { customer, profile }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignTag {
    pub customer_id: Option<i64>,
    pub license_id: Option<i64>,
}

#[utoipa::path(post, path = "/v1/slascone/tags/{id}/assignments", tag = "slascone", request_body = AssignTag, responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn assign_tag(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AssignTag>,
) -> Result<StatusCode, ApiError> {
    let (target, target_id) = match (body.customer_id, body.license_id) {
        (Some(customer), None) => (TagTarget::Customer, customer),
        (None, Some(license)) => (TagTarget::License, license),
        _ => {
            return Err(ApiError::unprocessable(
                "give exactly one of customer_id and license_id",
            ));
        }
    };
    let write = state.store.assign_tag(
        id,
        target,
        target_id,
        admin.event("slascone.tag_assigned", "tag"),
        state.now(),
    );
    no_content("tag or target", write).await
}

#[utoipa::path(get, path = "/v1/slascone/licenses/{id}/tags", tag = "slascone", responses((status = 200, body = Vec<Entry>)), security(("bearer" = [])))]
pub async fn license_tags(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    Ok(Json(state.store.tags_of(TagTarget::License, id).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LicenseValueView {
    pub entry: Entry,
    pub value: String,
}

#[utoipa::path(get, path = "/v1/slascone/licenses/{id}/values", tag = "slascone", responses((status = 200, body = Vec<LicenseValueView>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn license_values(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Vec<LicenseValueView>>, ApiError> {
    lookup::license(&state, id).await?;
    let values = state.store.license_values(id).await?;
    Ok(Json(
        values
            .into_iter()
            .map(|(entry, value)| LicenseValueView { entry, value })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLicenseValue {
    /// A variable or license type of the license's product.
    pub entry_id: i64,
    #[serde(default)]
    pub value: String,
}

#[utoipa::path(put, path = "/v1/slascone/licenses/{id}/values", tag = "slascone", request_body = SetLicenseValue, responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_license_value(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<SetLicenseValue>,
) -> Result<StatusCode, ApiError> {
    let license = lookup::license(&state, id).await?;
    if body.value.chars().count() > 4096 {
        return Err(ApiError::unprocessable("value is longer than 4096 characters"));
    }
    let mut entry = None;
    for kind in [EntryKind::Variable, EntryKind::LicenseType] {
        if let Some(found) = state.store.find_entry(kind, body.entry_id).await? {
            entry = Some(found);
        }
    }
    let entry = entry
        .filter(|e| e.scope_id == license.product_id.get())
        .ok_or_else(|| {
            ApiError::unprocessable("entry_id is not a variable or license type of the license's product")
        })?;
    let write = state.store.set_license_value(
        id,
        entry.id,
        &body.value,
        admin.event("slascone.license_value_set", "license"),
        state.now(),
    );
    no_content("license", write).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLegacyKey {
    pub legacy_key: String,
}

#[utoipa::path(put, path = "/v1/slascone/licenses/{id}/legacy-key", tag = "slascone", request_body = SetLegacyKey, responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_legacy_key(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<SetLegacyKey>,
) -> Result<StatusCode, ApiError> {
    require_text("legacy_key", &body.legacy_key, 256)?;
    let write = state.store.set_legacy_key(
        id,
        body.legacy_key.trim(),
        admin.event("slascone.legacy_key_set", "license"),
        state.now(),
    );
    no_content("license", write).await
}
