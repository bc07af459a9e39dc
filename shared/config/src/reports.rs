//! `[reports]`: the scheduled business reports (业务报表).

use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsSettings {
    /// Whether the issuance service writes yesterday's daily report (and,
    /// on the 1st, last month's) every day.
    pub enabled: bool,
    /// When, China time, `HH:MM`.
    pub daily_at: String,
}

impl ReportsSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.at().is_none() {
            p.push(
                "reports.daily_at",
                "a China time of day, HH:MM (e.g. 01:00)",
            );
        }
    }

    /// `daily_at` as a time of day (checked at load).
    pub fn at(&self) -> Option<chrono::NaiveTime> {
        chrono::NaiveTime::parse_from_str(self.daily_at.trim(), "%H:%M").ok()
    }
}
