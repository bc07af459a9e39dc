//! The commands between our own services and a bank's systems: each a
//! payload type with its queue, `kind` and schema version.

use gw_protocol::{
    Amount, ApplicationNo, ApplyNo, CounterpartName, Interface, Notice, PayType, Personal,
    ProtocolError, Text, WireTime,
};
use serde::{Deserialize, Serialize};

use crate::{Contract, queues};

/// Deliver this notice to this counterpart. Produced by workers through
/// their outbox; consumed by egress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeCommand {
    /// Unique per notice; egress keys its record and its idempotency on it.
    pub notice_id: String,
    pub counterpart: CounterpartName,
    pub interface: Interface,
    pub applyno: ApplyNo,
    /// The notice of the same application that must reach the platform
    /// first (the previous one the workers produced), if any.
    #[serde(default)]
    pub after: Option<String>,
    /// The notice in wire form; egress validates it again before sending.
    pub body: serde_json::Value,
}

impl Contract for NoticeCommand {
    const QUEUE: &'static str = queues::NOTICES;
    const KIND: &'static str = "notice.command";
    const SCHEMA: u32 = 1;
    fn applyno(&self) -> &str {
        self.applyno.as_str()
    }
    fn counterpart(&self) -> Option<&str> {
        Some(self.counterpart.as_str())
    }
}

impl NoticeCommand {
    /// A command for a notice built from the domain type (valid by construction).
    pub fn new(counterpart: &CounterpartName, notice: &Notice, after: Option<String>) -> Self {
        Self {
            notice_id: format!("n-{}", uuid::Uuid::now_v7()),
            counterpart: counterpart.clone(),
            interface: notice.interface(),
            applyno: notice.applyno().clone(),
            after,
            body: notice.to_json(),
        }
    }

    /// The notice, validated by the protocol's rules.
    pub fn notice(&self) -> Result<Notice, ProtocolError> {
        Notice::from_value(self.interface, self.body.clone())
    }
}

/// A person's or a risk system's answer on a referred application, on the
/// `underwriting.decisions` queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDecision {
    pub applyno: ApplyNo,
    pub verdict: ReviewVerdict,
    /// The reason, sent to the platform in `remark` (refusals) or kept (approvals).
    pub remark: Text<500>,
    /// Who decided (a system name, or a person's login).
    pub decided_by: Text<200>,
}

impl Contract for ReviewDecision {
    const QUEUE: &'static str = queues::UNDERWRITING_DECISIONS;
    const KIND: &'static str = "underwriting.decision";
    const SCHEMA: u32 = 1;
    fn applyno(&self) -> &str {
        self.applyno.as_str()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    Approve,
    Reject,
}

/// Issue the guarantee of this (paid) application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCommand {
    pub applyno: ApplyNo,
}

impl Contract for IssueCommand {
    const QUEUE: &'static str = queues::ISSUANCE_ISSUE;
    const KIND: &'static str = "issuance.issue";
    const SCHEMA: u32 = 1;
    fn applyno(&self) -> &str {
        self.applyno.as_str()
    }
}

/// A payment confirmation as the payment gateway sends it: every field an
/// optional raw JSON value, so that a wrong type names its field.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct PaymentConfirmationWire {
    #[serde(default)]
    pub applyno: Option<serde_json::Value>,
    #[serde(default)]
    pub paynumber: Option<serde_json::Value>,
    #[serde(default)]
    pub paytype: Option<serde_json::Value>,
    #[serde(default)]
    pub paymoney: Option<serde_json::Value>,
    #[serde(default)]
    pub paydate: Option<serde_json::Value>,
    #[serde(default)]
    pub payname: Option<serde_json::Value>,
    #[serde(default)]
    pub payaccount: Option<serde_json::Value>,
    #[serde(default)]
    pub paybank: Option<serde_json::Value>,
    #[serde(default)]
    pub ipcontent: Option<serde_json::Value>,
    #[serde(default)]
    pub source: Option<serde_json::Value>,
}

/// A premium payment, on the `payment.confirmations` queue: from the bank's
/// payment gateway (`source` = `gateway`) or the sandbox cashier (`sandbox`).
/// The fields are those of `paynotice`, with the same rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PaymentConfirmationWire")]
pub struct PaymentConfirmation {
    pub applyno: ApplyNo,
    /// The payment's serial number; a confirmation seen twice is one payment.
    pub paynumber: Text<50>,
    pub paytype: PayType,
    pub paymoney: Amount,
    pub paydate: WireTime,
    pub payname: Personal<200>,
    pub payaccount: Personal<50>,
    pub paybank: Text<200>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipcontent: Option<Personal<50>>,
    /// `gateway` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Text<32>>,
}

impl Contract for PaymentConfirmation {
    const QUEUE: &'static str = queues::PAYMENT_CONFIRMATIONS;
    const KIND: &'static str = "payment.confirmation";
    const SCHEMA: u32 = 1;
    fn applyno(&self) -> &str {
        self.applyno.as_str()
    }
}

impl TryFrom<PaymentConfirmationWire> for PaymentConfirmation {
    type Error = gw_protocol::FieldError;
    fn try_from(w: PaymentConfirmationWire) -> Result<Self, gw_protocol::FieldError> {
        use gw_protocol::mask::PiiKind;
        use gw_protocol::wire::{optional, required};
        Ok(Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            paynumber: required("paynumber", w.paynumber, |s| Text::try_from(s))?,
            paytype: required("paytype", w.paytype, |s| PayType::try_from(s))?,
            paymoney: required("paymoney", w.paymoney, |s| Amount::try_from(s)?.positive())?,
            paydate: required("paydate", w.paydate, |s| WireTime::try_from(s))?,
            payname: required("payname", w.payname, |s| Personal::parse(s, PiiKind::Name))?,
            payaccount: required("payaccount", w.payaccount, |s| {
                Personal::parse(s, PiiKind::Account)
            })?,
            paybank: required("paybank", w.paybank, |s| Text::try_from(s))?,
            ipcontent: optional("ipcontent", w.ipcontent, |s| {
                Personal::parse(s, PiiKind::Ip)
            })?,
            source: optional("source", w.source, |s| Text::try_from(s))?,
        })
    }
}

/// The bank paid a claim out, on the `claims.payout_confirmations` queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutConfirmation {
    /// The claim (`claimapply`'s `applicationno`).
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    /// The bank's reference of the transfer.
    pub reference: Text<100>,
    /// When the money left (`yyyy-MM-dd HH:mm:ss`, China time).
    pub paid_at: WireTime,
}

impl Contract for PayoutConfirmation {
    const QUEUE: &'static str = queues::PAYOUT_CONFIRMATIONS;
    const KIND: &'static str = "claims.payout_confirmation";
    const SCHEMA: u32 = 1;
    fn applyno(&self) -> &str {
        self.applyno.as_str()
    }
}

/// An invoice issued outside the gateway, on the `invoice.issued` queue:
/// the core system's electronic invoice (with its PDF), or the back
/// office's paper invoice (mailed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceIssued {
    /// The request (`invoiceapply`'s `applicationno`).
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    pub invoice_number: Text<32>,
    pub issued_at: WireTime,
    /// The invoice PDF, Base64 (electronic invoices only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_base64: Option<String>,
}

impl Contract for InvoiceIssued {
    const QUEUE: &'static str = queues::INVOICES_ISSUED;
    const KIND: &'static str = "invoice.issued";
    const SCHEMA: u32 = 1;
    fn applyno(&self) -> &str {
        self.applyno.as_str()
    }
}
