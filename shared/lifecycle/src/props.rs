//! Properties of the state machine over random event sequences: no panic,
//! no resurrection of a void guarantee, one guarantee per application, no
//! refund after a payout, no claim past the amount.

use proptest::prelude::*;

use super::*;

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Repeat),
        prop::sample::select(vec![Decision::Approve, Decision::Reject, Decision::Refer])
            .prop_map(Event::Underwritten),
        prop::sample::select(vec![Verdict::Approve, Verdict::Reject]).prop_map(Event::Reviewed),
        any::<bool>().prop_map(|a| Event::Cancel {
            paynotice_accepted: a
        }),
        Just(Event::Paid),
        Just(Event::PaidWrongAmount),
        Just(Event::Issue),
        any::<bool>().prop_map(|changed| Event::Restore { changed }),
        Just(Event::Invoice),
        prop::sample::select(vec![QuitRule::Allowed, QuitRule::AfterOpening]).prop_map(Event::Quit),
        // Claims of a random size: the harness decides `within_amount` as a
        // worker does, from the amounts so far.
        Just(Event::Claim {
            within_amount: true
        }),
        Just(Event::PayoutConfirmed(Payout::Fully)),
        Just(Event::WriteOff),
        Just(Event::Expire),
    ]
}

/// A guarantee is live if it can still be claimed on.
fn live(s: State) -> bool {
    matches!(
        s,
        State::Issued | State::Restored | State::Claiming | State::PartlyClaimed
    )
}

fn void(s: State) -> bool {
    matches!(
        s,
        State::Cancelled | State::Refunded | State::WrittenOff | State::Expired
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_histories_keep_the_invariants(
        events in prop::collection::vec(event(), 0..40),
        sizes in prop::collection::vec(1u32..=60, 40),
    ) {
        const AMOUNT: u32 = 100;
        let mut state: Option<State> = None;
        let mut issued = 0;
        let (mut claimed, mut pending) = (0u32, Vec::<u32>::new());
        let mut was_void = false;
        for (n, e) in events.into_iter().enumerate() {
            // The worker's side of a claim: this one's size against the rest.
            let size = sizes[n % sizes.len()];
            let e = match e {
                Event::Claim { .. } => Event::Claim {
                    within_amount: claimed + pending.iter().sum::<u32>() + size <= AMOUNT,
                },
                Event::PayoutConfirmed(_) => {
                    let after = claimed + pending.first().copied().unwrap_or(0);
                    Event::PayoutConfirmed(if pending.len() > 1 {
                        Payout::MorePending
                    } else if after >= AMOUNT {
                        Payout::Fully
                    } else {
                        Payout::Partly
                    })
                }
                other => other,
            };
            let Ok((next, effect)) = step(state, e) else {
                continue;
            };
            match e {
                Event::Issue => issued += 1,
                Event::Claim { within_amount } => {
                    prop_assert!(within_amount, "a claim past the amount was accepted");
                    pending.push(size);
                }
                Event::PayoutConfirmed(_) => {
                    prop_assert!(!pending.is_empty(), "a payout with none pending");
                    claimed += pending.remove(0);
                }
                Event::Quit(QuitRule::Allowed) => {
                    prop_assert_eq!(claimed, 0, "refunded after a payout");
                    prop_assert!(pending.is_empty(), "refunded during a claim");
                    prop_assert_eq!(effect, Effect::Refund);
                }
                _ => {}
            }
            prop_assert!(issued <= 1, "two guarantees for one application");
            prop_assert!(claimed <= AMOUNT, "paid out {} of {}", claimed, AMOUNT);
            if was_void {
                prop_assert!(!live(next), "{:?} brought a void guarantee back as {:?}", e, next);
            }
            // A guarantee that existed and is now void stays void.
            was_void |= void(next) && state.is_some_and(|s| s.has_guarantee());
            state = Some(next);
        }
    }
}
