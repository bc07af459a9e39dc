//! Consumers whose messages are handled once each: the inbox row (keyed by
//! the queue and the message id) is written in the handler's transaction,
//! so a redelivered message finds it and changes nothing.

use std::sync::Arc;

use async_trait::async_trait;
use gw_bus::{Failure, Handler, Message};
use gw_contract::{Consume, Contract};

use crate::{Tx, Workflow};

/// Handles one message of type `C` in a transaction that already holds its
/// inbox row. Returns `Ok` only after committing `tx`.
#[async_trait]
pub trait ConsumeOnce<C: Contract>: Send + Sync + 'static {
    async fn consume(&self, tx: Tx, payload: C) -> Result<(), Failure>;
}

struct Once<H> {
    flow: Workflow,
    inner: Arc<H>,
}

#[async_trait]
impl<C: Contract, H: ConsumeOnce<C>> Consume<C> for Once<H> {
    async fn consume(&self, m: &Message, payload: C) -> Result<(), Failure> {
        match self.flow.begin_once(C::QUEUE, m).await? {
            Some(tx) => self.inner.consume(tx, payload).await,
            None => Ok(()),
        }
    }
}

/// The queue of `C` and a bus handler that gives each of its messages to
/// `consumer` once.
pub fn once<C: Contract, H: ConsumeOnce<C>>(
    flow: &Workflow,
    consumer: Arc<H>,
) -> (&'static str, Arc<dyn Handler>) {
    gw_contract::handler::<C, _>(Arc::new(Once {
        flow: flow.clone(),
        inner: consumer,
    }))
}
