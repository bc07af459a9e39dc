//! The bus on the real RabbitMQ: dead-lettering, retry tiers, the delivery
//! limit, graceful shutdown and trace propagation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gw_bus::consumer::{self, ConsumerSettings, Failure, Handler};
use gw_bus::{BusError, Destination, Message};
use gw_contract::InboundEnvelope;
use gw_contract::queues;
use gw_protocol::BaohanApply;
use gw_tests::*;
use tokio_util::sync::CancellationToken;

/// The bus tests run on quorum queues: they test the delivery limit,
/// dead-lettering and retry tiers as deployed.
async fn harness() -> Harness {
    let ids = TestIds::new();
    let s = settings(&ids, "http://127.0.0.1:9", &[QUORUM]);
    Harness::new(ids, s).await
}

fn consumer_settings(queue: &str) -> ConsumerSettings {
    ConsumerSettings::new(
        queue,
        4,
        3,
        vec![Duration::from_secs(1), Duration::from_secs(2)],
    )
}

/// Reads a `baohanapply` envelope; anything unreadable is poison.
struct ReadsApplications {
    seen: AtomicU32,
}

#[async_trait]
impl Handler for ReadsApplications {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        let _: InboundEnvelope<BaohanApply> = m.decode().map_err(Failure::permanent)?;
        self.seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_poison_message_ends_up_in_the_dead_letter_queue() {
    let h = harness().await;
    let poison = Message::json(
        "inbound.baohanapply",
        1,
        Some("TB-POISON"),
        &serde_json::json!({"not": "an application"}),
    )
    .unwrap();
    h.bus.send(queues::BAOHANAPPLY, &poison).await.unwrap();

    let handler = Arc::new(ReadsApplications {
        seen: AtomicU32::new(0),
    });
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        h.bus.clone(),
        consumer_settings(queues::BAOHANAPPLY),
        handler.clone(),
        stop.clone(),
        gw_bus::Supervision::of_bus(&h.bus),
    ));

    let dead = h
        .wait_dead(queues::BAOHANAPPLY, Duration::from_secs(10))
        .await
        .expect("dead-lettered");
    assert_eq!(dead.id, poison.id);
    assert_eq!(dead.payload, poison.payload);
    assert_eq!(
        dead.header(gw_bus::headers::FAILED_QUEUE),
        Some(queues::BAOHANAPPLY)
    );
    assert!(
        dead.header(gw_bus::headers::ERROR)
            .unwrap()
            .contains("unreadable payload")
    );
    assert_eq!(handler.seen.load(Ordering::SeqCst), 0);
    stop.cancel();
    task.await.unwrap().unwrap();
    assert!(
        h.take(queues::BAOHANAPPLY).await.is_none(),
        "acked, not requeued"
    );
    h.cleanup().await;
}

struct FailsFirst {
    failures: u32,
    calls: AtomicU32,
    attempts: std::sync::Mutex<Vec<(u32, Instant)>>,
}

#[async_trait]
impl Handler for FailsFirst {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        self.attempts
            .lock()
            .unwrap()
            .push((m.attempt, Instant::now()));
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.failures {
            Err(Failure::transient(anyhow::anyhow!("database hiccup #{n}")))
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn transient_failures_wait_in_retry_tiers_then_succeed() {
    let h = harness().await;
    let handler = Arc::new(FailsFirst {
        failures: 2,
        calls: AtomicU32::new(0),
        attempts: Default::default(),
    });
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        h.bus.clone(),
        consumer_settings(queues::CLAIMAPPLY),
        handler.clone(),
        stop.clone(),
        gw_bus::Supervision::of_bus(&h.bus),
    ));
    let m = Message::json("test.retry", 1, Some("TB-RETRY"), &serde_json::json!({})).unwrap();
    h.bus.send(queues::CLAIMAPPLY, &m).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(15);
    while handler.calls.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts = handler.attempts.lock().unwrap().clone();
    assert_eq!(
        attempts.iter().map(|a| a.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // Tier 1 s (jitter may shave up to 20 %), then tier 2 s.
    let first_wait = attempts[1].1 - attempts[0].1;
    let second_wait = attempts[2].1 - attempts[1].1;
    assert!(first_wait >= Duration::from_millis(750), "{first_wait:?}");
    assert!(
        second_wait >= Duration::from_millis(1550),
        "{second_wait:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.take_dead(queues::CLAIMAPPLY).await.is_none());
    stop.cancel();
    task.await.unwrap().unwrap();
    h.cleanup().await;
}

#[tokio::test]
async fn exhausted_retries_are_dead_lettered_with_the_last_error() {
    let h = harness().await;
    let handler = Arc::new(FailsFirst {
        failures: u32::MAX,
        calls: AtomicU32::new(0),
        attempts: Default::default(),
    });
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        h.bus.clone(),
        consumer_settings(queues::QUITAPPLY),
        handler.clone(),
        stop.clone(),
        gw_bus::Supervision::of_bus(&h.bus),
    ));
    let m = Message::json("test.retry", 1, Some("TB-GIVEUP"), &serde_json::json!({})).unwrap();
    h.bus.send(queues::QUITAPPLY, &m).await.unwrap();

    let dead = h
        .wait_dead(queues::QUITAPPLY, Duration::from_secs(20))
        .await
        .expect("dead-lettered");
    assert_eq!(dead.id, m.id);
    assert_eq!(dead.attempt, 3);
    let err = dead.header(gw_bus::headers::ERROR).unwrap();
    assert!(
        err.contains("gave up after 3 attempts") && err.contains("database hiccup #3"),
        "{err}"
    );
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3);
    stop.cancel();
    task.await.unwrap().unwrap();
    h.cleanup().await;
}

#[tokio::test]
async fn a_message_that_keeps_coming_back_is_stopped_by_the_delivery_limit() {
    let h = harness().await;
    let m = Message::json("test.crashloop", 1, None, &serde_json::json!({})).unwrap();
    h.bus.send(queues::LOGOUTAPPLY, &m).await.unwrap();
    // A consumer that dies holding the message, again and again.
    let full = h.topology().queue(queues::LOGOUTAPPLY);
    let mut returned = 0;
    let mut dead = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match h.bus.transport().get(&full).await.unwrap() {
            Some(d) => {
                d.requeue().await.unwrap();
                returned += 1;
            }
            None => {
                dead = h.take_dead(queues::LOGOUTAPPLY).await;
                if dead.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(returned >= 10, "requeued {returned} times");
    assert!(
        returned <= 12,
        "the broker stopped the loop after its limit; it went on {returned} times"
    );
    assert!(h.take(queues::LOGOUTAPPLY).await.is_none());
    // The dead letter says the broker killed it, and why.
    let dead = dead.expect("dead-lettered");
    assert_eq!(
        dead.header(gw_bus::headers::DEAD_LETTERED_BY),
        Some("broker")
    );
    assert!(
        dead.header(gw_bus::headers::ERROR)
            .unwrap_or("")
            .contains("delivery limit"),
        "{:?}",
        dead.headers
    );
    assert_eq!(
        dead.header(gw_bus::headers::FAILED_QUEUE),
        Some(full.as_str())
    );
    h.cleanup().await;
}

struct Slow {
    started: tokio::sync::Notify,
    finished: AtomicU32,
}

#[async_trait]
impl Handler for Slow {
    async fn handle(&self, _m: &Message) -> Result<(), Failure> {
        self.started.notify_one();
        tokio::time::sleep(Duration::from_millis(800)).await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn shutdown_finishes_in_flight_work_and_acks_it() {
    let h = harness().await;
    let handler = Arc::new(Slow {
        started: tokio::sync::Notify::new(),
        finished: AtomicU32::new(0),
    });
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        h.bus.clone(),
        consumer_settings(queues::INVOICEAPPLY),
        handler.clone(),
        stop.clone(),
        gw_bus::Supervision::of_bus(&h.bus),
    ));
    let m = Message::json("test.slow", 1, None, &serde_json::json!({})).unwrap();
    h.bus.send(queues::INVOICEAPPLY, &m).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), handler.started.notified())
        .await
        .expect("handler started");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        handler.finished.load(Ordering::SeqCst),
        1,
        "in-flight work finished before exit"
    );
    // Acknowledged: nothing comes back, even after the channel closed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.take(queues::INVOICEAPPLY).await.is_none());
    h.cleanup().await;
}

#[tokio::test]
async fn an_unroutable_publish_is_an_error_and_the_trace_travels() {
    let h = harness().await;
    let m = Message::json("test.unroutable", 1, None, &serde_json::json!({})).unwrap();
    let err = h
        .bus
        .publish(&Destination::Queue("no.such.queue".into()), &m)
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Unroutable(_)), "{err:?}");

    use tracing::Instrument;
    let span = tracing::info_span!("producer");
    let (sent, trace_id) = async {
        let m = Message::json("test.trace", 1, None, &serde_json::json!({})).unwrap();
        (m, gw_telemetry::current_trace_id().unwrap())
    }
    .instrument(span)
    .await;
    h.bus.send(queues::PAYAPPLY, &sent).await.unwrap();
    let got = h
        .wait_take(queues::PAYAPPLY, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        gw_telemetry::trace_id_of(got.header("traceparent").unwrap()),
        Some(trace_id.as_str())
    );
    h.cleanup().await;
}

/// Records the ids of the messages it handles.
#[derive(Default)]
struct Records {
    ids: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl Handler for Records {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        self.ids.lock().unwrap().push(m.id.clone());
        Ok(())
    }
}

/// lapin's own recovery can hang for good (amqp-rs/lapin#450; seen here as a
/// service whose channel said "Reconnecting" for minutes after the broker's
/// connections were cut). The case made on purpose: the broker's address
/// swallows the recovery's handshake, then comes back. The transport gives up
/// on that connection after `recovery_deadline`, opens a new one, and its
/// consumers carry on there.
#[tokio::test]
async fn a_connection_stuck_in_recovery_is_replaced_and_consumers_carry_on() {
    let h = harness().await;
    let proxy = gw_tests::proxy::TcpProxy::start("127.0.0.1:5672").await;
    let options = gw_bus::amqp::AmqpOptions {
        url: amqp_url().replace("127.0.0.1:5672", &format!("127.0.0.1:{}", proxy.port)),
        connection_name: "stuck-recovery".into(),
        connect_timeout: Duration::from_secs(5),
        recovery_deadline: Duration::from_secs(3),
        frame_max: 16384,
    };
    let topology = h.bus.topology().clone();
    let transport = gw_bus::amqp::AmqpTransport::connect(&options, topology.clone())
        .await
        .unwrap();
    let bus = gw_bus::Bus::new(Arc::new(transport), topology, Duration::from_secs(5));
    let handler = Arc::new(Records::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        bus.clone(),
        consumer_settings(queues::INVOICEAPPLY),
        handler.clone(),
        stop.clone(),
        gw_bus::Supervision::of_bus(&bus),
    ));
    let handled = |id: String| {
        let handler = handler.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(45);
            while Instant::now() < deadline {
                if handler.ids.lock().unwrap().contains(&id) {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    let before = Message::json("test.before", 1, None, &serde_json::json!({})).unwrap();
    bus.send(queues::INVOICEAPPLY, &before).await.unwrap();
    assert!(handled(before.id.clone()).await, "consumed before the cut");

    proxy.black_hole();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(bus.check().await.is_err(), "the connection is down");
    proxy.start_again();

    let after = Message::json("test.after", 1, None, &serde_json::json!({})).unwrap();
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut sent = false;
    while Instant::now() < deadline {
        if bus.send(queues::INVOICEAPPLY, &after).await.is_ok() {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(sent, "publishing works again within 45 s");
    assert!(bus.check().await.is_ok(), "healthy again");
    assert!(
        handled(after.id.clone()).await,
        "the consumer took a message published after the recovery"
    );
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    bus.close().await;
    h.cleanup().await;
}

/// The connection asks the broker for `amqp.frame_max` instead of taking
/// RabbitMQ's 128 KiB (lapin keeps 32 frames of zeroed buffer each way per
/// connection: 8 MB resident at 128 KiB), as the broker itself reports; a
/// message several frames long still arrives whole.
#[tokio::test]
async fn the_connection_asks_for_its_frame_max_and_larger_messages_arrive_whole() {
    let h = harness().await;
    let name = format!("frame-max-{}", h.ids.prefix);
    let options = gw_bus::amqp::AmqpOptions {
        url: amqp_url(),
        connection_name: name.clone(),
        connect_timeout: Duration::from_secs(5),
        recovery_deadline: Duration::from_secs(15),
        frame_max: 8192,
    };
    let topology = h.bus.topology().clone();
    let transport = gw_bus::amqp::AmqpTransport::connect(&options, topology.clone())
        .await
        .unwrap();
    let listed = std::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "list_connections",
            "--no-table-headers",
            "client_properties",
            "frame_max",
        ])
        .output()
        .expect("rabbitmqctl (RabbitMQ's own tool) lists the broker's connections");
    let listed = String::from_utf8_lossy(&listed.stdout);
    // A line per connection: its client properties (with the connection's
    // name), a tab, its frame_max.
    let frame_max = listed
        .lines()
        .find(|l| l.contains(name.as_str()))
        .and_then(|l| l.rsplit('\t').next())
        .map(str::trim);
    assert_eq!(frame_max, Some("8192"), "{listed}");

    let bus = gw_bus::Bus::new(Arc::new(transport), topology, Duration::from_secs(5));
    let text = "保函".repeat(7000);
    let big = Message::json("test.big", 1, None, &serde_json::json!({ "text": text })).unwrap();
    assert!(big.payload.len() > 5 * 8192, "{} bytes", big.payload.len());
    bus.send(queues::INVOICEAPPLY, &big).await.unwrap();
    let got = h
        .wait_take(queues::INVOICEAPPLY, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got.id, big.id);
    assert_eq!(got.payload, big.payload);
    bus.close().await;
    h.cleanup().await;
}
