//! `[http]`: what every HTTP listener shares.

use std::net::IpAddr;

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
