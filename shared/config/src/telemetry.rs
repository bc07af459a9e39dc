//! `[telemetry]`: logs (traces are configured by the standard `OTEL_*`
//! environment variables).

use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `tracing` env-filter directive; `RUST_LOG` overrides it.
    pub log_filter: String,
    pub log_format: LogFormat,
}

impl TelemetrySettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.log_filter.trim().is_empty() {
            p.push("telemetry.log_filter", "must not be empty");
        }
    }
}
