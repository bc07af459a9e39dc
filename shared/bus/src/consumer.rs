//! The consumer loop every worker uses.
//!
//! * Concurrency is bounded by the prefetch: the broker never hands over more
//!   unacknowledged messages, and a semaphore of the same size caps the tasks.
//! * A message is acknowledged only after its handler returned `Ok`, i.e.
//!   after the handler committed its side effect.
//! * A transient failure is retried through a retry tier (a TTL queue), never
//!   by sleeping in the consumer or requeueing in a loop; after
//!   `max_attempts` the message is dead-lettered with its last error.
//! * A permanent failure (a poison message) is dead-lettered at once.
//! * A panicking handler counts as a permanent failure.
//! * On shutdown the loop stops taking deliveries, lets the ones in flight
//!   finish and acknowledge, and returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::message::headers;
use crate::transport::{BusError, Delivery, Destination};
use crate::{Bus, Message};

/// Why a handler did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// May succeed later (a database or network hiccup): retry with backoff.
    Transient(anyhow::Error),
    /// May succeed later, but not before this delay.
    RetryAfter(Duration, anyhow::Error),
    /// Can never succeed (unreadable, invalid): dead-letter now.
    Permanent(anyhow::Error),
}

impl Failure {
    pub fn transient(e: impl Into<anyhow::Error>) -> Self {
        Failure::Transient(e.into())
    }
    pub fn permanent(e: impl Into<anyhow::Error>) -> Self {
        Failure::Permanent(e.into())
    }
}

/// Handles one message. Returns `Ok` only once the effect is committed.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, message: &Message) -> Result<(), Failure>;
}

/// How one queue is consumed.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Logical queue name (see [`crate::queues`]).
    pub queue: String,
    pub prefetch: u16,
    /// Attempts before a transiently failing message is dead-lettered.
    pub max_attempts: u32,
    /// Delay before attempt n+1 is `backoff[n-1]` (the last entry repeats).
    pub backoff: Vec<Duration>,
    /// Fraction (0..1) by which a delay may be shortened at random, so that
    /// failures of many messages do not retry in lockstep.
    pub jitter: f64,
}

impl ConsumerSettings {
    pub fn new(
        queue: impl Into<String>,
        prefetch: u16,
        max_attempts: u32,
        backoff: Vec<Duration>,
    ) -> Self {
        Self {
            queue: queue.into(),
            prefetch: prefetch.max(1),
            max_attempts: max_attempts.max(1),
            backoff,
            jitter: 0.2,
        }
    }

    /// The delay before the next attempt after `attempt` failed.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let i = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff
            .get(i)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(5))
    }
}

/// Consumes `settings.queue` until `shutdown` fires, then drains in-flight work.
pub async fn run(
    bus: Bus,
    settings: ConsumerSettings,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let mut subscription = bus
        .transport()
        .subscribe(&settings.queue, settings.prefetch)
        .await?;
    let tracker = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(usize::from(settings.prefetch)));
    let settings = Arc::new(settings);
    tracing::info!(queue = %settings.queue, prefetch = settings.prefetch, "consuming");
    loop {
        let delivery = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            d = subscription.next() => d,
        };
        let Some(delivery) = delivery else {
            tracing::warn!(queue = %settings.queue, "subscription ended");
            break;
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (bus, settings, handler) = (bus.clone(), settings.clone(), handler.clone());
        tracker.spawn(async move {
            process(&bus, &settings, handler.as_ref(), delivery).await;
            drop(permit);
        });
    }
    if let Err(e) = subscription.cancel().await {
        tracing::debug!(queue = %settings.queue, error = %e, "cancel on shutdown");
    }
    tracker.close();
    tracker.wait().await;
    tracing::info!(queue = %settings.queue, "consumer stopped");
    Ok(())
}

async fn process(
    bus: &Bus,
    settings: &ConsumerSettings,
    handler: &dyn Handler,
    delivery: Box<dyn Delivery>,
) {
    let message = delivery.message();
    let span = tracing::info_span!(
        "consume",
        queue = %settings.queue,
        kind = %message.kind,
        message_id = %message.id,
        applyno = message.correlation_id.as_deref().unwrap_or(""),
        attempt = message.attempt,
        redelivered = delivery.redelivered(),
    );
    gw_telemetry::set_parent(&span, &message.trace_headers());
    async {
        let started = Instant::now();
        let outcome = std::panic::AssertUnwindSafe(handler.handle(message))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(Failure::Permanent(anyhow::anyhow!("the handler panicked"))));
        let ms = started.elapsed().as_millis();
        match outcome {
            Ok(()) => {
                tracing::info!(ms, "handled");
                finish(delivery.as_ref(), delivery.ack().await);
            }
            Err(Failure::Permanent(e)) => {
                tracing::error!(
                    ms,
                    error = format!("{e:#}"),
                    "permanent failure; dead-lettering"
                );
                let r = bus
                    .dead_letter(&settings.queue, message, &format!("{e:#}"))
                    .await;
                finish(delivery.as_ref(), after_publish(delivery.as_ref(), r).await);
            }
            Err(Failure::Transient(e)) => {
                let delay = settings.delay_after(message.attempt);
                retry_or_give_up(bus, settings, delivery.as_ref(), delay, e, ms).await;
            }
            Err(Failure::RetryAfter(d, e)) => {
                let delay = d.max(settings.delay_after(message.attempt));
                retry_or_give_up(bus, settings, delivery.as_ref(), delay, e, ms).await;
            }
        }
    }
    .instrument(span)
    .await;
}

async fn retry_or_give_up(
    bus: &Bus,
    settings: &ConsumerSettings,
    delivery: &dyn Delivery,
    delay: Duration,
    e: anyhow::Error,
    ms: u128,
) {
    let message = delivery.message();
    if message.attempt >= settings.max_attempts {
        let reason = format!("gave up after {} attempts: {e:#}", message.attempt);
        tracing::error!(ms, error = %reason, "dead-lettering");
        let r = bus.dead_letter(&settings.queue, message, &reason).await;
        finish(delivery, after_publish(delivery, r).await);
        return;
    }
    tracing::warn!(
        ms,
        error = format!("{e:#}"),
        delay_ms = delay.as_millis(),
        "transient failure; will retry"
    );
    let r = bus
        .retry_later(&settings.queue, message, delay, settings.jitter)
        .await;
    finish(delivery, after_publish(delivery, r).await);
}

/// After a retry or dead-letter copy: ack the original if the copy is safe,
/// otherwise hand it back to the broker (bounded by the delivery limit).
async fn after_publish(
    delivery: &dyn Delivery,
    published: Result<(), BusError>,
) -> Result<(), BusError> {
    match published {
        Ok(()) => delivery.ack().await,
        Err(e) => {
            tracing::warn!(error = %e, "could not re-publish; returning the message to the broker");
            delivery.requeue().await
        }
    }
}

fn finish(delivery: &dyn Delivery, r: Result<(), BusError>) {
    if let Err(e) = r {
        // The broker redelivers an unacknowledged message: a duplicate, which
        // idempotent handlers absorb, never a loss.
        tracing::warn!(message_id = %delivery.message().id, error = %e, "acknowledgement failed; the message will be redelivered");
    }
}

impl Bus {
    /// Sends a copy of `message` to wait in a retry tier, then return to `queue`.
    pub async fn retry_later(
        &self,
        queue: &str,
        message: &Message,
        delay: Duration,
        jitter: f64,
    ) -> Result<(), BusError> {
        let tier = self.topology().tier_for(delay);
        let jitter = jitter.clamp(0.0, 0.9);
        let shave = if jitter > 0.0 {
            rand::random::<f64>() * jitter
        } else {
            0.0
        };
        let expire_after = tier.mul_f64(1.0 - shave);
        let mut copy = message.clone();
        copy.attempt = message.attempt.saturating_add(1);
        copy.headers.remove(headers::RETRY_TIER);
        self.publish(
            &Destination::Retry {
                queue: queue.to_owned(),
                tier,
                expire_after,
            },
            &copy,
        )
        .await
    }

    /// Sends a copy of `message` to the dead-letter queue of `queue`, with why.
    pub async fn dead_letter(
        &self,
        queue: &str,
        message: &Message,
        reason: &str,
    ) -> Result<(), BusError> {
        let mut copy = message.clone();
        let reason: String = reason.chars().take(2000).collect();
        copy.headers.insert(headers::ERROR.to_owned(), reason);
        copy.headers
            .insert(headers::FAILED_QUEUE.to_owned(), queue.to_owned());
        copy.headers.insert(
            headers::FAILED_AT.to_owned(),
            chrono::Utc::now().to_rfc3339(),
        );
        self.publish(
            &Destination::DeadLetter {
                queue: queue.to_owned(),
            },
            &copy,
        )
        .await
    }
}
