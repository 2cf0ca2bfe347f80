//! The asynchronous client.

use crate::ClientError;
use crate::answer::{self, ALGORITHM_HEADER, KEY_ID_HEADER, RawAnswer, SIGNATURE_HEADER};
use crate::cache::{Cache, CachedAnswer};
use crate::types::*;
use licensd_crypto::{Algorithm, LicenceFileCheck, PublicKey};
use licensd_domain::licence_file::LicenceFileContents;
use licensd_domain::{FloatingLease, Millis};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long a cached validation stands in for the server by default: three days.
pub const DEFAULT_OFFLINE_GRACE: Duration = Duration::from_secs(3 * 24 * 3600);
/// How far the local clock may lag behind the server's before a cached answer counts as
/// "from the future" (the clock was set back).
const CLOCK_SKEW_MS: Millis = 5 * 60 * 1000;

type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

fn system_now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How to reach the server, which licence this application holds and which keys it trusts.
#[derive(Clone)]
pub struct ClientConfig {
    /// Base URL of the licensd server, e.g. `https://licensing.example.com`.
    pub server: String,
    pub licence_key: String,
    /// This machine's fingerprint (see [`crate::machine_fingerprint`]).
    pub fingerprint: String,
    /// The server's Ed25519 public keys, pinned in the application. Answers signed by any other
    /// key are refused.
    pub trusted_keys: Vec<PublicKey>,
    /// Where the offline cache lives; `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// How long after the server last said "valid" the cached answer is honoured offline.
    pub offline_grace: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// When set, the licence must belong to this product code.
    pub product: Option<String>,
    clock: Clock,
}

impl std::fmt::Debug for ClientConfig {
    // The licence key is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("server", &self.server)
            .field("fingerprint", &self.fingerprint)
            .field(
                "trusted_keys",
                &self.trusted_keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .field("cache_dir", &self.cache_dir)
            .field("offline_grace", &self.offline_grace)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    pub fn new(server: impl Into<String>, licence_key: impl Into<String>, fingerprint: impl Into<String>) -> Self {
        Self {
            server: server.into().trim_end_matches('/').to_string(),
            licence_key: licence_key.into(),
            fingerprint: fingerprint.into(),
            trusted_keys: Vec::new(),
            cache_dir: None,
            offline_grace: DEFAULT_OFFLINE_GRACE,
            timeout: Duration::from_secs(10),
            product: None,
            clock: Arc::new(system_now),
        }
    }

    /// Pins a server public key given as PEM (`GET /v1/signing-keys` lists them).
    pub fn trust_pem(mut self, pem: &str) -> Result<Self, ClientError> {
        let key = PublicKey::from_pem(Algorithm::Ed25519, pem)
            .map_err(|e| ClientError::Config(format!("not an Ed25519 public key: {e}")))?;
        self.trusted_keys.push(key);
        Ok(self)
    }

    pub fn trust_key(mut self, key: PublicKey) -> Self {
        self.trusted_keys.push(key);
        self
    }

    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    pub fn offline_grace(mut self, grace: Duration) -> Self {
        self.offline_grace = grace;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn product(mut self, code: impl Into<String>) -> Self {
        self.product = Some(code.into());
        self
    }

    /// Replaces the wall clock (milliseconds since the Unix epoch), e.g. with a trusted time
    /// source.
    pub fn clock(mut self, clock: impl Fn() -> Millis + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

/// The licensd client: every answer is checked against the pinned keys and this request's
/// nonce before the application sees it.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    cache: Option<Cache>,
}

fn nonce() -> Result<String, ClientError> {
    let mut bytes = [0u8; 16];
    licensd_crypto::random_bytes(&mut bytes).map_err(|e| ClientError::Config(e.to_string()))?;
    Ok(licensd_crypto::hex(&bytes))
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        if config.trusted_keys.is_empty() {
            return Err(ClientError::Config("pin at least one server public key".into()));
        }
        if !(config.server.starts_with("http://") || config.server.starts_with("https://")) {
            return Err(ClientError::Config("server must be an http:// or https:// URL".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let cache = config
            .cache_dir
            .as_deref()
            .map(|dir| Cache::new(dir, &config.licence_key, &config.fingerprint));
        Ok(Self { http, config, cache })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn now(&self) -> Millis {
        (self.config.clock)()
    }

    /// POSTs `body` (with a fresh nonce) and returns the raw answer, or `Unreachable` when no
    /// answer arrived.
    async fn post(&self, path: &str, mut body: serde_json::Value) -> Result<(RawAnswer, String), ClientError> {
        let nonce = nonce()?;
        body["nonce"] = json!(nonce);
        let response = self
            .http
            .post(format!("{}{path}", self.config.server))
            .json(&body)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (kid, algorithm, signature) = (
            header(KEY_ID_HEADER),
            header(ALGORITHM_HEADER),
            header(SIGNATURE_HEADER),
        );
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?
            .to_vec();
        Ok((
            RawAnswer {
                status,
                kid,
                algorithm,
                signature,
                body,
            },
            nonce,
        ))
    }

    async fn call<T: DeserializeOwned + Nonced>(&self, path: &str, body: serde_json::Value) -> Result<T, ClientError> {
        let (raw, nonce) = self.post(path, body).await?;
        answer::open(&self.config.trusted_keys, &raw, &nonce)
    }

    /// Activates this device on the licence (a second call answers `newly_activated: false`).
    pub async fn activate(&self, details: &DeviceDetails) -> Result<Activation, ClientError> {
        let mut body = serde_json::to_value(details).map_err(|e| ClientError::Config(e.to_string()))?;
        body["key"] = json!(self.config.licence_key);
        body["fingerprint"] = json!(self.config.fingerprint);
        let answer: ActivateAnswer = self.call("/v1/licenses/actions/activate", body).await?;
        Ok(Activation {
            newly_activated: answer.code == "ACTIVATED",
            license: answer.license,
            device: answer.device,
        })
    }

    /// Asks the server whether the licence is valid on this device. When the server cannot be
    /// reached, the last signed validation stands in for it during the offline grace period.
    pub async fn validate(&self) -> Result<Validation, ClientError> {
        let body = json!({
            "key": self.config.licence_key,
            "fingerprint": self.config.fingerprint,
            "product": self.config.product,
        });
        let (raw, nonce) = match self.post("/v1/licenses/actions/validate", body).await {
            Ok(answer) => answer,
            Err(ClientError::Unreachable(reason)) => return self.cached_validation(reason),
            Err(other) => return Err(other),
        };
        let answer: ValidateAnswer = answer::open(&self.config.trusted_keys, &raw, &nonce)?;
        let validation = match self.accept_validation(answer, Source::Online) {
            Ok(validation) => validation,
            Err(error) => {
                // A signed refusal ends offline use: the old "valid" must not outlive it.
                if let (Some(cache), ClientError::Denied { .. }) = (&self.cache, &error) {
                    cache.forget_validation()?;
                }
                return Err(error);
            }
        };
        if let Some(cache) = &self.cache {
            // Only a signed "valid" answer is worth keeping for offline use.
            if let (Some(kid), Some(signature)) = (raw.kid, raw.signature) {
                cache.store_validation(&CachedAnswer {
                    kid,
                    signature,
                    body: licensd_crypto::b64(&raw.body),
                })?;
            }
            cache.saw(self.now())?;
        }
        Ok(validation)
    }

    fn accept_validation(&self, answer: ValidateAnswer, source: Source) -> Result<Validation, ClientError> {
        if !answer.valid {
            return Err(answer::refusal(200, answer.code, answer.detail));
        }
        let license = answer
            .license
            .ok_or_else(|| ClientError::UnexpectedAnswer("a valid answer without its licence".into()))?;
        if answer
            .device
            .as_ref()
            .is_some_and(|device| device.fingerprint != self.config.fingerprint)
        {
            return Err(ClientError::UnexpectedAnswer(
                "the answer is about another device".into(),
            ));
        }
        Ok(Validation {
            license,
            device: answer.device,
            in_grace_period: answer.in_grace_period,
            maintenance_active: answer.maintenance_active,
            checked_at: answer.checked_at,
            source,
        })
    }

    /// The offline path: the cached answer, re-verified, if it is recent enough.
    fn cached_validation(&self, reason: String) -> Result<Validation, ClientError> {
        let Some(cache) = &self.cache else {
            return Err(ClientError::Unreachable(reason));
        };
        let Some(cached) = cache.load_validation()? else {
            return Err(ClientError::Unreachable(reason));
        };
        let body = licensd_crypto::b64_decode(&cached.body).map_err(|_| ClientError::BadSignature)?;
        answer::check_signature(
            &self.config.trusted_keys,
            Some(&cached.kid),
            Some("Ed25519"),
            Some(&cached.signature),
            &body,
        )?;
        let answer: ValidateAnswer =
            serde_json::from_slice(&body).map_err(|e| ClientError::UnexpectedAnswer(e.to_string()))?;
        // The cached answer must be about this device (the fingerprint is inside the signed body).
        if answer.device.as_ref().map(|d| d.fingerprint.as_str()) != Some(self.config.fingerprint.as_str()) {
            return Err(ClientError::UnexpectedAnswer(
                "the cached answer is about another device".into(),
            ));
        }
        let now = self.now();
        if cache.last_seen().is_some_and(|seen| now < seen) || now.saturating_add(CLOCK_SKEW_MS) < answer.checked_at {
            return Err(ClientError::ClockRolledBack);
        }
        let grace = i64::try_from(self.config.offline_grace.as_millis()).unwrap_or(i64::MAX);
        if now.saturating_sub(answer.checked_at) > grace {
            return Err(ClientError::GraceExpired {
                checked_at: answer.checked_at,
            });
        }
        let validation = self.accept_validation(answer, Source::Cached)?;
        cache.saw(now)?;
        Ok(validation)
    }

    /// Releases this device's activation.
    pub async fn deactivate(&self) -> Result<(), ClientError> {
        let body = json!({"key": self.config.licence_key, "fingerprint": self.config.fingerprint});
        let _: ActionAnswer = self.call("/v1/licenses/actions/deactivate", body).await?;
        Ok(())
    }

    /// Records `amount` units on the licence (or on `feature`). Retrying with the same
    /// `idempotency_key` never counts twice.
    pub async fn consume(
        &self,
        amount: i64,
        feature: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Consumption, ClientError> {
        let body = json!({
            "key": self.config.licence_key,
            "amount": amount,
            "feature": feature,
            "idempotency_key": idempotency_key,
        });
        let answer: ConsumeAnswer = self.call("/v1/licenses/actions/consume", body).await?;
        Ok(Consumption {
            license_id: answer.license_id,
            total: answer.total,
            replayed: answer.replayed,
        })
    }

    /// Takes a floating seat (or borrows it until `borrow_until`).
    pub async fn checkout(&self, borrow_until: Option<Millis>) -> Result<FloatingLease, ClientError> {
        let body = json!({
            "key": self.config.licence_key,
            "fingerprint": self.config.fingerprint,
            "borrow_until": borrow_until,
        });
        let answer: CheckoutAnswer = self.call("/v1/licenses/actions/checkout", body).await?;
        if answer.lease.fingerprint != self.config.fingerprint {
            return Err(ClientError::UnexpectedAnswer("the lease is for another device".into()));
        }
        Ok(answer.lease)
    }

    /// Renews this device's floating seat before its lease runs out; call it well inside the
    /// lease period. Fails with `FLOATING_SEATS_EXHAUSTED` if the seat was lost meanwhile.
    pub async fn heartbeat(&self) -> Result<FloatingLease, ClientError> {
        self.checkout(None).await
    }

    /// Gives the floating seat back.
    pub async fn release(&self) -> Result<(), ClientError> {
        let body = json!({"key": self.config.licence_key, "fingerprint": self.config.fingerprint});
        let _: ActionAnswer = self.call("/v1/licenses/actions/release", body).await?;
        Ok(())
    }

    /// Asks the server for an offline licence file bound to this device (which must be
    /// activated), verifies it and returns it for storing.
    pub async fn checkout_licence_file(
        &self,
        ttl_seconds: Option<i64>,
        encrypt: bool,
    ) -> Result<IssuedLicenceFile, ClientError> {
        let body = json!({
            "key": self.config.licence_key,
            "fingerprint": self.config.fingerprint,
            "ttl_seconds": ttl_seconds,
            "encrypt": encrypt,
        });
        let answer: FileAnswer = self.call("/v1/licenses/actions/checkout-file", body).await?;
        // The file carries its own signature: check it now, so a bad file never gets stored.
        self.verify_licence_file(&answer.file)?;
        Ok(IssuedLicenceFile {
            file: answer.file,
            kid: answer.kid,
            issued_at: answer.issued_at,
            expires_at: answer.expires_at,
            encrypted: answer.encrypted,
        })
    }

    /// Verifies a licence file without any network: pinned key, signature, this device, clock
    /// (against the latest time seen, kept in the cache directory) and time-to-live.
    pub fn verify_licence_file(&self, file: &str) -> Result<LicenceFile, ClientError> {
        let now = self.now();
        let last_seen = self.cache.as_ref().and_then(Cache::last_seen);
        let verified = licensd_crypto::verify_licence_file(
            file,
            &LicenceFileCheck {
                trusted: &self.config.trusted_keys,
                fingerprint: &self.config.fingerprint,
                now,
                last_seen,
                licence_key: Some(&self.config.licence_key),
            },
        )?;
        let contents: LicenceFileContents = serde_json::from_value(verified.payload)
            .map_err(|e| ClientError::UnexpectedAnswer(format!("licence file payload: {e}")))?;
        if let Some(cache) = &self.cache {
            cache.saw(now)?;
        }
        Ok(LicenceFile {
            kid: verified.kid,
            encrypted: verified.encrypted,
            contents,
        })
    }
}
