//! What every service shares: building its bus and database connections
//! from [`Settings`], starting telemetry, serving `/healthz` and `/readyz`,
//! and turning SIGTERM into a [`CancellationToken`] for graceful shutdown.

pub mod effects;
mod limiter;
pub mod worker;

pub use limiter::RateLimiter;

use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use gw_bus::Bus;
use gw_bus::amqp::AmqpOptions;
use gw_config::{LogFormat, Settings};
use gw_storage::{Db, DbOptions};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

pub use tokio_util::sync::CancellationToken as Shutdown;

/// Starts telemetry for `service` as configured.
pub fn init_telemetry(
    settings: &Settings,
    service: &str,
) -> anyhow::Result<gw_telemetry::TelemetryGuard> {
    let format = match settings.telemetry.log_format {
        LogFormat::Json => gw_telemetry::Format::Json,
        LogFormat::Pretty => gw_telemetry::Format::Pretty,
    };
    gw_telemetry::init(service, &settings.telemetry.log_filter, format)
}

/// The broker topology of this deployment: the configured prefix, and one
/// retry tier per delay of the workers (`amqp.retry_tiers`) and of egress
/// (`egress.retry_schedule`). Every service declares all of it, identically.
pub fn topology(settings: &Settings) -> gw_bus::Topology {
    gw_bus::Topology::new(
        settings.amqp.prefix.clone(),
        settings
            .amqp
            .retry_tiers
            .iter()
            .chain(settings.egress.retry_schedule.iter())
            .copied(),
    )
    .with_queue_type(match settings.amqp.queue_type {
        gw_config::QueueType::Quorum => gw_bus::QueueType::Quorum,
        gw_config::QueueType::Classic => gw_bus::QueueType::Classic,
    })
}

/// Connects to RabbitMQ and declares the topology.
pub async fn connect_bus(settings: &Settings, service: &str) -> anyhow::Result<Bus> {
    let options = AmqpOptions {
        url: settings.amqp.url.expose_secret().to_owned(),
        connection_name: format!("{service}@{}", settings.amqp.prefix),
        connect_timeout: settings.amqp.connect_timeout,
    };
    Bus::connect_amqp(&options, topology(settings), settings.amqp.publish_timeout)
        .await
        .context("cannot reach RabbitMQ (amqp.url)")
}

/// The bus and the database of `service`: RabbitMQ, or, when `amqp.url` is
/// `embedded`, the bus in the database (single-process mode).
pub async fn connect(settings: &Settings, service: &str) -> anyhow::Result<(Bus, Db)> {
    let db = connect_db(settings).await?;
    let bus = if settings.amqp.is_embedded() {
        let topology = topology(settings);
        let transport = gw_storage::embedded_bus::EmbeddedTransport::new(db.clone(), &topology);
        Bus::new(
            std::sync::Arc::new(transport),
            topology,
            settings.amqp.publish_timeout,
        )
    } else {
        connect_bus(settings, service).await?
    };
    Ok((bus, db))
}

/// Opens the database and applies migrations.
pub async fn connect_db(settings: &Settings) -> anyhow::Result<Db> {
    let options = DbOptions {
        url: settings.database.url.expose_secret().to_owned(),
        max_connections: settings.database.max_connections,
        connect_timeout: settings.database.connect_timeout,
        schema: settings.database.schema.clone(),
    };
    Db::connect(&options)
        .await
        .context("cannot open the database (database.url)")
}

/// A token cancelled on SIGTERM or Ctrl-C.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        t.cancel();
    });
    token
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// What `/readyz` checks.
#[derive(Clone)]
struct Readiness {
    bus: Bus,
    db: Db,
}

/// `/healthz` (the process is alive) and `/readyz` (its broker and database
/// answer now). Neither reveals configuration.
pub fn health_routes(bus: &Bus, db: &Db) -> Router {
    let readiness = Readiness {
        bus: bus.clone(),
        db: db.clone(),
    };
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(ready))
        .with_state(readiness)
}

async fn ready(State(r): State<Readiness>) -> impl IntoResponse {
    let mut body = serde_json::Map::new();
    let broker = r.bus.check().await.is_ok();
    let database = tokio::time::timeout(Duration::from_secs(2), r.db.check())
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    let ok = broker && database;
    let word = |up: bool| if up { "up" } else { "down" };
    body.insert("broker".into(), word(broker).into());
    body.insert("database".into(), word(database).into());
    body.insert(
        "status".into(),
        (if ok { "ready" } else { "not ready" }).into(),
    );
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(serde_json::Value::Object(body)))
}

/// Requires `Authorization: Bearer <admin.token>` on every route of `router`
/// (compared in constant time). An empty token disables the routes.
pub fn require_admin_token(router: Router, token: &secrecy::SecretString) -> Router {
    let t = token.expose_secret();
    let digest = (!t.is_empty()).then(|| gw_envelope::sign::sm3_digest(t.as_bytes()));
    router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            let given = req
                .headers()
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| gw_envelope::sign::sm3_digest(t.trim().as_bytes()));
            let deny = |msg: &str| {
                (
                    StatusCode::UNAUTHORIZED,
                    Json(serde_json::json!({"error": msg})),
                )
                    .into_response()
            };
            match (digest, given) {
                (Some(want), Some(got))
                    if bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], &got[..])) =>
                {
                    next.run(req).await
                }
                (None, _) => deny("the admin API is disabled (admin.token is empty)"),
                _ => deny("a valid bearer token is required"),
            }
        },
    ))
}

/// Serves `router` on `listener` until `shutdown`.
pub fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("HTTP server")
    })
}

/// Binds `addr`, saying which setting to fix when it cannot.
pub async fn bind(
    addr: std::net::SocketAddr,
    setting: &str,
) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({setting})"))
}

/// Consumes `queue` with the worker defaults (`amqp.prefetch`,
/// `amqp.max_attempts`, `amqp.retry_tiers`) until `shutdown`.
pub fn consume<H: gw_bus::Handler>(
    settings: &Settings,
    bus: &Bus,
    queue: &str,
    handler: std::sync::Arc<H>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let cs = gw_bus::ConsumerSettings::new(
        queue,
        settings.amqp.prefetch,
        settings.amqp.max_attempts,
        settings.amqp.retry_tiers.clone(),
    );
    let bus = bus.clone();
    tokio::spawn(async move {
        gw_bus::consumer::run(bus, cs, handler, shutdown)
            .await
            .map_err(anyhow::Error::from)
    })
}

/// Waits for every task; returns the first error.
pub async fn join_all(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
) -> anyhow::Result<()> {
    let mut first = Ok(());
    for t in tasks {
        let r = match t.await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("a task panicked: {e}")),
        };
        if let (Err(e), true) = (r, first.is_ok()) {
            first = Err(e);
        }
    }
    first
}

/// Escapes text for HTML.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
