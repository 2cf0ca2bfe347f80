//! licensd's HTTP server: the native management API under `/v1`, the native client API
//! (`/v1/licenses/actions/*`), health probes, and (in their own modules, as their issues land) the
//! vendor dialects. Handlers translate HTTP to store and domain calls; they hold no licensing rules.
//!
//! Layers: `http` is the toolkit every API shares (extractors answering in the native error shape,
//! the admin token, edge validators, the caller's address, Argon2 off the runtime); `native` and
//! `dialects` build on it and never import each other; `openapi` assembles the one document from
//! their fragments. Licensing rules live in `licensd_domain` (`rules`, `access`), storage in
//! `licensd_store`.

pub mod dialects;
pub mod edge;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod keys;
pub mod layers;
pub mod metrics;
pub mod native;
pub mod openapi;
pub mod outbox;
pub mod ratelimit;
pub mod redact;
pub mod request_id;
pub mod state;
pub mod validations;

pub use keys::{CryptoCodec, KeyRing};
pub use state::{AppState, ServerSettings, SharedState};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

/// Request bodies above this size are refused with 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The whole HTTP application with `extra` routes (the admin console, `licensd-console`, which
/// builds on this crate) merged in under the same layers: request ids, metrics, tracing, the edge
/// checks and the body limit.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    Router::new()
        .route("/", get(native::health::root))
        .route("/healthz", get(native::health::healthz))
        .route("/readyz", get(native::health::readyz))
        .route("/metrics", get(metrics::authorized))
        .route("/v1/openapi.json", get(openapi::document))
        .merge(native::routes(&state))
        .merge(dialects::admin_routes())
        .merge(dialects::routes(&state))
        .merge(extra)
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(layers::edge(state.clone()))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(redact::request_span::<Body>))
        .layer(layers::observe(state.metrics.clone()))
        .with_state(state)
}

/// What the metrics listener (`--metrics-listen`) serves: `GET /metrics` without a token. Bind it
/// only to an address that is not reachable from outside.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::open))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}

/// A body one byte over `MAX_BODY_BYTES`, from a static buffer of zeros (in `.bss`: it takes no
/// space in the binary and no memory is written).
pub(crate) fn over_limit_body() -> Body {
    static OVER_LIMIT: [u8; MAX_BODY_BYTES + 1] = [0; MAX_BODY_BYTES + 1];
    Body::from(Bytes::from_static(&OVER_LIMIT))
}
