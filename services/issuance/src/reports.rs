//! Business reports on the issuance admin port (issuance owns the files and
//! the PDF font), and their schedule:
//!
//! * `POST /admin/reports/daily?date=YYYY-MM-DD` and
//!   `POST /admin/reports/monthly?month=YYYY-MM`: generate (again) and
//!   answer the figures with the links of the files;
//! * `GET /admin/reports`: the reports generated, latest first;
//! * `GET /admin/reports/{name}`: one, with its figures;
//! * `GET /admin/reports/{name}/{xlsx|csv|pdf}`: its file.
//!
//! Every day at `reports.daily_at` (China time) yesterday's daily report is
//! written, and on the 1st last month's monthly one.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::Datelike as _;
use gw_files::FileStore;
use gw_host::Shutdown as CancellationToken;
use gw_reports::Period;
use gw_storage::{Db, reports};
use gw_web::admin::{self, Problem};
use secrecy::SecretString;
use serde::Deserialize;

/// Generates reports.
#[derive(Clone)]
pub struct Reporter {
    pub db: Db,
    pub store: Arc<dyn FileStore>,
    /// Named on the PDF summary.
    pub institution: String,
}

impl Reporter {
    pub async fn generate(&self, period: Period) -> anyhow::Result<gw_reports::Report> {
        let r =
            gw_reports::generate(&self.db, self.store.as_ref(), &self.institution, period).await?;
        tracing::info!(report = %r.row.name, "business report written");
        Ok(r)
    }

    /// The scheduled reports, every day at `at` (China time), until `stop`.
    pub async fn run(self, at: chrono::NaiveTime, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            let now = chrono::Utc::now();
            let next = gw_reports::next_run(now, at);
            let wait = (next - now).to_std().unwrap_or_default();
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
            let now = chrono::Utc::now();
            let mut due = vec![Period::yesterday(now)];
            // The 1st, China time: the month before is complete.
            if now.with_timezone(&gw_protocol::types::cst()).day() == 1 {
                due.push(Period::last_month(now));
            }
            for period in due {
                // Another replica may have written it already, complete.
                let (_, end) = period.range();
                match reports::find(self.db.conn(), &period.name()).await {
                    Ok(Some(r)) if r.generated_at >= end => continue,
                    _ => {}
                }
                if let Err(e) = self.generate(period).await {
                    tracing::error!(report = %period.name(), error = %e, "the scheduled report failed; it can be generated on demand");
                }
            }
        }
    }
}

fn view(row: &reports::ReportRow) -> serde_json::Value {
    let link = |f: &str| format!("/admin/reports/{}/{f}", row.name);
    serde_json::json!({
        "name": row.name, "period": row.period,
        "starts_at": row.starts_at, "ends_at": row.ends_at, "generated_at": row.generated_at,
        "figures": row.figures,
        "files": {"xlsx": link("xlsx"), "csv": link("csv"), "pdf": link("pdf")},
    })
}

#[derive(Deserialize)]
struct DayQuery {
    date: String,
}

#[derive(Deserialize)]
struct MonthQuery {
    month: String,
}

async fn daily(
    State(r): State<Reporter>,
    Query(q): Query<DayQuery>,
) -> Result<Json<serde_json::Value>, Problem> {
    let period = Period::day(&q.date).map_err(Problem::bad_request)?;
    generate(&r, period).await
}

async fn monthly(
    State(r): State<Reporter>,
    Query(q): Query<MonthQuery>,
) -> Result<Json<serde_json::Value>, Problem> {
    let period = Period::month(&q.month).map_err(Problem::bad_request)?;
    generate(&r, period).await
}

async fn generate(r: &Reporter, period: Period) -> Result<Json<serde_json::Value>, Problem> {
    let report = r
        .generate(period)
        .await
        .map_err(|e| Problem::internal("generating a report", format!("{e:#}")))?;
    Ok(Json(view(&report.row)))
}

async fn list(State(r): State<Reporter>) -> Result<Json<Vec<serde_json::Value>>, Problem> {
    let rows = reports::list(r.db.conn(), 200)
        .await
        .map_err(|e| Problem::internal("listing reports", e))?;
    Ok(Json(rows.iter().map(view).collect()))
}

async fn one(
    State(r): State<Reporter>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let found = reports::find(r.db.conn(), &name).await;
    let row = admin::found("reading a report", found, "no such report")?;
    Ok(Json(view(&row)))
}

async fn file(
    State(r): State<Reporter>,
    Path((name, format)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let found = reports::find(r.db.conn(), &name).await;
    let row = admin::found("reading a report", found, "no such report")?;
    let (token, filename, content_type) = gw_reports::file_of(&row, &format)
        .ok_or_else(|| Problem::bad_request("the format is xlsx, csv or pdf"))?;
    let stored = r.store.get(&token).await;
    let (_, bytes) = admin::found(
        "reading a report file",
        stored,
        "the report's file is missing",
    )?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The report routes; the caller puts them behind the admin token.
pub fn routes(r: Reporter) -> Router {
    Router::new()
        .route("/admin/reports", get(list))
        .route("/admin/reports/daily", post(daily))
        .route("/admin/reports/monthly", post(monthly))
        .route("/admin/reports/{name}", get(one))
        .route("/admin/reports/{name}/{format}", get(file))
        .with_state(r)
}

/// The issuance admin routes with the reports.
pub fn with_admin(admin: Router, r: Reporter, token: &SecretString) -> Router {
    admin.merge(gw_web::require_admin_token(routes(r), token))
}
