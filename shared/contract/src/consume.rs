//! Typed consumers: a worker implements [`Consume<C>`] for each message type
//! it takes; [`handler`] adapts it to the bus, checking the message's kind
//! and schema version and decoding the payload first, so a handler only
//! ever sees a valid message of its own type. Anything else is a poison
//! message and is dead-lettered.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use gw_bus::{Failure, Handler, Message};

use crate::Contract;

/// Handles one message of type `C`. Returns `Ok` only once its effect is committed.
#[async_trait]
pub trait Consume<C: Contract>: Send + Sync + 'static {
    async fn consume(&self, message: &Message, payload: C) -> Result<(), Failure>;
}

struct Typed<C, H> {
    inner: Arc<H>,
    _c: PhantomData<fn() -> C>,
}

#[async_trait]
impl<C: Contract, H: Consume<C>> Handler for Typed<C, H> {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        self.inner.consume(m, decode(m)?).await
    }
}

/// The payload of `m` as a `C`: the right kind, the version this build
/// reads, a payload that parses (and so passes every field rule).
pub fn decode<C: Contract>(m: &Message) -> Result<C, Failure> {
    if m.kind != C::KIND {
        return Err(Failure::permanent(anyhow::anyhow!(
            "a message of kind {:?} on the queue of {:?}",
            m.kind,
            C::KIND
        )));
    }
    if m.schema_version != C::SCHEMA {
        return Err(Failure::permanent(anyhow::anyhow!(
            "{} has schema version {}, this build reads {}",
            m.kind,
            m.schema_version,
            C::SCHEMA
        )));
    }
    m.decode().map_err(Failure::permanent)
}

/// The queue of `C` and a bus handler that gives its messages to `consumer`.
pub fn handler<C: Contract, H: Consume<C>>(consumer: Arc<H>) -> (&'static str, Arc<dyn Handler>) {
    (
        C::QUEUE,
        Arc::new(Typed::<C, H> {
            inner: consumer,
            _c: PhantomData,
        }),
    )
}
