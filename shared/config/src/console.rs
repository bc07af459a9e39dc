//! `[console]`: the operator console (a web page behind the admin token).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Where the console listens (an admin address: keep it off the
    /// public network, like the admin APIs).
    pub listen: SocketAddr,
    /// How long a sign-in lasts before the operator signs in again.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (the console is reached over
    /// HTTPS, e.g. behind the cluster's ingress). Off only for plain HTTP
    /// on a workstation.
    pub secure_cookie: bool,
}

impl ConsoleSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.session_ttl < Duration::from_secs(60) {
            p.push("console.session_ttl", "must be at least 1 minute");
        }
        if self.session_ttl > Duration::from_secs(24 * 3600) {
            p.push("console.session_ttl", "must be at most 24 hours");
        }
    }
}
