//! The transactional outbox and its relay.
//!
//! A handler that changes state and must also send a message writes the
//! message here in the same transaction ([`add`]). The [`Relay`] takes a
//! batch of unpublished rows, publishes them in id order as one pipelined
//! batch (one round of confirms, not one per row), and marks what was
//! confirmed published in one statement; what failed goes again with a
//! later batch, so a row can overtake one the broker refused (consumers
//! never rely on the order of two messages: the notices' order is kept by
//! egress's chains).
//!
//! On PostgreSQL the batch is locked (`FOR UPDATE SKIP LOCKED`, so several
//! replicas share the work) in a transaction that lasts while it is
//! published (at most the publish timeout) and marked: a relay that dies
//! lets go of its rows at once. On SQLite, whose one connection the
//! embedded bus needs for publishing, the batch is claimed for a while in a
//! short transaction instead, and no transaction is open while publishing;
//! a relay that dies lets its claim expire. Either way a crash between
//! publish and mark publishes a row again, which consumers absorb (they
//! deduplicate), so nothing is ever lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gw_bus::{Bus, Destination, Message};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionSession, TransactionTrait,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use gw_storage::Db;
use gw_storage::dead_letters;
use gw_storage::entities::outbox;

/// Failures of one row (refused or unroutable, not the broker being down)
/// before it is parked as a dead letter.
pub const PARK_AFTER: i32 = 5;

/// How long a relay's claim on a batch lasts, at the least. Short, so that
/// the batch of a relay that died goes within seconds; the claim is never
/// shorter than twice the bus's publish timeout, the longest a live relay
/// takes to publish a batch, so that no other relay publishes the same rows
/// meanwhile.
const CLAIM: chrono::Duration = chrono::Duration::seconds(10);

/// `claimed_until` of a row no relay holds.
fn no_claim() -> sea_orm::sea_query::SimpleExpr {
    Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None)
}

/// Ends every relay's claim on rows not yet published, so that a batch a
/// dead relay had claimed goes at once rather than when its claim runs out.
/// Only for a process alone on its database (the embedded gateway holding
/// its lock): a live relay's batch would be published twice. How many.
pub async fn release_claims(db: &Db) -> Result<u64, DbErr> {
    let r = outbox::Entity::update_many()
        .col_expr(outbox::Column::ClaimedUntil, no_claim())
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
    insert(conn, vec![row(to, message)?]).await
}

/// The outbox row of `message` for `to`, to be written by [`insert`]; an
/// error if the outbox cannot carry it.
pub fn row(to: &Destination, message: &Message) -> Result<outbox::ActiveModel, DbErr> {
    let destination = to
        .stored()
        .ok_or_else(|| DbErr::Custom(format!("the outbox does not carry {to}")))?;
    let payload = String::from_utf8(message.payload.clone())
        .map_err(|_| DbErr::Custom("outbox payloads are JSON text".into()))?;
    Ok(outbox::ActiveModel {
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
    })
}

/// The most rows one `INSERT` carries: 13 bound values a row, well under
/// PostgreSQL's 65 535 parameters a statement.
const ROWS_PER_INSERT: usize = 1000;

/// Writes `rows` in the caller's transaction, in their order (ids ascend
/// with it, the order the relay publishes in), as one multi-row `INSERT`
/// (per [`ROWS_PER_INSERT`]): a handler's event and notice command were one
/// statement each, the largest group of statements in a lifecycle.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<outbox::ActiveModel>,
) -> Result<(), DbErr> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_INSERT).collect();
        // Without `RETURNING`: the rows (their payloads and headers) would
        // come back from the database and be decoded for nothing.
        outbox::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
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

/// Where a handler's transaction writes the messages that must leave with
/// its state change.
///
/// On RabbitMQ that is the outbox table, and the [`Relay`] publishes the
/// rows after the commit. On the embedded bus the queues are rows of the
/// same database, so the messages are written straight into the bus's
/// table in the handler's transaction (all of them in one statement just
/// before it commits, as the outbox rows are): as safe as the outbox (they exist
/// exactly when the state change does), without the relay's three further
/// writes per message (claim, publish, mark) or its hop.
#[derive(Clone)]
pub enum Outbox {
    /// Rows of `outbox`: handed to this process's relay right after their
    /// commit ([`Outbox::committed`]), which publishes them at once without
    /// looking for them; its batches take what that missed (the process
    /// died, the broker refused).
    Relayed(Relay),
    /// Rows of `outbox` left to the relay of a service running elsewhere:
    /// for a command-line tool, which has no bus.
    Deferred,
    /// Rows of the embedded bus itself. The relay is not woken after a
    /// commit: nothing a handler writes is in the outbox table here, and a
    /// wake-up cost a transaction on the one SQLite connection for every
    /// commit (about 13 a lifecycle). The rare rows another path writes
    /// there (a report's event) leave at the relay's next poll.
    Embedded {
        bus: Bus,
        transport: crate::EmbeddedTransport,
    },
}

/// A message for the outbox whose row is not written yet: the row is made
/// from it when written ([`Outbox::write`]), and it is what is published.
#[derive(Debug)]
pub struct Staged {
    to: Destination,
    message: Message,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outbox::Relayed(_) => "Outbox::Relayed",
            Outbox::Deferred => "Outbox::Deferred",
            Outbox::Embedded { .. } => "Outbox::Embedded",
        })
    }
}

impl Outbox {
    /// The outbox of a process on `bus` with `relay`: the bus's own table
    /// when it is the embedded bus (which always lives in the process's
    /// database: `gw_host::connect` builds it on the same pool), else the
    /// outbox table and the relay (which must publish on `bus`).
    pub fn of(bus: &Bus, relay: &Relay) -> Self {
        match bus
            .transport()
            .as_any()
            .downcast_ref::<crate::EmbeddedTransport>()
        {
            Some(t) => Outbox::Embedded {
                bus: bus.clone(),
                transport: t.clone(),
            },
            None => Outbox::Relayed(relay.clone()),
        }
    }

    /// Stages `message` for `to` as part of the caller's transaction: the
    /// caller writes its row with the transaction's others just before it
    /// commits ([`Outbox::write`], which refuses a destination the outbox
    /// cannot carry), and hands it to [`Outbox::committed`] after. On the
    /// embedded bus the row is the message in its queue, stamped with its
    /// producer's trace now.
    pub fn add(&self, to: &Destination, message: &Message) -> Staged {
        let message = match self {
            Outbox::Relayed(_) | Outbox::Deferred => message.clone(),
            Outbox::Embedded { bus, .. } => bus.producer_span(to, message).1,
        };
        Staged {
            to: to.clone(),
            message,
        }
    }

    /// Writes staged rows in the caller's transaction, in one statement
    /// ([`insert`]), claimed for the relay's claim time: this process's
    /// relay publishes them right after the commit, and no other relay
    /// takes them meanwhile; if it never does (the process died), the claim
    /// runs out and a relay's batch publishes them. On the embedded bus,
    /// into their queues, in one statement too (one round trip to the one
    /// SQLite connection, where a statement per message was one each).
    pub async fn write<C: ConnectionTrait>(
        &self,
        conn: &C,
        staged: &[Staged],
    ) -> Result<(), DbErr> {
        let until = match self {
            Outbox::Relayed(relay) => Some(chrono::Utc::now() + relay.claim()),
            Outbox::Deferred => None,
            Outbox::Embedded { transport, .. } => {
                return transport
                    .write(conn, staged.iter().map(|s| (&s.to, &s.message)))
                    .await;
            }
        };
        let rows = staged
            .iter()
            .map(|s| {
                let mut row = row(&s.to, &s.message)?;
                row.claimed_until = Set(until);
                Ok(row)
            })
            .collect::<Result<_, DbErr>>()?;
        insert(conn, rows).await
    }

    /// Acks `message` as part of the caller's transaction where the bus can
    /// (the embedded bus, whose rows are in this database: see
    /// [`crate::EmbeddedTransport::settle`]); on RabbitMQ nothing, the
    /// consumer acks after the commit. What was deleted goes to
    /// [`Outbox::committed`] after the commit, so that the consumer's ack
    /// writes nothing.
    pub async fn settle<C: ConnectionTrait>(
        &self,
        conn: &C,
        message: &Message,
    ) -> Result<Option<crate::Settled>, DbErr> {
        match self {
            Outbox::Relayed(_) | Outbox::Deferred => Ok(None),
            Outbox::Embedded { transport, .. } => transport.settle(conn, message).await,
        }
    }

    /// After the commit: hands the rows the transaction wrote
    /// ([`Outbox::write`]) to the relay to publish now, or wakes the embedded
    /// bus's consumers of the queues written to, notes the message the
    /// transaction settled (and purges the event journal's old rows when
    /// due).
    pub async fn committed(&self, settled: Option<crate::Settled>, staged: Vec<Staged>) {
        match self {
            Outbox::Relayed(relay) => relay.publish_committed(staged),
            Outbox::Deferred => {}
            Outbox::Embedded { transport, .. } => {
                if let Some(s) = settled {
                    transport.settled(s);
                }
                let written: std::collections::BTreeSet<String> =
                    staged.iter().map(|s| transport.queue_of(&s.to)).collect();
                for q in &written {
                    transport.wake(q);
                }
                if written.contains(crate::embedded::JOURNAL) {
                    transport.purge_journal().await;
                }
            }
        }
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
    /// Rows handlers committed, to publish now ([`Relay::publish_committed`]).
    committed: Arc<Committed>,
}

/// The rows handlers committed and claimed for this process, waiting for
/// [`Relay::publish_queued`].
#[derive(Default)]
struct Committed {
    queue: std::sync::Mutex<Vec<Staged>>,
    ready: Notify,
    /// Message ids the broker confirmed, not yet marked published
    /// ([`Relay::mark_published`]).
    confirmed: std::sync::Mutex<Vec<String>>,
}

/// How long confirmed rows wait to be marked published together: far
/// shorter than their claim, so no relay's batch takes them meanwhile; a
/// crash within it publishes them again once their claim runs out, which
/// consumers absorb.
const MARK_EVERY: Duration = Duration::from_millis(100);

/// The most committed rows one publish takes.
const COMMITTED_BATCH: usize = 500;

impl Relay {
    pub fn new(db: Db, bus: Bus) -> Self {
        Self {
            db,
            bus,
            wake: RelayWaker::default(),
            batch: 100,
            idle: Duration::from_millis(500),
            park_after: PARK_AFTER,
            committed: Arc::default(),
        }
    }

    /// How long the relay waits, with nothing to publish and no wake-up,
    /// before it looks again (for rows whose writer did not wake it).
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// The most rows one batch takes.
    fn batch_len(&self) -> usize {
        usize::try_from(self.batch).unwrap_or(usize::MAX)
    }

    /// How long this relay's claim on a batch lasts.
    fn claim(&self) -> chrono::Duration {
        let publishing =
            chrono::Duration::from_std(self.bus.publish_timeout() * 2).unwrap_or(CLAIM);
        CLAIM.max(publishing)
    }

    /// Queues rows a handler has just committed (claimed for this process
    /// by [`Outbox::write`]) for [`Relay::publish_queued`], which the
    /// running relay calls at once: the handler acks its own message
    /// without waiting for the broker, and the rows of commits that come
    /// together leave together.
    pub fn publish_committed(&self, staged: Vec<Staged>) {
        if staged.is_empty() {
            return;
        }
        self.committed
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(staged);
        self.committed.ready.notify_one();
    }

    /// Publishes what handlers committed ([`Relay::publish_committed`]),
    /// up to [`COMMITTED_BATCH`] rows, as one pipelined batch, and keeps
    /// what the broker confirmed for [`Relay::mark_published`]: no relay
    /// transaction or batch query per commit. What was not confirmed is let
    /// go of (its claim ended) for the relay's batches, which retry it,
    /// count its failures and park it if it keeps failing. How many rows
    /// were taken.
    pub async fn publish_queued(&self) -> usize {
        let staged: Vec<Staged> = {
            let mut queue = self
                .committed
                .queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = queue.len().min(COMMITTED_BATCH);
            queue.drain(..n).collect()
        };
        if staged.is_empty() {
            return 0;
        }
        let taken = staged.len();
        let batch: Vec<(Destination, Message)> =
            staged.into_iter().map(|s| (s.to, s.message)).collect();
        let results = self.bus.publish_many(&batch).await;
        let (mut confirmed, mut failed) = (Vec::new(), Vec::new());
        let mut error = None;
        for ((_, m), r) in batch.iter().zip(&results) {
            match r {
                Ok(()) => confirmed.push(m.id.clone()),
                Err(e) => {
                    failed.push(m.id.clone());
                    error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        self.committed
            .confirmed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(confirmed);
        if let Some(e) = error {
            tracing::warn!(rows = failed.len(), error = %e, "outbox publish after commit failed; the relay retries");
            let released = outbox::Entity::update_many()
                .col_expr(outbox::Column::ClaimedUntil, no_claim())
                .filter(outbox::Column::MessageId.is_in(failed))
                .exec(self.db.conn())
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "outbox rows not let go of; the relay takes them once their claim runs out");
            }
            self.wake.wake();
        }
        taken
    }

    /// Marks the rows [`Relay::publish_queued`] saw confirmed published, in
    /// one statement (one every [`MARK_EVERY`] while the relay runs, not one
    /// per commit); how many. A failure leaves them claimed: the relay
    /// publishes them again once the claim runs out, which consumers absorb.
    pub async fn mark_published(&self) -> usize {
        let ids = std::mem::take(
            &mut *self
                .committed
                .confirmed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if ids.is_empty() {
            return 0;
        }
        let n = ids.len();
        let marked = outbox::Entity::update_many()
            .col_expr(outbox::Column::PublishedAt, Expr::value(chrono::Utc::now()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .col_expr(outbox::Column::ClaimedUntil, no_claim())
            .filter(outbox::Column::MessageId.is_in(ids))
            .exec(self.db.conn())
            .await;
        if let Err(e) = marked {
            tracing::warn!(rows = n, error = %e, "published outbox rows not marked; the relay publishes them again once their claim runs out");
        }
        n
    }

    /// Publishes committed rows as they are queued until `shutdown`, then
    /// what is still queued.
    async fn run_committed(self, shutdown: CancellationToken) {
        loop {
            while self.publish_queued().await > 0 {}
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.committed.ready.notified() => {}
            }
        }
        while self.publish_queued().await > 0 {}
    }

    /// Marks published rows every [`MARK_EVERY`] until `shutdown`, in a
    /// task of its own so that publishing never waits for it.
    async fn run_marks(self, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(MARK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = every.tick() => {
                    self.mark_published().await;
                }
            }
        }
    }

    /// A handle to wake the relay from elsewhere.
    pub fn waker(&self) -> RelayWaker {
        self.wake.clone()
    }

    /// Runs until `shutdown`, then publishes what is committed by then (the
    /// last work of draining consumers) and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let committed = tokio::spawn(self.clone().run_committed(shutdown.clone()));
        let marks = tokio::spawn(self.clone().run_marks(shutdown.clone()));
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
            // A full batch may leave more behind: go on at once. A partial
            // one took everything there was when it looked, so wait for the
            // next commit's wake-up (a commit while the batch was out left
            // its wake-up stored, so nothing waits for the poll) instead of
            // a transaction that finds nothing (about 6 a lifecycle).
            if published < self.batch_len() {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = self.wake.0.notified() => {}
                    () = tokio::time::sleep(self.idle) => {}
                }
            }
        }
        // Drain: first what handlers committed (claimed for this process,
        // so the batches below would not take it), then the table; whatever
        // is left is published at the next start anyway.
        for (task, what) in [(committed, "publishing"), (marks, "marking")] {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "outbox relay: {what} committed rows failed");
            }
        }
        self.mark_published().await;
        while let Ok(n) = self.publish_batch().await {
            if n == 0 {
                break;
            }
        }
    }

    /// Publishes one batch; returns how many rows were settled (published,
    /// or parked as dead letters): none means there is nothing to do now.
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
        if self.db.backend() == DbBackend::Postgres {
            // The rows stay locked (other relays skip them) while they are
            // published and marked in this one transaction: one write per
            // row, and a relay that dies lets go of its batch at once.
            let n = self.publish_rows(&txn, rows).await?;
            txn.commit().await?;
            return Ok(n);
        }
        // SQLite has one connection, which publishing to the embedded bus
        // needs: the batch is claimed for a while instead, and the claim
        // committed before publishing.
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        outbox::Entity::update_many()
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(now + self.claim()),
            )
            .filter(outbox::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.publish_rows(self.db.conn(), rows).await
    }

    /// Publishes claimed or locked rows and records what became of each,
    /// on `conn`; how many were settled.
    async fn publish_rows<C: ConnectionTrait + TransactionTrait>(
        &self,
        conn: &C,
        rows: Vec<outbox::Model>,
    ) -> Result<usize, DbErr> {
        // Rows that cannot be read as messages are marked and skipped; the
        // rest go to the bus as one batch (pipelined, one round of confirms).
        let mut batch = Vec::with_capacity(rows.len());
        let mut sendable = Vec::with_capacity(rows.len());
        for row in rows {
            match to_bus(&row) {
                Some(m) => {
                    batch.push(m);
                    sendable.push(row);
                }
                None => {
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
                }
            }
        }
        let results = self.bus.publish_many(&batch).await;

        // What the broker confirmed is published, whatever failed beside
        // it (a batch is pipelined: a row after a failed one is already in
        // its queue, and publishing it again would only make a duplicate).
        let confirmed: Vec<i64> = sendable
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(row, _)| row.id)
            .collect();
        let mut settled = confirmed.len();
        if !confirmed.is_empty() {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::PublishedAt, Expr::value(chrono::Utc::now()))
                .col_expr(
                    outbox::Column::Attempts,
                    Expr::col(outbox::Column::Attempts).add(1),
                )
                .filter(outbox::Column::Id.is_in(confirmed))
                .exec(conn)
                .await?;
        }
        // A row the broker refused or could not route counts an attempt and
        // is parked once it has failed too often; a broker that is down or
        // slow is nobody's row's fault: those rows are released as they are.
        let mut released = Vec::new();
        let mut broker_error = None;
        for ((row, (_, message)), r) in sendable.iter().zip(&batch).zip(&results) {
            let Err(e) = r else { continue };
            if !counts_against_row(e) {
                released.push(row.id);
                broker_error.get_or_insert_with(|| e.to_string());
                continue;
            }
            if row.attempts + 1 >= self.park_after {
                // This row is the problem, not the broker: move it to the
                // dead letters so the rows behind it can go.
                self.park(conn, row, message, e).await?;
                settled += 1;
                continue;
            }
            tracing::warn!(message_id = %message.id, error = %e, "outbox publish refused; will retry");
            outbox::Entity::update_many()
                .col_expr(outbox::Column::Attempts, Expr::value(row.attempts + 1))
                .col_expr(outbox::Column::LastError, Expr::value(e.to_string()))
                .col_expr(outbox::Column::ClaimedUntil, no_claim())
                .filter(outbox::Column::Id.eq(row.id))
                .exec(conn)
                .await?;
        }
        if let Some(e) = broker_error {
            tracing::warn!(rows = released.len(), error = %e, "outbox publish failed; will retry");
            outbox::Entity::update_many()
                .col_expr(outbox::Column::LastError, Expr::value(e))
                .col_expr(outbox::Column::ClaimedUntil, no_claim())
                .filter(outbox::Column::Id.is_in(released))
                .exec(conn)
                .await?;
        }
        Ok(settled)
    }

    /// Parks a row that keeps failing: recorded as a dead letter (an
    /// operator can see why and replay it) and skipped from now on.
    async fn park<C: ConnectionTrait + TransactionTrait>(
        &self,
        conn: &C,
        row: &outbox::Model,
        message: &Message,
        e: &gw_bus::BusError,
    ) -> Result<(), DbErr> {
        let txn = conn.begin().await?;
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
