//! A token bucket per appkey. In memory, per replica: the configured rate is
//! what one replica allows each counterpart.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Allows `rate` requests per second with bursts of `burst`, per key.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate_per_second: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate_per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `n` per minute per key, all of which may come at once.
    pub fn per_minute(n: u32) -> Self {
        Self {
            rate: f64::from(n.max(1)) / 60.0,
            burst: f64::from(n.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`; `Err(wait)` when none is left.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Forget idle keys now and then, so that many callers cannot grow the map.
        if buckets.len() > 10_000 {
            let burst = self.burst;
            let rate = self.rate;
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
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
    fn html_is_escaped() {
        assert_eq!(
            crate::escape_html("<b>\"A&B\"</b>'"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;&#39;"
        );
    }

    #[test]
    fn tokens_come_back_with_time() {
        let l = RateLimiter::new(1000, 1);
        assert!(l.check("a").is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check("a").is_ok());
    }
}
