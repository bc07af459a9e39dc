//! Telemetry bootstrap and trace-context propagation.
//!
//! * [`init`] installs `tracing` with an env filter (`RUST_LOG` wins over the
//!   configured filter), JSON or pretty output, and an OpenTelemetry layer.
//!   Spans are always given W3C trace ids, and every log line written inside
//!   a span carries its `trace_id` and `span_id`, so logs join traces even
//!   without a collector. With `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set and not empty, spans are
//!   exported over OTLP: HTTP/protobuf by default, gRPC with
//!   `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`. Sampling follows the standard
//!   `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default: parent-based,
//!   always on).
//! * Spans follow OpenTelemetry's conventions (fields `otel.kind`,
//!   `otel.name`, `http.*`, `url.full`, `messaging.*`), which the layer
//!   turns into span kinds and attributes: see [`kind`].
//! * [`inject`] and [`extract`] carry the W3C `traceparent`/`tracestate` in a
//!   plain string map, which the bus copies to and from AMQP headers. One trace
//!   thus spans ingress, the queues, the workers and egress.
//! * [`recorded`]: in tests ([`init_for_tests`]), every finished span is kept
//!   in memory, so a test can assert what a trace looks like.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The `otel.kind` values of our spans (OpenTelemetry span kinds).
pub mod kind {
    /// An inbound HTTP request (ingress, the cashier, files, verification).
    pub const SERVER: &str = "server";
    /// A message published to the broker.
    pub const PRODUCER: &str = "producer";
    /// A message taken from a queue and handled.
    pub const CONSUMER: &str = "consumer";
    /// An outbound HTTP request (a notice POST, a file download).
    pub const CLIENT: &str = "client";
}

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

/// Where spans are exported, read from the standard variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Export {
    /// Not exported (no endpoint, or an empty one).
    Off,
    /// OTLP over HTTP with protobuf bodies (`http/protobuf`, the default).
    HttpProtobuf,
    /// OTLP over gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`).
    Grpc,
}

impl Export {
    /// From `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
    /// and `OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL`, as `var` reads them.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let set = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        if set("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
            && set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
        {
            return Ok(Export::Off);
        }
        let protocol = set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| set("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .unwrap_or_else(|| "http/protobuf".to_owned());
        match protocol.trim() {
            "http/protobuf" => Ok(Export::HttpProtobuf),
            "grpc" => Ok(Export::Grpc),
            other => Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other:?} is not supported: use http/protobuf or grpc"
            )),
        }
    }
}

fn provider(service: &str) -> anyhow::Result<SdkTracerProvider> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    // The builder's default configuration reads OTEL_TRACES_SAMPLER(_ARG).
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    let export = Export::from_env(|k| std::env::var(k).ok()).map_err(anyhow::Error::msg)?;
    match export {
        Export::Off => {}
        Export::HttpProtobuf => {
            use opentelemetry_otlp::WithExportConfig as _;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .build()
                .map_err(|e| anyhow::anyhow!("cannot build the OTLP/HTTP exporter: {e}"))?;
            builder = builder.with_batch_exporter(exporter);
        }
        Export::Grpc => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
                .map_err(|e| anyhow::anyhow!("cannot build the OTLP/gRPC exporter: {e}"))?;
            builder = builder.with_batch_exporter(exporter);
        }
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
            .event_format(WithTraceIds(
                tracing_subscriber::fmt::format()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            ))
            .boxed(),
        Format::Pretty => tracing_subscriber::fmt::layer()
            .event_format(WithTraceIds(tracing_subscriber::fmt::format().compact()))
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(env_filter)
        .with(fmt_layer)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(IdsLayer::default())
        .try_init()
        .map_err(|e| anyhow::anyhow!("a tracing subscriber is already installed: {e}"))?;
    Ok(TelemetryGuard { provider })
}

/// The trace and span ids of the current span, as hex, if it has them.
#[cfg(test)]
fn current_ids() -> Option<(String, String)> {
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// A span's OpenTelemetry ids, kept in its extensions for the log lines.
#[derive(Debug, Clone)]
struct TraceIds {
    trace_id: String,
    span_id: String,
}

/// Writes each span's [`TraceIds`] when it is first entered (after any
/// `set_parent`, which decides its trace). The formatter cannot ask for
/// them itself: while an event is being written, the dispatcher answers
/// no nested question.
#[derive(Default)]
struct IdsLayer {
    dispatch: OnceLock<tracing::dispatcher::WeakDispatch>,
}

impl<S> Layer<S> for IdsLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        if span.extensions().get::<TraceIds>().is_some() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(|w| w.upgrade()) else {
            return;
        };
        // No extension is held here: the lookup locks them itself.
        let Some(cx) = tracing_opentelemetry::get_otel_context(id, &dispatch) else {
            return;
        };
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            span.extensions_mut().insert(TraceIds {
                trace_id: sc.trace_id().to_string(),
                span_id: sc.span_id().to_string(),
            });
        }
    }
}

/// An event format that adds the current span's `trace_id` and `span_id`
/// to each line: as the first two keys of a JSON line, at the end of a
/// pretty one.
struct WithTraceIds<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for WithTraceIds<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.0.format_event(
            ctx,
            tracing_subscriber::fmt::format::Writer::new(&mut line),
            event,
        )?;
        let ids = ctx
            .lookup_current()
            .and_then(|span| span.extensions().get::<TraceIds>().cloned());
        let Some(TraceIds { trace_id, span_id }) = ids else {
            return writer.write_str(&line);
        };
        if let Some(rest) = line.strip_prefix('{') {
            write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            )
        } else {
            let body = line.trim_end_matches('\n');
            writeln!(writer, "{body} trace_id={trace_id} span_id={span_id}")
        }
    }
}

/// Every span finished in this process, when [`init_for_tests`] installed
/// the recording exporter.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Recorder {
    async fn export(&self, batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        if let Ok(mut spans) = self.0.lock() {
            spans.extend(batch);
        }
        Ok(())
    }
}

static RECORDED: OnceLock<Recorder> = OnceLock::new();

/// The spans finished so far in a test process (see [`init_for_tests`]).
pub fn recorded() -> Vec<SpanData> {
    RECORDED
        .get()
        .and_then(|r| r.0.lock().ok().map(|s| s.clone()))
        .unwrap_or_default()
}

/// For tests: installs telemetry once per process. Logs go to the test
/// output only when `TEST_LOG` is set (as in zero2prod), but trace ids are
/// always generated so propagation can be asserted, and every finished span
/// is kept for [`recorded`].
pub fn init_for_tests() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let recorder = RECORDED.get_or_init(Recorder::default).clone();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(recorder)
            .build();
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
                    .event_format(WithTraceIds(tracing_subscriber::fmt::format().compact()))
                    .with_test_writer()
                    .with_filter(filter),
            )
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(EnvFilter::new("info")),
            )
            .with(IdsLayer::default())
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

    #[test]
    fn an_empty_endpoint_means_no_export() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(Export::from_env(env(&[])), Ok(Export::Off));
        assert_eq!(
            Export::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])),
            Ok(Export::Off)
        );
        assert_eq!(
            Export::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])),
            Ok(Export::HttpProtobuf)
        );
        assert_eq!(
            Export::from_env(env(&[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ])),
            Ok(Export::Grpc)
        );
        assert!(
            Export::from_env(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ]))
            .is_err()
        );
    }

    /// Collects what a fmt layer writes.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn log_lines_in_a_span_carry_its_trace_and_span_ids() {
        let provider = SdkTracerProvider::builder().build();
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .event_format(WithTraceIds(
                        tracing_subscriber::fmt::format()
                            .json()
                            .with_current_span(true),
                    ))
                    .with_writer(lines.clone()),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")))
            .with(IdsLayer::default());
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any span");
            let span = tracing::info_span!("work");
            span.in_scope(|| {
                tracing::info!(applyno = "TB1", "inside");
                current_ids().unwrap()
            })
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let parsed: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(parsed.len(), 2, "{text}");
        assert!(parsed[0].get("trace_id").is_none(), "{text}");
        assert_eq!(parsed[1]["trace_id"], trace_id.as_str(), "{text}");
        assert_eq!(parsed[1]["span_id"], span_id.as_str(), "{text}");
        assert_eq!(parsed[1]["fields"]["message"], "inside", "{text}");
    }

    #[test]
    fn spans_are_recorded_with_their_kind() {
        init_for_tests();
        let span = tracing::info_span!("probe", otel.kind = kind::CLIENT, probe.id = "k1");
        let trace_id = span.in_scope(current_trace_id).unwrap();
        drop(span);
        let found = recorded()
            .into_iter()
            .find(|s| s.span_context.trace_id().to_string() == trace_id)
            .expect("the span was exported");
        assert_eq!(found.span_kind, opentelemetry::trace::SpanKind::Client);
    }
}
