//! Native `/v1/dna/…` management of what the DNA dialect adds: a product's IP lockout policy, a
//! license's end-user and admin passwords, activation email and license data, ending IP lockouts,
//! and InfoTags (recorded by the vendor's back-end, read by DNA clients).
use licensd_domain::LicenseId;
use licensd_domain::ProductId;

use crate::error::{ApiError, ErrorBody};
use crate::http::Admin;
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::validate::optional_text;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use licensd_domain::lockout::IpLockoutPolicy;
use licensd_domain::status_keywords::{KeywordFacts, status_keywords};
use licensd_store::dialects::dna::{DnaPassword, InfoTag};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/dna/products/{id}/ip-lockout",
            get(get_ip_lockout).put(set_ip_lockout),
        )
        .route("/v1/dna/licenses/{id}", get(get_dna_license).patch(update_dna_license))
        .route("/v1/dna/licenses/{id}/password", put(set_password))
        .route("/v1/dna/licenses/{id}/admin-password", put(set_admin_password))
        .route("/v1/dna/licenses/{id}/unlock", post(unlock))
        .route(
            "/v1/dna/licenses/{id}/reset-reactivation-lockout",
            post(reset_reactivation_lockout),
        )
        .route(
            "/v1/dna/licenses/{id}/info-tags",
            get(list_info_tags).post(add_info_tag),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        get_ip_lockout,
        set_ip_lockout,
        get_dna_license,
        update_dna_license,
        set_password,
        set_admin_password,
        unlock,
        reset_reactivation_lockout,
        list_info_tags,
        add_info_tag
    ),
    components(schemas(
        IpLockoutPolicy,
        DnaLicenseView,
        UpdateDnaLicense,
        DnaPasswordBody,
        Unlocked,
        Cleared,
        InfoTagView,
        NewInfoTag
    ))
)]
struct DnaAdminDoc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    DnaAdminDoc::openapi()
}

fn not_found(what: &'static str) -> impl Fn(licensd_store::StoreError) -> ApiError {
    move |e| ApiError::from_store(e, what)
}

#[utoipa::path(get, path = "/v1/dna/products/{id}/ip-lockout", tag = "dna", params(("id" = i64, Path)), responses((status = 200, body = IpLockoutPolicy), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_ip_lockout(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
) -> Result<Json<IpLockoutPolicy>, ApiError> {
    Ok(Json(
        state.store.ip_lockout_policy(id).await.map_err(not_found("product"))?,
    ))
}

/// How many failed end-user password attempts from one IP within `window_seconds` lock that IP out
/// of a license of this product for `lockout_seconds`.
#[utoipa::path(put, path = "/v1/dna/products/{id}/ip-lockout", tag = "dna", params(("id" = i64, Path)), request_body = IpLockoutPolicy, responses((status = 200, body = IpLockoutPolicy), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_ip_lockout(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(policy): ApiJson<IpLockoutPolicy>,
) -> Result<Json<IpLockoutPolicy>, ApiError> {
    if !policy.is_valid() {
        return Err(ApiError::unprocessable(
            "max_failures, window_seconds and lockout_seconds must each be at least 1",
        ));
    }
    let event = admin.event("dna.ip_lockout_policy_set", "product").subject(id);
    let saved = state
        .store
        .set_ip_lockout_policy(id, policy, event, state.now())
        .await
        .map_err(not_found("product"))?;
    Ok(Json(saved))
}

/// A license's DNA data (secrets are never shown, only whether they are set).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DnaLicenseView {
    pub license_id: i64,
    /// The DNA status KeyWords, e.g. `EXISTS ACTIVATION ACTIVATED VALID`.
    pub status: String,
    pub password_set: bool,
    pub admin_password_set: bool,
    pub activation_email: Option<String>,
    pub license_data: Option<String>,
    /// Whether some end-user IP is locked out of the license now.
    pub ip_locked: bool,
}

async fn view(state: &AppState, license_id: LicenseId) -> Result<DnaLicenseView, ApiError> {
    let license = state
        .store
        .get_license(license_id)
        .await
        .map_err(not_found("license"))?;
    let product = state.store.get_product(license.product_id).await?;
    let now = state.now();
    let facts = state.store.license_facts(&license, now).await?;
    let dna = state
        .store
        .license_account(license_id)
        .await
        .map_err(not_found("license"))?;
    let keywords = status_keywords(
        Some(KeywordFacts {
            product: &product,
            license: &license,
            active_devices: facts.active_devices,
            recent_activations: facts.recent_activations,
            ip_locked: facts.ip_locked,
        }),
        now,
    );
    Ok(DnaLicenseView {
        license_id: license_id.get(),
        status: keywords.render(),
        password_set: dna.password_hash.is_some(),
        admin_password_set: dna.admin_password_hash.is_some(),
        activation_email: dna.activation_email,
        license_data: dna.license_data,
        ip_locked: facts.ip_locked,
    })
}

#[utoipa::path(get, path = "/v1/dna/licenses/{id}", tag = "dna", params(("id" = i64, Path)), responses((status = 200, body = DnaLicenseView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_dna_license(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<DnaLicenseView>, ApiError> {
    Ok(Json(view(&state, id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDnaLicense {
    pub activation_email: Option<String>,
    pub license_data: Option<String>,
}

#[utoipa::path(patch, path = "/v1/dna/licenses/{id}", tag = "dna", params(("id" = i64, Path)), request_body = UpdateDnaLicense, responses((status = 200, body = DnaLicenseView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_dna_license(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<UpdateDnaLicense>,
) -> Result<Json<DnaLicenseView>, ApiError> {
    optional_text("activation_email", &body.activation_email, 254)?;
    optional_text("license_data", &body.license_data, 4096)?;
    if body.activation_email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(ApiError::unprocessable("activation_email must be an email address"));
    }
    let event = admin.event("dna.license_update", "license").subject(id);
    state
        .store
        .update_license_account(id, body.activation_email, body.license_data, event, state.now())
        .await
        .map_err(not_found("license"))?;
    Ok(Json(view(&state, id).await?))
}

/// A new password (at most 16 characters, as DNA allows), or `null` to remove it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DnaPasswordBody {
    pub password: Option<String>,
}

async fn store_password(
    admin: &Admin,
    state: &AppState,
    id: LicenseId,
    which: DnaPassword,
    password: Option<String>,
) -> Result<StatusCode, ApiError> {
    let hash = match password {
        Some(password) => {
            let chars = password.chars().count();
            if chars == 0 || chars > 16 {
                return Err(ApiError::unprocessable("password must be 1 to 16 characters"));
            }
            Some(
                crate::http::password::hash(password)
                    .await
                    .map_err(|_| ApiError::internal())?,
            )
        }
        None => None,
    };
    let action = match which {
        DnaPassword::User => "dna.password_set",
        DnaPassword::Admin => "dna.admin_password_set",
    };
    let event = admin.event(action, "license").subject(id);
    state
        .store
        .set_license_password(id, which, hash, event, state.now())
        .await
        .map_err(not_found("license"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the end user's license password (DNA's `LicensePassword`).
#[utoipa::path(put, path = "/v1/dna/licenses/{id}/password", tag = "dna", params(("id" = i64, Path)), request_body = DnaPasswordBody, responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_password(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<DnaPasswordBody>,
) -> Result<StatusCode, ApiError> {
    store_password(&admin, &state, id, DnaPassword::User, body.password).await
}

/// Sets a multi-user license's admin password.
#[utoipa::path(put, path = "/v1/dna/licenses/{id}/admin-password", tag = "dna", params(("id" = i64, Path)), request_body = DnaPasswordBody, responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_admin_password(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<DnaPasswordBody>,
) -> Result<StatusCode, ApiError> {
    store_password(&admin, &state, id, DnaPassword::Admin, body.password).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unlocked {
    /// End-user IPs whose failed attempts or lockout were cleared.
    pub cleared: u64,
}

/// Ends every IP lockout of the license and forgets its failed password attempts.
#[utoipa::path(post, path = "/v1/dna/licenses/{id}/unlock", tag = "dna", params(("id" = i64, Path)), responses((status = 200, body = Unlocked), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn unlock(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Unlocked>, ApiError> {
    let event = admin.event("dna.ip_lockout_cleared", "license").subject(id);
    let cleared = state
        .store
        .clear_ip_lockouts(id, event, state.now())
        .await
        .map_err(not_found("license"))?;
    Ok(Json(Unlocked { cleared }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cleared {
    /// Past activations that no longer count towards the reactivation lockout.
    pub cleared: u64,
}

/// Resets the reactivation lockout (DNA's REACTLOCKOUT): the license's past activations stop
/// counting towards it; they stay on record for audits.
#[utoipa::path(post, path = "/v1/dna/licenses/{id}/reset-reactivation-lockout", tag = "dna", params(("id" = i64, Path)), responses((status = 200, body = Cleared), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn reset_reactivation_lockout(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Cleared>, ApiError> {
    let event = admin.event("dna.reactivation_lockout_reset", "license").subject(id);
    let cleared = state
        .store
        .reset_reactivation_lockout(id, event, state.now())
        .await
        .map_err(not_found("license"))?;
    Ok(Json(Cleared { cleared }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InfoTagView {
    pub id: i64,
    pub license_id: i64,
    pub tag: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

impl From<InfoTag> for InfoTagView {
    fn from(t: InfoTag) -> Self {
        Self {
            id: t.id,
            license_id: t.license_id.get(),
            tag: t.tag,
            at: t.at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInfoTag {
    /// The registration or usage information the application reported (at most 4096 bytes).
    pub tag: String,
}

#[utoipa::path(get, path = "/v1/dna/licenses/{id}/info-tags", tag = "dna", params(("id" = i64, Path)), responses((status = 200, body = [InfoTagView]), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_info_tags(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Vec<InfoTagView>>, ApiError> {
    let page = licensd_store::Page {
        after: None,
        limit: 1000,
    };
    let tags = state
        .store
        .list_info_tags(id, page)
        .await
        .map_err(not_found("license"))?;
    Ok(Json(tags.into_iter().map(InfoTagView::from).collect()))
}

/// Records an InfoTag an application reported for the license (DNA shows the latest in the
/// license details and the history through …/infotags).
#[utoipa::path(post, path = "/v1/dna/licenses/{id}/info-tags", tag = "dna", params(("id" = i64, Path)), request_body = NewInfoTag, responses((status = 201, body = InfoTagView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn add_info_tag(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<NewInfoTag>,
) -> Result<(StatusCode, Json<InfoTagView>), ApiError> {
    crate::http::validate::require_text("tag", &body.tag, 4096)?;
    let event = admin.event("dna.info_tag_add", "license").subject(id);
    let tag = state
        .store
        .add_info_tag(id, &body.tag, event, state.now())
        .await
        .map_err(not_found("license"))?;
    Ok((StatusCode::CREATED, Json(tag.into())))
}
