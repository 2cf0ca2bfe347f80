//! Retrying an outbound delivery (a webhook callback): exponential backoff with jitter for a
//! window of time after the delivery was written, then giving up. Pure: the caller passes the
//! instants and the jitter, so the schedule is unit-tested without a clock or randomness.

use crate::Millis;
use crate::clock::{HOUR, SECOND};

/// When a failed delivery is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The pause after the first failed attempt; it doubles after each further failure.
    pub base_ms: Millis,
    /// The longest pause between two attempts.
    pub max_pause_ms: Millis,
    /// How long after it was written a delivery is still retried. The last retry is scheduled
    /// at the end of the window at the latest, and a failure at or after it is final.
    pub window_ms: Millis,
}

/// Backoff from 10 s doubling up to an hour, for 24 hours.
pub const DEFAULT_RETRY_POLICY: RetryPolicy = RetryPolicy {
    base_ms: 10 * SECOND,
    max_pause_ms: HOUR,
    window_ms: 24 * HOUR,
};

impl Default for RetryPolicy {
    fn default() -> Self {
        DEFAULT_RETRY_POLICY
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this instant.
    RetryAt(Millis),
    /// The window is over: the delivery is dead.
    GiveUp,
}

impl RetryPolicy {
    /// The pause before the next attempt after `failures` failed attempts (1 for the first):
    /// `base · 2^(failures-1)`, at most `max_pause_ms`, and at least 1 ms.
    pub fn pause(&self, failures: u32) -> Millis {
        let doubling = 2i64.saturating_pow(failures.saturating_sub(1));
        self.base_ms.saturating_mul(doubling).min(self.max_pause_ms).max(1)
    }

    /// Decides after a failed attempt at `now` of a delivery written at `created_at`.
    /// `jitter` in `[0, 1)` stretches the pause by up to half of itself, so deliveries that
    /// failed together (a receiver that was down) do not all come back at the same instant.
    pub fn after_failure(&self, created_at: Millis, failures: u32, now: Millis, jitter: f64) -> AfterFailure {
        let deadline = created_at.saturating_add(self.window_ms.max(0));
        if now >= deadline {
            return AfterFailure::GiveUp;
        }
        let pause = self.pause(failures);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // A pause is at most max_pause_ms, far below 2^52: the float holds it exactly.
        let stretch = (pause as f64 * jitter / 2.0) as Millis;
        let at = now.saturating_add(pause).saturating_add(stretch);
        AfterFailure::RetryAt(at.min(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_767_225_600_000;

    #[test]
    fn pauses_double_up_to_the_cap() {
        let policy = DEFAULT_RETRY_POLICY;
        assert_eq!(policy.pause(1), 10 * SECOND);
        assert_eq!(policy.pause(2), 20 * SECOND);
        assert_eq!(policy.pause(3), 40 * SECOND);
        assert_eq!(policy.pause(10), HOUR);
        assert_eq!(policy.pause(u32::MAX), HOUR);
        let tiny = RetryPolicy { base_ms: 0, ..policy };
        assert_eq!(tiny.pause(1), 1);
    }

    #[test]
    fn jitter_stretches_by_at_most_half() {
        let policy = DEFAULT_RETRY_POLICY;
        assert_eq!(
            policy.after_failure(T0, 1, T0, 0.0),
            AfterFailure::RetryAt(T0 + 10 * SECOND)
        );
        assert_eq!(policy.after_failure(T0, 1, T0, 0.5), AfterFailure::RetryAt(T0 + 12_500));
        assert_eq!(
            policy.after_failure(T0, 1, T0, 1.0),
            AfterFailure::RetryAt(T0 + 15 * SECOND)
        );
        assert_eq!(
            policy.after_failure(T0, 1, T0, f64::NAN),
            AfterFailure::RetryAt(T0 + 10 * SECOND)
        );
    }

    #[test]
    fn retries_span_the_whole_window_then_give_up() {
        let policy = DEFAULT_RETRY_POLICY;
        let mut now = T0;
        let mut failures = 0;
        loop {
            failures += 1;
            match policy.after_failure(T0, failures, now, 0.99) {
                AfterFailure::RetryAt(at) => {
                    assert!(at > now && at <= T0 + 24 * HOUR);
                    now = at;
                }
                AfterFailure::GiveUp => break,
            }
        }
        // The last attempt is at the end of the 24 hours, not before it.
        assert_eq!(now, T0 + 24 * HOUR);
        assert!((20..=40).contains(&failures), "{failures} attempts");
    }

    #[test]
    fn far_instants_saturate() {
        let policy = RetryPolicy {
            window_ms: Millis::MAX,
            ..DEFAULT_RETRY_POLICY
        };
        assert_eq!(
            policy.after_failure(Millis::MAX - 5, 3, Millis::MAX - 10, 0.5),
            AfterFailure::RetryAt(Millis::MAX)
        );
    }
}
