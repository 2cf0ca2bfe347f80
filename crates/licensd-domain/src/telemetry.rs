//! Telemetry records sent by applications, activated or not. A record is always kept; its format
//! check and red flags (references to keys, products or versions that do not exist, the mark of a
//! cracked or tampered copy) are computed here.

use crate::clock::Millis;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const DATA_TYPES: [&str; 3] = ["numeric-single-value", "numeric-xy-axis", "text"];

/// What the client sent, as text.
#[derive(Debug, Clone, Default)]
pub struct TelemetryInput {
    pub data_type: Option<String>,
    pub data_group: Option<String>,
    pub single_value: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub text: Option<String>,
}

/// The stored form of a record's data plus the format errors found (field → message).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedTelemetry {
    pub data_type: String,
    pub data_group: String,
    pub data: Value,
    pub errors: Vec<(String, String)>,
}

fn number(text: &Option<String>) -> Option<f64> {
    text.as_deref()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// Checks the format; whatever is wrong is reported, and the record keeps what was sent.
pub fn check_telemetry(input: &TelemetryInput) -> CheckedTelemetry {
    let mut errors = Vec::new();
    let data_type = input.data_type.clone().unwrap_or_default();
    let data_group = input.data_group.clone().unwrap_or_default();
    if data_group.trim().is_empty() {
        errors.push(("data_group".into(), "The data group field is required.".into()));
    }
    let data = match data_type.as_str() {
        "numeric-single-value" => match number(&input.single_value) {
            Some(v) => json!({ "value": v }),
            None => {
                errors.push((
                    "numeric_data_single_value".into(),
                    "The numeric data single value must be a number.".into(),
                ));
                json!({ "value": input.single_value })
            }
        },
        "numeric-xy-axis" => {
            let (x, y) = (number(&input.x), number(&input.y));
            if x.is_none() {
                errors.push(("numeric_data_x".into(), "The numeric data x must be a number.".into()));
            }
            if y.is_none() {
                errors.push(("numeric_data_y".into(), "The numeric data y must be a number.".into()));
            }
            match (x, y) {
                (Some(x), Some(y)) => json!({ "x": x, "y": y }),
                _ => json!({ "x": input.x, "y": input.y }),
            }
        }
        "text" => match &input.text {
            Some(text) if !text.is_empty() => json!({ "text": text }),
            _ => {
                errors.push(("text_data".into(), "The text data field is required.".into()));
                json!({ "text": input.text })
            }
        },
        _ => {
            let message = if data_type.trim().is_empty() {
                "The data type field is required."
            } else {
                "The selected data type is invalid."
            };
            errors.push(("data_type".into(), message.into()));
            json!({
                "value": input.single_value, "x": input.x, "y": input.y, "text": input.text
            })
        }
    };
    CheckedTelemetry {
        data_type,
        data_group,
        data,
        errors,
    }
}

/// A reference the client sent and whether it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    pub given: bool,
    pub exists: bool,
}

/// A record is red-flagged when it names a license key, product or product version that does
/// not exist, or a key that belongs to another product than the one named.
pub fn red_flags(license: Reference, product: Reference, version: Reference, key_matches_product: bool) -> bool {
    [license, product, version].iter().any(|r| r.given && !r.exists) || !key_matches_product
}

/// One stored telemetry record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TelemetryRecord {
    pub id: i64,
    pub user_identifier: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub license_id: Option<crate::LicenseId>,
    pub license_key: Option<String>,
    pub activation_identifier: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub product_id: Option<crate::ProductId>,
    pub product_version: Option<String>,
    pub data_type: String,
    pub data_group: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
    pub is_correct_format: bool,
    pub license_key_exists: bool,
    pub product_exists: bool,
    pub product_version_exists: bool,
    pub has_red_flags: bool,
    pub created_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(data_type: &str) -> TelemetryInput {
        TelemetryInput {
            data_type: Some(data_type.into()),
            data_group: Some("usage".into()),
            ..TelemetryInput::default()
        }
    }

    #[test]
    fn well_formed_records_have_no_errors() {
        let mut single = input("numeric-single-value");
        single.single_value = Some("12.5".into());
        let checked = check_telemetry(&single);
        assert_eq!((checked.errors.len(), checked.data), (0, json!({"value": 12.5})));
        let mut xy = input("numeric-xy-axis");
        xy.x = Some("1".into());
        xy.y = Some("-2".into());
        assert_eq!(check_telemetry(&xy).data, json!({"x": 1.0, "y": -2.0}));
        let mut text = input("text");
        text.text = Some("hello".into());
        assert!(check_telemetry(&text).errors.is_empty());
    }

    #[test]
    fn malformed_records_keep_what_was_sent_and_say_why() {
        let mut single = input("numeric-single-value");
        single.single_value = Some("abc".into());
        let checked = check_telemetry(&single);
        assert_eq!(checked.errors[0].0, "numeric_data_single_value");
        assert_eq!(checked.data, json!({"value": "abc"}));
        let checked = check_telemetry(&TelemetryInput::default());
        let fields: Vec<&str> = checked.errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["data_group", "data_type"]);
        let mut nan = input("numeric-xy-axis");
        nan.x = Some("NaN".into());
        nan.y = Some("1".into());
        assert_eq!(check_telemetry(&nan).errors.len(), 1);
    }

    #[test]
    fn red_flags_mark_references_that_do_not_exist() {
        let fine = Reference {
            given: true,
            exists: true,
        };
        let absent = Reference {
            given: false,
            exists: false,
        };
        let bogus = Reference {
            given: true,
            exists: false,
        };
        assert!(!red_flags(fine, fine, absent, true));
        assert!(!red_flags(absent, absent, absent, true));
        assert!(red_flags(bogus, fine, absent, true));
        assert!(red_flags(fine, fine, bogus, true));
        assert!(red_flags(fine, fine, fine, false));
    }
}
