//! `/metrics`: after a lifecycle, the named series are there with bounded
//! labels (no application number), on both deployments.

use gw_tests::deploy::{Deployment, Kind};
use serde_json::json;

on_both!(metrics_after_a_lifecycle_name_what_happened);

async fn metrics_after_a_lifecycle_name_what_happened(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    let a = "TB-METRICS-1";
    d.issued(a).await;
    // A refusal of each of two kinds.
    let bad = d.call("baohanapply", &json!({"applyno": a})).await;
    assert_eq!(bad["code"], 500);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/gua/tb/baohanapply", d.ingress))
        .body("not hex")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let scrape = || async {
        reqwest::get(format!("{}/metrics", d.admin["issuance"]))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let wanted = [
        r#"gw_inbound_requests_total{interface="baohanapply",code="200"}"#,
        r#"gw_inbound_requests_total{interface="payapply",code="200"}"#,
        r#"gw_inbound_refusals_total{reason="auth"}"#,
        "gw_inbound_request_seconds",
        r#"outcome="handled""#,
        "gw_message_handling_seconds",
        r#"gw_notice_attempts_total{interface="processnotice",outcome="delivered"}"#,
        r#"gw_notice_attempts_total{interface="baohannotice",outcome="delivered"}"#,
        "gw_notice_delivery_seconds",
        r#"gw_pdf_render_seconds_count{kind="guarantee"}"#,
        r#"gw_notice_delivery_seconds_bucket{interface="paynotice",le="0.5"}"#,
        "gw_outbox_backlog",
        "gw_dead_letters_open 0",
        "gw_oldest_undelivered_notice_seconds 0",
        r#"gw_publish_confirm_seconds_count{destination="queue",outcome="confirmed"}"#,
        // The scraped service's own consumers.
        r#"gw_consumer_up{queue="issuance.issue"} 1"#,
        r#"gw_apply_to_notice_seconds_count{interface="processnotice"}"#,
        r#"gw_apply_to_notice_seconds_count{interface="baohannotice"}"#,
        // The platform downloads the guarantee once it has the link.
        "gw_files_served_total{kind=",
        "gw_files_served_bytes_total",
    ];
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        let text = scrape().await;
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|s| !text.contains(s))
            .collect();
        if missing.is_empty() {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "{missing:?} missing:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        !text.contains("TB-"),
        "an application number in a label:\n{text}"
    );
    d.stop().await;
}
