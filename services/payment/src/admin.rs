//! The payment admin API (its own port, `admin.token`):
//!
//! * `GET /admin/payments?status=held&applyno=...`: payments, newest last;
//! * `POST /admin/payments/{paynumber}/refund`: a person decides that a held
//!   payment goes back; it becomes `refund_requested` and a
//!   `payment.refund_needed` event tells the bank's systems.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use gw_contract::RefundCause;
use gw_lifecycle::PaymentStatus;
use gw_storage::payments;
use gw_workflow::{DbResultExt, Workflow};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Clone)]
struct Admin {
    flow: Workflow,
}

fn problem(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": msg.into()}))).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "admin request failed");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
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

async fn list(State(a): State<Admin>, Query(q): Query<ListQuery>) -> Response {
    let status = match q
        .status
        .as_deref()
        .map(str::parse::<PaymentStatus>)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match payments::list(a.flow.db().conn(), q.applyno.as_deref(), status).await {
        Ok(v) => Json(v.iter().map(view).collect::<Vec<_>>()).into_response(),
        Err(e) => internal(e),
    }
}

/// A person decides that a held payment goes back. Conditional: of two
/// concurrent calls one refunds and the other is told the payment is no
/// longer held; one `payment.refund_requested` event in all.
async fn refund(State(a): State<Admin>, Path(paynumber): Path<String>) -> Response {
    let run = async {
        let tx = a.flow.begin().await?;
        let Some(p) = payments::find(tx.conn(), &paynumber).await.transient()? else {
            return Ok(Err(problem(StatusCode::NOT_FOUND, "no such payment")));
        };
        let counterpart = match tx.application(&p.applyno).await? {
            Some(app) => app.counterpart,
            None => {
                return Ok(Err(problem(
                    StatusCode::CONFLICT,
                    "the payment has no application",
                )));
            }
        };
        let statuses = (PaymentStatus::Held, PaymentStatus::RefundRequested);
        let cause = RefundCause::Released;
        if !tx
            .refund(&p, statuses, &counterpart, cause, "退款（人工确认）")
            .await?
        {
            let now = payments::find(tx.conn(), &paynumber).await.transient()?;
            let status = now.map(|p| p.status).unwrap_or(p.status);
            return Ok(Err(problem(
                StatusCode::CONFLICT,
                format!("the payment is {status}, not held"),
            )));
        }
        tx.commit().await?;
        Ok::<_, gw_bus::Failure>(Ok(()))
    };
    match run.await {
        Ok(Ok(())) => {
            tracing::info!(paynumber = %paynumber, "held payment marked for refund");
            match payments::find(a.flow.db().conn(), &paynumber).await {
                Ok(Some(p)) => Json(view(&p)).into_response(),
                Ok(None) => problem(StatusCode::NOT_FOUND, "no such payment"),
                Err(e) => internal(e),
            }
        }
        Ok(Err(response)) => response,
        Err(e) => internal(format!("{e:?}")),
    }
}

pub fn routes(flow: Workflow, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/payments", get(list))
        .route("/admin/payments/{paynumber}/refund", post(refund))
        .with_state(Admin { flow });
    gw_web::require_admin_token(router, token)
}
