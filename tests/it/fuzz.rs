//! Fuzzing what the platform sends: decrypt + parse of the 8 inbound
//! interfaces, on the stable toolchain (bolero's random engine, run by the
//! normal test harness).
//!
//! Inputs are generated four ways, so that most of them get past the
//! cipher: raw bytes as a body; garbage encrypted with the right key; a
//! valid request with fields replaced, removed or retyped, encrypted; a
//! valid request's text with bytes flipped, inserted or cut, encrypted.
//! Whatever comes in must be refused with a typed error or parse into a
//! request that serialises back to itself; nothing may panic.
//!
//! CI runs 20 000 inputs. The long run (README, "Fuzzing"):
//! `BOLERO_RANDOM_ITERATIONS=10000000 cargo test --release -p gw-tests --test it fuzz:: -- --nocapture`

use bolero::generator::TypeGenerator;
use gw_envelope::Sm4Key;
use gw_protocol::{Inbound, Interface};
use gw_tests::APPSECRET;
use serde_json::Value;

#[derive(Debug, TypeGenerator)]
enum FieldChange {
    Remove,
    Text(String),
    Number(i64),
    Float(f64),
    Null,
    Bool(bool),
    Array(Vec<u8>),
    Digits(u64, u8),
}

#[derive(Debug, TypeGenerator)]
enum ByteChange {
    Flip(u16, u8),
    Insert(u16, u8),
    Cut(u16, u8),
}

#[derive(Debug, TypeGenerator)]
enum Input {
    /// These bytes as the body.
    Raw(Vec<u8>),
    /// These bytes encrypted with the counterpart's key.
    Encrypted(Vec<u8>),
    /// A valid request of interface `i` with fields changed.
    Fields(u8, Vec<(u8, FieldChange)>),
    /// A valid request's JSON text with bytes changed.
    Bytes(u8, Vec<ByteChange>),
}

fn interface(i: u8) -> Interface {
    Interface::INBOUND[usize::from(i) % Interface::INBOUND.len()]
}

fn sample(i: Interface) -> Value {
    gw_tests::samples::request(i, "TB202511280001")
}

fn changed(i: Interface, changes: &[(u8, FieldChange)]) -> String {
    let mut v = sample(i);
    let keys: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for (k, c) in changes {
        let key = keys[usize::from(*k) % keys.len()].clone();
        let Some(o) = v.as_object_mut() else { break };
        match c {
            FieldChange::Remove => {
                o.remove(&key);
            }
            FieldChange::Text(s) => {
                o.insert(key, Value::String(s.clone()));
            }
            FieldChange::Number(n) => {
                o.insert(key, (*n).into());
            }
            FieldChange::Float(f) => {
                o.insert(key, serde_json::json!(f));
            }
            FieldChange::Null => {
                o.insert(key, Value::Null);
            }
            FieldChange::Bool(b) => {
                o.insert(key, Value::Bool(*b));
            }
            FieldChange::Array(items) => {
                o.insert(key, serde_json::json!(items));
            }
            FieldChange::Digits(n, dp) => {
                let s = format!("{n}");
                let cut = usize::from(*dp) % (s.len() + 1);
                o.insert(
                    key,
                    Value::String(format!("{}.{}", &s[..s.len() - cut], &s[s.len() - cut..])),
                );
            }
        }
    }
    v.to_string()
}

fn mangled(i: Interface, changes: &[ByteChange]) -> Vec<u8> {
    let mut b = sample(i).to_string().into_bytes();
    for c in changes {
        let at = |p: &u16, len: usize| usize::from(*p) % (len + 1);
        match c {
            ByteChange::Flip(p, x) if !b.is_empty() => {
                let j = usize::from(*p) % b.len();
                b[j] ^= *x;
            }
            ByteChange::Insert(p, x) => {
                let j = at(p, b.len());
                b.insert(j, *x);
            }
            ByteChange::Cut(p, n) => {
                let j = at(p, b.len());
                let end = (j + usize::from(*n)).min(b.len());
                b.drain(j..end);
            }
            ByteChange::Flip(..) => {}
        }
    }
    b
}

/// How far the inputs got.
#[derive(Default)]
struct Reached {
    decrypted: std::sync::atomic::AtomicU64,
    parsed: std::sync::atomic::AtomicU64,
}

/// One input through decrypt and parse.
fn exercise(key: &Sm4Key, input: &Input, reached: &Reached) {
    use std::sync::atomic::Ordering::Relaxed;
    let (i, body) = match input {
        Input::Raw(b) => (Interface::BaohanApply, b.clone()),
        Input::Encrypted(b) => (
            Interface::ClaimApply,
            hex::encode(key.encrypt_bytes(b)).into_bytes(),
        ),
        Input::Fields(i, c) => {
            let i = interface(*i);
            (i, key.encrypt_hex(&changed(i, c)).into_bytes())
        }
        Input::Bytes(i, c) => {
            let i = interface(*i);
            (
                i,
                hex::encode(key.encrypt_bytes(&mangled(i, c))).into_bytes(),
            )
        }
    };
    let Ok(plaintext) = key.decrypt_body(&body) else {
        return;
    };
    reached.decrypted.fetch_add(1, Relaxed);
    if let Ok(request) = Inbound::parse(i, &plaintext) {
        reached.parsed.fetch_add(1, Relaxed);
        // Accepted: it is what it says, and what we forward reads the same.
        assert_eq!(request.interface(), i);
        assert!(!request.applyno().as_str().is_empty());
        let again = Inbound::from_value(i, request.to_json()).expect("re-parses");
        assert_eq!(again.to_json(), request.to_json());
        for (_, amount) in request.amounts() {
            assert!(amount.to_cents().is_some());
        }
    }
}

#[test]
fn decrypt_and_parse_every_inbound_interface() {
    let key = Sm4Key::from_appsecret(APPSECRET).unwrap();
    let runs = std::env::var("BOLERO_RANDOM_ITERATIONS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(20_000);
    let started = std::time::Instant::now();
    let reached = Reached::default();
    bolero::check!()
        .with_type::<Input>()
        .with_iterations(runs)
        .for_each(|input| exercise(&key, input, &reached));
    let (d, p) = (reached.decrypted.into_inner(), reached.parsed.into_inner());
    println!(
        "fuzz: {runs} inputs in {:.1} s: {d} decrypted, {p} parsed and round-tripped; no failure",
        started.elapsed().as_secs_f64()
    );
    assert!(d > 0 && p > 0, "the generator reaches the parser");
}
