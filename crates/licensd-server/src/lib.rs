//! licensd's HTTP server: the native management API under `/v1`, the native client API
//! (`/v1/licenses/actions/*`), health probes, and (in their own modules, as their issues land) the
//! vendor dialects. Handlers translate HTTP to store and domain calls; they hold no licensing rules.

pub mod dialects;
pub mod error;
pub mod extract;
pub mod keys;
pub mod native;
pub mod ratelimit;
pub mod state;

pub use keys::{CryptoCodec, KeyRing};
pub use state::{AppState, ServerSettings};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

/// Request bodies above this size are refused with 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(native::health::root))
        .route("/healthz", get(native::health::healthz))
        .route("/readyz", get(native::health::readyz))
        .merge(native::routes())
        .merge(dialects::admin_routes())
        .merge(dialects::routes())
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
