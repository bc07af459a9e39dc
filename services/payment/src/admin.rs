//! The payment admin API (its own port, `admin.token`):
//!
//! * `GET /admin/payments?status=held&applyno=...`: payments, newest last;
//! * `POST /admin/payments/{paynumber}/refund`: a person decides that a held
//!   payment goes back; it becomes `refund_requested` and a
//!   `payment.refund_requested` event tells the bank's systems.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Json;
use axum::routing::{get, post};
use gw_contract::RefundCause;
use gw_lifecycle::PaymentStatus;
use gw_storage::operations::{self, Actor, Operation};
use gw_storage::payments;
use gw_web::admin::{self, Operator, Problem};
use gw_workflow::{DbResultExt, Workflow};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Clone)]
struct Admin {
    flow: Workflow,
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    applyno: Option<String>,
}

fn view(p: &payments::Payment) -> serde_json::Value {
    use gw_protocol::mask::{PiiKind, mask};
    serde_json::json!({
        "paynumber": p.paynumber, "applyno": p.applyno, "paytype": p.paytype,
        "paymoney_cents": p.paymoney_cents, "paydate": p.paydate,
        "payname": mask(PiiKind::Name, &p.payname), "payaccount": mask(PiiKind::Account, &p.payaccount),
        "paybank": p.paybank, "source": p.source, "status": p.status, "reason": p.reason,
        "received_at": p.received_at,
    })
}

async fn list(
    State(a): State<Admin>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<serde_json::Value>>, Problem> {
    let status = q.status.as_deref().map(str::parse::<PaymentStatus>);
    let status = status.transpose().map_err(Problem::bad_request)?;
    let found = payments::list(a.flow.db().conn(), q.applyno.as_deref(), status).await;
    admin::listed("payments", found.map(|v| v.iter().map(view).collect()))
}

async fn refund(
    State(a): State<Admin>,
    Path(paynumber): Path<String>,
    Operator(who): Operator,
) -> Result<Json<serde_json::Value>, Problem> {
    let p = refund_held(&a.flow, &paynumber, &Actor::admin_api(who.as_deref())).await?;
    Ok(Json(view(&p)))
}

/// A person decides that a held payment goes back (the admin API and the
/// console). Conditional: of two concurrent calls one refunds and the
/// other is told the payment is no longer held; one
/// `payment.refund_requested` event in all. The payment as it is now.
pub async fn refund_held(
    flow: &Workflow,
    paynumber: &str,
    actor: &Actor,
) -> Result<payments::Payment, Problem> {
    let run = async {
        let tx = flow.begin().await?;
        let Some(p) = payments::find(tx.conn(), paynumber).await.transient()? else {
            return Ok(Err(Problem::NotFound("no such payment")));
        };
        let Some(app) = tx.application(&p.applyno).await? else {
            return Ok(Err(Problem::Conflict(
                "the payment has no application".into(),
            )));
        };
        let statuses = (PaymentStatus::Held, PaymentStatus::RefundRequested);
        let cause = RefundCause::Released;
        if !tx
            .refund(&p, statuses, &app.counterpart, cause, "退款（人工确认）")
            .await?
        {
            let now = payments::find(tx.conn(), paynumber).await.transient()?;
            let status = now.map(|p| p.status).unwrap_or(p.status);
            return Ok(Err(Problem::Conflict(format!(
                "the payment is {status}, not held"
            ))));
        }
        operations::record(
            tx.conn(),
            Operation {
                actor,
                service: "payment",
                action: "payment.refunded",
                subject: paynumber,
                before: Some(serde_json::json!({
                    "applyno": p.applyno.as_str(), "status": p.status,
                    "amount_cents": p.paymoney_cents,
                })),
                after: Some(serde_json::json!({"status": PaymentStatus::RefundRequested})),
                remark: Some("退款（人工确认）"),
            },
        )
        .await
        .transient()?;
        tx.commit().await?;
        Ok::<_, gw_bus::Failure>(Ok(()))
    };
    run.await
        .map_err(|e| Problem::internal("a refund", format!("{e:?}")))??;
    tracing::info!(paynumber = %paynumber, by = %actor.name, "held payment marked for refund");
    let lookup = payments::find(flow.db().conn(), paynumber).await;
    admin::found("reading a payment", lookup, "no such payment")
}

pub fn routes(flow: Workflow, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/payments", get(list))
        .route("/admin/payments/{paynumber}/refund", post(refund))
        .with_state(Admin { flow });
    gw_web::require_admin_token(router, token)
}
