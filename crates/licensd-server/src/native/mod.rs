//! licensd's own API: management under `/v1` (admin bearer token) and the client actions our SDK
//! uses (`/v1/licenses/actions/*`, signed with Ed25519), including offline licence files
//! (`actions/checkout-file`, admin `/v1/licenses/{id}/license-file`; format in
//! docs/licence-file.md).

pub mod access;
pub mod answers;
pub mod catalog;
pub mod client;
pub mod health;
pub mod licence_file;
pub mod licenses;
pub mod openapi;
pub mod people;
pub mod webhooks;

use crate::error::ApiError;
use crate::ratelimit::RateDecision;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::Deserialize;

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
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
        .route("/v1/licenses/{id}/reset-consumption", post(licenses::reset_consumption))
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
        .merge(client_routes(state))
}

/// The client API: what shipped applications call, with no credential (a license key is the
/// only secret), so the per-IP allowance (`--rate-limit-per-ip`) is what bounds key guessing.
fn client_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/licenses/actions/validate", post(client::validate))
        .route("/v1/licenses/actions/activate", post(client::activate))
        .route("/v1/licenses/actions/deactivate", post(client::deactivate))
        .route("/v1/licenses/actions/consume", post(client::consume))
        .route("/v1/licenses/actions/checkout", post(client::checkout))
        .route("/v1/licenses/actions/release", post(client::release))
        .route("/v1/licenses/actions/checkout-file", post(licence_file::checkout_file))
        .route_layer(middleware::from_fn_with_state(state.clone(), within_ip_allowance))
}

/// The client API's namespace in the shared rate limiter.
const RATE_SCOPE: &str = "native";

/// Over the per-IP allowance: a signed 429 `rate_limited` with `Retry-After`, before the body is
/// read; within it (or without an allowance) the request goes on.
async fn within_ip_allowance(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let client = crate::http::request_client_ip(&request, &state.settings.trusted_proxies);
    if let RateDecision::Limited { reset_seconds } = state.limiter.check_client(RATE_SCOPE, client) {
        let error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from this address; retry in {reset_seconds} s"),
        );
        let mut response = client::signed_error(&state, error);
        response.headers_mut().insert(header::RETRY_AFTER, reset_seconds.into());
        return response;
    }
    next.run(request).await
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
    /// The page a filter query's own `after` and `limit` fields ask for (filter queries carry
    /// them beside their filters rather than flattening a `PageQuery`, which
    /// `deny_unknown_fields` does not allow); checked as `page` checks them.
    pub fn of(after: Option<i64>, limit: Option<i64>) -> Result<licensd_store::Page, ApiError> {
        PageQuery { after, limit }.page()
    }

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
