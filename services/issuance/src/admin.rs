//! The issuance admin API (its own port, `admin.token`):
//!
//! * `GET /admin/verifications?since=&baohanno=&limit=`: the verification
//!   lookups (验真记录), newest first: when, from which address, by number
//!   or by file, which guarantee, and the outcome. `since` is RFC 3339.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Json;
use axum::routing::get;
use chrono::{DateTime, Utc};
use gw_storage::{Db, verifications};
use gw_web::admin::{self, Problem};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize)]
struct ListQuery {
    since: Option<DateTime<Utc>>,
    baohanno: Option<String>,
    limit: Option<u64>,
}

async fn list(
    State(db): State<Db>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<verifications::Lookup>>, Problem> {
    let found = verifications::list(
        db.conn(),
        q.since,
        q.baohanno.as_deref(),
        q.limit.unwrap_or(200),
    );
    admin::listed("verification lookups", found.await)
}

pub fn routes(db: Db, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/verifications", get(list))
        .with_state(db);
    gw_web::require_admin_token(router, token)
}
