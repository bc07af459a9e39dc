//! The RabbitMQ transport, on lapin 4 with automatic recovery.
//!
//! * Every queue is a durable quorum queue with a dead-letter exchange,
//!   at-least-once dead-lettering and a delivery limit.
//! * Publishing waits for the publisher confirm, with `mandatory` set, so an
//!   unroutable message is an error rather than a silent drop.
//! * The connection recovers by itself (lapin `enable_auto_recover`, retried
//!   without limit); consumers are replayed by lapin after recovery. While it
//!   recovers, publishing fails at once, so callers answer "busy" instead of
//!   hanging.
//! * lapin's recovery can hang for good (amqp-rs/lapin#450: a reconnect
//!   whose handshake is never answered is waited on forever). A watchdog
//!   gives a connection that is still recovering after `recovery_deadline`
//!   up, opens a new one and swaps it in; every subscription on the old one
//!   ends, and the consumer loop subscribes again on the new one.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use lapin::Confirmation;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use crate::Message;
use crate::message::headers;
use crate::topology::{QueueType, Topology, tier_label};
use crate::transport::{BusError, Delivery, Destination, Subscription, Transport};

/// How to reach the broker.
#[derive(Clone)]
pub struct AmqpOptions {
    /// `amqp://user:pass@host:port/vhost`. Never logged.
    pub url: String,
    /// Shown in the broker's management UI.
    pub connection_name: String,
    /// How long start-up waits for the broker.
    pub connect_timeout: Duration,
    /// How long the connection may stay in recovery before the watchdog
    /// replaces it with a new one.
    pub recovery_deadline: Duration,
    /// The largest frame asked of the broker (`amqp.frame_max`); a lower
    /// `frame_max` in the URL wins.
    pub frame_max: u32,
}

impl std::fmt::Debug for AmqpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpOptions")
            .field("connection_name", &self.connection_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("recovery_deadline", &self.recovery_deadline)
            .field("frame_max", &self.frame_max)
            .finish_non_exhaustive()
    }
}

/// RabbitMQ through one auto-recovering connection, replaced by a new one
/// when its recovery hangs.
pub struct AmqpTransport {
    shared: Arc<Shared>,
    topology: Topology,
    watchdog: tokio::task::AbortHandle,
}

/// One connection and its confirm channel.
struct Link {
    connection: Connection,
    publisher: Channel,
}

impl Link {
    fn connected(&self) -> bool {
        self.connection.status().connected() && self.publisher.status().connected()
    }
}

/// What the transport and its watchdog share.
struct Shared {
    options: AmqpOptions,
    link: RwLock<Arc<Link>>,
    /// Counts the replacements; a subscription ends when it moves.
    replaced: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    fn link(&self) -> Arc<Link> {
        self.link
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every second: a connection that has not been connected for
    /// `recovery_deadline` is replaced by a new one, if one can be opened
    /// (tried again after 1 s, 2 s, 4 s ... up to 30 s while it cannot: a
    /// long outage logs a line every half minute, not every second).
    async fn watch(self: Arc<Self>) {
        const MAX_PAUSE: Duration = Duration::from_secs(30);
        let mut down_since: Option<Instant> = None;
        let mut pause = Duration::from_secs(1);
        let mut next_try = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.link().connected() {
                down_since = None;
                pause = Duration::from_secs(1);
                continue;
            }
            let since = *down_since.get_or_insert_with(Instant::now);
            if since.elapsed() < self.options.recovery_deadline || Instant::now() < next_try {
                continue;
            }
            let connection = self.options.connection_name.as_str();
            let fresh =
                tokio::time::timeout(self.options.connect_timeout, open(&self.options)).await;
            match fresh {
                Ok(Ok(fresh)) => {
                    let old = std::mem::replace(
                        &mut *self.link.write().unwrap_or_else(PoisonError::into_inner),
                        Arc::new(fresh),
                    );
                    self.replaced.send_modify(|n| *n += 1);
                    tracing::warn!(
                        connection,
                        recovering_for_s = since.elapsed().as_secs(),
                        "the broker connection did not recover; replaced it with a new one"
                    );
                    down_since = None;
                    pause = Duration::from_secs(1);
                    // Closing a connection stuck in recovery can itself wait
                    // forever; dropping the last handle lets lapin close it.
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(
                            Duration::from_secs(5),
                            old.connection.close(200, ss("replaced")),
                        )
                        .await;
                    });
                }
                failed => {
                    let error = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "not open within amqp.connect_timeout".to_owned(),
                    };
                    tracing::warn!(
                        connection,
                        recovering_for_s = since.elapsed().as_secs(),
                        next_try_in_s = pause.as_secs(),
                        error,
                        "the broker connection is still recovering and a new one cannot be opened yet"
                    );
                    next_try = Instant::now() + pause;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
    }
}

/// Opens a connection that recovers by itself and its confirm channel.
async fn open(options: &AmqpOptions) -> Result<Link, BusError> {
    let props = ConnectionProperties::default()
        .with_connection_name(options.connection_name.clone().into())
        .enable_auto_recover()
        .configure_backoff(|b| {
            b.with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(3))
                .without_max_times()
        });
    // The parser's message quotes the URL, which holds the password.
    let mut uri: AMQPUri = options
        .url
        .parse()
        .map_err(|_| BusError::Unavailable("amqp.url is not an AMQP URL".into()))?;
    uri.query.frame_max = Some(
        uri.query
            .frame_max
            .map_or(options.frame_max, |f| f.min(options.frame_max)),
    );
    let connection = Connection::connect_uri(uri, props)
        .await
        .map_err(unavailable)?;
    let publisher = connection.create_channel().await.map_err(unavailable)?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(unavailable)?;
    Ok(Link {
        connection,
        publisher,
    })
}

impl Drop for AmqpTransport {
    fn drop(&mut self) {
        self.watchdog.abort();
    }
}

fn unavailable(e: lapin::Error) -> BusError {
    BusError::Unavailable(e.to_string())
}

fn ss(s: impl Into<String>) -> ShortString {
    ShortString::from(s.into())
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// Why no connection was made within `waited`: a broker that refuses TCP
/// is down; one that accepts TCP but never finishes the AMQP handshake is
/// hung (seen on a worn-out RabbitMQ), which a restart of the broker fixes.
async fn diagnose(url: &str, waited: Duration) -> String {
    let Ok(uri) = url.parse::<lapin::uri::AMQPUri>() else {
        return format!("no connection within {waited:?} (amqp.url does not parse)");
    };
    let addr = format!("{}:{}", uri.authority.host, uri.authority.port);
    let tcp = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(addr.as_str()),
    )
    .await;
    match tcp {
        Ok(Ok(_)) => format!(
            "the broker at {addr} accepts TCP connections but did not complete the AMQP \
             handshake within {waited:?}: it is up but not answering (hung or overloaded); \
             restart it (`rabbitmqctl stop_app && rabbitmqctl start_app`)"
        ),
        Ok(Err(e)) => format!(
            "no connection within {waited:?}: {addr} refuses TCP ({e}); is the broker running?"
        ),
        Err(_) => {
            format!("no connection within {waited:?}: {addr} does not accept TCP connections")
        }
    }
}

impl AmqpTransport {
    /// Connects (waiting up to `connect_timeout`), opens the confirm channel
    /// and starts the watchdog that replaces a connection whose recovery hangs.
    pub async fn connect(options: &AmqpOptions, topology: Topology) -> Result<Self, BusError> {
        let link = match tokio::time::timeout(options.connect_timeout, open(options)).await {
            Ok(link) => link?,
            Err(_) => {
                return Err(BusError::Unavailable(
                    diagnose(&options.url, options.connect_timeout).await,
                ));
            }
        };
        let shared = Arc::new(Shared {
            options: options.clone(),
            link: RwLock::new(Arc::new(link)),
            replaced: tokio::sync::watch::channel(0).0,
        });
        let watchdog = tokio::spawn(shared.clone().watch()).abort_handle();
        Ok(Self {
            shared,
            topology,
            watchdog,
        })
    }

    /// Sends one message's frames on `link`'s confirm channel; the returned
    /// future resolves with the broker's confirm.
    async fn send(
        &self,
        link: &Link,
        to: &Destination,
        message: &Message,
    ) -> Result<lapin::PublisherConfirm, BusError> {
        let (exchange, key) = self.route(to);
        link.publisher
            .basic_publish(
                ss(exchange),
                ss(key),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &message.payload,
                properties(to, message),
            )
            .await
            .map_err(unavailable)
    }

    fn route(&self, to: &Destination) -> (String, String) {
        let t = &self.topology;
        match to {
            Destination::Queue(q) => (t.work_exchange(), q.clone()),
            Destination::Event(key) => (t.events_exchange(), key.clone()),
            Destination::Retry { queue, .. } => (t.retry_exchange(), queue.clone()),
            Destination::DeadLetter { queue } => (t.dead_letter_exchange(), queue.clone()),
        }
    }
}

/// What a broker's confirm means for one message.
fn settle(to: &Destination, confirm: Confirmation) -> Result<(), BusError> {
    match confirm {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => Err(BusError::Unroutable(to.to_string())),
        Confirmation::Nack(_) => Err(BusError::Nacked),
        Confirmation::NotRequested => {
            Err(BusError::Other("publisher confirms are not enabled".into()))
        }
    }
}

fn properties(to: &Destination, m: &Message) -> BasicProperties {
    let mut table = FieldTable::default();
    table.insert(
        ss(headers::SCHEMA_VERSION),
        AMQPValue::LongLongInt(i64::from(m.schema_version)),
    );
    table.insert(
        ss(headers::ATTEMPT),
        AMQPValue::LongLongInt(i64::from(m.attempt)),
    );
    for (k, v) in &m.headers {
        if k != headers::SCHEMA_VERSION && k != headers::ATTEMPT {
            table.insert(ss(k.clone()), long(v));
        }
    }
    let mut props = BasicProperties::default()
        .with_message_id(ss(m.id.clone()))
        .with_type(ss(m.kind.clone()))
        .with_content_type(ss("application/json"))
        .with_delivery_mode(2)
        .with_timestamp(u64::try_from(m.timestamp.timestamp()).unwrap_or(0));
    if let Some(c) = &m.correlation_id {
        props = props.with_correlation_id(ss(c.clone()));
    }
    if let Destination::Retry {
        tier, expire_after, ..
    } = to
    {
        table.insert(ss(headers::RETRY_TIER), long(&tier_label(*tier)));
        let ms = expire_after.min(tier).as_millis().max(1);
        props = props.with_expiration(ss(ms.to_string()));
    }
    props.with_headers(table)
}

fn value_text(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        AMQPValue::Boolean(b) => Some(b.to_string()),
        AMQPValue::ShortShortInt(i) => Some(i.to_string()),
        AMQPValue::ShortShortUInt(i) => Some(i.to_string()),
        AMQPValue::ShortInt(i) => Some(i.to_string()),
        AMQPValue::ShortUInt(i) => Some(i.to_string()),
        AMQPValue::LongInt(i) => Some(i.to_string()),
        AMQPValue::LongUInt(i) => Some(i.to_string()),
        AMQPValue::LongLongInt(i) => Some(i.to_string()),
        AMQPValue::Timestamp(t) => Some(t.to_string()),
        _ => None,
    }
}

/// FNV-1a: a stable id for messages an outside publisher sent without one.
fn content_id(kind: &str, payload: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.as_bytes().iter().chain(payload) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("content-{h:016x}")
}

/// The reason and queue of the most recent death in an `x-death` header.
fn last_death(v: &AMQPValue) -> Option<(String, Option<String>)> {
    let AMQPValue::FieldArray(deaths) = v else {
        return None;
    };
    let AMQPValue::FieldTable(t) = deaths.as_slice().first()? else {
        return None;
    };
    let field = |k: &str| t.inner().get(k).and_then(value_text);
    Some((field("reason")?, field("queue")))
}

fn to_message(props: &BasicProperties, data: Vec<u8>) -> Message {
    let mut hdrs = BTreeMap::new();
    let mut schema_version = 1;
    let mut attempt = 1;
    let (mut death_reason, mut death_queue) = (None, None);
    if let Some(table) = props.headers() {
        for (k, v) in table.inner() {
            match k.as_str() {
                headers::SCHEMA_VERSION => {
                    schema_version = value_text(v).and_then(|s| s.parse().ok()).unwrap_or(1);
                }
                headers::ATTEMPT => {
                    attempt = value_text(v).and_then(|s| s.parse().ok()).unwrap_or(1)
                }
                // The most recent death comes first. A retry tier's TTL is a
                // death too (`expired`); only others mean the broker gave up.
                "x-death" => {
                    if let Some((reason, queue)) = last_death(v)
                        && reason != "expired"
                    {
                        death_reason = Some(reason);
                        death_queue = queue;
                    }
                }
                // Bookkeeping the broker adds; it must not travel on in copies.
                key if key.starts_with("x-death")
                    || key.starts_with("x-first-death")
                    || key.starts_with("x-last-death")
                    || key == "x-delivery-count" => {}
                key => {
                    if let Some(text) = value_text(v) {
                        hdrs.insert(key.to_owned(), text);
                    }
                }
            }
        }
    }
    // Dead-lettered by the broker (the delivery limit), not by a consumer:
    // say so where operators look for the reason.
    if let Some(reason) = death_reason
        && !hdrs.contains_key(headers::ERROR)
    {
        let why = match reason.as_str() {
            "delivery_limit" => {
                "the broker's delivery limit was reached (its consumers kept failing or dying)"
                    .to_owned()
            }
            other => format!("dead-lettered by the broker ({other})"),
        };
        hdrs.insert(headers::ERROR.to_owned(), why);
        if let Some(q) = death_queue {
            hdrs.entry(headers::FAILED_QUEUE.to_owned()).or_insert(q);
        }
        hdrs.entry(headers::FAILED_AT.to_owned())
            .or_insert_with(|| chrono::Utc::now().to_rfc3339());
        hdrs.insert(headers::DEAD_LETTERED_BY.to_owned(), "broker".to_owned());
    }
    let kind = props
        .kind()
        .as_ref()
        .map(|k| k.as_str().to_owned())
        .unwrap_or_default();
    let id = props
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| content_id(&kind, &data));
    let timestamp = props
        .timestamp()
        .and_then(|t| i64::try_from(t).ok())
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .unwrap_or_else(chrono::Utc::now);
    Message {
        id,
        kind,
        schema_version,
        correlation_id: props
            .correlation_id()
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        attempt,
        timestamp,
        headers: hdrs,
        payload: data,
    }
}

struct AmqpDelivery {
    message: Message,
    redelivered: bool,
    acker: lapin::Acker,
}

#[async_trait]
impl Delivery for AmqpDelivery {
    fn message(&self) -> &Message {
        &self.message
    }
    fn redelivered(&self) -> bool {
        self.redelivered
    }
    async fn ack(&self) -> Result<(), BusError> {
        self.acker
            .ack(BasicAckOptions::default())
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
    async fn requeue(&self) -> Result<(), BusError> {
        self.acker
            .nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            })
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

struct AmqpSubscription {
    channel: Channel,
    consumer: lapin::Consumer,
    tag: String,
    queue: String,
    /// Moves when the watchdog replaces the connection: the subscription
    /// ends then and the consumer loop subscribes again on the new one.
    replaced: tokio::sync::watch::Receiver<u64>,
}

/// Resolves when the watchdog replaces the connection (never once the
/// transport is gone: nothing will replace it then), saying so.
async fn replacement(replaced: &mut tokio::sync::watch::Receiver<u64>, queue: &str) {
    if replaced.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
    tracing::warn!(queue, "the connection was replaced; subscribing again");
}

#[async_trait]
impl Subscription for AmqpSubscription {
    async fn next(&mut self) -> Option<Box<dyn Delivery>> {
        loop {
            let next = tokio::select! {
                next = self.consumer.next() => next,
                () = replacement(&mut self.replaced, &self.queue) => return None,
            };
            match next {
                None => return None,
                Some(Ok(d)) => {
                    return Some(Box::new(AmqpDelivery {
                        message: to_message(&d.properties, d.data),
                        redelivered: d.redelivered,
                        acker: d.acker,
                    }));
                }
                Some(Err(e)) => {
                    tracing::warn!(queue = %self.queue, error = %e, "consumer interrupted; waiting for the connection to recover");
                    let recovered = tokio::select! {
                        r = self.channel.wait_for_recovery(e) => r,
                        () = replacement(&mut self.replaced, &self.queue) => return None,
                    };
                    if let Err(e) = recovered {
                        tracing::error!(queue = %self.queue, error = %e, "consumer cannot recover");
                        return None;
                    }
                }
            }
        }
    }

    async fn cancel(&mut self) -> Result<(), BusError> {
        self.channel
            .basic_cancel(ss(self.tag.clone()), BasicCancelOptions::default())
            .await
            .map_err(unavailable)
    }
}

/// Arguments every queue of the topology gets: its type and, on quorum
/// queues, at-least-once dead-lettering (a classic queue has no such strategy).
fn queue_args(t: &Topology) -> FieldTable {
    let mut args = FieldTable::default();
    let kind = match t.queue_type {
        QueueType::Quorum => "quorum",
        QueueType::Classic => "classic",
    };
    args.insert(ss("x-queue-type"), long(kind));
    args
}

/// What a queue that dead-letters needs on top of [`queue_args`].
fn dead_lettering(t: &Topology, args: &mut FieldTable, exchange: &str) {
    args.insert(ss("x-dead-letter-exchange"), long(exchange));
    if t.queue_type == QueueType::Quorum {
        args.insert(ss("x-dead-letter-strategy"), long("at-least-once"));
    }
}

#[async_trait]
impl Transport for AmqpTransport {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    async fn declare(&self, t: &Topology) -> Result<(), BusError> {
        let ch = self
            .shared
            .link()
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        for (name, kind) in [
            (t.work_exchange(), ExchangeKind::Direct),
            (t.dead_letter_exchange(), ExchangeKind::Direct),
            (t.retry_exchange(), ExchangeKind::Headers),
            (t.events_exchange(), ExchangeKind::Topic),
        ] {
            ch.exchange_declare(ss(name), kind, durable, FieldTable::default())
                .await
                .map_err(unavailable)?;
        }
        let bind = |queue: String, exchange: String, key: String, args: FieldTable| {
            let ch = ch.clone();
            async move {
                ch.queue_bind(
                    ss(queue),
                    ss(exchange),
                    ss(key),
                    QueueBindOptions::default(),
                    args,
                )
                .await
                .map_err(unavailable)
            }
        };
        for logical in t.work_queues() {
            let mut args = queue_args(t);
            dead_lettering(t, &mut args, &t.dead_letter_exchange());
            args.insert(ss("x-dead-letter-routing-key"), long(logical.as_str()));
            args.insert(ss("x-overflow"), long("reject-publish"));
            if t.queue_type == QueueType::Quorum {
                args.insert(
                    ss("x-delivery-limit"),
                    AMQPValue::LongLongInt(i64::from(t.delivery_limit)),
                );
            }
            ch.queue_declare(ss(t.queue(logical)), QueueDeclareOptions::durable(), args)
                .await
                .map_err(unavailable)?;
            bind(
                t.queue(logical),
                t.work_exchange(),
                logical.clone(),
                FieldTable::default(),
            )
            .await?;
            ch.queue_declare(
                ss(t.dead_letter_queue(logical)),
                QueueDeclareOptions::durable(),
                queue_args(t),
            )
            .await
            .map_err(unavailable)?;
            bind(
                t.dead_letter_queue(logical),
                t.dead_letter_exchange(),
                logical.clone(),
                FieldTable::default(),
            )
            .await?;
        }
        for tier in t.tiers() {
            let mut args = queue_args(t);
            let ttl = i64::try_from(tier.as_millis()).unwrap_or(i64::MAX);
            args.insert(ss("x-message-ttl"), AMQPValue::LongLongInt(ttl));
            // No dead-letter routing key: an expired message keeps its own
            // routing key, the logical name of the queue it returns to.
            dead_lettering(t, &mut args, &t.work_exchange());
            args.insert(ss("x-overflow"), long("reject-publish"));
            ch.queue_declare(
                ss(t.tier_queue(*tier)),
                QueueDeclareOptions::durable(),
                args,
            )
            .await
            .map_err(unavailable)?;
            let mut match_args = FieldTable::default();
            match_args.insert(ss("x-match"), long("all"));
            match_args.insert(ss(headers::RETRY_TIER), long(&tier_label(*tier)));
            bind(
                t.tier_queue(*tier),
                t.retry_exchange(),
                String::new(),
                match_args,
            )
            .await?;
        }
        let mut journal = queue_args(t);
        journal.insert(
            ss("x-max-length"),
            AMQPValue::LongLongInt(i64::from(t.journal_max_length)),
        );
        journal.insert(ss("x-overflow"), long("drop-head"));
        journal.insert(
            ss("x-message-ttl"),
            AMQPValue::LongLongInt(7 * 24 * 3_600_000),
        );
        ch.queue_declare(
            ss(t.journal_queue()),
            QueueDeclareOptions::durable(),
            journal,
        )
        .await
        .map_err(unavailable)?;
        bind(
            t.journal_queue(),
            t.events_exchange(),
            "#".to_owned(),
            FieldTable::default(),
        )
        .await?;
        let _ = ch.close(200, ss("declared")).await;
        Ok(())
    }

    async fn publish(&self, to: &Destination, message: &Message) -> Result<(), BusError> {
        let confirm = self.send(&self.shared.link(), to, message).await?;
        settle(to, confirm.await.map_err(unavailable)?)
    }

    /// The frames of every message go out first, in order, on the one
    /// confirm channel; then the confirms are awaited together. The broker
    /// confirms a batch with few disk syncs instead of one round trip and
    /// one sync per message, and routes the messages in the order sent
    /// (all on one connection, even if the watchdog replaces it meanwhile).
    async fn publish_many(&self, batch: &[(Destination, Message)]) -> Vec<Result<(), BusError>> {
        let link = self.shared.link();
        let mut pending = Vec::with_capacity(batch.len());
        for (to, m) in batch {
            pending.push(self.send(&link, to, m).await);
        }
        let mut out = Vec::with_capacity(batch.len());
        for ((to, _), sent) in batch.iter().zip(pending) {
            out.push(match sent {
                Ok(confirm) => match confirm.await {
                    Ok(c) => settle(to, c),
                    Err(e) => Err(unavailable(e)),
                },
                Err(e) => Err(e),
            });
        }
        out
    }

    async fn subscribe(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<Box<dyn Subscription>, BusError> {
        let replaced = self.shared.replaced.subscribe();
        let channel = self
            .shared
            .link()
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(unavailable)?;
        let full = if queue.starts_with(&format!("{}.", self.topology.prefix())) {
            queue.to_owned()
        } else {
            self.topology.queue(queue)
        };
        let tag = format!("{}-{}", full, uuid::Uuid::new_v4().simple());
        let consumer = channel
            .basic_consume(
                ss(full.clone()),
                ss(tag.clone()),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        Ok(Box::new(AmqpSubscription {
            channel,
            consumer,
            tag,
            queue: full,
            replaced,
        }))
    }

    async fn get(&self, full_queue_name: &str) -> Result<Option<Box<dyn Delivery>>, BusError> {
        let got = self
            .shared
            .link()
            .publisher
            .basic_get(ss(full_queue_name), BasicGetOptions::default())
            .await
            .map_err(unavailable)?;
        Ok(got.map(|m| {
            let d = m.delivery;
            Box::new(AmqpDelivery {
                message: to_message(&d.properties, d.data),
                redelivered: d.redelivered,
                acker: d.acker,
            }) as Box<dyn Delivery>
        }))
    }

    async fn check(&self) -> Result<(), BusError> {
        if self.shared.link().connected() {
            Ok(())
        } else {
            Err(BusError::Unavailable("the connection is recovering".into()))
        }
    }

    async fn delete(&self, t: &Topology) -> Result<(), BusError> {
        let ch = self
            .shared
            .link()
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        let mut queues: Vec<String> = Vec::new();
        for logical in t.work_queues() {
            queues.push(t.queue(logical));
            queues.push(t.dead_letter_queue(logical));
        }
        queues.extend(t.tiers().iter().map(|d| t.tier_queue(*d)));
        queues.push(t.journal_queue());
        for q in queues {
            ch.queue_delete(ss(q), QueueDeleteOptions::default())
                .await
                .map_err(unavailable)?;
        }
        for x in [
            t.work_exchange(),
            t.dead_letter_exchange(),
            t.retry_exchange(),
            t.events_exchange(),
        ] {
            ch.exchange_delete(ss(x), ExchangeDeleteOptions::default())
                .await
                .map_err(unavailable)?;
        }
        let _ = ch.close(200, ss("deleted")).await;
        Ok(())
    }

    async fn close(&self) {
        self.watchdog.abort();
        let link = self.shared.link();
        let _ = link.publisher.close(200, ss("bye")).await;
        let _ = link.connection.close(200, ss("bye")).await;
    }
}
