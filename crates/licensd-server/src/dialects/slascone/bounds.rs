//! Maximum lengths of the text a SLASCONE request may carry, checked on every JSON body before it
//! is read (and on `client_id` in the offline activation's query). SLASCONE publishes no limits;
//! licensd's, in characters:
//!
//! | Field | Maximum |
//! |---|---|
//! | `client_id` | 256 |
//! | any other `…_id`, `…_key`, `product_id`, `license_key`, `token_key`, `session_id`, `user_id` | 256 |
//! | `timestamp_utc` and other `…_utc` instants | 64 |
//! | any other string (names, descriptions, versions, analytical values, …) | 4096 |
//!
//! A longer value is a technical 400 (`{title, status, detail}` naming the field); nothing is
//! read or stored. Strings inside arrays count against the field that holds the array.

use super::wire::{SlError, SlResult};
use serde_json::Value;

pub const MAX_ID: usize = 256;
pub const MAX_INSTANT: usize = 64;
pub const MAX_TEXT: usize = 4096;

/// The maximum length of a string held by `field`.
pub fn max_len(field: &str) -> usize {
    if field.ends_with("_id") || field.ends_with("_key") || field == "id" || field == "key" {
        MAX_ID
    } else if field.ends_with("_utc") {
        MAX_INSTANT
    } else {
        MAX_TEXT
    }
}

/// 400 when the text of `field` is longer than its maximum.
pub fn check_text(field: &str, text: &str) -> SlResult<()> {
    let max = max_len(field);
    if text.chars().count() > max {
        return Err(SlError::BadRequest(format!("{field} is longer than {max} characters")));
    }
    Ok(())
}

/// Checks every string of a request body against the maximum of the field holding it.
pub fn check(value: &Value) -> SlResult<()> {
    walk("body", value)
}

fn walk(field: &str, value: &Value) -> SlResult<()> {
    match value {
        Value::String(text) => check_text(field, text),
        Value::Array(items) => items.iter().try_for_each(|item| walk(field, item)),
        Value::Object(map) => map.iter().try_for_each(|(name, item)| {
            check_text("field name", name)?;
            walk(name, item)
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_by_field() {
        assert!(check(&json!({"client_id": "c".repeat(256), "client_name": "n".repeat(4096)})).is_ok());
        assert!(check(&json!({"client_id": "c".repeat(257)})).is_err());
        assert!(check(&json!({"items": [{"token_key": "k".repeat(257)}]})).is_err());
        assert!(check(&json!({"timestamp_utc": "t".repeat(65)})).is_err());
        assert!(check(&json!({"tags": ["x".repeat(4097)]})).is_err());
    }
}
