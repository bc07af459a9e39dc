//! The underwriting admin API (its own port, `admin.token`):
//!
//! * `GET /admin/rules`: the rules in force and their version;
//! * `GET /admin/blocklist`, `PUT /admin/blocklist/{code}` (`{"reason"}`),
//!   `DELETE /admin/blocklist/{code}`;
//! * `GET /admin/applications/{applyno}`: the application and every decision;
//! * `POST /admin/applications/{applyno}/decision`
//!   (`{"verdict": "approve"|"reject", "remark", "decided_by"}`): a person's
//!   decision on a referred application. It goes through the decisions
//!   queue, like a risk system's, and is answered 202 once queued.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use gw_bus::Bus;
use gw_contract::{ReviewDecision, ReviewVerdict};
use gw_lifecycle::State as AppState;
use gw_protocol::ApplyNo;
use gw_storage::{Db, applications, underwriting};
use secrecy::SecretString;
use serde::Deserialize;

use crate::rules::RulesHandle;

#[derive(Clone)]
struct Admin {
    db: Db,
    bus: Bus,
    rules: RulesHandle,
}

fn problem(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": msg.into()}))).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "admin request failed");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

async fn rules(State(a): State<Admin>) -> Response {
    let r = a.rules.get();
    Json(serde_json::json!({
        "version": r.version,
        "require_valid_credit_code": r.require_valid_credit_code,
        "max_amount_per_application": r.max_amount.to_string(),
        "max_exposure_per_bidder": r.max_exposure.to_string(),
        "minimum_premium": r.minimum_premium.to_string(),
        "refer_from": r.refer_from.map(|d| d.to_string()),
        "rate_bands": r.bands.iter().map(|(u, rate)| serde_json::json!({"up_to": u.map(|d| d.to_string()), "rate": rate.to_string()})).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn list_blocked(State(a): State<Admin>) -> Response {
    match underwriting::blocklist(a.db.conn()).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct BlockBody {
    reason: String,
    #[serde(default)]
    added_by: Option<String>,
}

async fn block(
    State(a): State<Admin>,
    Path(code): Path<String>,
    Json(b): Json<BlockBody>,
) -> Response {
    if gw_protocol::CreditCode::try_from(code.as_str()).is_err() {
        return problem(StatusCode::BAD_REQUEST, "not a credit code");
    }
    if b.reason.trim().is_empty() {
        return problem(StatusCode::BAD_REQUEST, "a reason is required");
    }
    let by = b.added_by.unwrap_or_else(|| "admin".into());
    match underwriting::block(a.db.conn(), code.trim(), b.reason.trim(), &by).await {
        Ok(row) => {
            tracing::info!(credit_code = %row.credit_code, by = %by, "credit code blocked");
            Json(row).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn unblock(State(a): State<Admin>, Path(code): Path<String>) -> Response {
    match underwriting::unblock(a.db.conn(), code.trim()).await {
        Ok(true) => {
            tracing::info!(credit_code = %code, "credit code unblocked");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => problem(StatusCode::NOT_FOUND, "not on the blocklist"),
        Err(e) => internal(e),
    }
}

async fn application(State(a): State<Admin>, Path(applyno): Path<String>) -> Response {
    let Ok(applyno) = ApplyNo::try_from(applyno.as_str()) else {
        return problem(StatusCode::BAD_REQUEST, "not an applyno");
    };
    let app = match applications::find(a.db.conn(), &applyno).await {
        Ok(Some(app)) => app,
        Ok(None) => return problem(StatusCode::NOT_FOUND, "no such application"),
        Err(e) => return internal(e),
    };
    let decisions = match underwriting::decisions(a.db.conn(), &applyno).await {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let decisions: Vec<serde_json::Value> = decisions
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "decision": d.decision, "reason": d.reason, "rate": d.rate, "cost_cents": d.cost_cents,
                "checks": serde_json::from_str::<serde_json::Value>(&d.checks).unwrap_or_default(),
                "rules_version": d.rules_version, "decided_by": d.decided_by, "decided_at": d.decided_at,
            })
        })
        .collect();
    Json(serde_json::json!({
        "applyno": app.applyno, "counterpart": app.counterpart, "state": app.state, "version": app.version,
        "biddername": app.biddername, "biddercode": app.biddercode,
        "bzjamount_cents": app.bzjamount_cents,
        "jbrname": gw_protocol::mask::mask(gw_protocol::mask::PiiKind::Name, &app.jbrname),
        "jbrphone": gw_protocol::mask::mask(gw_protocol::mask::PiiKind::Phone, &app.jbrphone),
        "rate": app.rate, "cost_cents": app.cost_cents, "remark": app.remark,
        "decisions": decisions,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct DecisionBody {
    verdict: ReviewVerdict,
    remark: String,
    decided_by: String,
}

async fn decide(
    State(a): State<Admin>,
    Path(applyno): Path<String>,
    Json(b): Json<DecisionBody>,
) -> Response {
    let decision: ReviewDecision = match serde_json::from_value(serde_json::json!({
        "applyno": applyno, "verdict": b.verdict, "remark": b.remark, "decided_by": b.decided_by,
    })) {
        Ok(d) => d,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match applications::find(a.db.conn(), &decision.applyno).await {
        Ok(Some(app)) if app.state == AppState::Referred => {}
        Ok(Some(app)) => {
            return problem(
                StatusCode::CONFLICT,
                format!("the application is {}, not referred", app.state),
            );
        }
        Ok(None) => return problem(StatusCode::NOT_FOUND, "no such application"),
        Err(e) => return internal(e),
    }
    let (to, m) = match gw_contract::message(&decision) {
        Ok(m) => m,
        Err(e) => return internal(e),
    };
    match a.bus.publish(&to, &m).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"queued": m.id})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot queue a decision");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the message broker is unavailable; try again",
            )
        }
    }
}

pub fn routes(db: Db, bus: Bus, rules: RulesHandle, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/rules", get(self::rules))
        .route("/admin/blocklist", get(list_blocked))
        .route("/admin/blocklist/{code}", put(block).delete(unblock))
        .route("/admin/applications/{applyno}", get(application))
        .route("/admin/applications/{applyno}/decision", post(decide))
        .with_state(Admin { db, bus, rules });
    gw_web::require_admin_token(router, token)
}
