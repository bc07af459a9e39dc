//! The bus in the database.
//!
//! * [`embedded::EmbeddedTransport`]: a `gw_bus::Transport` whose queues are
//!   rows of `bus_messages`, for the single-process gateway (`amqp.url =
//!   "embedded"`), where there is no broker.
//! * [`outbox`]: a handler writes the messages that must leave with its state
//!   change into the same transaction ([`outbox::add`]); the [`outbox::Relay`]
//!   publishes them afterwards, on whichever transport the bus has. On the
//!   embedded bus the handler writes them into the bus's own table instead
//!   ([`outbox::Outbox`]): there the outbox is the bus.
//!
//! Storage sits below this crate and knows nothing of messages; this crate
//! turns its rows into messages and back.

pub mod embedded;
pub mod outbox;

pub use embedded::{EmbeddedTransport, Settled};
pub use outbox::{Outbox, Relay, RelayWaker};
