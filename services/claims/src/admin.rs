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
use axum::response::{Json, Response};
use axum::routing::{get, post};
use gw_bus::Bus;
use gw_contract::PayoutConfirmation;
use gw_protocol::ApplicationNo;
use gw_protocol::mask::{PiiKind, mask};
use gw_storage::operations::{self, Actor, Operation};
use gw_storage::requests;
use gw_web::admin::{self, Operator, Problem};
use gw_workflow::Workflow;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Clone)]
struct Admin {
    flow: Workflow,
    bus: Bus,
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

async fn list(
    State(a): State<Admin>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<serde_json::Value>>, Problem> {
    let found = requests::claims(
        a.flow.db().conn(),
        q.applyno.as_deref(),
        q.limit.unwrap_or(100),
    );
    admin::listed("claims", found.await.map(|v| v.iter().map(view).collect()))
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
    Operator(who): Operator,
    Json(b): Json<PayoutBody>,
) -> Result<Response, Problem> {
    let applicationno: ApplicationNo = admin::parse(&applicationno, "an applicationno")?;
    let lookup = requests::claim(a.flow.db().conn(), &applicationno).await;
    let claim = admin::found("looking up a claim", lookup, "no such claim")?;
    let message = PayoutConfirmation {
        applicationno,
        applyno: claim.applyno,
        reference: admin::parse(&b.reference, "a reference of 1 to 100 characters")?,
        paid_at: admin::time_or_now(b.paid_at.as_deref(), "paid_at")?,
    };
    let queued = admin::queue(&a.bus, &message).await?;
    // Recorded once queued: the claims worker applies it.
    operations::record(
        a.flow.db().conn(),
        Operation {
            actor: &Actor::admin_api(who.as_deref()),
            service: "claims",
            action: "claim.payout_confirmed",
            subject: message.applicationno.as_str(),
            before: Some(serde_json::json!({"applyno": message.applyno.as_str()})),
            after: Some(serde_json::json!({
                "reference": message.reference.as_str(),
                "paid_at": message.paid_at.to_string(),
            })),
            remark: None,
        },
    )
    .await
    .map_err(|e| Problem::internal("recording a payout confirmation", e))?;
    Ok(queued)
}

pub fn routes(flow: Workflow, bus: Bus, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/claims", get(list))
        .route("/admin/claims/{applicationno}/payout", post(payout))
        .with_state(Admin { flow, bus });
    gw_web::require_admin_token(router, token)
}
