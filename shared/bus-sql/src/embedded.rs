//! The embedded transport: the bus in the database, for the single-process
//! mode (`amqp.url = "embedded"`), where there is no broker.
//!
//! A message is a row of `bus_messages`; publishing commits the row (that is
//! the "confirm"), so an accepted message survives a crash. A consumer claims
//! the oldest visible row of its queue with a lease (a token and an expiry),
//! renews the lease while its handler runs, and acks by deleting the row;
//! a consumer that dies lets its lease expire and the row is delivered
//! again. Only the holder of the lease can ack or requeue: a consumer whose
//! lease ran out and was taken over changes nothing.
//! Retry tiers are rows visible later; dead letters go to `<queue>.dlq`; a
//! row delivered more than the delivery limit is dead-lettered. Events go to
//! the `events.journal` queue, kept for a week. Workers see the same `Bus` as
//! with RabbitMQ: nothing in them changes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{
    BusError, Delivery, Destination, Message, Subscription, Topology, Transport, headers,
};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set, TransactionTrait,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use gw_storage::Db;
use gw_storage::entities::bus_messages;

/// Queue of the event journal.
pub const JOURNAL: &str = "events.journal";
const JOURNAL_DAYS: i64 = 7;
/// The most messages a subscription claims at once. The consumer hands
/// them to its handlers as they free up, so a batch bigger than the free
/// handlers only holds messages another consumer of the queue could take.
const MAX_CLAIM: u16 = 8;
/// How often an idle consumer looks at its queue without a wake-up, by
/// default: for rows that become visible later (retry tiers) or whose
/// lease ran out.
const POLL: Duration = Duration::from_millis(250);

struct Inner {
    db: Db,
    /// One wake-up per queue: a publish wakes only the consumers of the
    /// queue it wrote to (waking every consumer of every queue made each of
    /// them query the one SQLite connection for nothing).
    wakes: std::sync::Mutex<BTreeMap<String, Arc<Wake>>>,
    /// When old journal rows were last purged (at most once a minute, not
    /// on every event).
    purged: std::sync::Mutex<Option<std::time::Instant>>,
    /// How long a claimed message is held before it is delivered again.
    lease: Duration,
    /// How often an idle consumer looks at its queue without a wake-up.
    poll: Duration,
    delivery_limit: i32,
    prefix: String,
    /// Acks waiting to be written together, and the one writing them.
    acks: std::sync::Mutex<Vec<PendingAck>>,
    ack_writer: tokio::sync::Mutex<()>,
    /// Receipts (row id, lease) of messages a committed handler
    /// transaction deleted ([`EmbeddedTransport::settled`]): their
    /// consumer's ack is then answered without a statement (it cost a
    /// DELETE that found nothing and a SELECT to tell gone from held, on the
    /// one SQLite connection, for most messages of a lifecycle).
    settled: std::sync::Mutex<std::collections::HashSet<Settled>>,
}

/// The wake-up of one queue's consumers: a notification, and a count of
/// the wake-ups so far, by which a consumer that found the queue drained
/// knows whether anything was written to it since it looked.
#[derive(Default)]
struct Wake {
    notify: Notify,
    epoch: std::sync::atomic::AtomicU64,
}

impl Wake {
    fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A message a transaction deleted from the bus ([`EmbeddedTransport::settle`]):
/// its row id and the lease its delivery held. Once the transaction has
/// committed, [`EmbeddedTransport::settled`] tells the bus.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Settled {
    id: i64,
    lease: String,
}

/// The bus in the database.
#[derive(Clone)]
pub struct EmbeddedTransport {
    inner: Arc<Inner>,
}

fn err(e: sea_orm::DbErr) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl EmbeddedTransport {
    pub fn new(db: Db, topology: &Topology) -> Self {
        Self::with_lease(db, topology, Duration::from_secs(60))
    }

    /// Frees every lease, so that what a previous run was handling when it
    /// died is delivered again now rather than when its lease runs out (a
    /// minute). Only for the one process that owns the database, the
    /// embedded gateway holding its data directory's lock: it would break
    /// the lease of any other live consumer. How many were freed.
    pub async fn release_leases(db: &Db) -> Result<u64, BusError> {
        let freed = bus_messages::Entity::update_many()
            .col_expr(
                bus_messages::Column::LockedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .col_expr(
                bus_messages::Column::Lease,
                Expr::value(Option::<String>::None),
            )
            .filter(bus_messages::Column::Lease.is_not_null())
            .exec(db.conn())
            .await
            .map_err(err)?;
        Ok(freed.rows_affected)
    }

    /// With a lease of this length (renewed every third of it while the
    /// handler runs; a consumer that dies lets it run out).
    pub fn with_lease(db: Db, topology: &Topology, lease: Duration) -> Self {
        Self::with_timing(db, topology, lease, POLL)
    }

    /// With a lease of this length, and an idle consumer looking at its
    /// queue every `poll` without a wake-up (for rows that become visible
    /// later: retry tiers, leases that ran out).
    pub fn with_timing(db: Db, topology: &Topology, lease: Duration, poll: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                wakes: std::sync::Mutex::default(),
                purged: std::sync::Mutex::default(),
                lease,
                poll,
                delivery_limit: i32::try_from(topology.delivery_limit).unwrap_or(10),
                prefix: topology.prefix().to_owned(),
                acks: std::sync::Mutex::default(),
                ack_writer: tokio::sync::Mutex::default(),
                settled: std::sync::Mutex::default(),
            }),
        }
    }

    /// Writes `messages` to their queues as part of the caller's
    /// transaction (on the database this bus lives in), in one statement
    /// (per hundred): the outbox of a process on the embedded bus is the
    /// bus itself. Once the transaction has committed,
    /// [`EmbeddedTransport::wake`] wakes the consumers of each message's
    /// queue ([`EmbeddedTransport::queue_of`]).
    pub async fn write<'a, C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        messages: impl IntoIterator<Item = (&'a Destination, &'a Message)>,
    ) -> Result<(), sea_orm::DbErr> {
        let rows: Vec<bus_messages::ActiveModel> = messages
            .into_iter()
            .map(|(to, message)| {
                let (queue, key, delay) = self.placed(to);
                row(&queue, message, key, delay)
            })
            .collect();
        // Well below SQLite's limit on a statement's parameters.
        for chunk in rows.chunks(100) {
            bus_messages::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(conn)
                .await?;
        }
        Ok(())
    }

    /// The queue a message for `to` is written to (whose consumers to wake).
    pub fn queue_of(&self, to: &Destination) -> String {
        self.placed(to).0
    }

    /// Acks `m`, a message this bus delivered, as part of the caller's
    /// transaction: its row goes exactly when the transaction commits,
    /// which saves the ack's own write and sync of the file. For handlers
    /// whose commit means the message is done (the consumer's ack after
    /// it then finds the row gone, and is content). The row deleted, if
    /// one was: none for a message without a receipt (not delivered by
    /// this bus) or whose lease another consumer holds now.
    pub async fn settle<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        m: &Message,
    ) -> Result<Option<Settled>, sea_orm::DbErr> {
        let Some(settled) = receipt(m) else {
            return Ok(None);
        };
        let r = bus_messages::Entity::delete_many()
            .filter(bus_messages::Column::Id.eq(settled.id))
            .filter(bus_messages::Column::Lease.eq(settled.lease.as_str()))
            .exec(conn)
            .await?;
        Ok((r.rows_affected == 1).then_some(settled))
    }

    /// Says that the transaction of [`Self::settle`] has committed: the
    /// consumer's ack of that message then writes nothing.
    pub fn settled(&self, settled: Settled) {
        lock(&self.inner.settled).insert(settled);
    }

    /// Wakes the consumers of `queue` (after a commit that wrote to it).
    pub fn wake(&self, queue: &str) {
        self.inner.wake(queue);
    }

    /// Purges old journal rows when due (at most once a minute).
    pub async fn purge_journal(&self) {
        self.inner.purge_journal().await;
    }

    /// Where a message for `to` is written: its queue, the routing key it
    /// carries along (an event's, in the journal) and when it is visible.
    fn placed<'a>(&self, to: &'a Destination) -> (String, Option<&'a str>, Duration) {
        match to {
            Destination::Queue(q) => (self.logical(q).to_owned(), None, Duration::ZERO),
            Destination::Event(key) => (JOURNAL.to_owned(), Some(key), Duration::ZERO),
            Destination::Retry {
                queue,
                expire_after,
                ..
            } => (self.logical(queue).to_owned(), None, *expire_after),
            Destination::DeadLetter { queue } => {
                (format!("{}.dlq", self.logical(queue)), None, Duration::ZERO)
            }
        }
    }

    /// A logical queue name from a logical or full (prefixed) one.
    fn logical<'a>(&self, queue: &'a str) -> &'a str {
        queue
            .strip_prefix(&self.inner.prefix)
            .and_then(|q| q.strip_prefix('.'))
            .unwrap_or(queue)
    }
}

impl Inner {
    /// The wake-up of `queue`'s consumers.
    fn wake_of(&self, queue: &str) -> Arc<Wake> {
        match self.wakes.lock() {
            Ok(mut m) => m.entry(queue.to_owned()).or_default().clone(),
            // A poisoned map: a fresh one still works, the poll finds the row.
            Err(_) => Arc::default(),
        }
    }

    fn wake(&self, queue: &str) {
        let wake = self.wake_of(queue);
        // Counted before the notification: a consumer that reads the count
        // after registering for the notification misses neither.
        wake.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        wake.notify.notify_waiters();
    }

    async fn insert(
        &self,
        queue: &str,
        m: &Message,
        key: Option<&str>,
        delay: Duration,
    ) -> Result<(), BusError> {
        bus_messages::Entity::insert(row(queue, m, key, delay))
            .exec_without_returning(self.db.conn())
            .await
            .map_err(err)?;
        self.wake(queue);
        Ok(())
    }

    /// Deletes journal rows older than the journal keeps, at most once a
    /// minute. A failure is logged and tried again at the next: the
    /// messages published meanwhile are written all the same.
    async fn purge_journal(&self) {
        let due = match self.purged.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
                if due {
                    *last = Some(std::time::Instant::now());
                }
                due
            }
            Err(_) => true,
        };
        if !due {
            return;
        }
        let cutoff = Utc::now() - chrono::Duration::days(JOURNAL_DAYS);
        if let Err(e) = bus_messages::Entity::delete_many()
            .filter(bus_messages::Column::Queue.eq(JOURNAL))
            .filter(bus_messages::Column::CreatedAt.lt(cutoff))
            .exec(self.db.conn())
            .await
        {
            tracing::warn!(error = %e, "embedded bus: cannot purge the old journal rows");
        }
    }
    /// Claims up to `max` of the oldest visible, unleased messages of
    /// `queue`, oldest first, in one statement (one commit for the batch,
    /// where a claim per message cost a read, a write and a sync of the
    /// file each). A row past the delivery limit is dead-lettered instead.
    async fn claim(&self, queue: &str, max: u64) -> Result<Vec<bus_messages::Model>, BusError> {
        loop {
            let now = Utc::now();
            let free = Condition::any()
                .add(bus_messages::Column::LockedUntil.is_null())
                .add(bus_messages::Column::LockedUntil.lt(now));
            let oldest = bus_messages::Entity::find()
                .select_only()
                .column(bus_messages::Column::Id)
                .filter(bus_messages::Column::Queue.eq(queue))
                .filter(bus_messages::Column::VisibleAt.lte(now))
                .filter(free.clone())
                .order_by_asc(bus_messages::Column::Id)
                .limit(std::cmp::max(max, 1))
                .into_query();
            let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
            let lease = uuid::Uuid::new_v4().simple().to_string();
            // `free` again outside the subquery: on a database with several
            // writers, a row another consumer took meanwhile is left alone.
            let mut rows = bus_messages::Entity::update_many()
                .col_expr(bus_messages::Column::LockedUntil, Expr::value(until))
                .col_expr(bus_messages::Column::Lease, Expr::value(lease))
                .col_expr(
                    bus_messages::Column::Deliveries,
                    Expr::col(bus_messages::Column::Deliveries).add(1),
                )
                .filter(bus_messages::Column::Id.in_subquery(oldest))
                .filter(free)
                .exec_with_returning(self.db.conn())
                .await
                .map_err(err)?;
            if rows.is_empty() {
                return Ok(rows);
            }
            rows.sort_by_key(|r| r.id);
            let (poisoned, rows): (Vec<_>, Vec<_>) = rows
                .into_iter()
                .partition(|r| r.deliveries > self.delivery_limit);
            for row in &poisoned {
                self.dead_letter(queue, row).await?;
            }
            if !rows.is_empty() || poisoned.is_empty() {
                return Ok(rows);
            }
            // Only poisoned ones: look again for messages to deliver.
        }
    }

    /// Moves a message whose consumer keeps failing or dying to `queue`'s
    /// dead-letter queue, saying why.
    async fn dead_letter(&self, queue: &str, row: &bus_messages::Model) -> Result<(), BusError> {
        let mut headers: BTreeMap<String, String> =
            serde_json::from_value(row.headers.clone()).unwrap_or_default();
        headers.insert(
            headers::ERROR.to_owned(),
            "the delivery limit was reached (its consumers kept failing or dying)".to_owned(),
        );
        headers.insert(headers::FAILED_QUEUE.to_owned(), queue.to_owned());
        headers.insert(headers::FAILED_AT.to_owned(), Utc::now().to_rfc3339());
        headers.insert(headers::DEAD_LETTERED_BY.to_owned(), "broker".to_owned());
        bus_messages::Entity::update_many()
            .col_expr(
                bus_messages::Column::Queue,
                Expr::value(format!("{queue}.dlq")),
            )
            .col_expr(
                bus_messages::Column::LockedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .col_expr(
                bus_messages::Column::Headers,
                Expr::value(serde_json::to_value(&headers).unwrap_or_default()),
            )
            .col_expr(
                bus_messages::Column::Lease,
                Expr::value(Option::<String>::None),
            )
            .filter(bus_messages::Column::Id.eq(row.id))
            .exec(self.db.conn())
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Acks message `id` held with `lease`: deletes its row, together with
    /// those of every other ack waiting meanwhile (one statement and one
    /// sync of the file for all of them: on the one SQLite connection, acks
    /// arrive in bursts while a write runs). Returns once the row is gone
    /// (`true`) or found held by another lease (`false`).
    async fn ack(&self, id: i64, lease: &str) -> Result<bool, BusError> {
        let (done, result) = tokio::sync::oneshot::channel();
        lock(&self.acks).push(PendingAck {
            id,
            lease: lease.to_owned(),
            done,
        });
        {
            // Whoever writes takes every ack waiting: by the time this one
            // gets the writer, its ack is written, or is still waiting and
            // is written now.
            let _writer = self.ack_writer.lock().await;
            let batch = std::mem::take(&mut *lock(&self.acks));
            if !batch.is_empty() {
                let held = self.delete_acked(&batch).await;
                for a in batch {
                    // The acker may be gone (its task cancelled): nothing to tell.
                    let _ = a.done.send(match &held {
                        Ok(held) => Ok(!held.contains(&a.id)),
                        Err(e) => Err(e.clone()),
                    });
                }
            }
        }
        result
            .await
            .unwrap_or_else(|_| Err(BusError::Other("the ack was not written".into())))
    }

    /// Deletes the rows of `batch` still held by their leases. Returns the
    /// ids of those another consumer holds now; a row already gone was
    /// settled by its handler's transaction ([`EmbeddedTransport::settle`]).
    async fn delete_acked(
        &self,
        batch: &[PendingAck],
    ) -> Result<std::collections::BTreeSet<i64>, BusError> {
        let mut mine = Condition::any();
        for a in batch {
            mine = mine.add(
                Condition::all()
                    .add(bus_messages::Column::Id.eq(a.id))
                    .add(bus_messages::Column::Lease.eq(a.lease.clone())),
            );
        }
        let mut delete = bus_messages::Entity::delete_many()
            .filter(mine)
            .into_query();
        delete.returning_col(bus_messages::Column::Id);
        let conn = self.db.conn();
        let deleted = conn
            .query_all(&delete)
            .await
            .and_then(|rows| ids(&rows))
            .map_err(err)?;
        let rest: Vec<i64> = batch
            .iter()
            .map(|a| a.id)
            .filter(|id| !deleted.contains(id))
            .collect();
        if rest.is_empty() {
            return Ok(Default::default());
        }
        let still = bus_messages::Entity::find()
            .select_only()
            .column(bus_messages::Column::Id)
            .filter(bus_messages::Column::Id.is_in(rest))
            .into_query();
        conn.query_all(&still)
            .await
            .and_then(|rows| ids(&rows))
            .map_err(err)
    }
}

/// The row id and lease of the receipt a delivered message carries.
fn receipt(m: &Message) -> Option<Settled> {
    let (id, lease) = m.header(headers::RECEIPT)?.split_once(':')?;
    Some(Settled {
        id: id.parse().ok()?,
        lease: lease.to_owned(),
    })
}

/// The `id` column of `rows`.
fn ids(rows: &[sea_orm::QueryResult]) -> Result<std::collections::BTreeSet<i64>, sea_orm::DbErr> {
    rows.iter().map(|r| r.try_get::<i64>("", "id")).collect()
}

/// An ack waiting to be written with others (see `Inner::ack`).
struct PendingAck {
    id: i64,
    lease: String,
    done: tokio::sync::oneshot::Sender<Result<bool, BusError>>,
}

/// A poisoned lock still holds a usable list (a plain `Vec` push or take).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The row of `m` in `queue`, visible after `delay`, carrying the routing
/// key `key` among its headers when it has one.
fn row(queue: &str, m: &Message, key: Option<&str>, delay: Duration) -> bus_messages::ActiveModel {
    let now = Utc::now();
    let mut headers = serde_json::to_value(&m.headers).unwrap_or_default();
    if let Some(h) = headers.as_object_mut() {
        h.remove(headers::RECEIPT);
        if let Some(key) = key {
            h.insert("routing-key".to_owned(), key.into());
        }
    }
    let visible = now + chrono::Duration::from_std(delay).unwrap_or_default();
    bus_messages::ActiveModel {
        queue: Set(queue.to_owned()),
        message_id: Set(m.id.clone()),
        kind: Set(m.kind.clone()),
        schema_version: Set(i32::try_from(m.schema_version).unwrap_or(i32::MAX)),
        correlation_id: Set(m.correlation_id.clone()),
        attempt: Set(i32::try_from(m.attempt).unwrap_or(i32::MAX)),
        headers: Set(headers),
        payload: Set(m.payload.clone()),
        visible_at: Set(visible),
        locked_until: Set(None),
        deliveries: Set(0),
        created_at: Set(now),
        lease: Set(None),
        ..Default::default()
    }
}

fn to_message(row: &bus_messages::Model) -> Message {
    let mut headers: BTreeMap<String, String> =
        serde_json::from_value(row.headers.clone()).unwrap_or_default();
    headers.remove(headers::RECEIPT);
    if let Some(lease) = &row.lease {
        headers.insert(headers::RECEIPT.to_owned(), format!("{}:{lease}", row.id));
    }
    Message {
        id: row.message_id.clone(),
        kind: row.kind.clone(),
        schema_version: u32::try_from(row.schema_version).unwrap_or(1),
        correlation_id: row.correlation_id.clone(),
        attempt: u32::try_from(row.attempt).unwrap_or(1),
        timestamp: row.created_at,
        headers,
        payload: row.payload.clone(),
    }
}

struct EmbeddedDelivery {
    inner: Arc<Inner>,
    id: i64,
    queue: String,
    lease: String,
    message: Message,
    redelivered: bool,
    /// Stops the lease renewal (on ack, requeue or drop).
    renewing: CancellationToken,
}

impl EmbeddedDelivery {
    /// What marks this delivery settled by its handler's transaction.
    fn receipt(&self) -> Settled {
        Settled {
            id: self.id,
            lease: self.lease.clone(),
        }
    }

    /// A delivery of a claimed row, its lease renewed until it is settled.
    fn new(inner: Arc<Inner>, row: bus_messages::Model) -> Self {
        let renewing = CancellationToken::new();
        let lease = row.lease.clone().unwrap_or_default();
        tokio::spawn(renew(
            inner.clone(),
            row.id,
            lease.clone(),
            renewing.clone(),
        ));
        Self {
            id: row.id,
            message: to_message(&row),
            queue: row.queue.clone(),
            redelivered: row.deliveries > 1,
            inner,
            lease,
            renewing,
        }
    }

    fn mine(&self) -> Condition {
        Condition::all()
            .add(bus_messages::Column::Id.eq(self.id))
            .add(bus_messages::Column::Lease.eq(self.lease.clone()))
    }
}

impl Drop for EmbeddedDelivery {
    fn drop(&mut self) {
        self.renewing.cancel();
        lock(&self.inner.settled).remove(&self.receipt());
    }
}

/// Extends the lease of a row being handled every third of the lease, so a
/// handler that takes long keeps its message; stops once the row is
/// settled or the lease was lost.
async fn renew(inner: Arc<Inner>, id: i64, lease: String, stop: CancellationToken) {
    let every = inner.lease / 3;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let until = Utc::now() + chrono::Duration::from_std(inner.lease).unwrap_or_default();
        let renewed = bus_messages::Entity::update_many()
            .col_expr(bus_messages::Column::LockedUntil, Expr::value(until))
            .filter(bus_messages::Column::Id.eq(id))
            .filter(bus_messages::Column::Lease.eq(lease.clone()))
            .exec(inner.db.conn())
            .await;
        match renewed {
            Ok(r) if r.rows_affected == 1 => {}
            Ok(_) => return, // settled, or taken over
            Err(e) => {
                tracing::warn!(bus_message = id, error = %e, "embedded bus: cannot renew a lease")
            }
        }
    }
}

#[async_trait]
impl Delivery for EmbeddedDelivery {
    fn message(&self) -> &Message {
        &self.message
    }
    fn redelivered(&self) -> bool {
        self.redelivered
    }
    async fn ack(&self) -> Result<(), BusError> {
        self.renewing.cancel();
        if lock(&self.inner.settled).remove(&self.receipt()) {
            // Deleted by its handler's committed transaction.
            return Ok(());
        }
        if self.inner.ack(self.id, &self.lease).await? {
            Ok(())
        } else {
            Err(BusError::Other(
                "the lease ran out and another consumer took the message".into(),
            ))
        }
    }
    async fn requeue(&self) -> Result<(), BusError> {
        self.renewing.cancel();
        bus_messages::Entity::update_many()
            .col_expr(
                bus_messages::Column::LockedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .col_expr(
                bus_messages::Column::Lease,
                Expr::value(Option::<String>::None),
            )
            .filter(self.mine())
            .exec(self.inner.db.conn())
            .await
            .map_err(err)?;
        self.inner.wake(&self.queue);
        Ok(())
    }
}

struct EmbeddedSubscription {
    inner: Arc<Inner>,
    queue: String,
    wake: Arc<Wake>,
    /// How many messages one claim takes (the consumer's prefetch).
    batch: u64,
    /// Claimed, their leases renewed, not yet handed out.
    claimed: std::collections::VecDeque<EmbeddedDelivery>,
    /// The queue's wake-up count read before the last claim, if that claim
    /// took fewer messages than it asked for: the queue held no more then,
    /// so the next claim waits for a wake-up after that count (or the
    /// poll) instead of asking the one connection again at once, which
    /// found nothing for about every message delivered.
    drained_at: Option<u64>,
    cancelled: bool,
}

#[async_trait]
impl Subscription for EmbeddedSubscription {
    async fn next(&mut self) -> Option<Box<dyn Delivery>> {
        loop {
            if self.cancelled {
                return None;
            }
            if let Some(d) = self.claimed.pop_front() {
                return Some(Box::new(d));
            }
            // Register for wake-ups before looking, so a publish in between is not missed.
            let woken = self.wake.notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(drained) = self.drained_at.take()
                && self.wake.epoch() == drained
            {
                // Nothing written to the queue since it was found drained.
                tokio::select! {
                    () = &mut woken => {}
                    () = tokio::time::sleep(self.inner.poll) => {}
                }
                continue;
            }
            let epoch = self.wake.epoch();
            match self.inner.claim(&self.queue, self.batch).await {
                Ok(rows) if !rows.is_empty() => {
                    if (rows.len() as u64) < self.batch {
                        self.drained_at = Some(epoch);
                    }
                    self.claimed.extend(
                        rows.into_iter()
                            .map(|row| EmbeddedDelivery::new(self.inner.clone(), row)),
                    );
                }
                Ok(_) => {
                    // Rows made visible later (retry tiers) are found by the poll.
                    tokio::select! {
                        () = &mut woken => {}
                        () = tokio::time::sleep(self.inner.poll) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = %self.queue, error = %e, "embedded bus: cannot read the queue; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Gives back what was claimed and not handed out, so it is delivered
    /// again at once rather than when its lease runs out.
    async fn cancel(&mut self) -> Result<(), BusError> {
        self.cancelled = true;
        let mut given_back = Ok(());
        for d in std::mem::take(&mut self.claimed) {
            if let Err(e) = d.requeue().await {
                given_back = Err(e);
            }
        }
        given_back
    }
}

#[async_trait]
impl Transport for EmbeddedTransport {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn system(&self) -> &'static str {
        // The bus in the database (the single-process gateway).
        "embedded"
    }

    async fn declare(&self, _topology: &Topology) -> Result<(), BusError> {
        // The table is created by the migrations; queues are just names.
        Ok(())
    }

    async fn publish(&self, to: &Destination, message: &Message) -> Result<(), BusError> {
        let (queue, key, delay) = self.placed(to);
        self.inner.insert(&queue, message, key, delay).await?;
        if key.is_some() {
            self.inner.purge_journal().await;
        }
        Ok(())
    }

    /// One transaction for the whole batch: one commit (one sync of the
    /// file) instead of one per message. All or nothing.
    async fn publish_many(&self, batch: &[(Destination, Message)]) -> Vec<Result<(), BusError>> {
        let written = async {
            let txn = self.inner.db.conn().begin().await.map_err(err)?;
            let mut queues = std::collections::BTreeSet::new();
            for (to, message) in batch {
                let (queue, key, delay) = self.placed(to);
                bus_messages::Entity::insert(row(&queue, message, key, delay))
                    .exec_without_returning(&txn)
                    .await
                    .map_err(err)?;
                queues.insert(queue);
            }
            txn.commit().await.map_err(err)?;
            Ok::<_, BusError>(queues)
        }
        .await;
        match written {
            Ok(queues) => {
                for q in &queues {
                    self.inner.wake(q);
                }
                if batch
                    .iter()
                    .any(|(to, _)| matches!(to, Destination::Event(_)))
                {
                    self.inner.purge_journal().await;
                }
                batch.iter().map(|_| Ok(())).collect()
            }
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    async fn subscribe(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<Box<dyn Subscription>, BusError> {
        let queue = self.logical(queue).to_owned();
        Ok(Box::new(EmbeddedSubscription {
            inner: self.inner.clone(),
            wake: self.inner.wake_of(&queue),
            queue,
            batch: u64::from(prefetch.clamp(1, MAX_CLAIM)),
            claimed: std::collections::VecDeque::new(),
            drained_at: None,
            cancelled: false,
        }))
    }

    async fn get(&self, full_queue_name: &str) -> Result<Option<Box<dyn Delivery>>, BusError> {
        let queue = self.logical(full_queue_name);
        Ok(self.inner.claim(queue, 1).await?.pop().map(|row| {
            Box::new(EmbeddedDelivery::new(self.inner.clone(), row)) as Box<dyn Delivery>
        }))
    }

    async fn check(&self) -> Result<(), BusError> {
        self.inner.db.check().await.map_err(err)
    }

    async fn delete(&self, _topology: &Topology) -> Result<(), BusError> {
        bus_messages::Entity::delete_many()
            .exec(self.inner.db.conn())
            .await
            .map(|_| ())
            .map_err(err)
    }

    async fn close(&self) {}
}
