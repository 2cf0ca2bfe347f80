//! Key Manager API v1 (issue 4), mounted at `/api/v1`: the seed's endpoints (000_d74f9ec93c7305a7),
//! each answering with the signed envelope of `envelope.rs` (RSA PKCS#1 v1.5 / SHA-256 over the
//! `response_base64` text; the product's own key when it has one, the global RSA key otherwise).
//! Transport: every business result is HTTP 200, API-key refusals 100–103 are 401 and the access
//! block list (150) is 403; parameters come as form fields or JSON, the API key in the body, the
//! query or `Authorization: Bearer` (format and capabilities: `auth.rs`).
//!
//! The dialect is a translation layer: licenses, products, activations and their limits are the
//! domain's (identifier = device fingerprint; "not assigned" = `Assignment::InStock`; blocked =
//! `LicenseStatus::Blocked`; expiry = assigned_at + validity days, kept as the license's
//! `expires_at`), enforced by the store's locked `activate`/`deactivate` and read-only `validate`.
//!
//! Management (native `/v1/keymanager/…`, in the OpenAPI document; CLI `licensd keymanager …`):
//! API keys with capabilities and an on/off switch, the access block list, per-product signing
//! keys, generators, downloadables (with their files), contracts, telemetry (`admin.rs`).
//!
//! Choices where the reference is silent: an invalid `quantity` on generate / random-assign answers
//! 901 "Incorrect data found" (the seed has no code); keys minted by a contract are assigned at
//! once; a contract whose product is not active answers 1202; download permission is "the key is
//! valid and activated for the identifier in the URL" (701 otherwise); delete-product deletes the
//! product's keys with it; update-license-key cannot move a key to another product (951).
//! Envato purchase codes (206) are looked up with the Envato Market API when `LICENSD_ENVATO_TOKEN`
//! is set (`envato.rs`; `LICENSD_ENVATO_API_URL` overrides the API's address).
//!
//! # Seed codes and the black-box tests that produce them
//!
//! Tests live in `crates/licensd/tests/http/keymanager.rs` and its submodules under
//! `tests/http/keymanager/` (named `module::test` below; no prefix = the file itself), each run on
//! SQLite and PostgreSQL (`…::sqlite::<test>` / `…::postgres::<test>`). Every envelope a test
//! receives is verified with the Rust verifier (`envelope::verify_envelope`, which also passes the
//! golden vectors in `testdata/vectors/keymanager`) and, in one batch at the end of the test, by
//! Python `cryptography` (`tests/interop/keymanager/verify_envelopes.py`). `cli::cli_manages_…`
//! is `cli::cli_manages_keys_blocks_generators_downloadables_and_contracts`.
//!
//! | code | endpoint | test |
//! |---|---|---|
//! | 100 | any (API key) | api_key_codes_and_transports |
//! | 101 | any (API key) | api_key_codes_and_transports, cli::cli_manages_… |
//! | 102 | any (API key); Contracts API (contract flag off) | api_key_codes_and_transports, contracts::contracts_and_the_contracts_api |
//! | 103 | any (API key) | api_key_codes_and_transports |
//! | 150 | any carrying an IP / identifier | access_block_list, cli::cli_manages_… |
//! | 200 | verify | verify_activate_deactivate_cycle |
//! | 201 | verify, activate, license-key meta | verify_status_codes, backoffice::license_key_meta |
//! | 202 | verify, get-license-key-details, access-downloadables | verify_activate_deactivate_cycle, extras::downloadables_and_download |
//! | 203 | verify, activate | verify_status_codes, backoffice::product_crud_meta_and_lists |
//! | 204 | verify, activate, access-downloadables | verify_status_codes, backoffice::license_key_crud |
//! | 205 | verify, activate | verify_status_codes, backoffice::license_key_crud |
//! | 206 | verify | envato::envato_purchase_codes_are_imported |
//! | 210 | verify and every license-key command | verify_status_codes, verify_activate_deactivate_cycle |
//! | 215 | verify, activate, deactivate, details | verify_status_codes, verify_activate_deactivate_cycle |
//! | 300 | activate | verify_activate_deactivate_cycle |
//! | 301 | activate | verify_activate_deactivate_cycle |
//! | 302 | activate | verify_activate_deactivate_cycle, backoffice::license_key_crud |
//! | 400 | deactivate | verify_activate_deactivate_cycle |
//! | 401 | deactivate | verify_activate_deactivate_cycle |
//! | 500 | get-license-key-details | license_key_details_and_product_key |
//! | 600 | access-downloadables | extras::downloadables_and_download |
//! | 700 | download | extras::downloadables_and_download |
//! | 701 | download | extras::downloadables_and_download |
//! | 800 | assign-license-key | provisioning::generators_generate_and_assign |
//! | 801 | assign-license-key | provisioning::generators_generate_and_assign |
//! | 802 | random-assign-license-keys (and its callback) | provisioning::generators_generate_and_assign, provisioning::queued_random_assign_calls_back |
//! | 803 | random-assign-license-keys (and its callback) | provisioning::generators_generate_and_assign, provisioning::queued_random_assign_calls_back |
//! | 805 | random-assign-license-keys | provisioning::generators_generate_and_assign |
//! | 806 | random-assign-license-keys, generate | provisioning::generators_generate_and_assign |
//! | 807 | random-assign-license-keys-queued | provisioning::queued_random_assign_calls_back |
//! | 900 | create-license-keys | backoffice::license_key_crud |
//! | 901 | create-license-keys (also bad quantity on generate / random-assign; a queued webhook_url resolving to a private, loopback or link-local address unless `--allow-private-webhooks`: hardening::webhooks; a NUL in any input, as HTTP 400: hardening::nul) | backoffice::license_key_crud, provisioning::generators_generate_and_assign |
//! | 902 | create-license-keys | backoffice::license_key_crud |
//! | 950 | update-license-key | backoffice::license_key_crud |
//! | 951 | update-license-key | backoffice::license_key_crud |
//! | 952 | update-license-key | backoffice::license_key_crud |
//! | 850 | delete-license-key | backoffice::license_key_crud |
//! | 851 | delete-license-key | backoffice::license_key_crud |
//! | 750 | create-product | backoffice::product_crud_meta_and_lists |
//! | 751 | create-product | backoffice::product_crud_meta_and_lists |
//! | 650 | update-product | backoffice::product_crud_meta_and_lists |
//! | 651 | update-product | backoffice::product_crud_meta_and_lists |
//! | 550 | delete-product | backoffice::product_crud_meta_and_lists |
//! | 551 | delete-product | backoffice::product_crud_meta_and_lists |
//! | 450 | create-license-key-meta | backoffice::license_key_meta |
//! | 451 | create-license-key-meta | backoffice::license_key_meta |
//! | 452 | create-license-key-meta | backoffice::license_key_meta |
//! | 453 | create-license-key-meta | backoffice::license_key_meta |
//! | 350 | update-license-key-meta | backoffice::license_key_meta |
//! | 351 | update-license-key-meta | backoffice::license_key_meta |
//! | 352 | update-license-key-meta | backoffice::license_key_meta |
//! | 353 | update-license-key-meta | backoffice::license_key_meta |
//! | 250 | delete-license-key-meta | backoffice::license_key_meta |
//! | 251 | delete-license-key-meta | backoffice::license_key_meta |
//! | 252 | delete-license-key-meta | backoffice::license_key_meta |
//! | 270 | create-product-meta | backoffice::product_crud_meta_and_lists |
//! | 271 | create-product-meta | backoffice::product_crud_meta_and_lists |
//! | 272 | create-product-meta | backoffice::product_crud_meta_and_lists |
//! | 273 | create-product-meta | backoffice::product_crud_meta_and_lists |
//! | 274 | create-product-meta | backoffice::product_crud_meta_and_lists |
//! | 370 | update-product-meta | backoffice::product_crud_meta_and_lists |
//! | 371 | update-product-meta | backoffice::product_crud_meta_and_lists |
//! | 372 | update-product-meta | backoffice::product_crud_meta_and_lists |
//! | 373 | update-product-meta | backoffice::product_crud_meta_and_lists |
//! | 374 | update-product-meta | backoffice::product_crud_meta_and_lists |
//! | 480 | delete-product-meta | backoffice::product_crud_meta_and_lists |
//! | 481 | delete-product-meta | backoffice::product_crud_meta_and_lists |
//! | 482 | delete-product-meta | backoffice::product_crud_meta_and_lists |
//! | 483 | delete-product-meta | backoffice::product_crud_meta_and_lists |
//! | 810 | get-all-products | backoffice::product_crud_meta_and_lists |
//! | 820 | get-all-generators | provisioning::generators_generate_and_assign |
//! | 815 | generate | provisioning::generators_generate_and_assign, cli::cli_manages_… |
//! | 730 | get-license-keys | backoffice::license_key_crud |
//! | 830 | send-telemetry-data | extras::telemetry_is_kept_and_flagged |
//! | 831 | send-telemetry-data | extras::telemetry_is_kept_and_flagged |
//! | 970 | get-telemetry-data | extras::telemetry_is_kept_and_flagged |
//! | 740 | get-available-license-keys-count | backoffice::product_crud_meta_and_lists |
//! | 741 | get-available-license-keys-count | backoffice::product_crud_meta_and_lists, provisioning::generators_generate_and_assign |
//! | 825 | create-contract, update-contract | contracts::contracts_and_the_contracts_api |
//! | 841 | create-contract | contracts::contracts_and_the_contracts_api |
//! | 842 | update-contract | contracts::contracts_and_the_contracts_api |
//! | 843 | delete-contract | contracts::contracts_and_the_contracts_api |
//! | 844 | delete-contract | contracts::contracts_and_the_contracts_api |
//! | 846 | get-all-contracts | contracts::contracts_and_the_contracts_api |
//! | 1200 | Contracts API (any) | contracts::contracts_and_the_contracts_api, cli::cli_manages_… |
//! | 1202 | Contracts API get-info (product inactive) | contracts::contracts_and_the_contracts_api |
//! | 1203 | Contracts API get-info, generate | contracts::contracts_and_the_contracts_api |
//! | 1204 | Contracts API get-info | contracts::contracts_and_the_contracts_api |
//! | 1205 | Contracts API generate | contracts::contracts_and_the_contracts_api |
//! | 1206 | Contracts API generate | contracts::contracts_and_the_contracts_api |
//! | 1300 | Contracts API generate | contracts::contracts_and_the_contracts_api |
//! | 1400 | Contracts API destroy | contracts::contracts_and_the_contracts_api |
//! | 1401 | Contracts API destroy | contracts::contracts_and_the_contracts_api |
//! | 1500 | Contracts API destroy-all | contracts::contracts_and_the_contracts_api |
//! | 1501 | Contracts API destroy-all | contracts::contracts_and_the_contracts_api |

mod admin;
mod auth;
mod backoffice;
mod client;
mod codes;
mod contracts;
mod envato;
pub mod envelope;
mod extras;
mod provisioning;
mod request;
mod views;

use crate::state::AppState;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use envelope::{KeyUsed, Reply};
use licensd_crypto::{Algorithm, SigningKey};
use licensd_store::StoreError;
use std::sync::Arc;

pub use admin::KeyManagerApi;

/// A failure that is not the client's: database or crypto trouble (HTTP 500, logged).
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] licensd_crypto::CryptoError),
}

/// Signs and renders a handler's outcome.
async fn respond(state: &AppState, outcome: Result<Reply, Internal>) -> Response {
    let reply = match outcome {
        Ok(reply) => reply,
        // Input the database refused (the edge lets no NUL through; this is the backstop).
        Err(Internal::Store(StoreError::InvalidInput(_))) => {
            return Box::pin(edge_refusal(state, axum::http::StatusCode::BAD_REQUEST)).await;
        }
        Err(error) => return internal(error),
    };
    let (key, used) = match signing_key(state, reply.product_id).await {
        Ok(found) => found,
        Err(error) => return internal(error),
    };
    envelope::render(&reply, &key, used, state.now().div_euclid(1000))
}

/// The signed envelope text for `reply` (for deliveries outside an HTTP answer: webhooks).
async fn sign(state: &AppState, reply: &Reply) -> Result<String, Internal> {
    let (key, used) = signing_key(state, reply.product_id).await?;
    Ok(envelope::envelope_body(
        reply,
        &key,
        used,
        state.now().div_euclid(1000),
    )?)
}

/// The edge's refusal of a request (a NUL in a text input, a body too slow): the signed 901
/// "Incorrect data found" envelope (global key) with the HTTP status the edge chose (400 / 408).
pub(crate) async fn edge_refusal(state: &AppState, status: axum::http::StatusCode) -> Response {
    let mut response = respond(state, Ok(Reply::new(901))).await;
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    response
}

fn internal(error: Internal) -> Response {
    tracing::error!(%error, "Key Manager request failed");
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

/// The product's own key when the request resolved to a product that has one, else the global key.
async fn signing_key(state: &AppState, product_id: Option<i64>) -> Result<(Arc<SigningKey>, KeyUsed), Internal> {
    if let Some(product_id) = product_id
        && let Some(stored) = state.store.km_product_signing_key(product_id).await?
    {
        let algorithm = Algorithm::parse(&stored.algorithm)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown product key algorithm {}", stored.algorithm)))?;
        let key = SigningKey::from_pkcs8(algorithm, &stored.private_pkcs8)?;
        return Ok((Arc::new(key), KeyUsed::Product));
    }
    Ok((state.keys.rsa(), KeyUsed::Global))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/verify", post(client::verify))
        .route("/api/v1/activate", post(client::activate))
        .route("/api/v1/deactivate", post(client::deactivate))
        .route("/api/v1/get-license-key-details", post(client::details))
        .route("/api/v1/create-license-keys", post(backoffice::create_license_keys))
        .route("/api/v1/update-license-key", post(backoffice::update_license_key))
        .route("/api/v1/delete-license-key", post(backoffice::delete_license_key))
        .route(
            "/api/v1/create-license-key-meta",
            post(backoffice::create_license_key_meta),
        )
        .route(
            "/api/v1/update-license-key-meta",
            post(backoffice::update_license_key_meta),
        )
        .route(
            "/api/v1/delete-license-key-meta",
            post(backoffice::delete_license_key_meta),
        )
        .route("/api/v1/create-product", post(backoffice::create_product))
        .route("/api/v1/update-product", post(backoffice::update_product))
        .route("/api/v1/delete-product", post(backoffice::delete_product))
        .route("/api/v1/create-product-meta", post(backoffice::create_product_meta))
        .route("/api/v1/update-product-meta", post(backoffice::update_product_meta))
        .route("/api/v1/delete-product-meta", post(backoffice::delete_product_meta))
        .route(
            "/api/v1/get-all-generators",
            get(provisioning::get_all_generators).post(provisioning::get_all_generators),
        )
        .route("/api/v1/generate", post(provisioning::generate))
        .route("/api/v1/assign-license-key", post(provisioning::assign_license_key))
        .route("/api/v1/random-assign-license-keys", post(provisioning::random_assign))
        .route(
            "/api/v1/random-assign-license-keys-queued",
            post(provisioning::random_assign_queued),
        )
        .route("/api/v1/access-downloadables", post(extras::access_downloadables))
        .route(
            "/api/v1/download/{api_key}/{license_key}/{identifier}/{numeric_version}",
            get(extras::download),
        )
        .route("/api/v1/send-telemetry-data", post(extras::send_telemetry))
        .route(
            "/api/v1/get-telemetry-data",
            get(extras::get_telemetry).post(extras::get_telemetry),
        )
        .route("/api/v1/create-contract", post(contracts::create_contract))
        .route("/api/v1/update-contract", post(contracts::update_contract))
        .route("/api/v1/delete-contract", post(contracts::delete_contract))
        .route(
            "/api/v1/get-all-contracts",
            get(contracts::get_all_contracts).post(contracts::get_all_contracts),
        )
        .route(
            "/api/v1/contracts/get-info",
            get(contracts::get_info).post(contracts::get_info),
        )
        .route("/api/v1/contracts/generate", post(contracts::generate))
        .route("/api/v1/contracts/destroy", post(contracts::destroy))
        .route("/api/v1/contracts/destroy-all", post(contracts::destroy_all))
        // Read endpoints are GET in the reference; POST is accepted too (the SDKs differ).
        .route(
            "/api/v1/get-all-products",
            get(backoffice::get_all_products).post(backoffice::get_all_products),
        )
        .route(
            "/api/v1/get-license-keys",
            get(backoffice::get_license_keys).post(backoffice::get_license_keys),
        )
        .route(
            "/api/v1/get-available-license-keys-count",
            get(backoffice::available_count).post(backoffice::available_count),
        )
}

pub fn admin_routes() -> Router<AppState> {
    admin::routes()
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    KeyManagerApi::openapi()
}
