//! A token bucket per key, on `governor` (GCRA). In memory, per replica:
//! the configured rate is what one replica allows each key.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Allows a sustained rate per key with bursts, forgetting idle keys.
pub struct RateLimiter {
    inner: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl RateLimiter {
    /// `rate` per second per key, with bursts of `burst`.
    pub fn new(rate_per_second: u32, burst: u32) -> Self {
        Self::with_quota(Quota::per_second(nz(rate_per_second)).allow_burst(nz(burst)))
    }

    /// `n` per minute per key, all of which may come at once.
    pub fn per_minute(n: u32) -> Self {
        Self::with_quota(Quota::per_minute(nz(n)).allow_burst(nz(n)))
    }

    fn with_quota(quota: Quota) -> Self {
        Self {
            inner: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Takes a token for `key`; `Err(wait)` when none is left.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        // Forget keys whose bucket is full again, so many callers cannot
        // grow the map without bound.
        if self.inner.len() > 10_000 {
            self.inner.retain_recent();
        }
        self.inner
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_per_key() {
        let l = RateLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let wait = l.check("a").unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        // Another key has its own bucket.
        assert!(l.check("b").is_ok());
    }

    #[test]
    fn per_minute_allows_the_whole_minute_at_once_then_waits() {
        let l = RateLimiter::per_minute(3);
        for _ in 0..3 {
            assert!(l.check("ip").is_ok());
        }
        let wait = l.check("ip").unwrap_err();
        assert!(wait > Duration::from_secs(15), "{wait:?}");
    }

    #[test]
    fn tokens_come_back_with_time() {
        let l = RateLimiter::new(1000, 1);
        assert!(l.check("a").is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check("a").is_ok());
    }
}
