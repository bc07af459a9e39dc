//! The consumers of `underwriting.baohanapply` and `underwriting.decisions`.
//!
//! Each message is one transaction (see `gw-workflow`): the inbox row, the
//! lifecycle change, the decision record, and the notice and events through
//! the outbox. The lifecycle rules come from `gw_lifecycle::step`; the
//! underwriting rules from [`crate::rules`].

use async_trait::async_trait;
use gw_bus::Failure;
use gw_contract::details::{self, Details};
use gw_contract::{EventKey, InboundEnvelope, ReviewDecision, ReviewVerdict};
use gw_lifecycle::{Decision, Effect, Event, State, Verdict};
use gw_protocol::{Amount, ApplyNo, ApplyStatus, BaohanApply, Notice, ProcessNotice, Rate, Text};
use gw_storage::sea_orm::Set;
use gw_storage::underwriting;
use gw_workflow::{ConsumeOnce, DbResultExt, Outcome, Transition, Tx, Workflow};
use rust_decimal::Decimal;

use crate::rules::{Check, Context, Evaluation, Rules, RulesHandle};

/// What both consumers share.
pub struct Underwriter {
    pub flow: Workflow,
    pub rules: RulesHandle,
}

/// SM3 of the request's canonical JSON: tells a re-push from a change.
pub fn content_hash(req: &BaohanApply) -> String {
    gw_envelope::sign::sm3_hex(serde_json::to_string(req).unwrap_or_default().as_bytes())
}

fn new_cashier_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn cents(a: &Amount) -> Result<i64, Failure> {
    a.to_cents()
        .ok_or_else(|| Failure::permanent(anyhow::anyhow!("amount {a} is out of range")))
}

fn stored<T>(what: &str, r: Result<T, gw_protocol::Rule>) -> Result<T, Failure> {
    r.map_err(|_| Failure::permanent(anyhow::anyhow!("the stored {what} is invalid")))
}

/// The `processnotice` of a decision now in `state` (approved or rejected).
fn process_notice(
    applyno: &ApplyNo,
    state: State,
    remark: &str,
    rate: Option<Rate>,
    cost: Option<Amount>,
) -> Result<Notice, Failure> {
    let approved = match state {
        State::Approved => true,
        State::Rejected => false,
        other => {
            return Err(Failure::permanent(anyhow::anyhow!(
                "no decision to notify in state {other}"
            )));
        }
    };
    Ok(Notice::ProcessNotice(ProcessNotice {
        applyno: applyno.clone(),
        applystatus: if approved {
            ApplyStatus::Approved
        } else {
            ApplyStatus::Rejected
        },
        remark: stored("remark", Text::try_from(remark))?,
        rate: rate.filter(|_| approved),
        cost: cost.filter(|_| approved),
    }))
}

fn event_key(state: State) -> Option<EventKey> {
    match state {
        State::Approved => Some(EventKey::ApplicationApproved),
        State::Rejected => Some(EventKey::ApplicationRejected),
        State::Referred => Some(EventKey::ApplicationReferred),
        _ => None,
    }
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
        Decision::Refer => "refer",
    }
}

impl Underwriter {
    /// Applies the rules to a new or changed application.
    async fn evaluate(
        &self,
        tx: &Tx,
        req: &BaohanApply,
        rules: &Rules,
    ) -> Result<Evaluation, Failure> {
        let code = req.biddercode.as_str();
        // One bidder's applications are decided one at a time: the open
        // exposure read here stays true until this decision commits, so
        // concurrent applications cannot together pass the maximum.
        gw_storage::locks::hold(tx.conn(), &format!("bidder:{code}"))
            .await
            .transient()?;
        let blocked = underwriting::is_blocked(tx.conn(), code)
            .await
            .transient()?;
        let exposure = gw_storage::applications::exposure_cents(
            tx.conn(),
            code,
            &State::OPEN_EXPOSURE,
            &req.applyno,
        )
        .await
        .transient()?;
        Ok(rules.evaluate(
            req,
            Context {
                blocked,
                exposure: Decimal::new(exposure, 2),
            },
        ))
    }

    /// The application's columns after a fresh evaluation.
    fn record_request(
        t: &mut Transition,
        env: &InboundEnvelope<BaohanApply>,
        e: &Evaluation,
        hash: String,
    ) -> Result<(), Failure> {
        let req = &env.request;
        let c = &mut t.changes;
        if t.app.is_none() {
            c.applyno = Set(req.applyno.clone());
            c.counterpart = Set(env.counterpart.clone());
        }
        c.biddername = Set(req.biddername.to_string());
        c.biddercode = Set(req.biddercode.to_string());
        c.bzjamount_cents = Set(cents(&req.bzjamount)?);
        c.jbrname = Set(req.jbrname.expose().to_owned());
        c.jbrphone = Set(req.jbrphone.expose().to_owned());
        c.content_hash = Set(hash);
        c.remark = Set(Some(e.reason.clone()));
        let approved = e.decision == Decision::Approve;
        c.rate = Set(approved.then(|| e.rate.to_string()));
        c.cost_cents = Set(if approved {
            Some(cents(&e.cost)?)
        } else {
            None
        });
        if approved {
            let token = t.app.as_ref().and_then(|a| a.cashier_token.clone());
            c.cashier_token = Set(Some(token.unwrap_or_else(new_cashier_token)));
        }
        Ok(())
    }

    /// The `processnotice` the transition sends, if any.
    fn decision_notice(
        t: &Transition,
        applyno: &ApplyNo,
        e: Option<&Evaluation>,
    ) -> Result<Option<Notice>, Failure> {
        match (t.effect, e) {
            (Effect::NotifyDecision, Some(e)) => {
                process_notice(applyno, t.next, &e.reason, Some(e.rate), Some(e.cost)).map(Some)
            }
            (Effect::ResendDecision, _) => {
                let a = t.app()?;
                let rate = a.rate.as_deref().map(Rate::try_from).transpose();
                let cost = a.cost_cents.map(Amount::from_cents).transpose();
                let remark = a.remark.as_deref().unwrap_or("审核通过");
                process_notice(
                    applyno,
                    t.next,
                    remark,
                    stored("rate", rate)?,
                    stored("cost", cost)?,
                )
                .map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The decision row and its event.
    async fn record_decision(
        tx: &Tx,
        env: &InboundEnvelope<BaohanApply>,
        next: State,
        e: &Evaluation,
        rules: &Rules,
    ) -> Result<(), Failure> {
        let req = &env.request;
        let approved = e.decision == Decision::Approve;
        underwriting::record_decision(
            tx.conn(),
            underwriting::NewDecision {
                applyno: &req.applyno,
                decision: decision_name(e.decision),
                reason: &e.reason,
                rate: approved.then(|| e.rate.to_string()),
                cost_cents: approved.then(|| e.cost.to_cents()).flatten(),
                checks: serde_json::to_value(&e.checks).unwrap_or_default(),
                rules_version: &rules.version,
                decided_by: "rules",
            },
        )
        .await
        .transient()?;
        let Some(key) = event_key(next) else {
            return Ok(());
        };
        let details = Details::RulesDecision(details::RulesDecision {
            decision: decision_name(e.decision).to_owned(),
            reason: e.reason.to_string(),
            decided_by: "rules".to_owned(),
            bzjamount: req.bzjamount.to_cents_string(),
            biddername: req.biddername.as_str().to_owned(),
            biddercode: req.biddercode.as_str().to_owned(),
            rate: e.rate.to_string(),
            cost: e.cost.to_cents_string(),
            checks: e
                .checks
                .iter()
                .map(|c| details::RuleCheck {
                    rule: c.rule.to_owned(),
                    outcome: c.outcome.to_owned(),
                    detail: c.detail.clone(),
                })
                .collect(),
        });
        tx.emit_application(key, &req.applyno, &env.counterpart, next, details)
            .await
    }
}

/// One `baohanapply`.
#[async_trait]
impl ConsumeOnce<InboundEnvelope<BaohanApply>> for Underwriter {
    async fn consume(&self, tx: Tx, env: InboundEnvelope<BaohanApply>) -> Result<(), Failure> {
        let req = &env.request;
        let existing = tx.application(&req.applyno).await?;
        if let Some(a) = &existing
            && a.counterpart != env.counterpart
        {
            return Err(Failure::permanent(anyhow::anyhow!(
                "applyno {} belongs to counterpart {}, not {}",
                req.applyno,
                a.counterpart,
                env.counterpart
            )));
        }
        let hash = content_hash(req);
        let rules = self.rules.get();
        let evaluation = match &existing {
            Some(a) if a.content_hash == hash => None,
            _ => Some(self.evaluate(&tx, req, &rules).await?),
        };
        let event = evaluation
            .as_ref()
            .map_or(Event::Repeat, |e| Event::Underwritten(e.decision));
        let mut t = match Tx::step(existing, event) {
            Outcome::Moved(t) => t,
            Outcome::Refused { app, refusal } => {
                let state = app.map(|a| a.state);
                tracing::info!(applyno = %req.applyno, ?state, %refusal, "baohanapply left unchanged");
                return tx.commit().await;
            }
        };
        if let Some(e) = &evaluation {
            Self::record_request(&mut t, &env, e, hash)?;
        }
        if let Some(notice) = Self::decision_notice(&t, &req.applyno, evaluation.as_ref())? {
            tx.notify(&mut t, &notice).await?;
        }
        if let Some(e) = &evaluation {
            Self::record_decision(&tx, &env, t.next, e, &rules).await?;
        }
        let (next, effect) = (t.next, t.effect);
        tx.save(t).await?;
        tx.commit().await?;
        tracing::info!(applyno = %req.applyno, state = %next, ?effect, "baohanapply handled");
        Ok(())
    }
}

/// One decision on a referred application.
#[async_trait]
impl ConsumeOnce<ReviewDecision> for Underwriter {
    async fn consume(&self, tx: Tx, d: ReviewDecision) -> Result<(), Failure> {
        let verdict = match d.verdict {
            ReviewVerdict::Approve => Verdict::Approve,
            ReviewVerdict::Reject => Verdict::Reject,
        };
        let event = Event::Reviewed(verdict);
        let mut t = match tx.transition(&d.applyno, None, event).await? {
            Outcome::Moved(t) => t,
            Outcome::Refused { refusal, .. } => {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "decision on {} refused: {refusal}",
                    d.applyno
                )));
            }
        };
        let rules = self.rules.get();
        let review = Review::of(&mut t, &d, verdict, &rules)?;
        if t.effect == Effect::NotifyDecision {
            let n = process_notice(&d.applyno, t.next, &review.remark, review.rate, review.cost)?;
            tx.notify(&mut t, &n).await?;
        }
        review.record(&tx, &t, &d, &rules).await?;
        let next = t.next;
        tx.save(t).await?;
        tx.commit().await?;
        tracing::info!(applyno = %d.applyno, state = %next, decided_by = d.decided_by.as_str(), "review decision applied");
        Ok(())
    }
}

/// What a person's or a risk system's decision amounts to.
struct Review {
    verdict: Verdict,
    remark: String,
    rate: Option<Rate>,
    cost: Option<Amount>,
}

impl Review {
    /// The decision's terms, written into the transition's changes.
    fn of(
        t: &mut Transition,
        d: &ReviewDecision,
        verdict: Verdict,
        rules: &Rules,
    ) -> Result<Self, Failure> {
        let app = t.app()?.clone();
        let review = match verdict {
            Verdict::Approve => {
                let amount = stored("amount", Amount::from_cents(app.bzjamount_cents))?;
                let (rate, cost) = rules.premium(amount.value()).ok_or_else(|| {
                    Failure::permanent(anyhow::anyhow!("no premium for {amount}"))
                })?;
                t.changes.rate = Set(Some(rate.to_string()));
                t.changes.cost_cents = Set(Some(cents(&cost)?));
                let token = app.cashier_token.clone().unwrap_or_else(new_cashier_token);
                t.changes.cashier_token = Set(Some(token));
                Self {
                    verdict,
                    remark: "审核通过".to_owned(),
                    rate: Some(rate),
                    cost: Some(cost),
                }
            }
            Verdict::Reject => Self {
                verdict,
                remark: d.remark.to_string(),
                rate: None,
                cost: None,
            },
        };
        t.changes.remark = Set(Some(review.remark.clone()));
        Ok(review)
    }

    /// The decision row (with who decided) and its event.
    async fn record(
        &self,
        tx: &Tx,
        t: &Transition,
        d: &ReviewDecision,
        rules: &Rules,
    ) -> Result<(), Failure> {
        let approved = self.verdict == Verdict::Approve;
        let decision = if approved { "approve" } else { "reject" };
        let checks = vec![Check {
            rule: "review",
            outcome: if approved { "pass" } else { "fail" },
            detail: d.remark.to_string(),
        }];
        let new = underwriting::NewDecision {
            applyno: &d.applyno,
            decision,
            reason: &self.remark,
            rate: self.rate.map(|r| r.to_string()),
            cost_cents: self.cost.as_ref().map(cents).transpose()?,
            checks: serde_json::to_value(&checks).unwrap_or_default(),
            rules_version: &rules.version,
            decided_by: d.decided_by.as_str(),
        };
        underwriting::record_decision(tx.conn(), new)
            .await
            .transient()?;
        let Some(key) = event_key(t.next) else {
            return Ok(());
        };
        let details = Details::Review(details::Review {
            decision: decision.to_owned(),
            reason: self.remark.to_string(),
            decided_by: d.decided_by.as_str().to_owned(),
            rate: self.rate.map(|r| r.to_string()),
            cost: self.cost.map(|c| c.to_cents_string()),
        });
        tx.emit_transition(key, t, details).await
    }
}
