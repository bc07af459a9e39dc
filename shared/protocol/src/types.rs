//! Domain newtypes. A value of one of these types has passed its rule, so code
//! past the boundary never checks it again. Each parses from text through
//! `TryFrom<&str>` and serialises back to the wire's text form.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::error::Rule;

/// The standard's `yyyy-MM-dd HH:mm:ss` (chrono syntax).
pub const WIRE_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

fn trimmed(s: &str) -> Result<&str, Rule> {
    let t = s.trim();
    if t.is_empty() {
        Err(Rule::Missing)
    } else {
        Ok(t)
    }
}

fn bounded(s: &str, max: usize) -> Result<&str, Rule> {
    let t = trimmed(s)?;
    if t.chars().count() > max {
        return Err(Rule::TooLong { max });
    }
    Ok(t)
}

/// Serde glue for newtypes that travel as strings: serialise with `Display`,
/// deserialise through `TryFrom<&str>` so that nothing unchecked gets in.
macro_rules! text_serde {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::try_from(s.as_str()).map_err(|rule| {
                    serde::de::Error::custom(crate::error::FieldError::new(stringify!($t), rule))
                })
            }
        }
    };
}

/// An identifier: non-blank, at most `max` characters, no control characters.
macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Rule;
            fn try_from(s: &str) -> Result<Self, Rule> {
                let t = bounded(s, $max)?;
                if t.chars().any(char::is_control) {
                    return Err(Rule::ControlChars);
                }
                Ok(Self(t.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        /// A text key, never generated from a number (sea-orm asks for it
        /// of every primary key type).
        #[cfg(feature = "sea-orm")]
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        text_serde!($name);
    };
}

identifier!(
    /// `applyno`: the platform's order number, the key of one application.
    ApplyNo,
    50
);
identifier!(
    /// `baohanno`: the guarantee number we assign at issuance.
    BaohanNo,
    50
);
identifier!(
    /// `applicationno`: the platform's number for an after-issuance request
    /// (invoice, quit, claim, logout), echoed in its notice.
    ApplicationNo,
    50
);

/// The configured name of a counterpart (a platform we serve, such as
/// `hunan`): 1 to 64 ASCII letters, digits, `-` or `_`. Not on the wire; it
/// tells whose keys and whose notice address an application uses.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
pub struct CounterpartName(String);

impl CounterpartName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for CounterpartName {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        let t = bounded(s, 64)?;
        if !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Rule::ControlChars);
        }
        Ok(Self(t.to_owned()))
    }
}

impl fmt::Display for CounterpartName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CounterpartName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CounterpartName({:?})", self.0)
    }
}

impl PartialEq<str> for CounterpartName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CounterpartName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

text_serde!(CounterpartName);

/// Free text of at most `MAX` characters, non-blank, trimmed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize> TryFrom<&str> for Text<MAX> {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        Ok(Self(bounded(s, MAX)?.to_owned()))
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> fmt::Debug for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<const MAX: usize> serde::Serialize for Text<MAX> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MAX: usize> serde::Deserialize<'de> for Text<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::try_from(s.as_str())
            .map_err(|rule| serde::de::Error::custom(crate::error::FieldError::new("text", rule)))
    }
}

/// Personal data (a person's name, phone, account or e-mail address): the
/// value is used normally but `Debug` masks it, so it cannot leak into logs
/// through `{:?}`. Use [`crate::mask`] for explicit masking.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Personal<const MAX: usize> {
    value: String,
    kind: crate::mask::PiiKind,
}

impl<const MAX: usize> Personal<MAX> {
    pub fn parse(s: &str, kind: crate::mask::PiiKind) -> Result<Self, Rule> {
        let t = bounded(s, MAX)?;
        if kind == crate::mask::PiiKind::Email && !is_email(t) {
            return Err(Rule::BadEmail);
        }
        Ok(Self {
            value: t.to_owned(),
            kind,
        })
    }
    /// The clear value, for the wire and for storage.
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// The masked value, for logs and the notice record.
    pub fn masked(&self) -> String {
        crate::mask::mask(self.kind, &self.value)
    }
}

impl<const MAX: usize> fmt::Debug for Personal<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.masked())
    }
}

impl<const MAX: usize> serde::Serialize for Personal<MAX> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

/// `biddercode`, `instcode`, `zbrorgnum`: a unified social credit code as the
/// platform sends it (the standard only bounds its length; the GB 32100
/// checksum is an underwriting rule, see [`CreditCode::is_gb32100`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);

impl CreditCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// GB 32100-2015: 18 characters from the 31-character set (no I, O, S, V,
    /// Z), the last being the check character over the first 17.
    pub fn is_gb32100(&self) -> bool {
        gb32100_valid(&self.0)
    }
}

const GB32100_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const GB32100_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The GB 32100 check: see [`CreditCode::is_gb32100`].
pub fn gb32100_valid(code: &str) -> bool {
    let bytes = code.as_bytes();
    if bytes.len() != 18 {
        return false;
    }
    let value = |b: u8| GB32100_CHARS.iter().position(|&c| c == b).map(|p| p as u32);
    let mut sum = 0u32;
    for (i, &b) in bytes[..17].iter().enumerate() {
        match value(b) {
            Some(v) => sum += v * GB32100_WEIGHTS[i],
            None => return false,
        }
    }
    let check = (31 - sum % 31) % 31;
    value(bytes[17]) == Some(check)
}

impl TryFrom<&str> for CreditCode {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        let t = bounded(s, 50)?;
        if t.chars().any(char::is_control) {
            return Err(Rule::ControlChars);
        }
        Ok(Self(t.to_owned()))
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({:?})", self.0)
    }
}

text_serde!(CreditCode);

/// A sum of money in yuan: a plain decimal string with at most two fraction
/// digits and at most 50 characters (`bzjamount`, `cost`, `paymoney`, ...),
/// at most [`Amount::MAX`]. Held as `rust_decimal::Decimal`; never a binary
/// float. Every amount has a value in cents that fits an `i64` with room
/// for sums, so no arithmetic on amounts can overflow.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Amount(Decimal);

impl Amount {
    pub const MAX_CHARS: usize = 50;
    pub const ZERO: Amount = Amount(Decimal::ZERO);
    /// The largest amount of any field: 10^15 yuan (10^17 cents: an `i64`
    /// holds 92 times that). Far above any guarantee; a business cap
    /// (`ingress.max_amount`) refuses much less.
    pub const MAX: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

    fn bounded(d: Decimal) -> Result<Self, Rule> {
        if d.is_sign_negative() && !d.is_zero() || d > Self::MAX {
            return Err(Rule::NotAmount);
        }
        Ok(Self(d))
    }

    /// Rounds half-up to cents. For computed amounts (premiums).
    pub fn from_decimal_rounded(d: Decimal) -> Result<Self, Rule> {
        Self::bounded(
            d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        )
    }

    pub fn value(&self) -> Decimal {
        self.0
    }

    pub fn is_positive(&self) -> bool {
        self.0 > Decimal::ZERO
    }

    /// `Ok` when positive, else [`Rule::NotPositive`].
    pub fn positive(self) -> Result<Self, Rule> {
        if self.is_positive() {
            Ok(self)
        } else {
            Err(Rule::NotPositive)
        }
    }

    /// The amount in cents (fen), for storage and sums. Always `Some` for
    /// an `Amount` (it is at most [`Amount::MAX`]); checked all the same.
    pub fn to_cents(&self) -> Option<i64> {
        use rust_decimal::prelude::ToPrimitive;
        self.0
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|c| c.trunc().to_i64())
    }

    /// The amount of `cents` fen.
    pub fn from_cents(cents: i64) -> Result<Self, Rule> {
        if cents < 0 {
            return Err(Rule::NotAmount);
        }
        Self::bounded(Decimal::new(cents, 2))
    }

    /// The amount with exactly two fraction digits (`200000.00`).
    pub fn to_cents_string(&self) -> String {
        let mut d = self.0;
        d.rescale(2);
        d.to_string()
    }
}

impl TryFrom<&str> for Amount {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        let t = bounded(s, Self::MAX_CHARS)?;
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (t, None),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Rule::NotAmount);
        }
        if let Some(f) = frac {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Rule::NotAmount);
            }
            if f.len() > 2 {
                return Err(Rule::TooManyFractionDigits);
            }
        }
        Decimal::from_str(t)
            .map_err(|_| Rule::NotAmount)
            .and_then(Self::bounded)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

text_serde!(Amount);

/// `rate`: a decimal fraction between 0 and 1 (e.g. `0.0015`), at most 50
/// characters and 10 fraction digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rate(Decimal);

impl Rate {
    pub const ZERO: Rate = Rate(Decimal::ZERO);

    pub fn new(d: Decimal) -> Result<Self, Rule> {
        if d < Decimal::ZERO || d > Decimal::ONE || d.scale() > 10 {
            return Err(Rule::NotRate);
        }
        Ok(Self(d.normalize()))
    }
    pub fn value(&self) -> Decimal {
        self.0
    }
}

impl TryFrom<&str> for Rate {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        let t = bounded(s, 50)?;
        if !t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            || t.starts_with('.')
            || t.ends_with('.')
            || t.bytes().filter(|&b| b == b'.').count() > 1
        {
            return Err(Rule::NotRate);
        }
        let d = Decimal::from_str(t).map_err(|_| Rule::NotRate)?;
        if d > Decimal::ONE || d.scale() > 10 {
            return Err(Rule::NotRate);
        }
        Ok(Self(d))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rate({})", self.0)
    }
}

text_serde!(Rate);

/// China Standard Time, the zone of every time on the wire.
pub fn cst() -> FixedOffset {
    // 8 hours is always a valid offset.
    use chrono::Offset as _;
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// A time on the wire: `yyyy-MM-dd HH:mm:ss` in China Standard Time. Held in
/// UTC (storage is UTC); shown in CST.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WireTime(DateTime<Utc>);

impl WireTime {
    pub fn from_utc(t: DateTime<Utc>) -> Self {
        // The wire has whole seconds only.
        Self(t - chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos())))
    }
    pub fn now() -> Self {
        Self::from_utc(Utc::now())
    }
    pub fn utc(&self) -> DateTime<Utc> {
        self.0
    }
    pub fn cst(&self) -> DateTime<FixedOffset> {
        self.0.with_timezone(&cst())
    }
}

impl TryFrom<&str> for WireTime {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        let t = trimmed(s)?;
        // Exactly 19 characters, zero-padded: chrono alone would take `2025-1-5`.
        let b = t.as_bytes();
        let shape_ok = b.len() == 19
            && b.iter().enumerate().all(|(i, &c)| match i {
                4 | 7 => c == b'-',
                10 => c == b' ',
                13 | 16 => c == b':',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(Rule::NotTime);
        }
        let naive =
            NaiveDateTime::parse_from_str(t, WIRE_TIME_FORMAT).map_err(|_| Rule::NotTime)?;
        let local = cst()
            .from_local_datetime(&naive)
            .single()
            .ok_or(Rule::NotTime)?;
        Ok(Self(local.with_timezone(&Utc)))
    }
}

impl fmt::Display for WireTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cst().format(WIRE_TIME_FORMAT))
    }
}

impl fmt::Debug for WireTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WireTime({self} CST)")
    }
}

text_serde!(WireTime);

/// `bidvalid`: the bid validity in whole days, 1 to 3650.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BidValidDays(u16);

impl BidValidDays {
    pub fn days(&self) -> u16 {
        self.0
    }
}

impl TryFrom<&str> for BidValidDays {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        let t = bounded(s, 10)?;
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Rule::NotDays);
        }
        match t.parse::<u16>() {
            Ok(d) if (1..=3650).contains(&d) => Ok(Self(d)),
            _ => Err(Rule::NotDays),
        }
    }
}

impl fmt::Display for BidValidDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

text_serde!(BidValidDays);

/// An absolute http or https URL of at most `MAX` characters
/// (`baohanurl`, `invoiceurl`, `premiumurl`, `filelist[].fileurl`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl<const MAX: usize>(String);

impl<const MAX: usize> HttpUrl<MAX> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> TryFrom<&str> for HttpUrl<MAX> {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        let t = bounded(s, MAX)?;
        let scheme: String = t.chars().take(8).collect::<String>().to_ascii_lowercase();
        let rest = if scheme.starts_with("https://") {
            &t[8..]
        } else if scheme.starts_with("http://") {
            &t[7..]
        } else {
            return Err(Rule::BadUrl);
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Rule::BadUrl);
        }
        Ok(Self(t.to_owned()))
    }
}

impl<const MAX: usize> fmt::Display for HttpUrl<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> fmt::Debug for HttpUrl<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<const MAX: usize> serde::Serialize for HttpUrl<MAX> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MAX: usize> serde::Deserialize<'de> for HttpUrl<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::try_from(s.as_str())
            .map_err(|rule| serde::de::Error::custom(crate::error::FieldError::new("url", rule)))
    }
}

/// One entry of `filelist`: `{"fileurl": "..."}`.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct FileRef {
    pub fileurl: HttpUrl<1000>,
}
