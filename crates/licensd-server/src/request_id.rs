//! A request id on every request: taken from the client's `x-request-id` when it is sane (1 to
//! 128 visible ASCII characters), generated otherwise (32 hex digits), recorded in the request's
//! log span (`request_id`, on every log line of the request) and returned as `x-request-id` on
//! every answer, whichever dialect makes it.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

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

/// Random bytes for ids, drawn from the system's generator 64 ids at a time (a draw has a fixed
/// cost that would otherwise be paid on every request).
struct IdPool {
    bytes: [u8; 16 * 64],
    used: usize,
}

thread_local! {
    static ID_POOL: std::cell::RefCell<IdPool> = const {
        std::cell::RefCell::new(IdPool { bytes: [0; 16 * 64], used: 16 * 64 })
    };
}

/// 16 random bytes from this thread's pool; `None` if the system's generator failed.
fn random_id_bytes() -> Option<[u8; 16]> {
    ID_POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.used == pool.bytes.len() {
            licensd_crypto::random_bytes(&mut pool.bytes).ok()?;
            pool.used = 0;
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&pool.bytes[pool.used..pool.used + 16]);
        pool.used += 16;
        Some(bytes)
    })
}

/// A fresh id: 16 random bytes as hex.
fn generate() -> HeaderValue {
    let bytes = random_id_bytes().unwrap_or_else(|| {
        // The system random source failed: fall back to the time, still unique enough to
        // tell requests apart in a log.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        nanos.to_be_bytes()
    });
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        hex[2 * i] = HEX[usize::from(b >> 4)];
        hex[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    // Hex digits are always a valid header value.
    HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// The request's id: the client's when it is sane, a fresh one otherwise. `crate::layers::Observe`,
/// the outermost layer, puts it in the request's headers before the log span is made
/// (`redact::request_span` reads it) and on every answer, refusals included.
pub fn for_request(headers: &HeaderMap) -> HeaderValue {
    headers.get(&REQUEST_ID).and_then(sane).unwrap_or_else(generate)
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
        // Across several refills of the thread's pool: every id fresh, 32 hex digits.
        let ids: std::collections::HashSet<HeaderValue> = (0..300).map(|_| generate()).collect();
        assert_eq!(ids.len(), 300);
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.as_bytes().iter().all(u8::is_ascii_hexdigit))
        );
    }
}
