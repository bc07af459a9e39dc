//! `ingress`: the platform's way in.
//!
//! For each of the 8 inbound calls (`POST /v1/gua/tb/<name>`), in order:
//! find the counterpart by the `appkey` header (constant-time), check its
//! source network and rate limit, read the body (within the size limit),
//! decrypt it with the counterpart's key, parse and validate it into the
//! protocol's domain type, publish it to its work queue (the message
//! contract names it) and wait for the broker's confirm, and only then
//! answer `{"code":200}`. Every failure answers `{"code":500,"msg":...}`
//! with a clear Chinese reason; internal details stay in the log. Ingress
//! keeps no business state: `payapply` reads the application's lifecycle row.
//!
//! The request timeout and the body limit are tower-http layers; their
//! failures are turned back into the protocol's HTTP 200 with `code 500`.
//! Every request is logged once, by the outermost layer, with the
//! counterpart, path, applyno, outcome and latency. Personal data never
//! reaches the log.

mod reply;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use gw_bus::Bus;
use gw_config::{Counterpart, Counterparts};
use gw_host::{Build, Context, Parts};
use gw_protocol::{Inbound, Interface, PayApplyData};
use gw_storage::Db;
use gw_web::RateLimiter;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::map_response_body::MapResponseBodyLayer;
use tower_http::timeout::TimeoutLayer;

use reply::{Outcome, msg};

type LimitedBody = tower_http::limit::ResponseBody<Body>;

gw_host::service!(
    /// The ingress service.
    Ingress, "ingress", public: ingress.listen, admin: ingress.admin_listen
);

#[async_trait]
impl Build for Ingress {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts> {
        ctx.settings.require(&[gw_config::Need::Counterparts])?;
        if ctx.counterparts.is_empty() {
            tracing::warn!("no counterparts configured: every call will be refused");
        }
        Ok(Parts {
            public: Some(router(ctx)),
            // The host adds /metrics, dead letters and operation records.
            admin: Some(axum::Router::new()),
            ..Parts::default()
        })
    }
}

struct AppState {
    counterparts: Counterparts,
    bus: Bus,
    db: Db,
    flow: gw_workflow::Workflow,
    limiter: RateLimiter,
    public_base_url: String,
    /// `ingress.max_amount`.
    max_amount: gw_protocol::Amount,
    /// `http.trusted_proxies`: whose `X-Forwarded-For` names the caller.
    trusted: Vec<ipnet::IpNet>,
}

/// The inbound routes, with their timeout and body-limit layers.
pub fn router(ctx: &Context) -> Router {
    let settings = &ctx.settings;
    let state = Arc::new(AppState {
        counterparts: ctx.counterparts.clone(),
        bus: ctx.bus.clone(),
        db: ctx.db.clone(),
        flow: ctx.flow.clone(),
        limiter: RateLimiter::new(
            settings.ingress.rate_limit_per_second,
            settings.ingress.rate_limit_burst,
        ),
        max_amount: settings.ingress.max_amount,
        trusted: settings.http.trusted(),
        public_base_url: settings
            .public_base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
    });
    let timeout = settings.ingress.request_timeout;
    Router::new()
        .route("/v1/gua/tb/{name}", post(inbound))
        .with_state(state)
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    timeout,
                    reply::log_once,
                ))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
                // Back to axum's body type for the layers above.
                .layer(MapResponseBodyLayer::new(Body::new::<LimitedBody>))
                .layer(RequestBodyLimitLayer::new(
                    settings.ingress.body_limit_bytes,
                )),
        )
}

async fn inbound(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    // The caller behind the ingress controller, for the allow-list.
    let peer = SocketAddr::new(
        gw_web::client::client_ip(peer, &headers, &st.trusted),
        peer.port(),
    );
    let mut outcome = handle(&st, &name, peer, &headers, body).await;
    outcome.path = format!("/v1/gua/tb/{name}");
    outcome.peer = Some(peer);
    outcome.started = Some(started);
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
            return Outcome::refuse(msg::RATE).retry_after(wait);
        }
        return Outcome::refuse(msg::BAD_APPKEY).cause("unknown appkey");
    };
    let mut outcome = handle_for(st, &cp, interface, peer, body).await;
    outcome.counterpart = Some(cp.name.to_string());
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
    if let Err(wait) = st.limiter.check(cp.name.as_str()) {
        return Outcome::refuse(msg::RATE).retry_after(wait);
    }
    // The body limit layer ends the body early when it is too large.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return Outcome::refuse(msg::TOO_LARGE),
    };
    // The current key; during a rotation's overlap, the previous one when
    // the current one does not give a request (a wrong key can leave valid
    // padding by chance, so "gives a request" is the test, not "decrypts").
    let current = cp.key.decrypt_body(&bytes);
    let parsed = current.as_ref().ok().map(|p| Inbound::parse(interface, p));
    let from_previous = match (&parsed, &cp.previous_key) {
        (Some(Ok(_)), _) | (_, None) => None,
        (_, Some(previous)) => previous
            .decrypt_body(&bytes)
            .ok()
            .and_then(|p| Inbound::parse(interface, &p).ok()),
    };
    let request = match (from_previous, current, parsed) {
        (Some(r), _, _) => {
            tracing::info!(counterpart = %cp.name, "a call encrypted with the previous appsecret (rotation overlap)");
            r
        }
        (None, Ok(_), Some(Ok(r))) => r,
        (None, Err(e), _) => return Outcome::refuse(msg::DECRYPT).cause(e.to_string()),
        (None, Ok(_), Some(Err(e))) => return Outcome::refuse(e.to_string()),
        (None, Ok(_), None) => return Outcome::refuse(msg::DECRYPT),
    };
    // Past the business cap: refused as the amount it is not.
    if let Some((field, _)) = request
        .amounts()
        .into_iter()
        .find(|(_, a)| a.value() > st.max_amount.value())
    {
        let rule = gw_protocol::FieldError::new(field, gw_protocol::Rule::NotAmount);
        return Outcome::refuse(rule.to_string());
    }
    let applyno = request.applyno().to_string();
    let mut outcome = accept(st, cp, request).await;
    outcome.applyno = Some(applyno);
    outcome
}

/// Answers at once what the lifecycle row decides (`payapply`'s link, a
/// request that cannot be carried out), then makes the request durable:
/// published with the broker's confirm, or, for `cancelapply`, recorded with
/// its message in one transaction (so that the cancel holds from now on).
async fn accept(st: &AppState, cp: &Counterpart, request: Inbound) -> Outcome {
    let mut data = None;
    match request.interface() {
        Interface::PayApply => match payapply_data(st, cp, request.applyno()).await {
            Ok(d) => data = Some(d),
            Err(o) => return o,
        },
        Interface::CancelApply => return cancel(st, cp, &request).await,
        _ => {
            if let Err(o) = admit(st, cp, &request).await {
                return o;
            }
        }
    }
    let (to, message) = match gw_contract::inbound::message(&cp.name, &request, chrono::Utc::now())
    {
        Ok(m) => m,
        Err(e) => {
            return Outcome::refuse(msg::BUSY).cause(format!("cannot encode the message: {e}"));
        }
    };
    if let Err(e) = st.bus.publish(&to, &message).await {
        return Outcome::refuse(msg::BUSY).cause(e.to_string());
    }
    Outcome::ok(data)
}

/// Refuses at once a request the lifecycle row says cannot be carried out
/// (see `gw_lifecycle::admit`); nothing is queued then.
async fn admit(st: &AppState, cp: &Counterpart, request: &Inbound) -> Result<(), Outcome> {
    let Some(baohanno) = request.baohanno() else {
        return Ok(());
    };
    let row = gw_storage::applications::find(st.db.conn(), request.applyno())
        .await
        .map_err(|e| Outcome::refuse(msg::BUSY).cause(format!("database: {e}")))?
        .filter(|r| r.counterpart == cp.name);
    let matches = row.as_ref().and_then(|r| r.baohanno.as_ref()) == Some(baohanno);
    gw_lifecycle::admit(request.interface(), row.map(|r| r.state), matches)
        .map_err(|r| Outcome::refuse(r.to_string()))
}

/// `cancelapply`: the request and its message in one transaction.
async fn cancel(st: &AppState, cp: &Counterpart, request: &Inbound) -> Outcome {
    let Inbound::CancelApply(c) = request else {
        return Outcome::refuse(msg::NOT_FOUND);
    };
    let envelope = gw_contract::InboundEnvelope {
        counterpart: cp.name.clone(),
        interface: Interface::CancelApply,
        received_at: chrono::Utc::now(),
        request: c.clone(),
    };
    let recorded = async {
        let tx = st.flow.begin().await?;
        gw_storage::cancels::request(tx.conn(), &c.applyno, &cp.name, c.scene.code())
            .await
            .map_err(gw_workflow::db_failure)?;
        tx.send(&envelope).await?;
        tx.commit().await
    };
    match recorded.await {
        Ok(()) => Outcome::ok(None),
        Err(e) => Outcome::refuse(msg::BUSY).cause(format!("cannot record the cancel: {e:?}")),
    }
}

/// The encrypted `data` of a `payapply` answer, or the refusal.
async fn payapply_data(
    st: &AppState,
    cp: &Counterpart,
    applyno: &gw_protocol::ApplyNo,
) -> Result<String, Outcome> {
    let row = gw_storage::applications::find(st.db.conn(), applyno)
        .await
        .map_err(|e| Outcome::refuse(msg::BUSY).cause(format!("database: {e}")))?;
    // An application belongs to the counterpart that sent it.
    let row = row.filter(|r| r.counterpart == cp.name);
    let cancel_holds = gw_storage::cancels::holds(st.db.conn(), applyno)
        .await
        .map_err(|e| Outcome::refuse(msg::BUSY).cause(format!("database: {e}")))?;
    let status = gw_lifecycle::payapply(row.as_ref().map(|r| r.state), cancel_holds)
        .map_err(|r| Outcome::refuse(r.to_string()))?;
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
