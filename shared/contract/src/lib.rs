//! The message contract: every message on the bus, named once.
//!
//! * [`queues`]: the logical work queues, and which inbound interface goes
//!   to which.
//! * [`Contract`]: a payload type that is a command for one work queue
//!   (its queue, `kind` and schema version as constants); [`commands`] holds
//!   them, [`inbound`] the platform's requests as ingress publishes them.
//! * [`events`]: the routing keys of the domain events and their payloads.
//! * [`consume`]: a typed consumer ([`Consume`]) and the adapter that turns
//!   it into a bus handler, refusing a message of another kind or version.
//!
//! `gw-bus` moves bytes and knows none of these names; the topology takes
//! its list of work queues from [`queues::ALL`].

pub mod commands;
pub mod consume;
pub mod details;
pub mod events;
pub mod inbound;
pub mod queues;

pub use commands::{
    InvoiceIssued, IssueCommand, NoticeCommand, PaymentConfirmation, PayoutConfirmation,
    ReviewDecision, ReviewVerdict,
};
pub use consume::{Consume, handler};
pub use events::{
    ApplicationEvent, EventKey, InvoiceRequested, NoticeEvent, PayoutRequested, RefundCause,
    RefundRequested,
};
pub use inbound::InboundEnvelope;

use gw_bus::{Destination, Message};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A command for one work queue: a payload type with its route.
pub trait Contract: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The logical work queue (see [`queues`]).
    const QUEUE: &'static str;
    /// The message's `type`.
    const KIND: &'static str;
    /// The payload's schema version; consumers refuse one they do not know.
    const SCHEMA: u32;
    /// The `applyno` it concerns (the message's correlation id).
    fn applyno(&self) -> &str;
    /// The counterpart it concerns, carried as the `x-counterpart` header.
    fn counterpart(&self) -> Option<&str> {
        None
    }
}

/// The message for `command`, ready to publish (or to write to the outbox).
pub fn message<C: Contract>(command: &C) -> Result<(Destination, Message), serde_json::Error> {
    let mut m = Message::json(C::KIND, C::SCHEMA, Some(command.applyno()), command)?;
    if let Some(cp) = command.counterpart() {
        m = m.with_header(gw_bus::headers::COUNTERPART, cp.to_owned());
    }
    Ok((Destination::Queue(C::QUEUE.to_owned()), m))
}
