//! `[invoice]`: invoices of the premium (发票).

use std::net::SocketAddr;

use gw_protocol::Rate;
use serde::{Deserialize, Deserializer};

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceSettings {
    /// Admin API: invoices, and the back office's confirmation of a paper one.
    pub admin_listen: SocketAddr,
    /// VAT rate included in the premium (e.g. `0.06`), printed with the tax.
    #[serde(deserialize_with = "rate")]
    pub tax_rate: Rate,
    /// Electronic invoices from the bank's core system (`invoice.requested`
    /// out, `invoice.issued` back) instead of the built-in PDF.
    pub core_system: bool,
    /// The seller's address and telephone printed on invoices.
    #[serde(default)]
    pub seller_address: String,
    /// The seller's bank and account printed on invoices.
    #[serde(default)]
    pub seller_bank: String,
}

fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
    let s = String::deserialize(d)?;
    Rate::try_from(s.as_str())
        .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a rate between 0 and 1")))
}

impl InvoiceSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.tax_rate.value() >= rust_decimal::Decimal::ONE {
            p.push("invoice.tax_rate", "must be below 1");
        }
    }
}
