//! sea-orm entities, one module per table.

pub mod applications;
pub mod blocklist;
pub mod bus_messages;
pub mod cancel_requests;
pub mod claims;
pub mod console_sessions;
pub mod dead_letters;
pub mod files;
pub mod guarantees;
pub mod inbox;
pub mod invoices;
pub mod locks;
pub mod logouts;
pub mod notice_attempts;
pub mod notice_chains;
pub mod notices;
pub mod operation_records;
pub mod outbox;
pub mod payments;
pub mod quits;
pub mod reports;
pub mod restorations;
pub mod sequences;
pub mod signing_keys;
pub mod underwriting_decisions;
pub mod verifications;
