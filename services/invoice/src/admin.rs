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
use axum::response::{Json, Response};
use axum::routing::{get, post};
use gw_bus::Bus;
use gw_contract::InvoiceIssued;
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

async fn list(
    State(a): State<Admin>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<serde_json::Value>>, Problem> {
    let found = requests::invoices(
        a.flow.db().conn(),
        q.applyno.as_deref(),
        q.limit.unwrap_or(100),
    );
    admin::listed(
        "invoices",
        found.await.map(|v| v.iter().map(view).collect()),
    )
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
    Operator(who): Operator,
    Json(b): Json<IssuedBody>,
) -> Result<Response, Problem> {
    let applicationno: ApplicationNo = admin::parse(&applicationno, "an applicationno")?;
    let lookup = requests::invoice(a.flow.db().conn(), &applicationno).await;
    let invoice = admin::found("looking up an invoice", lookup, "no such invoice request")?;
    let message = InvoiceIssued {
        applicationno,
        applyno: invoice.applyno,
        invoice_number: admin::parse(&b.invoice_number, "an invoice number of 1 to 32 characters")?,
        issued_at: admin::time_or_now(b.issued_at.as_deref(), "issued_at")?,
        pdf_base64: None,
    };
    let queued = admin::queue(&a.bus, &message).await?;
    // Recorded once queued: the invoice worker applies it.
    operations::record(
        a.flow.db().conn(),
        Operation {
            actor: &Actor::admin_api(who.as_deref()),
            service: "invoice",
            action: "invoice.marked_issued",
            subject: message.applicationno.as_str(),
            before: Some(serde_json::json!({"applyno": message.applyno.as_str()})),
            after: Some(serde_json::json!({
                "invoice_number": message.invoice_number.as_str(),
                "issued_at": message.issued_at.to_string(),
            })),
            remark: None,
        },
    )
    .await
    .map_err(|e| Problem::internal("recording an issued invoice", e))?;
    Ok(queued)
}

pub fn routes(flow: Workflow, bus: Bus, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/invoices", get(list))
        .route("/admin/invoices/{applicationno}/issued", post(issued))
        .with_state(Admin { flow, bus });
    gw_web::require_admin_token(router, token)
}
