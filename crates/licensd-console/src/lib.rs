//! The admin web console, served by `licensd serve` at `/console`: server-rendered HTML (maud),
//! its one stylesheet embedded in the binary, no JavaScript.
//!
//! - **Sign-in** with an admin token (`session`): a session stored in the database (so several
//!   nodes agree), its cookie HttpOnly, SameSite=Strict, `Path=/console`, and Secure when the
//!   request came over TLS (a proxy's `X-Forwarded-Proto: https`); sessions expire after
//!   `ConsoleSettings::session_ttl`; sign-in attempts are limited per client address. Every form
//!   carries the session's CSRF token and every POST is refused (403) without it.
//! - **Read-only admin tokens** see every page and change nothing: their pages have no action
//!   buttons, and every POST they send is refused (403) before it reaches a handler.
//! - **Every action runs the `/v1` handler** (`licensd_server::native`) or the dialect's own admin
//!   command (`licensd_server::dialects::{keymanager, dna, slascone}`): the same checks, the same
//!   store command, the same event; a refusal is shown above the form and changes nothing.

mod access;
mod bulk;
mod catalog;
mod dashboard;
mod dialects;
mod dna;
mod layout;
mod licences;
mod session;
mod slascone;

use axum::Router;
use axum::extract::Extension;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use licensd_server::AppState;
use std::sync::Arc;
use std::time::Duration;

pub use session::ConsoleSettings;

/// The console's routes, all under `/console`; merge them into the server's router
/// (`licensd_server::router_with`).
pub fn routes(settings: ConsoleSettings) -> Router<AppState> {
    let shared = Arc::new(session::Shared::new(settings));
    Router::new()
        .route("/console", get(dashboard::page))
        .route("/console/", get(dashboard::page))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/console/sign-out", post(session::sign_out))
        .route(
            "/console/products",
            get(catalog::products).post(catalog::create_product),
        )
        .route(
            "/console/products/{id}",
            get(catalog::product).post(catalog::update_product),
        )
        .route("/console/products/{id}/policies", post(catalog::create_policy))
        .route("/console/policies/{id}", post(catalog::update_policy))
        .route("/console/licenses", get(licences::list).post(licences::create))
        .route(
            "/console/licenses/bulk",
            get(licences::bulk_page).post(licences::bulk_issue),
        )
        .route("/console/licenses/bulk/jobs/{id}", get(licences::bulk_job))
        .route("/console/licenses/bulk/jobs/{id}/keys.csv", get(licences::keys_csv))
        .route("/console/licenses/{id}", get(licences::page))
        .route("/console/licenses/{id}/{action}", post(licences::action))
        .route("/console/devices/{id}/{action}", post(licences::device_action))
        .route(
            "/console/credentials",
            get(access::credentials).post(access::create_credential),
        )
        .route("/console/credentials/{id}/revoke", post(access::revoke_credential))
        .route("/console/signing-keys", get(access::signing_keys))
        .route("/console/signing-keys/rotate", post(access::rotate_signing_key))
        .route("/console/signing-keys/{kid}", get(access::public_pem))
        .route("/console/events", get(access::events))
        .route("/console/customers", get(access::customers))
        .route(
            "/console/dialects/keymanager",
            get(dialects::keymanager).post(dialects::create_keymanager_key),
        )
        .route("/console/dialects/dna", get(dna::lockout).post(dna::set_lockout))
        .route("/console/dialects/dna/{product}/reset", post(dna::reset_lockout))
        .route(
            "/console/dialects/slascone/customers",
            get(slascone::customers).post(slascone::create_customer),
        )
        .route(
            "/console/dialects/slascone/customers/{id}/delete",
            post(slascone::delete_customer),
        )
        .route(
            "/console/dialects/slascone/editions",
            get(slascone::editions).post(slascone::create_edition),
        )
        .route(
            "/console/dialects/slascone/editions/{id}/delete",
            post(slascone::delete_edition),
        )
        .layer(Extension(shared))
}

/// How long the default session lasts.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../assets/console.css"),
    )
}
