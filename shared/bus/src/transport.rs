//! What a transport must do. Workers only see [`crate::Bus`]; the RabbitMQ
//! transport is one implementation, and an embedded one can be added without
//! touching any worker.

use std::time::Duration;

use async_trait::async_trait;

use crate::Message;
use crate::topology::Topology;

/// Where a message goes, in logical terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A work queue, by logical name.
    Queue(String),
    /// The events exchange, with this routing key.
    Event(String),
    /// Back to a work queue after waiting in a retry tier.
    Retry {
        queue: String,
        tier: Duration,
        expire_after: Duration,
    },
    /// The dead-letter queue of a work queue.
    DeadLetter { queue: String },
}

impl Destination {
    /// Its `messaging.destination.name` in spans and its kind in metrics:
    /// the logical queue (a retry tier and a dead-letter queue named after
    /// theirs), or `events` for the events exchange.
    pub fn span_name(&self) -> (&str, &'static str) {
        match self {
            Destination::Queue(q) => (q, "queue"),
            Destination::Event(_) => ("events", "event"),
            Destination::Retry { queue, .. } => (queue, "retry"),
            Destination::DeadLetter { queue } => (queue, "dead_letter"),
        }
    }

    /// The destination as stored (outbox, dead letters): `queue:<logical>`
    /// or `event:<routing key>`; `None` for retry tiers and dead letters,
    /// which are never stored.
    pub fn stored(&self) -> Option<String> {
        match self {
            Destination::Queue(q) => Some(format!("queue:{q}")),
            Destination::Event(k) => Some(format!("event:{k}")),
            _ => None,
        }
    }

    /// A stored destination read back.
    pub fn from_stored(s: &str) -> Option<Self> {
        match s.split_once(':')? {
            ("queue", q) if !q.is_empty() => Some(Destination::Queue(q.to_owned())),
            ("event", k) if !k.is_empty() => Some(Destination::Event(k.to_owned())),
            _ => None,
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Queue(q) => write!(f, "queue {q}"),
            Destination::Event(k) => write!(f, "event {k}"),
            Destination::Retry { queue, tier, .. } => {
                write!(
                    f,
                    "retry {} for {queue}",
                    crate::topology::tier_label(*tier)
                )
            }
            Destination::DeadLetter { queue } => write!(f, "dead letters of {queue}"),
        }
    }
}

/// A bus operation failed. Never holds a secret (URLs are not included).
#[derive(Debug, Clone, thiserror::Error)]
pub enum BusError {
    /// The broker is unreachable or the connection is recovering.
    #[error("the message broker is unavailable: {0}")]
    Unavailable(String),
    /// The broker did not confirm in time.
    #[error("the message broker did not confirm within {0:?}")]
    Timeout(Duration),
    /// The broker refused to take responsibility for the message.
    #[error("the message broker refused the message (nack)")]
    Nacked,
    /// No queue was bound for the message (a topology error).
    #[error("no queue is bound for {0}")]
    Unroutable(String),
    #[error("bus error: {0}")]
    Other(String),
}

/// One received message, to be acknowledged once its effect is committed.
#[async_trait]
pub trait Delivery: Send + Sync {
    fn message(&self) -> &Message;
    /// Whether the broker delivered it before (a consumer died holding it).
    fn redelivered(&self) -> bool;
    /// Done: the broker forgets the message.
    async fn ack(&self) -> Result<(), BusError>;
    /// Not done here: the broker delivers it again (counted by the
    /// queue's delivery limit, so it cannot loop forever).
    async fn requeue(&self) -> Result<(), BusError>;
}

/// A stream of deliveries from one queue.
#[async_trait]
pub trait Subscription: Send {
    /// The next delivery; `None` once cancelled or closed for good.
    async fn next(&mut self) -> Option<Box<dyn Delivery>>;
    /// Stops the flow of new deliveries; those already received stay valid.
    async fn cancel(&mut self) -> Result<(), BusError>;
}

/// A message transport.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Declares the topology. Idempotent.
    async fn declare(&self, topology: &Topology) -> Result<(), BusError>;
    /// Publishes and returns once the broker has durably accepted the message.
    async fn publish(&self, to: &Destination, message: &Message) -> Result<(), BusError>;
    /// Publishes several messages, in order, and returns each one's outcome
    /// (in the same order) once every one is settled, paying for durability
    /// once per batch rather than once per message (RabbitMQ: the publishes
    /// are pipelined and their confirms awaited together; the embedded bus:
    /// one transaction).
    async fn publish_many(&self, batch: &[(Destination, Message)]) -> Vec<Result<(), BusError>>;
    /// Starts consuming a work queue (logical name) or any queue by its full
    /// name when `raw` is set.
    async fn subscribe(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<Box<dyn Subscription>, BusError>;
    /// Takes one message from a queue by its full broker name, if any.
    async fn get(&self, full_queue_name: &str) -> Result<Option<Box<dyn Delivery>>, BusError>;
    /// Whether the broker is reachable now.
    async fn check(&self) -> Result<(), BusError>;
    /// Deletes everything the topology declared (tests and teardown).
    async fn delete(&self, topology: &Topology) -> Result<(), BusError>;
    /// Closes connections.
    async fn close(&self);
    /// The `messaging.system` of its spans.
    fn system(&self) -> &'static str {
        "rabbitmq"
    }
    /// The transport as its own type (a process on the embedded bus writes
    /// its outgoing messages straight into the bus's table).
    fn as_any(&self) -> &dyn std::any::Any;
}
