//! Downloading a platform's files (`filelist[].fileurl`) without becoming a
//! server-side request forgery tool.
//!
//! * Only `http`/`https` URLs on the counterpart's configured hosts
//!   (`file_hosts`, else the host of its notice URL) are fetched.
//! * The host is resolved once and the connection pinned to that address;
//!   an address that is loopback, private, link-local or otherwise special is
//!   refused unless that exact IP is configured (no DNS rebinding into the
//!   internal network).
//! * Redirects are followed by hand, at most 3, each target checked again.
//! * A size cap (checked against Content-Length and while streaming) and a
//!   timeout bound every download. Transient failures are retried a few
//!   times; what still fails reaches the caller as a [`FetchError`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use gw_config::Counterpart;
use gw_storage::sea_orm::TransactionTrait;

use crate::{FileKind, FileStore, NewFile, StoredFile};

const MAX_REDIRECTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not an http(s) URL: {0}")]
    BadUrl(String),
    #[error("host {0} is not configured for this counterpart")]
    HostNotAllowed(String),
    #[error("{0} resolves to a non-public address that is not configured")]
    PrivateAddress(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("network error: {0}")]
    Network(String),
    #[error("the file cannot be decrypted with the counterpart's key: {0}")]
    Decrypt(gw_envelope::DecryptError),
    #[error("cannot store the file: {0}")]
    Store(String),
}

impl FetchError {
    /// Whether trying again may help.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout(_) | FetchError::Network(_) => true,
            FetchError::Status(s) => *s >= 500 || *s == 429,
            _ => false,
        }
    }
}

/// Downloads, decrypts and stores counterpart files.
#[derive(Debug, Clone)]
pub struct Fetcher {
    pub max_bytes: u64,
    pub timeout: Duration,
    pub attempts: u32,
}

impl Fetcher {
    pub fn from_settings(s: &gw_config::FilesSettings) -> Self {
        Self {
            max_bytes: s.max_fetch_bytes,
            timeout: s.fetch_timeout,
            attempts: s.fetch_attempts.max(1),
        }
    }

    /// The decrypted file at `url`, retrying transient failures (with
    /// exponential backoff and jitter, `fetch_attempts` in all).
    pub async fn fetch(&self, cp: &Counterpart, url: &str) -> Result<Vec<u8>, FetchError> {
        use backon::{ExponentialBuilder, Retryable};
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_jitter()
            .with_max_times(usize::try_from(self.attempts.saturating_sub(1)).unwrap_or(0));
        let encrypted = (|| self.fetch_once(cp, url))
            .retry(backoff)
            .when(FetchError::is_transient)
            .notify(|e, wait| {
                tracing::warn!(url, error = %e, wait_ms = wait.as_millis(), "file download failed; retrying");
            })
            .await?;
        // The current key, then the previous one during a rotation.
        let keys: Vec<_> = cp.read_keys().cloned().collect();
        crate::cpu::run(move || {
            let mut last = None;
            for key in &keys {
                match key.decrypt_bytes(&encrypted) {
                    Ok(clear) => return Ok(clear),
                    Err(e) => last = Some(e),
                }
            }
            Err(last)
        })
        .await
        .map_err(|e| FetchError::Network(e.to_string()))?
        .map_err(|e| match e {
            Some(e) => FetchError::Decrypt(e),
            None => FetchError::Network("no key to decrypt with".into()),
        })
    }

    /// Downloads, decrypts and stores the file; returns its token.
    pub async fn fetch_and_store(
        &self,
        cp: &Counterpart,
        url: &str,
        store: &dyn FileStore,
        db: &gw_storage::Db,
        applyno: Option<&str>,
    ) -> Result<StoredFile, FetchError> {
        let bytes = self.fetch(cp, url).await?;
        let file = NewFile {
            kind: FileKind::Evidence,
            applyno: applyno.map(str::to_owned),
            counterpart: cp.name.to_string(),
            content_type: "application/octet-stream".into(),
        };
        let staged = store
            .upload(file, bytes.into())
            .await
            .map_err(|e| FetchError::Store(e.to_string()))?;
        let txn = db
            .conn()
            .begin()
            .await
            .map_err(|e| FetchError::Store(e.to_string()))?;
        let stored = store
            .record(&txn, staged)
            .await
            .map_err(|e| FetchError::Store(e.to_string()))?;
        txn.commit()
            .await
            .map_err(|e| FetchError::Store(e.to_string()))?;
        Ok(stored)
    }

    /// One download, following checked redirects; returns the raw (encrypted) bytes.
    async fn fetch_once(&self, cp: &Counterpart, url: &str) -> Result<Vec<u8>, FetchError> {
        let mut url = url::Url::parse(url).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
        for _ in 0..=MAX_REDIRECTS {
            let addr = check(cp, &url).await?;
            let host = url.host_str().unwrap_or_default().to_owned();
            let client = reqwest::Client::builder()
                // The pinned address is the only way out: an HTTP(S)_PROXY
                // in the environment must not route around the check.
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(self.timeout)
                .resolve(&host, addr)
                .build()
                .map_err(|e| FetchError::Network(e.to_string()))?;
            let mut resp = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| self.net(e))?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                url = url
                    .join(location)
                    .map_err(|_| FetchError::BadUrl(location.to_owned()))?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            if resp.content_length().is_some_and(|n| n > self.max_bytes) {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.net(e))? {
                if body.len() as u64 + chunk.len() as u64 > self.max_bytes {
                    return Err(FetchError::TooLarge(self.max_bytes));
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(body);
        }
        Err(FetchError::TooManyRedirects)
    }

    fn net(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else {
            FetchError::Network(e.to_string())
        }
    }
}

/// Checks the URL against the counterpart's hosts and returns the one
/// address to connect to.
async fn check(cp: &Counterpart, url: &url::Url) -> Result<SocketAddr, FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::BadUrl(url.to_string()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| FetchError::BadUrl(url.to_string()))?;
    let port = url.port_or_known_default();
    if !cp.file_host_allowed(host, port) {
        return Err(FetchError::HostNotAllowed(match port {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        }));
    }
    let port = port.unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| FetchError::Network(format!("cannot resolve {bare}: {e}")))?
            .collect(),
    };
    let addr = addrs
        .first()
        .copied()
        .ok_or_else(|| FetchError::Network(format!("{bare} has no address")))?;
    for a in &addrs {
        let configured_ip = cp.file_hosts.iter().any(|h| {
            let h = h.trim_start_matches('[');
            h.parse::<IpAddr>().ok() == Some(a.ip())
                || h.rsplit_once(':')
                    .map(|(ip, _)| ip.trim_end_matches(']').parse::<IpAddr>().ok() == Some(a.ip()))
                    .unwrap_or(false)
        }) || (cp.file_hosts.is_empty()
            && bare.parse::<IpAddr>().ok() == Some(a.ip()));
        if !is_public(a.ip()) && !configured_ip {
            return Err(FetchError::PrivateAddress(bare.to_owned()));
        }
    }
    Ok(addr)
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // Every prefix that reaches (or embeds) an IPv4 address or a
            // private network by translation or tunnelling is refused
            // outright: the embedded address is not what we checked.
            let ipv4_compatible = s[..6].iter().all(|&x| x == 0); // ::a.b.c.d (and ::, ::1)
            let nat64 = s[0] == 0x0064 && s[1] == 0xff9b; // 64:ff9b::/96 and 64:ff9b:1::/48
            let six_to_four = s[0] == 0x2002; // 2002::/16
            let teredo = s[0] == 0x2001 && s[1] == 0; // 2001::/32
            let site_local = (s[0] & 0xffc0) == 0xfec0; // fec0::/10
            let discard = s[0] == 0x0100 && s[1..4].iter().all(|&x| x == 0); // 100::/64
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || ipv4_compatible
                || nat64
                || six_to_four
                || teredo
                || site_local
                || discard
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            // NAT64 of 127.0.0.1 and of a public address: both refused.
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::a00:1",
            // 6to4 of 10.0.0.1, Teredo, IPv4-compatible, site-local, discard.
            "2002:a00:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "::10.0.0.1",
            "::8.8.8.8",
            "fec0::1",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["218.76.24.212", "8.8.8.8", "2400:3200::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
