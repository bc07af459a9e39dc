//! `claimapply` (见索即付) and the bank's payout confirmations.

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Message};
use gw_contract::details::{self, Details};
use gw_contract::{
    Consume, EventKey, InboundEnvelope, PayoutConfirmation, PayoutRequested, queues,
};
use gw_lifecycle::{ClaimStatus, Event, Payout, Refusal};
use gw_protocol::{Amount, ClaimApply, Interface, WireTime};
use gw_storage::applications::Application;
use gw_storage::guarantees;
use gw_storage::requests::{self, Claim, NewClaim};
use gw_storage::sea_orm::Set;
use gw_workflow::{ConsumeOnce, DbResultExt, Outcome, Tx};

use crate::request::{Evidence, Request};
use crate::{Desk, notices};

fn row(
    env: &InboundEnvelope<ClaimApply>,
    files: &[String],
    status: ClaimStatus,
    refusal: Option<String>,
) -> Result<NewClaim, Failure> {
    let r = &env.request;
    let now = Utc::now();
    Ok(NewClaim {
        applicationno: Set(r.applicationno.clone()),
        counterpart: Set(env.counterpart.clone()),
        applyno: Set(r.applyno.clone()),
        baohanno: Set(r.baohanno.clone()),
        amount_cents: Set(r
            .applymount
            .to_cents()
            .ok_or_else(|| Failure::permanent(anyhow::anyhow!("applymount out of range")))?),
        payeename: Set(r.payeename.expose().to_owned()),
        payeeaccount: Set(r.payeeaccount.expose().to_owned()),
        payeebank: Set(r.payeebank.to_string()),
        bank: Set(r.bank.as_ref().map(|b| b.to_string())),
        bankprovince: Set(r.bankprovince.as_ref().map(|b| b.to_string())),
        bankcity: Set(r.bankcity.as_ref().map(|b| b.to_string())),
        applyusername: Set(r.applyusername.expose().to_owned()),
        applyuserphone: Set(r.applyuserphone.expose().to_owned()),
        reason: Set(r.reason.to_string()),
        files: Set(serde_json::to_string(files).unwrap_or_else(|_| "[]".into())),
        status: Set(status),
        refusal: Set(refusal),
        requested_at: Set(now),
        decided_at: Set(now),
        paid_at: Set(None),
        payout_reference: Set(None),
    })
}

impl Desk {
    /// Whether all claims with this one stay within the guaranteed amount,
    /// or why the claim cannot be considered at all.
    async fn claim_outcome(
        &self,
        tx: &Tx,
        app: Application,
        req: &ClaimApply,
    ) -> Result<Outcome, Failure> {
        let refused = |app, refusal| Outcome::Refused {
            app: Some(Box::new(app)),
            refusal,
        };
        if app.baohanno.as_ref() != Some(&req.baohanno) {
            return Ok(refused(app, Refusal::BaohanMismatch));
        }
        let g = guarantees::find(tx.conn(), &req.applyno)
            .await
            .transient()?;
        // The sweep may not have run yet: the claim's time decides.
        if g.and_then(|g| g.validtime).is_some_and(|v| v < Utc::now()) && app.state.has_guarantee()
        {
            return Ok(refused(app, Refusal::Expired));
        }
        let asked = req.applymount.to_cents().unwrap_or(i64::MAX);
        let total = app
            .claimed_cents
            .saturating_add(app.claim_pending_cents)
            .saturating_add(asked);
        let within_amount = total <= app.bzjamount_cents;
        Ok(Tx::step(Some(app), Event::Claim { within_amount }))
    }

    /// A claim decided in `tx`: approved (payout requested, and paid at once
    /// with `auto_payout`) or refused with its notice.
    async fn decide_claim(
        &self,
        tx: &Tx,
        env: &InboundEnvelope<ClaimApply>,
        files: Evidence,
    ) -> Result<(), Failure> {
        let req = &env.request;
        let app = tx.existing(&req.applyno, None).await?;
        let decision = match &files {
            Err(reason) => Err((app, reason.clone())),
            Ok(_) => (self.claim_outcome(tx, app, req).await?.decided()?)
                .map_err(|(app, refusal)| (app, refusal.to_string())),
        };
        let files = files.unwrap_or_default();
        match decision {
            Ok(mut t) => {
                let c = requests::add_claim(
                    tx.conn(),
                    row(env, &files, ClaimStatus::PayoutPending, None)?,
                )
                .await
                .transient()?;
                let app = t.app()?.clone();
                t.changes.claim_pending_cents = Set(app.claim_pending_cents + c.amount_cents);
                tx.emit(EventKey::PayoutRequested, &payout_requested(&app, &c)?)
                    .await?;
                tx.save(t).await?;
                if self.auto_payout {
                    let reference = format!("AUTO-{}", c.applicationno);
                    self.pay(tx, &c, &reference, WireTime::now()).await?;
                }
                tracing::info!(applyno = %req.applyno, applicationno = %req.applicationno, "claim approved");
                Ok(())
            }
            Err((app, reason)) => {
                let refused = row(env, &files, ClaimStatus::Refused, Some(reason.clone()))?;
                let c = requests::add_claim(tx.conn(), refused).await.transient()?;
                let notice = notices::claim(&c)?;
                tx.refuse(
                    app,
                    Interface::ClaimApply,
                    &c.applicationno,
                    &reason,
                    notice.as_ref(),
                )
                .await
            }
        }
    }

    /// Records a confirmed payout: the claim paid, the amounts moved, the
    /// state (claiming, partly claimed, claimed), `claimnotice`. A payout
    /// confirmed twice pays once.
    pub(crate) async fn pay(
        &self,
        tx: &Tx,
        c: &Claim,
        reference: &str,
        at: WireTime,
    ) -> Result<(), Failure> {
        if !requests::pay_claim(tx.conn(), &c.applicationno, reference, at.utc())
            .await
            .transient()?
        {
            tracing::info!(applicationno = %c.applicationno, "payout already recorded");
            return Ok(());
        }
        let app = tx.existing(&c.applyno, None).await?;
        let pending = (app.claim_pending_cents - c.amount_cents).max(0);
        let claimed = app.claimed_cents + c.amount_cents;
        let payout = if pending > 0 {
            Payout::MorePending
        } else if claimed >= app.bzjamount_cents {
            Payout::Fully
        } else {
            Payout::Partly
        };
        let mut t = match Tx::step(Some(app), Event::PayoutConfirmed(payout)) {
            Outcome::Moved(t) => t,
            Outcome::Refused { refusal, .. } => {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "payout of {}: {refusal}",
                    c.applicationno
                )));
            }
        };
        t.changes.claim_pending_cents = Set(pending);
        t.changes.claimed_cents = Set(claimed);
        let paid = requests::claim(tx.conn(), &c.applicationno)
            .await
            .transient()?
            .ok_or_else(|| Failure::transient(anyhow::anyhow!("the claim vanished")))?;
        if let Some(n) = notices::claim(&paid)? {
            tx.notify(&mut t, &n).await?;
        }
        let details = Details::ClaimPaid(details::ClaimPaid {
            applicationno: c.applicationno.to_string(),
            amount_cents: c.amount_cents,
            claimed_cents: claimed,
            reference: reference.to_string(),
        });
        tx.emit_transition(EventKey::ClaimPaid, &t, details).await?;
        tx.save(t).await
    }
}

fn payout_requested(app: &Application, c: &Claim) -> Result<PayoutRequested, Failure> {
    Ok(PayoutRequested {
        applicationno: c.applicationno.clone(),
        applyno: app.applyno.clone(),
        baohanno: c.baohanno.clone(),
        counterpart: app.counterpart.clone(),
        amount: Amount::from_cents(c.amount_cents)
            .map_err(|_| Failure::permanent(anyhow::anyhow!("amount")))?,
        payeename: c.payeename.clone(),
        payeeaccount: c.payeeaccount.clone(),
        payeebank: c.payeebank.clone(),
        at: Utc::now(),
    })
}

/// One `claimapply`. The evidence is downloaded before the transaction.
#[async_trait]
impl Consume<InboundEnvelope<ClaimApply>> for Desk {
    async fn consume(&self, m: &Message, env: InboundEnvelope<ClaimApply>) -> Result<(), Failure> {
        let req = &env.request;
        let known = requests::claim(self.flow.db().conn(), &req.applicationno).await;
        let r = Request {
            queue: queues::CLAIMAPPLY,
            counterpart: &env.counterpart,
            applyno: &req.applyno,
            files: &req.filelist,
            what: "理赔材料",
            decided: known.transient()?.is_some(),
        };
        let Some((tx, files)) = self.begin_with_evidence(m, r).await? else {
            return Ok(());
        };
        let known = requests::claim(tx.conn(), &req.applicationno).await;
        match known.transient()? {
            // A repeat: the decision again (nothing while the payout waits).
            Some(c) => {
                let app = tx.existing(&req.applyno, None).await?;
                tx.answer(app, notices::claim(&c)?.as_ref()).await?;
            }
            None => self.decide_claim(&tx, &env, files).await?,
        }
        tx.commit().await
    }
}

/// The bank paid a claim out.
#[async_trait]
impl ConsumeOnce<PayoutConfirmation> for Desk {
    async fn consume(&self, tx: Tx, p: PayoutConfirmation) -> Result<(), Failure> {
        let Some(c) = requests::claim(tx.conn(), &p.applicationno)
            .await
            .transient()?
        else {
            return Err(Failure::permanent(anyhow::anyhow!(
                "no claim {}",
                p.applicationno
            )));
        };
        if c.status == ClaimStatus::Refused {
            return Err(Failure::permanent(anyhow::anyhow!(
                "claim {} was refused; a payout cannot be confirmed",
                p.applicationno
            )));
        }
        self.pay(&tx, &c, p.reference.as_str(), p.paid_at).await?;
        tx.commit().await
    }
}
