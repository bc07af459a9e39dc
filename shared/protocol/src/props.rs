//! Properties, checked on generated inputs (proptest): parsing never panics
//! and either refuses with a named field or gives a value that serialises
//! back to what the wire may carry; amounts, times and masking keep their
//! rules on any input.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::mask::{PiiKind, mask};
use crate::tests::sample;

/// A JSON value of any shape, with strings that look like the wire's.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,60}".prop_map(Value::String),
        "[0-9]{1,30}(\\.[0-9]{0,4})?".prop_map(Value::String),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn inbound() -> impl Strategy<Value = Interface> {
    prop::sample::select(Interface::INBOUND.to_vec())
}

proptest! {
    /// A valid request with one field replaced by anything: refused naming
    /// a field, or accepted and carried back out unchanged in meaning.
    #[test]
    fn a_request_with_any_field_changed_parses_or_names_a_field(
        i in inbound(),
        pick in any::<prop::sample::Index>(),
        value in any_value(),
    ) {
        let mut v = sample(i);
        let keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        let key = pick.get(&keys).clone();
        v[&key] = value;
        match Inbound::from_value(i, v) {
            Ok(m) => {
                prop_assert_eq!(m.interface(), i);
                // What we would forward parses again to the same thing.
                let again = Inbound::from_value(i, m.to_json()).unwrap();
                prop_assert_eq!(again.to_json(), m.to_json());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    /// Any text at all: parsed or refused, never a panic.
    #[test]
    fn any_text_is_parsed_or_refused(i in inbound(), text in "\\PC{0,400}") {
        let _ = Inbound::parse(i, &text);
    }

    /// Any JSON object: parsed or refused, never a panic.
    #[test]
    fn any_object_is_parsed_or_refused(i in inbound(), v in any_value()) {
        let _ = Inbound::from_value(i, v);
    }

    /// An amount with at most two decimals below the ceiling parses, prints
    /// back as itself (up to trailing zeros), and has cents that agree.
    #[test]
    fn amounts_round_trip_through_cents(cents in 0i64..100_000_000_000_000_000) {
        let a = Amount::from_cents(cents).unwrap();
        prop_assert_eq!(a.to_cents(), Some(cents));
        let parsed = Amount::try_from(a.to_cents_string().as_str()).unwrap();
        prop_assert_eq!(parsed, a);
        prop_assert_eq!(parsed.to_cents(), Some(cents));
    }

    /// Any string: an amount or refused; never a panic, and an accepted one
    /// always has cents.
    #[test]
    fn any_string_is_an_amount_or_refused(s in "\\PC{0,60}|[0-9]{1,40}(\\.[0-9]{1,3})?") {
        if let Ok(a) = Amount::try_from(s.as_str()) {
            prop_assert!(a.to_cents().is_some());
            prop_assert!(a.value() <= Amount::MAX);
        }
    }

    /// Every second of every day round-trips through the wire form.
    #[test]
    fn wire_times_round_trip(secs in 0i64..4_102_444_800) {
        let t = WireTime::from_utc(chrono::DateTime::from_timestamp(secs, 0).unwrap());
        let text = t.to_string();
        prop_assert_eq!(text.len(), 19);
        prop_assert_eq!(WireTime::try_from(text.as_str()).unwrap(), t);
    }

    /// Any string: a time or refused, never a panic.
    #[test]
    fn any_string_is_a_time_or_refused(s in "\\PC{0,25}|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}") {
        if let Ok(t) = WireTime::try_from(s.as_str()) {
            prop_assert_eq!(t.to_string(), s.trim());
        }
    }

    /// A masked phone or account number keeps its length and never shows
    /// its middle.
    #[test]
    fn masking_hides_the_middle(digits in "[0-9]{8,24}") {
        for (kind, head, tail) in [(PiiKind::Phone, 3, 4), (PiiKind::Account, 4, 4)] {
            let m = mask(kind, &digits);
            prop_assert_eq!(m.chars().count(), digits.chars().count());
            let middle = &digits[head..digits.len() - tail];
            prop_assert!(m[head..m.len() - tail].chars().all(|c| c == '*'));
            prop_assert!(middle.len() < 4 || !m.contains(middle));
        }
    }

    /// Masking any value of any kind never panics and never returns the
    /// value itself when it has more than one character (a value already
    /// starred where the mask puts stars would come back as it was).
    #[test]
    fn masking_never_returns_the_value(s in "[^*\\p{C}]{2,40}") {
        for kind in [PiiKind::Name, PiiKind::Phone, PiiKind::Account, PiiKind::Email, PiiKind::Address, PiiKind::Ip] {
            let m = mask(kind, &s);
            prop_assert_ne!(&m, &s, "{:?}", kind);
        }
    }
}
