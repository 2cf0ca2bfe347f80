//! `GET /metrics`: what the server does, in the OpenMetrics text format Prometheus scrapes.
//!
//! Series (all prefixed `licensd_`):
//! - `http_requests_total{dialect, route, method, status}`: every answer. `route` is the route
//!   *template* the router matched (`/v1/licenses/{id}`, `/dna/v1/{*rest}`), never the request's
//!   path, which can carry licence keys and API keys; a request no route matched is `unmatched`.
//! - `http_request_duration_seconds{dialect, route}`: a histogram of the time to the response head.
//! - `client_denials_total{dialect, code}`: client decisions refused by a licensing rule, by the
//!   domain's `Denial` code (`LICENSE_EXPIRED`, …), whatever the dialect called it on the wire.
//! - `db_pool_connections{pool}`, `db_pool_idle_connections{pool}`, `db_pool_max_connections{pool}`:
//!   the database pools, read at scrape time.
//! - `read_cache_lookups_total{map, result="hit"|"miss"}`: the SQLite read cache (absent without one).
//! - `webhook_delivery_attempts_total{kind, result="delivered"|"failed"|"dead"}`: outbox delivery
//!   attempts this process made (`crate::outbox`): delivered, failed and to be retried, or failed
//!   for the last time.
//! - `webhook_queue_depth{kind, state="pending"|"dead"}`: deliveries waiting or given up, read
//!   from the database at scrape time (a `ScrapeSource`, `crate::outbox::QueueDepthSource`).
//!
//! Denials are counted in one place, `track`, the middleware every request passes: each dialect's
//! `Denial` → answer table (and each validation answer that says "not valid") only *notes* the
//! denial it is rendering with `note_denial`, into a slot that lives for the request; `track`
//! counts what was noted once the answer is made, so one request counts at most one decision.
//!
//! Other parts of the server publish scrape-time series through `ScrapeSource` (registered with
//! `Metrics::add_source`): the webhook outbox's queue depth is one.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use licensd_domain::Denial;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// The content type of the exposition.
pub const CONTENT_TYPE_OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
];

/// The API family a path belongs to, as a label: the four dialects, the native API (`/v1`), and
/// `other` (health probes, `/metrics`, unknown paths).
pub fn dialect_label(path: &str) -> &'static str {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/api/v4") {
        "licensespring"
    } else if under("/api/v1") {
        "keymanager"
    } else if under("/api/v2") {
        "slascone"
    } else if under("/dna/v1") {
        "dna"
    } else if under("/v1") {
        "native"
    } else {
        "other"
    }
}

/// A method as a label: the standard ones by name, anything else `other` (methods are
/// client-chosen text; the label set must stay bounded).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The route label: the template the router matched (a reference-counted string axum keeps, so
/// labelling a request allocates nothing), or `unmatched`.
#[derive(Debug, Clone)]
struct RouteLabel(Option<MatchedPath>);

impl RouteLabel {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for RouteLabel {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RouteLabel {}

impl std::hash::Hash for RouteLabel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    dialect: &'static str,
    route: RouteLabel,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    dialect: &'static str,
    route: RouteLabel,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DenialLabels {
    dialect: &'static str,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    kind: String,
    result: &'static str,
}

/// What one outbox delivery attempt came to, as the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered,
    /// Failed; will be retried.
    Failed,
    /// Failed for the last time.
    Dead,
}

impl DeliveryResult {
    fn label(self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::Failed => "failed",
            DeliveryResult::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    map: &'static str,
    result: &'static str,
}

/// One sample a `ScrapeSource` reports: a gauge `name` (without the `licensd_` prefix, which is
/// added) with its help text, labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct GaugeSample {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: i64,
}

/// What a `ScrapeSource` returns.
pub type ScrapeFuture<'a> = Pin<Box<dyn Future<Output = Vec<GaugeSample>> + Send + 'a>>;

/// Something measured when `/metrics` is read (a queue depth, a table count). Register one with
/// `Metrics::add_source`. The webhook outbox's queue depth is one
/// (`licensd_webhook_queue_depth`, `crate::outbox::QueueDepthSource`).
pub trait ScrapeSource: Send + Sync + 'static {
    fn collect<'a>(&'a self, state: &'a AppState) -> ScrapeFuture<'a>;
}

/// Every series this process keeps, and the registry that writes them out.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    denials: Family<DenialLabels, Counter>,
    pool_size: Family<PoolLabels, Gauge>,
    pool_idle: Family<PoolLabels, Gauge>,
    pool_max: Family<PoolLabels, Gauge>,
    cache: Family<CacheLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    sources: RwLock<Vec<Arc<dyn ScrapeSource>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A family of `M` per label set `L`, registered under `name` with its `help` text: a fresh
/// default family and a handle to it that the server records through.
fn registered<L, M>(registry: &mut Registry, name: &str, help: &str) -> Family<L, M>
where
    Family<L, M>: Metric + Clone + Default,
{
    let family = Family::<L, M>::default();
    registry.register(name, help, family.clone());
    family
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("licensd");
        let requests = registered(
            &mut registry,
            "http_requests",
            "HTTP requests answered, by dialect, matched route template, method and status",
        );
        let latency: Family<LatencyLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response head, in seconds",
            latency.clone(),
        );
        let denials = registered(
            &mut registry,
            "client_denials",
            "Client decisions refused by a licensing rule, by dialect and domain Denial code",
        );
        let pool_size = registered(
            &mut registry,
            "db_pool_connections",
            "Database connections open (idle or in use), by pool",
        );
        let pool_idle = registered(
            &mut registry,
            "db_pool_idle_connections",
            "Database connections open and idle, by pool",
        );
        let pool_max = registered(
            &mut registry,
            "db_pool_max_connections",
            "The most database connections a pool opens",
        );
        let cache = registered(
            &mut registry,
            "read_cache_lookups",
            "Read-cache lookups (SQLite), by map and result (hit or miss)",
        );
        let deliveries = registered(
            &mut registry,
            "webhook_delivery_attempts",
            "Outbox delivery attempts made by this process, by delivery kind and result (delivered, failed: to be retried, dead: given up)",
        );
        Self {
            registry,
            requests,
            latency,
            denials,
            pool_size,
            pool_idle,
            pool_max,
            cache,
            deliveries,
            sources: RwLock::new(Vec::new()),
        }
    }

    /// Adds a source measured at every scrape.
    pub fn add_source(&self, source: Arc<dyn ScrapeSource>) {
        self.sources
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(source);
    }

    fn observe(
        &self,
        dialect: &'static str,
        route: RouteLabel,
        method: &'static str,
        status: StatusCode,
        seconds: f64,
    ) {
        self.latency
            .get_or_create(&LatencyLabels {
                dialect,
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                dialect,
                route,
                method,
                status: status.as_u16(),
            })
            .inc();
    }

    /// Counts one outbox delivery attempt of `kind` (the delivery's kind, chosen by its producer:
    /// a bounded set).
    pub fn count_delivery_attempt(&self, kind: &str, result: DeliveryResult) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                kind: kind.to_string(),
                result: result.label(),
            })
            .inc();
    }

    fn count_denial(&self, dialect: &'static str, denial: Denial) {
        self.denials
            .get_or_create(&DenialLabels {
                dialect,
                code: denial.code(),
            })
            .inc();
    }

    /// The exposition, with the store's pools and cache read now.
    pub async fn render(&self, state: &AppState) -> String {
        for pool in state.store.pool_stats() {
            let labels = PoolLabels { pool: pool.pool };
            self.pool_size.get_or_create(&labels).set(i64::from(pool.size));
            self.pool_idle.get_or_create(&labels).set(i64::from(pool.idle));
            self.pool_max.get_or_create(&labels).set(i64::from(pool.max));
        }
        for map in state.store.cache_stats() {
            for (result, value) in [("hit", map.hits), ("miss", map.misses)] {
                // The store keeps the running totals; the counter mirrors them.
                self.cache
                    .get_or_create(&CacheLabels { map: map.map, result })
                    .inner()
                    .store(value, Ordering::Relaxed);
            }
        }
        let sources: Vec<Arc<dyn ScrapeSource>> = self
            .sources
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut samples = Vec::new();
        for source in sources {
            samples.extend(source.collect(state).await);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut text, &self.registry);
        text.push_str(&encode_samples(&samples));
        let _ = prometheus_client::encoding::text::encode_eof(&mut text);
        text
    }
}

/// Gauge samples of `ScrapeSource`s, one family per name in the order first seen.
fn encode_samples(samples: &[GaugeSample]) -> String {
    let mut names: Vec<&'static str> = Vec::new();
    for sample in samples {
        if !names.contains(&sample.name) {
            names.push(sample.name);
        }
    }
    let mut text = String::new();
    for name in names {
        let mut first = true;
        for sample in samples.iter().filter(|s| s.name == name) {
            if first {
                text.push_str(&format!("# HELP licensd_{name} {}\n", escape_help(sample.help)));
                text.push_str(&format!("# TYPE licensd_{name} gauge\n"));
                first = false;
            }
            text.push_str(&format!("licensd_{name}"));
            if !sample.labels.is_empty() {
                let labels: Vec<String> = sample
                    .labels
                    .iter()
                    .map(|(key, value)| format!("{key}=\"{}\"", escape_label(value)))
                    .collect();
                text.push_str(&format!("{{{}}}", labels.join(",")));
            }
            text.push_str(&format!(" {}\n", sample.value));
        }
    }
    text
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

tokio::task_local! {
    /// The denial the answer being made for this request carries, if any (see `note_denial`).
    static DECISION: Cell<Option<Denial>>;
}

/// Records that the answer being rendered refuses a client decision with `denial`. Called by
/// each dialect's `Denial` table; counted once per request by `track`. Outside a request (unit
/// tests, background work) it does nothing.
pub fn note_denial(denial: Denial) {
    let _ = DECISION.try_with(|slot| slot.set(Some(denial)));
}

/// What the metrics layer notes of a request before it runs (see [`track`]).
pub(crate) struct Tracked {
    started: Instant,
    dialect: &'static str,
    method: &'static str,
    route: RouteLabel,
}

impl Tracked {
    pub(crate) fn of(request: &Request) -> Self {
        Self {
            started: Instant::now(),
            dialect: dialect_label(request.uri().path()),
            method: method_label(request.method()),
            route: RouteLabel(request.extensions().get::<MatchedPath>().cloned()),
        }
    }
}

/// The metrics middleware (run for every route by `crate::layers::Observe`): counts and times the
/// request `tracked` describes, whose answer `answer` makes, and counts the denial its answer
/// carried (module documentation).
pub(crate) async fn track<F>(metrics: &Metrics, tracked: Tracked, answer: F) -> Response
where
    F: Future<Output = Response>,
{
    let (response, denial) = DECISION
        .scope(Cell::new(None), async move {
            let response = answer.await;
            (response, DECISION.with(Cell::get))
        })
        .await;
    metrics.observe(
        tracked.dialect,
        tracked.route,
        tracked.method,
        response.status(),
        tracked.started.elapsed().as_secs_f64(),
    );
    if let Some(denial) = denial {
        metrics.count_denial(tracked.dialect, denial);
    }
    response
}

/// `GET /metrics` on the main listener: any admin token (read-only included).
pub async fn authorized(_admin: crate::http::Admin, State(state): State<AppState>) -> Response {
    exposition(&state).await
}

/// `GET /metrics` on the metrics listener (`--metrics-listen`), which takes no token.
pub async fn open(State(state): State<AppState>) -> Response {
    exposition(&state).await
}

async fn exposition(state: &AppState) -> Response {
    let text = state.metrics.render(state).await;
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_OPENMETRICS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_from_paths() {
        assert_eq!(dialect_label("/api/v4/activate_license"), "licensespring");
        assert_eq!(dialect_label("/api/v1/verify"), "keymanager");
        assert_eq!(dialect_label("/api/v2/isv/x"), "slascone");
        assert_eq!(dialect_label("/dna/v1/x"), "dna");
        assert_eq!(dialect_label("/v1/licenses"), "native");
        assert_eq!(dialect_label("/v10"), "other");
        assert_eq!(dialect_label("/metrics"), "other");
        assert_eq!(dialect_label("/healthz"), "other");
    }

    #[test]
    fn source_samples_are_gauge_families() {
        let samples = vec![
            GaugeSample {
                name: "webhook_queue_depth",
                help: "Deliveries waiting",
                labels: vec![("state", "pending".to_string())],
                value: 3,
            },
            GaugeSample {
                name: "webhook_queue_depth",
                help: "Deliveries waiting",
                labels: vec![("state", "a\"b".to_string())],
                value: 0,
            },
        ];
        assert_eq!(
            encode_samples(&samples),
            "# HELP licensd_webhook_queue_depth Deliveries waiting\n# TYPE licensd_webhook_queue_depth gauge\n\
             licensd_webhook_queue_depth{state=\"pending\"} 3\nlicensd_webhook_queue_depth{state=\"a\\\"b\"} 0\n"
        );
    }

    #[tokio::test]
    async fn a_noted_denial_is_seen_once_per_request_scope() {
        note_denial(Denial::LicenseExpired); // outside a request: ignored, no panic
        let seen = DECISION
            .scope(Cell::new(None), async {
                note_denial(Denial::DeviceBlocked);
                note_denial(Denial::LicenseExpired);
                DECISION.with(Cell::get)
            })
            .await;
        assert_eq!(seen, Some(Denial::LicenseExpired));
    }
}
