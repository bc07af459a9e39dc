//! The issuance admin API (its own port, `admin.token`):
//!
//! * `GET /admin/verifications?since=&baohanno=&limit=`: the verification
//!   lookups (验真记录), newest first: when, from which address, by number
//!   or by file, which guarantee, and the outcome. `since` is RFC 3339.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use gw_storage::{Db, verifications};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize)]
struct ListQuery {
    since: Option<DateTime<Utc>>,
    baohanno: Option<String>,
    limit: Option<u64>,
}

async fn list(State(db): State<Db>, Query(q): Query<ListQuery>) -> Response {
    let found = verifications::list(
        db.conn(),
        q.since,
        q.baohanno.as_deref(),
        q.limit.unwrap_or(200),
    )
    .await;
    match found {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "listing verification lookups failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({"error": "internal error"})),
            )
                .into_response()
        }
    }
}

pub fn routes(db: Db, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/verifications", get(list))
        .with_state(db);
    gw_web::require_admin_token(router, token)
}
