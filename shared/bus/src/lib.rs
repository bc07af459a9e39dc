//! The message bus.
//!
//! [`Bus`] is what services use: publish a [`Message`] to a work queue or as
//! a domain event, and wait until the broker has durably accepted it (or a
//! timeout passes). [`consumer::run`] is the consumer loop with manual acks,
//! delayed retries and dead-lettering. The transport behind the bus is a
//! trait ([`Transport`]); [`amqp::AmqpTransport`] is the RabbitMQ one.

pub mod amqp;
pub mod consumer;
pub mod message;
pub mod topology;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

pub use consumer::{ConsumerSettings, Consumers, Failure, Handler, Supervision};
pub use message::{DecodeError, Message, headers};
pub use topology::{QueueType, Topology};
pub use transport::{BusError, Delivery, Destination, Subscription, Transport};

/// A handle on the bus. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    transport: Arc<dyn Transport>,
    topology: Arc<Topology>,
    publish_timeout: Duration,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("prefix", &self.topology.prefix())
            .field("publish_timeout", &self.publish_timeout)
            .finish_non_exhaustive()
    }
}

impl Bus {
    pub fn new(
        transport: Arc<dyn Transport>,
        topology: Topology,
        publish_timeout: Duration,
    ) -> Self {
        Self {
            transport,
            topology: Arc::new(topology),
            publish_timeout,
        }
    }

    /// Connects to RabbitMQ and declares the topology.
    pub async fn connect_amqp(
        options: &amqp::AmqpOptions,
        topology: Topology,
        publish_timeout: Duration,
    ) -> Result<Self, BusError> {
        let transport = amqp::AmqpTransport::connect(options, topology.clone()).await?;
        transport.declare(&topology).await?;
        Ok(Self::new(Arc::new(transport), topology, publish_timeout))
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    pub fn publish_timeout(&self) -> Duration {
        self.publish_timeout
    }

    /// Publishes and waits for the broker's confirm, at most `publish_timeout`.
    pub async fn publish(&self, to: &Destination, message: &Message) -> Result<(), BusError> {
        use tracing::Instrument as _;
        let (span, m) = self.producer_span(to, message);
        let started = std::time::Instant::now();
        let r = async {
            match tokio::time::timeout(self.publish_timeout, self.transport.publish(to, &m)).await {
                Ok(r) => r,
                Err(_) => Err(BusError::Timeout(self.publish_timeout)),
            }
        }
        .instrument(span.clone())
        .await;
        settled(&span, to, &r, started);
        r
    }

    /// Publishes a batch in order and waits for every confirm, at most
    /// `publish_timeout` for the whole batch; each message's outcome, in
    /// the batch's order. The outbox relay's path: one round of confirms per
    /// batch instead of one per message.
    pub async fn publish_many(
        &self,
        batch: &[(Destination, Message)],
    ) -> Vec<Result<(), BusError>> {
        let mut spans = Vec::with_capacity(batch.len());
        let mut stamped = Vec::with_capacity(batch.len());
        for (to, message) in batch {
            let (span, m) = self.producer_span(to, message);
            spans.push(span);
            stamped.push((to.clone(), m));
        }
        let started = std::time::Instant::now();
        let results =
            match tokio::time::timeout(self.publish_timeout, self.transport.publish_many(&stamped))
                .await
            {
                Ok(r) if r.len() == batch.len() => r,
                Ok(_) => batch
                    .iter()
                    .map(|_| {
                        Err(BusError::Other(
                            "the transport lost count of a batch".into(),
                        ))
                    })
                    .collect(),
                Err(_) => batch
                    .iter()
                    .map(|_| Err(BusError::Timeout(self.publish_timeout)))
                    .collect(),
            };
        for ((span, (to, _)), r) in spans.iter().zip(batch).zip(&results) {
            settled(span, to, r, started);
        }
        results
    }

    /// A producer span, child of where the message was made (for the
    /// outbox relay: of the handler that committed it), and the message
    /// carrying the span's context on, so its consumer is the span's child.
    /// For a transport written to outside [`Bus::publish`] (the embedded
    /// bus, inside a handler's transaction).
    pub fn producer_span(&self, to: &Destination, message: &Message) -> (tracing::Span, Message) {
        let (name, _) = to.span_name();
        let routing_key = match to {
            Destination::Event(k) => k.as_str(),
            _ => "",
        };
        let span = tracing::info_span!(
            "publish",
            otel.name = %format!("send {name}"),
            otel.kind = "producer",
            messaging.system = self.transport.system(),
            messaging.operation.type = "send",
            messaging.destination.name = %name,
            messaging.rabbitmq.destination.routing_key = routing_key,
            messaging.message.id = %message.id,
            applyno = message.correlation_id.as_deref().unwrap_or(""),
            counterpart = message.header(headers::COUNTERPART).unwrap_or(""),
            otel.status_code = tracing::field::Empty,
        );
        gw_telemetry::set_parent(&span, &message.trace_headers());
        let mut m = message.clone();
        span.in_scope(|| m.inject_trace());
        (span, m)
    }

    /// Publishes to a work queue (logical name).
    pub async fn send(&self, queue: &str, message: &Message) -> Result<(), BusError> {
        self.publish(&Destination::Queue(queue.to_owned()), message)
            .await
    }

    /// Publishes a domain event with this routing key.
    pub async fn emit(&self, routing_key: &str, message: &Message) -> Result<(), BusError> {
        self.publish(&Destination::Event(routing_key.to_owned()), message)
            .await
    }

    /// The `messaging.system` of its spans (`rabbitmq`, or `embedded`).
    pub fn system(&self) -> &'static str {
        self.transport.system()
    }

    /// Whether the broker is reachable.
    pub async fn check(&self) -> Result<(), BusError> {
        self.transport.check().await
    }

    pub async fn close(&self) {
        self.transport.close().await;
    }
}

/// Records a publish's outcome on its span and in the confirm histogram.
fn settled(
    span: &tracing::Span,
    to: &Destination,
    r: &Result<(), BusError>,
    started: std::time::Instant,
) {
    let (_, kind) = to.span_name();
    let outcome = if r.is_ok() { "confirmed" } else { "failed" };
    if r.is_err() {
        span.record("otel.status_code", "ERROR");
    }
    metrics::histogram!("gw_publish_confirm_seconds", "destination" => kind, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}
