//! The invariants, checked once the load has drained:
//!
//! * every lifecycle whose calls were all accepted has all its notices
//!   (else: lost);
//! * one guarantee per applyno;
//! * no refund and no payout twice (two events, not one event delivered
//!   twice);
//! * each application's notices arrived in causal order;
//! * nothing in a dead-letter queue or in `dead_letters` unexplained.

use std::collections::{BTreeMap, HashMap};

use gw_bus::Bus;
use gw_storage::Db;
use gw_tests::platform::Platform;

use crate::load::Lifecycle;

/// What the check found.
#[derive(Debug, Default)]
pub struct Findings {
    pub lifecycles: usize,
    pub completed: usize,
    /// Lifecycles whose accepted calls did not all take effect.
    pub lost: usize,
    /// Notices the platform accepted more than once.
    pub duplicates: usize,
    pub out_of_order: usize,
    pub two_guarantees: usize,
    pub refunded_twice: usize,
    pub paid_twice: usize,
    pub dead_letters: usize,
    /// Money events the journal received again under the same message id
    /// (published again after a lost confirm; not a problem).
    pub republished: usize,
    /// A line per problem, for the log.
    pub problems: Vec<String>,
}

impl Findings {
    /// Whether every invariant holds.
    pub fn holds(&self) -> bool {
        self.lost == 0
            && self.out_of_order == 0
            && self.two_guarantees == 0
            && self.refunded_twice == 0
            && self.paid_twice == 0
            && self.dead_letters == 0
    }
}

/// The causal rank of a notice in an application's life.
fn rank(interface: &str) -> Option<u8> {
    Some(match interface {
        "processnotice" => 0,
        "paynotice" => 1,
        "baohannotice" => 2,
        "revertnotice" => 3,
        "quitnotice" | "claimnotice" => 4,
        _ => return None,
    })
}

pub async fn check(
    lifecycles: &[Lifecycle],
    platform: &Platform,
    bus: &Bus,
    db: &Db,
    queues: &[&str],
) -> anyhow::Result<Findings> {
    let mut f = Findings {
        lifecycles: lifecycles.len(),
        ..Findings::default()
    };
    for l in lifecycles {
        let got = platform.accepted_for(&l.applyno);
        // Lost: accepted, and its effect never arrived.
        if l.completed.is_some() {
            f.completed += 1;
        } else if !l.accepted.is_empty() {
            // Its last accepted call must have had its notice by now.
            let wanted = match l.accepted.last().copied() {
                Some("baohanapply") => "processnotice",
                Some("payapply") => "paynotice",
                Some("revertapply") => "revertnotice",
                Some("quitapply") => "quitnotice",
                Some("claimapply") => "claimnotice",
                _ => "",
            };
            if !got.iter().any(|(i, _)| i == wanted) {
                f.lost += 1;
                f.problems.push(format!(
                    "{}: {wanted} never came (stuck at {:?})",
                    l.applyno, l.stuck_at
                ));
            }
        }
        // Duplicates and order, on first deliveries.
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let mut last = 0u8;
        for (i, body) in &got {
            let key = body["applicationno"].as_str().unwrap_or("").to_owned();
            let n = seen.entry((i.clone(), key)).or_default();
            *n += 1;
            if *n > 1 {
                f.duplicates += 1;
                continue;
            }
            if let Some(r) = rank(i) {
                if r < last {
                    f.out_of_order += 1;
                    f.problems
                        .push(format!("{}: {i} after a later notice", l.applyno));
                }
                last = last.max(r);
            }
        }
        let baohannos: std::collections::BTreeSet<&str> = got
            .iter()
            .filter(|(i, _)| i == "baohannotice")
            .filter_map(|(_, b)| b["baohanno"].as_str())
            .collect();
        if baohannos.len() > 1 {
            f.two_guarantees += 1;
            f.problems
                .push(format!("{}: guarantees {baohannos:?}", l.applyno));
        }
    }
    // Money events, from the journal. A row the outbox relay published
    // again (its confirm lost in a broker cut) arrives twice with the same
    // message id: that is one event, which the bank's systems deduplicate
    // by id. Money twice is two different events for one payment or claim.
    let full = bus.topology().journal_queue();
    type Ids = BTreeMap<String, std::collections::BTreeSet<String>>;
    let (mut refunds, mut payouts): (Ids, Ids) = Default::default();
    while let Some(d) = bus.transport().get(&full).await? {
        let m = d.message().clone();
        d.ack().await?;
        let body = m.payload_json().unwrap_or_default();
        let (events, key) = match m.kind.as_str() {
            "payment.refund_requested" => (&mut refunds, &body["paynumber"]),
            "claim.paid" => (&mut payouts, &body["details"]["applicationno"]),
            _ => continue,
        };
        let ids = events
            .entry(key.as_str().unwrap_or("").to_owned())
            .or_default();
        if !ids.insert(m.id.clone()) {
            f.republished += 1;
        }
    }
    for (what, events, count) in [
        ("refunded", &refunds, &mut f.refunded_twice),
        ("paid out", &payouts, &mut f.paid_twice),
    ] {
        for (key, ids) in events.iter().filter(|(_, ids)| ids.len() > 1) {
            *count += 1;
            f.problems.push(format!(
                "{key}: {what} {} times (events {ids:?})",
                ids.len()
            ));
        }
    }
    // Dead letters: recorded, or still waiting in a dead-letter queue.
    let open = gw_storage::dead_letters::list(db.conn(), &Default::default()).await?;
    for d in &open {
        f.problems.push(format!(
            "dead letter {} ({}) of {}: {}",
            d.message_id, d.kind, d.destination, d.error
        ));
    }
    f.dead_letters = open.len();
    for q in queues {
        let dlq = bus.topology().dead_letter_queue(q);
        // One is enough to fail; it stays for whoever looks.
        if let Some(d) = bus.transport().get(&dlq).await? {
            f.problems.push(format!("in {dlq}: {}", d.message().kind));
            f.dead_letters += 1;
            d.requeue().await?;
        }
    }
    Ok(f)
}
