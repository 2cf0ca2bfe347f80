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
pub use state::{AppState, ServerSettings};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use http_body_util::BodyExt;
use std::time::Duration;

/// Request bodies above this size are refused with 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// An oversized body up to this size is read and thrown away before the 413 is sent.
const MAX_DRAINED_BYTES: u64 = 16 * 1024 * 1024;
/// How long a client may take to send the oversized body we throw away.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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
        .merge(native::routes())
        .merge(dialects::admin_routes())
        .merge(dialects::routes(&state))
        .merge(extra)
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), edge::check_request))
        .layer(middleware::from_fn(drain_oversized_body))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(redact::request_span::<Body>))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(middleware::from_fn(request_id::assign))
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

/// Lets a client that declared an oversized body read the 413 it gets.
///
/// Every extractor stops reading at `MAX_BODY_BYTES` and answers 413 in its dialect's form. If
/// the rest of the body is still on its way when the connection closes, the kernel resets it
/// and the client can lose the answer (a 1.5 MiB upload saw `IncompleteMessage` about once in
/// 500 runs). So a body whose `Content-Length` is over the limit (and not absurd) is read to
/// its end and thrown away first; the handler then gets a stand-in just over the limit, so each
/// dialect still refuses it with its own error and nothing of the upload is kept in memory.
async fn drain_oversized_body(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(declared) = declared.filter(|&n| n > MAX_BODY_BYTES as u64 && n <= MAX_DRAINED_BYTES) else {
        return next.run(req).await;
    };
    let (parts, mut body) = req.into_parts();
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut seen: u64 = 0;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > declared {
                return false;
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    if !drained {
        // A body that lied about its length, broke off or dribbled: refused all the same, and
        // the connection is closed afterwards as before.
        tracing::debug!(declared, "oversized request body not drained");
    }
    next.run(Request::from_parts(parts, over_limit_body())).await
}

/// A body one byte over `MAX_BODY_BYTES`, from a static buffer of zeros (in `.bss`: it takes no
/// space in the binary and no memory is written).
pub(crate) fn over_limit_body() -> Body {
    static OVER_LIMIT: [u8; MAX_BODY_BYTES + 1] = [0; MAX_BODY_BYTES + 1];
    Body::from(Bytes::from_static(&OVER_LIMIT))
}
