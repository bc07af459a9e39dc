//! `[ingress]`: the inbound API the platform calls.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressSettings {
    pub listen: SocketAddr,
    /// The operators' port: `/metrics`, dead letters, operation records.
    pub admin_listen: SocketAddr,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Sustained requests per second allowed per appkey, per replica:
    /// overload protection, not a quota. The platform is one appkey, so
    /// this is sized above what a replica takes (about 9 000 to 12 000
    /// `baohanapply` a second on 2 cores, `bench ingress`), not below what
    /// a bid deadline sends.
    pub rate_limit_per_second: u32,
    /// Burst allowed per appkey above the sustained rate.
    pub rate_limit_burst: u32,
    /// The largest amount a request may carry (`bzjamount`, `amount`,
    /// `applymount`); larger is refused as `<field> 不是合法金额`.
    pub max_amount: gw_protocol::Amount,
}

impl IngressSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.body_limit_bytes < 1024 {
            p.push("ingress.body_limit_bytes", "must be at least 1024");
        }
        if self.request_timeout.is_zero() {
            p.push("ingress.request_timeout", "must be positive");
        }
        if !self.max_amount.is_positive() {
            p.push("ingress.max_amount", "must be positive");
        }
        if self.rate_limit_per_second == 0 || self.rate_limit_burst == 0 {
            p.push(
                "ingress.rate_limit_per_second and rate_limit_burst",
                "must be at least 1",
            );
        }
    }
}
