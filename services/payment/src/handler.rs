//! The consumers of `payment.confirmations`, `payment.cancelapply` and
//! `payment.payapply`. Each message is one transaction (see `gw-workflow`).

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Message};
use gw_contract::{Consume, EventKey, InboundEnvelope, IssueCommand, PaymentConfirmation};
use gw_lifecycle::{Effect, Event, PaymentStatus, State};
use gw_protocol::{Amount, CancelApply, Notice, PayApply, PayNotice, PremiumStatus, Text};
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
        details: serde_json::Value,
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
        let app = t.app()?;
        tx.emit_application(
            EventKey::PaymentReceived,
            &app.applyno,
            &app.counterpart,
            t.next,
            details,
        )
        .await
    }

    /// A payment the platform is not told of: held for a person, or to be
    /// refunded.
    async fn set_aside(
        tx: &Tx,
        t: &Transition,
        p: &PaymentConfirmation,
        status: PaymentStatus,
        reason: &str,
        mut details: serde_json::Value,
    ) -> Result<(), Failure> {
        payments::set_status(tx.conn(), p.paynumber.as_str(), status, Some(reason))
            .await
            .transient()?;
        details["reason"] = reason.into();
        let key = match status {
            PaymentStatus::RefundNeeded => EventKey::RefundNeeded,
            _ => EventKey::PaymentHeld,
        };
        let app = t.app()?;
        tx.emit_application(key, &app.applyno, &app.counterpart, t.next, details)
            .await?;
        tracing::warn!(applyno = %p.applyno, paynumber = %p.paynumber, reason, ?status, "payment set aside");
        Ok(())
    }
}

/// One payment confirmation. Exactly once per `paynumber`.
#[async_trait]
impl Consume<PaymentConfirmation> for Payments {
    async fn consume(&self, _m: &Message, p: PaymentConfirmation) -> Result<(), Failure> {
        let tx = self.flow.begin().await?;
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
        let details = serde_json::json!({
            "paynumber": p.paynumber.as_str(), "paymoney": p.paymoney.to_cents_string(),
            "cost": yuan(cost), "paytype": p.paytype.code(),
        });
        match t.effect {
            Effect::NotifyPaidAndIssue => {
                Self::accept(&tx, &mut t, &p, details).await?;
                tx.save(t).await?;
            }
            Effect::HoldPayment => {
                let reason = hold_reason(matches, state, cost, &p);
                Self::set_aside(&tx, &t, &p, PaymentStatus::Held, &reason, details).await?;
            }
            Effect::RefundNeeded => {
                let reason = if state == State::Cancelled {
                    "申请已取消，需退款"
                } else {
                    "重复支付，需退款"
                };
                Self::set_aside(&tx, &t, &p, PaymentStatus::RefundNeeded, reason, details).await?;
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

/// One `cancelapply`.
#[async_trait]
impl ConsumeOnce<InboundEnvelope<CancelApply>> for Payments {
    async fn consume(&self, tx: Tx, env: InboundEnvelope<CancelApply>) -> Result<(), Failure> {
        let req = &env.request;
        let outcome = tx
            .transition(&req.applyno, Some(&env.counterpart), Event::Cancel)
            .await?;
        match outcome {
            Outcome::Moved(t) if t.from() != Some(t.next) => {
                let app = t.app()?;
                let details = serde_json::json!({"scene": req.scene.code(), "previous": t.from()});
                tx.emit_application(
                    EventKey::ApplicationCancelled,
                    &app.applyno,
                    &app.counterpart,
                    t.next,
                    details,
                )
                .await?;
                tx.save(t).await?;
                tracing::info!(applyno = %req.applyno, scene = req.scene.code(), "application cancelled");
            }
            Outcome::Moved(_) => {}
            // baohanapply may still be queued: try again later, then dead-letter.
            Outcome::Refused { app: None, .. } => {
                return Err(Failure::transient(anyhow::anyhow!(
                    "no application {} yet",
                    req.applyno
                )));
            }
            Outcome::Refused { refusal, .. } => {
                tracing::warn!(applyno = %req.applyno, %refusal, "cancelapply refused")
            }
        }
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
