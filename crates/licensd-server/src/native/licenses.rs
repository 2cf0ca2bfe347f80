//! Licenses (single and bulk issue, edits, state changes), devices and the device block-list.

use super::catalog::{check_feature_codes, check_terms};
use super::{PageQuery, Paged};
use crate::error::{ApiError, ErrorBody, ForResource, created, no_content, ok_json};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::validate::{metadata_or_empty, optional_text, require_days, require_instant, require_text};
use crate::http::{Admin, lookup};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licensd_domain::keygen::KeyPattern;
use licensd_domain::*;
use licensd_store::{LicenseEdit, LicenseFilter, LicenseSettings, NewBlockedDevice, NewLicense};
use serde::{Deserialize, Serialize};

/// Fields shared by single and bulk issue. Values given here win over the policy's.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenseFields {
    /// The key to issue; generated with the default pattern when absent (key-based products).
    /// Not allowed in bulk requests, whose keys come from the pattern.
    pub key: Option<String>,
    pub product_id: i64,
    /// Stamp terms, dates and features from this policy of the same product.
    pub policy_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub status: Option<LicenseStatus>,
    pub assignment: Option<Assignment>,
    pub terms: Option<LicenseTerms>,
    pub starts_at: Option<Millis>,
    pub expires_at: Option<Millis>,
    pub maintenance_expires_at: Option<Millis>,
    pub trial_days: Option<i64>,
    pub order_ref: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub features: Option<Vec<FeatureGrant>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkCreateLicenses {
    pub count: usize,
    #[serde(default)]
    pub pattern: KeyPattern,
    /// What every license in the batch is issued with.
    pub license: LicenseFields,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkCreated {
    pub created: usize,
    pub licenses: Vec<IssuedKey>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub id: i64,
    pub key: Option<String>,
}

/// Builds the license to insert from the request, its policy and the product.
async fn prepare(state: &AppState, fields: &LicenseFields) -> Result<(Product, NewLicense), ApiError> {
    let now = state.now();
    let product = state
        .store
        .get_product(ProductId::new(fields.product_id))
        .await
        .for_resource("product")?;
    let (mut terms, mut expires_at, mut maintenance, mut features) = (LicenseTerms::default(), None, None, Vec::new());
    if let Some(policy_id) = fields.policy_id {
        let policy = state.store.get_policy(policy_id).await.for_resource("policy")?;
        if policy.product_id != product.id {
            return Err(ApiError::unprocessable("policy belongs to another product"));
        }
        (terms, expires_at, maintenance) = rules::stamp_from_policy(&policy, now);
        features = policy.features;
    }
    if let Some(explicit) = &fields.terms {
        terms = explicit.clone();
    }
    check_terms(&terms)?;
    require_instant("starts_at", fields.starts_at)?;
    require_instant("expires_at", fields.expires_at)?;
    require_instant("maintenance_expires_at", fields.maintenance_expires_at)?;
    require_days("trial_days", fields.trial_days)?;
    if fields.expires_at.is_some() {
        expires_at = fields.expires_at;
    }
    if fields.maintenance_expires_at.is_some() {
        maintenance = fields.maintenance_expires_at;
    }
    if let Some(explicit) = &fields.features {
        features = explicit.clone();
    }
    check_feature_codes(state, product.id, &features).await?;
    if let Some(customer_id) = fields.customer_id {
        state
            .store
            .get_customer(CustomerId::new(customer_id))
            .await
            .for_resource("customer")?;
    }
    if let (Some(start), Some(end)) = (fields.starts_at, expires_at)
        && end <= start
    {
        return Err(ApiError::unprocessable("expires_at must be after starts_at"));
    }
    optional_text("order_ref", &fields.order_ref, 256)?;
    let key = fields.key.clone();
    if let Some(key) = &key {
        require_text("key", key, 512)?;
    }
    // Trials and evaluation codes run the product's trial days from their first activation
    // unless the license says otherwise; test codes default to `rules::TEST_CODE_DAYS`
    // (`rules::expiry_days_after_activation`).
    let trial_days = fields
        .trial_days
        .or(matches!(terms.kind, LicenseKind::Trial | LicenseKind::Evaluation)
            .then_some(product.trial_days)
            .filter(|days| *days > 0));
    let new = NewLicense {
        product_id: product.id,
        key,
        settings: LicenseSettings {
            policy_id: fields.policy_id,
            customer_id: fields.customer_id.map(CustomerId::new),
            status: fields.status.unwrap_or(LicenseStatus::Active),
            assignment: fields.assignment.unwrap_or(Assignment::Assigned),
            terms,
            starts_at: fields.starts_at,
            expires_at,
            maintenance_expires_at: maintenance,
            trial_days,
            order_ref: fields.order_ref.clone(),
            metadata: metadata_or_empty(fields.metadata.clone())?,
        },
        features,
    };
    Ok((product, new))
}

fn generate_key(pattern: &KeyPattern) -> Result<String, ApiError> {
    let mut random = vec![0u8; pattern.bytes_needed()];
    licensd_crypto::random_bytes(&mut random).map_err(|_| ApiError::internal())?;
    Ok(pattern.generate(&random))
}

#[utoipa::path(post, path = "/v1/licenses", tag = "licenses", request_body = LicenseFields,
    responses((status = 201, body = License), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LicenseFields>,
) -> Result<(StatusCode, Json<License>), ApiError> {
    let (product, mut new) = prepare(&state, &body).await?;
    if new.key.is_none() && product.auth_method == AuthMethod::Key {
        new.key = Some(generate_key(&KeyPattern::default())?);
    }
    let mut created = state
        .store
        .create_licenses(vec![new], admin.event("license.created", "license"), state.now())
        .await
        .for_resource("license")?;
    let license = created.pop().ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(license)))
}

#[utoipa::path(post, path = "/v1/licenses/bulk", tag = "licenses", request_body = BulkCreateLicenses,
    responses((status = 201, body = BulkCreated), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn bulk_create_licenses(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BulkCreateLicenses>,
) -> Result<(StatusCode, Json<BulkCreated>), ApiError> {
    let (batch, event) = prepare_bulk(&admin, &state, &body).await?;
    let created = state
        .store
        .create_licenses(batch, event, state.now())
        .await
        .for_resource("license")?;
    Ok((StatusCode::CREATED, Json(bulk_created(created))))
}

/// The checks and the licences of a bulk issue, with its event: shared by `POST /v1/licenses/bulk`
/// and the console's bulk-issue jobs (which issue them with
/// `BulkJobStore::create_licenses_for_bulk_job`, the same insert in one transaction).
pub async fn prepare_bulk(
    admin: &Admin,
    state: &AppState,
    body: &BulkCreateLicenses,
) -> Result<(Vec<NewLicense>, licensd_domain::EventDraft), ApiError> {
    let max = state.settings.max_bulk_licenses;
    if body.count == 0 || body.count > max {
        return Err(ApiError::unprocessable(format!("count must be between 1 and {max}")));
    }
    body.pattern
        .validate()
        .map_err(|e| ApiError::unprocessable(format!("pattern: {e}")))?;
    if body.license.key.is_some() {
        return Err(ApiError::unprocessable(
            "license.key is not allowed in bulk requests; keys come from the pattern",
        ));
    }
    let (_product, template) = prepare(state, &body.license).await?;
    let mut batch = Vec::with_capacity(body.count);
    let mut seen = std::collections::HashSet::with_capacity(body.count);
    while batch.len() < body.count {
        let key = generate_key(&body.pattern)?;
        // A collision inside the batch is astronomically unlikely with >= 64 bits, but cheap to rule out.
        if seen.insert(key.clone()) {
            batch.push(NewLicense {
                key: Some(key),
                ..template.clone()
            });
        }
    }
    let event = admin
        .event("license.bulk_created", "license")
        .data(serde_json::json!({"count": body.count}));
    Ok((batch, event))
}

/// The answer to a bulk issue.
pub fn bulk_created(created: Vec<License>) -> BulkCreated {
    let licenses = created
        .into_iter()
        .map(|l| IssuedKey {
            id: l.id.get(),
            key: l.key,
        })
        .collect::<Vec<_>>();
    BulkCreated {
        created: licenses.len(),
        licenses,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LicenseQuery {
    pub product_id: Option<i64>,
    pub policy_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub status: Option<LicenseStatus>,
    pub order_ref: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/licenses", tag = "licenses", params(LicenseQuery), responses((status = 200, body = Paged<License>)), security(("bearer" = [])))]
pub async fn list_licenses(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LicenseQuery>,
) -> Result<Json<Paged<License>>, ApiError> {
    let page = PageQuery::of(query.after, query.limit)?;
    let filter = LicenseFilter {
        product_id: query.product_id.map(ProductId::new),
        policy_id: query.policy_id,
        customer_id: query.customer_id.map(CustomerId::new),
        status: query.status,
        order_ref: query.order_ref,
    };
    let licenses = state.store.list_licenses(filter, page).await?;
    Ok(Json(Paged::new(licenses, page.limit, |l| l.id.get())))
}

/// A license with its features and devices.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LicenseDetail {
    #[serde(flatten)]
    pub license: License,
    pub features: Vec<LicenseFeature>,
    pub devices: Vec<Device>,
}

#[utoipa::path(get, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = i64, Path)), responses((status = 200, body = LicenseDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_license(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<LicenseDetail>, ApiError> {
    let license = lookup::license(&state, id).await?;
    let features = state.store.license_features(id).await?;
    let devices = state.store.list_devices(id).await?;
    Ok(Json(LicenseDetail {
        license,
        features,
        devices,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLicense {
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub customer_id: Option<Option<i64>>,
    pub status: Option<LicenseStatus>,
    pub assignment: Option<Assignment>,
    pub terms: Option<LicenseTerms>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub starts_at: Option<Option<Millis>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub expires_at: Option<Option<Millis>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub maintenance_expires_at: Option<Option<Millis>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub trial_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub order_ref: Option<Option<String>>,
    pub metadata: Option<serde_json::Value>,
    pub features: Option<Vec<FeatureGrant>>,
}

#[utoipa::path(patch, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = i64, Path)), request_body = UpdateLicense, responses((status = 200, body = License), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<UpdateLicense>,
) -> Result<Json<License>, ApiError> {
    let license = lookup::license(&state, id).await?;
    let mut edit = LicenseEdit::from_license(&license);
    if let Some(customer_id) = body.customer_id {
        if let Some(id) = customer_id {
            state
                .store
                .get_customer(CustomerId::new(id))
                .await
                .for_resource("customer")?;
        }
        edit.settings.customer_id = customer_id.map(CustomerId::new);
    }
    if let Some(status) = body.status {
        edit.settings.status = status;
    }
    if let Some(assignment) = body.assignment {
        edit.settings.assignment = assignment;
    }
    if let Some(terms) = body.terms {
        check_terms(&terms)?;
        edit.settings.terms = terms;
    }
    require_instant("starts_at", body.starts_at.flatten())?;
    require_instant("expires_at", body.expires_at.flatten())?;
    require_instant("maintenance_expires_at", body.maintenance_expires_at.flatten())?;
    require_days("trial_days", body.trial_days.flatten())?;
    if let Some(value) = body.starts_at {
        edit.settings.starts_at = value;
    }
    if let Some(value) = body.expires_at {
        edit.settings.expires_at = value;
    }
    if let Some(value) = body.maintenance_expires_at {
        edit.settings.maintenance_expires_at = value;
    }
    if let Some(value) = body.trial_days {
        edit.settings.trial_days = value;
    }
    if let Some(value) = body.order_ref {
        optional_text("order_ref", &value, 256)?;
        edit.settings.order_ref = value;
    }
    if body.metadata.is_some() {
        edit.settings.metadata = metadata_or_empty(body.metadata)?;
    }
    if let Some(features) = body.features {
        check_feature_codes(&state, license.product_id, &features).await?;
        edit.features = Some(features);
    }
    if let (Some(start), Some(end)) = (edit.settings.starts_at, edit.settings.expires_at)
        && end <= start
    {
        return Err(ApiError::unprocessable("expires_at must be after starts_at"));
    }
    let event = admin.event("license.updated", "license").subject(id);
    ok_json("license", state.store.edit_license(id, edit, event, state.now())).await
}

async fn set_status(
    admin: Admin,
    state: AppState,
    id: LicenseId,
    status: LicenseStatus,
    action: &str,
) -> Result<Json<License>, ApiError> {
    let license = lookup::license(&state, id).await?;
    let mut edit = LicenseEdit::from_license(&license);
    edit.settings.status = status;
    let event = admin.event(action, "license").subject(id);
    ok_json("license", state.store.edit_license(id, edit, event, state.now())).await
}

/// Sets the licence's consumption counters (its own and its features') back to zero and starts
/// a new consumption period now (event `license.consumption_reset`).
#[utoipa::path(post, path = "/v1/licenses/{id}/reset-consumption", tag = "licenses", params(("id" = i64, Path)), responses((status = 200, body = License), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn reset_consumption(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<License>, ApiError> {
    let event = admin.event("license.consumption_reset", "license").subject(id);
    state
        .store
        .reset_consumption(id, event, state.now())
        .await
        .for_resource("license")?;
    ok_json("license", state.store.get_license(id)).await
}

#[utoipa::path(post, path = "/v1/licenses/{id}/enable", tag = "licenses", params(("id" = i64, Path)), responses((status = 200, body = License)), security(("bearer" = [])))]
pub async fn enable_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<License>, ApiError> {
    set_status(admin, state, id, LicenseStatus::Active, "license.enabled").await
}

#[utoipa::path(post, path = "/v1/licenses/{id}/disable", tag = "licenses", params(("id" = i64, Path)), responses((status = 200, body = License)), security(("bearer" = [])))]
pub async fn disable_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<License>, ApiError> {
    set_status(admin, state, id, LicenseStatus::Disabled, "license.disabled").await
}

#[utoipa::path(post, path = "/v1/licenses/{id}/block", tag = "licenses", params(("id" = i64, Path)), responses((status = 200, body = License)), security(("bearer" = [])))]
pub async fn block_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<License>, ApiError> {
    set_status(admin, state, id, LicenseStatus::Blocked, "license.blocked").await
}

#[utoipa::path(delete, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("license.deleted", "license").subject(id);
    let write = state.store.delete_license(id, event, state.now());
    no_content("license", write).await
}

#[utoipa::path(get, path = "/v1/licenses/{id}/devices", tag = "devices", params(("id" = i64, Path)), responses((status = 200, body = Vec<Device>)), security(("bearer" = [])))]
pub async fn list_devices(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Vec<Device>>, ApiError> {
    lookup::license(&state, id).await?;
    Ok(Json(state.store.list_devices(id).await?))
}

#[utoipa::path(get, path = "/v1/licenses/{id}/leases", tag = "devices", params(("id" = i64, Path)), responses((status = 200, body = Vec<FloatingLease>)), security(("bearer" = [])))]
pub async fn list_leases(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Vec<FloatingLease>>, ApiError> {
    lookup::license(&state, id).await?;
    Ok(Json(state.store.live_leases(id, state.now()).await?))
}

#[utoipa::path(get, path = "/v1/devices/{id}", tag = "devices", params(("id" = i64, Path)), responses((status = 200, body = Device), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_device(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DeviceId>,
) -> Result<Json<Device>, ApiError> {
    ok_json("device", state.store.get_device(id)).await
}

#[utoipa::path(post, path = "/v1/devices/{id}/deactivate", tag = "devices", params(("id" = i64, Path)), responses((status = 200, body = Device), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn deactivate_device(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DeviceId>,
) -> Result<Json<Device>, ApiError> {
    let event = admin.event("device.deactivated", "device").subject(id);
    ok_json("device", state.store.deactivate_device(id, event, state.now())).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockDevice {
    /// Block for one product only; absent blocks the fingerprint everywhere.
    pub product_id: Option<i64>,
    pub fingerprint: String,
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/v1/blocked-devices", tag = "devices", request_body = BlockDevice, responses((status = 201, body = BlockedDevice), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn block_device(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BlockDevice>,
) -> Result<(StatusCode, Json<BlockedDevice>), ApiError> {
    require_text("fingerprint", &body.fingerprint, 512)?;
    optional_text("reason", &body.reason, 1024)?;
    let product_id = body.product_id.map(ProductId::new);
    if let Some(product_id) = product_id {
        lookup::product(&state, product_id).await?;
    }
    let new = NewBlockedDevice {
        product_id,
        fingerprint: body.fingerprint,
        reason: body.reason,
    };
    let event = admin.event("device.blocked", "blocked_device");
    created("blocked device", state.store.block_device(new, event, state.now())).await
}

#[utoipa::path(get, path = "/v1/blocked-devices", tag = "devices", params(super::catalog::ProductFilter), responses((status = 200, body = Vec<BlockedDevice>)), security(("bearer" = [])))]
pub async fn list_blocked_devices(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<super::catalog::ProductFilter>,
) -> Result<Json<Vec<BlockedDevice>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_blocked_devices(filter.product_id.map(ProductId::new))
            .await?,
    ))
}

#[utoipa::path(delete, path = "/v1/blocked-devices/{id}", tag = "devices", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn unblock_device(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("device.unblocked", "blocked_device").subject(id);
    no_content("blocked device", state.store.unblock_device(id, event, state.now())).await
}
