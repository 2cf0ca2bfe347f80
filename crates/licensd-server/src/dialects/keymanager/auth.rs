//! API keys (codes 100–103) and the access block list (150).
//!
//! A Key Manager API key is a licensd credential of dialect `keymanager`. The key string a client
//! sends is `<key_id>.<secret>`: `key_id` (a UUID) finds the credential, the secret is compared in
//! constant time with the sealed one. Capabilities (endpoint names) and an on/off switch live in
//! the Key Manager storage keyed by credential id; a key without stored settings has the client
//! capabilities an app embedding it needs (`CLIENT_CAPABILITIES`). A revoked or switched-off key
//! answers 101, a caller outside a non-empty IP allow-list 103, a missing capability 102.

use super::Internal;
use super::envelope::Reply;
use super::request::KmRequest;
use crate::ratelimit::RateDecision;
use crate::state::AppState;
use licensd_domain::Credential;
use licensd_domain::Dialect;
use licensd_domain::ProductId;
use licensd_domain::access::{AccessRequest, ApiKeyRefusal, ApiKeyState, check_api_key, find_block};

/// Every endpoint of the dialect, which is also the capability needed to call it.
pub const ALL_CAPABILITIES: &[&str] = &[
    "verify",
    "activate",
    "deactivate",
    "get-license-key-details",
    "access-downloadables",
    "download",
    "assign-license-key",
    "assign-and-activate-license-key",
    "random-assign-license-keys",
    "random-assign-license-keys-queued",
    "create-license-keys",
    "update-license-key",
    "delete-license-key",
    "create-product",
    "update-product",
    "delete-product",
    "create-license-key-meta",
    "update-license-key-meta",
    "delete-license-key-meta",
    "create-product-meta",
    "update-product-meta",
    "delete-product-meta",
    "get-all-products",
    "get-all-generators",
    "generate",
    "get-license-keys",
    "send-telemetry-data",
    "get-telemetry-data",
    "get-available-license-keys-count",
    "create-contract",
    "update-contract",
    "delete-contract",
    "get-all-contracts",
];

/// What a key embedded in shipped software needs; the default for keys without settings.
pub const CLIENT_CAPABILITIES: &[&str] = &[
    "verify",
    "activate",
    "deactivate",
    "get-license-key-details",
    "access-downloadables",
    "download",
    "send-telemetry-data",
    "create-license-key-meta",
    "update-license-key-meta",
    "delete-license-key-meta",
];

/// Endpoints that only read; a read-only credential keeps just these capabilities.
const READ_ONLY_CAPABILITIES: &[&str] = &[
    "verify",
    "get-license-key-details",
    "access-downloadables",
    "download",
    "get-all-products",
    "get-all-generators",
    "get-license-keys",
    "get-telemetry-data",
    "get-available-license-keys-count",
    "get-all-contracts",
];

/// An authorised caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential: Credential,
    pub ip: Option<String>,
}

impl Caller {
    /// Whether the key may act on `product_id` (`access::admit`): a key scoped to another product
    /// does not see that product's licences, generators or contracts (Key Manager answers as
    /// for an unknown one).
    pub fn in_scope(&self, product_id: ProductId) -> bool {
        let request = AccessRequest {
            peer: self.ip.as_deref().and_then(|ip| ip.parse().ok()),
            write: false,
            product: Some(product_id),
        };
        self.credential.admit(&request).is_ok()
    }

    pub fn actor(&self) -> String {
        format!("keymanager:{}", self.credential.name)
    }
}

/// Runs the API-key checks for `capability`, then the block list against the caller's IP and the
/// request's `identifier`. `Err(Ok(reply))` is a refusal to send; `Err(Err(_))` an internal error.
pub async fn authorize(
    state: &AppState,
    api_key: Option<&str>,
    ip: Option<&str>,
    identifier: Option<&str>,
    capability: &str,
) -> Result<Caller, Result<Reply, Internal>> {
    let credential = match api_key.and_then(|key| key.split_once('.')) {
        Some((key_id, secret)) => match state.store.find_credential(Dialect::KeyManager, key_id).await {
            Ok(Some((credential, stored)))
                if licensd_crypto::constant_time_eq(stored.as_bytes(), secret.as_bytes()) =>
            {
                Some(credential)
            }
            Ok(_) => None,
            Err(error) => return Err(Err(error.into())),
        },
        None => None,
    };
    let settings = match &credential {
        Some(credential) => state
            .store
            .api_key_settings(credential.id)
            .await
            .map_err(|e| Err(e.into()))?,
        None => None,
    };
    let (capabilities, active) = match settings {
        Some(settings) => (settings.capabilities, settings.active),
        None => (CLIENT_CAPABILITIES.iter().map(|c| c.to_string()).collect(), true),
    };
    let key_state = credential.as_ref().map(|credential| ApiKeyState {
        flags: credential.flags(),
        active,
        capabilities: &capabilities,
    });
    let peer = ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    // A read-only credential may call only the endpoints that read (`access::admit`, 102 otherwise).
    let write = !READ_ONLY_CAPABILITIES.contains(&capability);
    if let Err(refusal) = check_api_key(key_state, peer, capability, write) {
        return Err(Ok(Reply::new(match refusal {
            ApiKeyRefusal::Unknown => 100,
            ApiKeyRefusal::Inactive => 101,
            ApiKeyRefusal::IpNotAllowed => 103,
            ApiKeyRefusal::MissingCapability => 102,
        })));
    }
    // The per-credential allowance (`--rate-limit-per-credential`) counts authenticated keys only.
    if let Some(credential) = &credential
        && let RateDecision::Limited { reset_seconds } =
            state.limiter.check_credential(super::RATE_SCOPE, &credential.key_id)
    {
        return Err(Ok(Reply::rate_limited(reset_seconds)));
    }
    let blocks = state.store.list_access_blocks().await.map_err(|e| Err(e.into()))?;
    if find_block(&blocks, ip, identifier).is_some() {
        return Err(Ok(Reply::new(150)));
    }
    let credential = credential.ok_or(Ok(Reply::new(100)))?;
    Ok(Caller {
        credential,
        ip: ip.map(str::to_string),
    })
}

/// `authorize` with the request's own API key, IP and `identifier`; `Err` is the refusal to
/// answer with.
pub(super) async fn caller(
    state: &AppState,
    req: &KmRequest,
    capability: &str,
) -> Result<Result<Caller, Reply>, Internal> {
    match authorize(
        state,
        req.api_key.as_deref(),
        req.ip.as_deref(),
        req.present("identifier").as_deref(),
        capability,
    )
    .await
    {
        Ok(caller) => Ok(Ok(caller)),
        Err(Ok(reply)) => Ok(Err(reply)),
        Err(Err(internal)) => Err(internal),
    }
}

/// `authorised!(caller(state, req, capability))` in a handler answering `Result<Reply, Internal>`:
/// the authorised caller, or the handler returns the refusal (an internal error propagates).
macro_rules! authorised {
    ($checks:expr) => {
        match $checks.await? {
            Ok(caller) => caller,
            Err(reply) => return Ok(reply),
        }
    };
}
pub(super) use authorised;
