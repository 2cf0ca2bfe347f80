//! Every refusal the domain can give. Dialects map each variant to their own code, status and
//! message with one exhaustive `match`, so adding a variant fails to compile until every dialect
//! has decided how to say it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Denial {
    // --- existence and product state (checked first) ---
    #[error("license not found")]
    LicenseNotFound,
    #[error("product not found")]
    ProductNotFound,
    #[error("product is disabled")]
    ProductDisabled,
    #[error("product is archived")]
    ProductArchived,
    // --- license state ---
    #[error("license is disabled")]
    LicenseDisabled,
    #[error("license is blocked")]
    LicenseBlocked,
    #[error("license is suspended")]
    LicenseSuspended,
    #[error("license is in stock and not assigned to a customer")]
    LicenseNotAssigned,
    #[error("license start date is in the future")]
    LicenseNotStarted,
    #[error("license has expired")]
    LicenseExpired,
    #[error("trial license has expired")]
    TrialExpired,
    #[error("too many reactivations in the lockout window")]
    ReactivationLockout,
    #[error("too many failed attempts from this address")]
    IpLockout,
    // --- devices ---
    #[error("a device fingerprint is required")]
    FingerprintRequired,
    #[error("device is not activated on this license")]
    DeviceNotActivated,
    #[error("device is on the block list")]
    DeviceBlocked,
    #[error("virtual machines are not allowed for this license")]
    VmNotAllowed,
    #[error("license has reached its activation limit")]
    ActivationLimitReached,
    #[error("license has reached its transfer limit")]
    TransferLimitReached,
    #[error("license user has reached their activation limit")]
    UserActivationLimitReached,
    #[error("license user not found on this license")]
    LicenseUserNotFound,
    #[error("license has reached its number of users")]
    LicenseUserLimitReached,
    #[error("wrong credentials for the license user")]
    InvalidUserCredentials,
    // --- floating ---
    #[error("license is not floating")]
    NotFloating,
    #[error("no floating seats are available")]
    FloatingSeatsExhausted,
    #[error("borrowing is not allowed for this license")]
    BorrowNotAllowed,
    #[error("borrow end is invalid or beyond the allowed borrow period")]
    BorrowPeriodInvalid,
    // --- consumption ---
    #[error("license is not a consumption license")]
    NotConsumption,
    #[error("consumption amount must not be zero")]
    ConsumptionAmountInvalid,
    #[error("negative consumptions are not allowed")]
    NegativeConsumptionNotAllowed,
    #[error("consumption limit reached")]
    ConsumptionLimitReached,
    // --- features ---
    #[error("feature not found on this license")]
    FeatureNotFound,
    #[error("feature has expired")]
    FeatureExpired,
    #[error("feature is not a consumption feature")]
    FeatureNotConsumption,
    #[error("feature consumption limit reached")]
    FeatureConsumptionLimitReached,
    #[error("feature is not floating")]
    FeatureNotFloating,
    #[error("no floating seats are available for this feature")]
    FeatureSeatsExhausted,
    #[error("feature is not in use by this device")]
    FeatureNotInUse,
}

impl Denial {
    /// Every variant, for exhaustive tests and documentation tables.
    pub const ALL: [Denial; 38] = [
        Denial::LicenseNotFound,
        Denial::ProductNotFound,
        Denial::ProductDisabled,
        Denial::ProductArchived,
        Denial::LicenseDisabled,
        Denial::LicenseBlocked,
        Denial::LicenseSuspended,
        Denial::LicenseNotAssigned,
        Denial::LicenseNotStarted,
        Denial::LicenseExpired,
        Denial::TrialExpired,
        Denial::ReactivationLockout,
        Denial::IpLockout,
        Denial::FingerprintRequired,
        Denial::DeviceNotActivated,
        Denial::DeviceBlocked,
        Denial::VmNotAllowed,
        Denial::ActivationLimitReached,
        Denial::TransferLimitReached,
        Denial::UserActivationLimitReached,
        Denial::LicenseUserNotFound,
        Denial::LicenseUserLimitReached,
        Denial::InvalidUserCredentials,
        Denial::NotFloating,
        Denial::FloatingSeatsExhausted,
        Denial::BorrowNotAllowed,
        Denial::BorrowPeriodInvalid,
        Denial::NotConsumption,
        Denial::ConsumptionAmountInvalid,
        Denial::NegativeConsumptionNotAllowed,
        Denial::ConsumptionLimitReached,
        Denial::FeatureNotFound,
        Denial::FeatureExpired,
        Denial::FeatureNotConsumption,
        Denial::FeatureConsumptionLimitReached,
        Denial::FeatureNotFloating,
        Denial::FeatureSeatsExhausted,
        Denial::FeatureNotInUse,
    ];

    /// The stable machine code licensd's native API uses (`LICENSE_EXPIRED`, …).
    pub fn code(self) -> &'static str {
        match self {
            Denial::LicenseNotFound => "LICENSE_NOT_FOUND",
            Denial::ProductNotFound => "PRODUCT_NOT_FOUND",
            Denial::ProductDisabled => "PRODUCT_DISABLED",
            Denial::ProductArchived => "PRODUCT_ARCHIVED",
            Denial::LicenseDisabled => "LICENSE_DISABLED",
            Denial::LicenseBlocked => "LICENSE_BLOCKED",
            Denial::LicenseSuspended => "LICENSE_SUSPENDED",
            Denial::LicenseNotAssigned => "LICENSE_NOT_ASSIGNED",
            Denial::LicenseNotStarted => "LICENSE_NOT_STARTED",
            Denial::LicenseExpired => "LICENSE_EXPIRED",
            Denial::TrialExpired => "TRIAL_EXPIRED",
            Denial::ReactivationLockout => "REACTIVATION_LOCKOUT",
            Denial::IpLockout => "IP_LOCKOUT",
            Denial::FingerprintRequired => "FINGERPRINT_REQUIRED",
            Denial::DeviceNotActivated => "DEVICE_NOT_ACTIVATED",
            Denial::DeviceBlocked => "DEVICE_BLOCKED",
            Denial::VmNotAllowed => "VM_NOT_ALLOWED",
            Denial::ActivationLimitReached => "ACTIVATION_LIMIT_REACHED",
            Denial::TransferLimitReached => "TRANSFER_LIMIT_REACHED",
            Denial::UserActivationLimitReached => "USER_ACTIVATION_LIMIT_REACHED",
            Denial::LicenseUserNotFound => "LICENSE_USER_NOT_FOUND",
            Denial::LicenseUserLimitReached => "LICENSE_USER_LIMIT_REACHED",
            Denial::InvalidUserCredentials => "INVALID_USER_CREDENTIALS",
            Denial::NotFloating => "NOT_FLOATING",
            Denial::FloatingSeatsExhausted => "FLOATING_SEATS_EXHAUSTED",
            Denial::BorrowNotAllowed => "BORROW_NOT_ALLOWED",
            Denial::BorrowPeriodInvalid => "BORROW_PERIOD_INVALID",
            Denial::NotConsumption => "NOT_CONSUMPTION",
            Denial::ConsumptionAmountInvalid => "CONSUMPTION_AMOUNT_INVALID",
            Denial::NegativeConsumptionNotAllowed => "NEGATIVE_CONSUMPTION_NOT_ALLOWED",
            Denial::ConsumptionLimitReached => "CONSUMPTION_LIMIT_REACHED",
            Denial::FeatureNotFound => "FEATURE_NOT_FOUND",
            Denial::FeatureExpired => "FEATURE_EXPIRED",
            Denial::FeatureNotConsumption => "FEATURE_NOT_CONSUMPTION",
            Denial::FeatureConsumptionLimitReached => "FEATURE_CONSUMPTION_LIMIT_REACHED",
            Denial::FeatureNotFloating => "FEATURE_NOT_FLOATING",
            Denial::FeatureSeatsExhausted => "FEATURE_SEATS_EXHAUSTED",
            Denial::FeatureNotInUse => "FEATURE_NOT_IN_USE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_match_serde_names() {
        let mut seen = HashSet::new();
        for denial in Denial::ALL {
            assert!(seen.insert(denial.code()), "duplicate code {}", denial.code());
            let json = serde_json::to_string(&denial).unwrap();
            assert_eq!(json, format!("\"{}\"", denial.code()));
        }
    }
}
