//! licensd's own API: management under `/v1` (admin bearer token) and the client actions our SDK
//! uses (`/v1/licenses/actions/*`, signed with Ed25519), including offline licence files
//! (`actions/checkout-file`, admin `/v1/licenses/{id}/license-file`; format in
//! docs/licence-file.md).

pub mod access;
pub mod catalog;
pub mod client;
pub mod health;
pub mod licence_file;
pub mod licenses;
pub mod openapi;
pub mod people;
pub mod webhooks;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use licensd_domain::EventDraft;
use serde::Deserialize;
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/openapi.json", get(openapi::document))
        .route(
            "/v1/products",
            post(catalog::create_product).get(catalog::list_products),
        )
        .route(
            "/v1/products/{id}",
            get(catalog::get_product)
                .patch(catalog::update_product)
                .delete(catalog::delete_product),
        )
        .route(
            "/v1/features",
            post(catalog::create_feature).get(catalog::list_features),
        )
        .route(
            "/v1/features/{id}",
            get(catalog::get_feature)
                .patch(catalog::update_feature)
                .delete(catalog::delete_feature),
        )
        .route("/v1/policies", post(catalog::create_policy).get(catalog::list_policies))
        .route(
            "/v1/policies/{id}",
            get(catalog::get_policy)
                .patch(catalog::update_policy)
                .delete(catalog::delete_policy),
        )
        .route(
            "/v1/licenses",
            post(licenses::create_license).get(licenses::list_licenses),
        )
        .route("/v1/licenses/bulk", post(licenses::bulk_create_licenses))
        .route(
            "/v1/licenses/{id}",
            get(licenses::get_license)
                .patch(licenses::update_license)
                .delete(licenses::delete_license),
        )
        .route("/v1/licenses/{id}/enable", post(licenses::enable_license))
        .route("/v1/licenses/{id}/disable", post(licenses::disable_license))
        .route("/v1/licenses/{id}/block", post(licenses::block_license))
        .route("/v1/licenses/{id}/devices", get(licenses::list_devices))
        .route("/v1/licenses/{id}/license-file", post(licence_file::issue_license_file))
        .route("/v1/licenses/{id}/leases", get(licenses::list_leases))
        .route(
            "/v1/licenses/{id}/users",
            get(people::users_of_license).post(people::assign_user),
        )
        .route("/v1/licenses/{id}/users/{user_id}", delete(people::unassign_user))
        .route("/v1/devices/{id}", get(licenses::get_device))
        .route("/v1/devices/{id}/deactivate", post(licenses::deactivate_device))
        .route(
            "/v1/blocked-devices",
            post(licenses::block_device).get(licenses::list_blocked_devices),
        )
        .route("/v1/blocked-devices/{id}", delete(licenses::unblock_device))
        .route(
            "/v1/customers",
            post(people::create_customer).get(people::list_customers),
        )
        .route(
            "/v1/customers/{id}",
            get(people::get_customer)
                .patch(people::update_customer)
                .delete(people::delete_customer),
        )
        .route(
            "/v1/license-users",
            post(people::create_license_user).get(people::list_license_users),
        )
        .route(
            "/v1/license-users/{id}",
            get(people::get_license_user).delete(people::delete_license_user),
        )
        .route(
            "/v1/license-users/{id}/password",
            post(people::set_license_user_password),
        )
        .route(
            "/v1/credentials",
            post(access::create_credential).get(access::list_credentials),
        )
        .route("/v1/credentials/{id}/revoke", post(access::revoke_credential))
        .route(
            "/v1/admin-tokens",
            post(access::create_admin_token).get(access::list_admin_tokens),
        )
        .route("/v1/admin-tokens/{id}/revoke", post(access::revoke_admin_token))
        .route("/v1/signing-keys", get(access::list_signing_keys))
        .route("/v1/signing-keys/rotate", post(access::rotate_signing_key))
        .route("/v1/events", get(access::list_events))
        .route(
            "/v1/webhooks",
            post(webhooks::create_webhook).get(webhooks::list_webhooks),
        )
        .route(
            "/v1/webhooks/{id}",
            get(webhooks::get_webhook)
                .patch(webhooks::update_webhook)
                .delete(webhooks::delete_webhook),
        )
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::list_webhook_deliveries))
        .route("/v1/webhooks/deliveries/{id}/redeliver", post(webhooks::redeliver))
        .route("/v1/licenses/actions/validate", post(client::validate))
        .route("/v1/licenses/actions/activate", post(client::activate))
        .route("/v1/licenses/actions/deactivate", post(client::deactivate))
        .route("/v1/licenses/actions/consume", post(client::consume))
        .route("/v1/licenses/actions/checkout", post(client::checkout))
        .route("/v1/licenses/actions/release", post(client::release))
        .route("/v1/licenses/actions/checkout-file", post(licence_file::checkout_file))
}

/// An authenticated administrator (bearer token from `/v1/admin-tokens` or bootstrap).
pub struct Admin {
    pub token_id: i64,
    pub name: String,
    pub source_ip: Option<String>,
}

impl Admin {
    /// Starts an event-log entry attributed to this administrator.
    pub fn event(&self, action: &str, subject_type: &str) -> EventDraft {
        EventDraft::new(format!("admin:{}", self.name), action, subject_type).from_ip(self.source_ip.clone())
    }
}

pub fn source_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <admin token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ApiError::unauthorized("malformed Authorization header; expected Bearer <admin token>"))?;
        match state.store.find_admin_token(token).await? {
            Some(found) => Ok(Admin {
                token_id: found.id,
                name: found.name,
                source_ip: source_ip(parts),
            }),
            None => Err(ApiError::unauthorized("invalid or revoked admin token")),
        }
    }
}

/// `?after=<id>&limit=<n>` cursor pagination.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Return rows with an id greater than this (the last id of the previous page).
    pub after: Option<i64>,
    /// 1 to 1000; default 100.
    pub limit: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<licensd_store::Page, ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "limit must be between 1 and 1000",
            ));
        }
        Ok(licensd_store::Page {
            after: self.after,
            limit,
        })
    }
}

/// A page of results with the cursor for the next one (`null` on the last page).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub data: Vec<T>,
    pub next_after: Option<i64>,
}

impl<T> Paged<T> {
    pub fn new(data: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Self {
        let next_after = if data.len() as i64 >= limit {
            data.last().map(&id)
        } else {
            None
        };
        Self { data, next_after }
    }
}

/// Rejects blank or oversized text fields with a clear message.
pub fn require_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::unprocessable(format!("{field} must not be empty")));
    }
    if value.len() > max {
        return Err(ApiError::unprocessable(format!("{field} must be at most {max} bytes")));
    }
    Ok(())
}

/// Rejects negative counts and limits.
pub fn require_non_negative(field: &str, value: Option<i64>) -> Result<(), ApiError> {
    match value {
        Some(v) if v < 0 => Err(ApiError::unprocessable(format!("{field} must not be negative"))),
        _ => Ok(()),
    }
}

/// A domain range check (`licensd_domain::limits`) as the native 422.
pub fn within(check: Result<(), licensd_domain::limits::OutOfRange>) -> Result<(), ApiError> {
    check.map_err(|error| ApiError::unprocessable(error.to_string()))
}

/// A duration in days: not negative, at most `limits::MAX_DAYS`.
pub fn require_days(field: &str, value: Option<i64>) -> Result<(), ApiError> {
    require_non_negative(field, value)?;
    within(licensd_domain::limits::days(field, value))
}

/// An instant within `limits::MIN_INSTANT..=MAX_INSTANT`.
pub fn require_instant(field: &str, value: Option<i64>) -> Result<(), ApiError> {
    within(licensd_domain::limits::instant(field, value))
}

/// Bounds optional free text (names, references, reasons).
pub fn optional_text(field: &str, value: &Option<String>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(text) if text.len() > max => Err(ApiError::unprocessable(format!("{field} must be at most {max} bytes"))),
        _ => Ok(()),
    }
}

pub fn metadata_or_empty(value: Option<serde_json::Value>) -> Result<serde_json::Value, ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(serde_json::json!({})),
        Some(object @ serde_json::Value::Object(_)) => Ok(object),
        Some(_) => Err(ApiError::unprocessable("metadata must be a JSON object")),
    }
}
