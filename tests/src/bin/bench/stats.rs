//! What the benchmarks share: settings from the environment with a fresh
//! prefix and schema, latency histograms, cleanup.

use std::collections::HashMap;
use std::time::Duration;

use gw_config::Settings;
use hdrhistogram::Histogram;

/// The bench counterpart's SM4 key.
pub const SECRET: &str = "bench-secret-16c";

/// A fresh run id for the queue prefix and the schema.
pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// Settings as a service reads them (`GW__*` from the environment), with
/// `overrides` on top.
pub fn settings(overrides: &[(&str, String)]) -> anyhow::Result<Settings> {
    let mut env: HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("GW__"))
        .collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), v.clone());
    }
    let file = Settings::file_from_env();
    Ok(Settings::load_from(file.as_deref(), Some(env))?)
}

/// The overrides of an isolated run: its prefix and schema, and a `bench`
/// counterpart whose notices go to `notice_base_url`.
pub fn isolated(id: &str, notice_base_url: &str) -> Vec<(&'static str, String)> {
    vec![
        // A bench runs with the example institution and a generated key.
        ("GW__ENVIRONMENT", "sandbox".into()),
        ("GW__AMQP__PREFIX", format!("bench{id}")),
        ("GW__DATABASE__SCHEMA", format!("bench_{id}")),
        ("GW__COUNTERPARTS__BENCH__APPKEY", "bench".into()),
        ("GW__COUNTERPARTS__BENCH__APPSECRET", SECRET.into()),
        (
            "GW__COUNTERPARTS__BENCH__NOTICE_BASE_URL",
            notice_base_url.into(),
        ),
    ]
}

/// Removes the run's queues and schema.
pub async fn cleanup(settings: &Settings) -> anyhow::Result<()> {
    if !settings.amqp.is_embedded() {
        let bus = gw_host::connect_bus(settings, "bench-cleanup").await?;
        let _ = bus.transport().delete(bus.topology()).await;
        bus.close().await;
    }
    let db = gw_host::connect_db(settings).await?;
    db.drop_schema().await?;
    db.close().await;
    Ok(())
}

/// Latencies in microseconds, 1 µs to 10 minutes, 3 significant digits.
pub struct Latencies(Histogram<u64>);

impl Latencies {
    pub fn new() -> Self {
        Self(Histogram::new_with_bounds(1, 600_000_000, 3).unwrap())
    }

    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.0.saturating_record(us);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// The `q` quantile (0..=1) in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64 / 1e3
    }

    /// `p50 x ms, p99 y ms, max z ms`.
    pub fn summary(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.ms(0.5),
            self.ms(0.99),
            self.0.max() as f64 / 1e3
        )
    }
}
