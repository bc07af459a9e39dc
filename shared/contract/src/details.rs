//! What an [`ApplicationEvent`](crate::ApplicationEvent) says beyond the
//! application's state: one shape per event, serialized as a plain object
//! (its routing key says which). Each shape refuses fields it does not
//! know, so a consumer that reads [`Details`] gets the shape that was sent.

use serde::{Deserialize, Serialize};

/// The facts of an application event, by event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Details {
    /// `application.approved`, `.rejected`, `.referred` by the rules.
    RulesDecision(RulesDecision),
    /// `application.approved`, `.rejected` by a person or a risk system.
    Review(Review),
    /// `payment.received`, `payment.held` (with the reason it is held).
    Payment(Payment),
    /// `guarantee.restored`, `.restore_amended`.
    Restored(Restored),
    /// `claim.paid`.
    ClaimPaid(ClaimPaid),
    /// `guarantee.issued`.
    Issued(Issued),
    /// `request.refused`: an after-issuance request the state does not allow.
    RequestRefused(RequestRefused),
    /// `invoice.issued`.
    InvoiceIssued(InvoiceIssued),
    /// `guarantee.refunded` (退保).
    Refunded(Refunded),
    /// `application.cancelled`.
    Cancelled(Cancelled),
    /// `application.cancel_refused`.
    CancelRefused(CancelRefused),
    /// `guarantee.restore_refused`. (Before `Voided`, whose number is
    /// optional: an object with only a reason is this.)
    Refused(Refused),
    /// `guarantee.voided` (cancelled after payment).
    Voided(Voided),
    /// `guarantee.expired`.
    Expired(Expired),
    /// `guarantee.written_off` (注销).
    WrittenOff(WrittenOff),
}

/// One rule's outcome in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCheck {
    pub rule: String,
    /// `pass`, `fail` or `refer`.
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesDecision {
    /// `approve`, `reject` or `refer`.
    pub decision: String,
    pub reason: String,
    /// `rules`.
    pub decided_by: String,
    /// The guaranteed amount, in cents.
    pub bzjamount: String,
    pub biddername: String,
    pub biddercode: String,
    pub rate: String,
    /// The premium, in cents.
    pub cost: String,
    pub checks: Vec<RuleCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// `approve` or `reject`.
    pub decision: String,
    pub reason: String,
    pub decided_by: String,
    pub rate: Option<String>,
    /// The premium, in cents.
    pub cost: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    pub paynumber: String,
    /// In cents.
    pub paymoney: String,
    /// The premium due, in yuan.
    pub cost: String,
    pub paytype: String,
    /// Why it is held (`payment.held`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restored {
    pub baohanno: String,
    /// 开标时间 and the end of validity, China time.
    pub poltime: String,
    pub validtime: String,
    pub areacode: String,
    /// A repeat of the same restore, answered with the same notice.
    pub resent: bool,
    /// Restored again with changed project details.
    pub amended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimPaid {
    pub applicationno: String,
    pub amount_cents: i64,
    /// Paid on the guarantee so far.
    pub claimed_cents: i64,
    /// The bank's payout reference.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issued {
    pub baohanno: String,
    /// SM3 of the guarantee PDF (验真).
    pub sm3: String,
    /// In cents.
    pub bzjamount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRefused {
    /// `invoiceapply`, `quitapply`, `claimapply` or `logoutapply`.
    pub interface: String,
    pub applicationno: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceIssued {
    pub applicationno: String,
    pub invoice_number: Option<String>,
    /// In yuan.
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refunded {
    pub applicationno: String,
    pub scene: String,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancelled {
    pub scene: String,
    /// The state the application was in.
    pub previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRefused {
    pub scene: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voided {
    pub baohanno: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expired {
    pub baohanno: String,
    /// When its validity ended (UTC, RFC 3339).
    pub validtime: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrittenOff {
    pub applicationno: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refused {
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each shape reads back as itself: no two shapes take the same object.
    #[test]
    fn every_shape_reads_back_as_itself() {
        let all = vec![
            Details::RulesDecision(RulesDecision {
                decision: "approve".into(),
                reason: "审核通过".into(),
                decided_by: "rules".into(),
                bzjamount: "20000000".into(),
                biddername: "湖南建工集团有限公司".into(),
                biddercode: "91430000183764427X".into(),
                rate: "0.0015".into(),
                cost: "30000".into(),
                checks: vec![RuleCheck {
                    rule: "refer".into(),
                    outcome: "pass".into(),
                    detail: String::new(),
                }],
            }),
            Details::Review(Review {
                decision: "approve".into(),
                reason: "复核通过".into(),
                decided_by: "zhang.wei".into(),
                rate: Some("0.0010".into()),
                cost: None,
            }),
            Details::Payment(Payment {
                paynumber: "P1".into(),
                paymoney: "30000".into(),
                cost: "300.00".into(),
                paytype: "04".into(),
                reason: Some("金额不符".into()),
            }),
            Details::Restored(Restored {
                baohanno: "BH1".into(),
                poltime: "2026-12-05 09:30:00".into(),
                validtime: "2027-03-05 23:59:59".into(),
                areacode: "430100".into(),
                resent: false,
                amended: true,
            }),
            Details::ClaimPaid(ClaimPaid {
                applicationno: "C1".into(),
                amount_cents: 100,
                claimed_cents: 100,
                reference: "R1".into(),
            }),
            Details::Issued(Issued {
                baohanno: "BH1".into(),
                sm3: "ab".into(),
                bzjamount: "1".into(),
            }),
            Details::RequestRefused(RequestRefused {
                interface: "quitapply".into(),
                applicationno: "Q1".into(),
                reason: "已理赔".into(),
            }),
            Details::InvoiceIssued(InvoiceIssued {
                applicationno: "I1".into(),
                invoice_number: Some("0001".into()),
                amount: "300.00".into(),
            }),
            Details::Refunded(Refunded {
                applicationno: "Q1".into(),
                scene: "1".into(),
                amount_cents: 30000,
            }),
            Details::Cancelled(Cancelled {
                scene: "1".into(),
                previous: Some("approved".into()),
            }),
            Details::CancelRefused(CancelRefused {
                scene: "1".into(),
                reason: "已支付".into(),
            }),
            Details::Voided(Voided {
                baohanno: Some("BH1".into()),
                reason: "cancelled after payment".into(),
            }),
            Details::Expired(Expired {
                baohanno: "BH1".into(),
                validtime: None,
            }),
            Details::WrittenOff(WrittenOff {
                applicationno: "L1".into(),
            }),
            Details::Refused(Refused {
                reason: "no such guarantee".into(),
            }),
        ];
        for d in all {
            let json = serde_json::to_value(&d).unwrap();
            let back: Details = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(back, d, "{json}");
        }
    }
}
