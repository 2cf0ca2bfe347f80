//! Edge checks of text, counts, instants and IP rules, answered with the native 422. The native
//! API and the dialects' admin routes (which speak the native error shape) share them.

use crate::error::ApiError;
use licensd_domain::access::{IpRule, MAX_IP_RULES};

/// Rejects blank or oversized text fields with a clear message.
pub fn require_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::unprocessable(format!("{field} must not be empty")));
    }
    if value.len() > max {
        return Err(ApiError::unprocessable(format!("{field} must be at most {max} bytes")));
    }
    Ok(())
}

/// Rejects negative counts and limits.
pub fn require_non_negative(field: &str, value: Option<i64>) -> Result<(), ApiError> {
    match value {
        Some(v) if v < 0 => Err(ApiError::unprocessable(format!("{field} must not be negative"))),
        _ => Ok(()),
    }
}

/// A domain range check (`licensd_domain::limits`) as the native 422.
pub fn within(check: Result<(), licensd_domain::limits::OutOfRange>) -> Result<(), ApiError> {
    check.map_err(|error| ApiError::unprocessable(error.to_string()))
}

/// A duration in days: not negative, at most `limits::MAX_DAYS`.
pub fn require_days(field: &str, value: Option<i64>) -> Result<(), ApiError> {
    require_non_negative(field, value)?;
    within(licensd_domain::limits::days(field, value))
}

/// An instant within `limits::MIN_INSTANT..=MAX_INSTANT`.
pub fn require_instant(field: &str, value: Option<i64>) -> Result<(), ApiError> {
    within(licensd_domain::limits::instant(field, value))
}

/// Bounds optional free text (names, references, reasons).
pub fn optional_text(field: &str, value: &Option<String>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(text) if text.len() > max => Err(ApiError::unprocessable(format!("{field} must be at most {max} bytes"))),
        _ => Ok(()),
    }
}

pub fn metadata_or_empty(value: Option<serde_json::Value>) -> Result<serde_json::Value, ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(serde_json::json!({})),
        Some(object @ serde_json::Value::Object(_)) => Ok(object),
        Some(_) => Err(ApiError::unprocessable("metadata must be a JSON object")),
    }
}

/// Parses one allow-list or block-list entry (`192.0.2.7`, `2001:db8::1`, `192.0.2.0/24`,
/// `2001:db8::/32`; `access::IpRule`): 422 for anything else.
pub fn check_ip_rule(rule: &str) -> Result<IpRule, ApiError> {
    IpRule::parse(rule).map_err(|error| ApiError::unprocessable(format!("ip_allowlist entry {error}")))
}

/// Parses every entry of an `ip_allowlist` (422 for more than `access::MAX_IP_RULES` entries,
/// and at the first malformed one).
pub fn check_ip_rules(rules: &[String]) -> Result<Vec<IpRule>, ApiError> {
    if rules.len() > MAX_IP_RULES {
        return Err(ApiError::unprocessable(format!(
            "ip_allowlist must have at most {MAX_IP_RULES} entries"
        )));
    }
    rules.iter().map(|rule| check_ip_rule(rule)).collect()
}
