//! The consumers of `underwriting.baohanapply` and `underwriting.decisions`.
//!
//! Each message is one transaction: the inbox row (idempotency), the
//! lifecycle change (versioned), the decision record, and the notice and
//! events through the outbox. The lifecycle rules come from
//! `gw_lifecycle::step`; the underwriting rules from [`crate::rules`].

use std::sync::Arc;

use async_trait::async_trait;
use gw_bus::{Failure, Handler, Message, events};
use gw_lifecycle::{Decision, Effect, Event, State, Verdict, step};
use gw_protocol::messages::{
    INBOUND_SCHEMA, InboundEnvelope, REVIEW_SCHEMA, ReviewDecision, ReviewVerdict,
};
use gw_protocol::{Amount, ApplyStatus, BaohanApply, Notice, ProcessNotice, Rate, Text};
use gw_service::effects;
use gw_service::worker::{db_failure as db_err, decode, save_failure as save_err};
use gw_storage::applications::{self, Application, Changes};
use gw_storage::sea_orm::{Set, TransactionTrait};
use gw_storage::{Db, inbox, underwriting};
use rust_decimal::Decimal;
use tokio::sync::Notify;

use crate::rules::{Check, Context, RulesHandle};

const APPLY_CONSUMER: &str = "underwriting.baohanapply";
const REVIEW_CONSUMER: &str = "underwriting.decisions";

/// What both consumers share.
pub struct Underwriter {
    pub db: Db,
    pub rules: RulesHandle,
    pub relay: Arc<Notify>,
}

fn state_of(app: Option<&Application>) -> Result<Option<State>, Failure> {
    app.map(|a| a.state.parse::<State>())
        .transpose()
        .map_err(Failure::permanent)
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

fn text<const N: usize>(s: &str) -> Result<Text<N>, Failure> {
    Text::try_from(s).map_err(|r| {
        Failure::permanent(anyhow::anyhow!(
            "{}",
            gw_protocol::FieldError::new("remark", r)
        ))
    })
}

/// The `processnotice` for an application in `state` (approved or rejected).
fn process_notice(
    applyno: &str,
    state: State,
    remark: &str,
    rate: Option<&str>,
    cost_cents: Option<i64>,
) -> Result<Notice, Failure> {
    let applystatus = match state {
        State::Approved => ApplyStatus::Approved,
        State::Rejected => ApplyStatus::Rejected,
        other => {
            return Err(Failure::permanent(anyhow::anyhow!(
                "no decision to notify in state {other}"
            )));
        }
    };
    let approved = applystatus == ApplyStatus::Approved;
    let rate = match (approved, rate) {
        (true, Some(r)) => Some(
            Rate::try_from(r)
                .map_err(|_| Failure::permanent(anyhow::anyhow!("stored rate {r} is invalid")))?,
        ),
        _ => None,
    };
    let cost = match (approved, cost_cents) {
        (true, Some(c)) => Some(
            Amount::from_cents(c)
                .map_err(|_| Failure::permanent(anyhow::anyhow!("stored cost {c} is invalid")))?,
        ),
        _ => None,
    };
    let applyno = gw_protocol::ApplyNo::try_from(applyno)
        .map_err(|_| Failure::permanent(anyhow::anyhow!("bad applyno")))?;
    Ok(Notice::ProcessNotice(ProcessNotice {
        applyno,
        applystatus,
        remark: text(remark)?,
        rate,
        cost,
    }))
}

fn event_key(state: State) -> Option<&'static str> {
    match state {
        State::Approved => Some(events::APPLICATION_APPROVED),
        State::Rejected => Some(events::APPLICATION_REJECTED),
        State::Referred => Some(events::APPLICATION_REFERRED),
        _ => None,
    }
}

impl Underwriter {
    /// One `baohanapply`.
    pub async fn on_apply(
        &self,
        message_id: &str,
        env: InboundEnvelope<BaohanApply>,
    ) -> Result<(), Failure> {
        let req = &env.request;
        let applyno = req.applyno.as_str();
        let txn = self.db.conn().begin().await.map_err(db_err)?;
        if !inbox::first_time(&txn, APPLY_CONSUMER, message_id)
            .await
            .map_err(db_err)?
        {
            tracing::info!(applyno, "already handled");
            return txn.commit().await.map_err(db_err);
        }
        let existing = applications::find(&txn, applyno).await.map_err(db_err)?;
        if let Some(a) = &existing
            && a.counterpart != env.counterpart
        {
            return Err(Failure::permanent(anyhow::anyhow!(
                "applyno {applyno} belongs to counterpart {}, not {}",
                a.counterpart,
                env.counterpart
            )));
        }
        let state = state_of(existing.as_ref())?;
        let hash = content_hash(req);
        let rules = self.rules.get();
        let (event, evaluation) = if existing.as_ref().is_some_and(|a| a.content_hash == hash) {
            (Event::Repeat, None)
        } else {
            let code = req.biddercode.as_str();
            let blocked = underwriting::is_blocked(&txn, code).await.map_err(db_err)?;
            let open: Vec<&str> = State::OPEN_EXPOSURE.iter().map(State::as_str).collect();
            let exposure = applications::exposure_cents(&txn, code, &open, applyno)
                .await
                .map_err(db_err)?;
            let e = rules.evaluate(
                req,
                Context {
                    blocked,
                    exposure: Decimal::new(exposure, 2),
                },
            );
            (Event::Underwritten(e.decision), Some(e))
        };
        let (next, effect) = match step(state, event) {
            Ok(t) => t,
            Err(refusal) => {
                tracing::info!(applyno, state = ?state, %refusal, "baohanapply left unchanged");
                return txn.commit().await.map_err(db_err);
            }
        };

        let mut changes = Changes {
            state: Set(next.as_str().to_owned()),
            ..Default::default()
        };
        let mut token = existing.as_ref().and_then(|a| a.cashier_token.clone());
        if let Some(e) = &evaluation {
            changes.biddername = Set(req.biddername.to_string());
            changes.biddercode = Set(req.biddercode.to_string());
            changes.bzjamount_cents = Set(cents(&req.bzjamount)?);
            changes.jbrname = Set(req.jbrname.expose().to_owned());
            changes.jbrphone = Set(req.jbrphone.expose().to_owned());
            changes.content_hash = Set(hash.clone());
            changes.remark = Set(Some(e.reason.clone()));
            if e.decision == Decision::Approve {
                token.get_or_insert_with(new_cashier_token);
                changes.rate = Set(Some(e.rate.to_string()));
                changes.cost_cents = Set(Some(cents(&e.cost)?));
                changes.cashier_token = Set(token.clone());
            } else {
                changes.rate = Set(None);
                changes.cost_cents = Set(None);
            }
        }
        let notice = match effect {
            Effect::NotifyDecision => {
                let e = evaluation.as_ref();
                let remark = e.map(|e| e.reason.clone()).unwrap_or_default();
                let cost = match e {
                    Some(e) => Some(cents(&e.cost)?),
                    None => None,
                };
                Some(process_notice(
                    applyno,
                    next,
                    &remark,
                    e.map(|e| e.rate.to_string()).as_deref(),
                    cost,
                )?)
            }
            Effect::ResendDecision => {
                let a = existing
                    .as_ref()
                    .ok_or_else(|| Failure::permanent(anyhow::anyhow!("nothing to re-send")))?;
                Some(process_notice(
                    applyno,
                    next,
                    a.remark.as_deref().unwrap_or("审核通过"),
                    a.rate.as_deref(),
                    a.cost_cents,
                )?)
            }
            _ => None,
        };
        if let Some(n) = &notice {
            let after = existing.as_ref().and_then(|a| a.last_notice_id.clone());
            let id = effects::queue_notice(&txn, &env.counterpart, n, after)
                .await
                .map_err(db_err)?;
            changes.last_notice_id = Set(Some(id));
        }
        match &existing {
            None => {
                changes.applyno = Set(applyno.to_owned());
                changes.counterpart = Set(env.counterpart.clone());
                applications::create(&txn, changes).await.map_err(db_err)?;
            }
            Some(a) => applications::save(&txn, applyno, a.version, changes)
                .await
                .map_err(save_err)?,
        }
        if let Some(e) = &evaluation {
            let decision = match e.decision {
                Decision::Approve => "approve",
                Decision::Reject => "reject",
                Decision::Refer => "refer",
            };
            underwriting::record_decision(
                &txn,
                underwriting::NewDecision {
                    applyno,
                    decision,
                    reason: &e.reason,
                    rate: (e.decision == Decision::Approve).then(|| e.rate.to_string()),
                    cost_cents: (e.decision == Decision::Approve)
                        .then(|| e.cost.to_cents())
                        .flatten(),
                    checks: serde_json::to_value(&e.checks).unwrap_or_default(),
                    rules_version: &rules.version,
                    decided_by: "rules",
                },
            )
            .await
            .map_err(db_err)?;
            if let Some(key) = event_key(next) {
                let details = serde_json::json!({
                    "decision": decision, "reason": e.reason, "decided_by": "rules",
                    "bzjamount": req.bzjamount.to_cents_string(), "biddername": req.biddername.as_str(),
                    "biddercode": req.biddercode.as_str(), "rate": e.rate.to_string(),
                    "cost": e.cost.to_cents_string(), "checks": e.checks,
                });
                effects::emit_application(
                    &txn,
                    key,
                    applyno,
                    &env.counterpart,
                    next.as_str(),
                    details,
                )
                .await
                .map_err(db_err)?;
            }
        }
        txn.commit().await.map_err(db_err)?;
        self.relay.notify_one();
        tracing::info!(applyno, state = %next, effect = ?effect, "baohanapply handled");
        Ok(())
    }

    /// One decision on a referred application.
    pub async fn on_review(&self, message_id: &str, d: ReviewDecision) -> Result<(), Failure> {
        let applyno = d.applyno.as_str();
        let txn = self.db.conn().begin().await.map_err(db_err)?;
        if !inbox::first_time(&txn, REVIEW_CONSUMER, message_id)
            .await
            .map_err(db_err)?
        {
            return txn.commit().await.map_err(db_err);
        }
        let Some(app) = applications::find(&txn, applyno).await.map_err(db_err)? else {
            return Err(Failure::permanent(anyhow::anyhow!(
                "no application {applyno}"
            )));
        };
        let verdict = match d.verdict {
            ReviewVerdict::Approve => Verdict::Approve,
            ReviewVerdict::Reject => Verdict::Reject,
        };
        let (next, effect) =
            step(state_of(Some(&app))?, Event::Reviewed(verdict)).map_err(|r| {
                Failure::permanent(anyhow::anyhow!("decision on {applyno} refused: {r}"))
            })?;
        let rules = self.rules.get();
        let mut changes = Changes {
            state: Set(next.as_str().to_owned()),
            ..Default::default()
        };
        let (remark, rate, cost) = match verdict {
            Verdict::Approve => {
                let amount = Amount::from_cents(app.bzjamount_cents)
                    .map_err(|_| Failure::permanent(anyhow::anyhow!("stored amount is invalid")))?;
                let (rate, cost) = rules.premium(amount.value());
                changes.rate = Set(Some(rate.to_string()));
                changes.cost_cents = Set(Some(cents(&cost)?));
                changes.cashier_token = Set(Some(
                    app.cashier_token.clone().unwrap_or_else(new_cashier_token),
                ));
                (
                    "审核通过".to_owned(),
                    Some(rate.to_string()),
                    Some(cents(&cost)?),
                )
            }
            Verdict::Reject => (d.remark.to_string(), None, None),
        };
        changes.remark = Set(Some(remark.clone()));
        if effect == Effect::NotifyDecision {
            let n = process_notice(applyno, next, &remark, rate.as_deref(), cost)?;
            let id = effects::queue_notice(&txn, &app.counterpart, &n, app.last_notice_id.clone())
                .await
                .map_err(db_err)?;
            changes.last_notice_id = Set(Some(id));
        }
        applications::save(&txn, applyno, app.version, changes)
            .await
            .map_err(save_err)?;
        let decision = match verdict {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        };
        let checks = vec![Check {
            rule: "review",
            outcome: if verdict == Verdict::Approve {
                "pass"
            } else {
                "fail"
            },
            detail: d.remark.to_string(),
        }];
        underwriting::record_decision(
            &txn,
            underwriting::NewDecision {
                applyno,
                decision,
                reason: &remark,
                rate: rate.clone(),
                cost_cents: cost,
                checks: serde_json::to_value(&checks).unwrap_or_default(),
                rules_version: &rules.version,
                decided_by: d.decided_by.as_str(),
            },
        )
        .await
        .map_err(db_err)?;
        if let Some(key) = event_key(next) {
            let details = serde_json::json!({
                "decision": decision, "reason": remark, "decided_by": d.decided_by.as_str(),
                "rate": rate, "cost": cost.map(|c| Amount::from_cents(c).map(|a| a.to_cents_string()).unwrap_or_default()),
            });
            effects::emit_application(&txn, key, applyno, &app.counterpart, next.as_str(), details)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        self.relay.notify_one();
        tracing::info!(applyno, state = %next, decided_by = d.decided_by.as_str(), "review decision applied");
        Ok(())
    }
}

/// Consumer of `underwriting.baohanapply`.
pub struct ApplyHandler(pub Arc<Underwriter>);

#[async_trait]
impl Handler for ApplyHandler {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        let env: InboundEnvelope<BaohanApply> = decode(m, INBOUND_SCHEMA)?;
        self.0.on_apply(&m.id, env).await
    }
}

/// Consumer of `underwriting.decisions`.
pub struct ReviewHandler(pub Arc<Underwriter>);

#[async_trait]
impl Handler for ReviewHandler {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        let d: ReviewDecision = decode(m, REVIEW_SCHEMA)?;
        self.0.on_review(&m.id, d).await
    }
}
