//! The single-process gateway: SQLite and the bus in the database, no
//! broker. The main path end to end, on one port.

use std::time::Duration;

use gw_bus::Message;
use gw_contract::queues;
use gw_tests::stack::{free_port, pdf_text};
use gw_tests::*;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn the_whole_path_runs_in_one_process_without_a_broker() {
    gw_telemetry::init_for_tests();
    let platform = gw_tests::platform::start().await;
    let dir = std::env::temp_dir().join(format!("gw-embedded-{}", uuid::Uuid::new_v4().simple()));
    let db_url = format!("sqlite://{}/gateway.db?mode=rwc", dir.display());
    // The public base URL names the port before the gateway binds it; if
    // another test takes the port in between, try another.
    let mut started = None;
    for _ in 0..3 {
        let port = free_port();
        let (base, listen) = (
            format!("http://127.0.0.1:{port}"),
            format!("127.0.0.1:{port}"),
        );
        let s = settings(
            &TestIds::new(),
            &platform.base_url,
            &[
                ("GW__AMQP__URL", "embedded"),
                ("GW__DATABASE__URL", &db_url),
                ("GW__PUBLIC_BASE_URL", &base),
                ("GW__INGRESS__LISTEN", &listen),
                ("GW__PAYMENT__LISTEN", "127.0.0.1:0"),
                ("GW__PAYMENT__ADMIN_LISTEN", "127.0.0.1:0"),
                ("GW__PAYMENT__SANDBOX", "true"),
                ("GW__ISSUANCE__LISTEN", "127.0.0.1:0"),
                ("GW__UNDERWRITING__ADMIN_LISTEN", "127.0.0.1:0"),
            ],
        );
        let stop = CancellationToken::new();
        if let Ok(g) = gateway::Gateway::start(s.clone(), stop.clone()).await {
            assert_eq!(g.port, port);
            started = Some((g, stop, s, base));
            break;
        }
    }
    let (gateway, stop, s, base) = started.expect("the gateway starts");
    assert!(
        dir.join("gateway.db").exists(),
        "SQLite, created on first start"
    );

    let reply = call(&base, "baohanapply", &samples::baohanapply("TB-EMB")).await;
    assert_eq!(reply["code"], 200, "{reply}");
    let got = platform
        .wait_until(Duration::from_secs(30), |r| {
            r.iter().any(|x| x.reply == "Ok")
        })
        .await;
    assert_eq!(got[0].json["applystatus"], "1");

    // payapply, the cashier and verification share the one public port.
    let reply = call(&base, "payapply", &json!({"applyno": "TB-EMB"})).await;
    let data: Value = serde_json::from_str(&decrypt(reply["data"].as_str().unwrap())).unwrap();
    let premiumurl = data["premiumurl"].as_str().unwrap().to_owned();
    assert!(premiumurl.starts_with(&base));
    let form = [
        ("paytype", "02"),
        ("payname", "湖南建工集团有限公司"),
        ("payaccount", "wx-1"),
        ("paybank", "微信支付"),
        ("paymoney", "300.00"),
    ];
    let r = reqwest::Client::new()
        .post(format!("{premiumurl}/pay"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = platform
        .wait_until(Duration::from_secs(30), |r| {
            r.iter().filter(|x| x.reply == "Ok").count() >= 3
        })
        .await;
    let order: Vec<&str> = got.iter().map(|r| r.interface.as_str()).collect();
    assert_eq!(order, ["processnotice", "paynotice", "baohannotice"]);
    let url = got[2].json["baohanurl"].as_str().unwrap();
    let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let pdf = gw_envelope::Sm4Key::from_appsecret(APPSECRET)
        .unwrap()
        .decrypt_bytes(&body)
        .unwrap();
    assert!(pdf_text(&pdf).contains("湖南建工集团有限公司"));
    let v: Value = reqwest::Client::new()
        .post(format!("{base}/verify/file"))
        .body(pdf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["genuine"], true);

    // A poison message goes to its dead-letter queue here too.
    let (bus, db) = gw_host::connect(&s, "test").await.unwrap();
    let poison = Message::json(
        "inbound.baohanapply",
        1,
        Some("TB-EMB-POISON"),
        &json!({"nonsense": true}),
    )
    .unwrap();
    bus.send(queues::BAOHANAPPLY, &poison).await.unwrap();
    let dlq = bus.topology().dead_letter_queue(queues::BAOHANAPPLY);
    let mut dead = None;
    for _ in 0..100 {
        if let Some(d) = bus.transport().get(&dlq).await.unwrap() {
            dead = Some(d.message().clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead.expect("dead-lettered").id, poison.id);
    db.close().await;

    stop.cancel();
    gateway.wait().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
