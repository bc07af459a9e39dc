//! Our own message schemas on the bus, built from the protocol types. Each
//! has a `kind` (the AMQP `type`) and a schema version; consumers refuse a
//! version they do not know rather than guess.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Interface;

/// Kind of the message ingress publishes for an inbound request.
pub fn inbound_kind(i: Interface) -> String {
    format!("inbound.{}", i.name())
}

/// Schema version of [`InboundEnvelope`].
pub const INBOUND_SCHEMA: u32 = 1;

/// An accepted request from a platform, as ingress publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEnvelope<T> {
    /// The counterpart (configured name) it came from; notices go back there.
    pub counterpart: String,
    pub interface: Interface,
    pub received_at: DateTime<Utc>,
    /// The validated request, in wire form.
    pub request: T,
}
