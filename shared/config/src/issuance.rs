//! `[issuance]`: verification (验真).

use std::net::SocketAddr;

use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuanceSettings {
    /// Public address of the verification service (`/verify`).
    pub listen: SocketAddr,
    /// Admin API: verification records (验真记录).
    pub admin_listen: SocketAddr,
    /// Verification lookups allowed per client address per minute.
    pub verify_per_minute: u32,
    /// File verifications (`POST /verify/file`) hashed at once per replica;
    /// more are answered 503 at once.
    pub verify_file_concurrency: u32,
}

impl IssuanceSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.verify_per_minute == 0 {
            p.push("issuance.verify_per_minute", "at least 1");
        }
        if self.verify_file_concurrency == 0 {
            p.push("issuance.verify_file_concurrency", "at least 1");
        }
    }
}
