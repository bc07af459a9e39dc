//! The operator console in a real browser: Debian's headless Chromium,
//! driven through chromedriver (WebDriver), on both deployments. An
//! operator signs in, finds an application and reads its timeline, decides
//! a referral (the platform stand-in receives the processnotice), re-sends
//! a dead notice, refunds a held payment; requests without the session or
//! with a wrong CSRF token are refused and change nothing. Each page is
//! written as a PNG to `target/console-screenshots/<deployment>/`.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use gw_tests::deploy::{Deployment, Kind};
use gw_tests::{ADMIN_TOKEN, json_of};
use sandbox::platform::Reply;
use serde_json::{Value, json};

/// chromedriver and a headless Chromium session; the driver is killed with it.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    shots: PathBuf,
}

impl Browser {
    async fn start(kind: Kind) -> Self {
        let port = gw_tests::stack::free_port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect(
                "chromedriver is not installed: install chromium and chromium-driver (see .ci/run)",
            );
        let caps: fantoccini::wd::Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--lang=zh-CN"]
            }
        }))
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let until = tokio::time::Instant::now() + Duration::from_secs(30);
        let client = loop {
            let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await;
            match c {
                Ok(c) => break c,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < until,
                        "no headless Chromium session through chromedriver: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let dir = match kind {
            Kind::Services => "services",
            Kind::Embedded => "embedded",
        };
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/console-screenshots")
            .join(dir);
        std::fs::create_dir_all(&shots).unwrap();
        Self {
            client,
            _driver: driver,
            shots,
        }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// The text of the page's `main`.
    /// (A form's submit returns as the next page starts loading: wait
    /// for it.)
    async fn text(&self) -> String {
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            // Found on one page and read on the next: stale, read again.
            let read = match self.client.find(Locator::Css("main")).await {
                Ok(main) => main.text().await,
                Err(e) => Err(e),
            };
            match read {
                Ok(text) => return text,
                Err(e) if tokio::time::Instant::now() > until => panic!(
                    "no page at {}: {e}\n{}",
                    self.client.current_url().await.unwrap(),
                    self.client.source().await.unwrap_or_default()
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until the page says `want`; the page's text.
    async fn wait_text(&self, want: &str) -> String {
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text().await;
            if text.contains(want) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "the page does not say {want:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the browser is at `want` (after a submit or a click).
    async fn wait_path(&self, want: &str) {
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.client.current_url().await.unwrap();
            if now.path() == want {
                return;
            }
            assert!(tokio::time::Instant::now() < until, "at {now}, not {want}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn referred_body(applyno: &str) -> Value {
    let mut b = sandbox::samples::baohanapply(applyno);
    b["bzjamount"] = json!("3500000.00");
    b
}

fn wrong_amount(applyno: &str, paynumber: &str) -> gw_contract::PaymentConfirmation {
    serde_json::from_value(json!({
        "applyno": applyno, "paynumber": paynumber, "paytype": "04", "paymoney": "299.99",
        "paydate": "2025-11-28 11:00:00", "payname": "湖南建工集团有限公司",
        "payaccount": "6222020000001234", "paybank": "中国银行长沙分行"
    }))
    .unwrap()
}

async fn payment_status(d: &Deployment, paynumber: &str) -> Option<String> {
    gw_storage::payments::find(d.db.conn(), paynumber)
        .await
        .unwrap()
        .map(|p| p.status.to_string())
}

async fn wait_dead(d: &Deployment, applyno: &str) {
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = d.notice_rows(applyno).await;
        if rows
            .iter()
            .any(|n| n.state == gw_lifecycle::NoticeState::Dead)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "no dead notice for {applyno}: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_browser_runs_the_console(kind: Kind) {
    let d = Deployment::start(
        kind,
        &[
            ("GW__UNDERWRITING__RULES__REFER_FROM", "3000000.00"),
            ("GW__EGRESS__RETRY_FOR", "2s"),
        ],
    )
    .await;
    let console = d.admin["console"].clone();

    // What the operator will work on: an issued guarantee, a referral, a
    // dead notice and a held payment.
    let baohanno = d.issued("CON-OK").await;
    d.call_ok("baohanapply", &referred_body("CON-REF")).await;
    d.wait_state("CON-REF", "referred").await;
    d.platform.script("CON-DEAD", vec![Reply::Status(503); 50]);
    d.call_ok("baohanapply", &sandbox::samples::baohanapply("CON-DEAD"))
        .await;
    wait_dead(&d, "CON-DEAD").await;
    d.approved("CON-HELD").await;
    d.send(&wrong_amount("CON-HELD", "P-CON-1")).await;
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    while payment_status(&d, "P-CON-1").await.as_deref() != Some("held") {
        assert!(tokio::time::Instant::now() < until, "P-CON-1 is not held");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let b = Browser::start(kind).await;
    let c = &b.client;

    // Not signed in: sent to the sign-in form. A wrong token is refused.
    c.goto(&format!("{console}/console")).await.unwrap();
    b.wait_path("/console/login").await;
    b.shot("1-login").await;
    let form = c.form(Locator::Css("form.login")).await.unwrap();
    form.set_by_name("operator", "李审核").await.unwrap();
    form.set_by_name("token", "not-the-admin-token")
        .await
        .unwrap();
    form.submit().await.unwrap();
    b.wait_text("管理令牌不正确").await;
    let form = c.form(Locator::Css("form.login")).await.unwrap();
    form.set_by_name("operator", "李审核").await.unwrap();
    form.set_by_name("token", ADMIN_TOKEN).await.unwrap();
    form.submit().await.unwrap();
    b.wait_path("/console").await;
    let overview = b.wait_text("待人工审核").await;
    assert!(overview.contains("待人工审核"), "{overview}");
    assert!(overview.contains("发送失败通知"), "{overview}");
    let header = c
        .find(Locator::Css("header"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(header.contains("操作员：李审核"), "{header}");
    b.shot("2-overview").await;
    let cookie = c.get_named_cookie(console::COOKIE).await.unwrap();
    let session = format!("{}={}", console::COOKIE, cookie.value());
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Strict")
    );

    // Find the application by its guarantee number; its timeline.
    c.goto(&format!("{console}/console/applications"))
        .await
        .unwrap();
    let search = c.form(Locator::Css("form.row")).await.unwrap();
    search.set_by_name("q", &baohanno).await.unwrap();
    search.submit().await.unwrap();
    let list = b.wait_text("CON-OK").await;
    assert!(list.contains("CON-OK"), "{list}");
    assert!(list.contains("138****8000"), "masked in lists: {list}");
    c.find(Locator::LinkText("CON-OK"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_path("/console/applications/CON-OK").await;
    let page = b.wait_text("时间线").await;
    for want in [
        "收到投保申请（baohanapply）",
        "核保决定：通过",
        "收到付款：已入账",
        "出具保函（密文版）",
        "通知 processnotice",
        "通知 paynotice",
        "通知 baohannotice",
        "平台已接收",
        "13800138000",
        baohanno.as_str(),
    ] {
        assert!(
            page.contains(want),
            "{want} not on the application page:\n{page}"
        );
    }
    b.shot("3-application").await;
    // The guarantee PDF opens from the page (with the session only).
    let href = c
        .find(Locator::LinkText("查看 PDF"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let pdf_url = format!("{console}{href}");
    let signed_in = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pdf = signed_in
        .get(&pdf_url)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    assert!(gw_tests::stack::pdf_text(&pdf).contains(&baohanno));
    let anonymous = signed_in.get(&pdf_url).send().await.unwrap();
    assert_eq!(anonymous.status(), 303, "no file without a session");

    // Refused and changes nothing: no session, a wrong CSRF token.
    let refund_url = format!("{console}/console/payments/P-CON-1/refund");
    let r = signed_in
        .post(&refund_url)
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = signed_in
        .post(&refund_url)
        .header("cookie", &session)
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = signed_in
        .post(&refund_url)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error(),
        "no CSRF field: {}",
        r.status()
    );
    assert_eq!(payment_status(&d, "P-CON-1").await.as_deref(), Some("held"));

    // A referral decided: the platform hears the processnotice.
    c.goto(&format!("{console}/console/referrals"))
        .await
        .unwrap();
    let queue = b.text().await;
    assert!(queue.contains("CON-REF"), "{queue}");
    assert!(
        queue.contains("转人工"),
        "the rule that referred it: {queue}"
    );
    b.shot("4-referrals").await;
    let decide = c
        .form(Locator::Css("form[action='/console/referrals/CON-REF']"))
        .await
        .unwrap();
    decide.set_by_name("remark", "风控复核通过").await.unwrap();
    decide
        .submit_with(Locator::Css("button[value='approve']"))
        .await
        .unwrap();
    b.wait_text("审核决定已提交").await;
    let got = d.wait_delivered("CON-REF", 1).await;
    assert_eq!(got[0].interface, "processnotice");
    assert_eq!(got[0].json["applystatus"], "1");
    let ops: Vec<Value> = json_of(gw_tests::admin_client().get(format!(
        "{}/admin/operations?action=referral.decided&subject=CON-REF",
        d.admin["underwriting"]
    )))
    .await;
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(ops[0]["actor"], "李审核");
    assert_eq!(ops[0]["channel"], "console");

    // The dead notice re-sent once the platform is back.
    d.platform.clear_script("CON-DEAD");
    c.goto(&format!("{console}/console/notices?state=dead"))
        .await
        .unwrap();
    b.wait_text("CON-DEAD").await;
    b.shot("5-notices").await;
    let resend = c
        .find(Locator::XPath(
            "//tr[td/a[text()='CON-DEAD']]//form[contains(@action,'/resend')]",
        ))
        .await
        .unwrap();
    resend
        .find(Locator::Css("button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_text("通知已重新发送").await;
    let got = d.wait_delivered("CON-DEAD", 1).await;
    assert_eq!(got[0].interface, "processnotice");

    // The held payment refunded.
    c.goto(&format!("{console}/console/payments"))
        .await
        .unwrap();
    let payments = b.text().await;
    assert!(payments.contains("P-CON-1"), "{payments}");
    assert!(payments.contains("6222********1234"), "masked: {payments}");
    assert!(!payments.contains("6222020000001234"), "masked: {payments}");
    b.shot("6-payments").await;
    c.find(Locator::Css(
        "form[action='/console/payments/P-CON-1/refund'] button",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    b.wait_text("已登记退款").await;
    assert_eq!(
        payment_status(&d, "P-CON-1").await.as_deref(),
        Some("refund_requested")
    );

    // The other pages.
    for (path, name, heading) in [
        ("/console/dead-letters", "7-dead-letters", "死信"),
        ("/console/verifications", "8-verifications", "验真记录"),
    ] {
        c.goto(&format!("{console}{path}")).await.unwrap();
        let h1 = c
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(h1, heading);
        b.shot(name).await;
    }

    // Signing out ends the session: the old cookie opens nothing.
    c.find(Locator::Css("form.logout button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_path("/console/login").await;
    let r = signed_in
        .get(format!("{console}/console"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "signed out");

    b.client.close().await.unwrap();
    d.stop().await;
}

on_both!(a_browser_runs_the_console);
