//! `/healthz` (the process is alive) and `/readyz` (its broker and database
//! answer now). Neither reveals configuration.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use gw_bus::Bus;
use gw_storage::Db;

#[derive(Clone)]
struct Readiness {
    bus: Bus,
    db: Db,
}

/// The health routes of a listener.
pub fn health_routes(bus: &Bus, db: &Db) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(ready))
        .with_state(Readiness {
            bus: bus.clone(),
            db: db.clone(),
        })
}

async fn ready(State(r): State<Readiness>) -> impl IntoResponse {
    let broker = r.bus.check().await.is_ok();
    let database = tokio::time::timeout(Duration::from_secs(2), r.db.check())
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    let ok = broker && database;
    let word = |up: bool| if up { "up" } else { "down" };
    let body = serde_json::json!({
        "broker": word(broker),
        "database": word(database),
        "status": if ok { "ready" } else { "not ready" },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
