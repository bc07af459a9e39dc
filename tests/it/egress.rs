//! egress: delivery, signing, retries, dead letters and re-sends, order per
//! application, crash safety, downloads, and the SSRF-safe file client.

use std::time::{Duration, Instant};

use gw_files::fetch::{FetchError, Fetcher};
use gw_files::{FileKind, FileStore};
use gw_protocol::Interface;
use gw_tests::platform::{Platform, Reply};
use gw_tests::*;
use serde_json::{Value, json};

fn process_notice(applyno: &str) -> Value {
    json!({"applyno": applyno, "applystatus": "1", "remark": "通过", "rate": "0.0015", "cost": "300.00"})
}

fn pay_notice(applyno: &str) -> Value {
    json!({
        "applyno": applyno, "premiumstatus": "1", "paytype": "04", "paynumber": "P0001",
        "paymoney": "300.00", "paydate": "2025-11-28 10:00:00", "payname": "湖南建工集团有限公司",
        "payaccount": "6222020000001234", "paybank": "中国银行长沙分行", "remark": "通过"
    })
}

async fn setup(platform: &Platform, extra: &[(&str, &str)]) -> (Harness, EgressRunning) {
    let ids = TestIds::new();
    let s = settings(&ids, &platform.base_url, extra);
    let h = Harness::new(ids, s.clone()).await;
    let e = spawn_egress(s).await;
    (h, e)
}

fn admin_client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_notice_arrives_decrypted_intact_and_signed() {
    let platform = gw_tests::platform::start().await;
    // The platform may answer the code as a string: "200" counts too.
    platform.script("TB-SIGN-1", [Reply::OkStringCode]);
    let (h, egress) = setup(&platform, &[]).await;
    let body = pay_notice("TB-SIGN-1");
    let cmd = notice_command(Interface::PayNotice, body.clone(), None);
    h.send_notice(&cmd).await;

    let got = platform
        .wait_until(Duration::from_secs(10), |r| !r.is_empty())
        .await;
    let r = &got[0];
    assert_eq!(r.interface, "paynotice");
    assert_eq!(r.json, body, "decrypted and intact");
    assert_eq!(r.appkey.as_deref(), Some(APPKEY));
    assert!(
        r.sign_ok,
        "sign is HMAC-SM3 of the body under the appsecret"
    );
    let skew = (chrono::Utc::now().timestamp_millis() - r.timestamp_ms.unwrap()).abs();
    assert!(skew < 60_000, "timestamp is now, in ms: {skew}");

    let row = h
        .wait_notice_state(&cmd.notice_id, "delivered", Duration::from_secs(5))
        .await;
    assert_eq!(row.attempts, 1);
    assert_eq!(row.applyno, "TB-SIGN-1");
    let masked: Value = serde_json::from_str(&row.body_masked).unwrap();
    assert_eq!(
        masked["payaccount"], "6222********1234",
        "the record masks personal data"
    );
    let attempts = gw_storage::notices::attempts(h.db.conn(), &cmd.notice_id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (
            attempts[0].http_status,
            attempts[0].reply_code.as_deref(),
            attempts[0].delivered
        ),
        (Some(200), Some("200"), true)
    );

    tokio::time::sleep(Duration::from_millis(700)).await;
    let events = h.drain_journal().await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == "notice.delivered"
                && e.correlation_id.as_deref() == Some("TB-SIGN-1"))
    );
    egress.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn three_503s_then_200_is_delivered_once_after_three_recorded_failures() {
    let platform = gw_tests::platform::start().await;
    platform.script(
        "TB-503",
        [Reply::Status(503), Reply::Status(503), Reply::Status(503)],
    );
    let (h, egress) = setup(&platform, &[]).await;
    let cmd = notice_command(Interface::ProcessNotice, process_notice("TB-503"), None);
    h.send_notice(&cmd).await;

    let row = h
        .wait_notice_state(&cmd.notice_id, "delivered", Duration::from_secs(20))
        .await;
    assert_eq!(row.attempts, 4);
    let attempts = gw_storage::notices::attempts(h.db.conn(), &cmd.notice_id)
        .await
        .unwrap();
    let shape: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.http_status, a.delivered))
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, Some(503), false),
            (2, Some(503), false),
            (3, Some(503), false),
            (4, Some(200), true)
        ]
    );
    assert!(
        attempts[..3]
            .iter()
            .all(|a| a.error.as_deref() == Some("HTTP 503"))
    );
    // Exactly once: nothing more arrives afterwards.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = platform.received_for("TB-503");
    assert_eq!(got.len(), 4);
    assert_eq!(got.iter().filter(|r| r.reply == "Ok").count(), 1);
    egress.stop().await;
    h.cleanup().await;
}

/// A reply larger than 64 KB is not read to its end: the attempt fails
/// saying so, and the next one (a normal reply) delivers.
#[tokio::test]
async fn a_reply_past_the_size_cap_is_a_failed_attempt() {
    let platform = gw_tests::platform::start().await;
    platform.script("TB-HUGE", [Reply::Huge(200 * 1024)]);
    let (h, egress) = setup(&platform, &[]).await;
    let cmd = notice_command(Interface::ProcessNotice, process_notice("TB-HUGE"), None);
    h.send_notice(&cmd).await;
    h.wait_notice_state(&cmd.notice_id, "delivered", Duration::from_secs(20))
        .await;
    let attempts = gw_storage::notices::attempts(h.db.conn(), &cmd.notice_id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("the reply is larger than 64 KB")
    );
    assert!(!attempts[0].delivered && attempts[1].delivered);
    egress.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_spent_schedule_dead_letters_then_an_operator_resends_it() {
    let platform = gw_tests::platform::start().await;
    platform.script(
        "TB-DEAD",
        [
            Reply::Code500("内部错误"),
            Reply::NotJson,
            Reply::Code500("内部错误"),
        ],
    );
    // 1 s between attempts, 2 s in all: three attempts.
    let (h, egress) = setup(&platform, &[("GW__EGRESS__RETRY_FOR", "2s")]).await;
    let cmd = notice_command(Interface::ProcessNotice, process_notice("TB-DEAD"), None);
    h.send_notice(&cmd).await;

    let row = h
        .wait_notice_state(&cmd.notice_id, "dead", Duration::from_secs(20))
        .await;
    assert_eq!(row.attempts, 3);
    assert_eq!(row.last_error.as_deref(), Some("code 500: 内部错误"));
    let (_, error) = h
        .wait_dead_letter(gw_contract::queues::NOTICES, Duration::from_secs(5))
        .await
        .expect("dead-lettered");
    assert!(error.contains("code 500"), "{error}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        h.drain_journal()
            .await
            .iter()
            .any(|e| e.kind == "notice.dead_lettered")
    );

    // The admin API lists it, with its attempts, and only with the token.
    let url = format!("{}/admin/notices?state=dead", egress.admin);
    assert_eq!(admin_client().get(&url).send().await.unwrap().status(), 401);
    let list: Vec<Value> = admin_client()
        .get(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], cmd.notice_id);
    assert_eq!(list[0]["path"], "v1/gua/tb/processnotice");
    let codes: Vec<_> = list[0]["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reply_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!("500"), Value::Null, json!("500")]);
    assert_eq!(list[0]["attempt_log"][1]["error"], "the reply is not JSON");

    // Re-sent, it is delivered (the platform now answers 200).
    let resend = format!("{}/admin/notices/{}/resend", egress.admin, cmd.notice_id);
    assert_eq!(
        admin_client().post(&resend).send().await.unwrap().status(),
        401
    );
    let r = admin_client()
        .post(&resend)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let row = h
        .wait_notice_state(&cmd.notice_id, "delivered", Duration::from_secs(10))
        .await;
    assert_eq!(row.attempts, 4);
    // A delivered notice cannot be re-sent.
    let again = admin_client()
        .post(&resend)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let missing = format!("{}/admin/notices/nope/resend", egress.admin);
    assert_eq!(
        admin_client()
            .post(&missing)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    egress.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_retried_notice_holds_back_its_successor_but_not_other_applications() {
    let platform = gw_tests::platform::start().await;
    platform.script("TB-ORD-A", [Reply::Status(503), Reply::Status(503)]);
    let (h, egress) = setup(&platform, &[]).await;
    let first = notice_command(Interface::ProcessNotice, process_notice("TB-ORD-A"), None);
    let second = notice_command(
        Interface::PayNotice,
        pay_notice("TB-ORD-A"),
        Some(&first.notice_id),
    );
    let other = notice_command(Interface::ProcessNotice, process_notice("TB-ORD-B"), None);
    h.send_notice(&first).await;
    h.send_notice(&second).await;
    h.send_notice(&other).await;

    let got = platform
        .wait_until(Duration::from_secs(20), |r| {
            r.iter().filter(|x| x.applyno() == "TB-ORD-A").count() == 4
        })
        .await;
    let a: Vec<_> = got
        .iter()
        .filter(|r| r.applyno() == "TB-ORD-A")
        .map(|r| (r.interface.as_str(), r.reply.as_str()))
        .collect();
    assert_eq!(
        a,
        vec![
            ("processnotice", "Status(503)"),
            ("processnotice", "Status(503)"),
            ("processnotice", "Ok"),
            ("paynotice", "Ok"),
        ],
        "the paynotice waited for the processnotice"
    );
    let b_at = got
        .iter()
        .find(|r| r.applyno() == "TB-ORD-B")
        .expect("B delivered")
        .at;
    let a_done = got
        .iter()
        .find(|r| r.applyno() == "TB-ORD-A" && r.reply == "Ok")
        .unwrap()
        .at;
    assert!(
        b_at < a_done,
        "another application's notice went through meanwhile"
    );
    h.wait_notice_state(&second.notice_id, "delivered", Duration::from_secs(5))
        .await;

    // A successor that arrives before its predecessor waits for it too.
    let p1 = notice_command(Interface::ProcessNotice, process_notice("TB-ORD-C"), None);
    let p2 = notice_command(
        Interface::PayNotice,
        pay_notice("TB-ORD-C"),
        Some(&p1.notice_id),
    );
    h.send_notice(&p2).await;
    h.wait_notice_state(&p2.notice_id, "waiting", Duration::from_secs(5))
        .await;
    h.send_notice(&p1).await;
    let got = platform
        .wait_until(Duration::from_secs(10), |r| {
            r.iter().filter(|x| x.applyno() == "TB-ORD-C").count() == 2
        })
        .await;
    let c: Vec<_> = got
        .iter()
        .filter(|r| r.applyno() == "TB-ORD-C")
        .map(|r| r.interface.as_str())
        .collect();
    assert_eq!(c, vec!["processnotice", "paynotice"]);
    egress.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn an_invalid_notice_is_never_sent() {
    let platform = gw_tests::platform::start().await;
    let (h, egress) = setup(&platform, &[]).await;
    let mut cmd = notice_command(Interface::ProcessNotice, process_notice("TB-INVALID"), None);
    cmd.body.as_object_mut().unwrap().remove("cost");
    h.send_notice(&cmd).await;
    let row = h
        .wait_notice_state(&cmd.notice_id, "dead", Duration::from_secs(10))
        .await;
    assert_eq!(
        row.last_error.as_deref(),
        Some("invalid notice: cost 在 applystatus=1 时必须填写")
    );
    assert_eq!(row.attempts, 0);
    assert!(
        h.wait_dead_letter(gw_contract::queues::NOTICES, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert!(platform.received().is_empty());
    egress.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_killed_egress_loses_nothing_it_had_taken() {
    let platform = gw_tests::platform::start().await;
    // The first attempt hangs: egress holds the notice, unacknowledged, when it dies.
    platform.script("TB-KILL", [Reply::Hang(Duration::from_secs(30))]);
    let ids = TestIds::new();
    let env = settings_env(&ids, &platform.base_url, &[]);
    let h = Harness::new(ids.clone(), settings(&ids, &platform.base_url, &[])).await;
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gw-service-proc"))
            .arg("egress")
            .envs(&env)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("egress starts")
    };
    let mut child = spawn();
    let cmd = notice_command(Interface::ProcessNotice, process_notice("TB-KILL"), None);
    h.send_notice(&cmd).await;
    platform
        .wait_until(Duration::from_secs(20), |r| !r.is_empty())
        .await;
    // SIGKILL: no shutdown, no ack.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_ne!(h.notice(&cmd.notice_id).await.unwrap().state, "delivered");

    let mut child = spawn();
    let started = Instant::now();
    let row = h
        .wait_notice_state(&cmd.notice_id, "delivered", Duration::from_secs(30))
        .await;
    assert!(row.attempts >= 2);
    let got = platform.received_for("TB-KILL");
    assert!(got.len() >= 2, "delivered again after the restart");
    assert!(got.iter().any(|r| r.reply == "Ok"));
    assert!(started.elapsed() < Duration::from_secs(30));
    child.kill().unwrap();
    child.wait().unwrap();
    h.cleanup().await;
}

#[tokio::test]
async fn stored_files_download_encrypted_and_nothing_else_does() {
    let platform = gw_tests::platform::start().await;
    let (h, egress) = setup(&platform, &[]).await;
    let store = gw_files::DbFileStore::new(h.db.clone());
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..300_000u32).map(|i| (i * 7 % 251) as u8));
    let stored = store_file(&store, &h.db, FileKind::Guarantee, "TB-FILE", pdf.clone()).await;
    assert_eq!(stored.size, pdf.len() as u64);

    let resp = reqwest::get(format!("{}/files/{}", egress.app.address, stored.token))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    let len: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = resp.bytes().await.unwrap();
    assert_eq!(len, body.len());
    let key = gw_envelope::Sm4Key::from_appsecret(APPSECRET).unwrap();
    assert_eq!(
        key.decrypt_bytes(&body).unwrap(),
        pdf,
        "byte-identical after decryption"
    );

    for bad in [
        "0".repeat(64),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        format!("{}%2F..", &stored.token[..60]),
        "../Cargo.toml".to_owned(),
        stored.token.to_uppercase(),
    ] {
        let r = reqwest::get(format!("{}/files/{bad}", egress.app.address))
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    egress.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn platform_files_come_only_from_configured_hosts() {
    let platform = gw_tests::platform::start_on("127.0.0.1").await;
    let elsewhere = gw_tests::platform::start_on("127.0.0.2").await;
    let ids = TestIds::new();
    let configured = platform.addr.to_string();
    let s = settings(
        &ids,
        &platform.base_url,
        &[("GW__COUNTERPARTS__HUNAN__FILE_HOSTS", configured.as_str())],
    );
    let h = Harness::new(ids, s.clone()).await;
    let cp = s.counterparts().by_name(COUNTERPART).unwrap();
    let fetcher = Fetcher {
        max_bytes: 64 * 1024,
        timeout: Duration::from_secs(3),
        attempts: 2,
    };
    let evidence = "理赔材料：中标通知书".repeat(100).into_bytes();
    platform.serve_file("claim.pdf", &evidence);
    elsewhere.serve_file("evil.pdf", b"internal");

    // The configured host: fetched, decrypted, stored.
    let store = gw_files::DbFileStore::new(h.db.clone());
    let url = format!("{}/files/claim.pdf", platform.base_url);
    let stored = fetcher
        .fetch_and_store(&cp, &url, &store, &h.db, Some("TB-CLAIM"))
        .await
        .unwrap();
    let (row, bytes) = store.get(&stored.token).await.unwrap().unwrap();
    assert_eq!(bytes, evidence);
    assert_eq!(row.kind, "evidence");

    // Another host: refused before any connection.
    let err = fetcher
        .fetch(&cp, &format!("{}/files/evil.pdf", elsewhere.base_url))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::HostNotAllowed(_)), "{err}");
    // A redirect from the configured host to another: refused.
    platform.redirect("hop.pdf", &format!("{}/files/evil.pdf", elsewhere.base_url));
    let err = fetcher
        .fetch(&cp, &format!("{}/files/hop.pdf", platform.base_url))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::HostNotAllowed(_)), "{err}");
    assert!(
        elsewhere.file_hits().is_empty(),
        "no request ever reached the other host"
    );
    assert_eq!(platform.file_hits(), vec!["claim.pdf", "hop.pdf"]);

    // Too large: refused.
    platform.serve_file("big.pdf", &vec![7u8; 100 * 1024]);
    let err = fetcher
        .fetch(&cp, &format!("{}/files/big.pdf", platform.base_url))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge(_)), "{err}");
    // Not ours to decrypt: a typed error, not a panic.
    let err = fetcher
        .fetch(&cp, &format!("{}/files/missing.pdf", platform.base_url))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Status(404)), "{err}");

    // A configured name that resolves to a private address not configured: refused.
    let port = platform.addr.port();
    let s2 = settings(
        &h.ids,
        &platform.base_url,
        &[(
            "GW__COUNTERPARTS__HUNAN__FILE_HOSTS",
            &format!("localhost:{port}"),
        )],
    );
    let cp2 = s2.counterparts().by_name(COUNTERPART).unwrap();
    let err = fetcher
        .fetch(&cp2, &format!("http://localhost:{port}/files/claim.pdf"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::PrivateAddress(_)), "{err}");
    h.cleanup().await;
}

#[tokio::test]
async fn the_s3_store_keeps_bytes_in_the_bucket_and_metadata_in_the_database() {
    use object_store::ObjectStoreExt;
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let bucket = std::sync::Arc::new(object_store::memory::InMemory::new());
    let store = gw_files::S3FileStore::new(h.db.clone(), bucket.clone(), "guarantees/".into());
    let pdf = b"%PDF-1.7 restored guarantee".to_vec();
    let stored = store_file(
        &store,
        &h.db,
        FileKind::RestoredGuarantee,
        "TB-S3",
        pdf.clone(),
    )
    .await;
    let object = bucket
        .get(&object_store::path::Path::from(format!(
            "guarantees/{}",
            stored.token
        )))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(object.to_vec(), pdf, "the bytes are in the bucket");
    let row = gw_storage::files::find(h.db.conn(), &stored.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.storage.as_str(), row.bytes.is_none()),
        ("s3", true),
        "the database keeps only metadata"
    );
    let (_, bytes) = store.get(&stored.token).await.unwrap().unwrap();
    assert_eq!(bytes, pdf);
    assert!(store.get(&"f".repeat(64)).await.unwrap().is_none());
    assert!(store.get("../x").await.unwrap().is_none());
    h.cleanup().await;
}

#[tokio::test]
async fn retry_after_holds_the_next_attempt_back() {
    let platform = gw_tests::platform::start().await;
    // Busy, come back in 2 s: the next attempt waits at least that long,
    // although the schedule says 1 s.
    platform.script("TB-RETRY-AFTER", [Reply::StatusRetryAfter(503, 2)]);
    let (h, egress) = setup(&platform, &[]).await;
    let cmd = notice_command(
        Interface::ProcessNotice,
        process_notice("TB-RETRY-AFTER"),
        None,
    );
    h.send_notice(&cmd).await;
    let got = platform
        .wait_until(Duration::from_secs(15), |r| r.len() == 2)
        .await;
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(1500),
        "waited only {waited:?}"
    );
    h.wait_notice_state(&cmd.notice_id, "delivered", Duration::from_secs(5))
        .await;
    egress.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn the_cli_lists_and_resends_dead_notices() {
    let platform = gw_tests::platform::start().await;
    platform.script(
        "TB-CLI",
        [
            Reply::Code500("忙"),
            Reply::Code500("忙"),
            Reply::Code500("忙"),
        ],
    );
    let ids = TestIds::new();
    let env = settings_env(&ids, &platform.base_url, &[("GW__EGRESS__RETRY_FOR", "2s")]);
    let s = settings(&ids, &platform.base_url, &[("GW__EGRESS__RETRY_FOR", "2s")]);
    let h = Harness::new(ids, s.clone()).await;
    let egress = spawn_egress(s).await;
    let cmd = notice_command(Interface::ProcessNotice, process_notice("TB-CLI"), None);
    h.send_notice(&cmd).await;
    h.wait_notice_state(&cmd.notice_id, "dead", Duration::from_secs(20))
        .await;

    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gw-service-proc"))
            .arg("egress")
            .args(args)
            .envs(&env)
            .env("RUST_LOG", "error")
            .output()
            .expect("the CLI runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let listed: Vec<Value> =
        serde_json::from_str(&cli(&["notices", "list", "--state", "dead", "--json"])).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], cmd.notice_id);
    assert_eq!(listed[0]["attempt_log"].as_array().unwrap().len(), 3);
    let table = cli(&["notices", "list", "--applyno", "TB-CLI"]);
    assert!(
        table.contains(&cmd.notice_id) && table.contains("dead"),
        "{table}"
    );
    let out = cli(&["notices", "resend", &cmd.notice_id]);
    assert!(out.contains("re-sent"), "{out}");
    // The running egress delivers it.
    h.wait_notice_state(&cmd.notice_id, "delivered", Duration::from_secs(15))
        .await;
    egress.stop().await;
    h.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_platform_is_a_failed_attempt() {
    // Nothing listens on this port: every attempt is refused.
    let closed = format!("http://127.0.0.1:{}", gw_tests::stack::free_port());
    let ids = TestIds::new();
    let s = settings(&ids, &closed, &[("GW__EGRESS__RETRY_FOR", "1s")]);
    let h = Harness::new(ids, s.clone()).await;
    let egress = spawn_egress(s).await;
    let cmd = notice_command(Interface::ProcessNotice, process_notice("TB-REFUSED"), None);
    h.send_notice(&cmd).await;
    let row = h
        .wait_notice_state(&cmd.notice_id, "dead", Duration::from_secs(15))
        .await;
    assert_eq!(row.attempts, 2);
    let attempts = gw_storage::notices::attempts(h.db.conn(), &cmd.notice_id)
        .await
        .unwrap();
    assert!(
        attempts.iter().all(|a| a.http_status.is_none()
            && a.error
                .as_deref()
                .is_some_and(|e| e.starts_with("connection failed"))),
        "{attempts:?}"
    );
    egress.stop().await;
    h.cleanup().await;
}

/// An `HTTP_PROXY` in the environment must not carry platform downloads
/// past the pinned address. The test runs itself again as a child process
/// with the proxy variables set (the environment of a running process
/// cannot be changed safely); the child fetches a file, and the proxy
/// never sees a connection.
#[tokio::test]
async fn a_proxy_in_the_environment_cannot_route_around_the_pinned_address() {
    const CHILD: &str = "GW_TEST_PROXY_CHILD_PLATFORM";
    if let Ok(base) = std::env::var(CHILD) {
        let ids = TestIds::new();
        let s = settings(&ids, &base, &[]);
        let cp = s.counterparts().by_name(COUNTERPART).unwrap();
        let fetcher = Fetcher {
            max_bytes: 64 * 1024,
            timeout: Duration::from_secs(3),
            attempts: 1,
        };
        let bytes = fetcher
            .fetch(&cp, &format!("{base}/files/direct.pdf"))
            .await
            .unwrap();
        assert_eq!(bytes, b"fetched directly");
        return;
    }
    let platform = gw_tests::platform::start_on("127.0.0.1").await;
    platform.serve_file("direct.pdf", b"fetched directly");
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = proxy.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let exe = std::env::current_exe().unwrap();
    let child = tokio::process::Command::new(exe)
        .args([
            "--exact",
            "egress::a_proxy_in_the_environment_cannot_route_around_the_pinned_address",
        ])
        .env(CHILD, &platform.base_url)
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .env("HTTPS_PROXY", &proxy_url)
        .env("ALL_PROXY", &proxy_url)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .await
        .unwrap();
    assert!(
        child.status.success(),
        "the child's fetch failed:\n{}",
        String::from_utf8_lossy(&child.stdout)
    );
    assert!(
        String::from_utf8_lossy(&child.stdout).contains("1 passed"),
        "the child ran the fetch"
    );
    assert_eq!(platform.file_hits(), vec!["direct.pdf"], "fetched directly");
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the proxy was never used"
    );
}
