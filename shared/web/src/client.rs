//! The client's address behind reverse proxies.
//!
//! The counterpart allow-list, the `/verify` rate limit and the console's
//! sign-in limit must see the caller's address, not the ingress
//! controller's. `X-Forwarded-For` is believed only when the connection
//! comes from a configured trusted proxy (`http.trusted_proxies`); then the
//! client is the right-most address in the header that is not itself a
//! trusted proxy (each proxy appends the address it saw, so addresses to
//! the left of the last untrusted one may be forged by the caller).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The caller's address: `peer` itself unless it is a trusted proxy.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = canonical(peer.ip());
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter_map(|a| a.parse::<IpAddr>().ok().map(canonical))
        .collect();
    // Right to left: the first address no trusted proxy vouches for; if
    // every one is a proxy, the left-most.
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key a per-client limit counts under: the IPv4 address, or the /64
/// an IPv6 address belongs to (one subscriber holds a whole /64, and
/// could otherwise take a fresh address for every request).
pub fn rate_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn peer(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().unwrap(), 443)
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let ip = client_ip(peer("10.0.0.5"), &headers(&["203.0.113.7"]), &[]);
        assert_eq!(ip.to_string(), "10.0.0.5");
    }

    #[test]
    fn from_an_untrusted_peer_the_header_is_ignored() {
        let ip = client_ip(
            peer("198.51.100.9"),
            &headers(&["203.0.113.7"]),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(ip.to_string(), "198.51.100.9");
    }

    #[test]
    fn from_a_trusted_proxy_the_last_untrusted_address_is_the_client() {
        // The caller forged 1.2.3.4; the controller appended what it saw.
        let ip = client_ip(
            peer("10.0.0.5"),
            &headers(&["1.2.3.4, 203.0.113.7", "10.0.0.9"]),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(ip.to_string(), "203.0.113.7");
    }

    #[test]
    fn a_chain_of_trusted_proxies_gives_the_left_most() {
        let ip = client_ip(
            peer("10.0.0.5"),
            &headers(&["10.0.0.7, 10.0.0.8"]),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(ip.to_string(), "10.0.0.7");
    }

    #[test]
    fn a_trusted_proxy_without_the_header_is_the_client() {
        let ip = client_ip(
            peer("10.0.0.5"),
            &headers(&["garbage"]),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(ip.to_string(), "10.0.0.5");
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let a = rate_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = rate_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = rate_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(rate_key("203.0.113.7".parse().unwrap()), "203.0.113.7");
        let mapped = client_ip(peer("::ffff:203.0.113.7"), &HeaderMap::new(), &[]);
        assert_eq!(mapped.to_string(), "203.0.113.7");
    }
}
