//! Names and shape of everything on the broker.
//!
//! With prefix `p` (from config; tests use a unique one each):
//!
//! | what | name | notes |
//! |---|---|---|
//! | work exchange | `p.work` (direct) | routes a message to the queue named by its routing key |
//! | work queue | `p.<logical>` | durable quorum queue; dead-letters to `p.dlx`; the names come from the caller (the message contract) |
//! | dead-letter exchange | `p.dlx` (direct) | |
//! | dead-letter queue | `p.<logical>.dlq` | one per work queue |
//! | retry exchange | `p.retry` (headers) | routes on the `retry-tier` header |
//! | retry tier queue | `p.retry.<tier>` | TTL = tier; expired messages go back to `p.work` with their routing key |
//! | events exchange | `p.events` (topic) | domain events; outside systems bind their own queues |
//! | event journal | `p.events.journal` | bound to `#`, capped; keeps mandatory publishes routable |

use std::time::Duration;

/// The kind of queue every work, dead-letter, retry and journal queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// Replicated (Raft) queues with a delivery limit and at-least-once
    /// dead-lettering: what a deployment uses.
    #[default]
    Quorum,
    /// Single-node queues without a delivery limit. Cheap to create and
    /// delete: the test suite uses them where it does not test quorum
    /// behaviour, because RabbitMQ keeps memory for every deleted quorum
    /// queue until its Raft write-ahead log rolls over (see README, "Test").
    Classic,
}

/// The whole broker layout for one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    tiers: Vec<Duration>,
    /// Logical names of the work queues (the message contract lists them;
    /// the bus declares whatever it is given).
    work_queues: Vec<String>,
    /// Quorum queues, unless configured otherwise (`amqp.queue_type`).
    pub queue_type: QueueType,
    /// Deliveries of one message (requeues after consumer crashes) before the
    /// broker dead-letters it; the last guard against a crash loop.
    pub delivery_limit: u32,
    /// Cap on the event journal.
    pub journal_max_length: u32,
}

impl Topology {
    /// The standard layout with the given retry tiers (deduplicated, sorted)
    /// and no work queues yet (see [`Topology::with_work_queues`]).
    pub fn new(prefix: impl Into<String>, tiers: impl IntoIterator<Item = Duration>) -> Self {
        let mut tiers: Vec<Duration> = tiers.into_iter().filter(|d| !d.is_zero()).collect();
        tiers.sort();
        tiers.dedup();
        Self {
            prefix: prefix.into(),
            tiers,
            work_queues: Vec::new(),
            queue_type: QueueType::Quorum,
            delivery_limit: 10,
            journal_max_length: 100_000,
        }
    }

    /// The same layout with these work queues (logical names).
    pub fn with_work_queues<S: AsRef<str>>(mut self, queues: impl IntoIterator<Item = S>) -> Self {
        self.work_queues = queues.into_iter().map(|q| q.as_ref().to_owned()).collect();
        self
    }

    /// The same layout with queues of type `queue_type`.
    pub fn with_queue_type(mut self, queue_type: QueueType) -> Self {
        self.queue_type = queue_type;
        self
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn tiers(&self) -> &[Duration] {
        &self.tiers
    }

    pub fn work_queues(&self) -> &[String] {
        &self.work_queues
    }

    pub fn work_exchange(&self) -> String {
        format!("{}.work", self.prefix)
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }

    pub fn retry_exchange(&self) -> String {
        format!("{}.retry", self.prefix)
    }

    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    pub fn journal_queue(&self) -> String {
        format!("{}.events.journal", self.prefix)
    }

    /// Broker name of a work queue.
    pub fn queue(&self, logical: &str) -> String {
        format!("{}.{logical}", self.prefix)
    }

    /// Broker name of a work queue's dead-letter queue.
    pub fn dead_letter_queue(&self, logical: &str) -> String {
        format!("{}.{logical}.dlq", self.prefix)
    }

    /// Broker name of a retry tier queue.
    pub fn tier_queue(&self, tier: Duration) -> String {
        format!("{}.retry.{}", self.prefix, tier_label(tier))
    }

    /// The tier to wait in for at least `wanted`: the smallest tier not
    /// shorter than it, or the longest tier.
    pub fn tier_for(&self, wanted: Duration) -> Duration {
        self.tiers
            .iter()
            .copied()
            .find(|t| *t >= wanted)
            .or_else(|| self.tiers.last().copied())
            .unwrap_or(Duration::from_secs(1))
    }
}

/// `500ms`, `5s`, `2m`, `1h`: the tier's name on the broker and in headers.
pub fn tier_label(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1_000) {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let t = Topology::new("t1", [Duration::from_secs(5)]);
        assert_eq!(t.queue("a.work"), "t1.a.work");
        assert_eq!(t.dead_letter_queue("a.work"), "t1.a.work.dlq");
        assert_eq!(t.tier_queue(Duration::from_secs(5)), "t1.retry.5s");
        assert_eq!(t.events_exchange(), "t1.events");
    }

    #[test]
    fn tiers_are_sorted_unique_and_chosen_upwards() {
        let t = Topology::new(
            "p",
            [
                Duration::from_secs(30),
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120),
            ],
        );
        assert_eq!(
            t.tiers(),
            &[
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120)
            ]
        );
        assert_eq!(t.tier_for(Duration::from_secs(1)), Duration::from_secs(5));
        assert_eq!(t.tier_for(Duration::from_secs(6)), Duration::from_secs(30));
        assert_eq!(
            t.tier_for(Duration::from_secs(3600)),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn tier_labels() {
        assert_eq!(tier_label(Duration::from_millis(500)), "500ms");
        assert_eq!(tier_label(Duration::from_secs(5)), "5s");
        assert_eq!(tier_label(Duration::from_secs(120)), "2m");
        assert_eq!(tier_label(Duration::from_secs(3600)), "1h");
        assert_eq!(tier_label(Duration::from_millis(1500)), "1500ms");
    }
}
