//! Key Manager API v1 (issue 4), mounted at `/api/v1`: the seed's endpoints (000_d74f9ec93c7305a7),
//! each answering with the signed envelope of `envelope.rs` (RSA PKCS#1 v1.5 / SHA-256 over the
//! `response_base64` text; the product's own key when it has one, the global RSA key otherwise).
//! Transport: every business result is HTTP 200, API-key refusals 100–103 are 401 and the access
//! block list (150) is 403; parameters come as form fields (url-encoded, or `multipart/form-data`
//! as PHP curl sends an array of fields: text parts only, file parts are ignored) or JSON, the API
//! key in the body, the query or `Authorization: Bearer` (format and capabilities: `auth.rs`).
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
//! assign-and-activate-license-key assigns and activates in one store transaction
//! (`assign_and_activate`): 215 without `identifier`, 801 for an unknown key or one not in
//! stock, an activation refusal (203, 205, 302 …) leaves the key unassigned; `owner_name` and
//! `owner_email` are optional as on assign-license-key.
//! random-assign-license-keys-queued assigns before it answers 807, and writes the signed
//! result (803 with `license_keys`, or the refusal: 802, 805, 806, 901 for a bad quantity; with
//! the caller's `identifier`) to the outbox (`licensd_store::OutboxStore`) in the assignment's
//! own transaction, so a committed assignment is never without its callback and a refused one
//! never reports keys. The delivery worker (`crate::outbox`) POSTs it to `webhook_url`
//! (`content-type: application/json`, 10 s timeout: `--webhook-timeout`), re-checking at each
//! attempt that the URL resolves to no private, loopback or link-local address unless
//! `--allow-private-webhooks`; a failure (no answer, non-2xx, refused target) is retried with
//! exponential backoff and jitter (10 s doubling up to an hour: `--outbox-retry-base-ms`) for 24
//! hours, across restarts, then the delivery is marked dead. On PostgreSQL the nodes sharing the
//! database share the deliveries, each sent by one node (outbox::*: callback_arrives,
//! unavailable_receiver_is_retried, kill9_between_commit_and_delivery,
//! postgres_two_nodes_deliver_each_callback_once). A receiver may still see a callback twice if
//! a node dies after the receiver answered but before the answer was recorded (at least once).
//! Rate limits: `--rate-limit-per-ip` counts every request of the mount before anything else
//! (`request::ip_gate`), `--rate-limit-per-credential` each authenticated API key (`auth.rs`) and
//! each contract key of the Contracts API. Over the allowance the answer is HTTP 429 with a signed
//! envelope of code 429 ("Too Many Requests", outside the seed), `retry_after` in seconds both in
//! the signed response and at the envelope's top level (where the SDKs read it), and `Retry-After`.
//! `license_keys` of create-license-keys must be a JSON array of strings (the array in a JSON
//! body, its JSON text in a form field); anything else is 901 with an `errors.license_keys` entry.
//! Validation errors (751, 651, 901, 951, 831 …) list every offending field at once, Laravel's
//! `{field: [message]}`, as the documented examples do (object keys come out sorted): create-product
//! requires `name` and `description`; a telemetry record is of correct format only with
//! `user_identifier`, `license_key`, `activation_identifier`, `product_version`, `data_type`,
//! `data_group` and its data, and a `product_id` that exists (it is stored either way).
//! Unknown paths under `/api/v1` and wrong methods answer signed envelopes too (404 / 405 below).
//! Formats follow the documented examples (`views.rs`, tested in full by
//! `fidelity::documented_formats_of_dates_and_empty_values`): record times (`created_at`,
//! `updated_at` of products, keys, generators, contracts, telemetry) as Laravel writes them,
//! `YYYY-MM-DDTHH:MM:SS.000000Z`; the dates Key Manager keeps as text (`assigned_at`,
//! `expires_at`, `release_date`) as `YYYY-MM-DD HH:MM:SS`; a product's unset `external_reference`,
//! `post_url` and `description` and a generator's `prefix`, `suffix`, `function_name` as `""`; a
//! key's unset owner and `assigned_at` as `null` (as in the get-license-keys example); `meta_data`
//! as `[{key, value}]`; get-license-key-details' `licenseKey` and `product` with exactly the
//! example's fields; assign-license-key's 800 with no payload, as documented; a contract as the
//! create-contract example shows it (`name`, `information`). create-contract requires every field
//! of the example (information, status and the four flags too; update-contract keeps what is
//! not sent) and 825 words its per-field messages as the example does.
//! Envato purchase codes (206) are looked up with the Envato Market API when `LICENSD_ENVATO_TOKEN`
//! is set (`envato.rs`; `LICENSD_ENVATO_API_URL` overrides the API's address).
//!
//! # Seed codes and the black-box tests that produce them
//!
//! Handlers: `client.rs` (verify, activate, deactivate, details), `backoffice.rs` (license keys,
//! their metadata and lists), `products.rs` (products and their metadata), `provisioning.rs`
//! (generators and assignment), `extras.rs` (downloads, telemetry), `contracts.rs`.
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
//! | 102 | any (API key); Contracts API (contract flag off) | api_key_codes_and_transports, contracts::contracts_and_the_contracts_api, fidelity::assign_and_activate_license_key |
//! | 103 | any (API key) | api_key_codes_and_transports |
//! | 150 | any carrying an IP / identifier | access_block_list, cli::cli_manages_… |
//! | 200 | verify | verify_activate_deactivate_cycle |
//! | 201 | verify, activate, license-key meta | verify_status_codes, backoffice::license_key_meta |
//! | 202 | verify, get-license-key-details, access-downloadables | verify_activate_deactivate_cycle, extras::downloadables_and_download |
//! | 203 | verify, activate, assign-and-activate-license-key | verify_status_codes, backoffice::product_crud_meta_and_lists, fidelity::assign_and_activate_license_key |
//! | 204 | verify, activate, access-downloadables | verify_status_codes, backoffice::license_key_crud |
//! | 205 | verify, activate | verify_status_codes, backoffice::license_key_crud |
//! | 206 | verify | envato::envato_purchase_codes_are_imported |
//! | 210 | verify and every license-key command | verify_status_codes, verify_activate_deactivate_cycle |
//! | 215 | verify, activate, deactivate, details, assign-and-activate-license-key | verify_status_codes, verify_activate_deactivate_cycle, fidelity::assign_and_activate_license_key, fidelity::multipart_bodies_are_read_like_form_fields |
//! | 300 | activate, assign-and-activate-license-key | verify_activate_deactivate_cycle, fidelity::assign_and_activate_license_key, fidelity::multipart_bodies_are_read_like_form_fields |
//! | 301 | activate | verify_activate_deactivate_cycle |
//! | 302 | activate | verify_activate_deactivate_cycle, backoffice::license_key_crud, fidelity::assign_and_activate_license_key |
//! | 400 | deactivate | verify_activate_deactivate_cycle |
//! | 401 | deactivate | verify_activate_deactivate_cycle |
//! | 500 | get-license-key-details | license_key_details_and_product_key |
//! | 600 | access-downloadables | extras::downloadables_and_download |
//! | 700 | download | extras::downloadables_and_download |
//! | 701 | download | extras::downloadables_and_download |
//! | 800 | assign-license-key | provisioning::generators_generate_and_assign |
//! | 801 | assign-license-key, assign-and-activate-license-key | provisioning::generators_generate_and_assign, fidelity::assign_and_activate_license_key |
//! | 802 | random-assign-license-keys (and its callback) | provisioning::generators_generate_and_assign, provisioning::queued_random_assign_calls_back |
//! | 803 | random-assign-license-keys (and its callback) | provisioning::generators_generate_and_assign, provisioning::queued_random_assign_calls_back |
//! | 805 | random-assign-license-keys | provisioning::generators_generate_and_assign |
//! | 806 | random-assign-license-keys, generate | provisioning::generators_generate_and_assign |
//! | 807 | random-assign-license-keys-queued (result delivered durably: see above) | provisioning::queued_random_assign_calls_back, outbox::callback_arrives |
//! | 900 | create-license-keys | backoffice::license_key_crud, fidelity::multipart_bodies_are_read_like_form_fields |
//! | 901 | create-license-keys (also bad quantity on generate / random-assign; `license_keys` not a JSON array; a queued webhook_url resolving to a private, loopback or link-local address unless `--allow-private-webhooks`: hardening::webhooks; a NUL in any input, as HTTP 400: hardening::nul) | backoffice::license_key_crud, provisioning::generators_generate_and_assign, fidelity::create_license_keys_wants_a_json_array |
//! | 902 | create-license-keys | backoffice::license_key_crud |
//! | 950 | update-license-key | backoffice::license_key_crud |
//! | 951 | update-license-key | backoffice::license_key_crud |
//! | 952 | update-license-key | backoffice::license_key_crud |
//! | 850 | delete-license-key | backoffice::license_key_crud |
//! | 851 | delete-license-key | backoffice::license_key_crud |
//! | 750 | create-product | backoffice::product_crud_meta_and_lists |
//! | 751 | create-product | backoffice::product_crud_meta_and_lists, fidelity::unknown_routes_wrong_methods_and_every_offending_field |
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
//! | 831 | send-telemetry-data | extras::telemetry_is_kept_and_flagged, fidelity::unknown_routes_wrong_methods_and_every_offending_field |
//! | 970 | get-telemetry-data | extras::telemetry_is_kept_and_flagged |
//! | 740 | get-available-license-keys-count | backoffice::product_crud_meta_and_lists |
//! | 741 | get-available-license-keys-count | backoffice::product_crud_meta_and_lists, provisioning::generators_generate_and_assign |
//! | 825 | create-contract, update-contract | contracts::contracts_and_the_contracts_api, fidelity::unknown_routes_wrong_methods_and_every_offending_field |
//! | 841 | create-contract | contracts::contracts_and_the_contracts_api, fidelity::unknown_routes_wrong_methods_and_every_offending_field |
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
//!
//! Outside the seed (HTTP status = code):
//!
//! | code | when | test |
//! |---|---|---|
//! | 404 | a path under `/api/v1` that names no endpoint | fidelity::unknown_routes_wrong_methods_and_every_offending_field |
//! | 405 | an endpoint called with a method it does not take | fidelity::unknown_routes_wrong_methods_and_every_offending_field |
//! | 429 | any route, over `--rate-limit-per-ip` / `--rate-limit-per-credential` | fidelity::rate_limits_apply_to_key_manager |

pub mod admin;
mod auth;
mod backoffice;
mod client;
mod codes;
mod contracts;
mod envato;
pub mod envelope;
mod extras;
mod products;
mod provisioning;
pub(crate) mod request;
mod views;

use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use envelope::{KeyUsed, Reply};
use licensd_crypto::{Algorithm, SigningKey};
use licensd_domain::ProductId;
use licensd_store::StoreError;
use std::sync::Arc;

pub use admin::KeyManagerApi;
pub use provisioning::CALLBACK_KIND;

/// The dialect's namespace in the shared rate limiter.
const RATE_SCOPE: &str = "keymanager";

/// A failure that is not the client's: database or crypto trouble (HTTP 500, logged).
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] licensd_crypto::CryptoError),
}

/// A handler's outcome on its way to `sign_replies`: handlers return `Result<Reply, Internal>`,
/// whose `IntoResponse` parks the outcome here, and the dialect's one signing layer renders and
/// signs it (the product's key needs a store look-up, which `IntoResponse` cannot await).
#[derive(Clone)]
struct PendingReply(Arc<std::sync::Mutex<Option<Result<Reply, Internal>>>>);

fn pending(outcome: Result<Reply, Internal>) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    response
        .extensions_mut()
        .insert(PendingReply(Arc::new(std::sync::Mutex::new(Some(outcome)))));
    response
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        pending(Ok(self))
    }
}

impl IntoResponse for Internal {
    fn into_response(self) -> Response {
        pending(Err(self))
    }
}

/// The layer over every Key Manager route: signs and renders the outcome a handler returned.
/// Responses without one (already signed refusals of the extractors and fallbacks) pass as they
/// are.
async fn sign_replies(State(state): State<AppState>, request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let outcome = response
        .extensions_mut()
        .remove::<PendingReply>()
        .and_then(|PendingReply(slot)| slot.lock().ok().and_then(|mut slot| slot.take()));
    match outcome {
        Some(outcome) => respond(&state, outcome).await,
        None => response,
    }
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
pub(super) async fn signing_key(
    state: &AppState,
    product_id: Option<ProductId>,
) -> Result<(Arc<SigningKey>, KeyUsed), Internal> {
    if let Some(product_id) = product_id
        && let Some(stored) = state.store.product_signing_key(product_id).await?
    {
        let algorithm = Algorithm::parse(&stored.algorithm)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown product key algorithm {}", stored.algorithm)))?;
        let key = SigningKey::from_pkcs8(algorithm, &stored.private_pkcs8)?;
        return Ok((Arc::new(key), KeyUsed::Product));
    }
    Ok((state.keys.rsa(), KeyUsed::Global))
}

pub fn routes(state: &AppState) -> Router<AppState> {
    endpoints().route_layer(axum::middleware::from_fn_with_state(state.clone(), sign_replies))
}

fn endpoints() -> Router<AppState> {
    Router::new()
        // Paths under the mount that name no endpoint: a signed 404 envelope.
        .route("/api/v1", any(unknown_route))
        .route("/api/v1/", any(unknown_route))
        .route("/api/v1/{*rest}", any(unknown_route))
        .route("/api/v1/verify", km(post(client::verify)))
        .route("/api/v1/activate", km(post(client::activate)))
        .route("/api/v1/deactivate", km(post(client::deactivate)))
        .route("/api/v1/get-license-key-details", km(post(client::details)))
        .route("/api/v1/create-license-keys", km(post(backoffice::create_license_keys)))
        .route("/api/v1/update-license-key", km(post(backoffice::update_license_key)))
        .route("/api/v1/delete-license-key", km(post(backoffice::delete_license_key)))
        .route(
            "/api/v1/create-license-key-meta",
            km(post(backoffice::create_license_key_meta)),
        )
        .route(
            "/api/v1/update-license-key-meta",
            km(post(backoffice::update_license_key_meta)),
        )
        .route(
            "/api/v1/delete-license-key-meta",
            km(post(backoffice::delete_license_key_meta)),
        )
        .route("/api/v1/create-product", km(post(products::create_product)))
        .route("/api/v1/update-product", km(post(products::update_product)))
        .route("/api/v1/delete-product", km(post(products::delete_product)))
        .route("/api/v1/create-product-meta", km(post(products::create_product_meta)))
        .route("/api/v1/update-product-meta", km(post(products::update_product_meta)))
        .route("/api/v1/delete-product-meta", km(post(products::delete_product_meta)))
        .route(
            "/api/v1/get-all-generators",
            km(get(provisioning::get_all_generators).post(provisioning::get_all_generators)),
        )
        .route("/api/v1/generate", km(post(provisioning::generate)))
        .route("/api/v1/assign-license-key", km(post(provisioning::assign_license_key)))
        .route(
            "/api/v1/assign-and-activate-license-key",
            km(post(provisioning::assign_and_activate)),
        )
        .route(
            "/api/v1/random-assign-license-keys",
            km(post(provisioning::random_assign)),
        )
        .route(
            "/api/v1/random-assign-license-keys-queued",
            km(post(provisioning::random_assign_queued)),
        )
        .route("/api/v1/access-downloadables", km(post(extras::access_downloadables)))
        .route(
            "/api/v1/download/{api_key}/{license_key}/{identifier}/{numeric_version}",
            km(get(extras::download)),
        )
        .route("/api/v1/send-telemetry-data", km(post(extras::send_telemetry)))
        .route(
            "/api/v1/get-telemetry-data",
            km(get(extras::get_telemetry).post(extras::get_telemetry)),
        )
        .route("/api/v1/create-contract", km(post(contracts::create_contract)))
        .route("/api/v1/update-contract", km(post(contracts::update_contract)))
        .route("/api/v1/delete-contract", km(post(contracts::delete_contract)))
        .route(
            "/api/v1/get-all-contracts",
            km(get(contracts::get_all_contracts).post(contracts::get_all_contracts)),
        )
        .route(
            "/api/v1/contracts/get-info",
            km(get(contracts::get_info).post(contracts::get_info)),
        )
        .route("/api/v1/contracts/generate", km(post(contracts::generate)))
        .route("/api/v1/contracts/destroy", km(post(contracts::destroy)))
        .route("/api/v1/contracts/destroy-all", km(post(contracts::destroy_all)))
        // Read endpoints are GET in the reference; POST is accepted too (the SDKs differ).
        .route(
            "/api/v1/get-all-products",
            km(get(products::get_all_products).post(products::get_all_products)),
        )
        .route(
            "/api/v1/get-license-keys",
            km(get(backoffice::get_license_keys).post(backoffice::get_license_keys)),
        )
        .route(
            "/api/v1/get-available-license-keys-count",
            km(get(backoffice::available_count).post(backoffice::available_count)),
        )
}

/// Every endpoint answers a method it does not take with a signed 405 envelope.
fn km(endpoint: MethodRouter<AppState>) -> MethodRouter<AppState> {
    endpoint.fallback(wrong_method)
}

async fn unknown_route(State(state): State<AppState>, _req: request::KmRequest) -> Response {
    respond(&state, Ok(Reply::new(404))).await
}

async fn wrong_method(State(state): State<AppState>, _req: request::KmRequest) -> Response {
    respond(&state, Ok(Reply::new(405))).await
}

pub fn admin_routes() -> Router<AppState> {
    admin::routes()
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    KeyManagerApi::openapi()
}
