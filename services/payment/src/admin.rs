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
use chrono::Utc;
use gw_bus::events;
use gw_protocol::messages::ApplicationEvent;
use gw_storage::payments::{self, status};
use gw_storage::sea_orm::TransactionTrait;
use gw_storage::{Db, applications};
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
struct Admin {
    db: Db,
    relay: Arc<Notify>,
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
    match payments::list(a.db.conn(), q.applyno.as_deref(), q.status.as_deref()).await {
        Ok(v) => Json(v.iter().map(view).collect::<Vec<_>>()).into_response(),
        Err(e) => internal(e),
    }
}

async fn refund(State(a): State<Admin>, Path(paynumber): Path<String>) -> Response {
    let run = async {
        let txn = a.db.conn().begin().await?;
        let Some(p) = payments::find(&txn, &paynumber).await? else {
            return Ok(Err(problem(StatusCode::NOT_FOUND, "no such payment")));
        };
        if p.status != status::HELD {
            return Ok(Err(problem(
                StatusCode::CONFLICT,
                format!("the payment is {}, not held", p.status),
            )));
        }
        payments::set_status(
            &txn,
            &paynumber,
            status::REFUND_REQUESTED,
            Some("退款（人工确认）"),
        )
        .await?;
        let app = applications::find(&txn, &p.applyno).await?;
        let event = ApplicationEvent {
            applyno: p.applyno.clone(),
            counterpart: app
                .as_ref()
                .map(|a| a.counterpart.clone())
                .unwrap_or_default(),
            state: app.map(|a| a.state).unwrap_or_default(),
            details: serde_json::json!({"paynumber": paynumber, "paymoney_cents": p.paymoney_cents, "reason": "held payment refunded by an operator"}),
            at: Utc::now(),
        };
        gw_service::effects::emit(&txn, events::REFUND_NEEDED, &event).await?;
        txn.commit().await?;
        Ok::<_, gw_storage::sea_orm::DbErr>(Ok(()))
    };
    match run.await {
        Ok(Ok(())) => {
            a.relay.notify_one();
            tracing::info!(paynumber = %paynumber, "held payment marked for refund");
            match payments::find(a.db.conn(), &paynumber).await {
                Ok(Some(p)) => Json(view(&p)).into_response(),
                Ok(None) => problem(StatusCode::NOT_FOUND, "no such payment"),
                Err(e) => internal(e),
            }
        }
        Ok(Err(response)) => response,
        Err(e) => internal(e),
    }
}

pub fn routes(db: Db, relay: Arc<Notify>, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/payments", get(list))
        .route("/admin/payments/{paynumber}/refund", post(refund))
        .with_state(Admin { db, relay });
    gw_service::require_admin_token(router, token)
}
