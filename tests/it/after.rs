//! After issuance, on both deployments: invoices, refunds, claims,
//! write-offs, the expiry sweep, a cancel after payment, the refusals
//! ingress answers at once, and a restore made again when the bid opening
//! moves. The platform stand-in receives the notices and serves the
//! SM4-encrypted evidence files.

use std::time::Duration;

use gw_contract::queues;
use gw_tests::deploy::{Deployment, Kind};
use gw_tests::stack::pdf_text;
use gw_tests::*;
use serde_json::{Value, json};

on_both!(
    invoices,
    invoices_from_the_core_system,
    refunds,
    claims,
    write_offs_and_expiry,
    a_cancel_wins_until_paynotice_is_accepted,
    what_cannot_be_done_is_refused_at_once,
    a_moved_bid_opening_restores_again,
);

fn revert(applyno: &str, baohanno: &str, bidtime: &str, bidvalid: &str) -> Value {
    let mut r = samples::request(gw_protocol::Interface::RevertApply, applyno);
    r["baohanno"] = json!(baohanno);
    r["bidtime"] = json!(bidtime);
    r["bidvalid"] = json!(bidvalid);
    r
}

/// Restores the guarantee; waits for the `revertnotice` that makes `n`
/// notices in all, and returns it.
async fn restored(d: &Deployment, applyno: &str, baohanno: &str, bidtime: &str, n: usize) -> Value {
    d.call_ok("revertapply", &revert(applyno, baohanno, bidtime, "90"))
        .await;
    let got = d.wait_delivered(applyno, n).await;
    assert_eq!(got[n - 1].interface, "revertnotice");
    got[n - 1].json.clone()
}

fn cst(t: chrono::DateTime<chrono::Utc>) -> String {
    gw_protocol::WireTime::from_utc(t).to_string()
}

fn request(i: gw_protocol::Interface, applyno: &str, baohanno: &str, applicationno: &str) -> Value {
    let mut r = samples::request(i, applyno);
    r["baohanno"] = json!(baohanno);
    r["applicationno"] = json!(applicationno);
    r
}

fn claim(
    applyno: &str,
    baohanno: &str,
    applicationno: &str,
    amount: &str,
    files: &[String],
) -> Value {
    let mut r = request(
        gw_protocol::Interface::ClaimApply,
        applyno,
        baohanno,
        applicationno,
    );
    r["applymount"] = json!(amount);
    r["filelist"] = json!(
        files
            .iter()
            .map(|f| json!({"fileurl": f}))
            .collect::<Vec<_>>()
    );
    r
}

/// Confirms a claim's payout as the bank does (unless it was paid at once),
/// once the claim is approved and waits for it.
async fn confirm_payout(d: &Deployment, applicationno: &str) {
    if d.auto_payout {
        return;
    }
    let no = gw_protocol::ApplicationNo::try_from(applicationno).unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = gw_storage::requests::claim(d.db.conn(), &no).await.unwrap();
        if c.is_some_and(|c| c.status == gw_lifecycle::ClaimStatus::PayoutPending) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "{applicationno} is not waiting for its payout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = operator_client("理赔专员")
        .post(format!(
            "{}/admin/claims/{applicationno}/payout",
            d.admin["claims"]
        ))
        .json(&json!({"reference": format!("BANK-{applicationno}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let op = assert_recorded(
        &d.admin["claims"],
        "claim.payout_confirmed",
        applicationno,
        "理赔专员",
    )
    .await;
    assert_eq!(op["after"]["reference"], format!("BANK-{applicationno}"));
}

async fn verify_status(d: &Deployment, baohanno: &str) -> Value {
    let code = gw_storage::guarantees::find_by_baohanno(d.db.conn(), baohanno)
        .await
        .unwrap()
        .unwrap()
        .verify_code;
    reqwest::get(format!(
        "{}/verify?baohanno={baohanno}&code={code}&format=json",
        d.verify
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

async fn invoices(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    let (a, b, c, w) = ("TB-INV-A", "TB-INV-B", "TB-INV-C", "TB-INV-W");
    let (ba, bb, bc, bw) = tokio::join!(d.issued(a), d.issued(b), d.issued(c), d.issued(w));
    let inv = gw_protocol::Interface::InvoiceApply;

    // Electronic, ordinary: the PDF is linked at once.
    d.call_ok("invoiceapply", &request(inv, a, &ba, "FP-A1"))
        .await;
    let n = d.wait_notice("invoicenotice", "FP-A1").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["invoiceamount"].as_str()),
        (Some("1"), Some("300.00"))
    );
    assert!(n["invoicetime"].as_str().is_some());
    let pdf = gw_tests::download(n["invoiceurl"].as_str().unwrap()).await;
    let text = pdf_text(&pdf);
    for needle in [
        "普通发票",
        "湖南建工集团有限公司",
        samples::BIDDER_CODE,
        "300.00",
        "叁佰元整",
        "湖南某某融资担保有限公司",
        &ba,
        "6%",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the invoice:\n{text}"
        );
    }
    // The same request again: the same decision, one invoice.
    d.call_ok("invoiceapply", &request(inv, a, &ba, "FP-A1"))
        .await;
    d.platform
        .wait_until(Duration::from_secs(30), |r| {
            r.iter()
                .filter(|x| x.json["applicationno"] == "FP-A1" && x.reply == "Ok")
                .count()
                == 2
        })
        .await;
    let again: Vec<_> = d
        .platform
        .received()
        .into_iter()
        .filter(|x| x.json["applicationno"] == "FP-A1")
        .collect();
    assert_eq!(again[0].json, again[1].json, "the same invoicenotice");
    // Another request for an invoiced guarantee is refused.
    d.call_ok("invoiceapply", &request(inv, a, &ba, "FP-A2"))
        .await;
    let n = d.wait_notice("invoicenotice", "FP-A2").await;
    assert_eq!(n["applystatus"], "2");
    assert!(n["remark"].as_str().unwrap().contains("已开具发票"), "{n}");
    let issued_a = gw_storage::requests::invoices(d.db.conn(), Some(a), 10)
        .await
        .unwrap();
    assert_eq!(
        issued_a
            .iter()
            .filter(|i| i.invoice_number.is_some())
            .count(),
        1
    );

    // 专票: the buyer's address, telephone, bank and account are printed.
    let mut special = request(inv, b, &bb, "FP-B1");
    special["type"] = json!("1");
    special["address"] = json!("长沙市芙蓉区五一大道1号");
    special["phone"] = json!("0731-88880000");
    special["bank"] = json!("中国银行长沙分行");
    special["account"] = json!("6222020000007777");
    d.call_ok("invoiceapply", &special).await;
    let n = d.wait_notice("invoicenotice", "FP-B1").await;
    assert_eq!(n["applystatus"], "1");
    let text = pdf_text(&gw_tests::download(n["invoiceurl"].as_str().unwrap()).await);
    for needle in [
        "增值税专用发票",
        "长沙市芙蓉区五一大道1号",
        "0731-88880000",
        "6222020000007777",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the 专票:\n{text}"
        );
    }

    // Paper: recorded for the back office; the notice once it confirms.
    let mut paper = request(inv, c, &bc, "FP-C1");
    paper["invoicetype"] = json!("2");
    paper["mobile"] = json!("13700137000");
    paper["contactname"] = json!("王五");
    paper["contactaddress"] = json!("长沙市岳麓区某某路2号");
    paper.as_object_mut().unwrap().remove("email");
    d.call_ok("invoiceapply", &paper).await;
    let mail = d
        .wait_event("invoice.mail_requested", |e| {
            e.kind == "invoice.mail_requested"
        })
        .await;
    let m = mail.payload_json().unwrap();
    assert_eq!(
        (m["applicationno"].as_str(), m["contactname"].as_str()),
        (Some("FP-C1"), Some("王五"))
    );
    assert_eq!(
        d.notices_of("invoicenotice", "FP-C1"),
        0,
        "no notice before it is issued"
    );
    let r = operator_client("财务 李四")
        .post(format!(
            "{}/admin/invoices/FP-C1/issued",
            d.admin["invoice"]
        ))
        .json(&json!({"invoice_number": "PAPER-0001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let op = assert_recorded(
        &d.admin["invoice"],
        "invoice.marked_issued",
        "FP-C1",
        "财务 李四",
    )
    .await;
    assert_eq!(op["after"]["invoice_number"], "PAPER-0001");
    let n = d.wait_notice("invoicenotice", "FP-C1").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["invoiceamount"].as_str()),
        (Some("1"), Some("300.00"))
    );
    assert!(n.get("invoiceurl").is_none(), "a paper invoice has no PDF");

    // A wrong amount is refused with the reason.
    let mut wrong = request(inv, w, &bw, "FP-W1");
    wrong["amount"] = json!("299.00");
    d.call_ok("invoiceapply", &wrong).await;
    let n = d.wait_notice("invoicenotice", "FP-W1").await;
    assert_eq!(n["applystatus"], "2");
    assert!(
        n["remark"]
            .as_str()
            .unwrap()
            .contains("开票金额与已付保费不符"),
        "{n}"
    );
    d.stop().await;
}

/// With `invoice.core_system`, the gateway draws no invoice: it asks the
/// core system (`invoice.requested`) and links the PDF that comes back on
/// `invoice.issued`, byte for byte.
async fn invoices_from_the_core_system(kind: Kind) {
    let d = Deployment::start(kind, &[("GW__INVOICE__CORE_SYSTEM", "true")]).await;
    let a = "TB-INV-CORE";
    let ba = d.issued(a).await;
    let inv = gw_protocol::Interface::InvoiceApply;
    d.call_ok("invoiceapply", &request(inv, a, &ba, "FP-CORE1"))
        .await;
    let asked = d
        .wait_event("invoice.requested", |e| e.kind == "invoice.requested")
        .await
        .payload_json()
        .unwrap();
    assert_eq!(
        (asked["applicationno"].as_str(), asked["amount"].as_str()),
        (Some("FP-CORE1"), Some("300.00"))
    );
    assert_eq!(
        d.notices_of("invoicenotice", "FP-CORE1"),
        0,
        "nothing before the answer"
    );

    let pdf = b"%PDF-1.7 the core system's invoice".to_vec();
    use base64::Engine as _;
    let answer: gw_contract::InvoiceIssued = serde_json::from_value(json!({
        "applicationno": "FP-CORE1", "applyno": a, "invoice_number": "CORE-000042",
        "issued_at": "2026-11-28 10:00:00",
        "pdf_base64": base64::engine::general_purpose::STANDARD.encode(&pdf),
    }))
    .unwrap();
    d.send(&answer).await;
    let n = d.wait_notice("invoicenotice", "FP-CORE1").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["invoicetime"].as_str()),
        (Some("1"), Some("2026-11-28 10:00:00"))
    );
    assert_eq!(
        gw_tests::download(n["invoiceurl"].as_str().unwrap()).await,
        pdf
    );
    // The answer again changes nothing: one notice.
    d.send(&answer).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(d.notices_of("invoicenotice", "FP-CORE1"), 1);
    d.stop().await;
}

async fn refunds(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    let names = ["TB-Q-BEFORE", "TB-Q-AFTER1", "TB-Q-AFTER2", "TB-Q-CLAIMED"];
    let (b0, b1, b2, b3) = tokio::join!(
        d.issued(names[0]),
        d.issued(names[1]),
        d.issued(names[2]),
        d.issued(names[3])
    );
    // Bid opening passed for these (restored with yesterday's opening).
    let yesterday = cst(chrono::Utc::now() - chrono::Duration::days(1));
    tokio::join!(
        restored(&d, names[1], &b1, &yesterday, 4),
        restored(&d, names[2], &b2, &yesterday, 4),
        restored(&d, names[3], &b3, &yesterday, 4),
    );
    let quit = |applyno, baohanno: &str, no: &str, scene: &str| {
        let mut q = request(gw_protocol::Interface::QuitApply, applyno, baohanno, no);
        q["scene"] = json!(scene);
        q
    };

    // Scene 1 before opening: the full premium.
    d.call_ok("quitapply", &quit(names[0], &b0, "TH-0", "1"))
        .await;
    let n = d.wait_notice("quitnotice", "TH-0").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["quitamount"].as_str()),
        (Some("1"), Some("300.00"))
    );
    assert!(n["quittime"].as_str().is_some());
    d.wait_state(names[0], "refunded").await;
    assert_eq!(verify_status(&d, &b0).await["status"], "refunded");
    // Twice: the same answer again; another applicationno is refused; one refund.
    d.call_ok("quitapply", &quit(names[0], &b0, "TH-0", "1"))
        .await;
    d.call_ok("quitapply", &quit(names[0], &b0, "TH-0B", "1"))
        .await;
    let n = d.wait_notice("quitnotice", "TH-0B").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["remark"].as_str()),
        (Some("2"), Some("保函已退保"))
    );
    d.platform
        .wait_until(Duration::from_secs(30), |r| {
            r.iter()
                .filter(|x| x.json["applicationno"] == "TH-0" && x.reply == "Ok")
                .count()
                == 2
        })
        .await;

    // Scene 1 after opening: refused.
    d.call_ok("quitapply", &quit(names[1], &b1, "TH-1", "1"))
        .await;
    let n = d.wait_notice("quitnotice", "TH-1").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["remark"].as_str()),
        (Some("2"), Some("开标后仅流标可退保"))
    );
    assert_eq!(d.state(names[1]).await, "restored");

    // Scene 2 (a failed tender) after opening: refunded.
    d.call_ok("quitapply", &quit(names[2], &b2, "TH-2", "2"))
        .await;
    let n = d.wait_notice("quitnotice", "TH-2").await;
    assert_eq!(n["applystatus"], "1");

    // After a claim was paid: refused.
    d.call_ok("claimapply", &claim(names[3], &b3, "LP-Q", "1000.00", &[]))
        .await;
    confirm_payout(&d, "LP-Q").await;
    d.wait_notice("claimnotice", "LP-Q").await;
    d.call_ok("quitapply", &quit(names[3], &b3, "TH-3", "2"))
        .await;
    let n = d.wait_notice("quitnotice", "TH-3").await;
    assert_eq!(n["applystatus"], "2");
    assert!(n["remark"].as_str().unwrap().contains("理赔"), "{n}");

    // One refund event per refunded payment.
    let refunds: Vec<Value> = d
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == "payment.refund_requested")
        .map(|e| e.payload_json().unwrap())
        .collect();
    let of = |a: &str| refunds.iter().filter(|r| r["applyno"] == a).count();
    assert_eq!(
        (of(names[0]), of(names[1]), of(names[2]), of(names[3])),
        (1, 0, 1, 0)
    );
    assert!(
        refunds
            .iter()
            .all(|r| r["cause"] == "quit" && r["amount"] == "300.00")
    );
    d.stop().await;
}

async fn claims(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    let names = [
        "TB-C-FILES",
        "TB-C-OVER",
        "TB-C-PARTS",
        "TB-C-RACE",
        "TB-C-404",
    ];
    let (b0, b1, b2, b3, b4) = tokio::join!(
        d.issued(names[0]),
        d.issued(names[1]),
        d.issued(names[2]),
        d.issued(names[3]),
        d.issued(names[4]),
    );
    let file = |n: &str| format!("{}/files/{n}", d.platform.base_url);
    d.platform
        .serve_file("claim-letter.pdf", b"%PDF-1.7 claim letter");
    d.platform
        .serve_file("award-notice.pdf", b"%PDF-1.7 award notice");

    // A claim with two files: both fetched, decrypted and kept; paid.
    let files = [file("claim-letter.pdf"), file("award-notice.pdf")];
    d.call_ok(
        "claimapply",
        &claim(names[0], &b0, "LP-F", "50000.00", &files),
    )
    .await;
    confirm_payout(&d, "LP-F").await;
    let n = d.wait_notice("claimnotice", "LP-F").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["claimamount"].as_str()),
        (Some("1"), Some("50000.00"))
    );
    for f in ["claimtime", "payeename", "payeeaccount", "payeebank"] {
        assert!(
            n[f].as_str().is_some_and(|v| !v.is_empty()),
            "claimnotice.{f}"
        );
    }
    let kept = gw_storage::requests::claim(
        d.db.conn(),
        &gw_protocol::ApplicationNo::try_from("LP-F").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let tokens: Vec<String> = serde_json::from_str(&kept.files).unwrap();
    assert_eq!(tokens.len(), 2);
    let store = gw_files::DbFileStore::new(d.db.clone());
    let (_, clear) = gw_files::FileStore::get(&store, &tokens[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(clear, b"%PDF-1.7 claim letter");
    d.wait_state(names[0], "partly_claimed").await;
    assert_eq!(verify_status(&d, &b0).await["claimed"], "50000.00");

    // Over the amount at once: refused.
    d.call_ok(
        "claimapply",
        &claim(names[1], &b1, "LP-O", "200000.01", &[]),
    )
    .await;
    let n = d.wait_notice("claimnotice", "LP-O").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["remark"].as_str()),
        (Some("2"), Some("累计赔付金额超过担保金额"))
    );

    // Partial claims up to the amount, then one past it: refused.
    for (no, amount) in [("LP-P1", "120000.00"), ("LP-P2", "80000.00")] {
        d.call_ok("claimapply", &claim(names[2], &b2, no, amount, &[]))
            .await;
        confirm_payout(&d, no).await;
        assert_eq!(d.wait_notice("claimnotice", no).await["applystatus"], "1");
    }
    d.wait_state(names[2], "claimed").await;
    d.call_ok("claimapply", &claim(names[2], &b2, "LP-P3", "0.01", &[]))
        .await;
    assert_eq!(
        d.wait_notice("claimnotice", "LP-P3").await["applystatus"],
        "2"
    );
    assert_eq!(verify_status(&d, &b2).await["status"], "claimed");

    // Two concurrent claims that together exceed the amount: exactly one paid.
    let (c1, c2) = (
        claim(names[3], &b3, "LP-R1", "150000.00", &[]),
        claim(names[3], &b3, "LP-R2", "150000.00", &[]),
    );
    let (r1, r2) = tokio::join!(d.call("claimapply", &c1), d.call("claimapply", &c2));
    assert_eq!(
        (r1["code"].as_i64(), r2["code"].as_i64()),
        (Some(200), Some(200))
    );
    let approved = async |no: &str| {
        let until = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let c = gw_storage::requests::claim(
                d.db.conn(),
                &gw_protocol::ApplicationNo::try_from(no).unwrap(),
            )
            .await
            .unwrap();
            if let Some(c) = c {
                return c.status != gw_lifecycle::ClaimStatus::Refused;
            }
            assert!(tokio::time::Instant::now() < until, "{no} undecided");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let (a1, a2) = (approved("LP-R1").await, approved("LP-R2").await);
    assert!(
        a1 ^ a2,
        "exactly one of two claims over the amount is approved"
    );
    let (won, lost) = if a1 {
        ("LP-R1", "LP-R2")
    } else {
        ("LP-R2", "LP-R1")
    };
    confirm_payout(&d, won).await;
    assert_eq!(d.wait_notice("claimnotice", won).await["applystatus"], "1");
    assert_eq!(d.wait_notice("claimnotice", lost).await["applystatus"], "2");
    let app = gw_storage::applications::find(d.db.conn(), &applyno(names[3]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.claimed_cents, 15_000_000);

    // A file that stays unreachable: refused, naming the file.
    let missing = file("no-such-file.pdf");
    d.call_ok(
        "claimapply",
        &claim(
            names[4],
            &b4,
            "LP-404",
            "1000.00",
            std::slice::from_ref(&missing),
        ),
    )
    .await;
    let n = d.wait_notice("claimnotice", "LP-404").await;
    assert_eq!(n["applystatus"], "2");
    assert!(n["remark"].as_str().unwrap().contains(&missing), "{n}");
    d.stop().await;
}

async fn write_offs_and_expiry(kind: Kind) {
    // A claim's payout waits for the bank here, on both deployments.
    let d = Deployment::start(kind, &[("GW__CLAIMS__AUTO_PAYOUT", "false")]).await;
    let names = ["TB-W-OFF", "TB-W-CLAIM", "TB-W-OLD"];
    let (b0, b1, b2) = tokio::join!(d.issued(names[0]), d.issued(names[1]), d.issued(names[2]));
    let logout = |applyno, baohanno: &str, no: &str| {
        request(gw_protocol::Interface::LogoutApply, applyno, baohanno, no)
    };

    // Written off; verification says so; a claim after it is refused.
    d.platform
        .serve_file("release.pdf", b"%PDF-1.7 release letter");
    let mut l = logout(names[0], &b0, "ZX-0");
    l["filelist"] = json!([{"fileurl": format!("{}/files/release.pdf", d.platform.base_url)}]);
    d.call_ok("logoutapply", &l).await;
    let n = d.wait_notice("logoutnotice", "ZX-0").await;
    assert_eq!(n["applystatus"], "1");
    assert!(n["logouttime"].as_str().is_some());
    d.wait_state(names[0], "written_off").await;
    assert_eq!(verify_status(&d, &b0).await["status"], "written_off");
    d.call_ok("claimapply", &claim(names[0], &b0, "LP-W0", "100.00", &[]))
        .await;
    let n = d.wait_notice("claimnotice", "LP-W0").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["remark"].as_str()),
        (Some("2"), Some("保函已注销"))
    );

    // A write-off while a claim's payout waits: refused.
    d.call_ok("claimapply", &claim(names[1], &b1, "LP-W1", "100.00", &[]))
        .await;
    d.wait_state(names[1], "claiming").await;
    d.call_ok("logoutapply", &logout(names[1], &b1, "ZX-1"))
        .await;
    let n = d.wait_notice("logoutnotice", "ZX-1").await;
    assert_eq!(n["applystatus"], "2");
    assert!(n["remark"].as_str().unwrap().contains("理赔"), "{n}");
    confirm_payout(&d, "LP-W1").await;
    assert_eq!(
        d.wait_notice("claimnotice", "LP-W1").await["applystatus"],
        "1"
    );

    // The sweep: a validity that ended long ago is written off; a claim after it is refused.
    restored(&d, names[2], &b2, "2020-01-01 09:30:00", 4).await;
    d.wait_state(names[2], "expired").await;
    assert_eq!(verify_status(&d, &b2).await["status"], "expired");
    d.call_ok("claimapply", &claim(names[2], &b2, "LP-W2", "100.00", &[]))
        .await;
    let n = d.wait_notice("claimnotice", "LP-W2").await;
    assert_eq!(
        (n["applystatus"].as_str(), n["remark"].as_str()),
        (Some("2"), Some("保函已过期"))
    );
    d.stop().await;
}

async fn a_cancel_wins_until_paynotice_is_accepted(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    let (k, late) = ("TB-K-WINS", "TB-K-LATE");
    d.approved(k).await;
    // The platform refuses paynotice (it has not taken it yet)...
    d.platform.script(
        k,
        std::iter::repeat_n(platform::Reply::Code500("稍后重试"), 50),
    );
    let url = d.premiumurl(k).await;
    assert_eq!(d.pay(&url).await, 200);
    d.platform
        .wait_until(Duration::from_secs(30), |r| {
            r.iter()
                .any(|x| x.applyno() == k && x.interface == "paynotice")
        })
        .await;
    // ...and cancels: the cancel wins.
    d.call_ok("cancelapply", &json!({"applyno": k, "scene": "1"}))
        .await;
    d.wait_state(k, "cancelled").await;
    let reply = d.call("payapply", &json!({"applyno": k})).await;
    assert_eq!(
        (reply["code"].as_i64(), reply["msg"].as_str()),
        (Some(500), Some("申请已取消"))
    );
    // No notice after processnotice is ever accepted: the rest are suppressed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let accepted: Vec<String> = d.delivered(k).into_iter().map(|r| r.interface).collect();
    assert_eq!(accepted, ["processnotice"]);
    let open = d.notice_rows(k).await;
    assert!(open.iter().all(|n| n.state.is_settled()), "{open:?}");
    // The premium goes back; a guarantee issued meanwhile is void.
    let refund = d
        .wait_event("payment.refund_requested", |e| {
            e.kind == "payment.refund_requested" && e.correlation_id.as_deref() == Some(k)
        })
        .await;
    assert_eq!(
        refund.payload_json().unwrap()["cause"],
        "cancelled_after_payment"
    );
    if let Some(g) = gw_storage::guarantees::find(d.db.conn(), &applyno(k))
        .await
        .unwrap()
    {
        assert_eq!(
            verify_status(&d, g.baohanno.as_str()).await["status"],
            "voided"
        );
    }

    // Once the platform accepted paynotice, a cancel is refused.
    let b = d.issued(late).await;
    d.call_ok("cancelapply", &json!({"applyno": late, "scene": "1"}))
        .await;
    d.wait_event("application.cancel_refused", |e| {
        e.kind == "application.cancel_refused"
    })
    .await;
    assert_eq!(d.state(late).await, "issued");
    assert_eq!(verify_status(&d, &b).await["status"], "issued");
    d.stop().await;
}

async fn what_cannot_be_done_is_refused_at_once(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    let (s1, s2, gone) = ("TB-S-ONE", "TB-S-TWO", "TB-S-GONE");
    let (_b1, b2) = tokio::join!(d.issued(s1), d.issued(s2));
    d.approved(gone).await;
    d.call_ok("cancelapply", &json!({"applyno": gone, "scene": "1"}))
        .await;
    d.wait_state(gone, "cancelled").await;
    let consumers = [
        queues::REVERTAPPLY,
        queues::INVOICEAPPLY,
        queues::QUITAPPLY,
        queues::CLAIMAPPLY,
        queues::LOGOUTAPPLY,
    ];
    let mut before = Vec::new();
    for c in consumers {
        before.push(gw_storage::inbox::count(d.db.conn(), c).await.unwrap());
    }
    let refused = async |name: &str, body: &Value, why: &str| {
        let reply = d.call(name, body).await;
        assert_eq!(
            (reply["code"].as_i64(), reply["msg"].as_str()),
            (Some(500), Some(why)),
            "{name}"
        );
    };
    let future = cst(chrono::Utc::now() + chrono::Duration::days(3));
    // revertapply: another guarantee's number, an unknown application, a cancelled one.
    refused(
        "revertapply",
        &revert(s1, &b2, &future, "90"),
        "保函编号与申请不匹配",
    )
    .await;
    refused(
        "revertapply",
        &revert("TB-S-NEVER", &b2, &future, "90"),
        "申请不存在",
    )
    .await;
    refused(
        "revertapply",
        &revert(gone, &b2, &future, "90"),
        "申请已取消",
    )
    .await;
    // The four after issuance, naming another application's guarantee.
    use gw_protocol::Interface as I;
    for (i, no) in [
        (I::InvoiceApply, "FP-S"),
        (I::QuitApply, "TH-S"),
        (I::ClaimApply, "LP-S"),
        (I::LogoutApply, "ZX-S"),
    ] {
        let mut body = request(i, s1, &b2, no);
        if i == I::ClaimApply {
            body["filelist"] = json!([]);
        }
        refused(i.name(), &body, "保函编号与申请不匹配").await;
    }
    // Nothing was queued: no worker ever handled any of them, no notice left.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (c, n) in consumers.iter().zip(before) {
        assert_eq!(
            gw_storage::inbox::count(d.db.conn(), c).await.unwrap(),
            n,
            "{c}"
        );
    }
    assert_eq!(d.delivered(s1).len(), 3, "no notice for a refused request");

    // A cancel holds at once: payapply right after it is refused, and the
    // cashier takes no money.
    let c = "TB-S-CANCEL";
    d.approved(c).await;
    let url = d.premiumurl(c).await;
    d.call_ok("cancelapply", &json!({"applyno": c, "scene": "1"}))
        .await;
    let reply = d.call("payapply", &json!({"applyno": c})).await;
    assert_eq!(
        (reply["code"].as_i64(), reply["msg"].as_str()),
        (Some(500), Some("申请已取消"))
    );
    let page = reqwest::get(d.cashier_url(&url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("该申请已取消") && !page.contains("<form"),
        "{page}"
    );
    assert_eq!(d.pay(&url).await, 409, "the cashier refuses the payment");
    d.stop().await;
}

async fn a_moved_bid_opening_restores_again(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    let a = "TB-RR";
    let b = d.issued(a).await;
    let now = chrono::Utc::now();
    let first_day = now + chrono::Duration::days(10);
    let opening = format!(
        "{} 09:30:00",
        first_day
            .with_timezone(&gw_protocol::types::cst())
            .format("%Y-%m-%d")
    );
    let v1 = restored(&d, a, &b, &opening, 4).await;
    let g1 = gw_storage::guarantees::find(d.db.conn(), &applyno(a))
        .await
        .unwrap()
        .unwrap();
    let old_pdf = gw_tests::download(v1["baohanurl"].as_str().unwrap()).await;

    // The same content again: the same revertnotice, no second PDF.
    let same = restored(&d, a, &b, &opening, 5).await;
    assert_eq!(same, v1);
    let g = gw_storage::guarantees::find(d.db.conn(), &applyno(a))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.restored_sm3, g1.restored_sm3);

    // The opening moves a week later: a new restored guarantee.
    let later_day = first_day + chrono::Duration::days(7);
    let later = format!(
        "{} 09:30:00",
        later_day
            .with_timezone(&gw_protocol::types::cst())
            .format("%Y-%m-%d")
    );
    let v2 = restored(&d, a, &b, &later, 6).await;
    assert_eq!(v2["poltime"], later.as_str());
    let valid = gw_protocol::WireTime::try_from(v2["validtime"].as_str().unwrap()).unwrap();
    let opened = gw_protocol::WireTime::try_from(later.as_str()).unwrap();
    assert!(
        valid.utc() > opened.utc() + chrono::Duration::days(90),
        "validtime after the new opening plus bidvalid"
    );
    assert_ne!(v2["baohanurl"], v1["baohanurl"]);
    let text = pdf_text(&gw_tests::download(v2["baohanurl"].as_str().unwrap()).await);
    assert!(text.contains(&later), "the new opening in the PDF:\n{text}");
    let g2 = gw_storage::guarantees::find(d.db.conn(), &applyno(a))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        g2.restored_sm3, g1.restored_sm3,
        "a new digest (and signature)"
    );
    // The old file is still ours, and superseded.
    let r: Value = reqwest::Client::new()
        .post(format!("{}/verify/file", d.verify))
        .header("content-type", "application/pdf")
        .body(old_pdf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["genuine"].as_bool(), r["superseded"].as_bool()),
        (Some(true), Some(true)),
        "{r}"
    );
    assert!(r["superseded_at"].as_str().is_some());
    d.wait_event("guarantee.restore_amended", |e| {
        e.kind == "guarantee.restore_amended"
    })
    .await;
    d.stop().await;
}
