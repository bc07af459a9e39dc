//! Logical names of the work queues. The broker name is `<prefix>.<logical>`.

use gw_protocol::Interface;

/// `baohanapply` requests, for underwriting.
pub const BAOHANAPPLY: &str = "underwriting.baohanapply";
/// Decisions on referred applications, from a risk system or a person.
pub const UNDERWRITING_DECISIONS: &str = "underwriting.decisions";
/// `payapply` requests (recorded by payment; answered by ingress).
pub const PAYAPPLY: &str = "payment.payapply";
/// `cancelapply` requests.
pub const CANCELAPPLY: &str = "payment.cancelapply";
/// Payment confirmations from the bank's payment gateway.
pub const PAYMENT_CONFIRMATIONS: &str = "payment.confirmations";
/// Issue a guarantee for a paid application.
pub const ISSUANCE_ISSUE: &str = "issuance.issue";
/// `revertapply` requests: their own queue, never behind other work.
pub const REVERTAPPLY: &str = "issuance.revertapply";
/// `invoiceapply` requests.
pub const INVOICEAPPLY: &str = "invoice.invoiceapply";
/// `quitapply` requests.
pub const QUITAPPLY: &str = "claims.quitapply";
/// `claimapply` requests.
pub const CLAIMAPPLY: &str = "claims.claimapply";
/// `logoutapply` requests.
pub const LOGOUTAPPLY: &str = "claims.logoutapply";
/// Outbound notices to send to a platform.
pub const NOTICES: &str = "egress.notices";
/// The bank's confirmations that a claim was paid out.
pub const PAYOUT_CONFIRMATIONS: &str = "claims.payout_confirmations";
/// Invoices issued by the core system (electronic) or the back office (paper).
pub const INVOICES_ISSUED: &str = "invoice.issued";

/// Every work queue: what the topology declares.
pub const ALL: &[&str] = &[
    BAOHANAPPLY,
    UNDERWRITING_DECISIONS,
    PAYAPPLY,
    CANCELAPPLY,
    PAYMENT_CONFIRMATIONS,
    ISSUANCE_ISSUE,
    REVERTAPPLY,
    INVOICEAPPLY,
    QUITAPPLY,
    CLAIMAPPLY,
    LOGOUTAPPLY,
    NOTICES,
    PAYOUT_CONFIRMATIONS,
    INVOICES_ISSUED,
];

/// The work queue an inbound interface is published to.
pub fn for_inbound(i: Interface) -> Option<&'static str> {
    Some(match i {
        Interface::BaohanApply => BAOHANAPPLY,
        Interface::PayApply => PAYAPPLY,
        Interface::RevertApply => REVERTAPPLY,
        Interface::InvoiceApply => INVOICEAPPLY,
        Interface::QuitApply => QUITAPPLY,
        Interface::ClaimApply => CLAIMAPPLY,
        Interface::LogoutApply => LOGOUTAPPLY,
        Interface::CancelApply => CANCELAPPLY,
        _ => return None,
    })
}
