//! The request signature that our outbound notices carry.
//!
//! Headers `timestamp` (milliseconds since the Unix epoch, as decimal text)
//! and `sign` (lowercase hex of HMAC-SM3 over the exact request body bytes,
//! keyed with the appsecret's UTF-8 bytes). The standard does not ask for
//! them; a platform that checks them can, and one that does not is unaffected.

use subtle::ConstantTimeEq;

/// SM3's block size in bytes, for HMAC.
const SM3_BLOCK: usize = 64;

/// Lowercase hex HMAC-SM3 of `body` under `secret`.
pub fn hmac_sm3_hex(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac_sm3(secret, body))
}

/// Raw HMAC-SM3 (RFC 2104 over SM3) of `body` under `secret`.
pub fn hmac_sm3(secret: &[u8], body: &[u8]) -> [u8; 32] {
    use sm3::Digest;
    let mut key = [0u8; SM3_BLOCK];
    if secret.len() > SM3_BLOCK {
        key[..32].copy_from_slice(&sm3_digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.map(|k| k ^ byte);
    let mut inner = sm3::Sm3::new();
    inner.update(pad(0x36));
    inner.update(body);
    let mut outer = sm3::Sm3::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
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

/// An SM3 digest computed chunk by chunk: a large upload is hashed as it
/// arrives, never held in memory whole.
#[derive(Clone, Default)]
pub struct Sm3Stream {
    hasher: sm3::Sm3,
    len: u64,
}

impl Sm3Stream {
    pub fn update(&mut self, chunk: &[u8]) {
        use sm3::Digest;
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> [u8; 32] {
        use sm3::Digest;
        self.hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_digest_is_the_whole_digest() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut s = Sm3Stream::default();
        for chunk in data.chunks(777) {
            s.update(chunk);
        }
        assert_eq!(s.len(), 10_000);
        assert_eq!(s.finish(), sm3_digest(&data));
    }

    #[test]
    fn sm3_standard_vector_abc() {
        // GB/T 32905 example 1.
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn hmac_matches_the_hmac_crate() {
        use hmac::{KeyInit, Mac};
        for key in [&b"hn2025guarantee1"[..], &[7u8; 100][..], &b""[..]] {
            let mut mac = <hmac::Hmac<sm3::Sm3> as KeyInit>::new_from_slice(key).unwrap();
            mac.update(b"the body");
            let expected: [u8; 32] = mac.finalize().into_bytes().into();
            assert_eq!(hmac_sm3(key, b"the body"), expected);
        }
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
