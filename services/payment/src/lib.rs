//! `payment`: the premium.
//!
//! * Serves the cashier page behind `premiumurl` ([`cashier`]).
//! * Consumes `payment.confirmations` (the bank's payment gateway, or the
//!   sandbox form): a payment of exactly the premium marks the application
//!   paid, sends `paynotice` and has the guarantee issued; another amount is
//!   held for a person; a payment after cancellation (or a second one) is
//!   recorded for refund and the platform is not told. A confirmation seen
//!   twice (same `paynumber`) is one payment.
//! * Consumes `payment.cancelapply`: an unpaid application is cancelled and
//!   no notice is ever sent for it again.
//! * Consumes `payment.payapply`: records that the platform asked (ingress
//!   already answered from the lifecycle table).

pub mod admin;
pub mod cashier;
pub mod handler;

use std::sync::Arc;

use async_trait::async_trait;
use gw_contract::{InboundEnvelope, PaymentConfirmation, handler};
use gw_host::{Build, Context, Parts};
use gw_protocol::{CancelApply, PayApply};
use gw_workflow::once;

use crate::handler::Payments;

gw_host::service!(
    /// The payment service.
    Payment, "payment", public: payment.listen, admin: payment.admin_listen
);

#[async_trait]
impl Build for Payment {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts> {
        if ctx.settings.payment.sandbox {
            tracing::warn!(
                "payment.sandbox is on: the cashier page completes payments without money"
            );
        }
        let payments = Arc::new(Payments {
            flow: ctx.flow.clone(),
        });
        Ok(Parts {
            public: Some(cashier::routes(
                ctx.db.clone(),
                ctx.bus.clone(),
                ctx.settings.payment.clone(),
            )),
            admin: Some(admin::routes(ctx.flow.clone(), &ctx.settings.admin.token)),
            consumers: vec![
                ctx.consumer(handler::<PaymentConfirmation, _>(payments.clone())),
                ctx.consumer(once::<InboundEnvelope<CancelApply>, _>(
                    &ctx.flow,
                    payments.clone(),
                )),
                ctx.consumer(once::<InboundEnvelope<PayApply>, _>(&ctx.flow, payments)),
            ],
            ..Parts::default()
        })
    }
}
