//! `/healthz` (the process is alive) and `/readyz` (its broker and database
//! answer now, and every consumer is consuming). Neither reveals
//! configuration.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use futures::FutureExt;
use gw_bus::Bus;
use gw_bus::consumer::{Consumers, Probe};
use gw_storage::Db;

#[derive(Clone)]
struct Readiness {
    bus: Bus,
    db: Db,
    consumers: Consumers,
}

/// The health routes of a listener.
pub fn health_routes(bus: &Bus, db: &Db, consumers: &Consumers) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(ready))
        .with_state(Readiness {
            bus: bus.clone(),
            db: db.clone(),
            consumers: consumers.clone(),
        })
}

async fn database_answers(db: &Db) -> bool {
    tokio::time::timeout(Duration::from_secs(2), db.check())
        .await
        .is_ok_and(|r| r.is_ok())
}

/// The consumers' probe: the database and the broker answer.
pub fn probe(bus: &Bus, db: &Db) -> Probe {
    let (bus, db) = (bus.clone(), db.clone());
    std::sync::Arc::new(move || {
        let (bus, db) = (bus.clone(), db.clone());
        async move {
            if !database_answers(&db).await {
                return Err("the database does not answer".to_owned());
            }
            bus.check().await.map_err(|e| e.to_string())
        }
        .boxed()
    })
}

async fn ready(State(r): State<Readiness>) -> impl IntoResponse {
    let broker = r.bus.check().await.is_ok();
    let database = database_answers(&r.db).await;
    let consuming = r.consumers.all_consuming();
    let ok = broker && database && consuming;
    let word = |up: bool| if up { "up" } else { "down" };
    let body = serde_json::json!({
        "broker": word(broker),
        "database": word(database),
        "consumers": r.consumers.snapshot(),
        "status": if ok { "ready" } else { "not ready" },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
