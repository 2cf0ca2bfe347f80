//! Keeps secrets out of the logs. Request targets are logged (at debug level, by the trace
//! layer) only through `redact_target`: licence keys and API keys that travel in a path (Key
//! Manager `/api/v1/download/{api_key}/{license_key}/…`, DNA `/dna/v1/<resource>/<product>/<licence>…`)
//! and every query value whose name suggests a secret are replaced by `***`.

use axum::http::Request;
use tracing::Span;

/// What stands in for a secret in a log line.
pub const REDACTED: &str = "***";

/// Query parameter names (lowercase, substring match) whose values are never logged.
const SECRET_NAMES: &[&str] = &[
    "key",
    "token",
    "password",
    "passwd",
    "secret",
    "license",
    "licence",
    "signature",
    "auth",
    "session",
    "code",
];

/// Whether a query parameter of this name may carry a secret.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|secret| name.contains(secret))
}

/// The path with the segments that hold secrets replaced.
pub fn redact_path(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').collect();
    let lower = path.to_ascii_lowercase();
    // ["", "api", "v1", "download", api_key, license_key, identifier, version]
    let secret_from: Option<(usize, usize)> = if lower.starts_with("/api/v1/download/") {
        Some((4, 6))
    } else if lower.starts_with("/dna/v1/") {
        // ["", "dna", "v1", resource, product, licence, …]: the licence id and anything after it.
        Some((5, usize::MAX))
    } else {
        None
    };
    if let Some((from, to)) = secret_from {
        for (index, segment) in segments.iter_mut().enumerate() {
            if index >= from && index < to && !segment.is_empty() {
                *segment = REDACTED;
            }
        }
    }
    segments.join("/")
}

/// The query with the values of secret-looking parameters replaced (names are kept).
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A request target (path and query) safe to log.
pub fn redact_target(path: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{}?{}", redact_path(path), redact_query(query)),
        None => redact_path(path),
    }
}

/// The trace layer's request span, with the target redacted and the request id
/// (`crate::request_id`, already sanitised) as `request_id`. At INFO so that its fields are on
/// every line logged inside the request at the default level.
pub fn request_span<B>(request: &Request<B>) -> Span {
    // Below INFO (e.g. `--log warn`) the span would be disabled anyway: skip redacting the
    // target for it (an allocation per request).
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return Span::none();
    }
    let target = redact_target(request.uri().path(), request.uri().query());
    let request_id = request
        .headers()
        .get(&crate::request_id::REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %request.method(), uri = %target, version = ?request.version(), request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_and_dna_paths_hide_keys() {
        assert_eq!(
            redact_path("/api/v1/download/KM-API-KEY/LIC-KEY/host-1/2"),
            "/api/v1/download/***/***/host-1/2"
        );
        assert_eq!(
            redact_path("/dna/v1/Licenses/PROD/LIC-CODE/devices"),
            "/dna/v1/Licenses/PROD/***/***"
        );
        assert_eq!(redact_path("/v1/licenses/12"), "/v1/licenses/12");
    }

    #[test]
    fn secret_query_values_are_hidden() {
        assert_eq!(
            redact_query("license_key=ABC&hardware_id=hw&api_key=k&product=p&access_token=t&password=x"),
            "license_key=***&hardware_id=hw&api_key=***&product=p&access_token=***&password=***"
        );
        assert_eq!(redact_target("/x", Some("licenseKey=A")), "/x?licenseKey=***");
    }
}
