//! `[retention]`: how long rows are kept before the sweep deletes them.

use std::time::Duration;

use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// How often each process sweeps.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Handled-message records (duplicates older than this are not caught).
    #[serde(with = "humantime_serde")]
    pub inbox: Duration,
    /// Published outbox rows.
    #[serde(with = "humantime_serde")]
    pub outbox: Duration,
    /// Settled notices and their attempts (an audit record).
    #[serde(with = "humantime_serde")]
    pub notices: Duration,
    /// Verification lookups (验真记录).
    #[serde(with = "humantime_serde")]
    pub verifications: Duration,
    /// Dead letters after they were replayed.
    #[serde(with = "humantime_serde")]
    pub dead_letters: Duration,
}

impl RetentionSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.interval.is_zero() {
            p.push("retention.interval", "must be positive");
        }
        // An inbox shorter than any retry would let a late duplicate through.
        if self.inbox < Duration::from_secs(24 * 3600) {
            p.push("retention.inbox", "at least 1 day");
        }
        if self.outbox < Duration::from_secs(3600) {
            p.push("retention.outbox", "at least 1 hour");
        }
        for (key, age) in [
            ("retention.notices", self.notices),
            ("retention.verifications", self.verifications),
            ("retention.dead_letters", self.dead_letters),
        ] {
            if age < Duration::from_secs(24 * 3600) {
                p.push(key, "at least 1 day");
            }
        }
    }
}
