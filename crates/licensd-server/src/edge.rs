//! Checks every request passes before any handler runs, answered in the dialect's own error shape.
//!
//! - **NUL characters.** PostgreSQL cannot store U+0000 in text, so a `%00` in the path or query,
//!   a `\u0000` escape in a JSON body, or a `%00` / raw NUL byte in a form body is refused here
//!   with a 400, identically on SQLite and PostgreSQL (multipart and binary bodies are not
//!   inspected: they may carry files; a NUL that still reaches PostgreSQL is a
//!   `StoreError::InvalidInput`, a 400 too).
//! - **Slow bodies.** A request body that is not complete within the body-read timeout is
//!   answered with 408 (the header-read timeout is the connection's, set by the binary).
//!
//! Which shape answers is decided by the path prefix: `/api/v4` LicenseSpring, `/api/v1` Key
//! Manager, `/api/v2` SLASCONE, `/dna/v1` DNA, anything else the native API.

use crate::dialects::{dna, keymanager, licensespring, slascone};
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use std::time::Duration;

/// How long a client may take to send a request body (`--body-read-timeout`) unless configured.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The API family a path belongs to, which decides the error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    LicenseSpring,
    KeyManager,
    Slascone,
    Dna,
    Native,
}

impl Family {
    pub fn of(path: &str) -> Self {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if under("/api/v4") {
            Family::LicenseSpring
        } else if under("/api/v1") {
            Family::KeyManager
        } else if under("/api/v2") {
            Family::Slascone
        } else if under("/dna/v1") {
            Family::Dna
        } else {
            Family::Native
        }
    }
}

/// Why the edge refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeRefusal {
    /// A NUL character in a text input (`what` names where).
    Nul(&'static str),
    /// The body did not arrive within the body-read timeout.
    BodyTimeout,
    /// The body broke off.
    BodyUnreadable,
}

impl EdgeRefusal {
    fn status(self) -> StatusCode {
        match self {
            EdgeRefusal::Nul(_) | EdgeRefusal::BodyUnreadable => StatusCode::BAD_REQUEST,
            EdgeRefusal::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn message(self) -> String {
        match self {
            EdgeRefusal::Nul(what) => {
                format!("the request {what} contains a NUL character, which no text field may hold")
            }
            EdgeRefusal::BodyTimeout => "the request body did not arrive in time".to_string(),
            EdgeRefusal::BodyUnreadable => "the request body could not be read".to_string(),
        }
    }
}

/// The refusal in the shape of the family `path` belongs to.
pub async fn refusal_response(state: &AppState, path: &str, refusal: EdgeRefusal) -> Response {
    let status = refusal.status();
    let message = refusal.message();
    match Family::of(path) {
        Family::LicenseSpring => {
            let code = if status == StatusCode::BAD_REQUEST {
                "validation_error"
            } else {
                "request_timeout"
            };
            licensespring::wire::LsError::new(status, code, message).into_response()
        }
        Family::KeyManager => keymanager::edge_refusal(state, status).await,
        Family::Slascone => {
            let mut response = slascone::wire::SlError::BadRequest(message).into_response();
            if status != StatusCode::BAD_REQUEST {
                *response.status_mut() = status;
            }
            response
        }
        Family::Dna => dna::wire::DnaError::new(status, message).into_response(),
        Family::Native => {
            let code = match refusal {
                EdgeRefusal::Nul(_) => "invalid_text",
                EdgeRefusal::BodyTimeout => "request_timeout",
                EdgeRefusal::BodyUnreadable => "invalid_body",
            };
            ApiError::new(status, code, message).into_response()
        }
    }
}

/// Whether percent-encoded text (a path, a query, a form body) encodes or holds a NUL.
pub fn percent_text_has_nul(text: &[u8]) -> bool {
    text.contains(&0) || text.windows(3).any(|w| w == b"%00")
}

/// Whether a JSON text holds a NUL: a raw 0 byte or a `\u0000` escape (an escaped backslash
/// followed by `u0000`, i.e. the six characters `\u0000` as text, is not one).
pub fn json_has_nul(text: &[u8]) -> bool {
    if text.contains(&0) {
        return true;
    }
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' {
            if text.get(i + 1) == Some(&b'u') && text.get(i + 2..i + 6) == Some(b"0000".as_slice()) {
                return true;
            }
            // Skip the escaped character, whatever it is.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// How a body is inspected for NUL, from its content type.
fn body_kind(parts: &Parts) -> Option<bool> {
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/") || content_type.starts_with("application/octet-stream") {
        None
    } else {
        // Some(true): JSON; Some(false): form or plain text (Key Manager reads those as forms).
        Some(content_type.contains("json"))
    }
}

/// The edge checks (see the module documentation): the request to pass on (its body read into
/// memory), or the refusal to answer with. Run for every route by `crate::layers::Edge`, after
/// `crate::layers::drain_oversized_body`.
pub async fn check_request(state: &AppState, req: Request) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    if percent_text_has_nul(path.as_bytes()) {
        return Err(refusal_response(state, path, EdgeRefusal::Nul("path")).await);
    }
    if parts.uri.query().is_some_and(|q| percent_text_has_nul(q.as_bytes())) {
        return Err(refusal_response(state, path, EdgeRefusal::Nul("query")).await);
    }
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > crate::MAX_BODY_BYTES as u64) {
        // The extractor refuses it with the dialect's 413 (after `drain_oversized_body`).
        return Ok(Request::from_parts(parts, body));
    }
    let timeout = state.settings.body_read_timeout;
    let collected = tokio::time::timeout(timeout, Limited::new(body, crate::MAX_BODY_BYTES).collect()).await;
    let bytes: Bytes = match collected {
        Err(_) => return Err(refusal_response(state, parts.uri.path(), EdgeRefusal::BodyTimeout).await),
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) => {
            if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                // Over the limit without saying so up front: the handler answers its 413.
                return Ok(Request::from_parts(parts, crate::over_limit_body()));
            }
            return Err(refusal_response(state, parts.uri.path(), EdgeRefusal::BodyUnreadable).await);
        }
    };
    let has_nul = match body_kind(&parts) {
        Some(true) => json_has_nul(&bytes),
        Some(false) => percent_text_has_nul(&bytes),
        None => false,
    };
    if has_nul {
        return Err(refusal_response(state, parts.uri.path(), EdgeRefusal::Nul("body")).await);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_nul_detection() {
        assert!(json_has_nul(br#"{"a":"x\u0000y"}"#));
        assert!(json_has_nul(br#"{"a\u0000":1}"#));
        assert!(json_has_nul(b"{\"a\":\"\0\"}"));
        assert!(!json_has_nul(br#"{"a":"x\\u0000y"}"#));
        assert!(json_has_nul(br#"{"a":"x\\\u0000y"}"#));
        assert!(!json_has_nul(br#"{"a":"\u0001 %00"}"#));
    }

    #[test]
    fn percent_nul_detection() {
        assert!(percent_text_has_nul(b"a=%00"));
        assert!(percent_text_has_nul(b"a=\0"));
        assert!(!percent_text_has_nul(b"a=%2500"));
        assert!(!percent_text_has_nul(b"a=%01"));
    }

    #[test]
    fn families() {
        assert_eq!(Family::of("/api/v4/activate_license"), Family::LicenseSpring);
        assert_eq!(Family::of("/api/v1/verify"), Family::KeyManager);
        assert_eq!(Family::of("/api/v2/isv/x/provisioning/activations"), Family::Slascone);
        assert_eq!(Family::of("/dna/v1/x"), Family::Dna);
        assert_eq!(Family::of("/v1/licenses"), Family::Native);
        assert_eq!(Family::of("/api/v10"), Family::Native);
    }
}
