//! The institution's SM2 key: it signs the SM3 digest of every guarantee PDF.
//!
//! The key comes from `institution.sm2_private_key` (64 hex digits). When
//! none is configured (development, the embedded mode), a key is generated
//! at first start and kept in the database, so every replica and restart
//! signs with the same one; a warning says so.

use anyhow::Context;
use gw_config::Settings;
use gw_storage::Db;
use gw_storage::guarantees;
use secrecy::ExposeSecret;
use sm2::dsa::signature::{Signer as _, Verifier as _};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};

/// The GM/T 0009 default user id, used as SM2's distinguishing identifier.
pub const DIST_ID: &str = "1234567812345678";
const DEV_KEY: &str = "development";

#[derive(Clone)]
pub struct Signer {
    signing: SigningKey,
    verifying: VerifyingKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(public {})", self.public_hex())
    }
}

impl Signer {
    pub fn from_private_hex(hex_key: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(hex_key.trim()).context("the SM2 key is not hex")?;
        let signing = SigningKey::from_slice(DIST_ID, &bytes)
            .map_err(|_| anyhow::anyhow!("not a valid SM2 private key"))?;
        let verifying = signing.verifying_key().clone();
        Ok(Self { signing, verifying })
    }

    /// The configured key, or the kept development key (made if missing).
    pub async fn load(settings: &Settings, db: &Db) -> anyhow::Result<Self> {
        if let Some(k) = &settings.institution.sm2_private_key {
            return Self::from_private_hex(k.expose_secret())
                .context("institution.sm2_private_key");
        }
        let row = match guarantees::signing_key(db.conn(), DEV_KEY).await? {
            Some(row) => row,
            None => {
                let secret = <sm2::SecretKey as sm2::elliptic_curve::Generate>::generate();
                let fresh = Self::from_private_hex(&hex::encode(secret.to_bytes()))?;
                guarantees::keep_signing_key(
                    db.conn(),
                    DEV_KEY,
                    &hex::encode(secret.to_bytes()),
                    &fresh.public_hex(),
                )
                .await?
            }
        };
        tracing::warn!(public_key = %row.public_key_hex, "no institution.sm2_private_key configured: signing with the development key kept in the database");
        Self::from_private_hex(&row.private_key_hex)
    }

    /// The public key, SEC1 uncompressed, in hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.verifying.to_sec1_bytes())
    }

    /// SM2 signature (r || s, hex) over the digest.
    pub fn sign(&self, digest: &[u8]) -> String {
        let sig: Signature = self.signing.sign(digest);
        hex::encode(sig.to_bytes())
    }

    /// Whether `sig_hex` is our signature over `digest`.
    pub fn verify(&self, digest: &[u8], sig_hex: &str) -> bool {
        let Ok(bytes) = hex::decode(sig_hex) else {
            return false;
        };
        let Ok(sig) = Signature::try_from(bytes.as_slice()) else {
            return false;
        };
        self.verifying.verify(digest, &sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_does_not() {
        let s = Signer::from_private_hex(
            "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8",
        )
        .unwrap();
        let digest = gw_envelope::sign::sm3_digest(b"%PDF-1.7 guarantee");
        let sig = s.sign(&digest);
        assert_eq!(sig.len(), 128);
        assert!(s.verify(&digest, &sig));
        let other = gw_envelope::sign::sm3_digest(b"%PDF-1.7 guarantee!");
        assert!(!s.verify(&other, &sig));
        assert!(!s.verify(&digest, "00"));
        assert!(!s.verify(&digest, "zz"));
        assert_eq!(s.public_hex().len(), 130);
    }

    #[test]
    fn a_bad_key_is_refused() {
        assert!(Signer::from_private_hex("00").is_err());
        assert!(Signer::from_private_hex(&"0".repeat(64)).is_err());
    }
}
