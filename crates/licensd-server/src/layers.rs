//! The cross-cutting layers every route gets (`crate::router_with`), outermost first:
//!
//! 1. [`Observe`]: the request id (`crate::request_id`: on the request before the log span is made,
//!    and on every answer) and the metrics (`crate::metrics::track`: counted, timed, the denial
//!    the answer carried).
//! 2. tower-http's trace layer, with the request span `crate::redact::request_span`.
//! 3. [`Edge`]: an oversized body drained (`drain_oversized_body`), then the edge checks
//!    (`crate::edge::check_request`: NUL characters, the body-read timeout).
//! 4. axum's `DefaultBodyLimit`.
//!
//! They are hand-written services rather than `axum::middleware::from_fn`: a `from_fn` layer costs
//! a clone of the whole stack below it, a boxed service and two boxed futures per request, and
//! these run on every request, the cheapest included (a repeated validation answered from kept
//! bytes, `crate::native::answers`). Each of these boxes one future per request; [`Observe`] calls
//! the layer below it without cloning it.

use crate::edge;
use crate::metrics::{self, Metrics};
use crate::request_id::{self, REQUEST_ID};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::response::Response;
use axum::routing::Route;
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::layer::layer_fn;
use tower::{Layer, Service};

/// The future every layer here returns.
type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Layer 1 (module documentation): request ids and metrics.
pub fn observe(metrics: Arc<Metrics>) -> impl Layer<Route, Service = Observe<Route>> + Clone {
    layer_fn(move |inner| Observe {
        inner,
        metrics: metrics.clone(),
    })
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B> Service<Request> for Observe<S>
where
    S: Service<Request, Response = axum::http::Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
    B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Answer {
        let id = request_id::for_request(request.headers());
        request.headers_mut().insert(REQUEST_ID, id.clone());
        let tracked = metrics::Tracked::of(&request);
        // The layers below do nothing but build their future until it is polled (inside the
        // metrics' scope), and `poll_ready` made the inner service ready for this call.
        let answer = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let answer = async move {
                let Ok(response) = answer.await;
                response.map(Body::new)
            };
            let mut response = metrics::track(&metrics, tracked, answer).await;
            response.headers_mut().insert(REQUEST_ID, id);
            Ok(response)
        })
    }
}

/// Layer 3 (module documentation): oversized bodies drained, then the edge checks.
pub fn edge(state: AppState) -> impl Layer<Route, Service = Edge<Route>> + Clone {
    layer_fn(move |inner| Edge {
        inner,
        state: state.clone(),
    })
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Answer {
        // The inner service is called after the body has been read: the ready one goes with the
        // request, a clone stays (tower's usual exchange).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let request = drain_oversized_body(request).await;
            match edge::check_request(&state, request).await {
                Ok(request) => inner.call(request).await,
                Err(refusal) => Ok(refusal),
            }
        })
    }
}

/// An oversized body up to this size is read and thrown away before the 413 is sent.
const MAX_DRAINED_BYTES: u64 = 16 * 1024 * 1024;
/// How long a client may take to send the oversized body we throw away.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Lets a client that declared an oversized body read the 413 it gets.
///
/// Every extractor stops reading at `MAX_BODY_BYTES` and answers 413 in its dialect's form. If
/// the rest of the body is still on its way when the connection closes, the kernel resets it
/// and the client can lose the answer (a 1.5 MiB upload saw `IncompleteMessage` about once in
/// 500 runs). So a body whose `Content-Length` is over the limit (and not absurd) is read to
/// its end and thrown away first; the handler then gets a stand-in just over the limit, so each
/// dialect still refuses it with its own error and nothing of the upload is kept in memory.
async fn drain_oversized_body(req: Request) -> Request {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(declared) = declared.filter(|&n| n > crate::MAX_BODY_BYTES as u64 && n <= MAX_DRAINED_BYTES) else {
        return req;
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
    Request::from_parts(parts, crate::over_limit_body())
}
