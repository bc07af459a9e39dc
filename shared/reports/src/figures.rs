//! The figures of a period, counted from the tables the workers write (one
//! source of truth): per counterpart and in total, and the guarantees per
//! city (`areacode`, known once a guarantee is restored).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gw_lifecycle::{ClaimStatus, NoticeState, PaymentStatus, Resolution, State};
use gw_storage::entities::{
    applications, claims, guarantees, logouts, notices, payments, quits, underwriting_decisions,
    verifications,
};
use gw_storage::sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};
use serde::Serialize;

/// What one counterpart (or all of them) did in the period. Amounts in
/// cents; durations in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Applications received (`baohanapply` accepted).
    pub applications: u64,
    /// Decisions taken in the period, by the rules or a person.
    pub approved: u64,
    pub rejected: u64,
    pub referred: u64,
    /// Applications cancelled (`cancelapply` granted) in the period.
    pub cancelled: u64,
    pub guarantees_issued: u64,
    /// The amount those guarantees guarantee (保证金).
    pub guaranteed_cents: i64,
    pub guarantees_restored: u64,
    /// Premiums paid in the period (payments accepted).
    pub premiums_cents: i64,
    pub premiums_count: u64,
    /// Refunds (退保) granted in the period.
    pub refunds: u64,
    pub refunds_cents: i64,
    /// Claims paid in the period, and from `claimapply` to its payout.
    pub claims_paid: u64,
    pub claims_paid_cents: i64,
    pub claim_seconds_p50: Option<i64>,
    pub claim_seconds_max: Option<i64>,
    pub claims_refused: u64,
    /// Write-offs (注销) granted.
    pub write_offs: u64,
    /// Notices the platform accepted in the period, and from their
    /// decision (the notice's creation) to delivery.
    pub notices_delivered: u64,
    pub notice_seconds_p50: Option<i64>,
    pub notice_seconds_p99: Option<i64>,
    /// Of those, how many needed more than one attempt.
    pub notices_retried: u64,
    /// Notices given up on (dead) in the period.
    pub notices_dead: u64,
}

/// The whole report's numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tables {
    pub total: Figures,
    pub by_counterpart: BTreeMap<String, Figures>,
    /// Guarantees issued per city: (count, guaranteed cents). Guarantees
    /// not restored yet have no city: `未还原`.
    pub by_city: BTreeMap<String, (u64, i64)>,
    /// 验真 lookups in the period (all counterparts).
    pub verifications: u64,
}

/// The city key of a guarantee not restored yet.
pub const NO_CITY: &str = "未还原";

fn pick(t: &mut Tables, counterpart: &str, f: impl Fn(&mut Figures)) {
    f(&mut t.total);
    f(t.by_counterpart.entry(counterpart.to_owned()).or_default());
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank.
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Counts everything in `[from, to)`.
pub async fn count<C: ConnectionTrait>(
    conn: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Tables, DbErr> {
    let mut t = Tables::default();
    // Applications, and their counterpart for the tables that lack one.
    let apps = applications::Entity::find().all(conn).await?;
    let counterpart_of: BTreeMap<String, String> = apps
        .iter()
        .map(|a| (a.applyno.to_string(), a.counterpart.to_string()))
        .collect();
    let cp = |applyno: &str| {
        counterpart_of
            .get(applyno)
            .cloned()
            .unwrap_or_else(|| "?".to_owned())
    };
    for a in &apps {
        let cp = a.counterpart.to_string();
        if a.created_at >= from && a.created_at < to {
            pick(&mut t, &cp, |f| f.applications += 1);
        }
        if a.state == State::Cancelled && a.updated_at >= from && a.updated_at < to {
            pick(&mut t, &cp, |f| f.cancelled += 1);
        }
    }
    for d in underwriting_decisions::Entity::find()
        .filter(underwriting_decisions::Column::DecidedAt.gte(from))
        .filter(underwriting_decisions::Column::DecidedAt.lt(to))
        .all(conn)
        .await?
    {
        let cp = cp(d.applyno.as_str());
        match d.decision.as_str() {
            "approve" => pick(&mut t, &cp, |f| f.approved += 1),
            "reject" => pick(&mut t, &cp, |f| f.rejected += 1),
            "refer" => pick(&mut t, &cp, |f| f.referred += 1),
            _ => {}
        }
    }
    for g in guarantees::Entity::find().all(conn).await? {
        let cp = g.counterpart.to_string();
        if g.issued_at >= from && g.issued_at < to {
            pick(&mut t, &cp, |f| {
                f.guarantees_issued += 1;
                f.guaranteed_cents += g.amount_cents;
            });
            let city = g.areacode.clone().unwrap_or_else(|| NO_CITY.to_owned());
            let c = t.by_city.entry(city).or_default();
            c.0 += 1;
            c.1 += g.amount_cents;
        }
        if g.restored_at.is_some_and(|r| r >= from && r < to) {
            pick(&mut t, &cp, |f| f.guarantees_restored += 1);
        }
    }
    for p in payments::Entity::find()
        .filter(payments::Column::ReceivedAt.gte(from))
        .filter(payments::Column::ReceivedAt.lt(to))
        .filter(payments::Column::Status.eq(PaymentStatus::Accepted))
        .all(conn)
        .await?
    {
        pick(&mut t, &cp(p.applyno.as_str()), |f| {
            f.premiums_count += 1;
            f.premiums_cents += p.paymoney_cents;
        });
    }
    for q in quits::Entity::find()
        .filter(quits::Column::DecidedAt.gte(from))
        .filter(quits::Column::DecidedAt.lt(to))
        .filter(quits::Column::Resolution.eq(Resolution::Granted))
        .all(conn)
        .await?
    {
        pick(&mut t, q.counterpart.as_str(), |f| {
            f.refunds += 1;
            f.refunds_cents += q.amount_cents;
        });
    }
    let mut claim_secs: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for c in claims::Entity::find().all(conn).await? {
        let cp = c.counterpart.to_string();
        match c.status {
            ClaimStatus::Paid => {
                if let Some(paid) = c.paid_at.filter(|p| *p >= from && *p < to) {
                    pick(&mut t, &cp, |f| {
                        f.claims_paid += 1;
                        f.claims_paid_cents += c.amount_cents;
                    });
                    let secs = (paid - c.requested_at).num_seconds();
                    claim_secs.entry(cp.clone()).or_default().push(secs);
                    claim_secs.entry(String::new()).or_default().push(secs);
                }
            }
            ClaimStatus::Refused if c.decided_at >= from && c.decided_at < to => {
                pick(&mut t, &cp, |f| f.claims_refused += 1);
            }
            _ => {}
        }
    }
    for l in logouts::Entity::find()
        .filter(logouts::Column::DecidedAt.gte(from))
        .filter(logouts::Column::DecidedAt.lt(to))
        .filter(logouts::Column::Resolution.eq(Resolution::Granted))
        .all(conn)
        .await?
    {
        pick(&mut t, l.counterpart.as_str(), |f| f.write_offs += 1);
    }
    let mut notice_secs: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    // Delivered in the period, or given up on in it.
    let delivered = Condition::all()
        .add(notices::Column::DeliveredAt.gte(from))
        .add(notices::Column::DeliveredAt.lt(to));
    let dead = Condition::all()
        .add(notices::Column::State.eq(NoticeState::Dead))
        .add(notices::Column::UpdatedAt.gte(from))
        .add(notices::Column::UpdatedAt.lt(to));
    for n in notices::Entity::find()
        .filter(Condition::any().add(delivered).add(dead))
        .all(conn)
        .await?
    {
        let cp = n.counterpart.to_string();
        if let Some(at) = n.delivered_at.filter(|d| *d >= from && *d < to) {
            pick(&mut t, &cp, |f| {
                f.notices_delivered += 1;
                if n.attempts > 1 {
                    f.notices_retried += 1;
                }
            });
            let secs = (at - n.created_at).num_seconds();
            notice_secs.entry(cp.clone()).or_default().push(secs);
            notice_secs.entry(String::new()).or_default().push(secs);
        }
        if n.state == NoticeState::Dead && n.updated_at >= from && n.updated_at < to {
            pick(&mut t, &cp, |f| f.notices_dead += 1);
        }
    }
    for (key, mut secs) in claim_secs {
        secs.sort_unstable();
        let f = if key.is_empty() {
            &mut t.total
        } else {
            t.by_counterpart.entry(key).or_default()
        };
        f.claim_seconds_p50 = percentile(&secs, 0.5);
        f.claim_seconds_max = secs.last().copied();
    }
    for (key, mut secs) in notice_secs {
        secs.sort_unstable();
        let f = if key.is_empty() {
            &mut t.total
        } else {
            t.by_counterpart.entry(key).or_default()
        };
        f.notice_seconds_p50 = percentile(&secs, 0.5);
        f.notice_seconds_p99 = percentile(&secs, 0.99);
    }
    use gw_storage::sea_orm::PaginatorTrait;
    t.verifications = verifications::Entity::find()
        .filter(verifications::Column::At.gte(from))
        .filter(verifications::Column::At.lt(to))
        .count(conn)
        .await?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
