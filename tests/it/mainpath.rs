//! The main path through the real bus and database: underwriting (approve,
//! reject, refer and decide, repeats, blocklist), payment (payapply, the
//! cashier, held and late payments, cancellation, concurrent duplicates),
//! issuance (PDFs, restore, validity) and verification.

use std::time::Duration;

use gw_bus::Message;
use gw_contract::queues;
use gw_contract::{Contract, PaymentConfirmation, ReviewDecision};
use gw_storage::{applications, guarantees, payments, underwriting};
use gw_tests::stack::{Stack, pdf_text};
use gw_tests::*;
use serde_json::{Value, json};

fn apply(applyno: &str, code: &str, amount: &str) -> Value {
    json!({
        "applyno": applyno, "biddername": "湖南建工集团有限公司", "biddercode": code,
        "bzjamount": amount, "jbrname": "张三", "jbrphone": "13800138000"
    })
}

const GOOD: &str = samples::BIDDER_CODE;

fn admin() -> reqwest::Client {
    reqwest::Client::new()
}

async fn state(s: &Stack, applyno: &str) -> String {
    applications::find(s.h.db.conn(), &gw_tests::applyno(applyno))
        .await
        .unwrap()
        .map(|a| a.state.to_string())
        .unwrap_or_default()
}

async fn wait_state(s: &Stack, applyno: &str, want: &str) {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let st = state(s, applyno).await;
        if st == want {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "{applyno} is {st:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A payment confirmation as the bank's gateway publishes it.
fn confirmation(applyno: &str, paynumber: &str, paymoney: &str) -> Message {
    let p = json!({
        "applyno": applyno, "paynumber": paynumber, "paytype": "04", "paymoney": paymoney,
        "paydate": "2025-11-28 11:00:00", "payname": "湖南建工集团有限公司", "payaccount": "6222020000001234",
        "paybank": "中国银行长沙分行"
    });
    Message::json(
        PaymentConfirmation::KIND,
        PaymentConfirmation::SCHEMA,
        Some(applyno),
        &p,
    )
    .unwrap()
}

async fn payapply(s: &Stack, applyno: &str) -> Value {
    let reply = call(&s.ingress.address, "payapply", &json!({"applyno": applyno})).await;
    if reply["code"] != 200 {
        return reply;
    }
    serde_json::from_str(&decrypt(reply["data"].as_str().unwrap())).unwrap()
}

/// The cashier URL of `premiumurl`, on the payment service.
fn cashier_url(s: &Stack, premiumurl: &str) -> String {
    let path = premiumurl.split("/cashier/").nth(1).unwrap();
    format!("{}/cashier/{path}", s.cashier)
}

async fn approved(s: &Stack, applyno: &str) {
    s.call_ok("baohanapply", &apply(applyno, GOOD, "200000.00"))
        .await;
    s.wait_delivered(applyno, 1).await;
    wait_state(s, applyno, "approved").await;
}

async fn download(url: &str) -> Vec<u8> {
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let body = resp.bytes().await.unwrap();
    gw_envelope::Sm4Key::from_appsecret(APPSECRET)
        .unwrap()
        .decrypt_bytes(&body)
        .unwrap()
}

#[tokio::test]
async fn approve_reject_and_refer_then_decide() {
    let s = Stack::start(&[("GW__UNDERWRITING__RULES__REFER_FROM", "3000000.00")]).await;
    s.call_ok("baohanapply", &apply("TB-OK", GOOD, "200000.00"))
        .await;
    s.call_ok(
        "baohanapply",
        &apply("TB-BADCODE", "91430000183764427X", "200000.00"),
    )
    .await;
    s.call_ok("baohanapply", &apply("TB-BIG", GOOD, "3500000.00"))
        .await;
    s.call_ok("baohanapply", &apply("TB-BIG2", GOOD, "3200000.00"))
        .await;

    let ok = s.wait_delivered("TB-OK", 1).await;
    assert_eq!(ok[0].interface, "processnotice");
    assert_eq!(
        ok[0].json,
        json!({"applyno": "TB-OK", "applystatus": "1", "remark": "审核通过", "rate": "0.0015", "cost": "300.00"})
    );
    let bad = s.wait_delivered("TB-BADCODE", 1).await;
    assert_eq!(
        bad[0].json,
        json!({"applyno": "TB-BADCODE", "applystatus": "2", "remark": "统一社会信用代码校验失败"})
    );

    // Referred: no notice until someone decides.
    wait_state(&s, "TB-BIG", "referred").await;
    wait_state(&s, "TB-BIG2", "referred").await;
    assert!(s.delivered("TB-BIG").is_empty());
    // A person decides through the admin API.
    let url = format!(
        "{}/admin/applications/TB-BIG/decision",
        s.underwriting_admin
    );
    let body = json!({"verdict": "approve", "remark": "风控复核通过", "decided_by": "zhang.wei"});
    assert_eq!(
        admin()
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = admin()
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Recorded with who decided (no X-Operator: the decision's decided_by).
    let op = assert_recorded(
        &s.underwriting_admin,
        "referral.decided",
        "TB-BIG",
        "zhang.wei",
    )
    .await;
    assert_eq!(
        (
            op["before"]["state"].as_str(),
            op["after"]["verdict"].as_str()
        ),
        (Some("referred"), Some("approve"))
    );
    let big = s.wait_delivered("TB-BIG", 1).await;
    assert_eq!(big[0].json["applystatus"], "1");
    assert_eq!(big[0].json["rate"], "0.0010");
    assert_eq!(big[0].json["cost"], "3500.00");
    // A risk system decides through the decisions queue.
    let decision = json!({"applyno": "TB-BIG2", "verdict": "reject", "remark": "关联企业风险", "decided_by": "risk-engine"});
    let m = Message::json(
        ReviewDecision::KIND,
        ReviewDecision::SCHEMA,
        Some("TB-BIG2"),
        &decision,
    )
    .unwrap();
    s.h.bus
        .send(queues::UNDERWRITING_DECISIONS, &m)
        .await
        .unwrap();
    let big2 = s.wait_delivered("TB-BIG2", 1).await;
    assert_eq!(
        big2[0].json,
        json!({"applyno": "TB-BIG2", "applystatus": "2", "remark": "关联企业风险"})
    );
    // Deciding again is refused: it is no longer referred.
    let r = admin()
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // Every rule's outcome is recorded, and who decided.
    let d = underwriting::decisions(s.h.db.conn(), &applyno("TB-BIG"))
        .await
        .unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(
        (d[0].decision.as_str(), d[0].decided_by.as_str()),
        ("refer", "rules")
    );
    let checks: Value = serde_json::from_str(&d[0].checks).unwrap();
    let rules: Vec<_> = checks
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rule"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        rules,
        [
            "credit_code",
            "blocklist",
            "max_amount",
            "exposure",
            "premium",
            "refer"
        ]
    );
    assert_eq!(
        (d[1].decision.as_str(), d[1].decided_by.as_str()),
        ("approve", "zhang.wei")
    );
    let view: Value = admin()
        .get(format!(
            "{}/admin/applications/TB-BIG",
            s.underwriting_admin
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["state"], "approved");
    assert_eq!(view["jbrphone"], "138****8000", "personal data masked");

    // Every decision is a domain event.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let kinds: Vec<String> =
        s.h.drain_journal()
            .await
            .into_iter()
            .map(|m| m.kind)
            .collect();
    for k in [
        "application.approved",
        "application.rejected",
        "application.referred",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_repeated_baohanapply_resends_the_decision_without_deciding_again() {
    let s = Stack::start(&[]).await;
    approved(&s, "TB-REP").await;
    s.call_ok("baohanapply", &apply("TB-REP", GOOD, "200000.00"))
        .await;
    let got = s.wait_delivered("TB-REP", 2).await;
    assert_eq!(got[0].json, got[1].json, "the same decision, sent again");
    assert_eq!(
        underwriting::decisions(s.h.db.conn(), &applyno("TB-REP"))
            .await
            .unwrap()
            .len(),
        1,
        "no second decision"
    );

    // Changed content on an unpaid application is underwritten afresh.
    s.call_ok("baohanapply", &apply("TB-REP", GOOD, "400000.00"))
        .await;
    let got = s.wait_delivered("TB-REP", 3).await;
    assert_eq!(got[2].json["cost"], "600.00");
    assert_eq!(
        underwriting::decisions(s.h.db.conn(), &applyno("TB-REP"))
            .await
            .unwrap()
            .len(),
        2
    );

    // The blocklist, from the admin API.
    let block = format!("{}/admin/blocklist/{GOOD}", s.underwriting_admin);
    let r = admin()
        .put(&block)
        .bearer_auth(ADMIN_TOKEN)
        .header("x-operator", "risk.wang")
        .json(&json!({"reason": "司法冻结"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let op = assert_recorded(&s.underwriting_admin, "blocklist.added", GOOD, "risk.wang").await;
    assert_eq!(
        (op["before"].is_null(), op["after"]["reason"].as_str()),
        (true, Some("司法冻结"))
    );
    s.call_ok("baohanapply", &apply("TB-BLOCKED", GOOD, "100000.00"))
        .await;
    let got = s.wait_delivered("TB-BLOCKED", 1).await;
    assert_eq!(got[0].json["applystatus"], "2");
    assert_eq!(got[0].json["remark"], "投标人不符合承保条件");
    let r = admin()
        .delete(&block)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // An admin call that names no one is recorded as `admin`.
    let op = assert_recorded(&s.underwriting_admin, "blocklist.removed", GOOD, "admin").await;
    assert_eq!(op["before"]["reason"], "司法冻结");
    let r = admin()
        .delete(&block)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn payapply_the_cashier_payment_issuance_restore_and_verification() {
    // On quorum queues: the main path as deployed.
    let s = Stack::start(&[QUORUM]).await;
    approved(&s, "TB-PAY").await;

    // payapply before payment: the cashier link, unpaid.
    let data = payapply(&s, "TB-PAY").await;
    assert_eq!(data["premiumstatus"], "0");
    let premiumurl = data["premiumurl"].as_str().unwrap().to_owned();
    assert!(premiumurl.starts_with(&s.files), "{premiumurl}");
    let page = reqwest::get(cashier_url(&s, &premiumurl))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "湖南建工集团有限公司",
        "200000.00",
        "300.00",
        "支付宝",
        "微信",
        "银行转账",
        "<form method=\"post\"",
    ] {
        assert!(
            page.contains(needle),
            "{needle} missing from the cashier page"
        );
    }
    // The sandbox form, posted as a browser (or a script) does.
    let form = [
        ("paytype", "01"),
        ("payname", "湖南建工集团有限公司"),
        ("payaccount", "zfb-13800138000"),
        ("paybank", "支付宝"),
        ("paymoney", "300.00"),
    ];
    let r = reqwest::Client::new()
        .post(format!("{}/pay", cashier_url(&s, &premiumurl)))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("支付已提交"));

    // processnotice, then paynotice, then baohannotice, in that order.
    let got = s.wait_delivered("TB-PAY", 3).await;
    let order: Vec<&str> = got.iter().map(|r| r.interface.as_str()).collect();
    assert_eq!(order, ["processnotice", "paynotice", "baohannotice"]);
    let pay = &got[1].json;
    assert_eq!(
        (
            pay["premiumstatus"].as_str(),
            pay["paytype"].as_str(),
            pay["paymoney"].as_str()
        ),
        (Some("1"), Some("01"), Some("300.00"))
    );
    for f in [
        "paynumber",
        "paydate",
        "payname",
        "payaccount",
        "paybank",
        "ipcontent",
        "remark",
    ] {
        assert!(
            pay[f].as_str().is_some_and(|v| !v.is_empty()),
            "paynotice.{f}"
        );
    }
    let issued = &got[2].json;
    let baohanno = issued["baohanno"].as_str().unwrap().to_owned();
    assert!(
        baohanno.starts_with("BH") && baohanno.len() == 18,
        "{baohanno}"
    );
    assert_eq!(issued["cost"], "300.00");
    assert_eq!(issued["rate"], "0.0015");
    assert_eq!(issued["instname"], "湖南某某融资担保有限公司");
    assert_eq!(issued["instcode"], "91430100MA4L0000X9");

    // payapply after payment.
    assert_eq!(payapply(&s, "TB-PAY").await["premiumstatus"], "1");
    let page = reqwest::get(cashier_url(&s, &premiumurl))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("保费已支付") && !page.contains("<form"),
        "no second payment offered"
    );

    // The cipher guarantee: what it says, and what it withholds.
    let cipher = download(issued["baohanurl"].as_str().unwrap()).await;
    let text = pdf_text(&cipher);
    for needle in [
        "投标保函",
        "密文保函",
        baohanno.as_str(),
        "湖南建工集团有限公司",
        GOOD,
        "200000.00",
        "贰拾万元整",
        "湖南某某融资担保有限公司",
        "见索即付",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the cipher guarantee:\n{text}"
        );
    }
    assert!(
        !text.contains("长沙市某某建设管理中心") && !text.contains("某某道路工程"),
        "the cipher guarantee withholds the project"
    );

    // Restore across a year end: validtime = bid day + 1 + 1 day, 23:59:59.
    // The coming 31 December, so that the guarantee is still valid.
    let year = chrono::Datelike::year(&chrono::Utc::now()) + 1;
    let (bidtime, validtime) = (
        format!("{}-12-31 09:30:00", year - 1),
        format!("{year}-01-02 23:59:59"),
    );
    let mut revert = samples::request(gw_protocol::Interface::RevertApply, "TB-PAY");
    revert["baohanno"] = json!(baohanno);
    revert["bidtime"] = json!(bidtime);
    revert["bidvalid"] = json!("1");
    s.call_ok("revertapply", &revert).await;
    let got = s.wait_delivered("TB-PAY", 4).await;
    let rn = &got[3].json;
    assert_eq!(got[3].interface, "revertnotice");
    assert_eq!(rn["poltime"], bidtime.as_str());
    assert_eq!(rn["validtime"], validtime.as_str());
    let restored = download(rn["baohanurl"].as_str().unwrap()).await;
    let text = pdf_text(&restored);
    for needle in [
        "还原保函",
        baohanno.as_str(),
        "长沙市某某建设管理中心",
        "某某道路工程",
        "XM-2025-001",
        "长沙市",
        validtime.as_str(),
        "贰拾万元整",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the restored guarantee:\n{text}"
        );
    }
    wait_state(&s, "TB-PAY", "restored").await;

    // A revertapply naming this guarantee for an application that has none
    // is refused at once, and nothing is queued.
    approved(&s, "TB-OTHER").await;
    let mut wrong = revert.clone();
    wrong["applyno"] = json!("TB-OTHER");
    let reply = call(&s.ingress.address, "revertapply", &wrong).await;
    assert_eq!(
        (reply["code"].as_i64(), reply["msg"].as_str()),
        (Some(500), Some("保费尚未支付"))
    );
    assert!(
        s.h.take(queues::REVERTAPPLY).await.is_none(),
        "nothing queued"
    );

    // Verification: by number and code, and by file.
    let g = guarantees::find(s.h.db.conn(), &applyno("TB-PAY"))
        .await
        .unwrap()
        .unwrap();
    let v: Value = reqwest::get(format!(
        "{}/verify?baohanno={baohanno}&code={}&format=json",
        s.verify, g.verify_code
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(v["found"], true);
    assert_eq!(v["status"], "restored");
    assert_eq!(v["applicant"], "湖南建工集团有限公司");
    assert_eq!(v["amount"], "200000.00");
    assert_eq!(v["validity"]["to"], validtime.as_str());
    let docs = v["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["sm3"], gw_envelope::sign::sm3_hex(&cipher));
    assert!(docs.iter().all(|d| d["signature_valid"] == true));
    let html = reqwest::get(format!(
        "{}/verify?baohanno={baohanno}&code={}",
        s.verify, g.verify_code
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(html.contains("湖南建工集团有限公司") && html.contains("验证通过"));

    // A wrong code and an unknown number answer alike.
    let wrong = reqwest::get(format!(
        "{}/verify?baohanno={baohanno}&code=WRONG999&format=json",
        s.verify
    ))
    .await
    .unwrap();
    let unknown = reqwest::get(format!(
        "{}/verify?baohanno=BH2099010100000001&code={}&format=json",
        s.verify, g.verify_code
    ))
    .await
    .unwrap();
    assert_eq!(wrong.status(), 404);
    assert_eq!(unknown.status(), 404);
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());

    for (pdf, kind) in [(&cipher, "cipher"), (&restored, "restored")] {
        let r: Value = reqwest::Client::new()
            .post(format!("{}/verify/file", s.verify))
            .header("content-type", "application/pdf")
            .body(pdf.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["genuine"], true, "{kind}");
        assert_eq!(r["kind"], kind);
    }
    let mut tampered = restored.clone();
    let i = tampered.len() / 2;
    tampered[i] ^= 0x01;
    let part = reqwest::multipart::Part::bytes(tampered).file_name("guarantee.pdf");
    let r: Value = reqwest::Client::new()
        .post(format!("{}/verify/file", s.verify))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["genuine"], false, "one byte changed");
    s.stop().await;
}

#[tokio::test]
async fn a_wrong_amount_is_held_for_a_person() {
    let s = Stack::start(&[]).await;
    approved(&s, "TB-HELD").await;
    s.h.bus
        .send(
            queues::PAYMENT_CONFIRMATIONS,
            &confirmation("TB-HELD", "P-HELD-1", "299.99"),
        )
        .await
        .unwrap();
    let held = loop {
        let p = payments::find(s.h.db.conn(), "P-HELD-1").await.unwrap();
        if let Some(p) = p.filter(|p| p.status == "held") {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        held.reason.as_deref(),
        Some("金额不符：应付 300.00 元，实付 299.99 元")
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        state(&s, "TB-HELD").await,
        "approved",
        "not silently accepted"
    );
    assert_eq!(s.delivered("TB-HELD").len(), 1, "no paynotice");
    let list: Value = admin()
        .get(format!("{}/admin/payments?status=held", s.payment_admin))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["paynumber"], "P-HELD-1");
    assert_eq!(list[0]["payaccount"], "6222********1234");
    // Eight operators press "refund" at once: one refund, one event.
    let url = format!("{}/admin/payments/P-HELD-1/refund", s.payment_admin);
    let presses = (0..8).map(|_| {
        let (client, url) = (admin(), url.clone());
        async move {
            client
                .post(url)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(presses).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    // One refund, one record; the refused presses left none.
    let op = assert_recorded(&s.payment_admin, "payment.refunded", "P-HELD-1", "admin").await;
    assert_eq!(op["before"]["status"], "held");
    let csv = reqwest::Client::new()
        .get(format!(
            "{}/admin/operations?subject=P-HELD-1&format=csv",
            s.payment_admin
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(",payment.refunded,P-HELD-1,"), "{csv}");
    assert_eq!(
        payments::find(s.h.db.conn(), "P-HELD-1")
            .await
            .unwrap()
            .unwrap()
            .status,
        "refund_requested"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let events = s.h.drain_journal().await;
    assert!(events.iter().any(|e| e.kind == "payment.held"));
    let refunds: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "payment.refund_requested")
        .map(|e| e.payload_json().unwrap())
        .collect();
    assert_eq!(refunds.len(), 1, "one refund event");
    assert_eq!(refunds[0]["paynumber"], "P-HELD-1", "keyed by paynumber");
    s.stop().await;
}

#[tokio::test]
async fn a_cancel_then_a_late_payment_gives_a_refund_event_and_no_notice() {
    let s = Stack::start(&[]).await;
    approved(&s, "TB-CANCEL").await;
    let premiumurl = payapply(&s, "TB-CANCEL").await["premiumurl"]
        .as_str()
        .unwrap()
        .to_owned();
    s.call_ok(
        "cancelapply",
        &json!({"applyno": "TB-CANCEL", "scene": "1"}),
    )
    .await;
    wait_state(&s, "TB-CANCEL", "cancelled").await;
    let refused = call(
        &s.ingress.address,
        "payapply",
        &json!({"applyno": "TB-CANCEL"}),
    )
    .await;
    assert_eq!(
        (refused["code"].as_i64(), refused["msg"].as_str()),
        (Some(500), Some("申请已取消"))
    );
    let page = reqwest::get(cashier_url(&s, &premiumurl))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("该申请已取消") && !page.contains("<form"));

    s.h.bus
        .send(
            queues::PAYMENT_CONFIRMATIONS,
            &confirmation("TB-CANCEL", "P-LATE-1", "300.00"),
        )
        .await
        .unwrap();
    let late = loop {
        if let Some(p) = payments::find(s.h.db.conn(), "P-LATE-1")
            .await
            .unwrap()
            .filter(|p| p.status != "held")
        {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(late.status, "refund_needed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(state(&s, "TB-CANCEL").await, "cancelled");
    let sent: Vec<String> = s
        .platform
        .received_for("TB-CANCEL")
        .into_iter()
        .map(|r| r.interface)
        .collect();
    assert_eq!(sent, ["processnotice"], "nothing after the cancellation");
    let events = s.h.drain_journal().await;
    let refund = events
        .iter()
        .find(|e| e.kind == "payment.refund_requested")
        .expect("refund event");
    assert_eq!(refund.correlation_id.as_deref(), Some("TB-CANCEL"));
    assert!(events.iter().any(|e| e.kind == "application.cancelled"));
    s.stop().await;
}

#[tokio::test]
async fn concurrent_duplicate_confirmations_issue_one_guarantee() {
    let s = Stack::start(&[]).await;
    approved(&s, "TB-DUP").await;
    let same = confirmation("TB-DUP", "P-DUP-1", "300.00");
    let mut sends = Vec::new();
    for i in 0..6 {
        let bus = s.h.bus.clone();
        // The same confirmation delivered again and again (new message ids),
        // plus a second, different payment racing it.
        let m = if i == 5 {
            confirmation("TB-DUP", "P-DUP-2", "300.00")
        } else {
            same.clone().with_id(format!("dup-{i}"))
        };
        sends.push(tokio::spawn(async move {
            bus.send(queues::PAYMENT_CONFIRMATIONS, &m).await
        }));
    }
    for t in sends {
        t.await.unwrap().unwrap();
    }
    let got = s.wait_delivered("TB-DUP", 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kinds: Vec<String> = s
        .delivered("TB-DUP")
        .into_iter()
        .map(|r| r.interface)
        .collect();
    assert_eq!(
        kinds,
        ["processnotice", "paynotice", "baohannotice"],
        "{got:?}"
    );
    let all = payments::list(s.h.db.conn(), Some("TB-DUP"), None)
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "one row per payment number");
    let statuses: Vec<&str> = all.iter().map(|p| p.status.as_str()).collect();
    assert!(
        statuses.contains(&"accepted") && statuses.contains(&"refund_needed"),
        "{statuses:?}"
    );
    assert!(
        guarantees::find(s.h.db.conn(), &applyno("TB-DUP"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(state(&s, "TB-DUP").await, "issued");
    s.stop().await;
}

#[tokio::test]
async fn a_poison_message_on_a_worker_queue_is_dead_lettered() {
    let s = Stack::start(&[]).await;
    let poison = Message::json(
        "inbound.baohanapply",
        1,
        Some("TB-POISON"),
        &json!({"counterpart": "hunan", "request": {"applyno": ""}}),
    )
    .unwrap();
    s.h.bus.send(queues::BAOHANAPPLY, &poison).await.unwrap();
    let (id, error) =
        s.h.wait_dead_letter(queues::BAOHANAPPLY, Duration::from_secs(15))
            .await
            .expect("dead-lettered");
    assert_eq!(id, poison.id);
    assert!(error.contains("unreadable"), "{error}");
    assert!(
        applications::find(s.h.db.conn(), &applyno("TB-POISON"))
            .await
            .unwrap()
            .is_none()
    );
    s.stop().await;
}

#[tokio::test]
async fn verification_is_rate_limited_per_client() {
    let s = Stack::start(&[("GW__ISSUANCE__VERIFY_PER_MINUTE", "3")]).await;
    let url = format!(
        "{}/verify?baohanno=BH2099010100000001&code=AAAA2222&format=json",
        s.verify
    );
    for _ in 0..3 {
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 404);
    }
    let limited = reqwest::get(&url).await.unwrap();
    assert_eq!(limited.status(), 429);
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["message"], "查询过于频繁，请稍后再试");
    // Uploads count against the same budget.
    let r = reqwest::Client::new()
        .post(format!("{}/verify/file", s.verify))
        .body(b"%PDF-1.7".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    s.stop().await;

    // Behind a trusted proxy each forwarded client has its own budget,
    // and an IPv6 client one per /64.
    let s = Stack::start(&[
        ("GW__ISSUANCE__VERIFY_PER_MINUTE", "2"),
        ("GW__HTTP__TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let get = |xff: &'static str| {
        let url = url.replace(&url[..url.find("/verify").unwrap()], &s.verify);
        async move {
            reqwest::Client::new()
                .get(url)
                .header("x-forwarded-for", xff)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for xff in [
        "203.0.113.7",
        "203.0.113.7",
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
    ] {
        assert_eq!(get(xff).await, 404, "{xff}");
    }
    assert_eq!(get("203.0.113.7").await, 429);
    assert_eq!(get("2001:db8:1:2::3").await, 429, "the same /64");
    assert_eq!(get("203.0.113.8").await, 404, "another client");
    s.stop().await;
}

/// `POST /verify/file` hashes uploads as they stream (more than 20 MB is
/// refused without being held) and takes a bounded number at once: one
/// more is told to come back (503, `Retry-After`).
#[tokio::test]
async fn file_verification_streams_and_takes_a_bounded_number_at_once() {
    let s = Stack::start(&[("GW__ISSUANCE__VERIFY_FILE_CONCURRENCY", "1")]).await;
    let url = format!("{}/verify/file", s.verify);
    let client = reqwest::Client::new();
    // 21 MB in 1 MB chunks: refused once past the limit.
    let chunks =
        futures::stream::iter((0..21).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024 * 1024])));
    let r = client
        .post(&url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    // The server may answer 413 before the client has sent everything.
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }

    // One slow upload holds the only slot; a second is sent away at once.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let slow =
        tokio::spawn({
            let (client, url) = (client.clone(), url.clone());
            async move {
                let chunks = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|c| (c, rx))
                });
                let body = reqwest::Body::wrap_stream(chunks);
                client.post(url).body(body).send().await.unwrap().status()
            }
        });
    tx.send(Ok(b"%PDF-1.7 ".to_vec())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = client
        .post(&url)
        .body(b"%PDF-1.7".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    tx.send(Ok(b"not ours".to_vec())).await.unwrap();
    drop(tx);
    assert_eq!(slow.await.unwrap(), 200, "the slow upload is answered");
    let after = client
        .post(&url)
        .body(b"%PDF-1.7".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200, "the slot is free again");
    let v: Value = after.json().await.unwrap();
    assert_eq!(v["genuine"], false);
    s.stop().await;
}

#[tokio::test]
async fn underwriting_rules_reload_while_running() {
    let dir = std::env::temp_dir().join(format!("gw-rules-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.toml");
    let rules = |rate: &str| {
        format!(
            "require_valid_credit_code = true\nmax_amount_per_application = \"5000000.00\"\n\
max_exposure_per_bidder = \"20000000.00\"\nminimum_premium = \"100.00\"\nrate_bands = [{{ rate = \"{rate}\" }}]\n"
        )
    };
    std::fs::write(&file, rules("0.0020")).unwrap();
    let path = file.display().to_string();
    let s = Stack::start(&[
        ("GW__UNDERWRITING__RULES_FILE", &path),
        ("GW__UNDERWRITING__RULES_RELOAD_INTERVAL", "200ms"),
    ])
    .await;
    // The first rules; then a valid change applies without a restart; then
    // an invalid one is refused and the rules in force stay.
    let steps = [
        ("TB-RULES-1", None, "400.00"),
        ("TB-RULES-2", Some("0.0025"), "500.00"),
        ("TB-RULES-3", Some("1.5"), "500.00"),
    ];
    for (applyno, rate, cost) in steps {
        if let Some(rate) = rate {
            std::fs::write(&file, rules(rate)).unwrap();
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
        s.call_ok("baohanapply", &apply(applyno, GOOD, "200000.00"))
            .await;
        assert_eq!(
            s.wait_delivered(applyno, 1).await[0].json["cost"],
            cost,
            "{applyno}"
        );
    }
    let mut versions = Vec::new();
    for a in ["TB-RULES-1", "TB-RULES-2", "TB-RULES-3"] {
        versions.push(
            underwriting::decisions(s.h.db.conn(), &applyno(a))
                .await
                .unwrap()[0]
                .rules_version
                .clone(),
        );
    }
    assert_ne!(
        versions[0], versions[1],
        "the decision records which rules applied"
    );
    assert_eq!(versions[1], versions[2]);
    // Both changes are operation records: the reload and the refusal.
    let ops = gw_storage::operations::list(
        s.h.db.conn(),
        &gw_storage::operations::Filter {
            subject: Some(path.clone()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let seen: Vec<(&str, &str)> = ops
        .iter()
        .map(|o| (o.action.as_str(), o.actor.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("rules.reloaded", "system"), ("rules.rejected", "system")]
    );
    assert_eq!(
        ops[0].after.as_ref().unwrap()["version"],
        versions[1].as_str()
    );
    s.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Eight applications of one bidder at once, each within the limits, that
/// together pass the bidder's maximum exposure: decided one after the
/// other, so exactly as many are approved as the maximum allows.
#[tokio::test]
async fn concurrent_applications_of_one_bidder_never_pass_its_exposure() {
    // 200 000.00 each; 500 000.00 in all: two fit, a third does not.
    let s = Stack::start(&[
        (
            "GW__UNDERWRITING__RULES__MAX_EXPOSURE_PER_BIDDER",
            "500000.00",
        ),
        ("GW__AMQP__PREFETCH", "16"),
        ("GW__DATABASE__MAX_CONNECTIONS", "12"),
    ])
    .await;
    let names: Vec<String> = (0..8).map(|i| format!("TB-EXPO-{i}")).collect();
    let bodies: Vec<Value> = names.iter().map(|n| samples::baohanapply(n)).collect();
    let calls = bodies.iter().map(|b| s.call_ok("baohanapply", b));
    futures::future::join_all(calls).await;
    for n in &names {
        s.wait_delivered(n, 1).await;
    }
    let mut approved = 0;
    for n in &names {
        match state(&s, n).await.as_str() {
            "approved" => approved += 1,
            "rejected" => {}
            other => panic!("{n} is {other}"),
        }
    }
    assert_eq!(approved, 2, "two of eight fit the maximum");
    s.stop().await;
}
