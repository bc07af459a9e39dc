//! `[http]`: what every HTTP listener shares.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::Problems;
use crate::duration::string_or_list;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// The reverse proxies (the ingress controller, a load balancer) whose
    /// `X-Forwarded-For` is believed: addresses or CIDR networks. Empty:
    /// the connection's address is the client's, whatever a header says.
    #[serde(default, deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    /// How long a connection may wait for its next request's headers
    /// (HTTP/1): a kept-alive connection that idles this long, or a client
    /// that sends its headers this slowly, is closed. Without it every
    /// connection a client left open stayed open, with its buffers: ingress
    /// held 344 MB after 10 000 calls came on 10 000 connections at once.
    /// Above the platform client's own idle time, so that the server does
    /// not close a connection the client is about to reuse (the compose
    /// edge, nginx, uses 75 s).
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
}

fn default_idle_timeout() -> Duration {
    Duration::from_secs(75)
}

impl HttpSettings {
    /// The trusted proxies, parsed (checked at load).
    pub fn trusted(&self) -> Vec<IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|n| parse(n).ok())
            .collect()
    }

    pub(crate) fn check(&self, p: &mut Problems) {
        if self.idle_timeout < Duration::from_secs(1) {
            p.push("http.idle_timeout", "must be at least 1s");
        }
        for n in &self.trusted_proxies {
            if parse(n).is_err() {
                p.push(
                    "http.trusted_proxies",
                    &format!("{n:?} is not an IP address or CIDR network"),
                );
            }
        }
    }
}

fn parse(n: &str) -> Result<IpNet, ()> {
    let n = n.trim();
    n.parse::<IpNet>()
        .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| ())
}
