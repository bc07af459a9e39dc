//! The consumers of `payment.confirmations`, `payment.cancelapply` and
//! `payment.payapply`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Handler, Message, events, queues};
use gw_lifecycle::{Effect, Event, State, step};
use gw_protocol::messages::{
    INBOUND_SCHEMA, ISSUE_KIND, ISSUE_SCHEMA, InboundEnvelope, IssueCommand, PAYMENT_SCHEMA,
    PaymentConfirmation,
};
use gw_protocol::{Amount, CancelApply, Notice, PayApply, PayNotice, PremiumStatus, Text};
use gw_service::effects;
use gw_service::worker::{db_failure as db_err, decode, save_failure as save_err};
use gw_storage::applications::{self, Changes};
use gw_storage::payments::{self, NewPayment, status};
use gw_storage::sea_orm::{Set, TransactionTrait};
use gw_storage::{Db, inbox};
use tokio::sync::Notify;

const CANCEL_CONSUMER: &str = "payment.cancelapply";
const PAYAPPLY_CONSUMER: &str = "payment.payapply";

pub struct Payments {
    pub db: Db,
    pub relay: Arc<Notify>,
}

impl Payments {
    /// One payment confirmation. Exactly once per `paynumber`.
    pub async fn on_payment(&self, p: PaymentConfirmation) -> Result<(), Failure> {
        let applyno = p.applyno.as_str();
        let paynumber = p.paynumber.as_str();
        let txn = self.db.conn().begin().await.map_err(db_err)?;
        let Some(app) = applications::find(&txn, applyno).await.map_err(db_err)? else {
            // The application may still be on its way through underwriting.
            return Err(Failure::transient(anyhow::anyhow!(
                "no application {applyno} yet"
            )));
        };
        let paymoney = p
            .paymoney
            .to_cents()
            .ok_or_else(|| Failure::permanent(anyhow::anyhow!("paymoney out of range")))?;
        let now = Utc::now();
        let fresh = payments::insert_if_new(
            &txn,
            NewPayment {
                paynumber: Set(paynumber.to_owned()),
                applyno: Set(applyno.to_owned()),
                paytype: Set(p.paytype.code().to_owned()),
                paymoney_cents: Set(paymoney),
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
                status: Set(status::HELD.to_owned()),
                reason: Set(None),
                received_at: Set(now),
                updated_at: Set(now),
            },
        )
        .await
        .map_err(db_err)?;
        if !fresh {
            tracing::info!(applyno, paynumber, "payment already recorded");
            return txn.commit().await.map_err(db_err);
        }
        let state: State = app.state.parse().map_err(Failure::permanent)?;
        let matches = app.cost_cents == Some(paymoney);
        let event = if matches {
            Event::Paid
        } else {
            Event::PaidWrongAmount
        };
        let (next, effect) =
            step(Some(state), event).map_err(|r| Failure::permanent(anyhow::anyhow!("{r}")))?;
        let yuan = |c: Option<i64>| {
            c.and_then(|c| Amount::from_cents(c).ok())
                .map(|a| a.to_cents_string())
                .unwrap_or_else(|| "-".into())
        };
        let details = serde_json::json!({
            "paynumber": paynumber, "paymoney": p.paymoney.to_cents_string(),
            "cost": yuan(app.cost_cents), "paytype": p.paytype.code(),
        });
        match effect {
            Effect::NotifyPaidAndIssue => {
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
                let id = effects::queue_notice(
                    &txn,
                    &app.counterpart,
                    &notice,
                    app.last_notice_id.clone(),
                )
                .await
                .map_err(db_err)?;
                applications::save(
                    &txn,
                    applyno,
                    app.version,
                    Changes {
                        state: Set(next.as_str().to_owned()),
                        paid_at: Set(Some(p.paydate.utc())),
                        last_notice_id: Set(Some(id)),
                        ..Default::default()
                    },
                )
                .await
                .map_err(save_err)?;
                payments::set_status(&txn, paynumber, status::ACCEPTED, None)
                    .await
                    .map_err(db_err)?;
                effects::command(
                    &txn,
                    queues::ISSUANCE_ISSUE,
                    ISSUE_KIND,
                    ISSUE_SCHEMA,
                    applyno,
                    &IssueCommand {
                        applyno: p.applyno.clone(),
                    },
                )
                .await
                .map_err(db_err)?;
                effects::emit_application(
                    &txn,
                    events::PAYMENT_RECEIVED,
                    applyno,
                    &app.counterpart,
                    next.as_str(),
                    details,
                )
                .await
                .map_err(db_err)?;
            }
            Effect::HoldPayment => {
                let reason = if matches {
                    format!("申请状态为 {state}，不能收款")
                } else {
                    format!(
                        "金额不符：应付 {} 元，实付 {} 元",
                        yuan(app.cost_cents),
                        p.paymoney.to_cents_string()
                    )
                };
                payments::set_status(&txn, paynumber, status::HELD, Some(&reason))
                    .await
                    .map_err(db_err)?;
                let mut d = details;
                d["reason"] = reason.clone().into();
                effects::emit_application(
                    &txn,
                    events::PAYMENT_HELD,
                    applyno,
                    &app.counterpart,
                    next.as_str(),
                    d,
                )
                .await
                .map_err(db_err)?;
                tracing::warn!(applyno, paynumber, %reason, "payment held for a person");
            }
            Effect::RefundNeeded => {
                let reason = if state == State::Cancelled {
                    "申请已取消，需退款"
                } else {
                    "重复支付，需退款"
                };
                payments::set_status(&txn, paynumber, status::REFUND_NEEDED, Some(reason))
                    .await
                    .map_err(db_err)?;
                let mut d = details;
                d["reason"] = reason.into();
                effects::emit_application(
                    &txn,
                    events::REFUND_NEEDED,
                    applyno,
                    &app.counterpart,
                    next.as_str(),
                    d,
                )
                .await
                .map_err(db_err)?;
                tracing::warn!(applyno, paynumber, reason, "payment needs a refund");
            }
            other => {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "unexpected effect {other:?} of a payment"
                )));
            }
        }
        txn.commit().await.map_err(db_err)?;
        self.relay.notify_one();
        tracing::info!(applyno, paynumber, state = %next, effect = ?effect, "payment applied");
        Ok(())
    }

    /// One `cancelapply`.
    pub async fn on_cancel(
        &self,
        message_id: &str,
        env: InboundEnvelope<CancelApply>,
    ) -> Result<(), Failure> {
        let applyno = env.request.applyno.as_str();
        let txn = self.db.conn().begin().await.map_err(db_err)?;
        if !inbox::first_time(&txn, CANCEL_CONSUMER, message_id)
            .await
            .map_err(db_err)?
        {
            return txn.commit().await.map_err(db_err);
        }
        let Some(app) = applications::find(&txn, applyno).await.map_err(db_err)? else {
            // baohanapply may still be queued: try again later, then dead-letter.
            return Err(Failure::transient(anyhow::anyhow!(
                "no application {applyno} yet"
            )));
        };
        let state: State = app.state.parse().map_err(Failure::permanent)?;
        match step(Some(state), Event::Cancel) {
            Ok((next, _)) => {
                if next != state {
                    applications::save(
                        &txn,
                        applyno,
                        app.version,
                        Changes {
                            state: Set(next.as_str().to_owned()),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(save_err)?;
                    let details = serde_json::json!({"scene": env.request.scene.code(), "previous": state.as_str()});
                    effects::emit_application(
                        &txn,
                        events::APPLICATION_CANCELLED,
                        applyno,
                        &app.counterpart,
                        next.as_str(),
                        details,
                    )
                    .await
                    .map_err(db_err)?;
                }
                tracing::info!(
                    applyno,
                    scene = env.request.scene.code(),
                    "application cancelled"
                );
            }
            Err(refusal) => tracing::warn!(applyno, %refusal, "cancelapply refused"),
        }
        txn.commit().await.map_err(db_err)?;
        self.relay.notify_one();
        Ok(())
    }

    /// One `payapply` (already answered by ingress): recorded once.
    pub async fn on_payapply(
        &self,
        message_id: &str,
        env: InboundEnvelope<PayApply>,
    ) -> Result<(), Failure> {
        let txn = self.db.conn().begin().await.map_err(db_err)?;
        let first = inbox::first_time(&txn, PAYAPPLY_CONSUMER, message_id)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        if first {
            tracing::info!(applyno = env.request.applyno.as_str(), counterpart = %env.counterpart, "the platform asked for the payment link");
        }
        Ok(())
    }
}

pub struct PaymentHandler(pub Arc<Payments>);

#[async_trait]
impl Handler for PaymentHandler {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        let p: PaymentConfirmation = decode(m, PAYMENT_SCHEMA)?;
        self.0.on_payment(p).await
    }
}

pub struct CancelHandler(pub Arc<Payments>);

#[async_trait]
impl Handler for CancelHandler {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        let env: InboundEnvelope<CancelApply> = decode(m, INBOUND_SCHEMA)?;
        self.0.on_cancel(&m.id, env).await
    }
}

pub struct PayapplyHandler(pub Arc<Payments>);

#[async_trait]
impl Handler for PayapplyHandler {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        let env: InboundEnvelope<PayApply> = decode(m, INBOUND_SCHEMA)?;
        self.0.on_payapply(&m.id, env).await
    }
}
