//! Our own message schemas on the bus, built from the protocol types. Each
//! has a `kind` (the AMQP `type`) and a schema version; consumers refuse a
//! version they do not know rather than guess.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Interface;

/// Kind of the message ingress publishes for an inbound request.
pub fn inbound_kind(i: Interface) -> String {
    format!("inbound.{}", i.name())
}

/// Schema version of [`InboundEnvelope`].
pub const INBOUND_SCHEMA: u32 = 1;

/// An accepted request from a platform, as ingress publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEnvelope<T> {
    /// The counterpart (configured name) it came from; notices go back there.
    pub counterpart: String,
    pub interface: Interface,
    pub received_at: DateTime<Utc>,
    /// The validated request, in wire form.
    pub request: T,
}

/// Kind of the message that asks egress to deliver a notice.
pub const NOTICE_KIND: &str = "notice.command";
/// Schema version of [`NoticeCommand`].
pub const NOTICE_SCHEMA: u32 = 1;

/// Deliver this notice to this counterpart. Produced by workers through
/// their outbox; consumed by egress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeCommand {
    /// Unique per notice; egress keys its record and its idempotency on it.
    pub notice_id: String,
    pub counterpart: String,
    pub interface: Interface,
    pub applyno: String,
    /// The notice of the same application that must reach the platform
    /// first (the previous one the workers produced), if any.
    #[serde(default)]
    pub after: Option<String>,
    /// The notice in wire form; egress validates it again before sending.
    pub body: serde_json::Value,
}

impl NoticeCommand {
    /// A command for a notice built from the domain type (valid by construction).
    pub fn new(counterpart: &str, notice: &crate::Notice, after: Option<String>) -> Self {
        Self {
            notice_id: format!("n-{}", uuid::Uuid::now_v7()),
            counterpart: counterpart.to_owned(),
            interface: notice.interface(),
            applyno: notice.applyno().to_string(),
            after,
            body: notice.to_json(),
        }
    }

    /// The notice, validated by the protocol's rules.
    pub fn notice(&self) -> Result<crate::Notice, crate::ProtocolError> {
        crate::Notice::from_value(self.interface, self.body.clone())
    }
}

/// Payload of the `notice.delivered` and `notice.dead_lettered` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeEvent {
    pub notice_id: String,
    pub applyno: String,
    pub counterpart: String,
    pub interface: Interface,
    pub state: String,
    #[serde(default)]
    pub last_error: Option<String>,
    pub attempts: i32,
}

/// Schema version of the event payloads.
pub const EVENT_SCHEMA: u32 = 1;

/// Kind and schema of a decision on a referred application.
pub const REVIEW_KIND: &str = "underwriting.decision";
pub const REVIEW_SCHEMA: u32 = 1;

/// A person's or a risk system's answer on a referred application, on the
/// `underwriting.decisions` queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDecision {
    pub applyno: crate::ApplyNo,
    pub verdict: ReviewVerdict,
    /// The reason, sent to the platform in `remark` (refusals) or kept (approvals).
    pub remark: crate::Text<500>,
    /// Who decided (a system name, or a person's login).
    pub decided_by: crate::Text<200>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    Approve,
    Reject,
}

/// Kind and schema of a payment confirmation.
pub const PAYMENT_KIND: &str = "payment.confirmation";
pub const PAYMENT_SCHEMA: u32 = 1;

crate::wire::wire_dto!(
    /// A payment confirmation as the payment gateway sends it.
    PaymentConfirmationWire {
        applyno, paynumber, paytype, paymoney, paydate, payname, payaccount, paybank, ipcontent,
        source,
    }
);

/// A premium payment, on the `payment.confirmations` queue: from the bank's
/// payment gateway (`source` = `gateway`) or the sandbox cashier (`sandbox`).
/// The fields are those of `paynotice`, with the same rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PaymentConfirmationWire")]
pub struct PaymentConfirmation {
    pub applyno: crate::ApplyNo,
    /// The payment's serial number; a confirmation seen twice is one payment.
    pub paynumber: crate::Text<50>,
    pub paytype: crate::PayType,
    pub paymoney: crate::Amount,
    pub paydate: crate::WireTime,
    pub payname: crate::Personal<200>,
    pub payaccount: crate::Personal<50>,
    pub paybank: crate::Text<200>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipcontent: Option<crate::Personal<50>>,
    /// `gateway` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::Text<32>>,
}

impl TryFrom<PaymentConfirmationWire> for PaymentConfirmation {
    type Error = crate::FieldError;
    fn try_from(w: PaymentConfirmationWire) -> Result<Self, crate::FieldError> {
        use crate::mask::PiiKind;
        use crate::wire::{optional, required};
        Ok(Self {
            applyno: required("applyno", w.applyno, |s| crate::ApplyNo::try_from(s))?,
            paynumber: required("paynumber", w.paynumber, |s| crate::Text::try_from(s))?,
            paytype: required("paytype", w.paytype, |s| crate::PayType::try_from(s))?,
            paymoney: required("paymoney", w.paymoney, |s| {
                crate::Amount::try_from(s)?.positive()
            })?,
            paydate: required("paydate", w.paydate, |s| crate::WireTime::try_from(s))?,
            payname: required("payname", w.payname, |s| {
                crate::Personal::parse(s, PiiKind::Name)
            })?,
            payaccount: required("payaccount", w.payaccount, |s| {
                crate::Personal::parse(s, PiiKind::Account)
            })?,
            paybank: required("paybank", w.paybank, |s| crate::Text::try_from(s))?,
            ipcontent: optional("ipcontent", w.ipcontent, |s| {
                crate::Personal::parse(s, PiiKind::Ip)
            })?,
            source: optional("source", w.source, |s| crate::Text::try_from(s))?,
        })
    }
}

/// Kind and schema of the command that has a guarantee issued.
pub const ISSUE_KIND: &str = "issuance.issue";
pub const ISSUE_SCHEMA: u32 = 1;

/// Issue the guarantee of this (paid) application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCommand {
    pub applyno: crate::ApplyNo,
}

/// Payload of the `application.*`, `payment.*` and `guarantee.*` events:
/// what happened to which application, with the facts a bank's systems need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationEvent {
    pub applyno: String,
    pub counterpart: String,
    /// The lifecycle state after the event.
    pub state: String,
    /// Details of the event (decision, amounts, reasons, numbers).
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}
