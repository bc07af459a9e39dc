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

/// Kind of the message that asks egress to deliver a notice.
pub const NOTICE_KIND: &str = "notice.command";
/// Schema version of [`NoticeCommand`].
pub const NOTICE_SCHEMA: u32 = 1;

/// Deliver this notice to this counterpart. Produced by workers through
/// their outbox; consumed by egress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeCommand {
    /// Unique per notice; egress keys its record and its idempotency on it.
    pub notice_id: String,
    pub counterpart: String,
    pub interface: Interface,
    pub applyno: String,
    /// The notice of the same application that must reach the platform
    /// first (the previous one the workers produced), if any.
    #[serde(default)]
    pub after: Option<String>,
    /// The notice in wire form; egress validates it again before sending.
    pub body: serde_json::Value,
}

impl NoticeCommand {
    /// A command for a notice built from the domain type (valid by construction).
    pub fn new(counterpart: &str, notice: &crate::Notice, after: Option<String>) -> Self {
        Self {
            notice_id: format!("n-{}", uuid::Uuid::now_v7()),
            counterpart: counterpart.to_owned(),
            interface: notice.interface(),
            applyno: notice.applyno().to_string(),
            after,
            body: notice.to_json(),
        }
    }

    /// The notice, validated by the protocol's rules.
    pub fn notice(&self) -> Result<crate::Notice, crate::ProtocolError> {
        crate::Notice::from_value(self.interface, self.body.clone())
    }
}

/// Payload of the `notice.delivered` and `notice.dead_lettered` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeEvent {
    pub notice_id: String,
    pub applyno: String,
    pub counterpart: String,
    pub interface: Interface,
    pub state: String,
    #[serde(default)]
    pub last_error: Option<String>,
    pub attempts: i32,
}

/// Schema version of the event payloads.
pub const EVENT_SCHEMA: u32 = 1;
