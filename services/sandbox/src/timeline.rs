//! What happened to each application, as the platform saw it: every call it
//! made and every notice and file it received, with latency and verdict.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Who started the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The platform called the gateway (an apply interface, the cashier).
    Call,
    /// The gateway sent the platform a notice.
    Notice,
    /// The platform downloaded a file the gateway links to.
    File,
}

/// One exchange.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub direction: Direction,
    /// The interface (`baohanapply`, `paynotice`, ...) or what was fetched.
    pub what: String,
    /// How long the other side took to answer (calls and files).
    pub latency_ms: Option<u64>,
    /// What came of it in a few words (`code 200`, `applystatus=1`, ...).
    pub summary: String,
    /// Problems found; empty is a pass.
    pub problems: Vec<String>,
}

impl Entry {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Every application's entries, in order.
#[derive(Debug, Default)]
pub struct Timeline {
    by_applyno: Mutex<BTreeMap<String, Vec<Entry>>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data as it was:
    // still worth reading.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Timeline {
    pub fn record(
        &self,
        applyno: &str,
        direction: Direction,
        what: &str,
        latency: Option<Duration>,
        summary: impl Into<String>,
        problems: Vec<String>,
    ) {
        let entry = Entry {
            at: Utc::now(),
            direction,
            what: what.to_owned(),
            latency_ms: latency.map(|d| d.as_millis().try_into().unwrap_or(u64::MAX)),
            summary: summary.into(),
            problems,
        };
        lock(&self.by_applyno)
            .entry(applyno.to_owned())
            .or_default()
            .push(entry);
    }

    pub fn of(&self, applyno: &str) -> Vec<Entry> {
        lock(&self.by_applyno)
            .get(applyno)
            .cloned()
            .unwrap_or_default()
    }

    pub fn all(&self) -> BTreeMap<String, Vec<Entry>> {
        lock(&self.by_applyno).clone()
    }

    /// The entries of `applyno` as lines a person reads.
    pub fn render(&self, applyno: &str) -> String {
        let entries = self.of(applyno);
        let start = entries.first().map(|e| e.at);
        entries
            .iter()
            .map(|e| {
                let offset = start
                    .map(|s| (e.at - s).num_milliseconds() as f64 / 1000.0)
                    .unwrap_or(0.0);
                let arrow = match e.direction {
                    Direction::Call => "→",
                    Direction::Notice => "←",
                    Direction::File => "⇣",
                };
                let latency = e
                    .latency_ms
                    .map(|ms| format!(" ({ms} ms)"))
                    .unwrap_or_default();
                let verdict = if e.ok() {
                    "ok".to_owned()
                } else {
                    format!("FAIL: {}", e.problems.join("; "))
                };
                format!(
                    "  +{offset:>6.2}s {arrow} {:<13} {}{latency}  [{verdict}]",
                    e.what, e.summary
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}
