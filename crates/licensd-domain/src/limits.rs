//! The largest durations, counts, amounts and instants licensd accepts at its edges.
//!
//! Every value a client or an administrator sends is checked against these before it is stored,
//! so arithmetic on stored values (minutes from seconds, instants plus durations, counters plus
//! amounts) cannot overflow an `i64`. The maxima are far beyond any real licence and small
//! enough that any sum or product of two of them stays representable. The OpenAPI document
//! states the same bounds (`minimum` / `maximum` on the schema fields).

use crate::clock::Millis;
use crate::model::LicenseTerms;

/// Most of anything counted: activations, seats, users, transfers, consumption caps, overages.
pub const MAX_COUNT: i64 = 1_000_000_000;
/// Largest consumption amount one request may add or give back (absolute value).
pub const MAX_AMOUNT: i64 = 1_000_000_000;
/// Longest floating lease: one year (366 days), in seconds.
pub const MAX_LEASE_SECONDS: i64 = 31_622_400;
/// Longest duration given in hours (grace period, borrow, lockout window): 100 years.
pub const MAX_HOURS: i64 = 876_600;
/// Longest duration given in days (validity, maintenance, trial): 100 years.
pub const MAX_DAYS: i64 = 36_525;
/// Latest instant: 9999-12-31T23:59:59.999Z, in milliseconds since the Unix epoch.
pub const MAX_INSTANT: Millis = 253_402_300_799_999;
/// Earliest instant: the Unix epoch.
pub const MIN_INSTANT: Millis = 0;

/// A value outside its documented range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be between {min} and {max}, not {value}")]
pub struct OutOfRange {
    pub field: String,
    pub value: i64,
    pub min: i64,
    pub max: i64,
}

/// `value` within `min..=max`, or the error naming `field`.
pub fn check(field: &str, value: i64, min: i64, max: i64) -> Result<(), OutOfRange> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(OutOfRange {
            field: field.to_string(),
            value,
            min,
            max,
        })
    }
}

/// As `check`, for an optional value (`None` passes).
pub fn check_opt(field: &str, value: Option<i64>, min: i64, max: i64) -> Result<(), OutOfRange> {
    value.map_or(Ok(()), |value| check(field, value, min, max))
}

/// A count (0..=`MAX_COUNT`).
pub fn count(field: &str, value: Option<i64>) -> Result<(), OutOfRange> {
    check_opt(field, value, 0, MAX_COUNT)
}

/// A duration in days (0..=`MAX_DAYS`).
pub fn days(field: &str, value: Option<i64>) -> Result<(), OutOfRange> {
    check_opt(field, value, 0, MAX_DAYS)
}

/// An instant (`MIN_INSTANT`..=`MAX_INSTANT`).
pub fn instant(field: &str, value: Option<Millis>) -> Result<(), OutOfRange> {
    check_opt(field, value, MIN_INSTANT, MAX_INSTANT)
}

/// A consumption amount (-`MAX_AMOUNT`..=`MAX_AMOUNT`).
pub fn amount(field: &str, value: i64) -> Result<(), OutOfRange> {
    check(field, value, -MAX_AMOUNT, MAX_AMOUNT)
}

/// The upper bounds of every number in licence terms (lower bounds are the API's own rules).
pub fn check_terms(terms: &LicenseTerms) -> Result<(), OutOfRange> {
    count("terms.max_activations", terms.max_activations)?;
    count("terms.max_transfers", terms.max_transfers)?;
    check("terms.grace_period_hours", terms.grace_period_hours, 0, MAX_HOURS)?;
    count("terms.max_users", terms.max_users)?;
    count("terms.max_activations_per_user", terms.max_activations_per_user)?;
    if let Some(floating) = &terms.floating {
        check("terms.floating.seats", floating.seats, 1, MAX_COUNT)?;
        check(
            "terms.floating.lease_seconds",
            floating.lease_seconds,
            1,
            MAX_LEASE_SECONDS,
        )?;
        check(
            "terms.floating.max_borrow_hours",
            floating.max_borrow_hours,
            0,
            MAX_HOURS,
        )?;
        if let Some(sessions) = floating.sessions_per_client {
            check("terms.floating.sessions_per_client", sessions, 1, MAX_COUNT)?;
        }
    }
    if let Some(consumption) = &terms.consumption {
        count("terms.consumption.max_consumptions", consumption.max_consumptions)?;
        count("terms.consumption.max_overages", consumption.max_overages)?;
    }
    if let Some(lockout) = &terms.reactivation_lockout {
        check("terms.reactivation_lockout.limit", lockout.limit, 1, MAX_COUNT)?;
        check(
            "terms.reactivation_lockout.window_hours",
            lockout.window_hours,
            1,
            MAX_HOURS,
        )?;
    }
    Ok(())
}

/// Whole minutes covering `seconds` (rounded up), without overflow for any stored value.
pub fn minutes_ceil(seconds: i64) -> i64 {
    seconds.saturating_add(59).div_euclid(60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FloatingTerms;

    #[test]
    fn terms_beyond_the_maxima_are_refused() {
        let mut terms = LicenseTerms {
            floating: Some(FloatingTerms {
                seats: 1,
                lease_seconds: i64::MAX,
                borrow_allowed: false,
                max_borrow_hours: 0,
                sessions_per_client: None,
            }),
            ..LicenseTerms::default()
        };
        let error = check_terms(&terms).unwrap_err();
        assert_eq!(error.field, "terms.floating.lease_seconds");
        assert_eq!(
            error.to_string(),
            "terms.floating.lease_seconds must be between 1 and 31622400, not 9223372036854775807"
        );
        if let Some(floating) = terms.floating.as_mut() {
            floating.lease_seconds = MAX_LEASE_SECONDS;
        }
        assert_eq!(check_terms(&terms), Ok(()));
        terms.max_activations = Some(MAX_COUNT + 1);
        assert_eq!(check_terms(&terms).unwrap_err().field, "terms.max_activations");
    }

    #[test]
    fn sums_of_maxima_stay_representable() {
        // An instant plus the longest duration in milliseconds, and a counter at its cap plus
        // the largest amount, both fit an i64 with room to spare.
        assert!(MAX_INSTANT.checked_add(MAX_DAYS * 86_400_000).is_some());
        assert!(MAX_INSTANT.checked_add(MAX_HOURS * 3_600_000).is_some());
        assert!((MAX_COUNT * 2).checked_add(MAX_AMOUNT).is_some());
        assert_eq!(minutes_ceil(i64::MAX), i64::MAX / 60);
        assert_eq!(minutes_ceil(61), 2);
        assert_eq!(minutes_ceil(60), 1);
    }
}
