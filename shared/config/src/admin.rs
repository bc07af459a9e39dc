//! `[admin]`: the operators' admin APIs (egress, underwriting, payment).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::Problems;

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Bearer token of every admin API (at least 16 characters). Empty
    /// disables the admin APIs: every call is refused.
    #[serde(default = "empty_secret")]
    pub token: SecretString,
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminSettings { token: <redacted> }")
    }
}

impl AdminSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        let token = self.token.expose_secret();
        if !token.is_empty() && token.chars().count() < 16 {
            p.push(
                "admin.token",
                "at least 16 characters (or empty to disable the admin APIs)",
            );
        }
    }
}
