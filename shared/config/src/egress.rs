//! `[egress]`: notice delivery and file downloads.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::{Problems, duration};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressSettings {
    /// Public address: `GET /files/{token}` (the platform downloads here).
    pub listen: SocketAddr,
    /// Operators' admin API; keep it on a private network.
    pub admin_listen: SocketAddr,
    /// Time allowed for one notice POST.
    #[serde(with = "humantime_serde")]
    pub http_timeout: Duration,
    /// Delays between delivery attempts; the last one repeats until
    /// `retry_for` is covered.
    #[serde(deserialize_with = "duration::deserialize_list")]
    pub retry_schedule: Vec<Duration>,
    /// How long a notice is retried before it is dead-lettered.
    #[serde(with = "humantime_serde")]
    pub retry_for: Duration,
    /// Delays are shortened at random by up to this percentage.
    pub retry_jitter_percent: u8,
}

impl EgressSettings {
    /// The delay before each retry: the schedule, its last entry repeated
    /// until the delays add up to `retry_for` (never more than 1000).
    pub fn delays(&self) -> Vec<Duration> {
        let mut delays = self.retry_schedule.clone();
        let Some(last) = delays.last().copied() else {
            return delays;
        };
        let mut total: Duration = delays.iter().sum();
        while total < self.retry_for && delays.len() < 1000 && !last.is_zero() {
            delays.push(last);
            total += last;
        }
        delays
    }

    /// How long a notice on its way may go unchanged before it counts as
    /// stuck (re-sendable by an operator): longer than the longest retry
    /// delay, plus a send's time, plus a margin.
    pub fn stuck_after(&self) -> Duration {
        let longest = self
            .retry_schedule
            .iter()
            .max()
            .copied()
            .unwrap_or_default();
        longest + self.http_timeout + Duration::from_secs(300)
    }

    /// Attempts in all: the first one and one after each delay.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays().len() + 1).unwrap_or(u32::MAX)
    }

    pub(crate) fn check(&self, p: &mut Problems) {
        if self.http_timeout.is_zero() {
            p.push("egress.http_timeout", "must be positive");
        }
        if self.retry_schedule.is_empty() || self.retry_schedule.iter().any(Duration::is_zero) {
            p.push("egress.retry_schedule", "at least one positive delay");
        }
        if self.retry_jitter_percent > 90 {
            p.push("egress.retry_jitter_percent", "at most 90");
        }
    }
}
