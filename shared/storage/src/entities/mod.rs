//! sea-orm entities, one module per table.

pub mod applications;
pub mod files;
pub mod inbox;
pub mod notice_attempts;
pub mod notice_chains;
pub mod notices;
pub mod outbox;
