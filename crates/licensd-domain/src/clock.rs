//! Time as integer milliseconds since the Unix epoch, UTC, and an injectable clock.

use std::sync::atomic::{AtomicI64, Ordering};

/// An instant: milliseconds since 1970-01-01T00:00:00Z. This is also how instants are stored.
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// The source of "now" for every rule; tests freeze and advance it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        jiff::Timestamp::now().as_millisecond()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn new(at: Millis) -> Self {
        Self(AtomicI64::new(at))
    }
    pub fn advance(&self, by: Millis) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
    pub fn set(&self, at: Millis) {
        self.0.store(at, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 text (UTC, millisecond precision, `Z` suffix) for an instant.
pub fn to_rfc3339(at: Millis) -> String {
    match jiff::Timestamp::from_millisecond(at) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => String::from("invalid-instant"),
    }
}

/// Parses RFC 3339 text into an instant.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    text.parse::<jiff::Timestamp>().ok().map(|ts| ts.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_z_suffix() {
        let at = 1_767_225_600_123; // 2026-01-01T00:00:00.123Z
        let text = to_rfc3339(at);
        assert_eq!(text, "2026-01-01T00:00:00.123Z");
        assert_eq!(parse_rfc3339(&text), Some(at));
        assert_eq!(parse_rfc3339("not a date"), None);
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::new(10);
        assert_eq!(clock.now(), 10);
        clock.advance(5);
        assert_eq!(clock.now(), 15);
        clock.set(1);
        assert_eq!(clock.now(), 1);
    }
}
