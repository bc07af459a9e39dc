//! One trace per platform call: the `baohanapply` ingress answers and the
//! `processnotice` egress posts share one trace id, through the bus and
//! underwriting, with OpenTelemetry's span kinds and conventions. The spans
//! are read from the in-memory exporter the tests install.

use std::time::Duration;

use gw_contract::queues;
use gw_tests::deploy::{Deployment, Kind};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;

fn attr(s: &SpanData, key: &str) -> Option<String> {
    s.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

fn is(s: &SpanData, kind: SpanKind, key: &str, value: &str) -> bool {
    s.span_kind == kind && attr(s, key).as_deref() == Some(value)
}

/// Waits until the exporter has a span `pred` accepts; every span then.
async fn spans_until(pred: impl Fn(&[SpanData]) -> bool) -> Vec<SpanData> {
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let spans = gw_telemetry::recorded();
        if pred(&spans) {
            return spans;
        }
        if tokio::time::Instant::now() > until {
            let names: Vec<String> = spans
                .iter()
                .map(|s| format!("{:?} {} {:?}", s.span_kind, s.name, s.attributes))
                .collect();
            panic!("the trace is not complete:\n{}", names.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_call_and_its_notice_are_one_trace(kind: Kind) {
    let d = Deployment::start(kind, &[]).await;
    d.approved("TR-ONE").await;
    // A parent ends after its children: wait for the POST's parent too.
    let spans = spans_until(|spans| {
        spans.iter().any(|post| {
            post.span_kind == SpanKind::Client
                && attr(post, "url.full").is_some_and(|u| u.ends_with("/processnotice"))
                && spans
                    .iter()
                    .any(|s| s.span_context.span_id() == post.parent_span_id)
        })
    })
    .await;
    let server = spans
        .iter()
        .find(|s| is(s, SpanKind::Server, "applyno", "TR-ONE"))
        .expect("ingress's server span");
    assert_eq!(
        attr(server, "http.route").as_deref(),
        Some("/v1/gua/tb/{name}")
    );
    assert_eq!(attr(server, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(
        attr(server, "http.response.status_code").as_deref(),
        Some("200")
    );
    let trace = server.span_context.trace_id();
    let in_trace: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect();
    let find = |what: &str, f: &dyn Fn(&SpanData) -> bool| -> &SpanData {
        in_trace.iter().copied().find(|s| f(s)).unwrap_or_else(|| {
            panic!(
                "no {what} in the trace: {:#?}",
                in_trace
                    .iter()
                    .map(|s| (
                        s.span_kind.clone(),
                        s.name.clone(),
                        attr(s, "messaging.destination.name"),
                        s.span_context.span_id(),
                        s.parent_span_id
                    ))
                    .collect::<Vec<_>>()
            )
        })
    };
    let system = match kind {
        Kind::Services => "rabbitmq",
        Kind::Embedded => "embedded",
    };
    let apply_sent = find("the publish of baohanapply", &|s| {
        is(
            s,
            SpanKind::Producer,
            "messaging.destination.name",
            queues::BAOHANAPPLY,
        )
    });
    assert_eq!(
        attr(apply_sent, "messaging.system").as_deref(),
        Some(system)
    );
    assert_eq!(
        attr(apply_sent, "messaging.operation.type").as_deref(),
        Some("send")
    );
    assert!(attr(apply_sent, "messaging.message.id").is_some());
    let underwriting = find("underwriting's consumer span", &|s| {
        is(
            s,
            SpanKind::Consumer,
            "messaging.destination.name",
            queues::BAOHANAPPLY,
        )
    });
    assert_eq!(
        attr(underwriting, "messaging.operation.type").as_deref(),
        Some("process")
    );
    assert_eq!(
        underwriting.parent_span_id,
        apply_sent.span_context.span_id()
    );
    assert_eq!(attr(underwriting, "applyno").as_deref(), Some("TR-ONE"));
    assert_eq!(attr(underwriting, "counterpart").as_deref(), Some("hunan"));
    find("underwriting's transaction", &|s| {
        s.name == "db transaction" && s.parent_span_id == underwriting.span_context.span_id()
    });
    let notice_sent = find("the publish of the notice command", &|s| {
        is(
            s,
            SpanKind::Producer,
            "messaging.destination.name",
            queues::NOTICES,
        )
    });
    let egress = find("egress's consumer span", &|s| {
        is(
            s,
            SpanKind::Consumer,
            "messaging.destination.name",
            queues::NOTICES,
        )
    });
    assert_eq!(egress.parent_span_id, notice_sent.span_context.span_id());
    let post = find("the notice POST", &|s| {
        s.span_kind == SpanKind::Client
            && attr(s, "url.full").is_some_and(|u| u.ends_with("/processnotice"))
    });
    assert_eq!(post.parent_span_id, egress.span_context.span_id());
    assert_eq!(attr(post, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(
        attr(post, "http.response.status_code").as_deref(),
        Some("200")
    );
    // No secret and no unmasked personal data in any attribute.
    for s in &in_trace {
        for kv in &s.attributes {
            let v = kv.value.as_str();
            for secret in [
                gw_tests::APPSECRET,
                gw_tests::ADMIN_TOKEN,
                "13800138000",
                "张三",
            ] {
                assert!(!v.contains(secret), "{} = {v} in span {}", kv.key, s.name);
            }
        }
    }
    d.stop().await;
}

on_both!(a_call_and_its_notice_are_one_trace);
