//! ingress: the 8 inbound paths end to end, every refusal, and a broker outage.

use std::time::Duration;

use gw_contract::InboundEnvelope;
use gw_contract::queues;
use gw_protocol::Interface;
use gw_tests::proxy::TcpProxy;
use gw_tests::*;
use serde_json::{Value, json};

async fn setup(extra: &[(&str, &str)]) -> (Harness, Running) {
    let ids = TestIds::new();
    let s = settings(&ids, "http://127.0.0.1:9", extra);
    let h = Harness::new(ids, s.clone()).await;
    let app = spawn_ingress(s).await;
    (h, app)
}

/// Seeds an approved application, as underwriting would leave it.
async fn seed_approved(h: &Harness, applyno: &str, state: &str) {
    seed(h, applyno, state, None).await
}

/// Seeds an application in `state`, with its guarantee number once issued.
async fn seed(h: &Harness, applyno: &str, state: &str, baohanno: Option<&str>) {
    let state = state.parse().unwrap();
    seed_application(&h.db, applyno, state, baohanno, chrono::Utc::now()).await;
}

async fn assert_nothing_published(h: &Harness) {
    for q in queues::ALL {
        assert!(h.take(q).await.is_none(), "something was published to {q}");
    }
}

#[tokio::test]
async fn each_inbound_path_is_published_to_its_queue_with_trace_headers() {
    let (h, app) = setup(&[]).await;
    seed_approved(&h, "TB-PAY-1", "approved").await;
    for (n, i) in Interface::INBOUND.into_iter().enumerate() {
        let applyno = if i == Interface::PayApply {
            "TB-PAY-1".to_owned()
        } else {
            format!("TB-{}", i.name())
        };
        let mut request = samples::request(i, &applyno);
        // The requests that name a guarantee are taken only for one issued
        // to this application (the others are refused at once).
        if request.get("baohanno").is_some() {
            let baohanno = format!("BH20251128{n:08}");
            request["baohanno"] = baohanno.clone().into();
            seed(&h, &applyno, "issued", Some(&baohanno)).await;
        }
        let reply = call(&app.address, i.name(), &request).await;
        assert_eq!(reply["code"], 200, "{i}: {reply}");
        assert_eq!(reply["msg"], "成功");

        let queue = queues::for_inbound(i).unwrap();
        let m = h
            .wait_take(queue, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{i}: nothing in {queue}"));
        assert_eq!(m.kind, format!("inbound.{}", i.name()));
        assert_eq!(m.schema_version, 1);
        assert_eq!(m.correlation_id.as_deref(), Some(applyno.as_str()));
        assert_eq!(m.header(gw_bus::headers::COUNTERPART), Some(COUNTERPART));
        let tp = m
            .header("traceparent")
            .unwrap_or_else(|| panic!("{i}: no traceparent"));
        assert!(gw_telemetry::trace_id_of(tp).is_some(), "{tp}");
        assert!(!m.id.is_empty());
        let envelope: InboundEnvelope<Value> = m.decode().unwrap();
        assert_eq!(envelope.counterpart, COUNTERPART);
        assert_eq!(envelope.interface, i);
        assert_eq!(
            envelope.request, request,
            "{i}: the decoded request travels intact"
        );

        if i == Interface::PayApply {
            let data: Value =
                serde_json::from_str(&decrypt(reply["data"].as_str().unwrap())).unwrap();
            assert_eq!(data["premiumstatus"], "0");
            assert_eq!(
                data["premiumurl"],
                "http://127.0.0.1:8081/cashier/tokTB-PAY-1"
            );
        }
    }
    assert_nothing_published(&h).await;
    app.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn the_three_body_forms_are_accepted() {
    let (h, app) = setup(&[]).await;
    let ct = encrypt(&samples::baohanapply("TB-FORMS").to_string());
    for body in [
        ct.to_uppercase(),
        format!("\"{ct}\""),
        json!({"data": ct}).to_string(),
    ] {
        let reply = post_inbound(&app.address, "baohanapply", Some(APPKEY), body).await;
        assert_eq!(reply["code"], 200, "{reply}");
        assert!(
            h.wait_take(queues::BAOHANAPPLY, Duration::from_secs(5))
                .await
                .is_some()
        );
    }
    app.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn bad_requests_get_code_500_naming_the_field_and_publish_nothing() {
    let (h, app) = setup(&[]).await;
    let addr = app.address.as_str();
    let good = samples::baohanapply("TB-BAD");
    let with = |k: &str, v: Value| {
        let mut j = good.clone();
        j[k] = v;
        j
    };
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("biddername");

    let cases: Vec<(&str, Value, &str)> = vec![
        ("a missing field", missing, "biddername 不能为空"),
        (
            "a blank field",
            with("jbrname", json!("  ")),
            "jbrname 不能为空",
        ),
        (
            "an over-long field",
            with("biddername", json!("湘".repeat(201))),
            "biddername 长度不能超过200个字符",
        ),
        (
            "a bad amount",
            with("bzjamount", json!("20万")),
            "bzjamount 不是合法金额",
        ),
        (
            "three decimals",
            with("bzjamount", json!("1.005")),
            "bzjamount 不是合法金额（最多两位小数）",
        ),
        (
            "one fen past the cap (ingress.max_amount, 10亿)",
            with("bzjamount", json!("1000000000.01")),
            "bzjamount 不是合法金额",
        ),
        (
            "28 digits (overflowed a Decimal times 100 before)",
            with("bzjamount", json!("9999999999999999999999999999")),
            "bzjamount 不是合法金额",
        ),
    ];
    for (what, body, expected) in cases {
        let reply = call(addr, "baohanapply", &body).await;
        assert_eq!(reply["code"], 500, "{what}");
        assert_eq!(reply["msg"], expected, "{what}");
    }

    let ct = encrypt(&good.to_string());
    let reply = post_inbound(addr, "baohanapply", Some("no-such-appkey"), ct.clone()).await;
    assert_eq!(
        (reply["code"].as_i64(), reply["msg"].as_str()),
        (Some(500), Some("appkey 无效"))
    );
    let reply = post_inbound(addr, "baohanapply", None, ct.clone()).await;
    assert_eq!(
        (reply["code"].as_i64(), reply["msg"].as_str()),
        (Some(500), Some("缺少 appkey 请求头"))
    );

    let other_key = gw_envelope::Sm4Key::from_appsecret("0000000000000000").unwrap();
    let reply = post_inbound(
        addr,
        "baohanapply",
        Some(APPKEY),
        other_key.encrypt_hex(&good.to_string()),
    )
    .await;
    assert_eq!(reply["code"], 500, "a wrong key");
    assert_eq!(reply["msg"], "报文解密失败（密文格式或密钥不正确）");

    for garbage in [
        "",
        "hello world",
        "zz",
        "{\"data\": 12}",
        "0123456789abcdef",
    ] {
        let reply = post_inbound(addr, "baohanapply", Some(APPKEY), garbage).await;
        assert_eq!(reply["code"], 500, "garbage {garbage:?}");
        assert_eq!(
            reply["msg"], "报文解密失败（密文格式或密钥不正确）",
            "garbage {garbage:?}"
        );
    }
    let reply = post_inbound(addr, "baohanapply", Some(APPKEY), encrypt("[1,2,3]")).await;
    assert_eq!(reply["msg"], "请求报文不是合法的 JSON 对象");

    let reply = call(addr, "payapply", &json!({"applyno": "TB-NOBODY"})).await;
    assert_eq!(
        (reply["code"].as_i64(), reply["msg"].as_str()),
        (Some(500), Some("申请不存在"))
    );
    let reply = call(addr, "processnotice", &json!({})).await;
    assert_eq!(reply["msg"], "接口不存在");

    assert_nothing_published(&h).await;
    app.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn payapply_tells_the_state_of_the_application() {
    let (h, app) = setup(&[]).await;
    for (applyno, state) in [
        ("TB-P-REF", "referred"),
        ("TB-P-REJ", "rejected"),
        ("TB-P-CAN", "cancelled"),
        ("TB-P-PAID", "issued"),
    ] {
        seed_approved(&h, applyno, state).await;
    }
    let address = app.address.clone();
    let ask = |a: &'static str| {
        let address = address.clone();
        async move { call(&address, "payapply", &json!({"applyno": a})).await }
    };
    assert_eq!(ask("TB-P-REF").await["msg"], "申请正在审核中，暂不能支付");
    assert_eq!(ask("TB-P-REJ").await["msg"], "申请未通过审核，不能支付");
    assert_eq!(ask("TB-P-CAN").await["msg"], "申请已取消");
    let paid = ask("TB-P-PAID").await;
    assert_eq!(paid["code"], 200);
    let data: Value = serde_json::from_str(&decrypt(paid["data"].as_str().unwrap())).unwrap();
    assert_eq!(data["premiumstatus"], "1");
    app.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn limits_source_networks_and_health() {
    let (h, app) = setup(&[
        ("GW__INGRESS__RATE_LIMIT_PER_SECOND", "1"),
        ("GW__INGRESS__RATE_LIMIT_BURST", "2"),
        ("GW__INGRESS__BODY_LIMIT_BYTES", "1024"),
    ])
    .await;
    let body = samples::baohanapply("TB-LIMIT");
    let big = post_inbound(&app.address, "baohanapply", Some(APPKEY), "a".repeat(4096)).await;
    assert_eq!(big["msg"], "请求报文超过大小限制");
    assert_eq!(call(&app.address, "baohanapply", &body).await["code"], 200);
    // The burst is spent; a token comes back each second, so within a few
    // quick calls one is refused.
    let mut accepted = 1;
    let mut limited = None;
    for _ in 0..10 {
        let r = call(&app.address, "baohanapply", &body).await;
        if r["code"] == 500 {
            limited = Some(r);
            break;
        }
        accepted += 1;
    }
    let limited = limited.expect("rate limited");
    assert_eq!(limited["msg"], "请求过于频繁，请稍后重试");

    let health = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", app.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        ready,
        json!({"status": "ready", "broker": "up", "database": "up", "consumers": {}})
    );
    app.stop().await;

    // Only 10.0.0.0/8 may call: 127.0.0.1 is refused before anything else.
    let s = settings(
        &h.ids,
        "http://127.0.0.1:9",
        &[("GW__COUNTERPARTS__HUNAN__ALLOWED_NETWORKS", "10.0.0.0/8")],
    );
    let app = spawn_ingress(s).await;
    let reply = call(&app.address, "baohanapply", &body).await;
    assert_eq!(reply["msg"], "请求来源地址不被允许");
    app.stop().await;
    for _ in 0..accepted {
        assert!(
            h.take(queues::BAOHANAPPLY).await.is_some(),
            "every accepted call was published"
        );
    }
    assert_nothing_published(&h).await;
    h.cleanup().await;
}

/// Rotating the appsecret: during the overlap (`previous_appsecret` set)
/// a call encrypted with either key is taken, with any other key it is
/// refused; once the previous key is removed, only the new one works.
#[tokio::test]
async fn during_a_rotation_either_appsecret_is_accepted() {
    require_services().await;
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    const NEW: &str = "hn2026rotation01";
    // A baohanapply for `applyno` encrypted with `secret`; the reply.
    let apply = |address: String, secret: &'static str, applyno: &'static str| async move {
        let body = gw_envelope::Sm4Key::from_appsecret(secret)
            .unwrap()
            .encrypt_hex(&samples::baohanapply(applyno).to_string());
        post_inbound(&address, "baohanapply", Some(APPKEY), body).await
    };
    let overlap = settings(
        &ids,
        "http://127.0.0.1:9",
        &[
            ("GW__COUNTERPARTS__HUNAN__APPSECRET", NEW),
            ("GW__COUNTERPARTS__HUNAN__PREVIOUS_APPSECRET", APPSECRET),
        ],
    );
    let app = spawn_ingress(overlap).await;
    let old = apply(app.address.clone(), APPSECRET, "TB-ROT-1").await;
    assert_eq!(old["code"], 200, "the previous key: {old}");
    let new = apply(app.address.clone(), NEW, "TB-ROT-2").await;
    assert_eq!(new["code"], 200, "the new key: {new}");
    let other = apply(app.address.clone(), "someotherkey1234", "TB-ROT-3").await;
    assert_eq!(other["msg"], "报文解密失败（密文格式或密钥不正确）");
    app.stop().await;
    // The overlap is over.
    let after = settings(
        &ids,
        "http://127.0.0.1:9",
        &[("GW__COUNTERPARTS__HUNAN__APPSECRET", NEW)],
    );
    let app = spawn_ingress(after).await;
    let old = apply(app.address.clone(), APPSECRET, "TB-ROT-4").await;
    assert_eq!(old["msg"], "报文解密失败（密文格式或密钥不正确）");
    app.stop().await;
    for applyno in ["TB-ROT-1", "TB-ROT-2"] {
        let m = h.take(queues::BAOHANAPPLY).await.expect("published");
        assert!(
            m.correlation_id
                .as_deref()
                .is_some_and(|c| c.starts_with("TB-ROT-")),
            "{applyno}"
        );
    }
    assert_nothing_published(&h).await;
    h.cleanup().await;
}

/// Behind the cluster's ingress controller the connection comes from the
/// controller: the allow-list sees the caller named in `X-Forwarded-For`,
/// but only when the connection comes from a trusted proxy, and only the
/// right-most address the proxies did not vouch for (the rest is the
/// caller's to forge).
#[tokio::test]
async fn the_allow_list_sees_the_caller_behind_a_trusted_proxy() {
    require_services().await;
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let allowed = (
        "GW__COUNTERPARTS__HUNAN__ALLOWED_NETWORKS",
        "203.0.113.0/24",
    );
    let post = |address: String, xff: &'static str, applyno: &'static str| async move {
        let ct = encrypt(&samples::baohanapply(applyno).to_string());
        let r = reqwest::Client::new()
            .post(format!("{address}/v1/gua/tb/baohanapply"))
            .header("appkey", APPKEY)
            .header("x-forwarded-for", xff)
            .body(ct)
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()
    };
    // The test connects from 127.0.0.1, as the controller would.
    let trusted = settings(
        &ids,
        "http://127.0.0.1:9",
        &[allowed, ("GW__HTTP__TRUSTED_PROXIES", "127.0.0.1/32")],
    );
    let app = spawn_ingress(trusted).await;
    let ok = post(app.address.clone(), "203.0.113.7", "TB-XFF-1").await;
    assert_eq!(ok["code"], 200, "{ok}");
    let outside = post(app.address.clone(), "198.51.100.1", "TB-XFF-2").await;
    assert_eq!(outside["msg"], "请求来源地址不被允许");
    let forged = post(app.address.clone(), "203.0.113.7, 198.51.100.1", "TB-XFF-3").await;
    assert_eq!(
        forged["msg"], "请求来源地址不被允许",
        "the left part is forged"
    );
    app.stop().await;
    // Without trusted proxies the header is ignored: 127.0.0.1 is refused.
    let app = spawn_ingress(settings(&ids, "http://127.0.0.1:9", &[allowed])).await;
    let ignored = post(app.address.clone(), "203.0.113.7", "TB-XFF-4").await;
    assert_eq!(ignored["msg"], "请求来源地址不被允许");
    app.stop().await;
    assert!(
        h.take(queues::BAOHANAPPLY).await.is_some(),
        "the allowed call"
    );
    assert_nothing_published(&h).await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_broker_outage_answers_busy_and_recovers_without_a_restart() {
    require_services().await;
    let proxy = TcpProxy::start("127.0.0.1:5672").await;
    let proxied = amqp_url().replace("127.0.0.1:5672", &format!("127.0.0.1:{}", proxy.port));
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let app = spawn_ingress(settings(
        &ids,
        "http://127.0.0.1:9",
        &[("GW__AMQP__URL", &proxied)],
    ))
    .await;
    let body = samples::baohanapply("TB-OUTAGE");

    assert_eq!(call(&app.address, "baohanapply", &body).await["code"], 200);
    assert!(
        h.wait_take(queues::BAOHANAPPLY, Duration::from_secs(5))
            .await
            .is_some()
    );

    proxy.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let reply = call(&app.address, "baohanapply", &body).await;
    assert_eq!(reply["code"], 500);
    assert_eq!(reply["msg"], "系统繁忙，请稍后重试");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "busy is answered promptly"
    );
    let ready = reqwest::get(format!("{}/readyz", app.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        h.take(queues::BAOHANAPPLY).await.is_none(),
        "nothing was accepted while down"
    );

    proxy.start_again();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut accepted = false;
    while std::time::Instant::now() < deadline {
        if call(&app.address, "baohanapply", &body).await["code"] == 200 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(accepted, "ingress recovered by itself within 60 s");
    let m = h
        .wait_take(queues::BAOHANAPPLY, Duration::from_secs(5))
        .await
        .expect("the accepted call is in the queue");
    assert_eq!(m.correlation_id.as_deref(), Some("TB-OUTAGE"));
    assert_eq!(
        reqwest::get(format!("{}/readyz", app.address))
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
    h.cleanup().await;
}

/// Sends `request` on `conn` and reads one whole response (its head and a
/// `content-length` body).
async fn exchange(conn: &mut tokio::net::TcpStream, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    conn.write_all(request).await.expect("the request is sent");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().expect("a length"))
                })
                .expect("a content-length");
            if got.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("the response comes within 10 s")
            .expect("the connection stays open for the response");
        assert!(n > 0, "closed mid-response: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// Waits up to `within` for the server to close `conn`; what it sent first.
async fn closed_by_server(conn: &mut tokio::net::TcpStream, within: Duration) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut got = Vec::new();
    // A reset counts as closed as well as an orderly end.
    let _ = tokio::time::timeout(within, conn.read_to_end(&mut got))
        .await
        .unwrap_or_else(|_| panic!("the server closed the connection within {within:?}"));
    String::from_utf8_lossy(&got).to_string()
}

/// A kept-alive connection serves request after request while it is used,
/// and is closed once it has waited `http.idle_timeout` for the next
/// request; a client that sends its headers too slowly is cut off the
/// same way, so neither holds a connection (and its buffers) for ever.
#[tokio::test]
async fn a_connection_waiting_longer_than_the_idle_timeout_is_closed() {
    use tokio::io::AsyncWriteExt as _;
    let (h, app) = setup(&[("GW__HTTP__IDLE_TIMEOUT", "1s")]).await;
    let addr = format!("127.0.0.1:{}", app.port);
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    for _ in 0..3 {
        let reply = exchange(&mut conn, b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n").await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        // Within the idle timeout: the same connection takes the next one.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let after = closed_by_server(&mut conn, Duration::from_secs(5)).await;
    assert_eq!(after, "", "an idle connection is closed without a response");

    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /v1/gua/tb/baohanapply HTTP/1.1\r\nhost: gw\r\n")
        .await
        .unwrap();
    let after = closed_by_server(&mut slow, Duration::from_secs(5)).await;
    assert!(
        !after.contains(" 200 "),
        "half a request's headers are never answered as a call: {after}"
    );
    assert_nothing_published(&h).await;
    app.stop().await;
    h.cleanup().await;
}

/// One HTTP/2 frame read from `conn` within 5 s: (type, flags, stream,
/// payload); `None` once the server closed the connection.
async fn h2_frame(conn: &mut tokio::net::TcpStream) -> Option<(u8, u8, u32, Vec<u8>)> {
    use tokio::io::AsyncReadExt as _;
    let mut head = [0u8; 9];
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read_exact(&mut head))
        .await
        .expect("a frame or the end within 5 s");
    if read.is_err() {
        return None;
    }
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    conn.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], stream, payload))
}

/// `GET /healthz` on HTTP/2 stream `stream` (HPACK without Huffman or the
/// dynamic table); true once its response's head says 200.
async fn h2_healthz(conn: &mut tokio::net::TcpStream, stream: u32) -> bool {
    use tokio::io::AsyncWriteExt as _;
    // :method GET, :scheme http, :path /healthz, :authority gw.
    let block = [&[0x82, 0x86, 0x44, 8][..], b"/healthz", &[0x41, 2], b"gw"].concat();
    let mut frame = vec![0, 0, u8::try_from(block.len()).unwrap(), 1, 0x5];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(&block);
    conn.write_all(&frame).await.unwrap();
    while let Some((kind, _, on, payload)) = h2_frame(conn).await {
        if kind == 1 && on == stream {
            // :status 200 is entry 8 of HPACK's static table.
            return payload.first() == Some(&0x88);
        }
    }
    false
}

/// An HTTP/2 connection (prior knowledge, as `h2c`) has no head-read timer
/// in hyper, so it is watched for requests in hand: it serves request
/// after request while used and is shut down (`GOAWAY`, then closed) once
/// it has had none for `http.idle_timeout`.
#[tokio::test]
async fn an_http2_connection_idle_past_the_timeout_is_closed_too() {
    use tokio::io::AsyncWriteExt as _;
    let (h, app) = setup(&[("GW__HTTP__IDLE_TIMEOUT", "1s")]).await;
    let mut conn = tokio::net::TcpStream::connect(format!("127.0.0.1:{}", app.port))
        .await
        .unwrap();
    conn.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    loop {
        let (kind, flags, _, _) = h2_frame(&mut conn).await.expect("the server's settings");
        if kind == 4 && flags & 1 == 0 {
            break;
        }
    }
    conn.write_all(b"\0\0\0\x04\x01\0\0\0\0").await.unwrap();
    for stream in [1, 3, 5] {
        assert!(
            h2_healthz(&mut conn, stream).await,
            "stream {stream} answered 200"
        );
        // Within the idle timeout: the same connection takes the next one.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let mut kinds = Vec::new();
    while let Some((kind, flags, _, payload)) = h2_frame(&mut conn).await {
        kinds.push(kind);
        // A graceful shutdown pings between its two GOAWAYs: a live client
        // answers.
        if kind == 6 && flags & 1 == 0 {
            conn.write_all(&[&[0, 0, 8, 6, 1, 0, 0, 0, 0][..], &payload].concat())
                .await
                .unwrap();
        }
    }
    assert!(
        kinds.contains(&7),
        "the idle connection is sent GOAWAY before it is closed: frames {kinds:?}"
    );
    assert_nothing_published(&h).await;
    app.stop().await;
    h.cleanup().await;
}

/// On shutdown the server stops accepting, closes the connections that are
/// idle at once (it does not wait out their idle timeout) and answers the
/// request in hand before it stops: the call half sent when the shutdown
/// began is accepted and published.
#[tokio::test]
async fn shutdown_answers_the_call_in_hand_and_closes_idle_connections() {
    use tokio::io::AsyncWriteExt as _;
    let (h, app) = setup(&[]).await;
    let addr = format!("127.0.0.1:{}", app.port);
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let reply = exchange(&mut idle, b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let body = encrypt(&samples::baohanapply("TB-IN-HAND").to_string());
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut busy = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/gua/tb/baohanapply HTTP/1.1\r\nhost: gw\r\nappkey: {APPKEY}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    busy.write_all(head.as_bytes()).await.unwrap();
    busy.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.shutdown.cancel();
    let after = closed_by_server(&mut idle, Duration::from_secs(5)).await;
    assert_eq!(after, "", "the idle connection is closed at shutdown");
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "no new connection is taken once stopping"
    );
    let reply = exchange(&mut busy, rest).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        reply.contains(r#""code":200"#),
        "the call is accepted: {reply}"
    );
    tokio::time::timeout(Duration::from_secs(10), app.handle)
        .await
        .expect("ingress stops once its last call is answered")
        .expect("the task ends")
        .expect("ingress stops cleanly");
    let m = h
        .wait_take(queues::BAOHANAPPLY, Duration::from_secs(5))
        .await
        .expect("the call answered during shutdown is in its queue");
    assert_eq!(m.correlation_id.as_deref(), Some("TB-IN-HAND"));
    h.cleanup().await;
}
