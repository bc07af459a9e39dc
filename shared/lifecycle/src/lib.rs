//! The lifecycle of one application (`applyno`), as a pure state machine.
//!
//! Nothing here does I/O. Workers load the current [`State`], ask this crate
//! what an event does to it, and record the answer.

use std::fmt;
use std::str::FromStr;

use gw_protocol::PremiumStatus;

/// Where an application stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for a decision from a person or a risk system.
    Referred,
    /// Approved; waiting for the premium.
    Approved,
    /// Refused by underwriting.
    Rejected,
    /// Cancelled by the platform before payment.
    Cancelled,
    /// Premium received; the guarantee is being issued.
    Paid,
    /// The cipher guarantee is issued.
    Issued,
    /// The restored guarantee is issued.
    Restored,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Referred,
        State::Approved,
        State::Rejected,
        State::Cancelled,
        State::Paid,
        State::Issued,
        State::Restored,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            State::Referred => "referred",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Cancelled => "cancelled",
            State::Paid => "paid",
            State::Issued => "issued",
            State::Restored => "restored",
        }
    }

    /// Whether the premium has been received.
    pub fn is_paid(&self) -> bool {
        matches!(self, State::Paid | State::Issued | State::Restored)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored state name that this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown application state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for State {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, UnknownState> {
        State::ALL
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// Why an event does not apply in a state. `Display` is the Chinese message
/// given to the platform or the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("申请不存在")]
    Unknown,
    #[error("申请正在审核中，暂不能支付")]
    UnderReview,
    #[error("申请未通过审核，不能支付")]
    NotApproved,
    #[error("申请已取消")]
    Cancelled,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        assert!("nonsense".parse::<State>().is_err());
    }

    #[test]
    fn payapply_in_every_state() {
        assert_eq!(payapply(None), Err(Refusal::Unknown));
        assert_eq!(payapply(Some(State::Referred)), Err(Refusal::UnderReview));
        assert_eq!(payapply(Some(State::Rejected)), Err(Refusal::NotApproved));
        assert_eq!(payapply(Some(State::Cancelled)), Err(Refusal::Cancelled));
        assert_eq!(payapply(Some(State::Approved)), Ok(PremiumStatus::Unpaid));
        for s in [State::Paid, State::Issued, State::Restored] {
            assert_eq!(payapply(Some(s)), Ok(PremiumStatus::Paid));
        }
    }
}
