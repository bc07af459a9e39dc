//! The request signature that our outbound notices carry.
//!
//! Headers `timestamp` (milliseconds since the Unix epoch, as decimal text)
//! and `sign` (lowercase hex of HMAC-SM3 over the exact request body bytes,
//! keyed with the appsecret's UTF-8 bytes). The standard does not ask for
//! them; a platform that checks them can, and one that does not is unaffected.

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

type HmacSm3 = hmac::Hmac<sm3::Sm3>;

/// Lowercase hex HMAC-SM3 of `body` under `secret`.
pub fn hmac_sm3_hex(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac_sm3(secret, body))
}

/// Raw HMAC-SM3 of `body` under `secret`.
pub fn hmac_sm3(secret: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <HmacSm3 as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` only fails for fixed-size keys, never for HMAC.
    panic!("HMAC accepts keys of any length")
}

/// Checks a hex signature in constant time.
pub fn verify_hmac_sm3_hex(secret: &[u8], body: &[u8], sign_hex: &str) -> bool {
    match hex::decode(sign_hex.trim()) {
        Ok(given) => given.ct_eq(&hmac_sm3(secret, body)).into(),
        Err(_) => false,
    }
}

/// Lowercase hex SM3 digest.
pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(sm3_digest(data))
}

/// Raw SM3 digest.
pub fn sm3_digest(data: &[u8]) -> [u8; 32] {
    use sm3::Digest;
    sm3::Sm3::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_standard_vector_abc() {
        // GB/T 32905 example 1.
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn hmac_verifies_and_rejects_tampering() {
        let sig = hmac_sm3_hex(b"hn2025guarantee1", b"body");
        assert_eq!(sig.len(), 64);
        assert!(verify_hmac_sm3_hex(b"hn2025guarantee1", b"body", &sig));
        assert!(verify_hmac_sm3_hex(
            b"hn2025guarantee1",
            b"body",
            &sig.to_uppercase()
        ));
        assert!(!verify_hmac_sm3_hex(b"hn2025guarantee1", b"bodY", &sig));
        assert!(!verify_hmac_sm3_hex(b"other-secret0000", b"body", &sig));
        assert!(!verify_hmac_sm3_hex(b"hn2025guarantee1", b"body", "zz"));
    }
}
