//! `[institution]`: who we are, as printed on guarantees and sent in
//! `baohannotice`.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::Problems;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionSettings {
    /// `instname`: the issuer's name.
    pub name: String,
    /// `instcode`: the issuer's unified social credit code.
    pub code: String,
    /// The SM2 private key that signs guarantees, 64 hex digits. When absent,
    /// a development key is generated at first start and kept in the database.
    #[serde(default)]
    pub sm2_private_key: Option<SecretString>,
}

impl std::fmt::Debug for InstitutionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstitutionSettings")
            .field("name", &self.name)
            .field("code", &self.code)
            .field(
                "sm2_private_key",
                &self.sm2_private_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl InstitutionSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            p.push("institution.name", "1 to 200 characters");
        }
        if !gw_protocol::types::gb32100_valid(&self.code) {
            p.push(
                "institution.code",
                "not a valid unified social credit code (GB 32100)",
            );
        }
        if let Some(k) = &self.sm2_private_key {
            let k = k.expose_secret();
            if k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit()) {
                p.push("institution.sm2_private_key", "64 hex digits");
            }
        }
    }
}
