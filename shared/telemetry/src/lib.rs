//! Telemetry bootstrap and trace-context propagation.
//!
//! * [`init`] installs `tracing` with an env filter (`RUST_LOG` wins over the
//!   configured filter), JSON or pretty output, and an OpenTelemetry layer.
//!   Spans are always given W3C trace ids, so a trace can be followed through
//!   the logs of every hop even without a collector; when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` is set they are also exported over OTLP/HTTP.
//! * [`inject`] and [`extract`] carry the W3C `traceparent`/`tracestate` in a
//!   plain string map, which the bus copies to and from AMQP headers. One trace
//!   thus spans ingress, the queues, the workers and egress.

use std::collections::HashMap;
use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Log output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, for collectors.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

/// Keeps the tracer provider alive; dropping it flushes pending spans.
#[must_use = "dropping the guard shuts the exporter down"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Nothing useful to do with a flush failure at exit.
        let _ = self.provider.shutdown();
    }
}

fn provider(service: &str) -> anyhow::Result<SdkTracerProvider> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
    {
        use opentelemetry_otlp::WithExportConfig as _;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the OTLP exporter: {e}"))?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// Installs the global subscriber and propagator. Call once, at start-up.
pub fn init(service: &str, filter: &str, format: Format) -> anyhow::Result<TelemetryGuard> {
    let provider = provider(service)?;
    let tracer = provider.tracer(service.to_owned());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let env_filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .map_err(|e| anyhow::anyhow!("invalid log filter {filter:?}: {e}"))?;
    let fmt_layer = match format {
        Format::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        Format::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
    };
    tracing_subscriber::registry()
        .with(env_filter)
        .with(fmt_layer)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .map_err(|e| anyhow::anyhow!("a tracing subscriber is already installed: {e}"))?;
    Ok(TelemetryGuard { provider })
}

/// For tests: installs telemetry once per process. Logs go to the test
/// output only when `TEST_LOG` is set (as in zero2prod), but trace ids are
/// always generated so propagation can be asserted.
pub fn init_for_tests() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Ok(provider) = provider("test") else {
            return;
        };
        let tracer = provider.tracer("test");
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let filter = if std::env::var_os("TEST_LOG").is_some() {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
        } else {
            EnvFilter::new("off")
        };
        // The OpenTelemetry layer needs spans enabled even when output is off,
        // so the filter applies to the output layer only.
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(filter),
            )
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(EnvFilter::new("info")),
            )
            .try_init();
        // Kept for the life of the test process.
        std::mem::forget(provider);
    });
}

struct MapInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a HashMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Writes the current span's trace context (`traceparent`, `tracestate`) into `headers`.
pub fn inject(headers: &mut HashMap<String, String>) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut MapInjector(headers));
}

/// Makes `span` a child of the trace context found in `headers`, if any.
pub fn set_parent(span: &tracing::Span, headers: &HashMap<String, String>) {
    let cx = TraceContextPropagator::new().extract(&MapExtractor(headers));
    if cx.span().span_context().is_valid() {
        // Fails only when the span is disabled; then there is nothing to link.
        let _ = span.set_parent(cx);
    }
}

/// The trace id of the current span, as 32 lowercase hex digits.
pub fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The trace id in a `traceparent` header value.
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let _version = parts.next()?;
    let id = parts.next()?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_flows_from_one_span_through_headers_into_another() {
        init_for_tests();
        let producer = tracing::info_span!("producer");
        let (headers, trace_id) = producer.in_scope(|| {
            let mut h = HashMap::new();
            inject(&mut h);
            (h, current_trace_id())
        });
        let trace_id = trace_id.expect("spans get trace ids");
        let tp = headers.get("traceparent").expect("traceparent injected");
        assert_eq!(trace_id_of(tp), Some(trace_id.as_str()));

        let consumer = tracing::info_span!("consumer");
        set_parent(&consumer, &headers);
        let seen = consumer.in_scope(current_trace_id);
        assert_eq!(seen.as_deref(), Some(trace_id.as_str()));
    }

    #[test]
    fn garbage_headers_start_a_new_trace() {
        init_for_tests();
        let mut h = HashMap::new();
        h.insert("traceparent".to_owned(), "not-a-traceparent".to_owned());
        let span = tracing::info_span!("consumer");
        set_parent(&span, &h);
        assert!(span.in_scope(current_trace_id).is_some());
        assert_eq!(trace_id_of("00-xyz-abc-01"), None);
    }
}
