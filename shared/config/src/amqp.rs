//! `[amqp]`: the broker, or the bus in the database (`url = "embedded"`).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{EMBEDDED_BUS, Problems, duration};

/// AMQP's smallest `frame_max`.
const FRAME_MIN: u32 = 4096;
/// A sanity bound: larger frames only cost memory here.
const FRAME_LIMIT: u32 = 1 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:pass@host:5672/%2f`. Secret: it holds a password.
    pub url: SecretString,
    /// Prefix of every exchange and queue name; tests use a unique one each.
    pub prefix: String,
    /// Unacknowledged deliveries per consumer (bounded concurrency).
    pub prefetch: u16,
    /// How long start-up waits for the broker.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long the connection may stay in recovery before it is given up
    /// and replaced by a new one (lapin's own recovery can hang for good).
    #[serde(with = "humantime_serde")]
    pub recovery_deadline: Duration,
    /// The largest AMQP frame this side asks for, in bytes (the broker's
    /// own limit wins if lower). lapin keeps 32 frames of buffer each way
    /// per connection, filled with zeros: at RabbitMQ's 128 KiB that was
    /// 8 MB resident per service; our messages are a few KB, and a larger
    /// one is split into several body frames.
    pub frame_max: u32,
    /// How long to wait for the broker's confirm before answering 500.
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
    /// Delay tiers of the generic retry queues of the workers.
    #[serde(deserialize_with = "duration::deserialize_list")]
    pub retry_tiers: Vec<Duration>,
    /// Attempts before a message that keeps failing is dead-lettered.
    pub max_attempts: u32,
    /// `quorum` (every deployment) or `classic` (test suites that create
    /// and delete a topology per test; classic queues have no delivery limit).
    pub queue_type: QueueType,
}

/// The kind of RabbitMQ queue (`amqp.queue_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Quorum,
    Classic,
}

impl AmqpSettings {
    /// Whether the bus is the embedded one (single-process mode).
    pub fn is_embedded(&self) -> bool {
        self.url.expose_secret() == EMBEDDED_BUS
    }

    pub(crate) fn check(&self, p: &mut Problems) {
        let url = self.url.expose_secret();
        if !(url.starts_with("amqp://") || url.starts_with("amqps://") || url == EMBEDDED_BUS) {
            p.push(
                "amqp.url",
                "must start with amqp:// or amqps://, or be \"embedded\"",
            );
        }
        if self.prefix.is_empty()
            || !self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            p.push(
                "amqp.prefix",
                "letters, digits, '-', '_' and '.' only, not empty",
            );
        }
        if self.prefetch == 0 {
            p.push("amqp.prefetch", "must be at least 1");
        }
        if !(FRAME_MIN..=FRAME_LIMIT).contains(&self.frame_max) {
            p.push(
                "amqp.frame_max",
                "must be between 4096 (AMQP's smallest frame) and 1048576 bytes",
            );
        }
        if self.recovery_deadline < Duration::from_secs(1) {
            p.push("amqp.recovery_deadline", "must be at least 1s");
        }
        if self.publish_timeout.is_zero() {
            p.push("amqp.publish_timeout", "must be positive");
        }
        if self.retry_tiers.is_empty() || self.retry_tiers.iter().any(|d| d.as_millis() < 1) {
            p.push("amqp.retry_tiers", "at least one positive delay");
        }
        if self.max_attempts == 0 {
            p.push("amqp.max_attempts", "must be at least 1");
        }
    }
}
