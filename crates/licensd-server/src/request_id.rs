//! A request id on every request: taken from the client's `x-request-id` when it is sane (1 to
//! 128 visible ASCII characters), generated otherwise (32 hex digits), recorded in the request's
//! log span (`request_id`, on every log line of the request) and returned as `x-request-id` on
//! every answer, whichever dialect makes it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header that carries the id both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-chosen id kept.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The client's id, if it is one we may log and echo: 1 to 128 bytes, each a visible ASCII
/// character (no spaces, no control characters, nothing that could break a log line).
pub fn sane(value: &HeaderValue) -> Option<HeaderValue> {
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty() && bytes.len() <= MAX_REQUEST_ID_LEN && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    ok.then(|| value.clone())
}

/// A fresh id: 16 random bytes as hex.
fn generate() -> HeaderValue {
    let mut bytes = [0u8; 16];
    if licensd_crypto::random_bytes(&mut bytes).is_err() {
        // The system random source failed: fall back to the time, still unique enough to
        // tell requests apart in a log.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_be_bytes();
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        hex[2 * i] = HEX[usize::from(b >> 4)];
        hex[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    // Hex digits are always a valid header value.
    HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// The request-id middleware: the outermost layer, so the id is in the request's headers before
/// the log span is made (`redact::request_span` reads it) and on every answer, refusals included.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane)
        .unwrap_or_else(generate);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_printable_ids_are_kept() {
        let keep = |s: &str| sane(&HeaderValue::from_str(s).unwrap()).is_some();
        assert!(keep("abc-123_DEF.456:x/y"));
        assert!(keep(&"a".repeat(128)));
        assert!(!keep(&"a".repeat(129)));
        assert!(!keep(""));
        assert!(!keep("has space"));
        assert!(!keep("tab\there"));
        assert!(sane(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()).is_none());
        let generated = generate();
        assert_eq!(generated.len(), 32);
        assert!(sane(&generated).is_some());
        assert_ne!(generate(), generated);
    }
}
