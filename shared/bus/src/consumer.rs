//! The consumer loop every worker uses.
//!
//! * Concurrency is bounded by the prefetch: the broker never hands over more
//!   unacknowledged messages, and a semaphore of the same size caps the tasks.
//!   A permit is taken *before* the next delivery, so no delivery (and, on the
//!   embedded bus, no lease) waits for a free slot.
//! * A message is acknowledged only after its handler returned `Ok`, i.e.
//!   after the handler committed its side effect.
//! * A transient failure is retried through a retry tier (a TTL queue), never
//!   by sleeping in the consumer or requeueing in a loop; after
//!   `max_attempts` the message is dead-lettered with its last error.
//! * A dependency that is down ([`Failure::Unavailable`]: the database does
//!   not answer) is not the message's fault and uses no attempt: the consumer
//!   stops taking messages (its status says *paused*, `/readyz` fails), the
//!   message in hand waits until the dependency answers again, and is handled
//!   again. An outage of any length strands nothing.
//! * Something busy elsewhere ([`Failure::Busy`]: a lease another replica
//!   holds) uses no attempt either; the message comes back after the delay.
//! * A permanent failure (a poison message) is dead-lettered at once.
//! * A panicking handler counts as a permanent failure.
//! * A subscription that ends (the queue was deleted, recovery was refused)
//!   is made again with backoff, re-declaring the topology; the consumer's
//!   status says *resubscribing* meanwhile.
//! * On shutdown the loop stops taking deliveries, lets the ones in flight
//!   finish and acknowledge, and returns.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::message::headers;
use crate::transport::{BusError, Delivery, Destination, Subscription};
use crate::{Bus, Message};

/// Why a handler did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// May succeed later (a conflict, a hiccup): retry with backoff; counts
    /// as an attempt.
    Transient(anyhow::Error),
    /// May succeed later, but not before this delay (a platform's
    /// `Retry-After`); counts as an attempt.
    RetryAfter(Duration, anyhow::Error),
    /// Something else holds what the message needs (another replica's
    /// lease, a decision pending elsewhere): come back after the delay. Not
    /// an attempt, for at most [`BUSY_FOR`] after the message was first
    /// published.
    Busy(Duration, anyhow::Error),
    /// A dependency is down (the database does not answer): not an attempt;
    /// the consumer pauses until the dependency answers.
    Unavailable(anyhow::Error),
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

/// How long [`Failure::Busy`] is free of attempts: past this, a message
/// still busy counts its retries like any transient failure, so nothing
/// waits on a condition that never clears forever.
pub const BUSY_FOR: chrono::Duration = chrono::Duration::hours(24);

/// How many times in a row a message may meet an unavailable dependency
/// that the probe says is up before it counts as a transient failure
/// (a handler that says `Unavailable` for something else must not loop).
const UNAVAILABLE_BUT_UP: u32 = 5;

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

/// Where a consumer stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Subscribing for the first time.
    Starting,
    /// Taking and handling messages.
    Consuming,
    /// Taking no message: a dependency is down.
    Paused {
        since: DateTime<Utc>,
        reason: String,
    },
    /// The subscription ended or could not be made; trying again.
    Resubscribing {
        since: DateTime<Utc>,
        reason: String,
        tries: u32,
    },
    /// Stopped on shutdown.
    Stopped,
}

/// The consumers of a process and where each stands: what `/readyz`
/// reports, so a consumer that stops consuming never goes unnoticed.
#[derive(Clone, Default)]
pub struct Consumers(Arc<Mutex<BTreeMap<String, Status>>>);

impl Consumers {
    fn set(&self, queue: &str, status: Status) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(queue.to_owned(), status);
        }
    }

    /// Each consumer's status, by queue.
    pub fn snapshot(&self) -> BTreeMap<String, Status> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Whether every consumer is consuming (true when there are none).
    pub fn all_consuming(&self) -> bool {
        self.snapshot().values().all(|s| *s == Status::Consuming)
    }
}

/// Whether the dependencies of the handlers answer now (the database, the
/// broker); the reason when they do not.
pub type Probe = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// What watches a consumer: the process's status board and the probe of
/// its dependencies.
#[derive(Clone)]
pub struct Supervision {
    pub consumers: Consumers,
    pub probe: Probe,
}

impl Supervision {
    pub fn new(consumers: Consumers, probe: Probe) -> Self {
        Self { consumers, probe }
    }

    /// A status board of its own and a probe that checks only the bus.
    pub fn of_bus(bus: &Bus) -> Self {
        let bus = bus.clone();
        Self {
            consumers: Consumers::default(),
            probe: Arc::new(move || {
                let bus = bus.clone();
                async move { bus.check().await.map_err(|e| e.to_string()) }.boxed()
            }),
        }
    }
}

/// The pause of one consumer: closed while a dependency is down.
#[derive(Clone)]
struct Gate {
    open: Arc<watch::Sender<bool>>,
}

impl Gate {
    fn new() -> Self {
        Self {
            open: Arc::new(watch::channel(true).0),
        }
    }

    fn set(&self, open: bool) {
        self.open.send_replace(open);
    }

    /// Waits until the gate is open; `false` on shutdown.
    async fn wait_open(&self, shutdown: &CancellationToken) -> bool {
        let mut rx = self.open.subscribe();
        tokio::select! {
            biased;
            () = shutdown.cancelled() => false,
            r = rx.wait_for(|open| *open) => r.is_ok(),
        }
    }
}

/// Exponential backoff from `first` up to `max`.
fn backoff(tries: u32, first: Duration, max: Duration) -> Duration {
    first
        .saturating_mul(2u32.saturating_pow(tries.min(16)))
        .min(max)
}

/// Sleeps `d` unless shutdown comes first; `false` on shutdown.
async fn pause(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}

/// One consumer: everything a delivery's task needs.
struct Worker {
    bus: Bus,
    settings: ConsumerSettings,
    handler: Arc<dyn Handler>,
    supervision: Supervision,
    gate: Gate,
    shutdown: CancellationToken,
}

/// How a subscription's stream ended.
enum Ended {
    Shutdown,
    Closed,
}

/// Consumes `settings.queue` until `shutdown` fires, then drains in-flight work.
pub async fn run(
    bus: Bus,
    settings: ConsumerSettings,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
    supervision: Supervision,
) -> Result<(), BusError> {
    let queue = settings.queue.clone();
    let w = Arc::new(Worker {
        bus,
        settings,
        handler,
        supervision,
        gate: Gate::new(),
        shutdown,
    });
    let status = |s| w.supervision.consumers.set(&queue, s);
    status(Status::Starting);
    let tracker = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(usize::from(w.settings.prefetch)));
    let mut tries: u32 = 0;
    let mut since = Utc::now();
    // Deliveries are acknowledged on their subscription's channel: each
    // subscription lives until the work it handed out is done.
    let mut subscriptions: Vec<Box<dyn Subscription>> = Vec::new();
    while !w.shutdown.is_cancelled() {
        if tries > 0 {
            // The queue may have been deleted: declaring is idempotent.
            if let Err(e) = w.bus.transport().declare(w.bus.topology()).await {
                tracing::debug!(queue = %queue, error = %e, "re-declaring the topology failed");
            }
        }
        let subscription = w
            .bus
            .transport()
            .subscribe(&queue, w.settings.prefetch)
            .await;
        let reason = match subscription {
            Ok(s) => {
                tracing::info!(queue = %queue, prefetch = w.settings.prefetch, "consuming");
                tries = 0;
                status(Status::Consuming);
                if tracker.is_empty() {
                    subscriptions.clear(); // nothing in flight on the ended ones
                }
                subscriptions.push(s);
                let Some(s) = subscriptions.last_mut() else {
                    break;
                };
                match consume(&w, s.as_mut(), &permits, &tracker).await {
                    Ended::Shutdown => break,
                    Ended::Closed => "the subscription ended".to_owned(),
                }
            }
            Err(e) => format!("cannot subscribe: {e}"),
        };
        if tries == 0 {
            since = Utc::now();
        }
        tries += 1;
        tracing::warn!(queue = %queue, reason = %reason, tries, "consumer not consuming; subscribing again");
        status(Status::Resubscribing {
            since,
            reason,
            tries,
        });
        let wait = backoff(
            tries - 1,
            Duration::from_millis(500),
            Duration::from_secs(30),
        );
        if !pause(wait, &w.shutdown).await {
            break;
        }
    }
    tracker.close();
    tracker.wait().await;
    drop(subscriptions);
    status(Status::Stopped);
    tracing::info!(queue = %queue, "consumer stopped");
    Ok(())
}

/// Takes deliveries from one subscription until it ends or shutdown.
async fn consume(
    w: &Arc<Worker>,
    subscription: &mut dyn Subscription,
    permits: &Arc<Semaphore>,
    tracker: &TaskTracker,
) -> Ended {
    let ended = loop {
        if !w.gate.wait_open(&w.shutdown).await {
            break Ended::Shutdown;
        }
        let permit = tokio::select! {
            biased;
            () = w.shutdown.cancelled() => break Ended::Shutdown,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break Ended::Shutdown,
            },
        };
        let delivery = tokio::select! {
            biased;
            () = w.shutdown.cancelled() => break Ended::Shutdown,
            d = subscription.next() => d,
        };
        let Some(delivery) = delivery else {
            break Ended::Closed;
        };
        let w = w.clone();
        tracker.spawn(async move {
            process(&w, delivery).await;
            drop(permit);
        });
    };
    if let Err(e) = subscription.cancel().await {
        tracing::debug!(queue = %w.settings.queue, error = %e, "cancelling the subscription");
    }
    ended
}

/// Waits until the probe says the dependencies answer; `false` on shutdown.
async fn until_available(w: &Worker, reason: &str) -> bool {
    let queue = &w.settings.queue;
    let since = Utc::now();
    w.gate.set(false);
    w.supervision.consumers.set(
        queue,
        Status::Paused {
            since,
            reason: reason.to_owned(),
        },
    );
    tracing::error!(queue = %queue, reason, "a dependency is unavailable; consumer paused");
    let mut tries = 0;
    loop {
        match (w.supervision.probe)().await {
            Ok(()) => break,
            Err(why) => tracing::debug!(queue = %queue, why, "still unavailable"),
        }
        if !pause(
            backoff(tries, Duration::from_millis(250), Duration::from_secs(10)),
            &w.shutdown,
        )
        .await
        {
            return false;
        }
        tries += 1;
    }
    w.gate.set(true);
    w.supervision.consumers.set(queue, Status::Consuming);
    tracing::info!(queue = %queue, paused_ms = (Utc::now() - since).num_milliseconds(), "dependency available again; consumer resumed");
    true
}

async fn process(w: &Worker, delivery: Box<dyn Delivery>) {
    let (settings, bus) = (&w.settings, &w.bus);
    let message = delivery.message();
    let span = tracing::info_span!(
        "consume",
        otel.name = %format!("process {}", settings.queue),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        messaging.system = bus.system(),
        messaging.operation.type = "process",
        messaging.destination.name = %settings.queue,
        messaging.message.id = %message.id,
        queue = %settings.queue,
        kind = %message.kind,
        message_id = %message.id,
        applyno = message.correlation_id.as_deref().unwrap_or(""),
        counterpart = message.header(crate::headers::COUNTERPART).unwrap_or(""),
        attempt = message.attempt,
        redelivered = delivery.redelivered(),
    );
    gw_telemetry::set_parent(&span, &message.trace_headers());
    async {
        let mut unavailable_but_up = 0;
        let (outcome, ms) = loop {
            let started = Instant::now();
            let outcome = std::panic::AssertUnwindSafe(w.handler.handle(message))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Err(Failure::Permanent(anyhow::anyhow!("the handler panicked")))
                });
            let ms = started.elapsed().as_millis();
            let Err(Failure::Unavailable(e)) = outcome else {
                break (outcome, ms);
            };
            if unavailable_but_up >= UNAVAILABLE_BUT_UP {
                break (Err(Failure::Transient(e)), ms);
            }
            if (w.supervision.probe)().await.is_ok() {
                // Up as far as the probe can tell (a full pool, a blip).
                unavailable_but_up += 1;
                if !pause(Duration::from_millis(200), &w.shutdown).await {
                    finish(delivery.as_ref(), delivery.requeue().await);
                    return;
                }
                continue;
            }
            if !until_available(w, &format!("{e:#}")).await {
                // Shutdown while waiting: the broker keeps the message.
                finish(delivery.as_ref(), delivery.requeue().await);
                return;
            }
        };
        let queue = settings.queue.clone();
        let label = match &outcome {
            Ok(()) => "handled",
            Err(Failure::Permanent(_)) => "dead_lettered",
            Err(Failure::Busy(..)) => "busy",
            Err(_) if message.attempt >= settings.max_attempts => "dead_lettered",
            Err(_) => "retried",
        };
        metrics::counter!("gw_messages_total", "queue" => queue.clone(), "outcome" => label)
            .increment(1);
        if outcome.is_err() {
            tracing::Span::current().record("otel.status_code", "ERROR");
        }
        metrics::histogram!("gw_message_handling_seconds", "queue" => queue)
            .record(ms as f64 / 1000.0);
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
            Err(Failure::Busy(d, e)) if Utc::now() - message.timestamp < BUSY_FOR => {
                tracing::info!(
                    ms,
                    reason = format!("{e:#}"),
                    delay_ms = d.as_millis(),
                    "busy; will come back"
                );
                let r = bus
                    .retry_later(&settings.queue, message, d, settings.jitter, false)
                    .await;
                finish(delivery.as_ref(), after_publish(delivery.as_ref(), r).await);
            }
            Err(Failure::Transient(e) | Failure::Busy(_, e) | Failure::Unavailable(e)) => {
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
        .retry_later(&settings.queue, message, delay, settings.jitter, true)
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
    /// Sends a copy of `message` to wait in a retry tier, then return to
    /// `queue`; as its next attempt when `counts`.
    pub async fn retry_later(
        &self,
        queue: &str,
        message: &Message,
        delay: Duration,
        jitter: f64,
        counts: bool,
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
        if counts {
            copy.attempt = message.attempt.saturating_add(1);
        }
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
