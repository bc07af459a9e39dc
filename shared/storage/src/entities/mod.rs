//! sea-orm entities, one module per table.

pub mod applications;
pub mod blocklist;
pub mod bus_messages;
pub mod files;
pub mod guarantees;
pub mod inbox;
pub mod notice_attempts;
pub mod notice_chains;
pub mod notices;
pub mod outbox;
pub mod payments;
pub mod sequences;
pub mod signing_keys;
pub mod underwriting_decisions;
