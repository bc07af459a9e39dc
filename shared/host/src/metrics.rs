//! `GET /metrics` on every admin listener: Prometheus text of what this
//! process counted (requests, messages, notices, PDFs; bounded labels, no
//! applyno) and, read at scrape time from the shared database, the outbox
//! backlog and the age of the oldest notice not yet delivered. No secret
//! or personal data is in any series, so scraping needs no admin token;
//! keep the admin ports private as ever.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use gw_storage::Db;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use (`None` if another
/// recorder was installed first: then `/metrics` says so).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            // Histograms with buckets (not summaries): replicas' buckets add
            // up in a dashboard; from 5 ms to 10 min (a notice held by a
            // platform that was down).
            let built = PrometheusBuilder::new().set_buckets(&[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                600.0,
            ]);
            match built.and_then(PrometheusBuilder::install_recorder) {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "no Prometheus recorder: /metrics will be empty");
                    None
                }
            }
        })
        .as_ref()
}

#[derive(Clone)]
struct Scrape {
    db: Db,
    consumers: gw_bus::Consumers,
}

async fn scrape(State(Scrape { db, consumers }): State<Scrape>) -> impl IntoResponse {
    // 1 while a consumer takes messages, 0 while it is paused, starting,
    // resubscribing or stopped: an alert fires on a 0 that lasts.
    for (queue, status) in consumers.snapshot() {
        let up = if status == gw_bus::consumer::Status::Consuming {
            1.0
        } else {
            0.0
        };
        metrics::gauge!("gw_consumer_up", "queue" => queue).set(up);
    }
    match gw_bus_sql::outbox::pending_count(db.conn()).await {
        Ok(n) => metrics::gauge!("gw_outbox_backlog").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count the outbox backlog"),
    }
    match gw_storage::dead_letters::open_count(db.conn()).await {
        Ok(n) => metrics::gauge!("gw_dead_letters_open").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count the open dead letters"),
    }
    match gw_storage::notices::oldest_open(db.conn()).await {
        Ok(oldest) => {
            let age = oldest
                .map(|t| (chrono::Utc::now() - t).num_milliseconds() as f64 / 1000.0)
                .unwrap_or(0.0);
            metrics::gauge!("gw_oldest_undelivered_notice_seconds").set(age.max(0.0));
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the oldest notice"),
    }
    let body = handle().map(PrometheusHandle::render).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// `GET /metrics`.
pub fn routes(db: Db, consumers: gw_bus::Consumers) -> Router {
    // Installed before the first message or request is counted.
    let _ = handle();
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape { db, consumers })
}
