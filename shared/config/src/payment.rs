//! `[payment]`: the cashier pages and held payments.

use std::net::SocketAddr;

use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Public address of the cashier pages (`premiumurl`).
    pub listen: SocketAddr,
    /// Admin API: held payments.
    pub admin_listen: SocketAddr,
    /// Offer a form that completes the payment (test environments only).
    pub sandbox: bool,
    /// Let the sandbox cashier run with public listeners on other addresses
    /// than loopback (a closed test network, on purpose).
    pub sandbox_allow_public: bool,
    /// Bank-transfer details shown on the cashier page.
    pub bank_account_name: String,
    pub bank_account_number: String,
    pub bank_name: String,
}

impl std::fmt::Debug for PaymentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentSettings")
            .field("listen", &self.listen)
            .field("admin_listen", &self.admin_listen)
            .field("sandbox", &self.sandbox)
            .field("sandbox_allow_public", &self.sandbox_allow_public)
            .field("bank_name", &self.bank_name)
            .finish_non_exhaustive()
    }
}
