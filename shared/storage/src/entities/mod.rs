//! sea-orm entities, one module per table.

pub mod applications;
pub mod inbox;
pub mod outbox;
