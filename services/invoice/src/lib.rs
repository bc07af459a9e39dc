//! `invoice`: invoices of the premium.
//!
//! * Consumes `invoice.invoiceapply`. A request is checked against the
//!   guarantee: the `baohanno` is this application's and was paid; the
//!   `amount` is the premium paid; the buyer is the applicant; no invoice
//!   was issued for the guarantee yet. Then:
//!   - electronic (`invoicetype=1`): the built-in invoice PDF ([`document`];
//!     专票 `type=1` prints the buyer's address, phone, bank and account),
//!     stored and linked in `invoicenotice` at once; or, with
//!     `invoice.core_system`, an `invoice.requested` event for the core
//!     system, whose answer comes on `invoice.issued`;
//!   - paper (`invoicetype=2`): the mailing data recorded and an
//!     `invoice.mail_requested` event for the back office; `invoicenotice`
//!     once it confirms on `invoice.issued` (or through the admin API).
//! * A request the state or the checks refuse gets `invoicenotice` with
//!   `applystatus=2` and the reason. A repeat of the same `applicationno`
//!   re-sends the same decision; never a second invoice.

pub mod admin;
pub mod document;
pub mod handler;

use std::sync::Arc;

use async_trait::async_trait;
use gw_contract::{InboundEnvelope, InvoiceIssued};
use gw_host::{Build, Context, Parts};
use gw_protocol::InvoiceApply;

use crate::handler::{Invoicing, Seller};

gw_host::service!(
    /// The invoice service.
    Invoice, "invoice", admin: invoice.admin_listen
);

#[async_trait]
impl Build for Invoice {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts> {
        let s = &ctx.settings;
        let invoicing = Arc::new(Invoicing {
            flow: ctx.flow.clone(),
            store: gw_files::from_settings(&s.files, ctx.db.clone())?,
            seller: Seller {
                name: s.institution.name.clone(),
                code: s.institution.code.clone(),
                address: s.invoice.seller_address.clone(),
                bank: s.invoice.seller_bank.clone(),
            },
            tax_rate: s.invoice.tax_rate,
            core_system: s.invoice.core_system,
            base_url: s.public_base_url.as_str().trim_end_matches('/').to_owned(),
        });
        Ok(Parts {
            admin: Some(admin::routes(
                ctx.flow.clone(),
                ctx.bus.clone(),
                &s.admin.token,
            )),
            consumers: vec![
                ctx.consumer(gw_contract::handler::<InboundEnvelope<InvoiceApply>, _>(
                    invoicing.clone(),
                )),
                ctx.consumer(gw_contract::handler::<InvoiceIssued, _>(invoicing)),
            ],
            ..Parts::default()
        })
    }
}
