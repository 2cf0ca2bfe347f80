//! Rolling back a consumption (SLASCONE's consumption-heartbeat rollback): the units a recorded
//! consumption took come back to the counter, unless the counter was reset since (then there is
//! nothing left to give back). A counter never goes below zero, and only a positive consumption
//! can be rolled back (a rollback is not rolled back).

use crate::Denial;
use crate::clock::Millis;
use crate::rules::Counter;

/// The counter after rolling back a consumption of `amount` units made at `consumed_at`, given the
/// counter as it stands now (already moved into the current period by `rules::current_counter`).
pub fn plan_rollback(current: Counter, amount: i64, consumed_at: Millis) -> Result<Counter, Denial> {
    if amount <= 0 {
        return Err(Denial::ConsumptionAmountInvalid);
    }
    if consumed_at < current.period_start {
        return Ok(current);
    }
    Ok(Counter {
        used: current.used.saturating_sub(amount).max(0),
        period_start: current.period_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_returns_units_of_the_current_period_only() {
        let now = Counter {
            used: 10,
            period_start: 1_000,
        };
        assert_eq!(plan_rollback(now, 4, 1_500).map(|c| c.used), Ok(6));
        assert_eq!(plan_rollback(now, 40, 1_500).map(|c| c.used), Ok(0));
        // Consumed before the last reset: nothing to give back.
        assert_eq!(plan_rollback(now, 4, 999).map(|c| c.used), Ok(10));
        assert_eq!(plan_rollback(now, 0, 1_500), Err(Denial::ConsumptionAmountInvalid));
        assert_eq!(plan_rollback(now, -3, 1_500), Err(Denial::ConsumptionAmountInvalid));
    }
}
