//! The sandbox platform and `demo`: the stories pass through a gateway of
//! their own; the sandbox refuses a notice that breaks the standard
//! (sign, timestamp, a field rule, the causal order) with the reason; the
//! gateway starts with the sandbox only when no platform is configured,
//! and production refuses example values.

use std::collections::HashMap;
use std::time::Duration;

use gw_tests::deploy::{Deployment, Kind};
use serde_json::{Value, json};

on_both!(the_rehearsal_passes_on_a_deployed_gateway);

/// `sandbox --gateway URL --report DIR` as an institution runs it against
/// its own deployment: the stories, security, verification, a load phase
/// and the platform down, with the report written.
async fn the_rehearsal_passes_on_a_deployed_gateway(kind: Kind) {
    let d = Deployment::start(kind, &[("GW__CLAIMS__AUTO_PAYOUT", "true")]).await;
    let dir = std::env::temp_dir().join(format!("gw-rehearsal-{}", uuid::Uuid::new_v4().simple()));
    let mut plan = sandbox::report::plan(&d.verify, Duration::from_secs(30));
    plan.load = 40;
    plan.down_for = Duration::from_secs(3);
    let out = sandbox::run(
        d.platform.clone(),
        &d.ingress,
        Some(d.cashier.clone()),
        Duration::from_secs(30),
        Some((&dir, plan)),
    )
    .await
    .unwrap();
    assert!(out.passed, "{}", out.text);
    assert_eq!(out.items.len(), 8, "{}", out.text);
    assert_report_files(&dir);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("8 of 8 items pass"), "{html}");
    assert!(html.contains("验真 Verification") && html.contains("高并发 High concurrency"));
    std::fs::remove_dir_all(&dir).unwrap();
    d.stop().await;
}

#[tokio::test]
async fn the_demo_passes_every_story_through_the_sandbox() {
    let dir = std::env::temp_dir().join(format!("gw-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let demo = gateway::embedded_sandbox::demo(&dir, Duration::from_secs(30), None)
        .await
        .unwrap();
    let (out, platform) = (demo.outcome, demo.platform);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.passed, "{}", out.text);
    let titles: Vec<&str> = out.stories.iter().map(|s| s.title).collect();
    assert_eq!(titles.len(), 5, "{titles:?}");
    let whole = &out.stories[0];
    let steps: Vec<&str> = whole.steps.iter().map(|s| s.name.as_str()).collect();
    for step in [
        "processnotice (approved)",
        "cashier payment (sandbox)",
        "guarantee PDF downloaded",
        "restored PDF downloaded",
        "invoicenotice (issued)",
        "invoice PDF downloaded",
        "claimnotice (paid)",
    ] {
        assert!(steps.contains(&step), "{step} missing from {steps:?}");
    }
    // The platform checked every notice and every file and found nothing wrong.
    let timeline = platform.timeline().of(&whole.applyno);
    let notices = timeline
        .iter()
        .filter(|e| e.direction == sandbox::timeline::Direction::Notice)
        .count();
    let files = timeline
        .iter()
        .filter(|e| e.direction == sandbox::timeline::Direction::File)
        .count();
    assert_eq!((notices, files), (6, 3), "{}", out.text);
    assert!(timeline.iter().all(|e| e.ok()), "{}", out.text);
    assert!(
        out.text.contains("5 of 5 stories passed; 0 problems"),
        "{}",
        out.text
    );
}

/// `gateway demo --report DIR` as a newcomer runs it: a child process
/// running the gateway's own command line; its exit code, its output and
/// the report's files.
#[tokio::test]
async fn gateway_demo_with_a_report_exits_0_and_writes_the_rehearsal() {
    let dir =
        std::env::temp_dir().join(format!("gw-demo-report-{}", uuid::Uuid::new_v4().simple()));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gw-service-proc"))
        .args(["gateway", "demo", "--report"])
        .arg(&dir)
        // A newcomer's machine: no GW__* settings (the demo reads none).
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    assert!(
        stdout.contains("5 of 5 stories passed; 0 problems"),
        "{stdout}"
    );
    for item in [
        "在线投保",
        "在线出函",
        "数据推送",
        "验真",
        "在线理赔",
        "数据安全",
        "应急处置",
        "高并发",
    ] {
        assert!(stdout.contains(&format!("PASS {item}")), "{item}: {stdout}");
    }
    assert_report_files(&dir);
    let png = std::fs::read(dir.join("guarantee.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The rehearsal's files are there and not empty.
fn assert_report_files(dir: &std::path::Path) {
    for f in [
        "report.html",
        "report.md",
        "guarantee.pdf",
        "guarantee.png",
        "verification.html",
        "timeline.json",
    ] {
        let len = std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "{f}: {len} bytes");
    }
}

/// Posts a notice to the sandbox as the gateway does, with `sign` and
/// `timestamp` as given; the platform's answer.
async fn post_notice(
    p: &sandbox::Platform,
    name: &str,
    body: &Value,
    sign: Option<&str>,
    timestamp_ms: i64,
) -> Value {
    let creds = p.credentials().unwrap();
    let cipher = creds.key().encrypt_hex(&body.to_string());
    use secrecy::ExposeSecret;
    let good = gw_envelope::sign::hmac_sm3_hex(
        creds.appsecret().expose_secret().as_bytes(),
        cipher.as_bytes(),
    );
    reqwest::Client::new()
        .post(format!("{}/v1/gua/tb/{name}", p.base_url))
        .header("appkey", &creds.appkey)
        .header("sign", sign.unwrap_or(&good))
        .header("timestamp", timestamp_ms.to_string())
        .body(cipher)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_strict_sandbox_refuses_what_breaks_the_standard_with_the_reason() {
    let p = sandbox::strict_platform(
        "127.0.0.1:0".parse().unwrap(),
        sandbox::Credentials::new("sb-key", "sandbox-secret16").unwrap(),
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let approved = json!({"applyno": "TB-SB-1", "applystatus": "1", "remark": "审核通过",
        "rate": "0.0015", "cost": "300.00"});
    let pay = json!({"applyno": "TB-SB-2", "premiumstatus": "1", "paytype": "04",
        "paynumber": "P1", "paymoney": "300.00", "paydate": "2026-11-29 10:00:00",
        "payname": "湖南建工集团有限公司", "payaccount": "6222020000001234",
        "paybank": "中国银行长沙分行", "ipcontent": "127.0.0.1", "remark": "支付成功"});

    let ok = post_notice(&p, "processnotice", &approved, None, now).await;
    assert_eq!(ok["code"], 200, "{ok}");

    let cases = [
        (
            "a wrong sign",
            "processnotice",
            approved.clone(),
            Some("00ff"),
            now,
            "sign 验签失败",
        ),
        (
            "a stale timestamp",
            "processnotice",
            approved.clone(),
            None,
            now - 600_000,
            "timestamp",
        ),
        (
            "a field rule",
            "processnotice",
            json!({"applyno": "TB-SB-3", "applystatus": "1", "remark": "审核通过"}),
            None,
            now,
            "字段不合规",
        ),
        (
            "the causal order",
            "paynotice",
            pay,
            None,
            now,
            "通知顺序错误: paynotice 早于 processnotice",
        ),
    ];
    for (what, name, body, sign, ts, reason) in cases {
        let r = post_notice(&p, name, &body, sign, ts).await;
        assert_eq!(r["code"], 500, "{what}: {r}");
        assert!(r["msg"].as_str().unwrap().contains(reason), "{what}: {r}");
    }
    // Each refusal is on the application's timeline with its reason.
    let t = p.timeline().of("TB-SB-2");
    assert_eq!(t.len(), 1);
    assert!(t[0].problems[0].contains("通知顺序错误"), "{t:?}");
    assert_eq!(p.accepted_for("TB-SB-1").len(), 1);
    assert!(p.accepted_for("TB-SB-2").is_empty());

    // Told over HTTP to be down, then to refuse one notice, then to behave.
    let http = reqwest::Client::new();
    let tell = |path: &str| http.post(format!("{}/sandbox/{path}", p.base_url)).send();
    assert!(tell("down").await.unwrap().status().is_success());
    let creds = p.credentials().unwrap().clone();
    let down = reqwest::Client::new()
        .post(format!("{}/v1/gua/tb/processnotice", p.base_url))
        .header("appkey", &creds.appkey)
        .body(creds.key().encrypt_hex(&approved.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 503);
    assert!(tell("up").await.unwrap().status().is_success());
    assert!(
        tell("refuse/TB-SB-1/1")
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let refused = post_notice(&p, "processnotice", &approved, None, now).await;
    assert_eq!(
        (refused["code"].as_i64(), refused["msg"].as_str()),
        (Some(500), Some("沙箱平台按要求拒收"))
    );
    let again = post_notice(&p, "processnotice", &approved, None, now).await;
    assert_eq!(again["code"], 200, "{again}");
    let text = http
        .get(format!("{}/sandbox/timeline/TB-SB-1", p.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Accepted, bad sign, stale, down, refused on request, accepted.
    assert_eq!(text.matches("processnotice").count(), 6, "{text}");
    assert!(
        text.contains("HTTP 503") && text.contains("沙箱平台按要求拒收"),
        "{text}"
    );
}

#[tokio::test]
async fn without_a_platform_the_gateway_runs_the_sandbox_on_loopback() {
    let start = gateway::prepare(None, Some(HashMap::new())).await.unwrap();
    let gateway::Start::Sandbox(s, platform) = start else {
        panic!("no platform configured: the sandbox was expected");
    };
    assert_eq!(s.environment, gw_config::Environment::Sandbox);
    assert!(s.payment.sandbox);
    assert!(s.ingress.listen.ip().is_loopback());
    assert!(platform.addr.ip().is_loopback());
    let c = &s.counterparts["sandbox"];
    assert_eq!(
        c.notice_base_url.as_str(),
        format!("{}/", platform.base_url)
    );
    assert_eq!(c.appkey, platform.credentials().unwrap().appkey);

    // Listening beyond loopback with the sandbox cashier is refused.
    let public = HashMap::from([("GW__INGRESS__LISTEN".to_owned(), "0.0.0.0:8080".to_owned())]);
    let err = match gateway::prepare(None, Some(public)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the sandbox cashier on 0.0.0.0 was accepted"),
    };
    assert!(
        err.contains("payment.sandbox") && err.contains("ingress.listen = 0.0.0.0:8080"),
        "{err}"
    );
}

#[tokio::test]
async fn with_a_platform_configured_the_gateway_refuses_example_values() {
    let env = HashMap::from(
        [
            ("GW__COUNTERPARTS__HUNAN__APPKEY", "hn-appkey"),
            ("GW__COUNTERPARTS__HUNAN__APPSECRET", "hn2025guarantee1"),
            (
                "GW__COUNTERPARTS__HUNAN__NOTICE_BASE_URL",
                "http://218.76.24.212:19980",
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let err = match gateway::prepare(None, Some(env)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("production with the example institution was accepted"),
    };
    // (The missing SM2 key is issuance's to refuse, at its start.)
    for key in ["institution.name", "institution.code"] {
        assert!(
            err.contains(&format!("{key}: ")),
            "{key} not named in:\n{err}"
        );
    }
}
