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
                Ev::Repeat,
                Ev::Underwritten(DA),
                Ev::Underwritten(DR),
                Ev::Underwritten(DF),
                Ev::Reviewed(VA),
                Ev::Reviewed(VR),
                Ev::Cancel { paynotice_accepted: false },
                Ev::Cancel { paynotice_accepted: true },
                Ev::Paid,
                Ev::PaidWrongAmount,
                Ev::Issue,
                Ev::Restore { changed: false },
                Ev::Restore { changed: true },
                Ev::Invoice,
                Ev::Quit(QuitRule::Allowed),
                Ev::Quit(QuitRule::AfterOpening),
                Ev::Claim { within_amount: true },
                Ev::Claim { within_amount: false },
                Ev::PayoutConfirmed(Payout::MorePending),
                Ev::PayoutConfirmed(Payout::Partly),
                Ev::PayoutConfirmed(Payout::Fully),
                Ev::WriteOff,
                Ev::Expire,
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
    // None.
    none_repeat: None, Ev::Repeat => Err(R::Unknown);
    none_u_approve: None, Ev::Underwritten(DA) => Ok((S::Approved, E::NotifyDecision));
    none_u_reject: None, Ev::Underwritten(DR) => Ok((S::Rejected, E::NotifyDecision));
    none_u_refer: None, Ev::Underwritten(DF) => Ok((S::Referred, E::None));
    none_reviewed_approve: None, Ev::Reviewed(VA) => Err(R::Unknown);
    none_reviewed_reject: None, Ev::Reviewed(VR) => Err(R::Unknown);
    none_cancel: None, Ev::Cancel { paynotice_accepted: false } => Err(R::Unknown);
    none_cancel_after_paynotice: None, Ev::Cancel { paynotice_accepted: true } => Err(R::Unknown);
    none_paid: None, Ev::Paid => Err(R::Unknown);
    none_paid_wrong: None, Ev::PaidWrongAmount => Err(R::Unknown);
    none_issue: None, Ev::Issue => Err(R::Unknown);
    none_restore_same: None, Ev::Restore { changed: false } => Err(R::Unknown);
    none_restore_changed: None, Ev::Restore { changed: true } => Err(R::Unknown);
    none_invoice: None, Ev::Invoice => Err(R::Unknown);
    none_quit: None, Ev::Quit(QuitRule::Allowed) => Err(R::Unknown);
    none_quit_after_opening: None, Ev::Quit(QuitRule::AfterOpening) => Err(R::Unknown);
    none_claim: None, Ev::Claim { within_amount: true } => Err(R::Unknown);
    none_claim_over: None, Ev::Claim { within_amount: false } => Err(R::Unknown);
    none_payout_more: None, Ev::PayoutConfirmed(Payout::MorePending) => Err(R::Unknown);
    none_payout_partly: None, Ev::PayoutConfirmed(Payout::Partly) => Err(R::Unknown);
    none_payout_fully: None, Ev::PayoutConfirmed(Payout::Fully) => Err(R::Unknown);
    none_write_off: None, Ev::WriteOff => Err(R::Unknown);
    none_expire: None, Ev::Expire => Err(R::Unknown);
    // Referred.
    referred_repeat: Some(S::Referred), Ev::Repeat => Ok((S::Referred, E::None));
    referred_u_approve: Some(S::Referred), Ev::Underwritten(DA) => Ok((S::Approved, E::NotifyDecision));
    referred_u_reject: Some(S::Referred), Ev::Underwritten(DR) => Ok((S::Rejected, E::NotifyDecision));
    referred_u_refer: Some(S::Referred), Ev::Underwritten(DF) => Ok((S::Referred, E::None));
    referred_reviewed_approve: Some(S::Referred), Ev::Reviewed(VA) => Ok((S::Approved, E::NotifyDecision));
    referred_reviewed_reject: Some(S::Referred), Ev::Reviewed(VR) => Ok((S::Rejected, E::NotifyDecision));
    referred_cancel: Some(S::Referred), Ev::Cancel { paynotice_accepted: false } => Ok((S::Cancelled, E::None));
    referred_cancel_after_paynotice: Some(S::Referred), Ev::Cancel { paynotice_accepted: true } => Ok((S::Cancelled, E::None));
    referred_paid: Some(S::Referred), Ev::Paid => Ok((S::Referred, E::HoldPayment));
    referred_paid_wrong: Some(S::Referred), Ev::PaidWrongAmount => Ok((S::Referred, E::HoldPayment));
    referred_issue: Some(S::Referred), Ev::Issue => Err(R::NotPaid);
    referred_restore_same: Some(S::Referred), Ev::Restore { changed: false } => Err(R::NotPaid);
    referred_restore_changed: Some(S::Referred), Ev::Restore { changed: true } => Err(R::NotPaid);
    referred_invoice: Some(S::Referred), Ev::Invoice => Err(R::NotPaid);
    referred_quit: Some(S::Referred), Ev::Quit(QuitRule::Allowed) => Err(R::NotPaid);
    referred_quit_after_opening: Some(S::Referred), Ev::Quit(QuitRule::AfterOpening) => Err(R::NotPaid);
    referred_claim: Some(S::Referred), Ev::Claim { within_amount: true } => Err(R::NotPaid);
    referred_claim_over: Some(S::Referred), Ev::Claim { within_amount: false } => Err(R::NotPaid);
    referred_payout_more: Some(S::Referred), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    referred_payout_partly: Some(S::Referred), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    referred_payout_fully: Some(S::Referred), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    referred_write_off: Some(S::Referred), Ev::WriteOff => Err(R::NotPaid);
    referred_expire: Some(S::Referred), Ev::Expire => Err(R::NotPaid);
    // Approved.
    approved_repeat: Some(S::Approved), Ev::Repeat => Ok((S::Approved, E::ResendDecision));
    approved_u_approve: Some(S::Approved), Ev::Underwritten(DA) => Ok((S::Approved, E::NotifyDecision));
    approved_u_reject: Some(S::Approved), Ev::Underwritten(DR) => Ok((S::Rejected, E::NotifyDecision));
    approved_u_refer: Some(S::Approved), Ev::Underwritten(DF) => Ok((S::Referred, E::None));
    approved_reviewed_approve: Some(S::Approved), Ev::Reviewed(VA) => Err(R::NotReferred);
    approved_reviewed_reject: Some(S::Approved), Ev::Reviewed(VR) => Err(R::NotReferred);
    approved_cancel: Some(S::Approved), Ev::Cancel { paynotice_accepted: false } => Ok((S::Cancelled, E::None));
    approved_cancel_after_paynotice: Some(S::Approved), Ev::Cancel { paynotice_accepted: true } => Ok((S::Cancelled, E::None));
    approved_paid: Some(S::Approved), Ev::Paid => Ok((S::Paid, E::NotifyPaidAndIssue));
    approved_paid_wrong: Some(S::Approved), Ev::PaidWrongAmount => Ok((S::Approved, E::HoldPayment));
    approved_issue: Some(S::Approved), Ev::Issue => Err(R::NotPaid);
    approved_restore_same: Some(S::Approved), Ev::Restore { changed: false } => Err(R::NotPaid);
    approved_restore_changed: Some(S::Approved), Ev::Restore { changed: true } => Err(R::NotPaid);
    approved_invoice: Some(S::Approved), Ev::Invoice => Err(R::NotPaid);
    approved_quit: Some(S::Approved), Ev::Quit(QuitRule::Allowed) => Err(R::NotPaid);
    approved_quit_after_opening: Some(S::Approved), Ev::Quit(QuitRule::AfterOpening) => Err(R::NotPaid);
    approved_claim: Some(S::Approved), Ev::Claim { within_amount: true } => Err(R::NotPaid);
    approved_claim_over: Some(S::Approved), Ev::Claim { within_amount: false } => Err(R::NotPaid);
    approved_payout_more: Some(S::Approved), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    approved_payout_partly: Some(S::Approved), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    approved_payout_fully: Some(S::Approved), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    approved_write_off: Some(S::Approved), Ev::WriteOff => Err(R::NotPaid);
    approved_expire: Some(S::Approved), Ev::Expire => Err(R::NotPaid);
    // Rejected.
    rejected_repeat: Some(S::Rejected), Ev::Repeat => Ok((S::Rejected, E::ResendDecision));
    rejected_u_approve: Some(S::Rejected), Ev::Underwritten(DA) => Ok((S::Approved, E::NotifyDecision));
    rejected_u_reject: Some(S::Rejected), Ev::Underwritten(DR) => Ok((S::Rejected, E::NotifyDecision));
    rejected_u_refer: Some(S::Rejected), Ev::Underwritten(DF) => Ok((S::Referred, E::None));
    rejected_reviewed_approve: Some(S::Rejected), Ev::Reviewed(VA) => Err(R::NotReferred);
    rejected_reviewed_reject: Some(S::Rejected), Ev::Reviewed(VR) => Err(R::NotReferred);
    rejected_cancel: Some(S::Rejected), Ev::Cancel { paynotice_accepted: false } => Ok((S::Cancelled, E::None));
    rejected_cancel_after_paynotice: Some(S::Rejected), Ev::Cancel { paynotice_accepted: true } => Ok((S::Cancelled, E::None));
    rejected_paid: Some(S::Rejected), Ev::Paid => Ok((S::Rejected, E::HoldPayment));
    rejected_paid_wrong: Some(S::Rejected), Ev::PaidWrongAmount => Ok((S::Rejected, E::HoldPayment));
    rejected_issue: Some(S::Rejected), Ev::Issue => Err(R::NotPaid);
    rejected_restore_same: Some(S::Rejected), Ev::Restore { changed: false } => Err(R::NotPaid);
    rejected_restore_changed: Some(S::Rejected), Ev::Restore { changed: true } => Err(R::NotPaid);
    rejected_invoice: Some(S::Rejected), Ev::Invoice => Err(R::NotPaid);
    rejected_quit: Some(S::Rejected), Ev::Quit(QuitRule::Allowed) => Err(R::NotPaid);
    rejected_quit_after_opening: Some(S::Rejected), Ev::Quit(QuitRule::AfterOpening) => Err(R::NotPaid);
    rejected_claim: Some(S::Rejected), Ev::Claim { within_amount: true } => Err(R::NotPaid);
    rejected_claim_over: Some(S::Rejected), Ev::Claim { within_amount: false } => Err(R::NotPaid);
    rejected_payout_more: Some(S::Rejected), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    rejected_payout_partly: Some(S::Rejected), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    rejected_payout_fully: Some(S::Rejected), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    rejected_write_off: Some(S::Rejected), Ev::WriteOff => Err(R::NotPaid);
    rejected_expire: Some(S::Rejected), Ev::Expire => Err(R::NotPaid);
    // Cancelled.
    cancelled_repeat: Some(S::Cancelled), Ev::Repeat => Err(R::Cancelled);
    cancelled_u_approve: Some(S::Cancelled), Ev::Underwritten(DA) => Err(R::Cancelled);
    cancelled_u_reject: Some(S::Cancelled), Ev::Underwritten(DR) => Err(R::Cancelled);
    cancelled_u_refer: Some(S::Cancelled), Ev::Underwritten(DF) => Err(R::Cancelled);
    cancelled_reviewed_approve: Some(S::Cancelled), Ev::Reviewed(VA) => Err(R::Cancelled);
    cancelled_reviewed_reject: Some(S::Cancelled), Ev::Reviewed(VR) => Err(R::Cancelled);
    cancelled_cancel: Some(S::Cancelled), Ev::Cancel { paynotice_accepted: false } => Ok((S::Cancelled, E::None));
    cancelled_cancel_after_paynotice: Some(S::Cancelled), Ev::Cancel { paynotice_accepted: true } => Ok((S::Cancelled, E::None));
    cancelled_paid: Some(S::Cancelled), Ev::Paid => Ok((S::Cancelled, E::RefundNeeded));
    cancelled_paid_wrong: Some(S::Cancelled), Ev::PaidWrongAmount => Ok((S::Cancelled, E::RefundNeeded));
    cancelled_issue: Some(S::Cancelled), Ev::Issue => Err(R::Cancelled);
    cancelled_restore_same: Some(S::Cancelled), Ev::Restore { changed: false } => Err(R::Cancelled);
    cancelled_restore_changed: Some(S::Cancelled), Ev::Restore { changed: true } => Err(R::Cancelled);
    cancelled_invoice: Some(S::Cancelled), Ev::Invoice => Err(R::Cancelled);
    cancelled_quit: Some(S::Cancelled), Ev::Quit(QuitRule::Allowed) => Err(R::Cancelled);
    cancelled_quit_after_opening: Some(S::Cancelled), Ev::Quit(QuitRule::AfterOpening) => Err(R::Cancelled);
    cancelled_claim: Some(S::Cancelled), Ev::Claim { within_amount: true } => Err(R::Cancelled);
    cancelled_claim_over: Some(S::Cancelled), Ev::Claim { within_amount: false } => Err(R::Cancelled);
    cancelled_payout_more: Some(S::Cancelled), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    cancelled_payout_partly: Some(S::Cancelled), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    cancelled_payout_fully: Some(S::Cancelled), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    cancelled_write_off: Some(S::Cancelled), Ev::WriteOff => Err(R::Cancelled);
    cancelled_expire: Some(S::Cancelled), Ev::Expire => Err(R::Cancelled);
    // Paid.
    paid_repeat: Some(S::Paid), Ev::Repeat => Err(R::AlreadyPaid);
    paid_u_approve: Some(S::Paid), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    paid_u_reject: Some(S::Paid), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    paid_u_refer: Some(S::Paid), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    paid_reviewed_approve: Some(S::Paid), Ev::Reviewed(VA) => Err(R::NotReferred);
    paid_reviewed_reject: Some(S::Paid), Ev::Reviewed(VR) => Err(R::NotReferred);
    paid_cancel: Some(S::Paid), Ev::Cancel { paynotice_accepted: false } => Ok((S::Cancelled, E::VoidAndRefund));
    paid_cancel_after_paynotice: Some(S::Paid), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    paid_paid: Some(S::Paid), Ev::Paid => Ok((S::Paid, E::RefundNeeded));
    paid_paid_wrong: Some(S::Paid), Ev::PaidWrongAmount => Ok((S::Paid, E::RefundNeeded));
    paid_issue: Some(S::Paid), Ev::Issue => Ok((S::Issued, E::NotifyIssued));
    paid_restore_same: Some(S::Paid), Ev::Restore { changed: false } => Err(R::NotIssued);
    paid_restore_changed: Some(S::Paid), Ev::Restore { changed: true } => Err(R::NotIssued);
    paid_invoice: Some(S::Paid), Ev::Invoice => Err(R::NotIssued);
    paid_quit: Some(S::Paid), Ev::Quit(QuitRule::Allowed) => Err(R::NotIssued);
    paid_quit_after_opening: Some(S::Paid), Ev::Quit(QuitRule::AfterOpening) => Err(R::NotIssued);
    paid_claim: Some(S::Paid), Ev::Claim { within_amount: true } => Err(R::NotIssued);
    paid_claim_over: Some(S::Paid), Ev::Claim { within_amount: false } => Err(R::NotIssued);
    paid_payout_more: Some(S::Paid), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    paid_payout_partly: Some(S::Paid), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    paid_payout_fully: Some(S::Paid), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    paid_write_off: Some(S::Paid), Ev::WriteOff => Err(R::NotIssued);
    paid_expire: Some(S::Paid), Ev::Expire => Err(R::NotIssued);
    // Issued.
    issued_repeat: Some(S::Issued), Ev::Repeat => Err(R::AlreadyPaid);
    issued_u_approve: Some(S::Issued), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    issued_u_reject: Some(S::Issued), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    issued_u_refer: Some(S::Issued), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    issued_reviewed_approve: Some(S::Issued), Ev::Reviewed(VA) => Err(R::NotReferred);
    issued_reviewed_reject: Some(S::Issued), Ev::Reviewed(VR) => Err(R::NotReferred);
    issued_cancel: Some(S::Issued), Ev::Cancel { paynotice_accepted: false } => Ok((S::Cancelled, E::VoidAndRefund));
    issued_cancel_after_paynotice: Some(S::Issued), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    issued_paid: Some(S::Issued), Ev::Paid => Ok((S::Issued, E::RefundNeeded));
    issued_paid_wrong: Some(S::Issued), Ev::PaidWrongAmount => Ok((S::Issued, E::RefundNeeded));
    issued_issue: Some(S::Issued), Ev::Issue => Err(R::AlreadyIssued);
    issued_restore_same: Some(S::Issued), Ev::Restore { changed: false } => Ok((S::Restored, E::NotifyRestored));
    issued_restore_changed: Some(S::Issued), Ev::Restore { changed: true } => Ok((S::Restored, E::NotifyRestored));
    issued_invoice: Some(S::Issued), Ev::Invoice => Ok((S::Issued, E::Invoice));
    issued_quit: Some(S::Issued), Ev::Quit(QuitRule::Allowed) => Ok((S::Refunded, E::Refund));
    issued_quit_after_opening: Some(S::Issued), Ev::Quit(QuitRule::AfterOpening) => Err(R::QuitAfterOpening);
    issued_claim: Some(S::Issued), Ev::Claim { within_amount: true } => Ok((S::Claiming, E::RequestPayout));
    issued_claim_over: Some(S::Issued), Ev::Claim { within_amount: false } => Err(R::ExceedsAmount);
    issued_payout_more: Some(S::Issued), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    issued_payout_partly: Some(S::Issued), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    issued_payout_fully: Some(S::Issued), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    issued_write_off: Some(S::Issued), Ev::WriteOff => Ok((S::WrittenOff, E::NotifyWrittenOff));
    issued_expire: Some(S::Issued), Ev::Expire => Ok((S::Expired, E::Expired));
    // Restored.
    restored_repeat: Some(S::Restored), Ev::Repeat => Err(R::AlreadyPaid);
    restored_u_approve: Some(S::Restored), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    restored_u_reject: Some(S::Restored), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    restored_u_refer: Some(S::Restored), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    restored_reviewed_approve: Some(S::Restored), Ev::Reviewed(VA) => Err(R::NotReferred);
    restored_reviewed_reject: Some(S::Restored), Ev::Reviewed(VR) => Err(R::NotReferred);
    restored_cancel: Some(S::Restored), Ev::Cancel { paynotice_accepted: false } => Ok((S::Cancelled, E::VoidAndRefund));
    restored_cancel_after_paynotice: Some(S::Restored), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    restored_paid: Some(S::Restored), Ev::Paid => Ok((S::Restored, E::RefundNeeded));
    restored_paid_wrong: Some(S::Restored), Ev::PaidWrongAmount => Ok((S::Restored, E::RefundNeeded));
    restored_issue: Some(S::Restored), Ev::Issue => Err(R::AlreadyIssued);
    restored_restore_same: Some(S::Restored), Ev::Restore { changed: false } => Ok((S::Restored, E::ResendRestored));
    restored_restore_changed: Some(S::Restored), Ev::Restore { changed: true } => Ok((S::Restored, E::NotifyRestored));
    restored_invoice: Some(S::Restored), Ev::Invoice => Ok((S::Restored, E::Invoice));
    restored_quit: Some(S::Restored), Ev::Quit(QuitRule::Allowed) => Ok((S::Refunded, E::Refund));
    restored_quit_after_opening: Some(S::Restored), Ev::Quit(QuitRule::AfterOpening) => Err(R::QuitAfterOpening);
    restored_claim: Some(S::Restored), Ev::Claim { within_amount: true } => Ok((S::Claiming, E::RequestPayout));
    restored_claim_over: Some(S::Restored), Ev::Claim { within_amount: false } => Err(R::ExceedsAmount);
    restored_payout_more: Some(S::Restored), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    restored_payout_partly: Some(S::Restored), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    restored_payout_fully: Some(S::Restored), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    restored_write_off: Some(S::Restored), Ev::WriteOff => Ok((S::WrittenOff, E::NotifyWrittenOff));
    restored_expire: Some(S::Restored), Ev::Expire => Ok((S::Expired, E::Expired));
    // Claiming.
    claiming_repeat: Some(S::Claiming), Ev::Repeat => Err(R::AlreadyPaid);
    claiming_u_approve: Some(S::Claiming), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    claiming_u_reject: Some(S::Claiming), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    claiming_u_refer: Some(S::Claiming), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    claiming_reviewed_approve: Some(S::Claiming), Ev::Reviewed(VA) => Err(R::NotReferred);
    claiming_reviewed_reject: Some(S::Claiming), Ev::Reviewed(VR) => Err(R::NotReferred);
    claiming_cancel: Some(S::Claiming), Ev::Cancel { paynotice_accepted: false } => Err(R::AlreadyPaid);
    claiming_cancel_after_paynotice: Some(S::Claiming), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    claiming_paid: Some(S::Claiming), Ev::Paid => Ok((S::Claiming, E::RefundNeeded));
    claiming_paid_wrong: Some(S::Claiming), Ev::PaidWrongAmount => Ok((S::Claiming, E::RefundNeeded));
    claiming_issue: Some(S::Claiming), Ev::Issue => Err(R::AlreadyIssued);
    claiming_restore_same: Some(S::Claiming), Ev::Restore { changed: false } => Err(R::ClaimInProgress);
    claiming_restore_changed: Some(S::Claiming), Ev::Restore { changed: true } => Err(R::ClaimInProgress);
    claiming_invoice: Some(S::Claiming), Ev::Invoice => Ok((S::Claiming, E::Invoice));
    claiming_quit: Some(S::Claiming), Ev::Quit(QuitRule::Allowed) => Err(R::ClaimInProgress);
    claiming_quit_after_opening: Some(S::Claiming), Ev::Quit(QuitRule::AfterOpening) => Err(R::ClaimInProgress);
    claiming_claim: Some(S::Claiming), Ev::Claim { within_amount: true } => Ok((S::Claiming, E::RequestPayout));
    claiming_claim_over: Some(S::Claiming), Ev::Claim { within_amount: false } => Err(R::ExceedsAmount);
    claiming_payout_more: Some(S::Claiming), Ev::PayoutConfirmed(Payout::MorePending) => Ok((S::Claiming, E::NotifyPayout));
    claiming_payout_partly: Some(S::Claiming), Ev::PayoutConfirmed(Payout::Partly) => Ok((S::PartlyClaimed, E::NotifyPayout));
    claiming_payout_fully: Some(S::Claiming), Ev::PayoutConfirmed(Payout::Fully) => Ok((S::Claimed, E::NotifyPayout));
    claiming_write_off: Some(S::Claiming), Ev::WriteOff => Err(R::ClaimInProgress);
    claiming_expire: Some(S::Claiming), Ev::Expire => Err(R::ClaimInProgress);
    // PartlyClaimed.
    partly_claimed_repeat: Some(S::PartlyClaimed), Ev::Repeat => Err(R::AlreadyPaid);
    partly_claimed_u_approve: Some(S::PartlyClaimed), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    partly_claimed_u_reject: Some(S::PartlyClaimed), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    partly_claimed_u_refer: Some(S::PartlyClaimed), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    partly_claimed_reviewed_approve: Some(S::PartlyClaimed), Ev::Reviewed(VA) => Err(R::NotReferred);
    partly_claimed_reviewed_reject: Some(S::PartlyClaimed), Ev::Reviewed(VR) => Err(R::NotReferred);
    partly_claimed_cancel: Some(S::PartlyClaimed), Ev::Cancel { paynotice_accepted: false } => Err(R::AlreadyPaid);
    partly_claimed_cancel_after_paynotice: Some(S::PartlyClaimed), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    partly_claimed_paid: Some(S::PartlyClaimed), Ev::Paid => Ok((S::PartlyClaimed, E::RefundNeeded));
    partly_claimed_paid_wrong: Some(S::PartlyClaimed), Ev::PaidWrongAmount => Ok((S::PartlyClaimed, E::RefundNeeded));
    partly_claimed_issue: Some(S::PartlyClaimed), Ev::Issue => Err(R::AlreadyIssued);
    partly_claimed_restore_same: Some(S::PartlyClaimed), Ev::Restore { changed: false } => Err(R::ClaimPaid);
    partly_claimed_restore_changed: Some(S::PartlyClaimed), Ev::Restore { changed: true } => Err(R::ClaimPaid);
    partly_claimed_invoice: Some(S::PartlyClaimed), Ev::Invoice => Ok((S::PartlyClaimed, E::Invoice));
    partly_claimed_quit: Some(S::PartlyClaimed), Ev::Quit(QuitRule::Allowed) => Err(R::ClaimPaid);
    partly_claimed_quit_after_opening: Some(S::PartlyClaimed), Ev::Quit(QuitRule::AfterOpening) => Err(R::ClaimPaid);
    partly_claimed_claim: Some(S::PartlyClaimed), Ev::Claim { within_amount: true } => Ok((S::Claiming, E::RequestPayout));
    partly_claimed_claim_over: Some(S::PartlyClaimed), Ev::Claim { within_amount: false } => Err(R::ExceedsAmount);
    partly_claimed_payout_more: Some(S::PartlyClaimed), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    partly_claimed_payout_partly: Some(S::PartlyClaimed), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    partly_claimed_payout_fully: Some(S::PartlyClaimed), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    partly_claimed_write_off: Some(S::PartlyClaimed), Ev::WriteOff => Ok((S::WrittenOff, E::NotifyWrittenOff));
    partly_claimed_expire: Some(S::PartlyClaimed), Ev::Expire => Ok((S::Expired, E::Expired));
    // Claimed.
    claimed_repeat: Some(S::Claimed), Ev::Repeat => Err(R::AlreadyPaid);
    claimed_u_approve: Some(S::Claimed), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    claimed_u_reject: Some(S::Claimed), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    claimed_u_refer: Some(S::Claimed), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    claimed_reviewed_approve: Some(S::Claimed), Ev::Reviewed(VA) => Err(R::NotReferred);
    claimed_reviewed_reject: Some(S::Claimed), Ev::Reviewed(VR) => Err(R::NotReferred);
    claimed_cancel: Some(S::Claimed), Ev::Cancel { paynotice_accepted: false } => Err(R::AlreadyPaid);
    claimed_cancel_after_paynotice: Some(S::Claimed), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    claimed_paid: Some(S::Claimed), Ev::Paid => Ok((S::Claimed, E::RefundNeeded));
    claimed_paid_wrong: Some(S::Claimed), Ev::PaidWrongAmount => Ok((S::Claimed, E::RefundNeeded));
    claimed_issue: Some(S::Claimed), Ev::Issue => Err(R::AlreadyIssued);
    claimed_restore_same: Some(S::Claimed), Ev::Restore { changed: false } => Err(R::Claimed);
    claimed_restore_changed: Some(S::Claimed), Ev::Restore { changed: true } => Err(R::Claimed);
    claimed_invoice: Some(S::Claimed), Ev::Invoice => Ok((S::Claimed, E::Invoice));
    claimed_quit: Some(S::Claimed), Ev::Quit(QuitRule::Allowed) => Err(R::ClaimPaid);
    claimed_quit_after_opening: Some(S::Claimed), Ev::Quit(QuitRule::AfterOpening) => Err(R::ClaimPaid);
    claimed_claim: Some(S::Claimed), Ev::Claim { within_amount: true } => Err(R::Claimed);
    claimed_claim_over: Some(S::Claimed), Ev::Claim { within_amount: false } => Err(R::Claimed);
    claimed_payout_more: Some(S::Claimed), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    claimed_payout_partly: Some(S::Claimed), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    claimed_payout_fully: Some(S::Claimed), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    claimed_write_off: Some(S::Claimed), Ev::WriteOff => Ok((S::WrittenOff, E::NotifyWrittenOff));
    claimed_expire: Some(S::Claimed), Ev::Expire => Err(R::Claimed);
    // Refunded.
    refunded_repeat: Some(S::Refunded), Ev::Repeat => Err(R::AlreadyPaid);
    refunded_u_approve: Some(S::Refunded), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    refunded_u_reject: Some(S::Refunded), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    refunded_u_refer: Some(S::Refunded), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    refunded_reviewed_approve: Some(S::Refunded), Ev::Reviewed(VA) => Err(R::NotReferred);
    refunded_reviewed_reject: Some(S::Refunded), Ev::Reviewed(VR) => Err(R::NotReferred);
    refunded_cancel: Some(S::Refunded), Ev::Cancel { paynotice_accepted: false } => Err(R::AlreadyPaid);
    refunded_cancel_after_paynotice: Some(S::Refunded), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    refunded_paid: Some(S::Refunded), Ev::Paid => Ok((S::Refunded, E::RefundNeeded));
    refunded_paid_wrong: Some(S::Refunded), Ev::PaidWrongAmount => Ok((S::Refunded, E::RefundNeeded));
    refunded_issue: Some(S::Refunded), Ev::Issue => Err(R::AlreadyIssued);
    refunded_restore_same: Some(S::Refunded), Ev::Restore { changed: false } => Err(R::Refunded);
    refunded_restore_changed: Some(S::Refunded), Ev::Restore { changed: true } => Err(R::Refunded);
    refunded_invoice: Some(S::Refunded), Ev::Invoice => Err(R::Refunded);
    refunded_quit: Some(S::Refunded), Ev::Quit(QuitRule::Allowed) => Err(R::Refunded);
    refunded_quit_after_opening: Some(S::Refunded), Ev::Quit(QuitRule::AfterOpening) => Err(R::Refunded);
    refunded_claim: Some(S::Refunded), Ev::Claim { within_amount: true } => Err(R::Refunded);
    refunded_claim_over: Some(S::Refunded), Ev::Claim { within_amount: false } => Err(R::Refunded);
    refunded_payout_more: Some(S::Refunded), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    refunded_payout_partly: Some(S::Refunded), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    refunded_payout_fully: Some(S::Refunded), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    refunded_write_off: Some(S::Refunded), Ev::WriteOff => Err(R::Refunded);
    refunded_expire: Some(S::Refunded), Ev::Expire => Err(R::Refunded);
    // WrittenOff.
    written_off_repeat: Some(S::WrittenOff), Ev::Repeat => Err(R::AlreadyPaid);
    written_off_u_approve: Some(S::WrittenOff), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    written_off_u_reject: Some(S::WrittenOff), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    written_off_u_refer: Some(S::WrittenOff), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    written_off_reviewed_approve: Some(S::WrittenOff), Ev::Reviewed(VA) => Err(R::NotReferred);
    written_off_reviewed_reject: Some(S::WrittenOff), Ev::Reviewed(VR) => Err(R::NotReferred);
    written_off_cancel: Some(S::WrittenOff), Ev::Cancel { paynotice_accepted: false } => Err(R::AlreadyPaid);
    written_off_cancel_after_paynotice: Some(S::WrittenOff), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    written_off_paid: Some(S::WrittenOff), Ev::Paid => Ok((S::WrittenOff, E::RefundNeeded));
    written_off_paid_wrong: Some(S::WrittenOff), Ev::PaidWrongAmount => Ok((S::WrittenOff, E::RefundNeeded));
    written_off_issue: Some(S::WrittenOff), Ev::Issue => Err(R::AlreadyIssued);
    written_off_restore_same: Some(S::WrittenOff), Ev::Restore { changed: false } => Err(R::WrittenOff);
    written_off_restore_changed: Some(S::WrittenOff), Ev::Restore { changed: true } => Err(R::WrittenOff);
    written_off_invoice: Some(S::WrittenOff), Ev::Invoice => Ok((S::WrittenOff, E::Invoice));
    written_off_quit: Some(S::WrittenOff), Ev::Quit(QuitRule::Allowed) => Err(R::WrittenOff);
    written_off_quit_after_opening: Some(S::WrittenOff), Ev::Quit(QuitRule::AfterOpening) => Err(R::WrittenOff);
    written_off_claim: Some(S::WrittenOff), Ev::Claim { within_amount: true } => Err(R::WrittenOff);
    written_off_claim_over: Some(S::WrittenOff), Ev::Claim { within_amount: false } => Err(R::WrittenOff);
    written_off_payout_more: Some(S::WrittenOff), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    written_off_payout_partly: Some(S::WrittenOff), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    written_off_payout_fully: Some(S::WrittenOff), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    written_off_write_off: Some(S::WrittenOff), Ev::WriteOff => Err(R::WrittenOff);
    written_off_expire: Some(S::WrittenOff), Ev::Expire => Err(R::WrittenOff);
    // Expired.
    expired_repeat: Some(S::Expired), Ev::Repeat => Err(R::AlreadyPaid);
    expired_u_approve: Some(S::Expired), Ev::Underwritten(DA) => Err(R::AlreadyPaid);
    expired_u_reject: Some(S::Expired), Ev::Underwritten(DR) => Err(R::AlreadyPaid);
    expired_u_refer: Some(S::Expired), Ev::Underwritten(DF) => Err(R::AlreadyPaid);
    expired_reviewed_approve: Some(S::Expired), Ev::Reviewed(VA) => Err(R::NotReferred);
    expired_reviewed_reject: Some(S::Expired), Ev::Reviewed(VR) => Err(R::NotReferred);
    expired_cancel: Some(S::Expired), Ev::Cancel { paynotice_accepted: false } => Err(R::AlreadyPaid);
    expired_cancel_after_paynotice: Some(S::Expired), Ev::Cancel { paynotice_accepted: true } => Err(R::AlreadyPaid);
    expired_paid: Some(S::Expired), Ev::Paid => Ok((S::Expired, E::RefundNeeded));
    expired_paid_wrong: Some(S::Expired), Ev::PaidWrongAmount => Ok((S::Expired, E::RefundNeeded));
    expired_issue: Some(S::Expired), Ev::Issue => Err(R::AlreadyIssued);
    expired_restore_same: Some(S::Expired), Ev::Restore { changed: false } => Err(R::Expired);
    expired_restore_changed: Some(S::Expired), Ev::Restore { changed: true } => Err(R::Expired);
    expired_invoice: Some(S::Expired), Ev::Invoice => Ok((S::Expired, E::Invoice));
    expired_quit: Some(S::Expired), Ev::Quit(QuitRule::Allowed) => Err(R::Expired);
    expired_quit_after_opening: Some(S::Expired), Ev::Quit(QuitRule::AfterOpening) => Err(R::Expired);
    expired_claim: Some(S::Expired), Ev::Claim { within_amount: true } => Err(R::Expired);
    expired_claim_over: Some(S::Expired), Ev::Claim { within_amount: false } => Err(R::Expired);
    expired_payout_more: Some(S::Expired), Ev::PayoutConfirmed(Payout::MorePending) => Err(R::NoPayoutPending);
    expired_payout_partly: Some(S::Expired), Ev::PayoutConfirmed(Payout::Partly) => Err(R::NoPayoutPending);
    expired_payout_fully: Some(S::Expired), Ev::PayoutConfirmed(Payout::Fully) => Err(R::NoPayoutPending);
    expired_write_off: Some(S::Expired), Ev::WriteOff => Err(R::Expired);
    expired_expire: Some(S::Expired), Ev::Expire => Err(R::Expired);
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
    assert_eq!(payapply(None, false), Err(R::Unknown));
    assert_eq!(payapply(Some(S::Referred), false), Err(R::UnderReview));
    assert_eq!(payapply(Some(S::Rejected), false), Err(R::NotApproved));
    assert_eq!(payapply(Some(S::Cancelled), false), Err(R::Cancelled));
    assert_eq!(
        payapply(Some(S::Approved), false),
        Ok(PremiumStatus::Unpaid)
    );
    for s in State::ALL.into_iter().filter(State::is_paid) {
        assert_eq!(payapply(Some(s), false), Ok(PremiumStatus::Paid), "{s}");
    }
}

#[test]
fn a_requested_cancel_holds_for_payment_at_once() {
    for s in [S::Referred, S::Approved, S::Rejected] {
        assert_eq!(payapply(Some(s), true), Err(R::Cancelled), "{s}");
    }
    // Once paid, the worker decides (the platform may have accepted paynotice).
    assert_eq!(payapply(Some(S::Paid), true), Ok(PremiumStatus::Paid));
    assert!(takes_payment(S::Approved, false));
    assert!(!takes_payment(S::Approved, true));
    for s in State::ALL.into_iter().filter(|s| *s != S::Approved) {
        assert!(!takes_payment(s, false), "{s}");
    }
}

#[test]
fn the_refund_rule_of_the_standard() {
    // Before opening: either scene; after opening: only the system (流标).
    assert_eq!(quit_rule(false, false), QuitRule::Allowed);
    assert_eq!(quit_rule(false, true), QuitRule::Allowed);
    assert_eq!(quit_rule(true, true), QuitRule::Allowed);
    assert_eq!(quit_rule(true, false), QuitRule::AfterOpening);
}

#[test]
fn ingress_refuses_at_once_what_has_no_guarantee() {
    use gw_protocol::Interface as I;
    let after = [I::InvoiceApply, I::QuitApply, I::ClaimApply, I::LogoutApply];
    for i in after.into_iter().chain([I::RevertApply]) {
        assert_eq!(admit(i, None, false), Err(R::Unknown), "{i:?}");
        assert_eq!(admit(i, Some(S::Approved), false), Err(R::NotPaid), "{i:?}");
        assert_eq!(admit(i, Some(S::Paid), false), Err(R::NotIssued), "{i:?}");
        assert_eq!(
            admit(i, Some(S::Cancelled), true),
            Err(R::Cancelled),
            "{i:?}"
        );
        assert_eq!(
            admit(i, Some(S::Issued), false),
            Err(R::BaohanMismatch),
            "{i:?}"
        );
        assert_eq!(admit(i, Some(S::Issued), true), Ok(()), "{i:?}");
    }
    // The after-issuance four are answered by their notice otherwise...
    for i in after {
        for s in [
            S::Refunded,
            S::WrittenOff,
            S::Expired,
            S::Claimed,
            S::Claiming,
        ] {
            assert_eq!(admit(i, Some(s), true), Ok(()), "{i:?} {s}");
        }
    }
    // ...but a restore has no result field: every refusal is synchronous.
    assert_eq!(
        admit(I::RevertApply, Some(S::Refunded), true),
        Err(R::Refunded)
    );
    assert_eq!(
        admit(I::RevertApply, Some(S::Claiming), true),
        Err(R::ClaimInProgress)
    );
    assert_eq!(admit(I::RevertApply, Some(S::Restored), true), Ok(()));
    // Other requests are not ingress's to refuse.
    assert_eq!(admit(I::BaohanApply, None, false), Ok(()));
    assert_eq!(admit(I::CancelApply, None, false), Ok(()));
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
