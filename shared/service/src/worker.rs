//! Small pieces every worker's handlers share.

use gw_bus::{Failure, Message};
use gw_storage::applications::SaveError;
use gw_storage::outbox::Relay;
use gw_storage::sea_orm::DbErr;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// A database error is worth retrying (the database may be back soon).
pub fn db_failure(e: DbErr) -> Failure {
    Failure::Transient(anyhow::Error::new(e).context("database"))
}

/// A lost optimistic-locking race is retried from a fresh read.
pub fn save_failure(e: SaveError) -> Failure {
    match e {
        SaveError::Conflict { .. } => Failure::Transient(e.into()),
        SaveError::Db(e) => db_failure(e),
    }
}

/// The payload of `m`, which must have schema version `schema`; anything
/// else is a poison message.
pub fn decode<T: DeserializeOwned>(m: &Message, schema: u32) -> Result<T, Failure> {
    if m.schema_version != schema {
        return Err(Failure::permanent(anyhow::anyhow!(
            "{} has schema version {}, this worker reads {schema}",
            m.kind,
            m.schema_version
        )));
    }
    m.decode().map_err(Failure::permanent)
}

/// Runs the outbox relay until `shutdown`.
pub fn spawn_relay(
    relay: Relay,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        relay.run(shutdown).await;
        Ok(())
    })
}
