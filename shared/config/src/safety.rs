//! Start-up checks across sections that keep a deployment from running on
//! example values or with the sandbox cashier exposed.
//!
//! Two rules, because both mistakes cost money and neither shows until a
//! bidder or the platform meets them:
//! - the sandbox cashier completes payments without money, so it runs only
//!   where nobody else can reach it (every public listener on loopback)
//!   unless `payment.sandbox_allow_public` says otherwise on purpose;
//! - in `environment = "production"` nothing that came from an example may
//!   remain: the example institution, bank account and seller details,
//!   tokens or secrets that say `change`/`example`, an `example.com`
//!   address, the sandbox cashier, and a missing SM2 key (a development key
//!   is generated only in the sandbox environment).

use std::net::SocketAddr;

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::{Problems, Settings};

/// What a deployment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A real platform and real money: example values are refused.
    Production,
    /// Demos, integration environments and tests against the sandbox
    /// platform: example values and a generated SM2 key are allowed.
    Sandbox,
}

/// The example institution that ships in the defaults and examples.
pub const EXAMPLE_INSTITUTION_NAME: &str = "湖南某某融资担保有限公司";
pub const EXAMPLE_INSTITUTION_CODE: &str = "91430100MA4L0000X9";
pub const EXAMPLE_ACCOUNT_NUMBER: &str = "4301 0000 0000 0000 000";

/// Words that mark a value copied from an example.
fn placeholder(value: &str) -> bool {
    let v = value.to_lowercase();
    ["change", "example", "某某", "placeholder", "xxxx"]
        .iter()
        .any(|w| v.contains(w))
}

/// The public listeners: what the platform and bidders reach.
fn public_listeners(s: &Settings) -> [(&'static str, SocketAddr); 4] {
    [
        ("ingress.listen", s.ingress.listen),
        ("egress.listen", s.egress.listen),
        ("payment.listen", s.payment.listen),
        ("issuance.listen", s.issuance.listen),
    ]
}

pub(crate) fn check(s: &Settings, p: &mut Problems) {
    if s.payment.sandbox && !s.payment.sandbox_allow_public {
        let open: Vec<String> = public_listeners(s)
            .into_iter()
            .filter(|(_, a)| !a.ip().is_loopback())
            .map(|(k, a)| format!("{k} = {a}"))
            .collect();
        if !open.is_empty() {
            p.push(
                "payment.sandbox",
                &format!(
                    "the sandbox cashier (payment without money) listens only on loopback; {} \
                     (set payment.sandbox_allow_public = true only for a closed test network)",
                    open.join(", ")
                ),
            );
        }
    }
    if s.environment == Environment::Production {
        production(s, p);
    }
}

fn production(s: &Settings, p: &mut Problems) {
    const WHY: &str =
        "an example value; set the real one (or environment = \"sandbox\" for a test deployment)";
    if s.payment.sandbox {
        p.push(
            "payment.sandbox",
            "the sandbox cashier completes payments without money; it is refused in production",
        );
    }
    if s.institution.name == EXAMPLE_INSTITUTION_NAME || placeholder(&s.institution.name) {
        p.push("institution.name", WHY);
    }
    if s.institution.code == EXAMPLE_INSTITUTION_CODE {
        p.push("institution.code", WHY);
    }
    if let Some(k) = &s.institution.sm2_private_key
        && placeholder(k.expose_secret())
    {
        p.push("institution.sm2_private_key", WHY);
    }
    let pay = &s.payment;
    if pay.bank_account_number == EXAMPLE_ACCOUNT_NUMBER || placeholder(&pay.bank_account_number) {
        p.push("payment.bank_account_number", WHY);
    }
    if placeholder(&pay.bank_account_name) {
        p.push("payment.bank_account_name", WHY);
    }
    if placeholder(&s.invoice.seller_address) {
        p.push("invoice.seller_address", WHY);
    }
    if placeholder(&s.invoice.seller_bank) {
        p.push("invoice.seller_bank", WHY);
    }
    for (key, url) in [
        ("database.url", s.database.url.expose_secret()),
        ("amqp.url", s.amqp.url.expose_secret()),
    ] {
        if url::Url::parse(url)
            .ok()
            .and_then(|u| u.password().map(placeholder))
            .unwrap_or(false)
        {
            p.push(key, "its password is an example value; set the real one");
        }
    }
    if placeholder(s.admin.token.expose_secret()) {
        p.push("admin.token", WHY);
    }
    if s.public_base_url.host_str().is_some_and(example_host) {
        p.push("public_base_url", WHY);
    }
    for (name, c) in &s.counterparts {
        if placeholder(&c.appkey) {
            p.push(&format!("counterparts.{name}.appkey"), WHY);
        }
        if placeholder(c.appsecret.expose_secret()) {
            p.push(&format!("counterparts.{name}.appsecret"), WHY);
        }
        if c.notice_base_url.host_str().is_some_and(example_host) {
            p.push(&format!("counterparts.{name}.notice_base_url"), WHY);
        }
    }
}

/// `example.com`, `.org`, `.net` and their subdomains (RFC 2606).
fn example_host(host: &str) -> bool {
    ["example.com", "example.org", "example.net"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// What a service needs that not every service does: a deployment gives
/// each service only the secrets it uses (the SM2 key to issuance, the
/// platform's appsecret to ingress, egress and claims), so these are
/// checked by the service that needs them, at its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A platform to serve (`[counterparts.<name>]`, with its appsecret).
    Counterparts,
    /// The institution's SM2 key (`institution.sm2_private_key`).
    SigningKey,
}

impl Settings {
    /// Refuses, in production, to start a service without what it `needs`;
    /// the message names the key. The sandbox environment needs neither (a
    /// development key is generated, and a sandbox has no platform).
    pub fn require(&self, needs: &[Need]) -> Result<(), crate::ConfigError> {
        if self.environment != Environment::Production {
            return Ok(());
        }
        let mut p = Problems::default();
        for need in needs {
            match need {
                Need::Counterparts if self.counterparts.is_empty() => p.push(
                    "counterparts",
                    "no platform configured: set [counterparts.<name>] appkey, appsecret and \
                     notice_base_url (this service serves the platform)",
                ),
                Need::SigningKey if self.institution.sm2_private_key.is_none() => p.push(
                    "institution.sm2_private_key",
                    "required in production for issuance (a development key is generated \
                     only in the sandbox environment)",
                ),
                _ => {}
            }
        }
        if p.0.is_empty() {
            Ok(())
        } else {
            Err(crate::ConfigError::Invalid(p.0))
        }
    }
}
