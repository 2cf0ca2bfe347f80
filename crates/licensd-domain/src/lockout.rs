//! Lockouts (DNA's REACTLOCKOUT and IPLOCKOUT): a reactivation lockout refuses new activations after
//! too many within a window; an IP lockout refuses end-user password checks from one address after
//! too many failures within a window, for a cooling period. Both are pure: the store loads the
//! counters under the license row lock and persists what these rules decide.

use crate::clock::{Millis, SECOND};
use crate::denial::Denial;
use crate::model::License;
use serde::{Deserialize, Serialize};

/// True when the license's reactivation lockout forbids another new activation: `recent` is the
/// number of new activations inside the lockout window ending now. `plan_activation` refuses with
/// `ReactivationLockout` exactly when this holds, and DNA reports REACTLOCKOUT exactly then too.
pub fn reactivation_locked(license: &License, recent: i64) -> bool {
    license
        .terms
        .reactivation_lockout
        .as_ref()
        .is_some_and(|lockout| recent >= lockout.limit)
}

/// How many failed end-user password attempts one IP may make within `window_seconds` before it
/// is locked out for `lockout_seconds`. Configured per product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct IpLockoutPolicy {
    pub max_failures: i64,
    pub window_seconds: i64,
    pub lockout_seconds: i64,
}

impl Default for IpLockoutPolicy {
    /// Five failures in 15 minutes lock the address out for an hour.
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_seconds: 15 * 60,
            lockout_seconds: 60 * 60,
        }
    }
}

impl IpLockoutPolicy {
    /// Every value must be at least 1; an unbounded or zero policy would never or always lock.
    pub fn is_valid(&self) -> bool {
        self.max_failures >= 1 && self.window_seconds >= 1 && self.lockout_seconds >= 1
    }
}

/// Failed attempts of one IP against one license: a fixed window of failures and, once the
/// limit is reached, the instant the lockout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAttempts {
    pub failures: i64,
    pub window_start: Millis,
    pub locked_until: Option<Millis>,
}

/// Whether an IP with these attempts is locked out now.
pub fn ip_locked(attempts: Option<&IpAttempts>, now: Millis) -> bool {
    attempts.and_then(|a| a.locked_until).is_some_and(|until| now < until)
}

/// Refuses a password check from a locked-out IP before the password is even looked at.
pub fn check_ip_lockout(attempts: Option<&IpAttempts>, now: Millis) -> Result<(), Denial> {
    if ip_locked(attempts, now) {
        Err(Denial::IpLockout)
    } else {
        Ok(())
    }
}

/// The attempts after one more failure. A failure outside the current window starts a new one;
/// reaching `max_failures` locks the IP for `lockout_seconds` and starts counting afresh, so the
/// cooling period is followed by a full new allowance.
pub fn record_ip_failure(policy: &IpLockoutPolicy, attempts: Option<&IpAttempts>, now: Millis) -> IpAttempts {
    let window = policy.window_seconds.max(1).saturating_mul(SECOND);
    let (failures, window_start) = match attempts {
        Some(a) if now < a.window_start.saturating_add(window) && !ip_locked(Some(a), now) => {
            (a.failures.saturating_add(1), a.window_start)
        }
        _ => (1, now),
    };
    if failures >= policy.max_failures {
        IpAttempts {
            failures: 0,
            window_start: now,
            locked_until: Some(now.saturating_add(policy.lockout_seconds.max(1).saturating_mul(SECOND))),
        }
    } else {
        IpAttempts {
            failures,
            window_start,
            locked_until: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LicenseTerms, ReactivationLockout};

    const NOW: Millis = 1_767_225_600_000;

    fn policy() -> IpLockoutPolicy {
        IpLockoutPolicy {
            max_failures: 3,
            window_seconds: 60,
            lockout_seconds: 120,
        }
    }

    #[test]
    fn failures_within_the_window_lock_the_ip() {
        let one = record_ip_failure(&policy(), None, NOW);
        assert_eq!(
            one,
            IpAttempts {
                failures: 1,
                window_start: NOW,
                locked_until: None
            }
        );
        assert_eq!(check_ip_lockout(Some(&one), NOW), Ok(()));
        let two = record_ip_failure(&policy(), Some(&one), NOW + 10 * SECOND);
        assert_eq!(two.failures, 2);
        assert_eq!(two.window_start, NOW);
        assert!(!ip_locked(Some(&two), NOW + 10 * SECOND));
        let three = record_ip_failure(&policy(), Some(&two), NOW + 20 * SECOND);
        assert_eq!(three.locked_until, Some(NOW + 140 * SECOND));
        assert_eq!(
            check_ip_lockout(Some(&three), NOW + 20 * SECOND),
            Err(Denial::IpLockout)
        );
        assert_eq!(
            check_ip_lockout(Some(&three), NOW + 139 * SECOND),
            Err(Denial::IpLockout)
        );
        // The cooling period ends exactly at locked_until.
        assert_eq!(check_ip_lockout(Some(&three), NOW + 140 * SECOND), Ok(()));
        // After it, a failure starts a fresh window rather than re-locking at once.
        let after = record_ip_failure(&policy(), Some(&three), NOW + 141 * SECOND);
        assert_eq!(
            after,
            IpAttempts {
                failures: 1,
                window_start: NOW + 141 * SECOND,
                locked_until: None
            }
        );
    }

    #[test]
    fn failures_in_separate_windows_do_not_add_up() {
        let one = record_ip_failure(&policy(), None, NOW);
        let two = record_ip_failure(&policy(), Some(&one), NOW + 30 * SECOND);
        let late = record_ip_failure(&policy(), Some(&two), NOW + 60 * SECOND);
        assert_eq!(
            late,
            IpAttempts {
                failures: 1,
                window_start: NOW + 60 * SECOND,
                locked_until: None
            }
        );
    }

    #[test]
    fn a_single_failure_locks_when_the_limit_is_one() {
        let strict = IpLockoutPolicy {
            max_failures: 1,
            ..policy()
        };
        assert!(ip_locked(Some(&record_ip_failure(&strict, None, NOW)), NOW));
        assert!(!ip_locked(None, NOW));
    }

    #[test]
    fn policy_validation_and_defaults() {
        assert!(IpLockoutPolicy::default().is_valid());
        assert!(
            !IpLockoutPolicy {
                max_failures: 0,
                ..policy()
            }
            .is_valid()
        );
        assert!(
            !IpLockoutPolicy {
                window_seconds: 0,
                ..policy()
            }
            .is_valid()
        );
        assert!(
            !IpLockoutPolicy {
                lockout_seconds: 0,
                ..policy()
            }
            .is_valid()
        );
        let parsed: IpLockoutPolicy = serde_json::from_str(r#"{"max_failures": 2}"#).unwrap();
        assert_eq!(
            parsed,
            IpLockoutPolicy {
                max_failures: 2,
                ..IpLockoutPolicy::default()
            }
        );
    }

    #[test]
    fn reactivation_lockout_holds_from_the_limit_on() {
        let mut license = crate::status_keywords::tests::license();
        assert!(!reactivation_locked(&license, 100), "no lockout configured");
        license.terms = LicenseTerms {
            reactivation_lockout: Some(ReactivationLockout {
                limit: 2,
                window_hours: 24,
            }),
            ..LicenseTerms::default()
        };
        assert!(!reactivation_locked(&license, 1));
        assert!(reactivation_locked(&license, 2));
        assert!(reactivation_locked(&license, 3));
    }
}
