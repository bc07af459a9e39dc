//! Every (state, event) pair of the lifecycle, each its own test, including
//! the refused ones.

use super::*;

use Decision::{Approve as DA, Refer as DF, Reject as DR};
use Effect as E;
use Event as Ev;
use Refusal as R;
use State as S;
use Verdict::{Approve as VA, Reject as VR};

macro_rules! transitions {
    ($($name:ident: $from:expr, $event:expr => $expected:expr;)+) => {
        $(
            #[test]
            fn $name() {
                assert_eq!(step($from, $event), $expected);
            }
        )+

        /// The table above covers every pair exactly once.
        #[test]
        fn the_table_covers_every_state_and_event() {
            let pairs: Vec<(Option<State>, Event)> = vec![$(($from, $event)),+];
            let states: Vec<Option<State>> = std::iter::once(None).chain(State::ALL.iter().copied().map(Some)).collect();
            let events = [
                Ev::Repeat, Ev::Underwritten(DA), Ev::Underwritten(DR), Ev::Underwritten(DF),
                Ev::Reviewed(VA), Ev::Reviewed(VR), Ev::Cancel, Ev::Paid, Ev::PaidWrongAmount,
                Ev::Issue, Ev::Restore,
            ];
            for s in &states {
                for e in &events {
                    let n = pairs.iter().filter(|p| p.0 == *s && p.1 == *e).count();
                    assert_eq!(n, 1, "{s:?} + {e:?} is listed {n} times");
                }
            }
            assert_eq!(pairs.len(), states.len() * events.len());
        }
    };
}

transitions! {
    // An unknown application: only underwriting creates one.
    none_repeat: None, Ev::Repeat => Err(R::Unknown);
    none_approve: None, Ev::Underwritten(DA) => Ok((S::Approved, E::NotifyDecision));
    none_reject: None, Ev::Underwritten(DR) => Ok((S::Rejected, E::NotifyDecision));
    none_refer: None, Ev::Underwritten(DF) => Ok((S::Referred, E::None));
    none_reviewed_approve: None, Ev::Reviewed(VA) => Err(R::Unknown);
    none_reviewed_reject: None, Ev::Reviewed(VR) => Err(R::Unknown);
    none_cancel: None, Ev::Cancel => Err(R::Unknown);
    none_paid: None, Ev::Paid => Err(R::Unknown);
    none_paid_wrong: None, Ev::PaidWrongAmount => Err(R::Unknown);
    none_issue: None, Ev::Issue => Err(R::Unknown);
    none_restore: None, Ev::Restore => Err(R::Unknown);

    // Referred: waiting for a person or a risk system.
    referred_repeat: Some(S::Referred), Ev::Repeat => Ok((S::Referred, E::None));
    referred_changed_approve: Some(S::Referred), Ev::Underwritten(DA) => Ok((S::Approved, E::NotifyDecision));
    referred_changed_reject: Some(S::Referred), Ev::Underwritten(DR) => Ok((S::Rejected, E::NotifyDecision));
    referred_changed_refer: Some(S::Referred), Ev::Underwritten(DF) => Ok((S::Referred, E::None));
    referred_reviewed_approve: Some(S::Referred), Ev::Reviewed(VA) => Ok((S::Approved, E::NotifyDecision));
    referred_reviewed_reject: Some(S::Referred), Ev::Reviewed(VR) => Ok((S::Rejected, E::NotifyDecision));
    referred_cancel: Some(S::Referred), Ev::Cancel => Ok((S::Cancelled, E::None));
    referred_paid: Some(S::Referred), Ev::Paid => Ok((S::Referred, E::HoldPayment));
    referred_paid_wrong: Some(S::Referred), Ev::PaidWrongAmount => Ok((S::Referred, E::HoldPayment));
    referred_issue: Some(S::Referred), Ev::Issue => Err(R::NotPaid);
    referred_restore: Some(S::Referred), Ev::Restore => Err(R::NotPaid);

    // Approved: waiting for the premium.
    approved_repeat: Some(S::Approved), Ev::Repeat => Ok((S::Approved, E::ResendDecision));
    approved_changed_approve: Some(S::Approved), Ev::Underwritten(DA) => Ok((S::Approved, E::NotifyDecision));
    approved_changed_reject: Some(S::Approved), Ev::Underwritten(DR) => Ok((S::Rejected, E::NotifyDecision));
    approved_changed_refer: Some(S::Approved), Ev::Underwritten(DF) => Ok((S::Referred, E::None));
    approved_reviewed_approve: Some(S::Approved), Ev::Reviewed(VA) => Err(R::NotReferred);
    approved_reviewed_reject: Some(S::Approved), Ev::Reviewed(VR) => Err(R::NotReferred);
    approved_cancel: Some(S::Approved), Ev::Cancel => Ok((S::Cancelled, E::None));
    approved_paid: Some(S::Approved), Ev::Paid => Ok((S::Paid, E::NotifyPaidAndIssue));
    approved_paid_wrong: Some(S::Approved), Ev::PaidWrongAmount => Ok((S::Approved, E::HoldPayment));
    approved_issue: Some(S::Approved), Ev::Issue => Err(R::NotPaid);
    approved_restore: Some(S::Approved), Ev::Restore => Err(R::NotPaid);

    // Rejected.
    rejected_repeat: Some(S::Rejected), Ev::Repeat => Ok((S::Rejected, E::ResendDecision));
    rejected_changed_approve: Some(S::Rejected), Ev::Underwritten(DA) => Ok((S::Approved, E::NotifyDecision));
    rejected_changed_reject: Some(S::Rejected), Ev::Underwritten(DR) => Ok((S::Rejected, E::NotifyDecision));
    rejected_changed_refer: Some(S::Rejected), Ev::Underwritten(DF) => Ok((S::Referred, E::None));
    rejected_reviewed_approve: Some(S::Rejected), Ev::Reviewed(VA) => Err(R::NotReferred);
    rejected_reviewed_reject: Some(S::Rejected), Ev::Reviewed(VR) => Err(R::NotReferred);
    rejected_cancel: Some(S::Rejected), Ev::Cancel => Ok((S::Cancelled, E::None));
    rejected_paid: Some(S::Rejected), Ev::Paid => Ok((S::Rejected, E::HoldPayment));
    rejected_paid_wrong: Some(S::Rejected), Ev::PaidWrongAmount => Ok((S::Rejected, E::HoldPayment));
    rejected_issue: Some(S::Rejected), Ev::Issue => Err(R::NotPaid);
    rejected_restore: Some(S::Rejected), Ev::Restore => Err(R::NotPaid);

    // Cancelled: no notice ever again; money that arrives goes back.
    cancelled_repeat: Some(S::Cancelled), Ev::Repeat => Err(R::Cancelled);
    cancelled_apply_approve: Some(S::Cancelled), Ev::Underwritten(DA) => Err(R::Cancelled);
    cancelled_apply_reject: Some(S::Cancelled), Ev::Underwritten(DR) => Err(R::Cancelled);
    cancelled_apply_refer: Some(S::Cancelled), Ev::Underwritten(DF) => Err(R::Cancelled);
    cancelled_reviewed_approve: Some(S::Cancelled), Ev::Reviewed(VA) => Err(R::Cancelled);
    cancelled_reviewed_reject: Some(S::Cancelled), Ev::Reviewed(VR) => Err(R::Cancelled);
    cancelled_cancel_again: Some(S::Cancelled), Ev::Cancel => Ok((S::Cancelled, E::None));
    cancelled_paid: Some(S::Cancelled), Ev::Paid => Ok((S::Cancelled, E::RefundNeeded));
    cancelled_paid_wrong: Some(S::Cancelled), Ev::PaidWrongAmount => Ok((S::Cancelled, E::RefundNeeded));
    cancelled_issue: Some(S::Cancelled), Ev::Issue => Err(R::Cancelled);
    cancelled_restore: Some(S::Cancelled), Ev::Restore => Err(R::Cancelled);

    // Paid: immutable; the guarantee is being issued.
    paid_repeat: Some(S::Paid), Ev::Repeat => Err(R::AlreadyPaid);
    paid_apply_approve: Some(S::Paid), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    paid_apply_reject: Some(S::Paid), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    paid_apply_refer: Some(S::Paid), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    paid_reviewed_approve: Some(S::Paid), Ev::Reviewed(VA) => Err(R::NotReferred);
    paid_reviewed_reject: Some(S::Paid), Ev::Reviewed(VR) => Err(R::NotReferred);
    paid_cancel: Some(S::Paid), Ev::Cancel => Err(R::AlreadyPaid);
    paid_paid_again: Some(S::Paid), Ev::Paid => Ok((S::Paid, E::RefundNeeded));
    paid_paid_wrong: Some(S::Paid), Ev::PaidWrongAmount => Ok((S::Paid, E::RefundNeeded));
    paid_issue: Some(S::Paid), Ev::Issue => Ok((S::Issued, E::NotifyIssued));
    paid_restore: Some(S::Paid), Ev::Restore => Err(R::NotIssued);

    // Issued.
    issued_repeat: Some(S::Issued), Ev::Repeat => Err(R::AlreadyPaid);
    issued_apply_approve: Some(S::Issued), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    issued_apply_reject: Some(S::Issued), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    issued_apply_refer: Some(S::Issued), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    issued_reviewed_approve: Some(S::Issued), Ev::Reviewed(VA) => Err(R::NotReferred);
    issued_reviewed_reject: Some(S::Issued), Ev::Reviewed(VR) => Err(R::NotReferred);
    issued_cancel: Some(S::Issued), Ev::Cancel => Err(R::AlreadyPaid);
    issued_paid: Some(S::Issued), Ev::Paid => Ok((S::Issued, E::RefundNeeded));
    issued_paid_wrong: Some(S::Issued), Ev::PaidWrongAmount => Ok((S::Issued, E::RefundNeeded));
    issued_issue_again: Some(S::Issued), Ev::Issue => Err(R::AlreadyIssued);
    issued_restore: Some(S::Issued), Ev::Restore => Ok((S::Restored, E::NotifyRestored));

    // Restored.
    restored_repeat: Some(S::Restored), Ev::Repeat => Err(R::AlreadyPaid);
    restored_apply_approve: Some(S::Restored), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    restored_apply_reject: Some(S::Restored), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    restored_apply_refer: Some(S::Restored), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    restored_reviewed_approve: Some(S::Restored), Ev::Reviewed(VA) => Err(R::NotReferred);
    restored_reviewed_reject: Some(S::Restored), Ev::Reviewed(VR) => Err(R::NotReferred);
    restored_cancel: Some(S::Restored), Ev::Cancel => Err(R::AlreadyPaid);
    restored_paid: Some(S::Restored), Ev::Paid => Ok((S::Restored, E::RefundNeeded));
    restored_paid_wrong: Some(S::Restored), Ev::PaidWrongAmount => Ok((S::Restored, E::RefundNeeded));
    restored_issue: Some(S::Restored), Ev::Issue => Err(R::AlreadyIssued);
    restored_restore_again: Some(S::Restored), Ev::Restore => Ok((S::Restored, E::ResendRestored));
}

#[test]
fn states_round_trip_through_their_names() {
    for s in State::ALL {
        assert_eq!(s.as_str().parse::<State>(), Ok(s));
    }
    assert!("nonsense".parse::<State>().is_err());
}

#[test]
fn payapply_in_every_state() {
    assert_eq!(payapply(None), Err(R::Unknown));
    assert_eq!(payapply(Some(S::Referred)), Err(R::UnderReview));
    assert_eq!(payapply(Some(S::Rejected)), Err(R::NotApproved));
    assert_eq!(payapply(Some(S::Cancelled)), Err(R::Cancelled));
    assert_eq!(payapply(Some(S::Approved)), Ok(PremiumStatus::Unpaid));
    for s in [S::Paid, S::Issued, S::Restored] {
        assert_eq!(payapply(Some(s)), Ok(PremiumStatus::Paid));
    }
}

#[test]
fn only_a_cancelled_application_refuses_notices() {
    assert!(!accepts_notices(Some(S::Cancelled)));
    assert!(accepts_notices(None));
    for s in State::ALL.into_iter().filter(|s| *s != S::Cancelled) {
        assert!(accepts_notices(Some(s)), "{s}");
    }
}

#[test]
fn refusals_read_in_chinese() {
    assert_eq!(R::Cancelled.to_string(), "申请已取消");
    assert_eq!(R::AlreadyPaid.to_string(), "申请已支付，不能修改");
}
