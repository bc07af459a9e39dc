//! The consumers of `payment.confirmations`, `payment.cancelapply` and
//! `payment.payapply`. Each message is one transaction (see `gw-workflow`).

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Message};
use gw_contract::details::{self, Details};
use gw_contract::{
    Consume, EventKey, InboundEnvelope, IssueCommand, PaymentConfirmation, RefundCause,
};
use gw_lifecycle::{Effect, Event, PaymentStatus, Resolution, State};
use gw_protocol::{Amount, CancelApply, Notice, PayApply, PayNotice, PremiumStatus, Text};
use gw_storage::cancels;
use gw_storage::payments::{self, NewPayment};
use gw_storage::sea_orm::Set;
use gw_workflow::{ConsumeOnce, DbResultExt, Outcome, Transition, Tx, Workflow};

pub struct Payments {
    pub flow: Workflow,
}

fn yuan(c: Option<i64>) -> String {
    c.and_then(|c| Amount::from_cents(c).ok())
        .map(|a| a.to_cents_string())
        .unwrap_or_else(|| "-".into())
}

/// Why a payment is held for a person.
fn hold_reason(matches: bool, state: State, cost: Option<i64>, p: &PaymentConfirmation) -> String {
    if matches {
        format!("申请状态为 {state}，不能收款")
    } else {
        format!(
            "金额不符：应付 {} 元，实付 {} 元",
            yuan(cost),
            p.paymoney.to_cents_string()
        )
    }
}

fn new_payment(p: &PaymentConfirmation, paymoney_cents: i64) -> NewPayment {
    let now = Utc::now();
    NewPayment {
        paynumber: Set(p.paynumber.to_string()),
        applyno: Set(p.applyno.clone()),
        paytype: Set(p.paytype.code().to_owned()),
        paymoney_cents: Set(paymoney_cents),
        paydate: Set(p.paydate.utc()),
        payname: Set(p.payname.expose().to_owned()),
        payaccount: Set(p.payaccount.expose().to_owned()),
        paybank: Set(p.paybank.to_string()),
        ipcontent: Set(p.ipcontent.as_ref().map(|i| i.expose().to_owned())),
        source: Set(p
            .source
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "gateway".into())),
        status: Set(PaymentStatus::Held),
        reason: Set(None),
        received_at: Set(now),
        updated_at: Set(now),
    }
}

impl Payments {
    /// The premium is paid: `paynotice`, the issue command, the event.
    async fn accept(
        tx: &Tx,
        t: &mut Transition,
        p: &PaymentConfirmation,
        details: details::Payment,
    ) -> Result<(), Failure> {
        let notice = Notice::PayNotice(PayNotice {
            applyno: p.applyno.clone(),
            premiumstatus: PremiumStatus::Paid,
            paytype: p.paytype,
            paynumber: p.paynumber.clone(),
            paymoney: p.paymoney,
            paydate: p.paydate,
            payname: p.payname.clone(),
            payaccount: p.payaccount.clone(),
            paybank: p.paybank.clone(),
            ipcontent: p.ipcontent.clone(),
            remark: Text::try_from("支付成功")
                .map_err(|_| Failure::permanent(anyhow::anyhow!("remark")))?,
        });
        tx.notify(t, &notice).await?;
        t.changes.paid_at = Set(Some(p.paydate.utc()));
        payments::set_status(
            tx.conn(),
            p.paynumber.as_str(),
            PaymentStatus::Accepted,
            None,
        )
        .await
        .transient()?;
        tx.send(&IssueCommand {
            applyno: p.applyno.clone(),
        })
        .await?;
        tx.emit_transition(EventKey::PaymentReceived, t, Details::Payment(details))
            .await
    }

    /// A payment held for a person: the platform is not told.
    async fn hold(
        tx: &Tx,
        t: &Transition,
        p: &PaymentConfirmation,
        reason: &str,
        mut details: details::Payment,
    ) -> Result<(), Failure> {
        payments::set_status(
            tx.conn(),
            p.paynumber.as_str(),
            PaymentStatus::Held,
            Some(reason),
        )
        .await
        .transient()?;
        details.reason = Some(reason.to_owned());
        tx.emit_transition(EventKey::PaymentHeld, t, Details::Payment(details))
            .await?;
        tracing::warn!(applyno = %p.applyno, paynumber = %p.paynumber, reason, "payment held for a person");
        Ok(())
    }

    /// A payment that goes back (paid after a cancel, or paid twice): the
    /// platform is not told.
    async fn give_back(
        tx: &Tx,
        t: &Transition,
        p: &PaymentConfirmation,
        cancelled: bool,
    ) -> Result<(), Failure> {
        let (cause, reason) = if cancelled {
            (RefundCause::AfterCancel, "申请已取消，需退款")
        } else {
            (RefundCause::Overpaid, "重复支付，需退款")
        };
        let app = t.app()?;
        let payment = payments::find(tx.conn(), p.paynumber.as_str())
            .await
            .transient()?
            .ok_or_else(|| Failure::transient(anyhow::anyhow!("the payment vanished")))?;
        let statuses = (PaymentStatus::Held, PaymentStatus::RefundNeeded);
        tx.refund(&payment, statuses, &app.counterpart, cause, reason)
            .await?;
        tracing::warn!(applyno = %p.applyno, paynumber = %p.paynumber, reason, "payment to be refunded");
        Ok(())
    }
}

/// One payment confirmation. Exactly once per `paynumber`.
#[async_trait]
impl Consume<PaymentConfirmation> for Payments {
    async fn consume(&self, m: &Message, p: PaymentConfirmation) -> Result<(), Failure> {
        let tx = self.flow.begin().await?;
        // Every failure below comes before the commit: the commit is the ack.
        tx.settle(m).await?;
        let Some(app) = tx.application(&p.applyno).await? else {
            // The application may still be on its way through underwriting.
            return Err(Failure::transient(anyhow::anyhow!(
                "no application {} yet",
                p.applyno
            )));
        };
        let paymoney = p
            .paymoney
            .to_cents()
            .ok_or_else(|| Failure::permanent(anyhow::anyhow!("paymoney out of range")))?;
        if !payments::insert_if_new(tx.conn(), new_payment(&p, paymoney))
            .await
            .transient()?
        {
            // The same payment delivered again, or a bank's serial number
            // reused for another application: that one is not taken as paid
            // in silence, it goes to the dead letters for an operator.
            let recorded = payments::find(tx.conn(), p.paynumber.as_str())
                .await
                .transient()?;
            if let Some(other) = recorded.filter(|r| r.applyno != p.applyno) {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "paynumber {} is already recorded for application {}, not {}",
                    p.paynumber,
                    other.applyno,
                    p.applyno
                )));
            }
            tracing::info!(applyno = %p.applyno, paynumber = %p.paynumber, "payment already recorded");
            return tx.commit().await;
        }
        let matches = app.cost_cents == Some(paymoney);
        let (cost, state) = (app.cost_cents, app.state);
        let event = if matches {
            Event::Paid
        } else {
            Event::PaidWrongAmount
        };
        let mut t = match Tx::step(Some(app), event) {
            Outcome::Moved(t) => t,
            Outcome::Refused { refusal, .. } => {
                return Err(Failure::permanent(anyhow::anyhow!("{refusal}")));
            }
        };
        let details = details::Payment {
            paynumber: p.paynumber.as_str().to_owned(),
            paymoney: p.paymoney.to_cents_string(),
            cost: yuan(cost),
            paytype: p.paytype.code().to_owned(),
            reason: None,
        };
        match t.effect {
            Effect::NotifyPaidAndIssue => {
                Self::accept(&tx, &mut t, &p, details).await?;
                tx.save(t).await?;
            }
            Effect::HoldPayment => {
                let reason = hold_reason(matches, state, cost, &p);
                Self::hold(&tx, &t, &p, &reason, details).await?;
            }
            Effect::RefundNeeded => {
                let cancelled = t.from() == Some(State::Cancelled);
                Self::give_back(&tx, &t, &p, cancelled).await?;
            }
            other => {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "unexpected effect {other:?} of a payment"
                )));
            }
        }
        tx.commit().await?;
        tracing::info!(applyno = %p.applyno, paynumber = %p.paynumber, "payment applied");
        Ok(())
    }
}

/// One `cancelapply`: it wins until the platform accepted `paynotice`.
#[async_trait]
impl ConsumeOnce<InboundEnvelope<CancelApply>> for Payments {
    async fn consume(&self, tx: Tx, env: InboundEnvelope<CancelApply>) -> Result<(), Failure> {
        let req = &env.request;
        let accepted = gw_storage::notices::delivered(tx.conn(), &req.applyno, "paynotice")
            .await
            .transient()?;
        let event = Event::Cancel {
            paynotice_accepted: accepted,
        };
        let t = match tx
            .transition(&req.applyno, Some(&env.counterpart), event)
            .await?
        {
            Outcome::Moved(t) => t,
            // baohanapply may still be queued: try again later, then dead-letter.
            Outcome::Refused { app: None, .. } => {
                return Err(Failure::transient(anyhow::anyhow!(
                    "no application {} yet",
                    req.applyno
                )));
            }
            Outcome::Refused { refusal, app } => {
                return Self::cancel_refused(tx, req, app, refusal).await;
            }
        };
        if t.from() != Some(t.next) {
            Self::cancelled(&tx, &t, req).await?;
            tx.save(t).await?;
        }
        cancels::resolve(tx.conn(), &req.applyno, Resolution::Granted)
            .await
            .transient()?;
        tx.commit().await
    }
}

impl Payments {
    /// A cancel applied: the event, and after payment the void and the refund.
    async fn cancelled(tx: &Tx, t: &Transition, req: &CancelApply) -> Result<(), Failure> {
        let app = t.app()?;
        let details = Details::Cancelled(details::Cancelled {
            scene: req.scene.code().to_owned(),
            previous: t.from().map(|s| s.to_string()),
        });
        tx.emit_transition(EventKey::ApplicationCancelled, t, details)
            .await?;
        tracing::info!(applyno = %req.applyno, scene = req.scene.code(), previous = ?t.from(), "application cancelled");
        if t.effect != Effect::VoidAndRefund {
            return Ok(());
        }
        // The platform accepts no notice of it any more.
        gw_storage::notices::suppress_open(tx.conn(), &app.applyno, "the application is cancelled")
            .await
            .transient()?;
        if let Some(payment) = payments::accepted_for(tx.conn(), &app.applyno)
            .await
            .transient()?
        {
            let statuses = (PaymentStatus::Accepted, PaymentStatus::RefundRequested);
            let cause = RefundCause::CancelledAfterPayment;
            tx.refund(
                &payment,
                statuses,
                &app.counterpart,
                cause,
                "支付后取消，全额退款",
            )
            .await?;
        }
        if app.state.has_guarantee() {
            let details = Details::Voided(details::Voided {
                baohanno: app.baohanno.as_ref().map(|b| b.as_str().to_owned()),
                reason: "cancelled after payment".to_owned(),
            });
            tx.emit_transition(EventKey::GuaranteeVoided, t, details)
                .await?;
        }
        Ok(())
    }

    /// A cancel that cannot be applied (the platform accepted `paynotice`).
    async fn cancel_refused(
        tx: Tx,
        req: &CancelApply,
        app: Option<Box<gw_storage::applications::Application>>,
        refusal: gw_lifecycle::Refusal,
    ) -> Result<(), Failure> {
        cancels::resolve(tx.conn(), &req.applyno, Resolution::Refused)
            .await
            .transient()?;
        if let Some(app) = app {
            let details = Details::CancelRefused(details::CancelRefused {
                scene: req.scene.code().to_owned(),
                reason: refusal.to_string(),
            });
            tx.emit_application(
                EventKey::CancelRefused,
                &app.applyno,
                &app.counterpart,
                app.state,
                details,
            )
            .await?;
        }
        tracing::warn!(applyno = %req.applyno, %refusal, "cancelapply refused: the platform had accepted paynotice");
        tx.commit().await
    }
}

/// One `payapply` (already answered by ingress): recorded once.
#[async_trait]
impl ConsumeOnce<InboundEnvelope<PayApply>> for Payments {
    async fn consume(&self, tx: Tx, env: InboundEnvelope<PayApply>) -> Result<(), Failure> {
        tx.commit().await?;
        tracing::info!(applyno = %env.request.applyno, counterpart = %env.counterpart, "the platform asked for the payment link");
        Ok(())
    }
}
