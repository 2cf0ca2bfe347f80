//! Telemetry a licensed application reports (SLASCONE's data gathering): **analytical fields**
//! (typed custom values: numeric, alphanumeric, boolean, optionally arrays) and **usage
//! features** with optional **usage modules** (counted usage). Definitions belong to a product;
//! reports are recorded per license and client. The checks here are pure.

use serde::{Deserialize, Serialize};

/// What values an analytical field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AnalyticalFieldType {
    Numeric,
    Alphanumeric,
    Boolean,
}

impl AnalyticalFieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numeric => "numeric",
            Self::Alphanumeric => "alphanumeric",
            Self::Boolean => "boolean",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Numeric, Self::Alphanumeric, Self::Boolean]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalyticalField {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: crate::ProductId,
    pub name: String,
    pub field_type: AnalyticalFieldType,
    pub created_at: crate::Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageFeature {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub product_id: crate::ProductId,
    pub name: String,
    pub created_at: crate::Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageModule {
    pub id: i64,
    pub usage_feature_id: i64,
    pub name: String,
    pub created_at: crate::Millis,
}

/// Why an analytical report is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnalyticsRejection {
    #[error("a numeric field got a value that is not a number")]
    NotNumeric,
    #[error("a boolean field got a value other than true or false")]
    NotBoolean,
    #[error("a field appears more than once in one report")]
    DuplicateField,
}

/// Checks one reported value (text, as clients send it) against its field's type.
pub fn check_value(field_type: AnalyticalFieldType, value: &str) -> Result<(), AnalyticsRejection> {
    match field_type {
        AnalyticalFieldType::Alphanumeric => Ok(()),
        AnalyticalFieldType::Numeric => match value.trim().parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(()),
            _ => Err(AnalyticsRejection::NotNumeric),
        },
        AnalyticalFieldType::Boolean => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err(AnalyticsRejection::NotBoolean),
        },
    }
}

/// Every field may appear once per report.
pub fn check_unique_fields(field_ids: &[i64]) -> Result<(), AnalyticsRejection> {
    let mut seen = std::collections::HashSet::new();
    if field_ids.iter().all(|id| seen.insert(*id)) {
        Ok(())
    } else {
        Err(AnalyticsRejection::DuplicateField)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_by_type() {
        assert_eq!(check_value(AnalyticalFieldType::Numeric, "42.5"), Ok(()));
        assert_eq!(check_value(AnalyticalFieldType::Numeric, "-3"), Ok(()));
        assert_eq!(
            check_value(AnalyticalFieldType::Numeric, "abc"),
            Err(AnalyticsRejection::NotNumeric)
        );
        assert_eq!(
            check_value(AnalyticalFieldType::Numeric, "NaN"),
            Err(AnalyticsRejection::NotNumeric)
        );
        assert_eq!(check_value(AnalyticalFieldType::Boolean, "TRUE"), Ok(()));
        assert_eq!(
            check_value(AnalyticalFieldType::Boolean, "yes"),
            Err(AnalyticsRejection::NotBoolean)
        );
        assert_eq!(check_value(AnalyticalFieldType::Alphanumeric, "anything"), Ok(()));
        assert_eq!(check_unique_fields(&[1, 2, 3]), Ok(()));
        assert_eq!(check_unique_fields(&[1, 2, 1]), Err(AnalyticsRejection::DuplicateField));
        assert_eq!(
            AnalyticalFieldType::parse("boolean"),
            Some(AnalyticalFieldType::Boolean)
        );
        assert_eq!(AnalyticalFieldType::parse("bool"), None);
    }
}
