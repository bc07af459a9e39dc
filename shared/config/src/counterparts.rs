//! The platforms we serve, with their SM4 keys built once at start-up.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use gw_envelope::Sm4Key;
use gw_protocol::CounterpartName;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::duration::string_or_list;

/// One platform as configured (`[counterparts.<name>]`). Becomes a
/// [`Counterpart`] (with its SM4 key built once) when the settings load.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterpartSettings {
    pub appkey: String,
    /// The 16-character SM4 key the platform issued.
    pub appsecret: SecretString,
    /// The key being replaced, during a rotation's overlap: calls and files
    /// from the platform are read with either key (the current one first);
    /// what we send uses `appsecret` only. Remove it once the platform has
    /// switched.
    #[serde(default)]
    pub previous_appsecret: Option<SecretString>,
    /// Where its notice interfaces live, e.g. `http://218.76.24.212:19980`.
    pub notice_base_url: url::Url,
    /// Source networks allowed to call us as this counterpart; empty = any.
    #[serde(default, deserialize_with = "string_or_list")]
    pub allowed_networks: Vec<String>,
    /// Hosts (`host` or `host:port`) we may download its files from; empty =
    /// the host of `notice_base_url`.
    #[serde(default, deserialize_with = "string_or_list")]
    pub file_hosts: Vec<String>,
}

impl std::fmt::Debug for CounterpartSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterpartSettings")
            .field("appkey", &self.appkey)
            .field("appsecret", &"<redacted>")
            .field(
                "previous_appsecret",
                &self.previous_appsecret.as_ref().map(|_| "<redacted>"),
            )
            .field("notice_base_url", &self.notice_base_url.as_str())
            .field("allowed_networks", &self.allowed_networks)
            .field("file_hosts", &self.file_hosts)
            .finish()
    }
}

/// One platform: who it is, its key, and where its notices go.
pub struct Counterpart {
    pub name: CounterpartName,
    pub appkey: String,
    /// Kept for the HMAC-SM3 `sign` header; never printed.
    pub appsecret: SecretString,
    pub key: Sm4Key,
    /// `previous_appsecret`'s key, during a rotation.
    pub previous_key: Option<Sm4Key>,
    pub notice_base_url: url::Url,
    pub allowed_networks: Vec<IpNet>,
    /// `host` or `host:port` entries files may be fetched from.
    pub file_hosts: Vec<String>,
    appkey_digest: [u8; 32],
}

impl std::fmt::Debug for Counterpart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counterpart")
            .field("name", &self.name)
            .field("appkey", &self.appkey)
            .field("notice_base_url", &self.notice_base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Counterpart {
    /// Whether a caller at `ip` may speak as this counterpart.
    /// The keys what the platform sends may be encrypted with: the
    /// current one, then the previous one during a rotation.
    pub fn read_keys(&self) -> impl Iterator<Item = &Sm4Key> {
        std::iter::once(&self.key).chain(self.previous_key.as_ref())
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allowed_networks.is_empty() || self.allowed_networks.iter().any(|n| n.contains(&ip))
    }

    /// The URL of one of its notice interfaces, e.g. `.../v1/gua/tb/paynotice`.
    pub fn notice_url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.notice_base_url.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// Whether files may be fetched from `host` (and `port`, when given).
    pub fn file_host_allowed(&self, host: &str, port: Option<u16>) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let matches = |entry: &str| -> bool {
            let entry = entry.to_ascii_lowercase();
            // `host:port` (IPv6 as `[::1]:port`) or just `host`.
            if let Some((h, p)) = entry.rsplit_once(':')
                && !h.ends_with(':')
                && let Ok(p) = p.parse::<u16>()
            {
                return h.trim_start_matches('[').trim_end_matches(']') == host && Some(p) == port;
            }
            entry.trim_start_matches('[').trim_end_matches(']') == host
        };
        if self.file_hosts.is_empty() {
            let own = self
                .notice_base_url
                .host_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            return own.trim_start_matches('[').trim_end_matches(']') == host
                && port == self.notice_base_url.port_or_known_default();
        }
        self.file_hosts.iter().any(|e| matches(e))
    }

    pub fn appsecret_bytes(&self) -> &[u8] {
        self.appsecret.expose_secret().as_bytes()
    }
}

/// All configured counterparts, found by appkey in constant time.
#[derive(Debug, Clone, Default)]
pub struct Counterparts {
    list: Vec<Arc<Counterpart>>,
}

fn digest(s: &str) -> [u8; 32] {
    gw_envelope::sign::sm3_digest(s.as_bytes())
}

impl Counterparts {
    /// Builds every counterpart, or lists every problem found.
    pub fn from_settings(
        settings: &BTreeMap<String, CounterpartSettings>,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut list = Vec::new();
        for (name, c) in settings {
            let at = format!("counterparts.{name}");
            let typed_name = CounterpartName::try_from(name.as_str());
            if typed_name.is_err() {
                problems.push(format!(
                    "{at}: the name may hold letters, digits, '-' and '_' only (1 to 64)"
                ));
            }
            if c.appkey.trim().is_empty() {
                problems.push(format!("{at}.appkey: must not be empty"));
            }
            let key = match Sm4Key::from_appsecret(c.appsecret.expose_secret()) {
                Ok(k) => Some(k),
                Err(e) => {
                    problems.push(format!("{at}.appsecret: {e}"));
                    None
                }
            };
            let previous_key = match &c.previous_appsecret {
                None => None,
                Some(p) if p.expose_secret() == c.appsecret.expose_secret() => {
                    problems.push(format!(
                        "{at}.previous_appsecret: the same as appsecret (remove it, or set the new key as appsecret)"
                    ));
                    None
                }
                Some(p) => match Sm4Key::from_appsecret(p.expose_secret()) {
                    Ok(k) => Some(k),
                    Err(e) => {
                        problems.push(format!("{at}.previous_appsecret: {e}"));
                        None
                    }
                },
            };
            if !matches!(c.notice_base_url.scheme(), "http" | "https")
                || c.notice_base_url.host().is_none()
            {
                problems.push(format!(
                    "{at}.notice_base_url: must be an http(s) URL with a host"
                ));
            }
            let mut nets = Vec::new();
            for n in &c.allowed_networks {
                match n
                    .parse::<IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                {
                    Ok(net) => nets.push(net),
                    Err(_) => problems.push(format!(
                        "{at}.allowed_networks: {n:?} is not an IP address or CIDR network"
                    )),
                }
            }
            for h in &c.file_hosts {
                if h.trim().is_empty() || h.contains('/') || h.contains(char::is_whitespace) {
                    problems.push(format!("{at}.file_hosts: {h:?} is not a host or host:port"));
                }
            }
            if let (Some(key), Ok(name)) = (key, typed_name) {
                list.push(Arc::new(Counterpart {
                    name,
                    appkey: c.appkey.clone(),
                    appsecret: c.appsecret.clone(),
                    key,
                    previous_key,
                    notice_base_url: c.notice_base_url.clone(),
                    allowed_networks: nets,
                    file_hosts: c.file_hosts.clone(),
                    appkey_digest: digest(&c.appkey),
                }));
            }
        }
        let names: Vec<(&String, &CounterpartSettings)> = settings.iter().collect();
        for (i, (name, a)) in names.iter().enumerate() {
            if names[..i].iter().any(|(_, b)| b.appkey == a.appkey) {
                problems.push(format!(
                    "counterparts.{name}.appkey: the same appkey is configured twice"
                ));
            }
        }
        if problems.is_empty() {
            Ok(Self { list })
        } else {
            Err(problems)
        }
    }

    /// The counterpart with this appkey. Compares fixed-length digests of every
    /// configured appkey without stopping early, so timing does not reveal how
    /// much of a guessed appkey was right.
    pub fn by_appkey(&self, appkey: &str) -> Option<Arc<Counterpart>> {
        let given = digest(appkey);
        let mut found = None;
        for c in &self.list {
            if bool::from(c.appkey_digest.ct_eq(&given)) {
                found = Some(c.clone());
            }
        }
        found
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<Counterpart>> {
        self.list.iter().find(|c| c.name.as_str() == name).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Counterpart>> {
        self.list.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
