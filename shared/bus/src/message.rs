//! The envelope every message on the bus carries, whatever the transport.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};

/// Header names. Trace context uses the W3C names so that any tool reads it.
pub mod headers {
    pub const SCHEMA_VERSION: &str = "x-schema-version";
    pub const ATTEMPT: &str = "x-attempt";
    pub const COUNTERPART: &str = "x-counterpart";
    /// Not `x-` prefixed: the headers exchange ignores `x-` headers when matching.
    pub const RETRY_TIER: &str = "retry-tier";
    pub const ERROR: &str = "x-error";
    pub const FAILED_QUEUE: &str = "x-failed-queue";
    pub const FAILED_AT: &str = "x-failed-at";
    /// `broker` when the broker dead-lettered it (the delivery limit), not a consumer.
    pub const DEAD_LETTERED_BY: &str = "x-dead-lettered-by";
    /// On a message the embedded bus delivers: its row and lease, with
    /// which a handler's transaction can settle it (never written to the
    /// bus: a copy published again leaves without it).
    pub const RECEIPT: &str = "x-embedded-receipt";
    /// Every header dead-lettering adds: a replayed message leaves without them.
    pub const DEATH: [&str; 4] = [ERROR, FAILED_QUEUE, FAILED_AT, DEAD_LETTERED_BY];
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";
}

/// One message: identity, type, schema version, the `applyno` it concerns
/// (as correlation id), trace context and other string headers, and a JSON
/// payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Unique per logical message; consumers deduplicate on it.
    pub id: String,
    /// What the payload is, e.g. `inbound.baohanapply` (AMQP `type`).
    pub kind: String,
    /// Version of the payload's schema for this `kind`.
    pub schema_version: u32,
    /// The `applyno` this message concerns, when there is one.
    pub correlation_id: Option<String>,
    /// Delivery attempt, from 1; incremented on each delayed retry.
    pub attempt: u32,
    pub timestamp: DateTime<Utc>,
    /// String headers: `traceparent`, `tracestate`, `x-counterpart`, ...
    pub headers: BTreeMap<String, String>,
    pub payload: Vec<u8>,
}

/// A payload could not be read as the expected type.
#[derive(Debug, thiserror::Error)]
#[error("message {id} ({kind}) has an unreadable payload: {source}")]
pub struct DecodeError {
    pub id: String,
    pub kind: String,
    #[source]
    pub source: serde_json::Error,
}

impl Message {
    /// A new message (fresh UUIDv7 id, attempt 1) with a JSON payload and the
    /// current trace context.
    pub fn json<T: Serialize + ?Sized>(
        kind: impl Into<String>,
        schema_version: u32,
        correlation_id: Option<&str>,
        payload: &T,
    ) -> Result<Self, serde_json::Error> {
        let mut m = Self {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind.into(),
            schema_version,
            correlation_id: correlation_id.map(str::to_owned),
            attempt: 1,
            timestamp: Utc::now(),
            headers: BTreeMap::new(),
            payload: serde_json::to_vec(payload)?,
        };
        m.inject_trace();
        Ok(m)
    }

    /// Sets a string header.
    pub fn with_header(mut self, key: &str, value: impl Into<String>) -> Self {
        self.headers.insert(key.to_owned(), value.into());
        self
    }

    /// Replaces the id (for messages whose identity is decided elsewhere,
    /// such as an outbox row or a platform request).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.get(key).map(String::as_str)
    }

    /// Writes the current span's trace context into the headers.
    pub fn inject_trace(&mut self) {
        let mut map = std::collections::HashMap::new();
        gw_telemetry::inject(&mut map);
        self.headers.extend(map);
    }

    /// The headers as the map the telemetry crate reads trace context from.
    pub fn trace_headers(&self) -> std::collections::HashMap<String, String> {
        [headers::TRACEPARENT, headers::TRACESTATE]
            .iter()
            .filter_map(|k| self.headers.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect()
    }

    /// Reads the payload as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        serde_json::from_slice(&self.payload).map_err(|source| DecodeError {
            id: self.id.clone(),
            kind: self.kind.clone(),
            source,
        })
    }

    /// The payload as a JSON value (for logging and inspection).
    pub fn payload_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.payload).ok()
    }
}
