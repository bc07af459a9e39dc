//! `ingress`: the platform's way in.
//!
//! For each of the 8 inbound calls (`POST /v1/gua/tb/<name>`), in order:
//! find the counterpart by the `appkey` header (constant-time), check its
//! source network and rate limit, decrypt the body with its key, parse and
//! validate it into the protocol's domain type, publish it to its work
//! queue and wait for the broker's confirm, and only then answer
//! `{"code":200}`. Every failure answers `{"code":500,"msg":...}` with a clear
//! Chinese reason; internal details stay in the log. Ingress keeps no
//! business state: `payapply` reads the application's lifecycle row.
//!
//! Every request is logged once, when it ends, with the counterpart, path,
//! applyno, outcome and latency. Personal data never reaches the log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gw_bus::{Bus, Message, queues};
use gw_config::{Counterpart, Counterparts, Settings};
use gw_protocol::messages::{INBOUND_SCHEMA, InboundEnvelope, inbound_kind};
use gw_protocol::{Inbound, Interface, PayApplyData};
use gw_storage::Db;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub mod bench;

pub use gw_service::RateLimiter;

/// The work queue each inbound interface is published to.
pub fn queue_for(i: Interface) -> Option<&'static str> {
    Some(match i {
        Interface::BaohanApply => queues::BAOHANAPPLY,
        Interface::PayApply => queues::PAYAPPLY,
        Interface::RevertApply => queues::REVERTAPPLY,
        Interface::InvoiceApply => queues::INVOICEAPPLY,
        Interface::QuitApply => queues::QUITAPPLY,
        Interface::ClaimApply => queues::CLAIMAPPLY,
        Interface::LogoutApply => queues::LOGOUTAPPLY,
        Interface::CancelApply => queues::CANCELAPPLY,
        _ => return None,
    })
}

/// Messages the platform reads. Internal causes are logged, never sent.
mod msg {
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
struct Outcome {
    counterpart: Option<String>,
    applyno: Option<String>,
    ok: bool,
    msg: String,
    data: Option<String>,
    /// Internal cause, for the log only.
    cause: Option<String>,
    retry_after: Option<Duration>,
}

impl Outcome {
    fn refuse(msg: impl Into<String>) -> Self {
        Self {
            counterpart: None,
            applyno: None,
            ok: false,
            msg: msg.into(),
            data: None,
            cause: None,
            retry_after: None,
        }
    }

    fn cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    fn into_response(self) -> Response {
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
        response
    }
}

struct AppState {
    counterparts: Counterparts,
    bus: Bus,
    db: Db,
    limiter: RateLimiter,
    body_limit: usize,
    request_timeout: Duration,
    public_base_url: String,
}

/// The ingress service, built and bound, ready to run.
pub struct Application {
    /// Whether stopping closes the bus and the database (not when shared).
    owns_connections: bool,
    listener: tokio::net::TcpListener,
    port: u16,
    router: Router,
    bus: Bus,
    db: Db,
}

impl Application {
    /// Connects to the broker and the database, declares the topology and
    /// binds the listener (port 0 picks a free port).
    /// Connects to the configured broker (or the embedded bus) and database.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (bus, db) = gw_service::connect(&settings, "ingress").await?;
        let mut app = Self::build_with(settings, bus, db).await?;
        app.owns_connections = true;
        Ok(app)
    }

    /// Builds on a bus and a database shared with other services of the
    /// same process (the single-process gateway); they stay open on stop.
    pub async fn build_with(settings: Settings, bus: Bus, db: Db) -> anyhow::Result<Self> {
        let counterparts = settings.counterparts()?;
        if counterparts.is_empty() {
            tracing::warn!("no counterparts configured: every call will be refused");
        }
        let listener = tokio::net::TcpListener::bind(settings.ingress.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.ingress.listen))?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(AppState {
            counterparts,
            bus: bus.clone(),
            db: db.clone(),
            limiter: RateLimiter::new(
                settings.ingress.rate_limit_per_second,
                settings.ingress.rate_limit_burst,
            ),
            body_limit: settings.ingress.body_limit_bytes,
            request_timeout: settings.ingress.request_timeout,
            public_base_url: settings
                .public_base_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
        });
        let router = router(state).merge(gw_service::health_routes(&bus, &db));
        Ok(Self {
            owns_connections: false,
            listener,
            port,
            router,
            bus,
            db,
        })
    }

    /// Serves `extra` routes on the same listener (the single-process
    /// gateway puts every public route on one port).
    pub fn merge(mut self, extra: Router) -> Self {
        self.router = self.router.merge(extra);
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(gw_service::shutdown_on_signal()).await
    }

    /// Serves until `shutdown`; requests in flight finish first.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(port = self.port, "ingress listening");
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("the HTTP server failed")?;
        if self.owns_connections {
            self.bus.close().await;
            self.db.close().await;
        }
        tracing::info!("ingress stopped");
        Ok(())
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/gua/tb/{name}", post(inbound))
        .with_state(state)
}

async fn inbound(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let path = format!("/v1/gua/tb/{name}");
    let span = tracing::info_span!("inbound", path = %path, peer = %peer.ip());
    let outcome = async {
        match tokio::time::timeout(st.request_timeout, handle(&st, &name, peer, &headers, body))
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => Outcome::refuse(msg::TIMEOUT)
                .cause(format!("no answer within {:?}", st.request_timeout)),
        }
    }
    .instrument(span.clone())
    .await;
    let latency_ms = started.elapsed().as_millis();
    let _enter = span.enter();
    // The one log line of this request.
    let counterpart = outcome.counterpart.as_deref().unwrap_or("-");
    let applyno = outcome.applyno.as_deref().unwrap_or("-");
    if outcome.ok {
        tracing::info!(
            counterpart,
            applyno,
            code = 200,
            latency_ms,
            "request accepted"
        );
    } else if let Some(cause) = &outcome.cause {
        tracing::warn!(counterpart, applyno, code = 500, msg = %outcome.msg, cause = %cause, latency_ms, "request refused");
    } else {
        tracing::info!(counterpart, applyno, code = 500, msg = %outcome.msg, latency_ms, "request refused");
    }
    drop(_enter);
    outcome.into_response()
}

async fn handle(
    st: &AppState,
    name: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    let Some(interface) = Interface::from_name(name).filter(|i| i.is_inbound()) else {
        return Outcome::refuse(msg::NOT_FOUND);
    };
    let Some(appkey) = headers
        .get("appkey")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
    else {
        return Outcome::refuse(msg::NO_APPKEY);
    };
    let Some(cp) = st.counterparts.by_appkey(appkey) else {
        // Unknown appkeys share one bucket, so guessing is rate limited too.
        if let Err(wait) = st.limiter.check("\u{0}unknown") {
            let mut o = Outcome::refuse(msg::RATE);
            o.retry_after = Some(wait);
            return o;
        }
        return Outcome::refuse(msg::BAD_APPKEY).cause("unknown appkey");
    };
    let mut outcome = handle_for(st, &cp, interface, peer, body).await;
    outcome.counterpart = Some(cp.name.clone());
    outcome
}

async fn handle_for(
    st: &AppState,
    cp: &Counterpart,
    interface: Interface,
    peer: SocketAddr,
    body: Body,
) -> Outcome {
    if !cp.allows(peer.ip()) {
        return Outcome::refuse(msg::SOURCE)
            .cause(format!("{} is outside allowed_networks", peer.ip()));
    }
    if let Err(wait) = st.limiter.check(&cp.name) {
        let mut o = Outcome::refuse(msg::RATE);
        o.retry_after = Some(wait);
        return o;
    }
    let bytes = match axum::body::to_bytes(body, st.body_limit).await {
        Ok(b) => b,
        Err(_) => return Outcome::refuse(msg::TOO_LARGE),
    };
    let plaintext = match cp.key.decrypt_body(&bytes) {
        Ok(p) => p,
        Err(e) => return Outcome::refuse(msg::DECRYPT).cause(e.to_string()),
    };
    let request = match Inbound::parse(interface, &plaintext) {
        Ok(r) => r,
        Err(e) => return Outcome::refuse(e.to_string()),
    };
    let applyno = request.applyno().to_string();
    let mut outcome = accept(st, cp, request).await;
    outcome.applyno = Some(applyno);
    outcome
}

/// Answers `payapply` from the lifecycle table, then publishes and waits for the confirm.
async fn accept(st: &AppState, cp: &Counterpart, request: Inbound) -> Outcome {
    let interface = request.interface();
    let mut data = None;
    if interface == Interface::PayApply {
        match payapply_data(st, cp, request.applyno().as_str()).await {
            Ok(d) => data = Some(d),
            Err(o) => return o,
        }
    }
    let Some(queue) = queue_for(interface) else {
        return Outcome::refuse(msg::NOT_FOUND);
    };
    let envelope = InboundEnvelope {
        counterpart: cp.name.clone(),
        interface,
        received_at: chrono::Utc::now(),
        request: request.to_json(),
    };
    let message = match Message::json(
        inbound_kind(interface),
        INBOUND_SCHEMA,
        Some(request.applyno().as_str()),
        &envelope,
    ) {
        Ok(m) => m.with_header(gw_bus::headers::COUNTERPART, cp.name.clone()),
        Err(e) => {
            return Outcome::refuse(msg::BUSY).cause(format!("cannot encode the message: {e}"));
        }
    };
    if let Err(e) = st.bus.send(queue, &message).await {
        return Outcome::refuse(msg::BUSY).cause(e.to_string());
    }
    let mut ok = Outcome::refuse(msg::OK);
    ok.ok = true;
    ok.data = data;
    ok
}

/// The encrypted `data` of a `payapply` answer, or the refusal.
async fn payapply_data(st: &AppState, cp: &Counterpart, applyno: &str) -> Result<String, Outcome> {
    let row = gw_storage::applications::find(st.db.conn(), applyno)
        .await
        .map_err(|e| Outcome::refuse(msg::BUSY).cause(format!("database: {e}")))?;
    // An application belongs to the counterpart that sent it.
    let row = row.filter(|r| r.counterpart == cp.name);
    let state = match row
        .as_ref()
        .map(|r| r.state.parse::<gw_lifecycle::State>())
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return Err(Outcome::refuse(msg::BUSY).cause(e.to_string())),
    };
    let status = gw_lifecycle::payapply(state).map_err(|r| Outcome::refuse(r.to_string()))?;
    let token = row.and_then(|r| r.cashier_token).ok_or_else(|| {
        Outcome::refuse(msg::BUSY).cause("approved application without a cashier token")
    })?;
    let data = PayApplyData {
        premiumurl: gw_protocol::HttpUrl::try_from(
            format!("{}/cashier/{token}", st.public_base_url).as_str(),
        )
        .map_err(|_| {
            Outcome::refuse(msg::BUSY).cause("public_base_url does not make a valid premiumurl")
        })?,
        premiumstatus: status,
    };
    let json = serde_json::to_string(&data)
        .map_err(|e| Outcome::refuse(msg::BUSY).cause(e.to_string()))?;
    Ok(cp.key.encrypt_hex(&json))
}
