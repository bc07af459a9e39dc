//! Guarantee numbers, verification codes and the validity of a restored
//! guarantee.
//!
//! **Guarantee number** (`baohanno`): `BH` + the issue date in China time
//! (`yyyyMMdd`) + an 8-digit daily serial, e.g. `BH2025112800000001`.
//! The serial comes from an atomic database counter per day, so concurrent
//! issuers on any replica never share a number; a failed issue leaves a gap,
//! never a duplicate. A unique index backs this up.

use chrono::{Duration, NaiveTime, TimeZone};
use gw_protocol::types::cst;
use gw_protocol::{BidValidDays, WireTime};
use gw_storage::guarantees;
use gw_storage::sea_orm::{ConnectionTrait, DbErr};

/// Allocates the next guarantee number for `at`'s day.
pub async fn next_baohanno<C: ConnectionTrait>(conn: &C, at: WireTime) -> Result<String, DbErr> {
    let day = at.cst().format("%Y%m%d").to_string();
    let n = guarantees::next_in_sequence(conn, &format!("baohanno:{day}")).await?;
    Ok(format!("BH{day}{n:08}"))
}

/// Letters and digits that cannot be confused when read off paper.
const CODE_CHARS: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// An 8-character verification code printed on the guarantee.
pub fn verify_code() -> String {
    (0..8)
        .map(|_| CODE_CHARS[rand::random_range(0..CODE_CHARS.len())] as char)
        .collect()
}

/// `validtime`: the bid opening day plus the bid validity in days plus one
/// day, at 23:59:59 China time. Always later than bid opening + validity.
pub fn valid_until(bidtime: WireTime, bidvalid: BidValidDays) -> WireTime {
    let day = bidtime.cst().date_naive() + Duration::days(i64::from(bidvalid.days()) + 1);
    let end = day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN));
    let local = cst().from_local_datetime(&end).single().map(|t| t.to_utc());
    WireTime::from_utc(local.unwrap_or_else(|| bidtime.utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn until(bidtime: &str, days: &str) -> String {
        valid_until(
            WireTime::try_from(bidtime).unwrap(),
            BidValidDays::try_from(days).unwrap(),
        )
        .to_string()
    }

    #[test]
    fn validtime_is_bid_day_plus_validity_plus_one_at_end_of_day() {
        assert_eq!(until("2025-12-01 09:30:00", "90"), "2026-03-02 23:59:59");
    }

    #[test]
    fn validtime_across_month_ends() {
        assert_eq!(until("2025-01-30 10:00:00", "1"), "2025-02-01 23:59:59");
        assert_eq!(until("2025-04-29 10:00:00", "1"), "2025-05-01 23:59:59");
        assert_eq!(until("2025-02-27 10:00:00", "1"), "2025-03-01 23:59:59");
    }

    #[test]
    fn validtime_across_leap_days_and_year_ends() {
        assert_eq!(until("2028-02-27 10:00:00", "1"), "2028-02-29 23:59:59");
        assert_eq!(until("2025-12-30 10:00:00", "1"), "2026-01-01 23:59:59");
        assert_eq!(until("2025-12-31 23:30:00", "30"), "2026-01-31 23:59:59");
        assert_eq!(until("2024-03-01 09:00:00", "365"), "2025-03-02 23:59:59");
    }

    #[test]
    fn late_evening_bid_times_stay_on_their_china_day() {
        // 23:30 CST is 15:30 UTC the same day; the day counted is the CST one.
        let v = valid_until(
            WireTime::try_from("2025-06-30 23:30:00").unwrap(),
            BidValidDays::try_from("1").unwrap(),
        );
        assert_eq!(v.to_string(), "2025-07-02 23:59:59");
        assert_eq!(v.utc().to_rfc3339(), "2025-07-02T15:59:59+00:00");
    }

    #[test]
    fn verify_codes_use_the_unambiguous_alphabet() {
        let c = verify_code();
        assert_eq!(c.len(), 8);
        assert!(c.bytes().all(|b| CODE_CHARS.contains(&b)));
    }
}
