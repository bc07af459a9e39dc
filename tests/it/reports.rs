//! Business reports: a day of known traffic, and every figure of its daily
//! report checked against it, in the JSON, the XLSX (read back with
//! calamine), the CSV and the PDF (pdftotext).

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use gw_tests::deploy::{Deployment, Kind};
use gw_tests::stack::pdf_text;
use gw_tests::*;
use serde_json::{Value, json};

on_both!(the_daily_report_counts_a_day_of_known_traffic);

async fn the_daily_report_counts_a_day_of_known_traffic(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    // Three guarantees issued (each approved and paid 300.00 on 200 000.00),
    // one application approved only, one refused by the rules, one
    // approved then cancelled.
    let (a, b, c) = ("TB-RPT-1", "TB-RPT-2", "TB-RPT-3");
    tokio::join!(d.issued(a), d.issued(b), d.issued(c));
    d.approved("TB-RPT-4").await;
    let mut big = samples::baohanapply("TB-RPT-5");
    big["bzjamount"] = json!("6000000.00");
    d.call_ok("baohanapply", &big).await;
    d.wait_delivered("TB-RPT-5", 1).await;
    d.approved("TB-RPT-6").await;
    d.call_ok("cancelapply", &json!({"applyno": "TB-RPT-6", "scene": "1"}))
        .await;
    d.wait_state("TB-RPT-6", "cancelled").await;

    let today = chrono::Utc::now()
        .with_timezone(&gw_protocol::types::cst())
        .format("%Y-%m-%d")
        .to_string();
    let issuance = &d.admin["issuance"];
    let bad = admin_client()
        .post(format!("{issuance}/admin/reports/daily?date=2026-13-40"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "a bad date is refused");
    let r: Value =
        json_of(admin_client().post(format!("{issuance}/admin/reports/daily?date={today}"))).await;
    assert_eq!(r["name"], format!("daily-{today}"), "{r:#}");
    let t = &r["figures"]["total"];
    let delivered = d
        .platform
        .received()
        .iter()
        .filter(|x| x.reply == "Ok")
        .count();
    let want = json!({
        "applications": 6, "approved": 5, "rejected": 1, "referred": 0, "cancelled": 1,
        "guarantees_issued": 3, "guaranteed_cents": 60_000_000, "guarantees_restored": 0,
        "premiums_cents": 90_000, "premiums_count": 3, "refunds": 0, "refunds_cents": 0,
        "claims_paid": 0, "claims_paid_cents": 0, "claims_refused": 0, "write_offs": 0,
        "notices_delivered": delivered, "notices_retried": 0, "notices_dead": 0,
    });
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&t[k], v, "{k}: {t:#}");
    }
    // 6 processnotice, 3 paynotice, 3 baohannotice.
    assert_eq!(delivered, 12);
    assert!(t["notice_seconds_p50"].as_i64().is_some(), "{t:#}");
    assert_eq!(r["figures"]["by_city"], json!({"未还原": [3, 60_000_000]}));
    // Announced to the bank's systems, with the files' paths.
    let name = format!("daily-{today}");
    let e = d
        .wait_event("report.generated", |e| {
            e.kind == "report.generated" && e.correlation_id.as_deref() == Some(name.as_str())
        })
        .await;
    let p = e.payload_json().unwrap();
    assert_eq!(p["files"]["xlsx"], r["files"]["xlsx"]);
    assert_eq!(p["totals"]["guarantees_issued"], 3);
    let listed: Vec<Value> = json_of(admin_client().get(format!("{issuance}/admin/reports"))).await;
    assert_eq!(listed.len(), 1, "{listed:#?}");

    // The XLSX a finance person opens.
    let get = |format: &str| {
        let url = format!("{issuance}{}", r["files"][format].as_str().unwrap());
        async move { admin_client().get(url).send().await.unwrap() }
    };
    let xlsx = get("xlsx").await;
    assert_eq!(
        xlsx.headers()["content-disposition"],
        format!("attachment; filename=\"daily-{today}.xlsx\"").as_str()
    );
    let bytes = xlsx.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("汇总").unwrap();
    let cell = |label: &str| {
        sheet
            .rows()
            .find(|row| row[0] == label)
            .map(|row| row[1].to_string())
            .unwrap_or_else(|| panic!("no row {label}"))
    };
    assert_eq!(cell("受理申请 applications"), "6");
    assert_eq!(cell("出函 guarantees issued"), "3");
    assert_eq!(cell("担保金额（元）guaranteed"), "600000");
    assert_eq!(cell("保费（元）premiums collected"), "900");
    assert_eq!(cell("审核拒绝 rejected"), "1");
    assert_eq!(cell("撤销 cancelled"), "1");
    let cities = book.worksheet_range("地区").unwrap();
    let row: Vec<String> = cities
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(row, ["未还原", "3", "600000"]);

    // The CSV and the PDF summary.
    let csv = get("csv").await.text().await.unwrap();
    let total = csv.lines().nth(1).unwrap();
    assert!(
        total.starts_with("total,6,5,1,0,1,3,600000.00,0,3,900.00,"),
        "{csv}"
    );
    let pdf = get("pdf").await.bytes().await.unwrap().to_vec();
    let text = pdf_text(&pdf);
    for needle in ["电子投标保函业务日报", "600000.00", "900.00", "出函"] {
        assert!(
            text.contains(needle),
            "{needle} missing from the PDF:\n{text}"
        );
    }
    let missing = admin_client()
        .get(format!("{issuance}/admin/reports/daily-1999-01-01/xlsx"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    d.stop().await;
}
