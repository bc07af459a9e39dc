//! The claims admin API (its own port, `admin.token`):
//!
//! * `GET /admin/claims?applyno=&limit=`: claims and their payouts
//!   (personal data masked);
//! * `POST /admin/claims/{applicationno}/payout` (`{"reference", "paid_at"?}`):
//!   the bank confirms it paid a claim out. It goes through the
//!   `claims.payout_confirmations` queue, like the bank's own confirmations,
//!   and is answered 202 once queued.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use gw_bus::Bus;
use gw_contract::PayoutConfirmation;
use gw_protocol::ApplicationNo;
use gw_protocol::mask::{PiiKind, mask};
use gw_storage::requests;
use gw_workflow::Workflow;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Clone)]
struct Admin {
    flow: Workflow,
    bus: Bus,
}

fn problem(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": msg.into()}))).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    applyno: Option<String>,
    limit: Option<u64>,
}

fn view(c: &requests::Claim) -> serde_json::Value {
    serde_json::json!({
        "applicationno": c.applicationno, "applyno": c.applyno, "baohanno": c.baohanno,
        "counterpart": c.counterpart, "amount_cents": c.amount_cents, "status": c.status,
        "refusal": c.refusal, "payeename": mask(PiiKind::Name, &c.payeename),
        "payeeaccount": mask(PiiKind::Account, &c.payeeaccount), "payeebank": c.payeebank,
        "files": serde_json::from_str::<serde_json::Value>(&c.files).unwrap_or_default(),
        "requested_at": c.requested_at, "paid_at": c.paid_at, "payout_reference": c.payout_reference,
    })
}

async fn list(State(a): State<Admin>, Query(q): Query<ListQuery>) -> Response {
    let found = requests::claims(
        a.flow.db().conn(),
        q.applyno.as_deref(),
        q.limit.unwrap_or(100),
    )
    .await;
    match found {
        Ok(v) => Json(v.iter().map(view).collect::<Vec<_>>()).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "listing claims failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[derive(Deserialize)]
struct PayoutBody {
    reference: String,
    #[serde(default)]
    paid_at: Option<String>,
}

async fn payout(
    State(a): State<Admin>,
    Path(applicationno): Path<String>,
    Json(b): Json<PayoutBody>,
) -> Response {
    let Ok(applicationno) = ApplicationNo::try_from(applicationno.as_str()) else {
        return problem(StatusCode::BAD_REQUEST, "not an applicationno");
    };
    let claim = match requests::claim(a.flow.db().conn(), &applicationno).await {
        Ok(Some(c)) => c,
        Ok(None) => return problem(StatusCode::NOT_FOUND, "no such claim"),
        Err(e) => {
            tracing::error!(error = %e, "claim lookup failed");
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let message: Result<PayoutConfirmation, _> = serde_json::from_value(serde_json::json!({
        "applicationno": applicationno, "applyno": claim.applyno, "reference": b.reference,
        "paid_at": b.paid_at.unwrap_or_else(|| gw_protocol::WireTime::now().to_string()),
    }));
    let message = match message {
        Ok(m) => m,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let sent = match gw_contract::message(&message) {
        Ok((to, m)) => a.bus.publish(&to, &m).await.map(|()| m.id),
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match sent {
        Ok(id) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"queued": id})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot queue a payout confirmation");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the message broker is unavailable; try again",
            )
        }
    }
}

pub fn routes(flow: Workflow, bus: Bus, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/claims", get(list))
        .route("/admin/claims/{applicationno}/payout", post(payout))
        .with_state(Admin { flow, bus });
    gw_web::require_admin_token(router, token)
}
