//! The outbox delivery worker (`licensd serve` starts one per process): it claims due deliveries
//! from the store's outbox, POSTs each with a short timeout, and records what happened. A failed
//! attempt (no answer, a non-2xx answer, or a target that now resolves to a forbidden address)
//! is retried with exponential backoff and jitter (`licensd_domain::delivery::RetryPolicy`) for
//! 24 hours after the delivery was written, then the delivery is marked dead. Everything lives
//! in the database, so a restart loses nothing; several nodes on one PostgreSQL database share
//! the work without two of them holding the same delivery (see `licensd_store::OutboxStore`).
//!
//! The worker never looks inside a delivery: producers compute its body and headers. One step
//! runs at send time instead: a delivery to a webhook endpoint (`/v1/webhooks`, `webhook_id` set)
//! is signed at each attempt in the Standard Webhooks form (`webhook-id` = the delivery's id,
//! stable across retries; `webhook-timestamp` = the attempt's second; `webhook-signature` =
//! `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the endpoint's `whsec_` key), so a
//! verifier's freshness check sees the attempt's time, not the queueing time.

use crate::metrics::{DeliveryResult, GaugeSample, Metrics, ScrapeFuture, ScrapeSource};
use crate::state::AppState;
use licensd_domain::Clock;
use licensd_domain::delivery::{AfterFailure, RetryPolicy};
use licensd_store::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, MAX_RESPONSE_EXCERPT_BYTES, Store, truncate_utf8,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How the worker sends and retries.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// How long one attempt may take (connect, send, answer), default 10 s.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Whether targets may resolve to private, loopback and link-local addresses.
    pub allow_private: bool,
    /// How often an idle worker looks for due deliveries (a local enqueue wakes it at once).
    pub poll: Duration,
    /// Most deliveries one worker sends at once.
    pub batch: i64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            allow_private: false,
            poll: Duration::from_secs(1),
            batch: 16,
        }
    }
}

impl OutboxSettings {
    /// How long a claimed delivery stays with its worker: longer than an attempt can take, so
    /// only a dead worker's claims run out.
    pub fn lease(&self) -> Duration {
        self.timeout.saturating_mul(2).saturating_add(Duration::from_secs(5))
    }
}

/// The delivery kinds licensd produces: `/v1/webhooks` endpoints, webhooks registered through
/// the SLASCONE dialect, and Key Manager's queued random-assign result. The queue depth reports
/// each of them (0 when none waits), so the series exist before the first delivery.
pub const DELIVERY_KINDS: [&str; 3] = [
    licensd_domain::webhooks::DELIVERY_KIND,
    licensd_store::webhooks::SLASCONE_DELIVERY_KIND,
    crate::dialects::keymanager::CALLBACK_KIND,
];

/// Starts the worker on the current runtime. `wake` lets a producer in this process have its
/// delivery sent at once instead of at the next poll. Each attempt is counted in `metrics`.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: OutboxSettings,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store, clock, settings, wake, metrics))
}

/// `licensd_webhook_queue_depth{kind, state}`: the outbox's pending and dead deliveries by kind,
/// read from the database when `/metrics` is scraped (so every node reports the shared queue).
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDepthSource;

impl ScrapeSource for QueueDepthSource {
    fn collect<'a>(&'a self, state: &'a AppState) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let depth = match state.store.outbox_depth().await {
                Ok(depth) => depth,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the outbox's queue depth");
                    return Vec::new();
                }
            };
            let mut kinds: Vec<String> = DELIVERY_KINDS.iter().map(|k| k.to_string()).collect();
            for row in &depth {
                if !kinds.contains(&row.kind) {
                    kinds.push(row.kind.clone());
                }
            }
            let mut samples = Vec::new();
            for kind in kinds {
                for status in [DeliveryStatus::Pending, DeliveryStatus::Dead] {
                    let value = depth
                        .iter()
                        .filter(|row| row.kind == kind && row.status == status)
                        .map(|row| row.count)
                        .sum();
                    samples.push(GaugeSample {
                        name: "webhook_queue_depth",
                        help: "Outbox deliveries waiting (pending) or given up (dead), by kind",
                        labels: vec![("kind", kind.clone()), ("state", status.as_str().to_string())],
                        value,
                    });
                }
            }
            samples
        })
    }
}

async fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: OutboxSettings,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
) {
    let claim = match licensd_crypto::random_token("claim_") {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(%error, "cannot start the outbox worker");
            return;
        }
    };
    let lease = i64::try_from(settings.lease().as_millis()).unwrap_or(i64::MAX);
    loop {
        let now = clock.now();
        let pause = match store.outbox_next_due().await {
            Ok(Some(due)) if due <= now => {
                match store
                    .outbox_claim(&claim, now, now.saturating_add(lease), settings.batch)
                    .await
                {
                    Ok(claimed) if !claimed.is_empty() => {
                        send_all(&store, &clock, &settings, &metrics, &claim, claimed).await;
                        continue;
                    }
                    // Another node took them first.
                    Ok(_) => settings.poll,
                    Err(error) => {
                        tracing::warn!(%error, "cannot claim outbox deliveries");
                        settings.poll
                    }
                }
            }
            Ok(Some(due)) => Duration::from_millis(u64::try_from(due - now).unwrap_or(0)).min(settings.poll),
            Ok(None) => settings.poll,
            Err(error) => {
                tracing::warn!(%error, "cannot read the outbox");
                settings.poll
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = wake.notified() => {}
        }
    }
}

/// Sends the claimed deliveries side by side and records each attempt.
async fn send_all(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    settings: &OutboxSettings,
    metrics: &Arc<Metrics>,
    claim: &str,
    claimed: Vec<Delivery>,
) {
    let mut running = tokio::task::JoinSet::new();
    for delivery in claimed {
        let (store, clock, settings, metrics, claim) = (
            store.clone(),
            clock.clone(),
            settings.clone(),
            metrics.clone(),
            claim.to_string(),
        );
        running.spawn(async move {
            let sent = match send_time_headers(&store, &delivery, clock.now()).await {
                Ok(headers) => send(&delivery, &headers, &settings).await,
                Err(error) => Sent::failed(error),
            };
            let now = clock.now();
            let outcome = if sent.delivered {
                AttemptOutcome::Delivered
            } else {
                let failures = u32::try_from(delivery.attempts.saturating_add(1)).unwrap_or(u32::MAX);
                match settings
                    .retry
                    .after_failure(delivery.created_at, failures, now, jitter(delivery.id, now))
                {
                    AfterFailure::RetryAt(at) => AttemptOutcome::RetryAt(at),
                    AfterFailure::GiveUp => AttemptOutcome::Dead,
                }
            };
            let result = match outcome {
                AttemptOutcome::Delivered => DeliveryResult::Delivered,
                AttemptOutcome::RetryAt(_) => DeliveryResult::Failed,
                AttemptOutcome::Dead => DeliveryResult::Dead,
            };
            metrics.count_delivery_attempt(&delivery.kind, result);
            match outcome {
                AttemptOutcome::Delivered => tracing::info!(id = delivery.id, kind = %delivery.kind, "delivered"),
                AttemptOutcome::RetryAt(at) => tracing::warn!(
                    id = delivery.id, kind = %delivery.kind, status = ?sent.status, error = ?sent.error,
                    retry_in_ms = at - now, "delivery failed; will retry"
                ),
                AttemptOutcome::Dead => tracing::error!(
                    id = delivery.id, kind = %delivery.kind, status = ?sent.status, error = ?sent.error,
                    "delivery failed for the last time; marked dead"
                ),
            }
            let attempt = Attempt {
                outcome,
                response_status: sent.status,
                error: sent.error,
                response_excerpt: sent.excerpt,
            };
            if let Err(error) = store.outbox_record(delivery.id, &claim, attempt, now).await {
                tracing::warn!(id = delivery.id, %error, "cannot record a delivery attempt");
            }
        });
    }
    while running.join_next().await.is_some() {}
}

/// What one attempt got.
struct Sent {
    delivered: bool,
    status: Option<i64>,
    error: Option<String>,
    excerpt: Option<String>,
}

impl Sent {
    fn failed(error: impl Into<String>) -> Self {
        Self {
            delivered: false,
            status: None,
            error: Some(error.into()),
            excerpt: None,
        }
    }
}

/// The headers a delivery gets when it is sent rather than when it was queued: the Standard
/// Webhooks signature of a webhook-endpoint delivery (none for other kinds).
async fn send_time_headers(
    store: &Arc<dyn Store>,
    delivery: &Delivery,
    now: licensd_domain::Millis,
) -> Result<Vec<(String, String)>, String> {
    let Some(endpoint) = delivery.webhook_id else {
        return Ok(Vec::new());
    };
    let secret = store
        .webhook_secret(endpoint)
        .await
        .map_err(|error| format!("cannot read the webhook endpoint's secret: {error}"))?;
    let id = delivery.id.to_string();
    let timestamp = now.div_euclid(1000);
    let signature = standard_webhook_signature(&secret, &id, timestamp, &delivery.body)
        .ok_or("the webhook endpoint's secret is not whsec_ and base64")?;
    Ok(vec![
        ("webhook-id".into(), id),
        ("webhook-timestamp".into(), timestamp.to_string()),
        ("webhook-signature".into(), signature),
    ])
}

/// `v1,` + base64 of HMAC-SHA256(key, `{id}.{timestamp}.{body}`), the key being the base64 after
/// `whsec_` (Standard Webhooks); `None` for a secret not of that form.
pub fn standard_webhook_signature(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(secret.strip_prefix(licensd_domain::webhooks::SECRET_PREFIX)?)
        .ok()?;
    let mac = licensd_crypto::hmac_sha256(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!("v1,{}", engine.encode(mac)))
}

async fn send(delivery: &Delivery, signed: &[(String, String)], settings: &OutboxSettings) -> Sent {
    let Ok(url) = reqwest::Url::parse(&delivery.target_url) else {
        return Sent::failed("the target URL does not parse");
    };
    // Checked again at each attempt: where a name resolves may have changed since it was queued.
    // A name lookup counts against the attempt's timeout too.
    let resolved = tokio::time::timeout(settings.timeout, webhook_target(&url, settings.allow_private)).await;
    let Ok(Some(target)) = resolved else {
        return Sent::failed(
            "the target does not resolve to an allowed address (private, loopback and link-local addresses need --allow-private-webhooks)",
        );
    };
    let host = url.host_str().unwrap_or_default().to_string();
    // Pinned to the address that was checked, so a second DNS answer cannot redirect it.
    let client = match reqwest::Client::builder()
        .resolve(&host, target)
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("licensd/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => return Sent::failed(format!("cannot build the HTTP client: {error}")),
    };
    let mut request = client.post(url).body(delivery.body.clone());
    for (name, value) in delivery.headers.iter().chain(signed) {
        request = request.header(name.as_str(), value.as_str());
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Sent::failed(error_chain(&error)),
    };
    let status = response.status();
    // Only the start of the answer is kept; the rest is not read.
    let mut excerpt = Vec::new();
    while excerpt.len() < MAX_RESPONSE_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&excerpt);
    let excerpt = truncate_utf8(&text, MAX_RESPONSE_EXCERPT_BYTES).to_string();
    Sent {
        delivered: status.is_success(),
        status: Some(i64::from(status.as_u16())),
        error: (!status.is_success()).then(|| format!("the receiver answered {status}")),
        excerpt: (!excerpt.is_empty()).then_some(excerpt),
    }
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A number in `[0, 1)` that differs between deliveries and attempts (randomly seeded per process).
fn jitter(id: i64, now: i64) -> f64 {
    use std::hash::BuildHasher;
    let hash = std::collections::hash_map::RandomState::new().hash_one((id, now));
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// The address a webhook goes to: the first its host resolves to, when every resolved address
/// is public (`access::is_public_address`) or private targets are allowed.
pub async fn webhook_target(url: &reqwest::Url, allow_private: bool) -> Option<SocketAddr> {
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default()?;
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port)).await.ok()?.collect();
    let allowed = |address: &SocketAddr| allow_private || licensd_domain::access::is_public_address(address.ip());
    (!addresses.is_empty() && addresses.iter().all(allowed)).then(|| addresses[0])
}

/// A webhook target a client may name: an absolute http(s) URL with a host.
pub fn webhook_url(text: &str) -> Option<reqwest::Url> {
    let url = reqwest::Url::parse(text.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host().is_some()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::standard_webhook_signature;

    /// The Standard Webhooks specification's example.
    #[test]
    fn signatures_match_the_specification() {
        assert_eq!(
            standard_webhook_signature(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            )
            .as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(standard_webhook_signature("MfKQ9r8G", "1", 1, "{}"), None);
        assert_eq!(standard_webhook_signature("whsec_!!!", "1", 1, "{}"), None);
    }
}
