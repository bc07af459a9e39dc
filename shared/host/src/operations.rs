//! `GET /admin/operations`: the operation records (操作记录), on every
//! admin port (they share the database), as JSON or CSV.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use gw_storage::Db;
use gw_storage::operations::{self, Filter};
use gw_web::admin::Problem;
use serde::Deserialize;

#[derive(Deserialize)]
struct ListQuery {
    action: Option<String>,
    subject: Option<String>,
    actor: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<u64>,
    /// `csv` for a file a spreadsheet opens; JSON otherwise.
    format: Option<String>,
}

async fn list(State(db): State<Db>, Query(q): Query<ListQuery>) -> Result<Response, Problem> {
    let f = Filter {
        action: q.action,
        subject: q.subject,
        actor: q.actor,
        since: q.since,
        until: q.until,
        limit: q.limit.unwrap_or(1000),
    };
    let rows = operations::list(db.conn(), &f)
        .await
        .map_err(|e| Problem::internal("listing operation records", e))?;
    Ok(match q.format.as_deref() {
        Some("csv") => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"operations.csv\"",
                ),
            ],
            // A byte-order mark: spreadsheet programs then read UTF-8.
            format!("\u{feff}{}", operations::to_csv(&rows)),
        )
            .into_response(),
        Some("json") | None => Json(rows).into_response(),
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "format must be json or csv, not {other:?}"
            )));
        }
    })
}

/// `GET /admin/operations?action=&subject=&actor=&since=&until=&limit=&format=csv`,
/// oldest first. The caller puts it behind the admin token.
pub fn routes(db: Db) -> Router {
    Router::new()
        .route("/admin/operations", get(list))
        .with_state(db)
}
