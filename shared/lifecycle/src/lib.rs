//! The lifecycle of one application (`applyno`), as a pure state machine.
//!
//! Nothing here does I/O. A worker loads the application's current
//! [`State`] (or `None` when it is unknown), asks [`step`] what an [`Event`]
//! does to it, and records the answer: the next state and the [`Effect`] to
//! carry out, or a [`Refusal`]. No handler re-implements a rule.
//!
//! ```text
//!                 Underwritten(Refer)
//!        ┌──────────────────────────────────┐
//!        │                                  ▼
//!   (none) ──Underwritten(Approve)──▶ Approved ◀──Reviewed(Approve)── Referred
//!        │                          │   ▲  │                          │
//!        └─Underwritten(Reject)──▶ Rejected ◀──Reviewed(Reject)───────┘
//!                                   │   │  │
//!     Cancel (from Referred, Approved, Rejected) ──▶ Cancelled ──Paid*──▶ (refund, no notice)
//!                                      │
//!                            Approved ─Paid─▶ Paid ─Issue─▶ Issued ─Restore─▶ Restored
//!                            Approved ─PaidWrongAmount─▶ Approved (payment held)
//! ```
//!
//! Changed content on an unpaid application (Referred, Approved, Rejected)
//! is underwritten afresh; the same content again re-sends the earlier
//! decision. A paid application is immutable.

use std::fmt;
use std::str::FromStr;

use gw_protocol::PremiumStatus;

/// An enum stored and sent by name: `as_str`, `FromStr`, `Display`, serde
/// as the name, and (feature `sea-orm`) a database column of that name, so
/// storage reads it back typed and nothing past the boundary parses it.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $unknown:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
        #[cfg_attr(feature = "sea-orm", sea_orm(value_type = "String"))]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Compares with a stored or written name.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName { what: $unknown, name: s.to_owned() }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A stored or received name that this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
}

named_enum!(
    /// Where an application stands.
    State, "application state" {
        /// Waiting for a decision from a person or a risk system.
        Referred = "referred",
        /// Approved; waiting for the premium.
        Approved = "approved",
        /// Refused by underwriting.
        Rejected = "rejected",
        /// Cancelled by the platform before payment.
        Cancelled = "cancelled",
        /// Premium received; the guarantee is being issued.
        Paid = "paid",
        /// The cipher guarantee is issued.
        Issued = "issued",
        /// The restored guarantee is issued.
        Restored = "restored",
    }
);

impl State {
    /// Whether the premium has been received.
    pub fn is_paid(&self) -> bool {
        matches!(self, State::Paid | State::Issued | State::Restored)
    }

    /// States whose guaranteed amount counts against the bidder's open exposure.
    pub const OPEN_EXPOSURE: [State; 4] =
        [State::Approved, State::Paid, State::Issued, State::Restored];
}

named_enum!(
    /// Where the delivery of one notice stands (egress).
    NoticeState, "notice state" {
        /// Known, not yet attempted (or re-sent by an operator).
        Pending = "pending",
        /// Parked until the notice before it in its chain is delivered.
        Waiting = "waiting",
        /// In an HTTP call now (until its lease ends).
        Sending = "sending",
        /// Failed; waiting in a retry tier.
        Retrying = "retrying",
        Delivered = "delivered",
        /// The schedule ran out, or the notice is invalid; an operator may re-send.
        Dead = "dead",
        /// Never to be sent (the application was cancelled).
        Suppressed = "suppressed",
    }
);

impl NoticeState {
    /// Whether the notices parked behind this one may go.
    pub fn lets_successors_go(&self) -> bool {
        matches!(self, NoticeState::Delivered | NoticeState::Suppressed)
    }

    /// Whether nothing more will happen to it without an operator.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            NoticeState::Delivered | NoticeState::Suppressed | NoticeState::Dead
        )
    }

    /// The states of a notice still on its way.
    pub const OPEN: [NoticeState; 4] = [
        NoticeState::Pending,
        NoticeState::Waiting,
        NoticeState::Retrying,
        NoticeState::Sending,
    ];
}

named_enum!(
    /// What became of a premium payment.
    PaymentStatus, "payment status" {
        /// The premium of an approved application: it is paid.
        Accepted = "accepted",
        /// Waiting for a person: the amount does not match, or the
        /// application was not payable.
        Held = "held",
        /// The money must go back (cancelled, or paid twice).
        RefundNeeded = "refund_needed",
        /// A person asked for the refund of a held payment.
        RefundRequested = "refund_requested",
    }
);

/// What the underwriting rules decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Approve,
    Reject,
    /// A person (or a risk system) must decide.
    Refer,
}

/// A person's or a risk system's answer on a referred application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

/// Something that happened to an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// `baohanapply` again, with the same content as before.
    Repeat,
    /// `baohanapply` (first, or with changed content), and the rules' decision.
    Underwritten(Decision),
    /// The answer on a referred application.
    Reviewed(Verdict),
    /// `cancelapply`.
    Cancel,
    /// A payment of exactly the premium.
    Paid,
    /// A payment of another amount.
    PaidWrongAmount,
    /// The cipher guarantee was issued.
    Issue,
    /// The guarantee was restored with the project details.
    Restore,
}

/// What the worker must do besides recording the new state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Nothing beyond the state (and a domain event).
    None,
    /// Send `processnotice` with the new decision.
    NotifyDecision,
    /// Send `processnotice` again with the decision already taken.
    ResendDecision,
    /// Send `paynotice` and have the guarantee issued.
    NotifyPaidAndIssue,
    /// Keep the payment for a person to look at; tell the platform nothing.
    HoldPayment,
    /// The money must go back; tell the platform nothing.
    RefundNeeded,
    /// Send `baohannotice`.
    NotifyIssued,
    /// Send `revertnotice`.
    NotifyRestored,
    /// Send `revertnotice` again with the restored guarantee already made.
    ResendRestored,
}

/// Why an event does not apply in a state. `Display` is the Chinese message
/// given to the platform or the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("申请不存在")]
    Unknown,
    #[error("申请正在审核中，暂不能支付")]
    UnderReview,
    #[error("申请未通过审核，不能支付")]
    NotApproved,
    #[error("申请已取消")]
    Cancelled,
    #[error("申请已支付，不能修改")]
    AlreadyPaid,
    #[error("申请不在人工审核中")]
    NotReferred,
    #[error("保费尚未支付")]
    NotPaid,
    #[error("保函已出具")]
    AlreadyIssued,
    #[error("保函尚未出具")]
    NotIssued,
}

/// The lifecycle rules: what `event` does to an application in `state`.
pub fn step(state: Option<State>, event: Event) -> Result<(State, Effect), Refusal> {
    use Effect as E;
    use State as S;
    let decided = |d: Decision| match d {
        Decision::Approve => (S::Approved, E::NotifyDecision),
        Decision::Reject => (S::Rejected, E::NotifyDecision),
        Decision::Refer => (S::Referred, E::None),
    };
    let Some(state) = state else {
        return match event {
            Event::Underwritten(d) => Ok(decided(d)),
            _ => Err(Refusal::Unknown),
        };
    };
    match (state, event) {
        // Underwriting: unpaid applications may be re-underwritten or re-asked.
        (S::Referred | S::Approved | S::Rejected, Event::Underwritten(d)) => Ok(decided(d)),
        (S::Referred, Event::Repeat) => Ok((S::Referred, E::None)),
        (S::Approved | S::Rejected, Event::Repeat) => Ok((state, E::ResendDecision)),
        (S::Cancelled, Event::Underwritten(_) | Event::Repeat) => Err(Refusal::Cancelled),
        (S::Paid | S::Issued | S::Restored, Event::Underwritten(_) | Event::Repeat) => {
            Err(Refusal::AlreadyPaid)
        }

        // Review of referred applications.
        (S::Referred, Event::Reviewed(Verdict::Approve)) => Ok((S::Approved, E::NotifyDecision)),
        (S::Referred, Event::Reviewed(Verdict::Reject)) => Ok((S::Rejected, E::NotifyDecision)),
        (S::Cancelled, Event::Reviewed(_)) => Err(Refusal::Cancelled),
        (_, Event::Reviewed(_)) => Err(Refusal::NotReferred),

        // Cancellation, before payment only.
        (S::Referred | S::Approved | S::Rejected | S::Cancelled, Event::Cancel) => {
            Ok((S::Cancelled, E::None))
        }
        (S::Paid | S::Issued | S::Restored, Event::Cancel) => Err(Refusal::AlreadyPaid),

        // Payments.
        (S::Approved, Event::Paid) => Ok((S::Paid, E::NotifyPaidAndIssue)),
        (S::Approved, Event::PaidWrongAmount) => Ok((S::Approved, E::HoldPayment)),
        (S::Referred | S::Rejected, Event::Paid | Event::PaidWrongAmount) => {
            Ok((state, E::HoldPayment))
        }
        (S::Cancelled, Event::Paid | Event::PaidWrongAmount) => Ok((S::Cancelled, E::RefundNeeded)),
        // A second, different payment of a paid application is an overpayment.
        (S::Paid | S::Issued | S::Restored, Event::Paid | Event::PaidWrongAmount) => {
            Ok((state, E::RefundNeeded))
        }

        // Issuance.
        (S::Paid, Event::Issue) => Ok((S::Issued, E::NotifyIssued)),
        (S::Issued | S::Restored, Event::Issue) => Err(Refusal::AlreadyIssued),
        (S::Cancelled, Event::Issue | Event::Restore) => Err(Refusal::Cancelled),
        (S::Referred | S::Approved | S::Rejected, Event::Issue) => Err(Refusal::NotPaid),

        // Restore.
        (S::Issued, Event::Restore) => Ok((S::Restored, E::NotifyRestored)),
        (S::Restored, Event::Restore) => Ok((S::Restored, E::ResendRestored)),
        (S::Paid, Event::Restore) => Err(Refusal::NotIssued),
        (S::Referred | S::Approved | S::Rejected, Event::Restore) => Err(Refusal::NotPaid),
    }
}

/// `payapply`: what the platform may be told about paying this application.
pub fn payapply(state: Option<State>) -> Result<PremiumStatus, Refusal> {
    match state {
        None => Err(Refusal::Unknown),
        Some(State::Referred) => Err(Refusal::UnderReview),
        Some(State::Rejected) => Err(Refusal::NotApproved),
        Some(State::Cancelled) => Err(Refusal::Cancelled),
        Some(State::Approved) => Ok(PremiumStatus::Unpaid),
        Some(State::Paid | State::Issued | State::Restored) => Ok(PremiumStatus::Paid),
    }
}

/// Whether notices for an application in this state may still be sent: the
/// platform accepts none after a cancellation.
pub fn accepts_notices(state: Option<State>) -> bool {
    state != Some(State::Cancelled)
}

#[cfg(test)]
mod tests;
