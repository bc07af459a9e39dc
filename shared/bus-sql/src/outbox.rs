//! The transactional outbox and its relay.
//!
//! A handler that changes state and must also send a message writes the
//! message here in the same transaction ([`add`]). The [`Relay`] claims a
//! batch of unpublished rows (a short transaction; on PostgreSQL with `FOR
//! UPDATE SKIP LOCKED`, so several replicas share the work), then publishes
//! them in id order, waiting for each confirm, and marks each published. No
//! transaction is open while it talks to the broker. A relay that dies
//! between claim and publish lets its claim expire, and another publishes
//! the rows; a crash between publish and mark publishes a row again, which
//! consumers absorb (they deduplicate), so nothing is ever lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gw_bus::{Bus, Destination, Message};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use gw_storage::Db;
use gw_storage::dead_letters;
use gw_storage::entities::outbox;

/// Failures of one row (refused or unroutable, not the broker being down)
/// before it is parked as a dead letter.
pub const PARK_AFTER: i32 = 5;

/// How long a relay's claim on a batch lasts. Short, so that the batch of
/// a relay that died goes within seconds; a live relay renews its claim on
/// what is left of a batch every third of it, so a slow broker does not let
/// another relay publish the same rows meanwhile.
const CLAIM: chrono::Duration = chrono::Duration::seconds(10);

/// Ends every relay's claim on rows not yet published, so that a batch a
/// dead relay had claimed goes at once rather than when its claim runs out.
/// Only for a process alone on its database (the embedded gateway holding
/// its lock): a live relay's batch would be published twice. How many.
pub async fn release_claims(db: &Db) -> Result<u64, DbErr> {
    let r = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(outbox::Column::PublishedAt.is_null())
        .filter(outbox::Column::ClaimedUntil.is_not_null())
        .exec(db.conn())
        .await?;
    Ok(r.rows_affected)
}

/// Writes `message` for `to` as part of the caller's transaction.
pub async fn add<C: ConnectionTrait>(
    conn: &C,
    to: &Destination,
    message: &Message,
) -> Result<(), DbErr> {
    let destination = to
        .stored()
        .ok_or_else(|| DbErr::Custom(format!("the outbox does not carry {to}")))?;
    let payload = String::from_utf8(message.payload.clone())
        .map_err(|_| DbErr::Custom("outbox payloads are JSON text".into()))?;
    outbox::ActiveModel {
        message_id: Set(message.id.clone()),
        destination: Set(destination),
        kind: Set(message.kind.clone()),
        schema_version: Set(i32::try_from(message.schema_version).unwrap_or(i32::MAX)),
        correlation_id: Set(message.correlation_id.clone()),
        headers: Set(serde_json::to_value(&message.headers).unwrap_or_default()),
        payload: Set(payload),
        created_at: Set(message.timestamp),
        published_at: Set(None),
        claimed_until: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        parked_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn to_bus(row: &outbox::Model) -> Option<(Destination, Message)> {
    let to = Destination::from_stored(&row.destination)?;
    let headers: BTreeMap<String, String> =
        serde_json::from_value(row.headers.clone()).unwrap_or_default();
    Some((
        to,
        Message {
            id: row.message_id.clone(),
            kind: row.kind.clone(),
            schema_version: u32::try_from(row.schema_version).unwrap_or(1),
            correlation_id: row.correlation_id.clone(),
            attempt: 1,
            timestamp: row.created_at,
            headers,
            payload: row.payload.clone().into_bytes(),
        },
    ))
}

/// Rows not yet published.
pub async fn pending_count<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .filter(outbox::Column::ParkedAt.is_null())
        .count(conn)
        .await
}

/// Wakes the relay: a handler calls it after committing outbox rows, so
/// they leave at once instead of at the relay's next poll.
#[derive(Clone, Default)]
pub struct RelayWaker(Arc<Notify>);

impl RelayWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

impl std::fmt::Debug for RelayWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayWaker")
    }
}

/// Publishes outbox rows until cancelled.
#[derive(Clone)]
pub struct Relay {
    db: Db,
    bus: Bus,
    wake: RelayWaker,
    batch: u64,
    idle: Duration,
    /// Failures of one row (not of the broker) before it is parked.
    park_after: i32,
}

impl Relay {
    pub fn new(db: Db, bus: Bus) -> Self {
        Self {
            db,
            bus,
            wake: RelayWaker::default(),
            batch: 100,
            idle: Duration::from_millis(500),
            park_after: PARK_AFTER,
        }
    }

    /// A handle to wake the relay from elsewhere.
    pub fn waker(&self) -> RelayWaker {
        self.wake.clone()
    }

    /// Runs until `shutdown`, then publishes what is committed by then (the
    /// last work of draining consumers) and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let published = match self.publish_batch().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay: will try again");
                    0
                }
            };
            if shutdown.is_cancelled() {
                break;
            }
            if published == 0 {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = self.wake.0.notified() => {}
                    () = tokio::time::sleep(self.idle) => {}
                }
            }
        }
        // Drain: whatever is left is published at the next start anyway.
        while let Ok(n) = self.publish_batch().await {
            if n == 0 {
                break;
            }
        }
    }

    /// Publishes one batch; returns how many rows were published.
    pub async fn publish_batch(&self) -> Result<usize, DbErr> {
        let now = chrono::Utc::now();
        let unclaimed = sea_orm::Condition::any()
            .add(outbox::Column::ClaimedUntil.is_null())
            .add(outbox::Column::ClaimedUntil.lt(now));
        let txn = self.db.conn().begin().await?;
        let rows = outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .filter(outbox::Column::ParkedAt.is_null())
            .filter(unclaimed)
            .order_by_asc(outbox::Column::Id)
            .limit(self.batch)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(0);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        outbox::Entity::update_many()
            .col_expr(outbox::Column::ClaimedUntil, Expr::value(now + CLAIM))
            .filter(outbox::Column::Id.is_in(ids.clone()))
            .exec(&txn)
            .await?;
        txn.commit().await?;

        let conn = self.db.conn();
        let mut published = 0;
        let mut claimed_at = now;
        for row in rows {
            if chrono::Utc::now() - claimed_at > CLAIM / 3 {
                claimed_at = chrono::Utc::now();
                outbox::Entity::update_many()
                    .col_expr(
                        outbox::Column::ClaimedUntil,
                        Expr::value(claimed_at + CLAIM),
                    )
                    .filter(outbox::Column::PublishedAt.is_null())
                    .filter(
                        outbox::Column::Id.is_in(ids.iter().copied().filter(|id| *id >= row.id)),
                    )
                    .exec(conn)
                    .await?;
            }
            let Some((to, message)) = to_bus(&row) else {
                tracing::error!(outbox_id = row.id, destination = %row.destination, "outbox row with an unknown destination; skipped");
                outbox::Entity::update_many()
                    .col_expr(
                        outbox::Column::LastError,
                        Expr::value("unknown destination"),
                    )
                    .col_expr(outbox::Column::PublishedAt, Expr::value(chrono::Utc::now()))
                    .filter(outbox::Column::Id.eq(row.id))
                    .exec(conn)
                    .await?;
                continue;
            };
            match self.bus.publish(&to, &message).await {
                Ok(()) => {
                    outbox::Entity::update_many()
                        .col_expr(outbox::Column::PublishedAt, Expr::value(chrono::Utc::now()))
                        .col_expr(outbox::Column::Attempts, Expr::value(row.attempts + 1))
                        .filter(outbox::Column::Id.eq(row.id))
                        .exec(conn)
                        .await?;
                    published += 1;
                }
                Err(e) if counts_against_row(&e) && row.attempts + 1 >= self.park_after => {
                    // This row is the problem, not the broker: move it to
                    // the dead letters so the rows behind it can go.
                    self.park(&row, &message, &e).await?;
                }
                Err(e) => {
                    // Keep order: stop at the first failure, release the
                    // claim on the rest, and try again later.
                    outbox::Entity::update_many()
                        .col_expr(outbox::Column::Attempts, Expr::value(row.attempts + 1))
                        .col_expr(outbox::Column::LastError, Expr::value(e.to_string()))
                        .filter(outbox::Column::Id.eq(row.id))
                        .exec(conn)
                        .await?;
                    outbox::Entity::update_many()
                        .col_expr(
                            outbox::Column::ClaimedUntil,
                            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
                        )
                        .filter(outbox::Column::PublishedAt.is_null())
                        .filter(
                            outbox::Column::Id
                                .is_in(ids.iter().copied().filter(|id| *id >= row.id)),
                        )
                        .exec(conn)
                        .await?;
                    tracing::warn!(message_id = %message.id, error = %e, "outbox publish failed; will retry");
                    return Ok(published);
                }
            }
        }
        Ok(published)
    }

    /// Parks a row that keeps failing: recorded as a dead letter (an
    /// operator can see why and replay it) and skipped from now on.
    async fn park(
        &self,
        row: &outbox::Model,
        message: &Message,
        e: &gw_bus::BusError,
    ) -> Result<(), DbErr> {
        let txn = self.db.conn().begin().await?;
        let now = chrono::Utc::now();
        dead_letters::record(
            &txn,
            dead_letters::NewDeadLetter {
                destination: row.destination.clone(),
                message_id: message.id.clone(),
                kind: message.kind.clone(),
                schema_version: row.schema_version,
                correlation_id: message.correlation_id.clone(),
                headers: row.headers.clone(),
                payload: message.payload.clone(),
                error: format!(
                    "could not be published after {} attempts: {e}",
                    row.attempts + 1
                ),
                source: "outbox",
                failed_at: now,
            },
        )
        .await?;
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Attempts, Expr::value(row.attempts + 1))
            .col_expr(outbox::Column::LastError, Expr::value(e.to_string()))
            .col_expr(outbox::Column::ParkedAt, Expr::value(now))
            .filter(outbox::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        tracing::error!(
            outbox_id = row.id,
            message_id = %message.id,
            destination = %row.destination,
            error = %e,
            "outbox row parked as a dead letter after repeated failures; the rows behind it go on"
        );
        Ok(())
    }
}

/// Whether a publish failure is the row's (refused or unroutable), not the
/// broker's (down, slow): only the row's count towards parking it.
fn counts_against_row(e: &gw_bus::BusError) -> bool {
    !matches!(
        e,
        gw_bus::BusError::Unavailable(_) | gw_bus::BusError::Timeout(_)
    )
}
