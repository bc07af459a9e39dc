//! `quitapply`: the refund (退保) of a guarantee.

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::Failure;
use gw_contract::details::{self, Details};
use gw_contract::{EventKey, InboundEnvelope, RefundCause};
use gw_lifecycle::{Event, PaymentStatus, Refusal, Resolution, quit_rule};
use gw_protocol::{Interface, QuitApply, Scene};
use gw_storage::applications::Application;
use gw_storage::requests::{self, NewQuit};
use gw_storage::sea_orm::Set;
use gw_storage::{guarantees, payments};
use gw_workflow::{ConsumeOnce, DbResultExt, Outcome, Transition, Tx};

use crate::{Desk, notices};

fn row(
    env: &InboundEnvelope<QuitApply>,
    resolution: Resolution,
    refusal: Option<String>,
    cents: i64,
) -> NewQuit {
    let r = &env.request;
    NewQuit {
        applicationno: Set(r.applicationno.clone()),
        counterpart: Set(env.counterpart.clone()),
        applyno: Set(r.applyno.clone()),
        baohanno: Set(r.baohanno.clone()),
        scene: Set(r.scene.code().to_owned()),
        reason: Set(r.reason.to_string()),
        resolution: Set(resolution),
        refusal: Set(refusal),
        amount_cents: Set(cents),
        decided_at: Set(Utc::now()),
    }
}

impl Desk {
    /// What the refund rule and the lifecycle say of this request.
    async fn quit_outcome(
        &self,
        tx: &Tx,
        app: Application,
        req: &QuitApply,
    ) -> Result<Outcome, Failure> {
        if app.baohanno.as_ref() != Some(&req.baohanno) {
            return Ok(Outcome::Refused {
                app: Some(Box::new(app)),
                refusal: Refusal::BaohanMismatch,
            });
        }
        // Bid opening is the restore's `poltime`; before a restore it is to come.
        let g = guarantees::find(tx.conn(), &req.applyno)
            .await
            .transient()?;
        let opened = g.and_then(|g| g.poltime).is_some_and(|p| p <= Utc::now());
        let rule = quit_rule(opened, req.scene == Scene::System);
        Ok(Tx::step(Some(app), Event::Quit(rule)))
    }

    /// The refund: the premium goes back, the guarantee is void.
    async fn refund(
        &self,
        tx: &Tx,
        t: &mut Transition,
        env: &InboundEnvelope<QuitApply>,
    ) -> Result<(), Failure> {
        let app = t.app()?.clone();
        let mut cents = app.cost_cents.unwrap_or_default();
        if let Some(p) = payments::accepted_for(tx.conn(), &app.applyno)
            .await
            .transient()?
        {
            cents = p.paymoney_cents;
            let statuses = (PaymentStatus::Accepted, PaymentStatus::RefundRequested);
            let why = format!("退保：{}", env.request.reason);
            tx.refund(&p, statuses, &app.counterpart, RefundCause::Quit, &why)
                .await?;
        }
        let q = requests::add_quit(tx.conn(), row(env, Resolution::Granted, None, cents))
            .await
            .transient()?;
        tx.notify(t, &notices::quit(&q)?).await?;
        let details = Details::Refunded(details::Refunded {
            applicationno: q.applicationno.to_string(),
            scene: q.scene.clone(),
            amount_cents: cents,
        });
        tx.emit_transition(EventKey::GuaranteeRefunded, t, details)
            .await
    }
}

/// One `quitapply`.
#[async_trait]
impl ConsumeOnce<InboundEnvelope<QuitApply>> for Desk {
    async fn consume(&self, tx: Tx, env: InboundEnvelope<QuitApply>) -> Result<(), Failure> {
        let req = &env.request;
        let app = tx.existing(&req.applyno, Some(&env.counterpart)).await?;
        let known = requests::quit(tx.conn(), &req.applicationno).await;
        if let Some(q) = known.transient()? {
            tx.answer(app, Some(&notices::quit(&q)?)).await?;
            return tx.commit().await;
        }
        match self.quit_outcome(&tx, app, req).await?.decided()? {
            Ok(mut t) => {
                self.refund(&tx, &mut t, &env).await?;
                tx.save(t).await?;
                tracing::info!(applyno = %req.applyno, applicationno = %req.applicationno, "refunded");
            }
            Err((app, refusal)) => {
                let reason = refusal.to_string();
                let refused = row(&env, Resolution::Refused, Some(reason.clone()), 0);
                let q = requests::add_quit(tx.conn(), refused).await.transient()?;
                let notice = notices::quit(&q)?;
                tx.refuse(
                    app,
                    Interface::QuitApply,
                    &q.applicationno,
                    &reason,
                    Some(&notice),
                )
                .await?;
            }
        }
        tx.commit().await
    }
}
