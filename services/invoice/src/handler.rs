//! The consumers of `invoice.invoiceapply` and `invoice.issued`.
//!
//! A request is planned before its transaction (the reads, and the PDF
//! rendered off the async threads), then recorded in one transaction with
//! its notice and events. Two requests for one guarantee cannot both issue:
//! both save the application at the version they read, the second is
//! retried and finds the first invoice.

use gw_contract::details::{self, Details};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Message};
use gw_contract::{Consume, EventKey, InboundEnvelope, InvoiceIssued, InvoiceRequested, queues};
use gw_files::{FileKind, FileStore, NewFile};
use gw_lifecycle::{Event, InvoiceStatus, Refusal};
use gw_protocol::{
    Amount, ApplyStatus, HttpUrl, Interface, InvoiceApply, InvoiceKind, InvoiceMedium,
    InvoiceNotice, Notice, Rate, Text, WireTime,
};
use gw_storage::applications::Application;
use gw_storage::inbox;
use gw_storage::requests::{self, Invoice, NewInvoice};
use gw_storage::sea_orm::Set;
use gw_workflow::{DbResultExt, Tx, Workflow};

use crate::document::{self, InvoiceDoc};

/// The seller printed on invoices: the institution.
#[derive(Debug, Clone)]
pub struct Seller {
    pub name: String,
    pub code: String,
    pub address: String,
    pub bank: String,
}

pub struct Invoicing {
    pub flow: Workflow,
    pub store: Arc<dyn FileStore>,
    pub seller: Seller,
    pub tax_rate: Rate,
    /// Electronic invoices from the core system instead of the built-in PDF.
    pub core_system: bool,
    /// `public_base_url` without a trailing slash.
    pub base_url: String,
}

/// What to do with a request, decided before its transaction.
enum Plan {
    /// A repeat of the same `applicationno`: its decision, sent again.
    Repeat(Box<Invoice>),
    Refuse(String),
    /// Issue now: the number and the rendered PDF, uploaded.
    Issue {
        number: String,
        at: WireTime,
        file: Box<gw_files::Staged>,
    },
    /// Record it and wait (paper, or the core system).
    Wait,
}

fn cents(a: &Amount) -> Result<i64, Failure> {
    a.to_cents()
        .ok_or_else(|| Failure::permanent(anyhow::anyhow!("amount {a} is out of range")))
}

fn yuan(c: i64) -> String {
    Amount::from_cents(c)
        .map(|a| a.to_cents_string())
        .unwrap_or_default()
}

/// The `invoicenotice` of a decided request; `None` while it waits.
fn notice_of(inv: &Invoice, url: Option<HttpUrl<500>>) -> Result<Option<Notice>, Failure> {
    let text = |s: &str| {
        Text::try_from(s).map_err(|_| Failure::permanent(anyhow::anyhow!("remark {s:?}")))
    };
    let (applystatus, remark, amount, time) = match inv.status {
        InvoiceStatus::Pending => return Ok(None),
        InvoiceStatus::Refused => (
            ApplyStatus::Rejected,
            text(inv.reason.as_deref().unwrap_or("不予开票"))?,
            None,
            None,
        ),
        InvoiceStatus::Issued => {
            let amount = Amount::from_cents(inv.amount_cents)
                .map_err(|_| Failure::permanent(anyhow::anyhow!("stored amount")))?;
            let remark = if url.is_some() {
                "开票成功"
            } else {
                "纸质发票已开具"
            };
            (
                ApplyStatus::Approved,
                text(remark)?,
                Some(amount),
                inv.issued_at.map(WireTime::from_utc),
            )
        }
    };
    Ok(Some(Notice::InvoiceNotice(InvoiceNotice {
        applicationno: inv.applicationno.clone(),
        baohanno: inv.baohanno.clone(),
        applyno: inv.applyno.clone(),
        applystatus,
        invoiceamount: amount,
        invoicetime: time,
        invoiceurl: url,
        remark,
    })))
}

impl Invoicing {
    fn url(&self, token: Option<&str>) -> Option<HttpUrl<500>> {
        token.and_then(|t| HttpUrl::try_from(format!("{}/files/{t}", self.base_url).as_str()).ok())
    }

    /// Why the request cannot be invoiced, if it cannot.
    async fn refusal(
        &self,
        app: &Application,
        req: &InvoiceApply,
    ) -> Result<Option<String>, Failure> {
        if let Err(r) = gw_lifecycle::step(Some(app.state), Event::Invoice) {
            return Ok(Some(r.to_string()));
        }
        if app.baohanno.as_ref() != Some(&req.baohanno) {
            return Ok(Some(Refusal::BaohanMismatch.to_string()));
        }
        let paid = app.cost_cents.unwrap_or_default();
        if cents(&req.amount)? != paid {
            return Ok(Some(format!(
                "开票金额与已付保费不符（已付 {} 元）",
                yuan(paid)
            )));
        }
        if req.biddername.as_str() != app.biddername || req.biddercode.as_str() != app.biddercode {
            return Ok(Some("购买方名称或纳税人识别号与投保人不一致".to_owned()));
        }
        let conn = self.flow.db().conn();
        if let Some(other) = requests::invoice_of(conn, &app.applyno).await.transient()? {
            return Ok(Some(format!(
                "该保函已开具发票（申请号 {}）",
                other.applicationno
            )));
        }
        Ok(None)
    }

    /// Decides what to do with a request, rendering the invoice if it is issued now.
    async fn plan(&self, app: &Application, req: &InvoiceApply) -> Result<Plan, Failure> {
        let conn = self.flow.db().conn();
        if let Some(existing) = requests::invoice(conn, &req.applicationno)
            .await
            .transient()?
        {
            return Ok(Plan::Repeat(Box::new(existing)));
        }
        if let Some(reason) = self.refusal(app, req).await? {
            return Ok(Plan::Refuse(reason));
        }
        if req.invoicetype != InvoiceMedium::Electronic || self.core_system {
            return Ok(Plan::Wait);
        }
        let at = WireTime::now();
        let year = at.cst().format("%Y").to_string();
        let n = gw_storage::guarantees::next_in_sequence(conn, &format!("invoice:{year}"))
            .await
            .transient()?;
        let number = format!("{year}{n:08}");
        let doc = self.document(req, &number, at);
        let pdf = gw_files::cpu::run(move || document::render(&doc))
            .await
            .map_err(|e| Failure::transient(anyhow::anyhow!("render: {e}")))?
            .map_err(Failure::Permanent)?;
        let file = self.upload(app, pdf).await?;
        Ok(Plan::Issue {
            number,
            at,
            file: Box::new(file),
        })
    }

    fn document(&self, req: &InvoiceApply, number: &str, at: WireTime) -> InvoiceDoc {
        let special = req.r#type == InvoiceKind::Special;
        let join = |a: Option<String>, b: Option<String>| match (a, b) {
            (Some(a), Some(b)) => Some(format!("{a} {b}")),
            (a, b) => a.or(b),
        };
        InvoiceDoc {
            number: number.to_owned(),
            issued_at: at,
            special,
            buyer_name: req.biddername.to_string(),
            buyer_code: req.biddercode.to_string(),
            buyer_address: join(
                req.address.as_ref().map(|a| a.to_string()),
                req.phone.as_ref().map(|p| p.expose().to_owned()),
            )
            .filter(|_| special),
            buyer_bank: join(
                req.bank.as_ref().map(|b| b.to_string()),
                req.account.as_ref().map(|a| a.expose().to_owned()),
            )
            .filter(|_| special),
            seller_name: self.seller.name.clone(),
            seller_code: self.seller.code.clone(),
            seller_address: self.seller.address.clone(),
            seller_bank: self.seller.bank.clone(),
            total: req.amount,
            tax_rate: self.tax_rate,
            baohanno: req.baohanno.to_string(),
        }
    }

    /// The invoice row of a request.
    fn row(
        &self,
        env: &InboundEnvelope<InvoiceApply>,
        status: InvoiceStatus,
    ) -> Result<NewInvoice, Failure> {
        let r = &env.request;
        let pii =
            |p: &Option<gw_protocol::Personal<500>>| p.as_ref().map(|v| v.expose().to_owned());
        Ok(NewInvoice {
            applicationno: Set(r.applicationno.clone()),
            counterpart: Set(env.counterpart.clone()),
            applyno: Set(r.applyno.clone()),
            baohanno: Set(r.baohanno.clone()),
            kind: Set(r.r#type.code().to_owned()),
            medium: Set(r.invoicetype.code().to_owned()),
            amount_cents: Set(cents(&r.amount)?),
            tax_cents: Set(cents(&document::tax_of(r.amount, self.tax_rate))?),
            buyer_name: Set(r.biddername.to_string()),
            buyer_code: Set(r.biddercode.to_string()),
            address: Set(r.address.as_ref().map(|a| a.to_string())),
            phone: Set(r.phone.as_ref().map(|p| p.expose().to_owned())),
            bank: Set(r.bank.as_ref().map(|b| b.to_string())),
            account: Set(r.account.as_ref().map(|a| a.expose().to_owned())),
            email: Set(r.email.as_ref().map(|e| e.expose().to_owned())),
            mobile: Set(r.mobile.as_ref().map(|m| m.expose().to_owned())),
            contactname: Set(r.contactname.as_ref().map(|c| c.expose().to_owned())),
            contactaddress: Set(pii(&r.contactaddress)),
            status: Set(status),
            reason: Set(None),
            invoice_number: Set(None),
            file_token: Set(None),
            requested_at: Set(Utc::now()),
            issued_at: Set(None),
        })
    }

    /// The event that asks the core system or the back office.
    fn requested(&self, inv: &Invoice) -> Result<InvoiceRequested, Failure> {
        let amount =
            |c| Amount::from_cents(c).map_err(|_| Failure::permanent(anyhow::anyhow!("amount")));
        Ok(InvoiceRequested {
            applicationno: inv.applicationno.clone(),
            applyno: inv.applyno.clone(),
            baohanno: inv.baohanno.clone(),
            counterpart: inv.counterpart.clone(),
            kind: inv.kind.clone(),
            medium: inv.medium.clone(),
            amount: amount(inv.amount_cents)?,
            tax: amount(inv.tax_cents)?,
            buyer_name: inv.buyer_name.clone(),
            buyer_code: inv.buyer_code.clone(),
            address: inv.address.clone(),
            phone: inv.phone.clone(),
            bank: inv.bank.clone(),
            account: inv.account.clone(),
            email: inv.email.clone(),
            mobile: inv.mobile.clone(),
            contactname: inv.contactname.clone(),
            contactaddress: inv.contactaddress.clone(),
            at: Utc::now(),
        })
    }

    /// Carries out the plan in `tx` and answers: the invoice's notice, the
    /// refusal's, or none yet (an invoice issued elsewhere is answered
    /// when it comes back on `invoice.issued`).
    async fn apply(
        &self,
        tx: &Tx,
        env: &InboundEnvelope<InvoiceApply>,
        plan: Plan,
    ) -> Result<(), Failure> {
        let app = tx.existing(&env.request.applyno, None).await?;
        match plan {
            Plan::Repeat(inv) => {
                let notice = notice_of(&inv, self.url(inv.file_token.as_deref()))?;
                tx.answer(app, notice.as_ref()).await
            }
            Plan::Refuse(reason) => {
                let mut row = self.row(env, InvoiceStatus::Refused)?;
                row.reason = Set(Some(reason.clone()));
                let inv = requests::add_invoice(tx.conn(), row).await.transient()?;
                let notice = notice_of(&inv, None)?;
                let no = &inv.applicationno;
                tx.refuse(app, Interface::InvoiceApply, no, &reason, notice.as_ref())
                    .await
            }
            Plan::Issue { number, at, file } => {
                let token = tx.record_file(&*self.store, *file).await?;
                let mut row = self.row(env, InvoiceStatus::Issued)?;
                row.invoice_number = Set(Some(number));
                row.file_token = Set(Some(token.clone()));
                row.issued_at = Set(Some(at.utc()));
                let inv = requests::add_invoice(tx.conn(), row).await.transient()?;
                self.issued(tx, app, &inv, Some(&token)).await
            }
            Plan::Wait => {
                let inv = requests::add_invoice(tx.conn(), self.row(env, InvoiceStatus::Pending)?)
                    .await
                    .transient()?;
                let key = if env.request.invoicetype == InvoiceMedium::Paper {
                    EventKey::InvoiceMailRequested
                } else {
                    EventKey::InvoiceRequested
                };
                tx.emit(key, &self.requested(&inv)?).await?;
                tx.answer(app, None).await
            }
        }
    }

    /// An invoice issued (here or elsewhere): `invoice.issued` for the
    /// bank's systems and `invoicenotice` with its link.
    async fn issued(
        &self,
        tx: &Tx,
        app: Application,
        inv: &requests::Invoice,
        token: Option<&str>,
    ) -> Result<(), Failure> {
        let details = Details::InvoiceIssued(details::InvoiceIssued {
            applicationno: inv.applicationno.to_string(),
            invoice_number: inv.invoice_number.clone(),
            amount: yuan(inv.amount_cents),
        });
        tx.emit_application(
            EventKey::InvoiceIssued,
            &app.applyno,
            &app.counterpart,
            app.state,
            details,
        )
        .await?;
        let notice = notice_of(inv, self.url(token))?;
        tx.answer(app, notice.as_ref()).await
    }

    /// Uploads an invoice PDF (before any transaction).
    async fn upload(&self, app: &Application, pdf: Vec<u8>) -> Result<gw_files::Staged, Failure> {
        let file = NewFile {
            kind: FileKind::Invoice,
            applyno: Some(app.applyno.to_string()),
            counterpart: app.counterpart.to_string(),
            content_type: "application/pdf".into(),
        };
        self.store.upload(file, pdf.into()).await.transient()
    }
}

/// One `invoiceapply`.
#[async_trait]
impl Consume<InboundEnvelope<InvoiceApply>> for Invoicing {
    async fn consume(
        &self,
        m: &Message,
        env: InboundEnvelope<InvoiceApply>,
    ) -> Result<(), Failure> {
        let req = &env.request;
        let conn = self.flow.db().conn();
        if inbox::seen(conn, queues::INVOICEAPPLY, &m.id)
            .await
            .transient()?
        {
            return Ok(());
        }
        let app = gw_storage::applications::find(conn, &req.applyno)
            .await
            .transient()?
            .filter(|a| a.counterpart == env.counterpart)
            .ok_or_else(|| {
                // Ingress refuses an unknown application at once; this one
                // came another way.
                Failure::permanent(anyhow::anyhow!(
                    "no application {} of {}",
                    req.applyno,
                    env.counterpart
                ))
            })?;
        // Planned (and the PDF drawn) before the transaction.
        let plan = self.plan(&app, req).await?;
        let Some(tx) = self.flow.begin_once(queues::INVOICEAPPLY, m).await? else {
            return Ok(());
        };
        // A concurrent message of the same applicationno got here first.
        let plan = match requests::invoice(tx.conn(), &req.applicationno)
            .await
            .transient()?
        {
            Some(existing) => Plan::Repeat(Box::new(existing)),
            None => plan,
        };
        self.apply(&tx, &env, plan).await?;
        tx.commit().await?;
        tracing::info!(applyno = %req.applyno, applicationno = %req.applicationno, "invoiceapply handled");
        Ok(())
    }
}

/// An invoice issued by the core system or the back office. Its PDF (if
/// any) is uploaded before the transaction that records it.
#[async_trait]
impl Consume<InvoiceIssued> for Invoicing {
    async fn consume(&self, m: &Message, issued: InvoiceIssued) -> Result<(), Failure> {
        let conn = self.flow.db().conn();
        if inbox::seen(conn, queues::INVOICES_ISSUED, &m.id)
            .await
            .transient()?
        {
            return Ok(());
        }
        let Some(inv) = requests::invoice(conn, &issued.applicationno)
            .await
            .transient()?
        else {
            return Err(Failure::permanent(anyhow::anyhow!(
                "no invoice request {}",
                issued.applicationno
            )));
        };
        if inv.status != InvoiceStatus::Pending {
            tracing::info!(applicationno = %issued.applicationno, status = %inv.status, "invoice already decided");
            return Ok(());
        }
        let app = gw_storage::applications::find(conn, &inv.applyno)
            .await
            .transient()?
            .ok_or_else(|| Failure::permanent(anyhow::anyhow!("no application {}", inv.applyno)))?;
        let file = match &issued.pdf_base64 {
            Some(b64) => Some(self.upload(&app, decode_pdf(b64)?).await?),
            None => None,
        };
        let Some(tx) = self.flow.begin_once(queues::INVOICES_ISSUED, m).await? else {
            return Ok(());
        };
        let token = match file {
            Some(f) => Some(tx.record_file(&*self.store, f).await?),
            None => None,
        };
        let first = requests::issue_invoice(
            tx.conn(),
            &inv.applicationno,
            issued.invoice_number.as_str(),
            token.as_deref(),
            issued.issued_at.utc(),
        )
        .await
        .transient()?;
        if !first {
            // Another answer for this request got here first.
            tracing::info!(applicationno = %issued.applicationno, "invoice already decided");
            return tx.commit().await;
        }
        let inv = requests::invoice(tx.conn(), &issued.applicationno)
            .await
            .transient()?
            .ok_or_else(|| Failure::transient(anyhow::anyhow!("the invoice vanished")))?;
        let app = tx.existing(&inv.applyno, None).await?;
        self.issued(&tx, app, &inv, token.as_deref()).await?;
        tx.commit().await
    }
}

fn decode_pdf(b64: &str) -> Result<Vec<u8>, Failure> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| Failure::permanent(anyhow::anyhow!("the invoice PDF is not Base64: {e}")))
}
