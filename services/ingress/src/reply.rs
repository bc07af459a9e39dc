//! The protocol's answers, and the one log line of each request.
//!
//! The handler returns an [`Outcome`]; its response carries, as an
//! extension, what the log line needs. [`log_once`], the outermost layer,
//! writes that line, and turns the answers of the timeout and body-limit
//! layers (HTTP 408 and 413) into the protocol's HTTP 200 with `code 500`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::Instrument;

/// Messages the platform reads. Internal causes are logged, never sent.
pub mod msg {
    pub const OK: &str = "成功";
    pub const NO_APPKEY: &str = "缺少 appkey 请求头";
    pub const BAD_APPKEY: &str = "appkey 无效";
    pub const SOURCE: &str = "请求来源地址不被允许";
    pub const RATE: &str = "请求过于频繁，请稍后重试";
    pub const TOO_LARGE: &str = "请求报文超过大小限制";
    pub const DECRYPT: &str = "报文解密失败（密文格式或密钥不正确）";
    pub const BUSY: &str = "系统繁忙，请稍后重试";
    pub const TIMEOUT: &str = "处理超时，请稍后重试";
    pub const NOT_FOUND: &str = "接口不存在";
}

#[derive(Serialize)]
struct ReplyBody<'a> {
    code: u16,
    msg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
}

/// The answer to one call, and what the log line says about it.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub counterpart: Option<String>,
    pub applyno: Option<String>,
    pub path: String,
    pub peer: Option<SocketAddr>,
    pub started: Option<Instant>,
    pub ok: bool,
    pub msg: String,
    pub data: Option<String>,
    /// Internal cause, for the log only.
    pub cause: Option<String>,
    pub retry_after: Option<Duration>,
}

impl Outcome {
    pub fn refuse(msg: impl Into<String>) -> Self {
        Self {
            msg: msg.into(),
            ..Self::default()
        }
    }

    pub fn ok(data: Option<String>) -> Self {
        Self {
            ok: true,
            msg: msg::OK.to_owned(),
            data,
            ..Self::default()
        }
    }

    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn into_response(self) -> Response {
        let body = ReplyBody {
            code: if self.ok { 200 } else { 500 },
            msg: &self.msg,
            data: self.data.as_deref(),
        };
        let json =
            serde_json::to_vec(&body).unwrap_or_else(|_| br#"{"code":500,"msg":"error"}"#.to_vec());
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            json,
        )
            .into_response();
        if let Some(wait) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// Runs the request in its span, maps the layers' failures to protocol
/// answers, and logs the request once.
pub async fn log_once(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    // The server span of the platform's call (OpenTelemetry's HTTP
    // conventions); the application and counterpart are known once it
    // was read. The host's generic server span stands aside.
    let span = tracing::info_span!(
        "inbound",
        otel.name = %format!("{method} /v1/gua/tb/{{name}}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = "/v1/gua/tb/{name}",
        http.response.status_code = tracing::field::Empty,
        path = %path,
        applyno = tracing::field::Empty,
        counterpart = tracing::field::Empty,
    );
    let mut req = req;
    req.extensions_mut().insert(gw_web::trace::ServerSpanned);
    let response = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    let mut response = match response.status() {
        StatusCode::REQUEST_TIMEOUT => Outcome::refuse(msg::TIMEOUT)
            .cause(format!("no answer within {timeout:?}"))
            .into_response(),
        StatusCode::PAYLOAD_TOO_LARGE => Outcome::refuse(msg::TOO_LARGE).into_response(),
        _ => response,
    };
    let latency_ms = started.elapsed().as_millis();
    let Some(o) = response.extensions_mut().remove::<Outcome>() else {
        // Not one of ours (no such route): nothing to log beyond the status.
        return response;
    };
    record_metrics(&path, &o, started.elapsed());
    let _enter = span.enter();
    let counterpart = o.counterpart.as_deref().unwrap_or("-");
    let applyno = o.applyno.as_deref().unwrap_or("-");
    span.record("applyno", applyno);
    span.record("counterpart", counterpart);
    let peer = o.peer.map(|p| p.ip().to_string()).unwrap_or_default();
    if o.ok {
        tracing::info!(
            counterpart,
            applyno,
            peer,
            code = 200,
            latency_ms,
            "request accepted"
        );
    } else if let Some(cause) = &o.cause {
        tracing::warn!(counterpart, applyno, peer, code = 500, msg = %o.msg, cause = %cause, latency_ms, "request refused");
    } else {
        tracing::info!(counterpart, applyno, peer, code = 500, msg = %o.msg, latency_ms, "request refused");
    }
    response
}

/// `gw_inbound_requests_total{interface, code}`, `gw_inbound_refusals_total
/// {reason}` and `gw_inbound_request_seconds{interface}`: bounded labels
/// (an unknown path counts as `unknown`, a refusal by its kind).
fn record_metrics(path: &str, o: &Outcome, took: Duration) {
    let interface = path
        .rsplit('/')
        .next()
        .and_then(gw_protocol::Interface::from_name)
        .map_or("unknown", gw_protocol::Interface::name);
    let code = if o.ok { "200" } else { "500" };
    metrics::counter!("gw_inbound_requests_total", "interface" => interface, "code" => code)
        .increment(1);
    metrics::histogram!("gw_inbound_request_seconds", "interface" => interface)
        .record(took.as_secs_f64());
    if !o.ok {
        let reason = match o.msg.as_str() {
            msg::NO_APPKEY | msg::BAD_APPKEY => "auth",
            msg::SOURCE => "source",
            msg::RATE => "rate",
            msg::TOO_LARGE => "size",
            msg::DECRYPT => "decrypt",
            msg::BUSY => "busy",
            msg::TIMEOUT => "timeout",
            msg::NOT_FOUND => "not_found",
            // A field rule or the application's state.
            _ => "validation",
        };
        metrics::counter!("gw_inbound_refusals_total", "reason" => reason).increment(1);
    }
}
