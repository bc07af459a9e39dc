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
    /// Money must go back to the payer.
    RefundNeeded = "payment.refund_needed",
    GuaranteeIssued = "guarantee.issued",
    GuaranteeRestored = "guarantee.restored",
    /// A `revertapply` was refused.
    RestoreRefused = "guarantee.restore_refused",
    NoticeDelivered = "notice.delivered",
    NoticeDeadLettered = "notice.dead_lettered",
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
    /// Details of the event (decision, amounts, reasons, numbers).
    pub details: serde_json::Value,
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
