//! The underwriting rules, typed and checked, and their hot reload.
//!
//! Rules are evaluated in this order, and every rule's outcome is recorded:
//!
//! 1. `credit_code`: the GB 32100 checksum of `biddercode` (if required);
//! 2. `blocklist`: the credit code is not blocked;
//! 3. `max_amount`: `bzjamount` within the per-application maximum;
//! 4. `exposure`: the bidder's open exposure plus this amount within the maximum;
//! 5. `premium`: the rate of the amount's band and the premium
//!    (amount × rate, at least the minimum, rounded half-up to cents);
//! 6. `refer`: amounts from `refer_from` up go to a person.
//!
//! The first failing rule rejects the application with its reason; a
//! referral waits for a decision; otherwise it is approved.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use gw_config::UnderwritingRules;
use gw_lifecycle::Decision;
use gw_protocol::{Amount, BaohanApply, Rate};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// Checked rules, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub require_valid_credit_code: bool,
    pub max_amount: Decimal,
    pub max_exposure: Decimal,
    pub minimum_premium: Decimal,
    pub refer_from: Option<Decimal>,
    /// `(up_to, rate)`, in order; the last has no upper bound.
    pub bands: Vec<(Option<Decimal>, Rate)>,
    /// SM3 of the rules as configured: recorded with every decision.
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid underwriting rules: {}", .0.join("; "))]
pub struct RulesError(pub Vec<String>);

impl From<&UnderwritingRules> for Rules {
    /// The rules were parsed and checked when read (`gw-config`); this
    /// only lays them out for evaluation and stamps their version.
    fn from(r: &UnderwritingRules) -> Self {
        let canonical = serde_json::to_string(r).unwrap_or_default();
        Self {
            require_valid_credit_code: r.require_valid_credit_code,
            max_amount: r.max_amount_per_application.value(),
            max_exposure: r.max_exposure_per_bidder.value(),
            minimum_premium: r.minimum_premium.value(),
            refer_from: r.refer_from.map(|a| a.value()),
            bands: r
                .rate_bands
                .iter()
                .map(|b| (b.up_to.map(|a| a.value()), b.rate))
                .collect(),
            version: gw_envelope::sign::sm3_hex(canonical.as_bytes()),
        }
    }
}

/// Parses and checks rules written as TOML.
pub fn parse(text: &str) -> Result<Rules, RulesError> {
    UnderwritingRules::from_toml(text)
        .map(|r| Rules::from(&r))
        .map_err(RulesError)
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub rule: &'static str,
    /// `pass`, `fail` or `refer`.
    pub outcome: &'static str,
    pub detail: String,
}

/// What the rules made of an application.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub decision: Decision,
    /// For the platform (`remark`) and the record.
    pub reason: String,
    pub rate: Rate,
    pub cost: Amount,
    pub checks: Vec<Check>,
}

/// Facts the rules need that live in the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    pub blocked: bool,
    /// The bidder's open exposure before this application, in yuan.
    pub exposure: Decimal,
}

fn yuan(d: Decimal) -> String {
    Amount::from_decimal_rounded(d)
        .map(|a| a.to_cents_string())
        .unwrap_or_else(|_| d.to_string())
}

impl Rules {
    /// The band rate for `amount` and the premium it gives; `None` when
    /// the premium is not an amount (checked arithmetic: it cannot happen
    /// for an `Amount` and a rate of at most 1, and is refused if it did).
    pub fn premium(&self, amount: Decimal) -> Option<(Rate, Amount)> {
        let rate = self
            .bands
            .iter()
            .find(|(up_to, _)| up_to.is_none_or(|u| amount <= u))
            .or(self.bands.last())
            .map(|(_, r)| *r)
            .unwrap_or(Rate::ZERO);
        let raw = amount.checked_mul(rate.value())?.max(self.minimum_premium);
        let cost = Amount::from_decimal_rounded(raw).ok()?;
        Some((rate, cost))
    }

    /// Applies every rule to `app`.
    pub fn evaluate(&self, app: &BaohanApply, ctx: Context) -> Evaluation {
        let amount = app.bzjamount.value();
        let mut checks = Vec::new();
        let mut failure: Option<String> = None;
        let mut fail = |checks: &mut Vec<Check>, rule, detail: String, reason: String| {
            checks.push(Check {
                rule,
                outcome: "fail",
                detail,
            });
            failure.get_or_insert(reason);
        };

        if self.require_valid_credit_code && !app.biddercode.is_gb32100() {
            fail(
                &mut checks,
                "credit_code",
                "GB 32100 checksum failed".into(),
                "统一社会信用代码校验失败".into(),
            );
        } else {
            checks.push(Check {
                rule: "credit_code",
                outcome: "pass",
                detail: String::new(),
            });
        }
        if ctx.blocked {
            fail(
                &mut checks,
                "blocklist",
                "the credit code is on the blocklist".into(),
                "投标人不符合承保条件".into(),
            );
        } else {
            checks.push(Check {
                rule: "blocklist",
                outcome: "pass",
                detail: String::new(),
            });
        }
        if amount > self.max_amount {
            fail(
                &mut checks,
                "max_amount",
                format!("{} > {}", yuan(amount), yuan(self.max_amount)),
                format!("保证金金额超过单笔承保上限（{}元）", yuan(self.max_amount)),
            );
        } else {
            checks.push(Check {
                rule: "max_amount",
                outcome: "pass",
                detail: format!("{} <= {}", yuan(amount), yuan(self.max_amount)),
            });
        }
        let total = ctx.exposure.checked_add(amount);
        if total.is_none_or(|t| t > self.max_exposure) {
            fail(
                &mut checks,
                "exposure",
                format!(
                    "open {} + {} > {}",
                    yuan(ctx.exposure),
                    yuan(amount),
                    yuan(self.max_exposure)
                ),
                format!(
                    "投标人在保余额超过承保上限（{}元）",
                    yuan(self.max_exposure)
                ),
            );
        } else {
            checks.push(Check {
                rule: "exposure",
                outcome: "pass",
                detail: format!(
                    "open {} + {} <= {}",
                    yuan(ctx.exposure),
                    yuan(amount),
                    yuan(self.max_exposure)
                ),
            });
        }
        let (rate, cost) = match self.premium(amount) {
            Some((rate, cost)) => {
                checks.push(Check {
                    rule: "premium",
                    outcome: "pass",
                    detail: format!("rate {rate}, cost {}", cost.to_cents_string()),
                });
                (rate, cost)
            }
            None => {
                fail(
                    &mut checks,
                    "premium",
                    format!("no premium for {}", yuan(amount)),
                    "保费无法计算".to_owned(),
                );
                (Rate::ZERO, Amount::ZERO)
            }
        };
        let refer = self.refer_from.is_some_and(|r| amount >= r);
        checks.push(Check {
            rule: "refer",
            outcome: if refer { "refer" } else { "pass" },
            detail: self
                .refer_from
                .map(|r| format!("refer from {}", yuan(r)))
                .unwrap_or_default(),
        });

        let (decision, reason) = match failure {
            Some(reason) => (Decision::Reject, reason),
            None if refer => (Decision::Refer, "保证金金额较大，转人工审核".to_owned()),
            None => (Decision::Approve, "审核通过".to_owned()),
        };
        Evaluation {
            decision,
            reason,
            rate,
            cost,
            checks,
        }
    }
}

/// The rules in force, replaced as a whole when the rules file changes.
#[derive(Clone)]
pub struct RulesHandle {
    current: Arc<RwLock<Arc<Rules>>>,
}

impl RulesHandle {
    pub fn new(rules: Rules) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(rules))),
        }
    }

    pub fn get(&self) -> Arc<Rules> {
        match self.current.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, rules: Rules) {
        match self.current.write() {
            Ok(mut w) => *w = Arc::new(rules),
            Err(p) => *p.into_inner() = Arc::new(rules),
        }
    }

    /// Reads and checks a rules file.
    pub fn load_file(path: &PathBuf) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RulesError(vec![format!("cannot read {}: {e}", path.display())]))?;
        parse(&text).map_err(|e| RulesError(vec![format!("{}: {e}", path.display())]))
    }

    /// Re-reads `path` every `interval`; a valid change replaces the rules, an
    /// invalid one is reported once and the rules in force stay.
    /// Each reload, and each rejected file, is an operation record.
    pub async fn watch(
        self,
        path: PathBuf,
        interval: Duration,
        db: gw_storage::Db,
        shutdown: CancellationToken,
    ) {
        let mut last_seen: Option<String> = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
            let text = match tokio::fs::read_to_string(&path).await {
                Ok(t) => t,
                Err(e) => {
                    let key = format!("io:{e}");
                    if last_seen.as_deref() != Some(&key) {
                        tracing::error!(file = %path.display(), error = %e, "cannot read the rules file; keeping the rules in force");
                        last_seen = Some(key);
                    }
                    continue;
                }
            };
            let key = gw_envelope::sign::sm3_hex(text.as_bytes());
            if last_seen.as_deref() == Some(&key) {
                continue;
            }
            last_seen = Some(key);
            let before = self.get().version.clone();
            let (action, after, remark) = match parse(&text) {
                Ok(rules) if rules != *self.get() => {
                    tracing::info!(file = %path.display(), version = %rules.version, "underwriting rules reloaded");
                    let v = rules.version.clone();
                    self.set(rules);
                    ("rules.reloaded", v, None)
                }
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "rules file rejected; keeping the rules in force");
                    ("rules.rejected", before.clone(), Some(e.to_string()))
                }
            };
            let file = path.display().to_string();
            let recorded = gw_storage::operations::record(
                db.conn(),
                gw_storage::operations::Operation {
                    actor: &gw_storage::operations::Actor::system(),
                    service: "underwriting",
                    action,
                    subject: &file,
                    before: Some(serde_json::json!({"version": before})),
                    after: Some(serde_json::json!({"version": after})),
                    remark: remark.as_deref(),
                },
            )
            .await;
            if let Err(e) = recorded {
                tracing::warn!(error = %e, "cannot record the rules change");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        parse(
            r#"
            max_amount_per_application = "5000000.00"
            max_exposure_per_bidder = "8000000.00"
            minimum_premium = "100.00"
            refer_from = "3000000.00"
            rate_bands = [{ up_to = "1000000.00", rate = "0.0015" }, { rate = "0.0010" }]
            "#,
        )
        .unwrap()
    }

    fn app(code: &str, amount: &str) -> BaohanApply {
        serde_json::from_value(serde_json::json!({
            "applyno": "TB1", "biddername": "湖南建工集团有限公司", "biddercode": code,
            "bzjamount": amount, "jbrname": "张三", "jbrphone": "13800138000"
        }))
        .unwrap()
    }

    const GOOD: &str = "914300001837644275";
    const OPEN: Context = Context {
        blocked: false,
        exposure: Decimal::ZERO,
    };

    #[test]
    fn a_clean_application_is_approved_with_its_band_premium() {
        let e = rules().evaluate(&app(GOOD, "200000.00"), OPEN);
        assert_eq!(e.decision, Decision::Approve);
        assert_eq!(e.rate.to_string(), "0.0015");
        assert_eq!(e.cost.to_cents_string(), "300.00");
        assert_eq!(e.checks.len(), 6);
        assert!(e.checks.iter().all(|c| c.outcome == "pass"));
    }

    #[test]
    fn a_bad_checksum_is_rejected() {
        let e = rules().evaluate(&app("91430000183764427X", "200000.00"), OPEN);
        assert_eq!(e.decision, Decision::Reject);
        assert_eq!(e.reason, "统一社会信用代码校验失败");
        assert_eq!(e.checks[0].outcome, "fail");
    }

    #[test]
    fn a_blocked_bidder_is_rejected() {
        let e = rules().evaluate(
            &app(GOOD, "200000.00"),
            Context {
                blocked: true,
                exposure: Decimal::ZERO,
            },
        );
        assert_eq!(e.decision, Decision::Reject);
        assert_eq!(e.reason, "投标人不符合承保条件");
    }

    #[test]
    fn too_large_an_amount_is_rejected() {
        let e = rules().evaluate(&app(GOOD, "5000000.01"), OPEN);
        assert_eq!(e.reason, "保证金金额超过单笔承保上限（5000000.00元）");
    }

    #[test]
    fn open_exposure_counts() {
        let ctx = Context {
            blocked: false,
            exposure: Decimal::new(7_900_000, 0),
        };
        let e = rules().evaluate(&app(GOOD, "200000.00"), ctx);
        assert_eq!(e.decision, Decision::Reject);
        assert_eq!(e.reason, "投标人在保余额超过承保上限（8000000.00元）");
        let ctx = Context {
            blocked: false,
            exposure: Decimal::new(7_800_000, 0),
        };
        assert_eq!(
            rules().evaluate(&app(GOOD, "200000.00"), ctx).decision,
            Decision::Approve
        );
    }

    #[test]
    fn a_large_amount_is_referred() {
        let e = rules().evaluate(&app(GOOD, "3000000.00"), OPEN);
        assert_eq!(e.decision, Decision::Refer);
        assert_eq!(e.checks.last().unwrap().outcome, "refer");
    }

    #[test]
    fn the_first_failure_gives_the_reason_and_every_rule_is_recorded() {
        let e = rules().evaluate(
            &app("91430000183764427X", "9000000.00"),
            Context {
                blocked: true,
                exposure: Decimal::ZERO,
            },
        );
        assert_eq!(e.reason, "统一社会信用代码校验失败");
        let fails: Vec<_> = e
            .checks
            .iter()
            .filter(|c| c.outcome == "fail")
            .map(|c| c.rule)
            .collect();
        assert_eq!(
            fails,
            vec!["credit_code", "blocklist", "max_amount", "exposure"]
        );
    }

    #[test]
    fn premiums_use_the_band_the_minimum_and_half_up_rounding() {
        let r = rules();
        assert_eq!(
            r.premium(Decimal::new(1_000_000, 0))
                .unwrap()
                .1
                .to_cents_string(),
            "1500.00"
        );
        assert_eq!(
            r.premium(Decimal::new(1_000_001, 0)).unwrap().0.to_string(),
            "0.0010"
        );
        assert_eq!(
            r.premium(Decimal::new(10_000, 0))
                .unwrap()
                .1
                .to_cents_string(),
            "100.00",
            "the minimum"
        );
        // 33,333.67 × 0.0015 = 50.000505 -> minimum; 100,003.00 × 0.0015 = 150.0045 -> 150.00
        assert_eq!(
            r.premium("100003.00".parse().unwrap())
                .unwrap()
                .1
                .to_cents_string(),
            "150.00"
        );
        // 100,003.34 × 0.0015 = 150.00501 -> 150.01 (half-up at the third decimal)
        assert_eq!(
            r.premium("100003.34".parse().unwrap())
                .unwrap()
                .1
                .to_cents_string(),
            "150.01"
        );
        assert_eq!(
            r.premium("100003.00".parse().unwrap())
                .unwrap()
                .1
                .to_cents_string(),
            "150.00"
        );
        assert_eq!(
            r.premium("100006.67".parse().unwrap())
                .unwrap()
                .1
                .to_cents_string(),
            "150.01"
        );
    }

    #[test]
    fn invalid_rules_are_refused_with_their_reasons() {
        let text = r#"
            max_amount_per_application = "x"
            max_exposure_per_bidder = "1.00"
            minimum_premium = "1.00"
            rate_bands = [{ rate = "2" }]
            "#;
        let e = parse(text).unwrap_err().to_string();
        assert!(
            e.contains("max_amount_per_application") && e.contains("rate_bands[0].rate"),
            "{e}"
        );
        let text = text
            .replace("\"x\"", "\"1.00\"")
            .replace("\"2\"", "\"0.001\"");
        assert!(parse(&text).is_ok());
    }
}
