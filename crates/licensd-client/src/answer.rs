//! Checking a signed answer: the key id must be pinned, the Ed25519 signature must cover the
//! exact body bytes, and a successful answer must echo this request's nonce.

use crate::ClientError;
use crate::types::{ErrorAnswer, Nonced};
use licensd_crypto::{Algorithm, PublicKey};
use licensd_domain::Denial;
use serde::de::DeserializeOwned;

pub(crate) const SIGNATURE_HEADER: &str = "x-licensd-signature";
pub(crate) const KEY_ID_HEADER: &str = "x-licensd-key-id";
pub(crate) const ALGORITHM_HEADER: &str = "x-licensd-signature-algorithm";

/// A signed answer as received.
pub(crate) struct RawAnswer {
    pub status: u16,
    pub kid: Option<String>,
    pub algorithm: Option<String>,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

/// Verifies the signature of `body` under the pinned key named `kid`.
pub(crate) fn check_signature(
    pinned: &[PublicKey],
    kid: Option<&str>,
    algorithm: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), ClientError> {
    let (Some(kid), Some(signature)) = (kid, signature) else {
        return Err(ClientError::Unsigned);
    };
    if algorithm != Some("Ed25519") {
        return Err(ClientError::Unsigned);
    }
    let key = pinned
        .iter()
        .find(|key| key.algorithm == Algorithm::Ed25519 && key.kid == kid)
        .ok_or_else(|| ClientError::UntrustedKey(kid.to_string()))?;
    let signature = licensd_crypto::b64_decode(signature).map_err(|_| ClientError::BadSignature)?;
    key.verify(body, &signature).map_err(|_| ClientError::BadSignature)
}

/// Turns a received answer into `T` (success) or the typed refusal it signs, after checking the
/// signature first and the nonce last.
pub(crate) fn open<T: DeserializeOwned + Nonced>(
    pinned: &[PublicKey],
    raw: &RawAnswer,
    nonce: &str,
) -> Result<T, ClientError> {
    check_signature(
        pinned,
        raw.kid.as_deref(),
        raw.algorithm.as_deref(),
        raw.signature.as_deref(),
        &raw.body,
    )?;
    if !(200..300).contains(&raw.status) {
        let error: ErrorAnswer = serde_json::from_slice(&raw.body)
            .map_err(|e| ClientError::UnexpectedAnswer(format!("status {}: {e}", raw.status)))?;
        return Err(refusal(raw.status, error.error.code, error.error.message));
    }
    let answer: T = serde_json::from_slice(&raw.body).map_err(|e| ClientError::UnexpectedAnswer(e.to_string()))?;
    if answer.nonce() != Some(nonce) {
        return Err(ClientError::NonceMismatch);
    }
    Ok(answer)
}

/// A denial code becomes [`ClientError::Denied`]; any other code [`ClientError::Rejected`].
pub(crate) fn refusal(status: u16, code: String, message: String) -> ClientError {
    match serde_json::from_value::<Denial>(serde_json::Value::String(code.clone())) {
        Ok(denial) => ClientError::Denied {
            denial,
            message,
            status,
        },
        Err(_) => ClientError::Rejected { code, message, status },
    }
}
