//! Request rate limits shared by every dialect and the native client API: a fixed-window counter
//! per API credential and per client IP, in memory on each node. A dialect asks `check_ip` before
//! authenticating and `check_credential` after, and answers `Limited` in its own documented form
//! (DNA: 429 with `X-RateLimit-Reset`; Key Manager: a signed 429 envelope with `retry_after`;
//! LicenseSpring: 429 `too_many_requests`; the native client API, which has no credential, only
//! per IP: a signed 429 `rate_limited`), each with `Retry-After`. Health probes and metrics never call it, so they are never throttled.
//!
//! Fixed windows are enough here: the limits protect the server and mirror vendors' "N requests
//! per period" allowances, whose reset time clients read from a header.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests allowed per window; `None` disables that limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub per_credential: Option<u32>,
    pub per_ip: Option<u32>,
    pub window: Duration,
}

impl Default for RateLimitSettings {
    /// Off by default: a self-hosted server's owner decides the allowance.
    fn default() -> Self {
        Self {
            per_credential: None,
            per_ip: None,
            window: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit; the window resets in `reset_seconds` (at least 1).
    Limited {
        reset_seconds: u64,
    },
}

/// One fixed-window counter per key.
#[derive(Debug)]
struct Windows {
    limit: u32,
    window: Duration,
    counters: Mutex<State>,
}

#[derive(Debug)]
struct State {
    by_key: HashMap<String, (Instant, u32)>,
    last_prune: Instant,
}

impl Windows {
    fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            counters: Mutex::new(State {
                by_key: HashMap::new(),
                last_prune: Instant::now(),
            }),
        }
    }

    fn hit(&self, key: &str, now: Instant) -> RateDecision {
        // A poisoned lock only means another request panicked mid-update; the counters are
        // still plain numbers, so keep using them.
        let mut state = self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget expired windows now and then, so keys seen once do not accumulate.
        if now.duration_since(state.last_prune) >= self.window {
            let window = self.window;
            state.by_key.retain(|_, (start, _)| now.duration_since(*start) < window);
            state.last_prune = now;
        }
        let entry = state.by_key.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let left = self.window.saturating_sub(now.duration_since(entry.0));
            // Round up: a client waiting the advertised seconds must find the window reset.
            let reset_seconds = left.as_millis().div_ceil(1000).max(1) as u64;
            return RateDecision::Limited { reset_seconds };
        }
        entry.1 += 1;
        RateDecision::Allowed
    }
}

/// The limiter every dialect shares (in `AppState`). Keys are namespaced by the caller, so each
/// dialect's credentials and the same IP on different dialects count separately.
#[derive(Debug)]
pub struct RateLimiter {
    per_credential: Option<Windows>,
    per_ip: Option<Windows>,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> Self {
        let window = settings.window.max(Duration::from_millis(1));
        Self {
            per_credential: settings.per_credential.map(|limit| Windows::new(limit, window)),
            per_ip: settings.per_ip.map(|limit| Windows::new(limit, window)),
        }
    }

    /// Counts one request from a request's client address (`http::client_ip`); a request whose
    /// address is unknown, or any request when no per-IP allowance is set, is not counted.
    pub fn check_client(&self, scope: &str, client: Option<IpAddr>) -> RateDecision {
        match (&self.per_ip, client) {
            (Some(windows), Some(ip)) => windows.hit(&format!("{scope}\u{0}{ip}"), Instant::now()),
            _ => RateDecision::Allowed,
        }
    }

    /// Counts one request from a client IP (before authentication).
    pub fn check_ip(&self, scope: &str, ip: &str) -> RateDecision {
        match &self.per_ip {
            Some(windows) => windows.hit(&format!("{scope}\u{0}{ip}"), Instant::now()),
            None => RateDecision::Allowed,
        }
    }

    /// Counts one request of an authenticated credential (its public id).
    pub fn check_credential(&self, scope: &str, key_id: &str) -> RateDecision {
        match &self.per_credential {
            Some(windows) => windows.hit(&format!("{scope}\u{0}{key_id}"), Instant::now()),
            None => RateDecision::Allowed,
        }
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(RateLimitSettings::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_a_window_and_resets_after_it() {
        let windows = Windows::new(2, Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(windows.hit("a", start), RateDecision::Allowed);
        assert_eq!(windows.hit("a", start + Duration::from_secs(1)), RateDecision::Allowed);
        assert_eq!(
            windows.hit("a", start + Duration::from_millis(2500)),
            RateDecision::Limited { reset_seconds: 8 }
        );
        // Other keys have their own allowance.
        assert_eq!(windows.hit("b", start + Duration::from_secs(3)), RateDecision::Allowed);
        assert_eq!(
            windows.hit("a", start + Duration::from_millis(9999)),
            RateDecision::Limited { reset_seconds: 1 }
        );
        assert_eq!(windows.hit("a", start + Duration::from_secs(10)), RateDecision::Allowed);
    }

    #[test]
    fn expired_windows_are_pruned() {
        let windows = Windows::new(1, Duration::from_secs(1));
        let start = Instant::now();
        for i in 0..100 {
            windows.hit(&format!("k{i}"), start);
        }
        windows.hit("late", start + Duration::from_secs(2));
        let state = windows.counters.lock().unwrap();
        assert_eq!(state.by_key.len(), 1);
    }

    #[test]
    fn disabled_limits_always_allow_and_scopes_are_separate() {
        let off = RateLimiter::default();
        for _ in 0..1000 {
            assert_eq!(off.check_ip("dna", "192.0.2.1"), RateDecision::Allowed);
            assert_eq!(off.check_credential("dna", "client"), RateDecision::Allowed);
        }
        let on = RateLimiter::new(RateLimitSettings {
            per_credential: Some(1),
            per_ip: Some(1),
            window: Duration::from_secs(60),
        });
        assert_eq!(on.check_ip("dna", "192.0.2.1"), RateDecision::Allowed);
        assert!(matches!(on.check_ip("dna", "192.0.2.1"), RateDecision::Limited { .. }));
        assert_eq!(on.check_ip("keymanager", "192.0.2.1"), RateDecision::Allowed);
        assert_eq!(on.check_credential("dna", "client"), RateDecision::Allowed);
        assert!(matches!(
            on.check_credential("dna", "client"),
            RateDecision::Limited { .. }
        ));
    }

    #[test]
    fn client_addresses_count_as_their_ip_and_unknown_ones_not_at_all() {
        let client: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        let off = RateLimiter::default();
        for _ in 0..100 {
            assert_eq!(off.check_client("native", client), RateDecision::Allowed);
        }
        let on = RateLimiter::new(RateLimitSettings {
            per_credential: None,
            per_ip: Some(1),
            window: Duration::from_secs(60),
        });
        assert_eq!(on.check_client("native", client), RateDecision::Allowed);
        // The same window as check_ip with the address's text.
        assert!(matches!(
            on.check_ip("native", "192.0.2.1"),
            RateDecision::Limited { .. }
        ));
        assert!(matches!(
            on.check_client("native", client),
            RateDecision::Limited { .. }
        ));
        for _ in 0..10 {
            assert_eq!(on.check_client("native", None), RateDecision::Allowed);
        }
    }
}
