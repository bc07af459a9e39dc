//! The invoice admin API (its own port, `admin.token`):
//!
//! * `GET /admin/invoices?applyno=&limit=`: invoice requests and what became
//!   of them (personal data masked);
//! * `POST /admin/invoices/{applicationno}/issued` (`{"invoice_number",
//!   "issued_at"?}`): the back office confirms a paper invoice was issued
//!   and mailed. It goes through the `invoice.issued` queue, like the core
//!   system's answers, and is answered 202 once queued.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use gw_bus::Bus;
use gw_contract::InvoiceIssued;
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

fn view(i: &requests::Invoice) -> serde_json::Value {
    let m = |k, v: &Option<String>| v.as_deref().map(|s| mask(k, s));
    serde_json::json!({
        "applicationno": i.applicationno, "applyno": i.applyno, "baohanno": i.baohanno,
        "counterpart": i.counterpart, "kind": i.kind, "medium": i.medium,
        "amount_cents": i.amount_cents, "tax_cents": i.tax_cents, "status": i.status,
        "reason": i.reason, "invoice_number": i.invoice_number,
        "buyer_name": i.buyer_name, "buyer_code": i.buyer_code,
        "phone": m(PiiKind::Phone, &i.phone), "account": m(PiiKind::Account, &i.account),
        "email": m(PiiKind::Email, &i.email), "mobile": m(PiiKind::Phone, &i.mobile),
        "contactname": m(PiiKind::Name, &i.contactname),
        "contactaddress": m(PiiKind::Address, &i.contactaddress),
        "requested_at": i.requested_at, "issued_at": i.issued_at,
    })
}

async fn list(State(a): State<Admin>, Query(q): Query<ListQuery>) -> Response {
    let found = requests::invoices(
        a.flow.db().conn(),
        q.applyno.as_deref(),
        q.limit.unwrap_or(100),
    )
    .await;
    match found {
        Ok(v) => Json(v.iter().map(view).collect::<Vec<_>>()).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "listing invoices failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[derive(Deserialize)]
struct IssuedBody {
    invoice_number: String,
    #[serde(default)]
    issued_at: Option<String>,
}

async fn issued(
    State(a): State<Admin>,
    Path(applicationno): Path<String>,
    Json(b): Json<IssuedBody>,
) -> Response {
    let Ok(applicationno) = ApplicationNo::try_from(applicationno.as_str()) else {
        return problem(StatusCode::BAD_REQUEST, "not an applicationno");
    };
    let inv = match requests::invoice(a.flow.db().conn(), &applicationno).await {
        Ok(Some(i)) => i,
        Ok(None) => return problem(StatusCode::NOT_FOUND, "no such invoice request"),
        Err(e) => {
            tracing::error!(error = %e, "invoice lookup failed");
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let message: Result<InvoiceIssued, _> = serde_json::from_value(serde_json::json!({
        "applicationno": applicationno, "applyno": inv.applyno, "invoice_number": b.invoice_number,
        "issued_at": b.issued_at.unwrap_or_else(|| gw_protocol::WireTime::now().to_string()),
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
            tracing::warn!(error = %e, "cannot queue an invoice confirmation");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the message broker is unavailable; try again",
            )
        }
    }
}

pub fn routes(flow: Workflow, bus: Bus, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/invoices", get(list))
        .route("/admin/invoices/{applicationno}/issued", post(issued))
        .with_state(Admin { flow, bus });
    gw_web::require_admin_token(router, token)
}
