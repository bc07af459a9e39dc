//! What every service shares: building its bus and database connections
//! from [`Settings`], starting telemetry, serving `/healthz` and `/readyz`,
//! and turning SIGTERM into a [`CancellationToken`] for graceful shutdown.

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
pub struct Readiness {
    pub bus: Option<Bus>,
    pub db: Option<Db>,
}

/// `/healthz` (the process is alive) and `/readyz` (its broker and database
/// answer now). Neither reveals configuration.
pub fn health_routes(readiness: Readiness) -> Router {
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
    let mut ok = true;
    if let Some(bus) = &r.bus {
        let up = bus.check().await.is_ok();
        ok &= up;
        body.insert("broker".into(), (if up { "up" } else { "down" }).into());
    }
    if let Some(db) = &r.db {
        let up = tokio::time::timeout(Duration::from_secs(2), db.check())
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false);
        ok &= up;
        body.insert("database".into(), (if up { "up" } else { "down" }).into());
    }
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
