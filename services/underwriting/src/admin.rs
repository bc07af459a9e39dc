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
use gw_storage::operations::{self, Actor, Operation};
use gw_storage::sea_orm::{ConnectionTrait, DbErr, TransactionTrait};
use gw_storage::{Db, applications, underwriting};
use gw_web::admin::{self, Operator, Problem};
use secrecy::SecretString;
use serde::Deserialize;

use crate::rules::RulesHandle;

#[derive(Clone)]
struct Admin {
    db: Db,
    bus: Bus,
    rules: RulesHandle,
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

async fn list_blocked(
    State(a): State<Admin>,
) -> Result<Json<Vec<underwriting::BlockedCode>>, Problem> {
    admin::listed("the blocklist", underwriting::blocklist(a.db.conn()).await)
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
    Operator(who): Operator,
    Json(b): Json<BlockBody>,
) -> Result<Json<underwriting::BlockedCode>, Problem> {
    let _: gw_protocol::CreditCode = admin::parse(&code, "a credit code")?;
    if b.reason.trim().is_empty() {
        return Err(Problem::bad_request("a reason is required"));
    }
    let actor = Actor::admin_api(who.or(b.added_by).as_deref());
    let code = code.trim();
    let run = async {
        let tx = a.db.conn().begin().await?;
        let before = blocked(&tx, code).await?;
        let row = underwriting::block(&tx, code, b.reason.trim(), &actor.name).await?;
        operations::record(
            &tx,
            Operation {
                actor: &actor,
                service: "underwriting",
                action: "blocklist.added",
                subject: code,
                before,
                after: Some(serde_json::json!({"reason": row.reason})),
                remark: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok::<_, DbErr>(row)
    };
    let row = run
        .await
        .map_err(|e| Problem::internal("blocking a credit code", e))?;
    tracing::info!(credit_code = %row.credit_code, by = %actor.name, "credit code blocked");
    Ok(Json(row))
}

/// The blocklist entry of `code` as recorded before a change.
async fn blocked<C: ConnectionTrait>(
    conn: &C,
    code: &str,
) -> Result<Option<serde_json::Value>, DbErr> {
    Ok(underwriting::blocked(conn, code)
        .await?
        .map(|b| serde_json::json!({"reason": b.reason, "added_by": b.added_by})))
}

async fn unblock(
    State(a): State<Admin>,
    Path(code): Path<String>,
    Operator(who): Operator,
) -> Result<StatusCode, Problem> {
    let actor = Actor::admin_api(who.as_deref());
    let code = code.trim();
    let run = async {
        let tx = a.db.conn().begin().await?;
        let before = blocked(&tx, code).await?;
        let removed = underwriting::unblock(&tx, code).await?;
        if removed {
            operations::record(
                &tx,
                Operation {
                    actor: &actor,
                    service: "underwriting",
                    action: "blocklist.removed",
                    subject: code,
                    before,
                    after: None,
                    remark: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok::<_, DbErr>(removed)
    };
    let removed = run
        .await
        .map_err(|e| Problem::internal("unblocking a credit code", e))?;
    if !removed {
        return Err(Problem::NotFound("not on the blocklist"));
    }
    tracing::info!(credit_code = %code, by = %actor.name, "credit code unblocked");
    Ok(StatusCode::NO_CONTENT)
}

async fn application(
    State(a): State<Admin>,
    Path(applyno): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let applyno: ApplyNo = admin::parse(&applyno, "an applyno")?;
    let lookup = applications::find(a.db.conn(), &applyno).await;
    let app = admin::found("reading an application", lookup, "no such application")?;
    let decisions = underwriting::decisions(a.db.conn(), &applyno)
        .await
        .map_err(|e| Problem::internal("reading decisions", e))?;
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
    Ok(Json(serde_json::json!({
        "applyno": app.applyno, "counterpart": app.counterpart, "state": app.state, "version": app.version,
        "biddername": app.biddername, "biddercode": app.biddercode,
        "bzjamount_cents": app.bzjamount_cents,
        "jbrname": gw_protocol::mask::mask(gw_protocol::mask::PiiKind::Name, &app.jbrname),
        "jbrphone": gw_protocol::mask::mask(gw_protocol::mask::PiiKind::Phone, &app.jbrphone),
        "rate": app.rate, "cost_cents": app.cost_cents, "remark": app.remark,
        "decisions": decisions,
    })))
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
    Operator(who): Operator,
    Json(b): Json<DecisionBody>,
) -> Result<Response, Problem> {
    let actor = Actor::admin_api(who.as_deref().or(Some(b.decided_by.as_str())));
    let decision: ReviewDecision = serde_json::from_value(serde_json::json!({
        "applyno": applyno, "verdict": b.verdict, "remark": b.remark, "decided_by": b.decided_by,
    }))
    .map_err(Problem::bad_request)?;
    let id = decide_referral(&a.db, &a.bus, &actor, &decision).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"queued": id})),
    )
        .into_response())
}

/// A person's decision on a referred application, from the admin API or
/// the console: checked against the application's state, handed to the
/// decisions queue (the worker applies it like a risk system's), and
/// recorded with who decided. The id of the queued message.
pub async fn decide_referral(
    db: &Db,
    bus: &Bus,
    actor: &Actor,
    decision: &ReviewDecision,
) -> Result<String, Problem> {
    let lookup = applications::find(db.conn(), &decision.applyno).await;
    let app = admin::found("reading an application", lookup, "no such application")?;
    if app.state != AppState::Referred {
        return Err(Problem::Conflict(format!(
            "the application is {}, not referred",
            app.state
        )));
    }
    let queued = admin::publish(bus, decision).await?;
    // Recorded once the decision is queued (its worker applies it).
    operations::record(
        db.conn(),
        Operation {
            actor,
            service: "underwriting",
            action: "referral.decided",
            subject: decision.applyno.as_str(),
            before: Some(serde_json::json!({"state": app.state})),
            after: Some(serde_json::json!({
                "verdict": decision.verdict, "remark": decision.remark,
                "decided_by": decision.decided_by,
            })),
            remark: None,
        },
    )
    .await
    .map_err(|e| Problem::internal("recording a referral decision", e))?;
    Ok(queued)
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
