//! Validations per UTC day, for the admin console's dashboard, without a write per validation.
//!
//! Validation is read-only by design: a check writes nothing, so thousands per second stay cheap
//! (and on SQLite are served from the read cache). Every validation the domain runs through
//! `AppState::validate` (the native `/v1/licenses/actions/validate`, every dialect's check,
//! heartbeat and licence-info answer, licence files) only bumps an in-memory counter here; the
//! process adds what it counted to `console_validation_days` in one small transaction every
//! `FLUSH_INTERVAL` (`spawn_flusher`), at shutdown, and before the dashboard reads the series.
//! Several nodes on one PostgreSQL each add their own counts. A process that dies loses at most
//! the counts of its last interval; a flush that fails keeps its counts for the next one.

use licensd_domain::Millis;
use licensd_store::{Result, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a process writes its counts.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

const DAY: Millis = 86_400_000;

/// Validations counted in memory per UTC day (days since the epoch), not yet written.
#[derive(Debug, Default)]
pub struct ValidationTally {
    pending: Mutex<BTreeMap<i64, i64>>,
}

impl ValidationTally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one validation run at `now`.
    pub fn note(&self, now: Millis) {
        let day = now.div_euclid(DAY);
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *pending.entry(day).or_insert(0) += 1;
    }

    /// What is counted and not yet written, per day.
    pub fn pending(&self) -> Vec<(i64, i64)> {
        let pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.iter().map(|(d, n)| (*d, *n)).collect()
    }

    fn take(&self) -> Vec<(i64, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *pending).into_iter().collect()
    }

    fn put_back(&self, counts: &[(i64, i64)]) {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (day, n) in counts {
            *pending.entry(*day).or_insert(0) += n;
        }
    }

    /// Adds the pending counts to the database in one transaction; on failure they stay pending.
    pub async fn flush(&self, store: &dyn Store) -> Result<()> {
        let counts = self.take();
        if counts.is_empty() {
            return Ok(());
        }
        match store.add_validation_counts(&counts).await {
            Ok(()) => Ok(()),
            Err(error) => {
                self.put_back(&counts);
                Err(error)
            }
        }
    }
}

/// Writes the tally every `FLUSH_INTERVAL` until the task is aborted (flush once more after).
pub fn spawn_flusher(tally: Arc<ValidationTally>, store: Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = tally.flush(store.as_ref()).await {
                tracing::warn!(%error, "could not write the validation counts; kept for the next flush");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_utc_day() {
        let tally = ValidationTally::new();
        tally.note(0);
        tally.note(DAY - 1);
        tally.note(DAY);
        tally.note(-1);
        assert_eq!(tally.pending(), vec![(-1, 1), (0, 2), (1, 1)]);
        let taken = tally.take();
        assert!(tally.pending().is_empty());
        tally.note(DAY);
        tally.put_back(&taken);
        assert_eq!(tally.pending(), vec![(-1, 1), (0, 2), (1, 2)]);
    }
}
