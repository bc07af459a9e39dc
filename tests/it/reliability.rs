//! Reliability: nothing accepted is stranded, every failure is visible and
//! replayable. Dead letters kept and replayed on both deployments, notices
//! whose command dies marked dead, consumers that pause while the database
//! is away and resubscribe when their queue goes, outbox rows that park,
//! embedded-bus leases that fence.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use gw_bus::consumer::{self, ConsumerSettings, Consumers, Failure, Handler, Status, Supervision};
use gw_bus::{Message, headers};
use gw_contract::{PaymentConfirmation, queues};
use gw_host::cli::{Command, DlqCommand};
use gw_tests::deploy::{Deployment, Kind};
use gw_tests::proxy::TcpProxy;
use gw_tests::*;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

on_both!(
    a_stranded_message_is_kept_and_replayed,
    a_notice_whose_command_dies_is_marked_dead_and_can_be_resent,
    a_notice_that_dies_during_its_call_stays_dead,
);

/// Waits for the open dead letters of `queue`, through `service`'s admin API.
async fn dead_letters(d: &Deployment, service: &str, queue: &str, n: usize) -> Vec<Value> {
    let url = format!("{}/admin/dead-letters?queue={queue}", d.admin[service]);
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got: Vec<Value> = admin_client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "{n} dead letter(s) of {queue} expected, {} seen",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn confirmation(applyno: &str, paynumber: &str) -> PaymentConfirmation {
    serde_json::from_value(json!({
        "applyno": applyno, "paynumber": paynumber, "paytype": "04", "paymoney": "300.00",
        "paydate": "2026-11-28 09:30:00", "payname": "湖南建工集团有限公司",
        "payaccount": "6222020000001234", "paybank": "中国银行长沙分行", "source": "gateway",
    }))
    .unwrap()
}

/// A bank's serial number (`paynumber`) that comes again for another
/// application is not taken as that application's payment in silence: the
/// confirmation is dead-lettered saying whose number it is, the first
/// application keeps its payment and the second stays unpaid.
#[tokio::test]
async fn a_paynumber_reused_for_another_application_is_dead_lettered() {
    let d = Deployment::start(Kind::Services, &[]).await;
    let (first, second) = ("TB-PN-REUSED-1", "TB-PN-REUSED-2");
    d.approved(first).await;
    d.approved(second).await;
    d.send(&confirmation(first, "PN-REUSED")).await;
    let got = d.wait_delivered(first, 2).await;
    assert_eq!(got[1].interface, "paynotice");
    d.send(&confirmation(second, "PN-REUSED")).await;
    let dead = dead_letters(&d, "payment", queues::PAYMENT_CONFIRMATIONS, 1).await;
    assert_eq!(dead[0]["applyno"], second);
    let error = dead[0]["error"].as_str().unwrap();
    assert!(
        error.contains("paynumber PN-REUSED is already recorded for application TB-PN-REUSED-1"),
        "{error}"
    );
    let paid = gw_storage::payments::find(d.db.conn(), "PN-REUSED")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paid.applyno.as_str(), first);
    let second_app = gw_storage::applications::find(
        d.db.conn(),
        &gw_protocol::ApplyNo::try_from(second).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(second_app.state, gw_lifecycle::State::Approved, "not paid");
    assert_eq!(d.delivered(second).len(), 1, "only its processnotice");
    d.stop().await;
}

/// A bank's confirmation that arrives before its application runs out of
/// attempts and dies: it is kept with why, the operator replays it once the
/// application is there, and the payment takes effect: nothing accepted is
/// lost. The services deployment replays through the admin API, the
/// embedded one through the CLI.
async fn a_stranded_message_is_kept_and_replayed(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    let applyno = "TB-DLQ-1";
    d.send(&confirmation(applyno, "PN-DLQ-1")).await;
    let dead = dead_letters(&d, "payment", queues::PAYMENT_CONFIRMATIONS, 1).await;
    let dl = &dead[0];
    assert_eq!(dl["destination"], "queue:payment.confirmations");
    assert_eq!(dl["applyno"], applyno);
    assert_eq!(
        (dl["deaths"].as_i64(), dl["source"].as_str()),
        (Some(1), Some("consumer"))
    );
    let error = dl["error"].as_str().unwrap();
    assert!(
        error.contains("gave up after 3 attempts") && error.contains("no application TB-DLQ-1"),
        "{error}"
    );
    assert_ne!(
        dl["payload"]["payaccount"], "6222020000001234",
        "the account is masked"
    );
    let id = dl["id"].as_str().unwrap().to_owned();

    // The application arrives and is approved; the confirmation is replayed.
    d.approved(applyno).await;
    let replay = || async {
        admin_client()
            .post(format!(
                "{}/admin/dead-letters/{id}/replay",
                d.admin["payment"]
            ))
            .send()
            .await
            .unwrap()
    };
    match kind {
        Kind::Services => {
            let r = replay().await;
            assert_eq!(r.status(), 200);
        }
        Kind::Embedded => {
            let replay = Command::Dlq {
                command: DlqCommand::Replay {
                    id: Some(id.clone()),
                    all: false,
                    queue: None,
                },
            };
            gw_host::cli::run(d.settings.clone(), replay, &payment::Payment)
                .await
                .unwrap();
        }
    }
    let got = d.wait_delivered(applyno, 3).await;
    assert_eq!(
        got.iter().map(|r| r.interface.as_str()).collect::<Vec<_>>(),
        ["processnotice", "paynotice", "baohannotice"]
    );
    // Replayed once: a second replay is refused; nothing is open any more.
    let again = replay().await;
    assert_eq!(again.status(), 409);
    // One record of the replay, by whoever did it.
    let ops: Vec<Value> = json_of(admin_client().get(format!(
        "{}/admin/operations?action=dead_letter.replayed&subject={id}",
        d.admin["payment"]
    )))
    .await;
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(ops[0]["service"], "payment");
    match kind {
        Kind::Services => assert_eq!(
            (ops[0]["actor"].as_str(), ops[0]["channel"].as_str()),
            (Some("admin"), Some("admin_api"))
        ),
        Kind::Embedded => {
            assert_eq!(ops[0]["channel"], "cli");
            assert!(
                ops[0]["actor"].as_str().unwrap().starts_with("cli:"),
                "{}",
                ops[0]
            );
        }
    }
    let shown: Value = admin_client()
        .get(format!("{}/admin/dead-letters/{id}", d.admin["issuance"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(shown["replayed_at"].is_string(), "{shown}");
    assert!(
        dead_letters(&d, "payment", queues::PAYMENT_CONFIRMATIONS, 0)
            .await
            .is_empty()
    );

    // A poison message dies, is replayed, dies again: one row, two deaths.
    let poison = Message::json("payment.confirmation", 99, Some("TB-DLQ-2"), &json!({})).unwrap();
    d.bus
        .send(queues::PAYMENT_CONFIRMATIONS, &poison)
        .await
        .unwrap();
    let dead = dead_letters(&d, "payment", queues::PAYMENT_CONFIRMATIONS, 1).await;
    assert_eq!(dead[0]["message_id"], poison.id.as_str());
    let r = admin_client()
        .post(format!(
            "{}/admin/dead-letters/replay?queue={}",
            d.admin["payment"],
            queues::PAYMENT_CONFIRMATIONS
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["replayed"], 1);
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let dead = dead_letters(&d, "payment", queues::PAYMENT_CONFIRMATIONS, 0).await;
        if dead.first().is_some_and(|x| x["deaths"] == 2) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "the poison message did not die again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.stop().await;
}

/// A notice command that dies for another reason than the platform's
/// answers (here: dead-lettered as the broker does at its delivery limit)
/// marks its notice dead with the reason, with an event, and an operator
/// can re-send it; the notices behind it follow.
async fn a_notice_whose_command_dies_is_marked_dead_and_can_be_resent(kind: Kind) {
    // The notice's own schedule must not run out first (the tests' 10 s
    // did once, on a loaded machine): then the platform's last answer, not
    // the dead letter, would be why it died.
    let d = Deployment::start(kind, &[("GW__EGRESS__RETRY_FOR", "10m")]).await;
    let applyno = "TB-DEADN-1";
    // The platform refuses everything for now: processnotice keeps retrying.
    d.platform.script(
        applyno,
        std::iter::repeat_n(gw_tests::platform::Reply::Status(503), 10_000),
    );
    d.call_ok("baohanapply", &samples::baohanapply(applyno))
        .await;
    let notice = loop {
        let rows = d.notice_rows(applyno).await;
        if let Some(r) = rows.into_iter().find(|r| r.attempts >= 1) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    kill_command(&d, &notice).await;
    let dead = wait_notice_state(&d.db, &notice.id, "dead", Duration::from_secs(20)).await;
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or("")
            .contains("delivery limit"),
        "{:?}",
        dead.last_error
    );
    d.wait_event("notice.dead_lettered", |e| {
        e.kind == "notice.dead_lettered"
            && e.payload_json().unwrap()["notice_id"] == notice.id.as_str()
    })
    .await;
    // The platform takes notices again; the operator re-sends.
    d.platform.clear_script(applyno);
    let r = operator_client("运维 赵六")
        .post(format!(
            "{}/admin/notices/{}/resend",
            d.admin["egress"], notice.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let op = assert_recorded(&d.admin["egress"], "notice.resent", &notice.id, "运维 赵六").await;
    assert_eq!(
        (
            op["before"]["state"].as_str(),
            op["after"]["state"].as_str()
        ),
        (Some("dead"), Some("pending"))
    );
    let got = d.wait_delivered(applyno, 1).await;
    assert_eq!(got[0].interface, "processnotice");
    d.stop().await;
}

/// Dead-letters `notice`'s command as the broker does at its delivery limit.
async fn kill_command(d: &Deployment, notice: &gw_storage::notices::NoticeRow) {
    let cmd = gw_contract::NoticeCommand {
        notice_id: notice.id.clone(),
        counterpart: notice.counterpart.clone(),
        interface: gw_protocol::Interface::ProcessNotice,
        applyno: notice.applyno.clone(),
        after: notice.after_id.clone(),
        body: serde_json::from_str(&notice.body).unwrap(),
    };
    let (_, mut m) = gw_contract::message(&cmd).unwrap();
    m.headers
        .insert(headers::DEAD_LETTERED_BY.into(), "broker".into());
    m.headers.insert(
        headers::ERROR.into(),
        "the broker's delivery limit was reached".into(),
    );
    d.bus
        .dead_letter(
            queues::NOTICES,
            &m,
            "the broker's delivery limit was reached",
        )
        .await
        .unwrap();
}

/// A notice whose command dies while its HTTP call is under way stays dead
/// when that call fails afterwards: the late failure used to put it back
/// to `retrying`, and its retries went on (here: until the platform took
/// it) while operators had been told it was dead.
async fn a_notice_that_dies_during_its_call_stays_dead(kind: Kind) {
    let d = Deployment::start(
        kind,
        &[
            ("GW__EGRESS__RETRY_FOR", "10m"),
            ("GW__EGRESS__HTTP_TIMEOUT", "5s"),
        ],
    )
    .await;
    let applyno = "TB-DEADN-2";
    // The first call gets no answer within egress's 5 s; the platform
    // takes every later one.
    d.platform.script(
        applyno,
        [gw_tests::platform::Reply::Hang(Duration::from_secs(30))],
    );
    d.call_ok("baohanapply", &samples::baohanapply(applyno))
        .await;
    let notice = loop {
        let rows = d.notice_rows(applyno).await;
        if let Some(r) = rows
            .into_iter()
            .find(|r| r.state == gw_lifecycle::NoticeState::Sending)
        {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    kill_command(&d, &notice).await;
    wait_notice_state(&d.db, &notice.id, "dead", Duration::from_secs(20)).await;
    let attempts = |d: &Deployment| {
        let (conn, id) = (d.db.conn().clone(), notice.id.clone());
        async move { gw_storage::notices::attempts(&conn, &id).await.unwrap() }
    };
    assert!(
        attempts(&d).await.is_empty(),
        "the call ended before the notice died: this test needs it to die within egress's 5 s timeout"
    );
    // The call times out and its failure is recorded...
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    while attempts(&d).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < until,
            "the timed-out attempt was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ... and the notice is still dead, for why it died, and is not sent
    // again (the tests' retry schedule is 1 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let row = gw_storage::notices::find(d.db.conn(), &notice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, gw_lifecycle::NoticeState::Dead);
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or("")
            .contains("delivery limit"),
        "{:?}",
        row.last_error
    );
    assert_eq!(attempts(&d).await.len(), 1);
    assert_eq!(d.platform.received_for(applyno).len(), 1);
    assert!(d.platform.accepted_for(applyno).is_empty());
    d.stop().await;
}

/// Fails with `Unavailable` while `down` is set, as a handler does when the
/// database is away; counts its calls.
struct Flaky {
    down: Arc<std::sync::atomic::AtomicBool>,
    calls: AtomicU32,
    handled: AtomicU32,
    attempts: std::sync::Mutex<Vec<u32>>,
}

#[async_trait]
impl Handler for Flaky {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(Failure::Unavailable(anyhow::anyhow!(
                "the database does not answer"
            )));
        }
        self.attempts.lock().unwrap().push(m.attempt);
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// While a dependency is down the consumer takes nothing new, says it is
/// paused, and spends no attempt of the message in hand, however long the
/// outage lasts (longer here than all its retries would take); it resumes
/// when the probe answers again and the message is handled once, as
/// attempt 1.
#[tokio::test]
async fn an_unavailable_dependency_pauses_the_consumer_and_spends_no_attempt() {
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let handler = Arc::new(Flaky {
        down: down.clone(),
        calls: AtomicU32::new(0),
        handled: AtomicU32::new(0),
        attempts: std::sync::Mutex::new(Vec::new()),
    });
    let consumers = Consumers::default();
    let probe_down = down.clone();
    let probe: consumer::Probe = Arc::new(move || {
        let down = probe_down.load(Ordering::SeqCst);
        Box::pin(async move { if down { Err("down".to_owned()) } else { Ok(()) } })
    });
    let stop = CancellationToken::new();
    let settings =
        ConsumerSettings::new(queues::INVOICEAPPLY, 4, 2, vec![Duration::from_millis(100)]);
    let task = tokio::spawn(consumer::run(
        h.bus.clone(),
        settings,
        handler.clone(),
        stop.clone(),
        Supervision::new(consumers.clone(), probe),
    ));
    for i in 0..3 {
        let m = Message::json("test.flaky", 1, Some(&format!("A{i}")), &json!({})).unwrap();
        h.bus.send(queues::INVOICEAPPLY, &m).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = consumers.snapshot()[queues::INVOICEAPPLY].clone();
    assert!(matches!(status, Status::Paused { .. }), "{status:?}");
    assert!(!consumers.all_consuming());
    // Paused: the first message was tried, the rest were not taken.
    let calls = handler.calls.load(Ordering::SeqCst);
    assert!(calls <= 4, "{calls} calls while paused");
    assert!(
        h.take_dead(queues::INVOICEAPPLY).await.is_none(),
        "nothing dead-lettered"
    );

    down.store(false, Ordering::SeqCst);
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    while handler.handled.load(Ordering::SeqCst) < 3 {
        assert!(tokio::time::Instant::now() < until, "not resumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        consumers.snapshot()[queues::INVOICEAPPLY],
        Status::Consuming
    );
    assert_eq!(
        *handler.attempts.lock().unwrap(),
        vec![1, 1, 1],
        "no attempt spent"
    );
    assert!(h.take_dead(queues::INVOICEAPPLY).await.is_none());
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(consumers.snapshot()[queues::INVOICEAPPLY], Status::Stopped);
    h.cleanup().await;
}

/// The real thing: PostgreSQL goes away (the worker's connections are cut
/// and refused) for longer than every retry of a message takes. The worker
/// pauses (`/readyz` says so), the message waits, and once the database is
/// back the application is underwritten and its notice delivered; nothing
/// is dead-lettered.
#[tokio::test]
async fn a_database_outage_strands_nothing() {
    let ids = TestIds::new();
    let platform = gw_tests::platform::start().await;
    let h = Harness::new(ids.clone(), settings(&ids, &platform.base_url, &[])).await;
    let db = TcpProxy::start("127.0.0.1:5432").await;
    let through_proxy = format!("postgres://postgres@127.0.0.1:{}/test", db.port);
    let direct = settings(&ids, &platform.base_url, &[]);
    let proxied = settings(
        &ids,
        &platform.base_url,
        &[
            ("GW__DATABASE__URL", &through_proxy),
            ("GW__DATABASE__CONNECT_TIMEOUT", "1s"),
        ],
    );
    let ingress = spawn_ingress(direct.clone()).await;
    let egress = spawn(direct.clone(), &egress::Egress).await;
    let underwriting = spawn(proxied, &underwriting::Underwriting).await;
    let ready = format!("{}/readyz", underwriting.address("underwriting.admin"));

    db.stop();
    let reply = call(
        &ingress.address,
        "baohanapply",
        &samples::baohanapply("TB-OUT-1"),
    )
    .await;
    assert_eq!(
        reply["code"], 200,
        "ingress does not need the worker's database: {reply}"
    );
    // Longer than 3 attempts with 1 s and 2 s between them.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let r = reqwest::get(&ready).await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "down");
    assert_eq!(
        body["consumers"][queues::BAOHANAPPLY]["status"],
        "paused",
        "{body}"
    );
    assert!(
        h.take_dead(queues::BAOHANAPPLY).await.is_none(),
        "nothing dead-lettered"
    );
    assert!(platform.received().is_empty());

    db.start_again();
    let got = platform
        .wait_until(Duration::from_secs(30), |r| {
            r.iter().any(|x| x.reply == "Ok")
        })
        .await;
    assert_eq!(got[0].interface, "processnotice");
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let r = reqwest::get(&ready).await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "not ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(h.take_dead(queues::BAOHANAPPLY).await.is_none());
    underwriting.running.stop().await;
    egress.running.stop().await;
    ingress.stop().await;
    h.cleanup().await;
}

struct Counting(AtomicU32);

#[async_trait]
impl Handler for Counting {
    async fn handle(&self, _m: &Message) -> Result<(), Failure> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A consumer whose queue is deleted under it does not die silently: it
/// says it is resubscribing, declares the queue again, and consumes again.
#[tokio::test]
async fn a_consumer_whose_queue_goes_resubscribes() {
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let handler = Arc::new(Counting(AtomicU32::new(0)));
    let sup = Supervision::of_bus(&h.bus);
    let consumers = sup.consumers.clone();
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        h.bus.clone(),
        ConsumerSettings::new(queues::CLAIMAPPLY, 4, 3, vec![Duration::from_millis(100)]),
        handler.clone(),
        stop.clone(),
        sup,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(consumers.snapshot()[queues::CLAIMAPPLY], Status::Consuming);

    // An operator deletes the queue.
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_delete(
        h.topology().queue(queues::CLAIMAPPLY).as_str().into(),
        lapin::options::QueueDeleteOptions::default(),
    )
    .await
    .unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut saw_resubscribing = false;
    loop {
        match consumers.snapshot()[queues::CLAIMAPPLY].clone() {
            Status::Resubscribing { .. } => saw_resubscribing = true,
            Status::Consuming if saw_resubscribing => break,
            _ => {}
        }
        assert!(tokio::time::Instant::now() < until, "did not resubscribe");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let m = Message::json("test.after", 1, None, &json!({})).unwrap();
    h.bus.send(queues::CLAIMAPPLY, &m).await.unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while handler.0.load(Ordering::SeqCst) < 1 {
        assert!(
            tokio::time::Instant::now() < until,
            "nothing consumed after resubscribing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = conn.close(200, "bye".into()).await;
    stop.cancel();
    task.await.unwrap().unwrap();
    h.cleanup().await;
}

/// An outbox row the broker keeps refusing (unroutable) is parked as a dead
/// letter after a few tries; the rows behind it are published.
#[tokio::test]
async fn an_outbox_row_that_keeps_failing_is_parked_and_the_rest_go() {
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let bad = Message::json("test.bad", 1, Some("TB-OB-1"), &json!({"n": 1})).unwrap();
    let good = Message::json("test.good", 1, Some("TB-OB-2"), &json!({"n": 2})).unwrap();
    {
        use gw_storage::sea_orm::TransactionTrait;
        let txn = h.db.conn().begin().await.unwrap();
        gw_bus_sql::outbox::add(
            &txn,
            &gw_bus::Destination::Queue("nowhere.at.all".into()),
            &bad,
        )
        .await
        .unwrap();
        gw_bus_sql::outbox::add(
            &txn,
            &gw_bus::Destination::Queue(queues::INVOICEAPPLY.into()),
            &good,
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
    let relay = gw_bus_sql::Relay::new(h.db.clone(), h.bus.clone());
    for _ in 0..gw_bus_sql::outbox::PARK_AFTER {
        relay.publish_batch().await.unwrap();
    }
    relay.publish_batch().await.unwrap();
    let got = h
        .wait_take(queues::INVOICEAPPLY, Duration::from_secs(5))
        .await
        .expect("the row behind it");
    assert_eq!(got.id, good.id);
    let dead = gw_storage::dead_letters::list(h.db.conn(), &Default::default())
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].destination.as_str(),
            dead[0].source.as_str(),
            dead[0].message_id.as_str()
        ),
        ("queue:nowhere.at.all", "outbox", bad.id.as_str())
    );
    assert!(
        dead[0].error.contains("after 5 attempts"),
        "{}",
        dead[0].error
    );
    assert_eq!(
        gw_bus_sql::outbox::pending_count(h.db.conn())
            .await
            .unwrap(),
        0
    );
    h.cleanup().await;
}

/// Writes `n` outbox rows for the `invoiceapply` queue in one committed
/// transaction; their message ids, in order.
async fn write_invoiceapply_rows(db: &gw_storage::Db, n: usize) -> Vec<String> {
    use gw_storage::sea_orm::TransactionTrait;
    let txn = db.conn().begin().await.unwrap();
    let mut sent = Vec::new();
    for i in 0..n {
        let m = Message::json("test.relay", 1, Some("TB-RL"), &json!({"n": i})).unwrap();
        gw_bus_sql::outbox::add(
            &txn,
            &gw_bus::Destination::Queue(queues::INVOICEAPPLY.into()),
            &m,
        )
        .await
        .unwrap();
        sent.push(m.id);
    }
    txn.commit().await.unwrap();
    sent
}

/// A running relay publishes on a wake-up, not at its idle poll: after a
/// full batch it goes on at once (250 rows leave on one wake-up), and after
/// a partial one it waits for the next commit's wake-up, which sends the
/// next row at once.
#[tokio::test]
async fn a_running_relay_publishes_on_wake_ups_whole_and_at_once() {
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let write = |n: usize| write_invoiceapply_rows(&h.db, n);
    // An idle poll this test never reaches: only wake-ups publish.
    let relay = gw_bus_sql::Relay::new(h.db.clone(), h.bus.clone()).idle(Duration::from_secs(3600));
    let waker = relay.waker();
    let stop = CancellationToken::new();
    let task = tokio::spawn(relay.run(stop.clone()));
    // Its first look finds nothing; then it waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let take_all = |sent: Vec<String>| {
        let h = &h;
        async move {
            let mut got = Vec::new();
            while got.len() < sent.len() {
                let m = h
                    .wait_take(queues::INVOICEAPPLY, Duration::from_secs(5))
                    .await
                    .expect("published on the wake-up, not at the idle poll");
                got.push(m.id);
            }
            assert_eq!(got, sent, "each once, in order");
        }
    };
    // More than a batch, one wake-up.
    let sent = write(250).await;
    waker.wake();
    take_all(sent).await;
    // Then one row at a time, each with its commit's wake-up.
    for _ in 0..3 {
        let sent = write(1).await;
        waker.wake();
        take_all(sent).await;
    }
    assert!(h.take(queues::INVOICEAPPLY).await.is_none(), "nothing more");
    stop.cancel();
    task.await.unwrap();
    h.cleanup().await;
}

/// On PostgreSQL a relay's batch is the row locks of its transaction:
/// another relay skips the rows while they are being published, and a
/// relay that dies (its transaction never commits) lets go of them at once,
/// not when a claim would have run out. Two relays racing over many rows
/// publish each exactly once.
#[tokio::test]
async fn postgres_relays_share_rows_and_a_dead_one_lets_go_at_once() {
    use gw_storage::entities::outbox as rows;
    use gw_storage::sea_orm::{
        ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
    };
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let write = |n: usize| write_invoiceapply_rows(&h.db, n);

    // A relay that took three rows and died before committing.
    let sent = write(3).await;
    let dying = h.db.conn().begin().await.unwrap();
    let held = rows::Entity::find()
        .filter(rows::Column::PublishedAt.is_null())
        .lock_exclusive()
        .all(&dying)
        .await
        .unwrap();
    assert_eq!(held.len(), 3);
    let relay = gw_bus_sql::Relay::new(h.db.clone(), h.bus.clone());
    assert_eq!(
        relay.publish_batch().await.unwrap(),
        0,
        "locked rows are skipped"
    );
    assert!(h.take(queues::INVOICEAPPLY).await.is_none());
    drop(dying); // its connection gives the rows back
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        relay.publish_batch().await.unwrap(),
        3,
        "at once, no claim to wait out"
    );
    for id in &sent {
        let got = h
            .wait_take(queues::INVOICEAPPLY, Duration::from_secs(5))
            .await
            .expect("published");
        assert_eq!(&got.id, id, "in order");
    }

    // Two relays racing over 600 rows: each published once.
    let sent = write(600).await;
    let (a, b) = (
        relay.clone(),
        gw_bus_sql::Relay::new(h.db.clone(), h.bus.clone()),
    );
    let drain = |r: gw_bus_sql::Relay| async move {
        let mut n = 0;
        loop {
            match r.publish_batch().await.unwrap() {
                0 => return n,
                k => n += k,
            }
        }
    };
    let (na, nb) = tokio::join!(drain(a), drain(b));
    assert_eq!(na + nb, 600);
    let mut got = std::collections::BTreeSet::new();
    while got.len() < 600 {
        let m = h
            .wait_take(queues::INVOICEAPPLY, Duration::from_secs(5))
            .await
            .expect("every row published");
        assert!(got.insert(m.id), "a row published twice");
    }
    assert!(h.take(queues::INVOICEAPPLY).await.is_none(), "nothing more");
    assert_eq!(got, sent.into_iter().collect());
    assert_eq!(
        gw_bus_sql::outbox::pending_count(h.db.conn())
            .await
            .unwrap(),
        0
    );
    // No claim was written: one write per row (the mark), and no claim a
    // dead relay would leave behind.
    let claimed = rows::Entity::find()
        .filter(rows::Column::ClaimedUntil.is_not_null())
        .all(h.db.conn())
        .await
        .unwrap();
    assert!(claimed.is_empty(), "{} rows carry a claim", claimed.len());
    h.cleanup().await;
}

/// The embedded bus: a long handler keeps its message (the lease is
/// renewed), and a consumer whose lease was taken over can neither ack nor
/// requeue the message it no longer holds.
#[tokio::test]
async fn embedded_leases_are_renewed_and_fence_their_holder() {
    let (dir, db, t) = embedded_bus(Duration::from_millis(600)).await;
    use gw_bus::Transport;
    let m = Message::json("test.lease", 1, None, &json!({})).unwrap();
    t.publish(&gw_bus::Destination::Queue("q".into()), &m)
        .await
        .unwrap();
    let held = t.get("q").await.unwrap().expect("the message");
    // Three leases later it is still held: renewed, not delivered again.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(t.get("q").await.unwrap().is_none(), "renewed while in hand");

    // Another consumer takes it over (as after a lease that ran out).
    sql(&db, "UPDATE bus_messages SET lease = 'someone-else'").await;
    assert!(
        held.ack().await.is_err(),
        "an ack without the lease is refused"
    );
    assert!(held.requeue().await.is_ok());
    use gw_storage::sea_orm::EntityTrait;
    let rows = gw_storage::entities::bus_messages::Entity::find()
        .all(db.conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the message is still there");
    assert_eq!(
        rows[0].lease.as_deref(),
        Some("someone-else"),
        "and still the other's"
    );
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// An embedded bus on a fresh SQLite file (its directory, the database,
/// the transport), its leases of `lease`.
async fn embedded_bus(
    lease: Duration,
) -> (
    std::path::PathBuf,
    gw_storage::Db,
    gw_bus_sql::EmbeddedTransport,
) {
    embedded_bus_polling(lease, Duration::from_millis(250)).await
}

/// [`embedded_bus`] whose idle consumers look at their queue every `poll`.
async fn embedded_bus_polling(
    lease: Duration,
    poll: Duration,
) -> (
    std::path::PathBuf,
    gw_storage::Db,
    gw_bus_sql::EmbeddedTransport,
) {
    let dir = std::env::temp_dir().join(format!("gw-bus-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = gw_tests::sqlite_db(&dir.join("bus.db"), 1).await;
    let topology = gw_bus::Topology::new("t", [Duration::from_secs(1)]);
    let t = gw_bus_sql::EmbeddedTransport::with_timing(db.clone(), &topology, lease, poll);
    (dir, db, t)
}

/// A consumer whose claim took fewer messages than it asked for found its
/// queue drained: it does not ask the database again until something is
/// written to the queue (or its poll), where it asked again at once and
/// found nothing, for about every message delivered. A row that appears
/// without a wake-up (here moved into the queue behind the bus's back, as
/// a retry tier's row becomes visible) waits for the poll; a publish
/// wakes the consumer, which then takes both, oldest first.
#[tokio::test]
async fn embedded_bus_a_drained_queue_waits_for_a_write() {
    use gw_bus::Transport;
    use gw_storage::entities::bus_messages;
    use gw_storage::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    // A poll far beyond the test: only a wake-up makes the consumer look.
    let (dir, db, t) =
        embedded_bus_polling(Duration::from_secs(60), Duration::from_secs(3600)).await;
    let q = gw_bus::Destination::Queue("q".into());
    let publish = |i: i32| {
        let t = t.clone();
        let q = q.clone();
        async move {
            let m = Message::json("test.drained", 1, None, &json!({ "i": i })).unwrap();
            t.publish(&q, &m).await.unwrap();
            m.id
        }
    };
    let (first, second) = (publish(1).await, publish(2).await);
    let mut sub = t.subscribe("q", 4).await.unwrap();
    let got = [sub.next().await.unwrap(), sub.next().await.unwrap()];
    assert_eq!(
        [got[0].message().id.as_str(), got[1].message().id.as_str()],
        [first.as_str(), second.as_str()],
        "one claim took both"
    );

    // A message reaches the queue without a wake-up.
    let m = Message::json("test.drained", 1, None, &json!({ "i": 3 })).unwrap();
    t.publish(&gw_bus::Destination::Queue("elsewhere".into()), &m)
        .await
        .unwrap();
    sql(
        &db,
        "UPDATE bus_messages SET queue = 'q' WHERE queue = 'elsewhere'",
    )
    .await;
    let waiting = tokio::spawn(async move {
        let d = sub.next().await.unwrap();
        (d.message().id.clone(), sub, d)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let unclaimed = bus_messages::Entity::find()
        .filter(bus_messages::Column::MessageId.eq(m.id.clone()))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    assert!(
        unclaimed.lease.is_none() && unclaimed.deliveries == 0,
        "the drained consumer looked again without a wake-up: {unclaimed:?}"
    );
    assert!(!waiting.is_finished(), "nothing was handed out");

    // A publish wakes it: the older row first, then the new one.
    let fourth = publish(4).await;
    let (id, mut sub, third) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("a publish wakes the consumer")
        .unwrap();
    assert_eq!(id, m.id);
    let next = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("the new message was claimed with the older one")
        .unwrap();
    assert_eq!(next.message().id, fourth);
    for d in got.iter().chain([&third, &next]) {
        d.ack().await.unwrap();
    }
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The embedded bus claims a queue's messages in batches (oldest first,
/// each leased once), dead-letters a row past the delivery limit instead of
/// delivering it, gives back what a cancelled subscription had not handed
/// out, and writes acks that arrive together in one statement, each told
/// whether it still held its message.
#[tokio::test]
async fn embedded_bus_claims_in_batches_and_acks_together() {
    use gw_bus::Transport;
    use gw_storage::entities::bus_messages;
    use gw_storage::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let (dir, db, t) = embedded_bus(Duration::from_secs(60)).await;
    let q = gw_bus::Destination::Queue("q".into());
    let mut ids = Vec::new();
    for i in 0..12 {
        let m = Message::json("test.batch", 1, None, &json!({ "i": i })).unwrap();
        ids.push(m.id.clone());
        t.publish(&q, &m).await.unwrap();
    }
    // One row has died with its consumers ten times already.
    sql(
        &db,
        &format!(
            "UPDATE bus_messages SET deliveries = 10 WHERE message_id = '{}'",
            ids[1]
        ),
    )
    .await;

    let mut sub = t.subscribe("q", 5).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(sub.next().await.unwrap());
    }
    // The first claim took five rows; the poisoned one went to the dead
    // letters, the other four are handed out in order.
    let order: Vec<&str> = got.iter().map(|d| d.message().id.as_str()).collect();
    assert_eq!(order, [&ids[0], &ids[2], &ids[3], &ids[4]]);
    let rows = bus_messages::Entity::find().all(db.conn()).await.unwrap();
    let leased = rows.iter().filter(|r| r.lease.is_some()).count();
    assert_eq!(leased, 4, "only the batch is leased");
    assert!(
        rows.iter()
            .filter(|r| r.lease.is_some())
            .all(|r| r.deliveries == 1),
        "each claimed once"
    );
    let dead: Vec<_> = rows.iter().filter(|r| r.queue == "q.dlq").collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, ids[1]);
    assert!(
        dead[0].headers["x-error"]
            .as_str()
            .unwrap()
            .contains("delivery limit")
    );

    // The next claim takes the following five; cancelling gives back the
    // four not handed out, at once.
    let fifth = sub.next().await.unwrap();
    assert_eq!(fifth.message().id, ids[5]);
    sub.cancel().await.unwrap();
    let held = bus_messages::Entity::find()
        .filter(bus_messages::Column::Lease.is_not_null())
        .all(db.conn())
        .await
        .unwrap();
    assert_eq!(held.len(), 5, "the four handed out and the fifth");

    // Five acks at once, one of them for a message another consumer took
    // meanwhile: four rows go, the fifth is refused and stays.
    sql(
        &db,
        &format!(
            "UPDATE bus_messages SET lease = 'someone-else' WHERE message_id = '{}'",
            ids[3]
        ),
    )
    .await;
    got.push(fifth);
    let acks = futures::future::join_all(got.iter().map(|d| d.ack())).await;
    let refused: Vec<usize> = (0..acks.len()).filter(|&i| acks[i].is_err()).collect();
    assert_eq!(refused, [2], "only the ack of the lost message: {acks:?}");
    let left: Vec<String> = bus_messages::Entity::find()
        .filter(bus_messages::Column::Queue.eq("q"))
        .order_by_asc(bus_messages::Column::Id)
        .all(db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.message_id)
        .collect();
    let mut expected = vec![ids[3].clone()];
    expected.extend(ids[6..].iter().cloned());
    assert_eq!(left, expected);

    // A handler's transaction settles its message: rolled back, the row
    // stays; committed, it is gone and the consumer's ack after it is
    // content. The receipt that allows it is never written to the bus.
    use gw_storage::sea_orm::TransactionTrait;
    let d = t.get("q").await.unwrap().expect("a message");
    assert_eq!(d.message().id, ids[6]);
    let receipt = d.message().header(headers::RECEIPT).expect("a receipt");
    assert!(receipt.starts_with(&format!("{}:", left_row_id(&db, &ids[6]).await)));
    let txn = db.conn().begin().await.unwrap();
    let settled = t.settle(&txn, d.message()).await.unwrap();
    assert!(settled.is_some());
    txn.rollback().await.unwrap();
    assert!(
        left_row_id(&db, &ids[6]).await > 0,
        "rolled back: still there"
    );
    let txn = db.conn().begin().await.unwrap();
    let settled = t.settle(&txn, d.message()).await.unwrap();
    assert!(settled.is_some());
    txn.commit().await.unwrap();
    assert_eq!(left_row_id(&db, &ids[6]).await, 0, "committed: gone");
    d.ack()
        .await
        .expect("the ack of a settled message is content");
    let plain = Message::json("test.batch", 1, None, &json!({})).unwrap();
    assert!(
        t.settle(db.conn(), &plain).await.unwrap().is_none(),
        "nothing to settle without a receipt"
    );
    t.publish(&gw_bus::Destination::Queue("r".into()), d.message())
        .await
        .unwrap();
    let copy = bus_messages::Entity::find()
        .filter(bus_messages::Column::Queue.eq("r"))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    assert!(
        copy.headers.get(headers::RECEIPT).is_none(),
        "{}",
        copy.headers
    );

    // Told that the settling transaction committed, the bus answers the
    // consumer's ack without a statement: it succeeds on a closed database.
    let d = t.get("q").await.unwrap().expect("a message");
    let txn = db.conn().begin().await.unwrap();
    let settled = t
        .settle(&txn, d.message())
        .await
        .unwrap()
        .expect("its row deleted");
    txn.commit().await.unwrap();
    t.settled(settled);
    db.close().await;
    d.ack()
        .await
        .expect("the ack of a message settled and committed needs no database");
    let _ = std::fs::remove_dir_all(dir);
}

/// The row id of message `id` on the embedded bus, 0 when it is gone.
async fn left_row_id(db: &gw_storage::Db, id: &str) -> i64 {
    use gw_storage::entities::bus_messages;
    use gw_storage::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    bus_messages::Entity::find()
        .filter(bus_messages::Column::MessageId.eq(id))
        .one(db.conn())
        .await
        .unwrap()
        .map_or(0, |r| r.id)
}

/// Runs one statement on `db` (a test's way to stage a row).
async fn sql(db: &gw_storage::Db, statement: &str) {
    use gw_storage::sea_orm::{ConnectionTrait, Statement};
    db.conn()
        .execute_raw(Statement::from_string(db.backend(), statement))
        .await
        .unwrap();
}
