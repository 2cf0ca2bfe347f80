//! LicenseSpring License API v4 (issue 3), mounted at `/api/v4`, so that an application built on
//! LicenseSpring's official SDKs can switch to licensd by changing its API domain and the public
//! key it trusts. Contract: shared/reference/licensespring-api.md.
//!
//! The dialect only translates: authentication (`auth`, `oauth`), parameters, the error body and
//! response signing (`wire`), the license object (`render`), the endpoints (`handlers`, `bundles`,
//! `offline`, `orders`) and the management routes (`admin`). Business rules stay in the domain and
//! the store's locked commands (activate, activate_many, validate, deactivate, deactivate_many,
//! consume, consume_feature, checkout_lease, release_lease, and this dialect's
//! `LicenseSpringStore`: feature seats, device variables, product versions, bundles, offline
//! deactivation with usage sync).
//!
//! # Endpoints
//! `GET /` (here `/api/v4/`), `activate_license`, `check_license`, `deactivate_license`,
//! `check_license_feature`, `add_consumption`, `add_feature_consumption`, `floating/borrow`,
//! `floating/release`, `floating/feature_borrow`, `floating/feature_release`, `trial_key`,
//! `product_details`, `versions`, `installation_file`, `activate_offline`, `deactivate_offline`,
//! `activate_bundle`, `check_bundle`, `deactivate_bundle`, `activate_bundle_offline`,
//! `track_device_variables`, `get_device_variables`, `change_password`, `user_licenses`,
//! `customer_license_users`, `sso_url`, `oauth_url` + `oauth/token`, `webhook/license`,
//! `webhook/order`. Management: `/v1/products/{id}/versions`, `/v1/product-versions/{id}`
//! (`licensd licensespring versions|add-version|delete-version`), `/v1/products/{id}/bundle-members`
//! and `/v1/licenses/{id}/bundle-members` (`licensd licensespring bundle-products|add-bundle-product|
//! remove-bundle-product|bundle-licenses|link-bundle-license|unlink-bundle-license`).
//!
//! `check_license` (and `check_bundle`) leave features whose own expiry has passed out of
//! `product_features` unless `include_expired_features=true`.
//!
//! Offline uploads (`activate_offline`, `deactivate_offline`, `activate_bundle_offline`) take the
//! raw base64 text the SDKs send, or the documented `multipart/form-data` form with a `file` part.
//! An offline deactivation file's `consumptions` and `product_features` (pending local
//! consumptions) are added through the domain's consumption rules in the deactivation's own
//! transaction: an over-limit file is refused whole.
//!
//! Offline request files made with OAuth client credentials are accepted (`sdk_python_oauth`).
//!
//! # Transfers
//! A transfer is an activation on a *different* device after a deactivation (`max_transfers`,
//! `transfer_count`; the rule is `licensd_domain::rules::plan_activation`). A device that was active
//! on the license before, deactivated and activated again is a reactivation: it uses no transfer,
//! so an owner may deactivate and reactivate their own machine with `max_transfers: 0`
//! (`fidelity::reactivating_the_same_device_is_not_a_transfer`).
//!
//! Not implemented: SSO, TPM and hardware keys, and the on-premises Floating Server protocol
//! (`is_floating` is always false).
//!
//! # Bundles
//! A bundle is a product with member products (`/v1/products/{id}/bundle-members`); a bundle
//! license is a license of the bundle product with one linked member license per member product
//! (`/v1/licenses/{id}/bundle-members`), each with its own terms. The client names the bundle
//! product and the bundle license's key (or user). Every bundle answer lists the bundle license
//! first, then the member licenses by id: the bundle license's own terms bind the whole bundle, and
//! Python's offline bundle loader requires the first license to be of the bundle product.
//! Activation (online and offline) activates the device on all of them in one transaction
//! (`activate_many`, rows locked in ascending id order): one refusal changes nothing.
//! `deactivate_bundle` (and `deactivate_offline` naming a bundle product) releases the device
//! everywhere in one transaction. Member license objects carry the bundle key as `license_key`,
//! and their v1 `license_signature` is over it (the SDKs verify and store the key they sent).
//! Single-license calls reach a member license with the member product's code and the bundle key;
//! `bundle_code` (the bundle product's code) is optional and must match when given.
//!
//! # Signatures
//! Every 2xx JSON body is compact JSON (what JavaScript's `JSON.stringify` writes for it) signed
//! with the active RSA key (`--rsa-bits`, 2048 by default, 4096 configurable): the
//! `LicenseSignature` header holds base64 RSA PKCS#1 v1.5 SHA-256 over the exact body bytes. License
//! objects also carry the v1 `license_signature` field: the same scheme over
//! `lower(hardware_id#license_key#validity_period)`. The public key is `GET /v1/signing-keys`
//! (the RSA entry's `pem`); configure the SDK's verifier with it.
//! The header is added in one place, the route layer `wire::sign_answers`, to every answer
//! `wire::signed` rendered; handlers receive their call checked by `handlers::LsCall`.
//!
//! Plain-text 200 bodies (`license_deactivated`, the empty floating release reply) are unsigned: the
//! SDKs verify none of them.
//!
//! # Credentials
//! Requests authenticate with the API-key HMAC (`auth`) or an OAuth bearer token (`oauth`; the
//! OAuth client id and secret are the same credential's API key and shared key).
//! An API key + shared key pair is a native credential of dialect `licensespring`
//! (`POST /v1/credentials {"dialect":"licensespring",…}` or
//! `licensd credential create --dialect licensespring <name>`): `key_id` is the API key, the
//! secret is the shared key. `read_only`, `product_id` scope, `ip_allowlist` and revocation are
//! honoured by the domain's one access rule (`access::admit`, `auth::refused` maps its refusals to
//! the codes below) for API-key and OAuth requests, offline request files (checked against the
//! uploading address) and the OAuth token endpoint (a revoked or IP-refused client gets
//! `invalid_client_credentials`).
//!
//! # Single sign-on
//! `GET /api/v4/sso_url` answers 400 `validation_error` ("no identity provider is configured"):
//! licensd has no OIDC integration, so SSO activation (`id_token` / `code`) is not available.
//!
//! # JSON caveats
//! The Node SDK verifies `LicenseSignature` (and offline `license_signature_v2`) over
//! `JSON.stringify(JSON.parse(body))`, not over the bytes received. Every signed body (and every
//! offline v2 payload) is therefore written in that fixed point (`js_json`): numbers as ECMAScript
//! writes them (`10.0` → `10`, `1e21` → `1e+21`, integers past 2^53 rounded to the double
//! JavaScript reads), array-index keys (`"7"`, `"2024"`) first in ascending numeric order, then
//! the others. License and product `metadata`, device `variables` and custom fields of any shape
//! therefore verify in Node and in Python (which checks the raw bytes)
//! (`fidelity::signed_json_survives_a_javascript_round_trip`).
//!
//! # Error codes (seed 001) and where they are proven
//! Tests are in `crates/licensd/tests/http/licensespring.rs` (HTTP, both backends) unless noted; the
//! `sdk_*` tests drive LicenseSpring's official Python SDK (`tests/interop/licensespring/`).
//!
//! | code | HTTP | produced by / why not |
//! |---|---|---|
//! | `not_found` | 404 | `auth_errors` (unknown `/api/v4/*` path) |
//! | `validation_error` | 400 | `request_errors` (non-integer `consumptions`) |
//! | `missing_headers` | 400 | `auth_errors` (no Date / Authorization) |
//! | `missing_parameters` | 400 | `request_errors` (no `hardware_id`) |
//! | `missing_content` | 400 | `offline_activation` (empty body), `bundle_offline_activation`, `offline_uploads_and_consumption_sync` (form upload without a `file` part) |
//! | `invalid_json` | 400 | `request_errors` |
//! | `active_license_required` | 400 | `versions_and_installation_files` |
//! | `api_key_product_not_allowed` | 400 | `credential_errors` |
//! | `archived_product` | 400 | `activation_errors` |
//! | `authorization_invalid_headers` | 400 | `auth_errors` (unparseable header, bad Date) |
//! | `authorization_missing_params` | 400 | `auth_errors` (no apiKey) |
//! | `blacklisted` | 400 | `activation_errors` (blocked device) |
//! | `borrow_until_not_valid` | 400 | `floating_flow` |
//! | `change_password_not_allowed` | 400 | `user_based_licenses` (user without a password) |
//! | `customer_account_id_mismatch` | 400 | cannot occur: licensd has no customer accounts for an id to mismatch |
//! | `customer_account_not_found` | 400 | `order_webhooks` (licensd has no customer accounts, so any `customer_account_id` is unknown) |
//! | `customer_does_not_exist` | 400 | `user_based_licenses` |
//! | `customer_not_found` | 400 | cannot occur: an API key that may use a product may list that product's users of any customer |
//! | `device_not_found` | 400 | `sdk_python_quickstart` (check after deactivation), `license_lifecycle` |
//! | `disabled_product` | 400 | `activation_errors` |
//! | `email_missing` | 400 | `trial_and_product_details` |
//! | `feature_not_enough_consumptions` | 400 | `consumption_flow`, `offline_uploads_and_consumption_sync` |
//! | `feature_not_floating` | 400 | `floating_features` |
//! | `floating_feature_device_not_in_use` | 400 | `floating_features` |
//! | `floating_not_available` | 400 | `floating_flow` (all seats taken) |
//! | `hardware_key_required` | 400 | cannot occur: licensd has no hardware-key (YubiKey) products; neither SDK sends the header |
//! | `hmac_required` | 400 | `auth_errors` (algorithm not hmac-sha256) |
//! | `invalid_api_key` | 400 | `auth_errors` |
//! | `invalid_hardware_id` | 400 | `activation_errors` (empty hardware_id) |
//! | `invalid_license_feature_code` | 400 | `consumption_flow` |
//! | `invalid_product_auth_method` | 400 | `user_based_licenses` |
//! | `invalid_value` | 400 | cannot occur: malformed values are reported as `validation_error` |
//! | `key_product_based_does_not_allow_users` | 400 | `order_webhooks` |
//! | `license_activated_max_times` | 400 | `activation_errors`, `bundle_flow` (one member full refuses the whole bundle), `bundle_offline_activation` |
//! | `license_borrow_not_allowed` | 400 | `floating_flow` |
//! | `license_device_exists` | 400 | cannot occur: re-activating an active device succeeds without consuming an activation |
//! | `license_expired` | 400 | `activation_errors` (check_license answers 200 with `is_expired: true` instead) |
//! | `license_hwid_not_found` | 400 | cannot occur: `/device_licenses` has no SDK caller and is not served |
//! | `license_not_active` | 400 | `activation_errors` (suspended license) |
//! | `license_not_consumption` | 400 | `consumption_flow` |
//! | `license_not_enabled` | 400 | `activation_errors` (disabled license) |
//! | `license_not_enough_consumptions` | 400 | `consumption_flow`, `offline_uploads_and_consumption_sync` |
//! | `license_not_found` | 400 | `activation_errors`, `sdk_python_quickstart` |
//! | `license_start_date_error` | 400 | `activation_errors` |
//! | `license_transferred_max_times` | 400 | `activation_errors`, `fidelity::reactivating_the_same_device_is_not_a_transfer` |
//! | `license_user_activated_max_times` | 400 | `user_based_licenses` |
//! | `license_user_not_found` | 400 | `user_based_licenses` |
//! | `license_users_error` | 400 | `order_webhooks` |
//! | `missing_hardware_key_certificate` | 400 | cannot occur: no hardware-key products (see `hardware_key_required`) |
//! | `negative_consumptions_not_allowed` | 400 | `consumption_flow` |
//! | `oauth_product_not_allowed` | 400 | `oauth_flow` (product-scoped client) |
//! | `oauth_required` | 400 | cannot occur: licensd does not restrict a credential to OAuth only; every LicenseSpring credential may use both |
//! | `oauth_token_expired` | 400 | `oauth_flow` |
//! | `oauth_token_malformed` | 400 | `oauth_flow` |
//! | `offline_floating_cloud_not_supported` | 400 | `offline_activation` |
//! | `product_not_bundle` | 400 | `bundle_flow` (activate, check and deactivate a plain product as a bundle), `bundle_offline_activation`, `sdk_python_bundle`, `sdk_node` |
//! | `quantity_too_large` | 400 | `order_webhooks` |
//! | `read_only_api_key` | 400 | `credential_errors` |
//! | `revoked_api_key` | 400 | `credential_errors` |
//! | `trial_expired` | 400 | `activation_errors` (expired trial) |
//! | `trial_not_allowed` | 400 | `trial_and_product_details` |
//! | `unknown_policy_code` | 400 | `trial_and_product_details`, `order_webhooks` |
//! | `unknown_product_code` | 400 | `activation_errors` (check_license says `unknown_product`, seed 004: `auth_errors`) |
//! | `unsupported_product_feature` | 400 | `consumption_flow` |
//! | `user_based_product_does_not_allow_license_key` | 400 | `order_webhooks` |
//! | `user_not_assigned_to_product` | 400 | `user_based_licenses` |
//! | `version_not_found` | 400 | `versions_and_installation_files` |
//! | `vm_not_allowed` | 400 | `activation_errors` |
//! | `authentication_failure` | 401 | `auth_errors` (Date outside the 15-minute window; IP allow-list), `user_based_licenses` (wrong password) |
//! | `hardware_key_signature_mismatch` | 401 | cannot occur: no hardware-key products |
//! | `invalid_client_credentials` | 401 | `oauth_flow` (token endpoint, with the Keycloak `error` field too) |
//! | `offline_signature_mismatch` | 401 | `offline_activation` (tampered request file), `bundle_offline_activation` |
//! | `signature_mismatch` | 401 | `auth_errors`, `sdk_python_quickstart` |
//! | `license_key_exists` | 409 | `order_webhooks` |
//! | `order_id_exists` | 409 | `order_webhooks` |
//! | `internal_error` | 500 | only on a real server fault (database or signing failure); not provoked by tests |
//! | `adding_manager_error` | 500 | cannot occur: licensd has no license managers to add |
//! | `mail_sending_error` | 500 | cannot occur: licensd sends no e-mail |
//! | `notification_sending_error` | 500 | cannot occur: licensd sends no notifications |

mod admin;
mod bundles;
// `auth`, `render` and `wire` are public (hidden from docs) only so the micro-benchmarks
// (bench/benches/micro.rs) can measure the real HMAC check and license-object rendering.
#[doc(hidden)]
pub mod auth;
mod handlers;
mod js_json;
mod oauth;
pub(crate) mod offline;
mod orders;
#[doc(hidden)]
pub mod render;
#[doc(hidden)]
pub mod wire;

use crate::state::AppState;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{any, delete, get, post};
use licensd_domain::Denial;
use wire::LsError;

/// The one table from domain denials to LicenseSpring codes (seed 001). All are HTTP 400 except
/// the authentication ones the seed lists under 401.
pub(crate) fn denial_error(denial: Denial) -> LsError {
    crate::metrics::note_denial(denial);
    let message = denial.to_string();
    let code = match denial {
        Denial::LicenseNotFound => "license_not_found",
        Denial::ProductNotFound => "unknown_product_code",
        Denial::ProductDisabled => "disabled_product",
        Denial::ProductArchived => "archived_product",
        Denial::LicenseDisabled | Denial::LicenseBlocked => "license_not_enabled",
        Denial::LicenseSuspended | Denial::LicenseNotAssigned => "license_not_active",
        Denial::LicenseNotStarted => "license_start_date_error",
        Denial::LicenseExpired => "license_expired",
        Denial::TrialExpired => "trial_expired",
        // LicenseSpring has no reactivation lockout; the nearest refusal is the activation limit.
        Denial::ReactivationLockout => "license_activated_max_times",
        Denial::IpLockout | Denial::InvalidUserCredentials => {
            return LsError::new(StatusCode::UNAUTHORIZED, "authentication_failure", message);
        }
        Denial::FingerprintRequired => "invalid_hardware_id",
        Denial::DeviceNotActivated => "device_not_found",
        Denial::DeviceBlocked => "blacklisted",
        Denial::VmNotAllowed => "vm_not_allowed",
        Denial::ActivationLimitReached => "license_activated_max_times",
        Denial::TransferLimitReached => "license_transferred_max_times",
        Denial::UserActivationLimitReached => "license_user_activated_max_times",
        Denial::LicenseUserNotFound => "license_user_not_found",
        Denial::LicenseUserLimitReached => "license_users_error",
        Denial::NotFloating | Denial::FloatingSeatsExhausted | Denial::FeatureSeatsExhausted => {
            "floating_not_available"
        }
        Denial::BorrowNotAllowed => "license_borrow_not_allowed",
        Denial::BorrowPeriodInvalid => "borrow_until_not_valid",
        Denial::NotConsumption => "license_not_consumption",
        Denial::ConsumptionAmountInvalid => "validation_error",
        Denial::NegativeConsumptionNotAllowed => "negative_consumptions_not_allowed",
        Denial::ConsumptionLimitReached => "license_not_enough_consumptions",
        Denial::FeatureNotFound | Denial::FeatureExpired => "invalid_license_feature_code",
        Denial::FeatureNotConsumption => "unsupported_product_feature",
        Denial::FeatureConsumptionLimitReached => "feature_not_enough_consumptions",
        Denial::FeatureNotFloating => "feature_not_floating",
        Denial::FeatureNotInUse => "floating_feature_device_not_in_use",
    };
    LsError::bad(code, message)
}

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v4", get(handlers::root))
        .route("/api/v4/", get(handlers::root))
        .route("/api/v4/activate_license", post(handlers::activate_license))
        .route("/api/v4/check_license", get(handlers::check_license))
        .route("/api/v4/deactivate_license", post(handlers::deactivate_license))
        .route("/api/v4/check_license_feature", get(handlers::check_license_feature))
        .route("/api/v4/add_consumption", post(handlers::add_consumption))
        .route(
            "/api/v4/add_feature_consumption",
            post(handlers::add_feature_consumption),
        )
        .route("/api/v4/floating/borrow", post(handlers::floating_borrow))
        .route("/api/v4/floating/release", post(handlers::floating_release))
        .route(
            "/api/v4/floating/feature_borrow",
            post(handlers::floating_feature_borrow),
        )
        .route(
            "/api/v4/floating/feature_release",
            post(handlers::floating_feature_release),
        )
        .route("/api/v4/product_details", get(handlers::product_details))
        .route("/api/v4/trial_key", get(handlers::trial_key))
        .route("/api/v4/change_password", post(handlers::change_password))
        .route("/api/v4/user_licenses", get(handlers::user_licenses))
        .route("/api/v4/customer_license_users", get(handlers::customer_license_users))
        .route("/api/v4/activate_offline", post(offline::activate_offline))
        .route("/api/v4/activate_bundle", post(bundles::activate_bundle))
        .route("/api/v4/check_bundle", get(bundles::check_bundle))
        .route("/api/v4/deactivate_bundle", post(bundles::deactivate_bundle))
        .route(
            "/api/v4/activate_bundle_offline",
            post(offline::activate_bundle_offline),
        )
        .route("/api/v4/deactivate_offline", post(offline::deactivate_offline))
        .route("/api/v4/track_device_variables", post(handlers::track_device_variables))
        .route("/api/v4/get_device_variables", get(handlers::get_device_variables))
        .route("/api/v4/oauth_url", get(oauth::oauth_url))
        .route("/api/v4/oauth/token", post(oauth::token))
        .route("/api/v4/sso_url", get(handlers::sso_url))
        .route("/api/v4/versions", get(handlers::versions))
        .route("/api/v4/installation_file", get(handlers::installation_file))
        .route("/api/v4/webhook/license", get(orders::generate_keys))
        .route("/api/v4/webhook/order", post(orders::order))
        .route("/api/v4/{*rest}", any(handlers::not_found))
        // Every signed answer of the dialect is signed here, once (`wire::signed` marks them).
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), wire::sign_answers))
        // Outermost: an address over its allowance is answered before anything else runs.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            wire::within_ip_allowance,
        ))
}

pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/products/{id}/versions",
            post(admin::create_product_version).get(admin::list_product_versions),
        )
        .route("/v1/product-versions/{id}", delete(admin::delete_product_version))
        .route(
            "/v1/products/{id}/bundle-members",
            post(admin::add_bundle_product).get(admin::list_bundle_products),
        )
        .route(
            "/v1/products/{id}/bundle-members/{member_id}",
            delete(admin::remove_bundle_product),
        )
        .route(
            "/v1/licenses/{id}/bundle-members",
            post(admin::link_bundle_license).get(admin::list_bundle_licenses),
        )
        .route(
            "/v1/licenses/{id}/bundle-members/{member_id}",
            delete(admin::unlink_bundle_license),
        )
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    admin::LicenseSpringAdminApi::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of seed 001 with its HTTP status, in the seed's order.
    const SEED_001_CODES: &[(u16, &str)] = &[
        (404, "not_found"),
        (400, "validation_error"),
        (400, "missing_headers"),
        (400, "missing_parameters"),
        (400, "missing_content"),
        (400, "invalid_json"),
        (400, "active_license_required"),
        (400, "api_key_product_not_allowed"),
        (400, "archived_product"),
        (400, "authorization_invalid_headers"),
        (400, "authorization_missing_params"),
        (400, "blacklisted"),
        (400, "borrow_until_not_valid"),
        (400, "change_password_not_allowed"),
        (400, "customer_account_id_mismatch"),
        (400, "customer_account_not_found"),
        (400, "customer_does_not_exist"),
        (400, "customer_not_found"),
        (400, "device_not_found"),
        (400, "disabled_product"),
        (400, "email_missing"),
        (400, "feature_not_enough_consumptions"),
        (400, "feature_not_floating"),
        (400, "floating_feature_device_not_in_use"),
        (400, "floating_not_available"),
        (400, "hardware_key_required"),
        (400, "hmac_required"),
        (400, "invalid_api_key"),
        (400, "invalid_hardware_id"),
        (400, "invalid_license_feature_code"),
        (400, "invalid_product_auth_method"),
        (400, "invalid_value"),
        (400, "key_product_based_does_not_allow_users"),
        (400, "license_activated_max_times"),
        (400, "license_borrow_not_allowed"),
        (400, "license_device_exists"),
        (400, "license_expired"),
        (400, "license_hwid_not_found"),
        (400, "license_not_active"),
        (400, "license_not_consumption"),
        (400, "license_not_enabled"),
        (400, "license_not_enough_consumptions"),
        (400, "license_not_found"),
        (400, "license_start_date_error"),
        (400, "license_transferred_max_times"),
        (400, "license_user_activated_max_times"),
        (400, "license_user_not_found"),
        (400, "license_users_error"),
        (400, "missing_hardware_key_certificate"),
        (400, "negative_consumptions_not_allowed"),
        (400, "oauth_product_not_allowed"),
        (400, "oauth_required"),
        (400, "oauth_token_expired"),
        (400, "oauth_token_malformed"),
        (400, "offline_floating_cloud_not_supported"),
        (400, "product_not_bundle"),
        (400, "quantity_too_large"),
        (400, "read_only_api_key"),
        (400, "revoked_api_key"),
        (400, "trial_expired"),
        (400, "trial_not_allowed"),
        (400, "unknown_policy_code"),
        (400, "unknown_product_code"),
        (400, "unsupported_product_feature"),
        (400, "user_based_product_does_not_allow_license_key"),
        (400, "user_not_assigned_to_product"),
        (400, "version_not_found"),
        (400, "vm_not_allowed"),
        (401, "authentication_failure"),
        (401, "hardware_key_signature_mismatch"),
        (401, "invalid_client_credentials"),
        (401, "offline_signature_mismatch"),
        (401, "signature_mismatch"),
        (409, "license_key_exists"),
        (409, "order_id_exists"),
        (500, "internal_error"),
        (500, "adding_manager_error"),
        (500, "mail_sending_error"),
        (500, "notification_sending_error"),
    ];

    /// Every denial maps to a code of seed 001 with the seed's status.
    #[test]
    fn every_denial_maps_to_a_seed_code_and_status() {
        assert_eq!(SEED_001_CODES.len(), 79);
        for denial in Denial::ALL {
            let error = denial_error(denial);
            let seed = SEED_001_CODES.iter().find(|(_, code)| *code == error.code);
            assert_eq!(
                seed.map(|(status, _)| *status),
                Some(error.status.as_u16()),
                "{denial:?} maps to {} {}",
                error.status,
                error.code
            );
        }
    }

    /// The documentation table lists every seed code exactly once.
    #[test]
    fn documentation_lists_every_seed_code() {
        let source = include_str!("mod.rs");
        for (status, code) in SEED_001_CODES {
            let row = format!("//! | `{code}` | {status} |");
            assert_eq!(source.matches(&row).count(), 1, "missing or duplicate row for {code}");
        }
    }
}
