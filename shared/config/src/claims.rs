//! `[claims]`: refunds, claims, write-offs and the expiry sweep.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsSettings {
    /// Admin API: claims, and the bank's confirmation of a payout.
    pub admin_listen: SocketAddr,
    /// Pay an approved claim at once (`claimnotice` immediately) instead of
    /// waiting for the bank's confirmation on `claims.payout_confirmations`.
    pub auto_payout: bool,
    /// How often guarantees whose validity ended are written off.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
}

impl ClaimsSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.sweep_interval.is_zero() {
            p.push("claims.sweep_interval", "must be positive");
        }
    }
}
