use crate::keys::KeyRing;
use licensd_domain::Clock;
use licensd_store::Store;
use std::sync::Arc;

/// Settings the HTTP layer needs (the binary owns parsing them).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Most licenses one bulk request may create.
    pub max_bulk_licenses: usize,
    /// Request rate limits the dialects apply (see `ratelimit`).
    pub rate_limit: crate::ratelimit::RateLimitSettings,
    /// How long a client may take to send a request body before it is answered 408.
    pub body_read_timeout: std::time::Duration,
    /// Whether webhooks a client names may target private, loopback and link-local addresses.
    pub allow_private_webhooks: bool,
    /// The SLASCONE ISV id this server answers to, canonical (lower-case) GUID form
    /// (`dialects::slascone::isv`).
    pub slascone_isv_id: String,
    /// The reverse proxies whose `X-Forwarded-For` names the client (`http::client_ip`); empty:
    /// trust no one, every client address is the TCP peer.
    pub trusted_proxies: Vec<licensd_domain::access::IpRule>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_bulk_licenses: 10_000,
            rate_limit: crate::ratelimit::RateLimitSettings::default(),
            body_read_timeout: crate::edge::DEFAULT_BODY_READ_TIMEOUT,
            allow_private_webhooks: false,
            slascone_isv_id: "00000000-0000-0000-0000-000000000000".to_owned(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Shared by every handler; cheap to clone: one reference count, however many parts it has (the
/// router's layers and extractors clone it several times per request, on every runtime thread, so
/// a clone per part would be a contended atomic each). Its parts are read through `Deref`
/// (`state.store`, `state.keys`, …).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    pub fn new(parts: SharedState) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;
    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct SharedState {
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<ServerSettings>,
    /// The request rate limiter every dialect shares.
    pub limiter: Arc<crate::ratelimit::RateLimiter>,
    /// The series `/metrics` reports (`crate::metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Wakes this process's outbox worker (`crate::outbox`) after a delivery was queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Validations counted for the console's dashboard (`crate::validations`).
    pub validations: Arc<crate::validations::ValidationTally>,
    /// Signed answers to repeated validations (`crate::native::answers`); used only where the
    /// store's read cache is exact.
    pub answers: Arc<crate::native::answers::ValidateAnswers>,
}

impl SharedState {
    pub fn now(&self) -> licensd_domain::Millis {
        self.clock.now()
    }

    /// The domain's read-only validation (`CoreStore::validate`), counted per day for the
    /// console's dashboard in memory (`crate::validations`): no write on the validation path.
    pub async fn validate(
        &self,
        license: licensd_store::LicenseRef,
        fingerprint: Option<&str>,
        now: licensd_domain::Millis,
    ) -> licensd_store::Result<licensd_store::ValidationReport> {
        let report = self.store.validate(license, fingerprint, now).await;
        if report.is_ok() {
            self.validations.note(now);
        }
        report
    }
}
