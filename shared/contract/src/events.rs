//! Domain events on the events exchange, for a bank's systems to bind to.
//! The routing key is the event's [`EventKey`]; the payload is an
//! [`ApplicationEvent`] or, for `notice.*`, a [`NoticeEvent`].

use chrono::{DateTime, Utc};
use gw_bus::{Destination, Message};
use gw_lifecycle::{NoticeState, State};
use gw_protocol::{ApplyNo, CounterpartName, Interface};
use serde::{Deserialize, Serialize};

/// Schema version of the event payloads.
pub const SCHEMA: u32 = 1;

macro_rules! event_keys {
    ($($(#[$doc:meta])* $variant:ident = $key:literal,)+) => {
        /// The routing key of a domain event.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKey {
            $($(#[$doc])* $variant,)+
        }

        impl EventKey {
            pub const ALL: &'static [EventKey] = &[$(EventKey::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKey::$variant => $key,)+
                }
            }
        }
    };
}

event_keys! {
    /// Underwriting approved an application (rules or a person).
    ApplicationApproved = "application.approved",
    ApplicationRejected = "application.rejected",
    /// The rules referred it: the cue for a risk system or a person to decide.
    ApplicationReferred = "application.referred",
    ApplicationCancelled = "application.cancelled",
    /// The premium is paid.
    PaymentReceived = "payment.received",
    /// A payment waits for a person (wrong amount, not payable).
    PaymentHeld = "payment.held",
    /// Money goes back to the payer: a late or second payment, a held one an
    /// operator released, a refund (退保), a cancel after payment. One per
    /// payment (`paynumber`), whatever the concurrency. [`RefundRequested`].
    RefundRequested = "payment.refund_requested",
    /// A cancel was refused: the platform had accepted `paynotice`.
    CancelRefused = "application.cancel_refused",
    GuaranteeIssued = "guarantee.issued",
    GuaranteeRestored = "guarantee.restored",
    /// A `revertapply` the worker refused (ingress refuses most at once).
    RestoreRefused = "guarantee.restore_refused",
    /// A guarantee restored again with changed project details; the old
    /// restored PDF is superseded.
    RestoreAmended = "guarantee.restore_amended",
    /// A cancel after payment voided the guarantee.
    GuaranteeVoided = "guarantee.voided",
    GuaranteeRefunded = "guarantee.refunded",
    GuaranteeWrittenOff = "guarantee.written_off",
    /// The expiry sweep wrote off a guarantee whose validity ended.
    GuaranteeExpired = "guarantee.expired",
    /// An after-issuance request (invoice, refund, claim, write-off) was
    /// refused; the notice says why.
    RequestRefused = "request.refused",
    /// The core system is asked for an electronic invoice. [`InvoiceRequested`].
    InvoiceRequested = "invoice.requested",
    /// The back office is asked to mail a paper invoice. [`InvoiceRequested`].
    InvoiceMailRequested = "invoice.mail_requested",
    InvoiceIssued = "invoice.issued",
    /// The bank is asked to pay a claim out. [`PayoutRequested`].
    PayoutRequested = "claim.payout_requested",
    ClaimPaid = "claim.paid",
    NoticeDelivered = "notice.delivered",
    NoticeDeadLettered = "notice.dead_lettered",
    /// A business report was written. [`ReportGenerated`].
    ReportGenerated = "report.generated",
}

impl std::fmt::Display for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Payload of the `application.*`, `payment.*` and `guarantee.*` events:
/// what happened to which application, with the facts a bank's systems need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationEvent {
    pub applyno: ApplyNo,
    pub counterpart: CounterpartName,
    /// The lifecycle state after the event.
    pub state: State,
    /// The event's facts (decision, amounts, reasons, numbers): one shape
    /// per event, see [`Details`](crate::details::Details).
    pub details: crate::details::Details,
    pub at: DateTime<Utc>,
}

/// Payload of the `notice.delivered` and `notice.dead_lettered` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeEvent {
    pub notice_id: String,
    pub applyno: ApplyNo,
    pub counterpart: CounterpartName,
    pub interface: Interface,
    pub state: NoticeState,
    #[serde(default)]
    pub last_error: Option<String>,
    pub attempts: i32,
}

/// A payload that is published as an event.
pub trait EventPayload: Serialize {
    fn applyno(&self) -> &ApplyNo;
    fn counterpart(&self) -> &CounterpartName;
}

impl EventPayload for ApplicationEvent {
    fn applyno(&self) -> &ApplyNo {
        &self.applyno
    }
    fn counterpart(&self) -> &CounterpartName {
        &self.counterpart
    }
}

impl EventPayload for NoticeEvent {
    fn applyno(&self) -> &ApplyNo {
        &self.applyno
    }
    fn counterpart(&self) -> &CounterpartName {
        &self.counterpart
    }
}

/// The message of event `key` with `payload`, and where it goes.
pub fn message<E: EventPayload>(
    key: EventKey,
    payload: &E,
) -> Result<(Destination, Message), serde_json::Error> {
    let m = Message::json(
        key.as_str(),
        SCHEMA,
        Some(payload.applyno().as_str()),
        payload,
    )?
    .with_header(
        gw_bus::headers::COUNTERPART,
        payload.counterpart().to_string(),
    );
    Ok((Destination::Event(key.as_str().to_owned()), m))
}

/// Payload of `report.generated`: which report, and where its files are
/// (paths on the issuance admin port, behind the admin token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportGenerated {
    /// `daily-2026-11-28` or `monthly-2026-11`.
    pub name: String,
    /// `daily` or `monthly`.
    pub period: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `xlsx`, `csv` and `pdf` to their download paths.
    pub files: std::collections::BTreeMap<String, String>,
    /// The totals of the report.
    pub totals: serde_json::Value,
}

/// The message of a `report.generated` event (its correlation id is the
/// report's name: it belongs to no application).
pub fn report_message(
    payload: &ReportGenerated,
) -> Result<(Destination, Message), serde_json::Error> {
    let key = EventKey::ReportGenerated;
    let m = Message::json(key.as_str(), SCHEMA, Some(payload.name.as_str()), payload)?;
    Ok((Destination::Event(key.as_str().to_owned()), m))
}

/// Why money goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundCause {
    /// Paid after the application was cancelled.
    AfterCancel,
    /// A second payment of a paid application.
    Overpaid,
    /// A held payment an operator decided to give back.
    Released,
    /// 退保 (`quitapply`).
    Quit,
    /// A cancel after payment, before the platform accepted `paynotice`.
    CancelledAfterPayment,
}

/// Payload of `payment.refund_requested`: everything the core system needs
/// to send the money back. One per `paynumber`; a consumer de-duplicates on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundRequested {
    pub paynumber: String,
    pub applyno: ApplyNo,
    pub counterpart: CounterpartName,
    pub amount: gw_protocol::Amount,
    pub payname: String,
    pub payaccount: String,
    pub paybank: String,
    pub cause: RefundCause,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl EventPayload for RefundRequested {
    fn applyno(&self) -> &ApplyNo {
        &self.applyno
    }
    fn counterpart(&self) -> &CounterpartName {
        &self.counterpart
    }
}

/// Payload of `claim.payout_requested`: pay this claim to this payee. The
/// bank answers on `claims.payout_confirmations`. One per claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayoutRequested {
    /// The claim's `applicationno`.
    pub applicationno: gw_protocol::ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: gw_protocol::BaohanNo,
    pub counterpart: CounterpartName,
    pub amount: gw_protocol::Amount,
    pub payeename: String,
    pub payeeaccount: String,
    pub payeebank: String,
    pub at: DateTime<Utc>,
}

impl EventPayload for PayoutRequested {
    fn applyno(&self) -> &ApplyNo {
        &self.applyno
    }
    fn counterpart(&self) -> &CounterpartName {
        &self.counterpart
    }
}

/// Payload of `invoice.requested` and `invoice.mail_requested`: the invoice
/// to issue (or to print and mail). The answer comes on `invoice.issued`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRequested {
    pub applicationno: gw_protocol::ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: gw_protocol::BaohanNo,
    pub counterpart: CounterpartName,
    /// `0` 普票, `1` 专票.
    pub kind: String,
    /// `1` 电子, `2` 纸质.
    pub medium: String,
    pub amount: gw_protocol::Amount,
    pub tax: gw_protocol::Amount,
    pub buyer_name: String,
    pub buyer_code: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub bank: Option<String>,
    pub account: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub contactname: Option<String>,
    pub contactaddress: Option<String>,
    pub at: DateTime<Utc>,
}

impl EventPayload for InvoiceRequested {
    fn applyno(&self) -> &ApplyNo {
        &self.applyno
    }
    fn counterpart(&self) -> &CounterpartName {
        &self.counterpart
    }
}
