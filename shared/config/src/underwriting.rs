//! `[underwriting]`: the rules (typed: amounts and rates are parsed once,
//! here) and where they may be reloaded from.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gw_protocol::{Amount, Rate};
use serde::{Deserialize, Serialize};

use crate::Problems;

/// Underwriting rules, typed: amounts in yuan and rates are parsed once,
/// when the configuration (or the rules file) is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnderwritingRules {
    /// Refuse a credit code that fails the GB 32100 check.
    pub require_valid_credit_code: bool,
    /// Largest guaranteed amount of one application.
    pub max_amount_per_application: Amount,
    /// Largest open exposure (approved, paid, issued, restored) per bidder.
    pub max_exposure_per_bidder: Amount,
    /// The premium is at least this.
    pub minimum_premium: Amount,
    /// Applications of at least this amount go to a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refer_from: Option<Amount>,
    /// Premium rate by amount band: the first band whose `up_to` is not below
    /// the amount applies; the last band, without `up_to`, catches the rest.
    pub rate_bands: Vec<RateBand>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateBand {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to: Option<Amount>,
    pub rate: Rate,
}

/// The rules as written (TOML strings), before they are parsed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesWire {
    #[serde(default = "yes")]
    pub require_valid_credit_code: bool,
    pub max_amount_per_application: String,
    pub max_exposure_per_bidder: String,
    pub minimum_premium: String,
    #[serde(default)]
    pub refer_from: Option<String>,
    pub rate_bands: Vec<RateBandWire>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBandWire {
    #[serde(default)]
    pub up_to: Option<String>,
    pub rate: String,
}

fn yes() -> bool {
    true
}

impl TryFrom<&RulesWire> for UnderwritingRules {
    /// Every problem, each as `key: what is wrong`.
    type Error = Vec<String>;

    fn try_from(w: &RulesWire) -> Result<Self, Vec<String>> {
        let mut p = Vec::new();
        let mut money = |key: String, v: &str| {
            Amount::try_from(v)
                .map_err(|_| {
                    p.push(format!(
                        "{key}: {v:?} is not an amount in yuan (digits, at most two decimals)"
                    ))
                })
                .ok()
        };
        let max_amount = money(
            "max_amount_per_application".into(),
            &w.max_amount_per_application,
        );
        let max_exposure = money("max_exposure_per_bidder".into(), &w.max_exposure_per_bidder);
        let minimum = money("minimum_premium".into(), &w.minimum_premium);
        let refer_from = w
            .refer_from
            .as_deref()
            .map(|v| money("refer_from".into(), v));
        let mut bands = Vec::new();
        for (i, b) in w.rate_bands.iter().enumerate() {
            let up_to = b
                .up_to
                .as_deref()
                .map(|v| money(format!("rate_bands[{i}].up_to"), v));
            bands.push((up_to, Rate::try_from(b.rate.as_str()).ok()));
        }
        for (i, b) in w.rate_bands.iter().enumerate() {
            if bands[i].1.is_none() {
                p.push(format!(
                    "rate_bands[{i}].rate: {:?} is not a rate between 0 and 1",
                    b.rate
                ));
            }
        }
        if !p.is_empty() {
            return Err(p);
        }
        let rate_bands = bands
            .into_iter()
            .filter_map(|(up_to, rate)| {
                Some(RateBand {
                    up_to: up_to.flatten(),
                    rate: rate?,
                })
            })
            .collect();
        let (Some(max_amount), Some(max_exposure), Some(minimum)) =
            (max_amount, max_exposure, minimum)
        else {
            return Err(p);
        };
        let rules = Self {
            require_valid_credit_code: w.require_valid_credit_code,
            max_amount_per_application: max_amount,
            max_exposure_per_bidder: max_exposure,
            minimum_premium: minimum,
            refer_from: refer_from.flatten(),
            rate_bands,
        };
        let problems = rules.problems();
        if problems.is_empty() {
            Ok(rules)
        } else {
            Err(problems)
        }
    }
}

impl<'de> Deserialize<'de> for UnderwritingRules {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = RulesWire::deserialize(d)?;
        // One problem per line: the loader names each key.
        Self::try_from(&wire).map_err(|p| serde::de::Error::custom(p.join("\n")))
    }
}

impl UnderwritingRules {
    /// Parses rules from TOML (the rules file), reporting every problem.
    pub fn from_toml(text: &str) -> Result<Self, Vec<String>> {
        let wire: RulesWire = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        Self::try_from(&wire)
    }

    /// What is wrong with these rules beyond their values, as `key: problem`
    /// lines (empty when they are usable).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.rate_bands.is_empty() {
            p.push("rate_bands: at least one band".to_owned());
        } else if self.rate_bands.iter().all(|b| b.up_to.is_some()) {
            p.push(
                "rate_bands: the last band must have no up_to, so every amount has a rate"
                    .to_owned(),
            );
        }
        let bounds: Vec<Amount> = self.rate_bands.iter().filter_map(|b| b.up_to).collect();
        if bounds.windows(2).any(|w| w[0] >= w[1]) {
            p.push("rate_bands: up_to must rise from band to band".to_owned());
        }
        p
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnderwritingSettings {
    /// Admin API: blocklist and decisions on referred applications.
    pub admin_listen: SocketAddr,
    /// Rules in force when `rules_file` is not set.
    pub rules: UnderwritingRules,
    /// A TOML file of rules (same keys as `underwriting.rules`), re-read
    /// while running: a valid change applies at once, an invalid one is
    /// reported and the rules in force stay.
    #[serde(default)]
    pub rules_file: Option<PathBuf>,
    #[serde(with = "humantime_serde")]
    pub rules_reload_interval: Duration,
}

impl UnderwritingSettings {
    pub(crate) fn check(&self, _p: &mut Problems) {
        // The rules were checked as they were read.
    }
}
