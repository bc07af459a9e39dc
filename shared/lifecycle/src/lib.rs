//! The lifecycle of one application (`applyno`), as a pure state machine.
//!
//! Nothing here does I/O. A worker loads the application's current
//! [`State`] (or `None` when it is unknown), gathers the facts an event
//! needs (the bid opening passed, the amount left, the platform accepted
//! `paynotice`), asks [`step`] what the [`Event`] does, and records the
//! answer: the next state and the [`Effect`] to carry out, or a [`Refusal`]
//! whose text is the reason the platform is given. No handler re-implements
//! a rule. ARCHITECTURE.md draws the machine.
//!
//! * Before payment: underwriting decides (re-pushes re-send the decision,
//!   changed content is underwritten afresh), a person decides referrals,
//!   the platform may cancel.
//! * Payment, issuance, restore (again, when the project changes).
//! * After issuance: invoices (no state change), refunds (退保), claims
//!   (见索即付: a payout pending, then partly or fully claimed), write-off
//!   (注销), expiry (the sweep).
//! * A cancel wins until the platform has accepted `paynotice`; after that
//!   it is refused.
//!
//! [`payapply`] and [`admit`] are the rules ingress answers from at once.

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
        /// Cancelled by the platform (before it accepted `paynotice`); an
        /// issued guarantee is void.
        Cancelled = "cancelled",
        /// Premium received; the guarantee is being issued.
        Paid = "paid",
        /// The cipher guarantee is issued.
        Issued = "issued",
        /// The restored guarantee is issued.
        Restored = "restored",
        /// A claim is approved and its payout is not yet confirmed.
        Claiming = "claiming",
        /// Claims were paid, for less than the guaranteed amount.
        PartlyClaimed = "partly_claimed",
        /// Claims paid the whole guaranteed amount.
        Claimed = "claimed",
        /// The premium was refunded (退保); the guarantee is void.
        Refunded = "refunded",
        /// Written off on request (注销).
        WrittenOff = "written_off",
        /// Its validity ended (the sweep wrote it off).
        Expired = "expired",
    }
);

impl State {
    /// Whether the premium has been received.
    pub fn is_paid(&self) -> bool {
        !matches!(
            self,
            State::Referred | State::Approved | State::Rejected | State::Cancelled
        )
    }

    /// Whether a guarantee has been issued (and not voided by a cancel).
    pub fn has_guarantee(&self) -> bool {
        self.is_paid() && *self != State::Paid
    }

    /// States whose guaranteed amount counts against the bidder's open exposure.
    pub const OPEN_EXPOSURE: [State; 6] = [
        State::Approved,
        State::Paid,
        State::Issued,
        State::Restored,
        State::Claiming,
        State::PartlyClaimed,
    ];
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
    /// The states of a notice that let the notices parked behind it go.
    pub const LETTING_SUCCESSORS_GO: [NoticeState; 2] =
        [NoticeState::Delivered, NoticeState::Suppressed];

    /// Whether the notices parked behind this one may go.
    pub fn lets_successors_go(&self) -> bool {
        Self::LETTING_SUCCESSORS_GO.contains(self)
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

named_enum!(
    /// What became of an invoice request.
    InvoiceStatus, "invoice status" {
        /// Waiting for the paper invoice to be issued, or for the core system.
        Pending = "pending",
        Issued = "issued",
        Refused = "refused",
    }
);

named_enum!(
    /// What became of a claim.
    ClaimStatus, "claim status" {
        /// Approved; the bank has not confirmed the payout yet.
        PayoutPending = "payout_pending",
        Paid = "paid",
        Refused = "refused",
    }
);

named_enum!(
    /// What became of a refund, a write-off or a cancel request.
    Resolution, "resolution" {
        /// Not decided yet (a cancel request waiting for the payment worker).
        Pending = "pending",
        Granted = "granted",
        Refused = "refused",
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

/// Whether the refund rule of the standard allows a `quitapply`: before
/// bid opening (either scene), or after it when the system reports a failed
/// tender (scene 2, 流标). See [`quit_rule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuitRule {
    Allowed,
    /// After bid opening, asked by the bidder (scene 1).
    AfterOpening,
}

/// The refund rule: `opened` is whether bid opening has passed (a guarantee
/// not yet restored has not opened), `by_system` whether scene is 2.
pub fn quit_rule(opened: bool, by_system: bool) -> QuitRule {
    if !opened || by_system {
        QuitRule::Allowed
    } else {
        QuitRule::AfterOpening
    }
}

/// After a payout is confirmed: what remains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Payout {
    /// Other approved claims still wait for their payout.
    MorePending,
    /// Nothing pending; less than the guaranteed amount paid in all.
    Partly,
    /// Nothing pending; the whole guaranteed amount paid.
    Fully,
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
    /// `cancelapply`; whether the platform had already accepted `paynotice`.
    Cancel { paynotice_accepted: bool },
    /// A payment of exactly the premium.
    Paid,
    /// A payment of another amount.
    PaidWrongAmount,
    /// The cipher guarantee was issued.
    Issue,
    /// `revertapply`; whether the project details differ from the last restore.
    Restore { changed: bool },
    /// `invoiceapply`.
    Invoice,
    /// `quitapply`, and what the refund rule says of it.
    Quit(QuitRule),
    /// `claimapply`; whether paid-so-far, pending and this claim stay within
    /// the guaranteed amount.
    Claim { within_amount: bool },
    /// The bank confirmed a claim's payout.
    PayoutConfirmed(Payout),
    /// `logoutapply`.
    WriteOff,
    /// The validity ended (the expiry sweep).
    Expire,
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
    /// A cancel after payment (the platform had not accepted `paynotice`):
    /// suppress the notices not yet delivered, void the guarantee if one was
    /// issued, refund the premium; tell the platform nothing.
    VoidAndRefund,
    /// Send `baohannotice`.
    NotifyIssued,
    /// Make (or make anew) the restored guarantee and send `revertnotice`.
    NotifyRestored,
    /// Send `revertnotice` again with the restored guarantee already made.
    ResendRestored,
    /// Issue the invoice (if the request itself checks out) and send `invoicenotice`.
    Invoice,
    /// Refund the premium and send `quitnotice`.
    Refund,
    /// Ask the bank to pay the claim; `claimnotice` once the payout is confirmed.
    RequestPayout,
    /// Send `claimnotice` for the confirmed payout.
    NotifyPayout,
    /// Send `logoutnotice`.
    NotifyWrittenOff,
    /// The guarantee ended with its validity (an event, no notice).
    Expired,
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
    #[error("保函编号与申请不匹配")]
    BaohanMismatch,
    #[error("保函已退保")]
    Refunded,
    #[error("保函已注销")]
    WrittenOff,
    #[error("保函已过期")]
    Expired,
    #[error("保函担保金额已全部赔付")]
    Claimed,
    #[error("保函有理赔正在处理，暂不能办理")]
    ClaimInProgress,
    #[error("保函已发生理赔，不能办理")]
    ClaimPaid,
    #[error("开标后仅流标可退保")]
    QuitAfterOpening,
    #[error("累计赔付金额超过担保金额")]
    ExceedsAmount,
    #[error("没有待确认的赔付")]
    NoPayoutPending,
}

/// The refusal of an event that needs a live guarantee, in a state that
/// has none (or no longer has one).
fn no_guarantee(state: State) -> Refusal {
    match state {
        State::Referred | State::Approved | State::Rejected => Refusal::NotPaid,
        State::Cancelled => Refusal::Cancelled,
        State::Paid => Refusal::NotIssued,
        State::Refunded => Refusal::Refunded,
        State::WrittenOff => Refusal::WrittenOff,
        State::Expired => Refusal::Expired,
        State::Claimed => Refusal::Claimed,
        State::Claiming => Refusal::ClaimInProgress,
        State::Issued | State::Restored | State::PartlyClaimed => Refusal::AlreadyIssued,
    }
}

/// The lifecycle rules: what `event` does to an application in `state`.
pub fn step(state: Option<State>, event: Event) -> Result<(State, Effect), Refusal> {
    let Some(state) = state else {
        return match event {
            Event::Underwritten(d) => Ok(decided(d)),
            _ => Err(Refusal::Unknown),
        };
    };
    match event {
        Event::Repeat | Event::Underwritten(_) | Event::Reviewed(_) => underwriting(state, event),
        Event::Cancel { paynotice_accepted } => cancel(state, paynotice_accepted),
        Event::Paid | Event::PaidWrongAmount => payment(state, event == Event::Paid),
        Event::Issue | Event::Restore { .. } => issuance(state, event),
        Event::Invoice | Event::Quit(_) | Event::WriteOff | Event::Expire => after(state, event),
        Event::Claim { .. } | Event::PayoutConfirmed(_) => claims(state, event),
    }
}

fn decided(d: Decision) -> (State, Effect) {
    match d {
        Decision::Approve => (State::Approved, Effect::NotifyDecision),
        Decision::Reject => (State::Rejected, Effect::NotifyDecision),
        Decision::Refer => (State::Referred, Effect::None),
    }
}

/// Underwriting: unpaid applications may be re-underwritten or re-asked.
fn underwriting(state: State, event: Event) -> Result<(State, Effect), Refusal> {
    use State as S;
    match (state, event) {
        (S::Referred | S::Approved | S::Rejected, Event::Underwritten(d)) => Ok(decided(d)),
        (S::Referred, Event::Repeat) => Ok((S::Referred, Effect::None)),
        (S::Approved | S::Rejected, Event::Repeat) => Ok((state, Effect::ResendDecision)),
        (S::Referred, Event::Reviewed(Verdict::Approve)) => {
            Ok((S::Approved, Effect::NotifyDecision))
        }
        (S::Referred, Event::Reviewed(Verdict::Reject)) => {
            Ok((S::Rejected, Effect::NotifyDecision))
        }
        (S::Cancelled, _) => Err(Refusal::Cancelled),
        (_, Event::Reviewed(_)) => Err(Refusal::NotReferred),
        _ => Err(Refusal::AlreadyPaid),
    }
}

/// A cancel: before payment always; after payment until the platform
/// accepted `paynotice`.
fn cancel(state: State, paynotice_accepted: bool) -> Result<(State, Effect), Refusal> {
    use State as S;
    match state {
        S::Referred | S::Approved | S::Rejected | S::Cancelled => Ok((S::Cancelled, Effect::None)),
        S::Paid | S::Issued | S::Restored if !paynotice_accepted => {
            Ok((S::Cancelled, Effect::VoidAndRefund))
        }
        _ => Err(Refusal::AlreadyPaid),
    }
}

/// A payment: the premium of an approved application, or money to hold
/// or give back.
fn payment(state: State, exact: bool) -> Result<(State, Effect), Refusal> {
    use State as S;
    Ok(match state {
        S::Approved if exact => (S::Paid, Effect::NotifyPaidAndIssue),
        S::Approved | S::Referred | S::Rejected => (state, Effect::HoldPayment),
        // Cancelled, or a second payment of a paid application.
        _ => (state, Effect::RefundNeeded),
    })
}

/// Issuing the cipher guarantee, and restoring it (again, when the
/// project details change before opening).
fn issuance(state: State, event: Event) -> Result<(State, Effect), Refusal> {
    use State as S;
    match (state, event) {
        (S::Paid, Event::Issue) => Ok((S::Issued, Effect::NotifyIssued)),
        (_, Event::Issue) if state.has_guarantee() => Err(Refusal::AlreadyIssued),
        (S::Issued, Event::Restore { .. }) => Ok((S::Restored, Effect::NotifyRestored)),
        (S::Restored, Event::Restore { changed: true }) => {
            Ok((S::Restored, Effect::NotifyRestored))
        }
        (S::Restored, Event::Restore { changed: false }) => {
            Ok((S::Restored, Effect::ResendRestored))
        }
        (S::PartlyClaimed, _) => Err(Refusal::ClaimPaid),
        _ => Err(no_guarantee(state)),
    }
}

/// Invoices, refunds, write-off and expiry.
fn after(state: State, event: Event) -> Result<(State, Effect), Refusal> {
    use State as S;
    match (state, event) {
        // An invoice of the premium: any time it was paid and kept.
        (S::Issued | S::Restored | S::Claiming | S::PartlyClaimed | S::Claimed, Event::Invoice)
        | (S::WrittenOff | S::Expired, Event::Invoice) => Ok((state, Effect::Invoice)),
        (S::Issued | S::Restored, Event::Quit(QuitRule::Allowed)) => {
            Ok((S::Refunded, Effect::Refund))
        }
        (S::Issued | S::Restored, Event::Quit(QuitRule::AfterOpening)) => {
            Err(Refusal::QuitAfterOpening)
        }
        (S::PartlyClaimed | S::Claimed, Event::Quit(_)) => Err(Refusal::ClaimPaid),
        (S::Issued | S::Restored | S::PartlyClaimed | S::Claimed, Event::WriteOff) => {
            Ok((S::WrittenOff, Effect::NotifyWrittenOff))
        }
        (S::Issued | S::Restored | S::PartlyClaimed, Event::Expire) => {
            Ok((S::Expired, Effect::Expired))
        }
        _ => Err(no_guarantee(state)),
    }
}

/// Claims (见索即付): approved while the amount lasts, each payout
/// confirmed by the bank.
fn claims(state: State, event: Event) -> Result<(State, Effect), Refusal> {
    use State as S;
    match (state, event) {
        (
            S::Issued | S::Restored | S::Claiming | S::PartlyClaimed,
            Event::Claim { within_amount },
        ) => {
            if within_amount {
                Ok((S::Claiming, Effect::RequestPayout))
            } else {
                Err(Refusal::ExceedsAmount)
            }
        }
        (S::Claiming, Event::PayoutConfirmed(p)) => Ok((
            match p {
                Payout::MorePending => S::Claiming,
                Payout::Partly => S::PartlyClaimed,
                Payout::Fully => S::Claimed,
            },
            Effect::NotifyPayout,
        )),
        (_, Event::PayoutConfirmed(_)) => Err(Refusal::NoPayoutPending),
        _ => Err(no_guarantee(state)),
    }
}

/// `payapply`: what the platform may be told about paying this application.
/// A cancel the platform asked for holds at once, before the worker applies it.
pub fn payapply(state: Option<State>, cancel_requested: bool) -> Result<PremiumStatus, Refusal> {
    match state {
        None => Err(Refusal::Unknown),
        Some(State::Cancelled) => Err(Refusal::Cancelled),
        Some(s) if s.is_paid() => Ok(PremiumStatus::Paid),
        Some(_) if cancel_requested => Err(Refusal::Cancelled),
        Some(State::Referred) => Err(Refusal::UnderReview),
        Some(State::Rejected) => Err(Refusal::NotApproved),
        Some(_) => Ok(PremiumStatus::Unpaid),
    }
}

/// Whether a payment may be taken for an application (the cashier): an
/// approved application without a pending cancel.
pub fn takes_payment(state: State, cancel_requested: bool) -> bool {
    state == State::Approved && !cancel_requested
}

/// Which requests ingress refuses at once, before queueing them: those
/// the lifecycle row already says cannot be carried out. `revertapply` has
/// no result field in its notice, so every refusal of a restore is
/// synchronous; the four after-issuance requests are refused here only when
/// there is no guarantee to speak of (unknown, not issued, cancelled, or not
/// this application's), and otherwise answered by their notice.
pub fn admit(
    request: gw_protocol::Interface,
    state: Option<State>,
    baohanno_matches: bool,
) -> Result<(), Refusal> {
    use gw_protocol::Interface as I;
    if !matches!(
        request,
        I::RevertApply | I::InvoiceApply | I::QuitApply | I::ClaimApply | I::LogoutApply
    ) {
        return Ok(());
    }
    let state = state.ok_or(Refusal::Unknown)?;
    if !state.has_guarantee() {
        return Err(no_guarantee(state));
    }
    if !baohanno_matches {
        return Err(Refusal::BaohanMismatch);
    }
    if request == I::RevertApply {
        step(Some(state), Event::Restore { changed: true })?;
    }
    Ok(())
}

/// Whether notices for an application in this state may still be sent: the
/// platform accepts none after a cancellation.
pub fn accepts_notices(state: Option<State>) -> bool {
    state != Some(State::Cancelled)
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
