//! The transaction of a worker's handler, written once.
//!
//! Every handler that moves an application on does the same things in one
//! database transaction: skip a message already handled (the inbox), read
//! the application with its state and version, ask the lifecycle what the
//! event does, queue the notice behind the application's previous one,
//! save the change if nobody else changed the application meanwhile, write
//! the commands and events to the outbox, commit, and wake the relay. This
//! crate does all of that; a handler says only what to decide and what to
//! send.
//!
//! ```ignore
//! // In a `ConsumeOnce` handler, `tx` has the message's inbox row already.
//! let mut t = match tx.transition(&applyno, Some(&counterpart), Event::Cancel).await? {
//!     Outcome::Moved(t) => t,
//!     Outcome::Refused { refusal, .. } => return tx.commit().await, // or a notice saying why
//! };
//! tx.notify(&mut t, notice).await?;      // chained after the previous notice
//! tx.emit_transition(EventKey::ApplicationCancelled, &t, details).await?;
//! tx.save(t).await?;                     // versioned: a lost race is retried
//! tx.commit().await                      // and the relay publishes
//! ```

mod failure;
mod once;

pub use failure::{DbResultExt, db_failure};
pub use once::{ConsumeOnce, once};

use gw_bus::{Failure, Message};
use gw_bus_sql::Outbox;
use gw_bus_sql::outbox::Staged;
use gw_contract::events::EventPayload;
use gw_contract::{ApplicationEvent, Contract, EventKey, NoticeCommand};
use gw_lifecycle::{Effect, Event, Refusal, State};
use gw_protocol::{ApplicationNo, ApplyNo, CounterpartName, Interface, Notice};
use gw_storage::Db;
use gw_storage::applications::{self, Application, Changes, SaveError};
use gw_storage::inbox;
use gw_storage::sea_orm::{DatabaseTransaction, Set, TransactionTrait};
use std::sync::{Arc, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What handlers share: the database and where their messages go (the
/// outbox and its relay, or the embedded bus's own table).
///
/// Transactions are capped at the pool's size (less a few connections for
/// reads, the relay and HTTP handlers): a process with many consumers and a
/// deep prefetch queues its handlers for a transaction here, in order,
/// instead of timing out on the pool (which would look like a database
/// outage and pause the consumers).
#[derive(Clone, Debug)]
pub struct Workflow {
    db: Db,
    outbox: Outbox,
    transactions: Arc<Semaphore>,
}

/// Connections of the pool kept for what is not a handler's transaction.
const RESERVED: u32 = 2;

/// How long a handler waits for a transaction before it fails (transiently).
const WAIT_FOR_TRANSACTION: std::time::Duration = std::time::Duration::from_secs(30);

impl Workflow {
    pub fn new(db: Db, outbox: Outbox) -> Self {
        let pool = db.max_connections();
        let n = if pool > RESERVED + 1 {
            pool - RESERVED
        } else {
            pool.max(1)
        };
        Self {
            db,
            outbox,
            transactions: Arc::new(Semaphore::new(usize::try_from(n).unwrap_or(1))),
        }
    }

    /// A workflow for a command-line tool, which has no bus: what its
    /// transactions write to the outbox waits there for the relay of a
    /// running service.
    pub fn deferred(db: Db) -> Self {
        Self::new(db, Outbox::Deferred)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Starts a transaction (waiting for a free slot; see [`Workflow`]).
    pub async fn begin(&self) -> Result<Tx, Failure> {
        let permit = tokio::time::timeout(
            WAIT_FOR_TRANSACTION,
            self.transactions.clone().acquire_owned(),
        )
        .await
        .map_err(|_| {
            Failure::transient(anyhow::anyhow!(
                "no database transaction free for {}s",
                WAIT_FOR_TRANSACTION.as_secs()
            ))
        })?
        .map_err(|_| Failure::transient(anyhow::anyhow!("the workflow is closed")))?;
        let system = match self.db.conn().get_database_backend() {
            gw_storage::sea_orm::DbBackend::Postgres => "postgresql",
            gw_storage::sea_orm::DbBackend::Sqlite => "sqlite",
            _ => "other_sql",
        };
        // From begin to commit or rollback (when the Tx is dropped).
        let span = tracing::info_span!(
            "transaction",
            otel.name = "db transaction",
            db.system.name = system,
            db.operation.name = "transaction",
            outcome = tracing::field::Empty,
        );
        Ok(Tx {
            txn: self.db.conn().begin().await.transient()?,
            outbox: self.outbox.clone(),
            staged: std::sync::Mutex::default(),
            settled: std::sync::Mutex::default(),
            _slot: permit,
            span,
        })
    }

    /// Starts a transaction for message `m` of `consumer`, or `None` when
    /// it was handled before (the inbox row is part of the transaction, so
    /// the message counts as handled only if it commits). The transaction
    /// also settles `m` ([`Tx::settle`]): once its inbox row is written, a
    /// delivery again changes nothing, so its commit may as well be the ack.
    pub async fn begin_once(&self, consumer: &str, m: &Message) -> Result<Option<Tx>, Failure> {
        let message_id = m.id.as_str();
        let tx = self.begin().await?;
        tx.settle(m).await?;
        if inbox::first_time(&tx.txn, consumer, message_id)
            .await
            .transient()?
        {
            Ok(Some(tx))
        } else {
            tracing::info!(consumer, message_id, "already handled");
            tx.commit().await?;
            Ok(None)
        }
    }
}

/// An application moved on by an event, not yet saved: the state before,
/// the state after, what to do, and the changes to record with it.
#[derive(Debug)]
pub struct Transition {
    /// The application as read (`None`: the event creates it).
    pub app: Option<Application>,
    pub next: State,
    pub effect: Effect,
    /// Further columns to change with the state.
    pub changes: Changes,
    /// The application's last notice, including those queued in this transition.
    last_notice: Option<String>,
}

impl Transition {
    /// The state before the event.
    pub fn from(&self) -> Option<State> {
        self.app.as_ref().map(|a| a.state)
    }

    /// The application as read; an event on an unknown application has none.
    pub fn app(&self) -> Result<&Application, Failure> {
        self.app
            .as_ref()
            .ok_or_else(|| Failure::permanent(anyhow::anyhow!("no application to change")))
    }
}

/// What an event does to an application.
#[derive(Debug)]
pub enum Outcome {
    Moved(Box<Transition>),
    /// The lifecycle refuses the event in this state.
    Refused {
        app: Option<Box<Application>>,
        refusal: Refusal,
    },
}

impl Outcome {
    /// The transition, or the application as read and why the lifecycle
    /// refused (for a request that is answered either way). An outcome
    /// without an application (an unknown one) is a permanent failure.
    pub fn decided(self) -> Result<Result<Box<Transition>, (Application, Refusal)>, Failure> {
        match self {
            Outcome::Moved(t) => Ok(Ok(t)),
            Outcome::Refused {
                app: Some(app),
                refusal,
            } => Ok(Err((*app, refusal))),
            Outcome::Refused { app: None, refusal } => Err(Failure::permanent(anyhow::anyhow!(
                "no application: {refusal}"
            ))),
        }
    }
}

/// One handler's transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    txn: DatabaseTransaction,
    outbox: Outbox,
    /// Outbox rows, written together just before the commit and published
    /// right after it.
    staged: std::sync::Mutex<Vec<Staged>>,
    /// The message this transaction deleted from the embedded bus, told to
    /// the bus after the commit ([`Tx::settle`]).
    settled: std::sync::Mutex<Option<gw_bus_sql::Settled>>,
    /// Held until the transaction ends.
    _slot: OwnedSemaphorePermit,
    /// The transaction's span; ends with it.
    span: tracing::Span,
}

impl Tx {
    /// The connection, for the handler's own repository calls.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The application `applyno`, if any.
    pub async fn application(&self, applyno: &ApplyNo) -> Result<Option<Application>, Failure> {
        applications::find(&self.txn, applyno).await.transient()
    }

    /// The application a message names and must exist (a permanent failure
    /// otherwise: ingress admits only requests of known applications, so one
    /// that is missing came another way and will not appear by retrying).
    /// With `counterpart`, an application of another counterpart counts as
    /// missing.
    pub async fn existing(
        &self,
        applyno: &ApplyNo,
        counterpart: Option<&CounterpartName>,
    ) -> Result<Application, Failure> {
        self.application(applyno)
            .await?
            .filter(|a| counterpart.is_none_or(|c| &a.counterpart == c))
            .ok_or_else(|| Failure::permanent(anyhow::anyhow!("no application {applyno}")))
    }

    /// Reads the application and asks the lifecycle what `event` does to it.
    /// With `counterpart`, an application of another counterpart counts as
    /// unknown (one platform never sees another's applications).
    pub async fn transition(
        &self,
        applyno: &ApplyNo,
        counterpart: Option<&CounterpartName>,
        event: Event,
    ) -> Result<Outcome, Failure> {
        let app = self
            .application(applyno)
            .await?
            .filter(|a| counterpart.is_none_or(|c| &a.counterpart == c));
        Ok(Self::step(app, event))
    }

    /// The lifecycle step of `event` on `app` (read by the caller).
    pub fn step(app: Option<Application>, event: Event) -> Outcome {
        match gw_lifecycle::step(app.as_ref().map(|a| a.state), event) {
            Ok((next, effect)) => Outcome::Moved(Box::new(Transition {
                last_notice: app.as_ref().and_then(|a| a.last_notice_id.clone()),
                app,
                next,
                effect,
                changes: Changes::default(),
            })),
            Err(refusal) => Outcome::Refused {
                app: app.map(Box::new),
                refusal,
            },
        }
    }

    /// A transition that leaves the application as it is: to send a notice
    /// in its order (a refusal, a decision re-sent) and record that it did.
    pub fn keep(app: Application) -> Box<Transition> {
        Box::new(Transition {
            last_notice: app.last_notice_id.clone(),
            next: app.state,
            effect: Effect::None,
            changes: Changes::default(),
            app: Some(app),
        })
    }

    /// Queues `notice` for egress, behind the application's previous notice
    /// (egress keeps that order), as part of the transition.
    pub async fn notify(&self, t: &mut Transition, notice: &Notice) -> Result<String, Failure> {
        let counterpart = match &t.app {
            Some(a) => a.counterpart.clone(),
            None => match &t.changes.counterpart {
                gw_storage::sea_orm::ActiveValue::Set(c)
                | gw_storage::sea_orm::ActiveValue::Unchanged(c) => c.clone(),
                gw_storage::sea_orm::ActiveValue::NotSet => {
                    return Err(Failure::permanent(anyhow::anyhow!(
                        "a notice for an application without a counterpart"
                    )));
                }
            },
        };
        let id = self
            .notify_detached(&counterpart, notice, t.last_notice.clone())
            .await?;
        t.last_notice = Some(id.clone());
        Ok(id)
    }

    /// Queues a notice outside a transition, behind `after`.
    pub async fn notify_detached(
        &self,
        counterpart: &CounterpartName,
        notice: &Notice,
        after: Option<String>,
    ) -> Result<String, Failure> {
        let cmd = NoticeCommand::new(counterpart, notice, after);
        self.send(&cmd).await?;
        Ok(cmd.notice_id)
    }

    /// Records the transition: the new state, the last notice and the
    /// changes, if the application is still at the version read (else the
    /// message is retried from a fresh read); or creates the application.
    pub async fn save(&self, t: Box<Transition>) -> Result<(), Failure> {
        let Transition {
            app,
            next,
            mut changes,
            last_notice,
            ..
        } = *t;
        changes.state = Set(next);
        if last_notice != app.as_ref().and_then(|a| a.last_notice_id.clone()) {
            changes.last_notice_id = Set(last_notice);
        }
        match app {
            Some(a) => applications::save(&self.txn, &a.applyno, a.version, changes)
                .await
                .map_err(|e| match e {
                    SaveError::Conflict { .. } => Failure::Transient(e.into()),
                    SaveError::Db(e) => db_failure(e),
                }),
            None => applications::create(&self.txn, changes).await.transient(),
        }
    }

    /// Writes a command for another service to the outbox.
    pub async fn send<C: Contract>(&self, command: &C) -> Result<(), Failure> {
        let (to, m) = gw_contract::message(command).map_err(Failure::permanent)?;
        self.add(&to, &m);
        Ok(())
    }

    /// Writes a domain event to the outbox.
    pub async fn emit<E: EventPayload>(&self, key: EventKey, payload: &E) -> Result<(), Failure> {
        let (to, m) = gw_contract::events::message(key, payload).map_err(Failure::permanent)?;
        self.add(&to, &m);
        Ok(())
    }

    /// Acks `m` in this transaction where the bus allows it (the embedded
    /// bus, in the same database): the message is gone exactly when the
    /// transaction commits, one write and one sync of the file fewer per
    /// message. Only where a commit means the message is done: the handler
    /// returns `Ok` after it, or a delivery again would change nothing.
    /// On RabbitMQ nothing: the consumer acks after the commit.
    pub async fn settle(&self, m: &Message) -> Result<(), Failure> {
        let settled = self.outbox.settle(&self.txn, m).await.transient()?;
        if let (Some(s), Ok(mut slot)) = (settled, self.settled.lock()) {
            *slot = Some(s);
        }
        Ok(())
    }

    /// Stages a message, written with the others just before the commit.
    fn add(&self, to: &gw_bus::Destination, m: &gw_bus::Message) {
        let staged = self.outbox.add(to, m);
        self.staged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(staged);
    }

    /// Writes an [`ApplicationEvent`] about an application now in `state`,
    /// stamped now.
    pub async fn emit_application(
        &self,
        key: EventKey,
        applyno: &ApplyNo,
        counterpart: &CounterpartName,
        state: State,
        details: gw_contract::details::Details,
    ) -> Result<(), Failure> {
        self.emit(
            key,
            &ApplicationEvent {
                applyno: applyno.clone(),
                counterpart: counterpart.clone(),
                state,
                details,
                at: chrono::Utc::now(),
            },
        )
        .await
    }

    /// An application event for `t`: its application, in the state it moves to.
    pub async fn emit_transition(
        &self,
        key: EventKey,
        t: &Transition,
        details: gw_contract::details::Details,
    ) -> Result<(), Failure> {
        let app = t.app()?;
        self.emit_application(key, &app.applyno, &app.counterpart, t.next, details)
            .await
    }

    /// Records a file uploaded before the transaction ([`gw_files::FileStore::upload`])
    /// in this transaction; its token.
    pub async fn record_file(
        &self,
        store: &dyn gw_files::FileStore,
        staged: gw_files::Staged,
    ) -> Result<String, Failure> {
        let stored = store.record(self.conn(), staged).await.transient()?;
        Ok(stored.token)
    }

    /// Answers a request without changing the application: its notice (if
    /// any) in the application's order. A repeated request gets the
    /// recorded answer this way, never a second decision.
    pub async fn answer(&self, app: Application, notice: Option<&Notice>) -> Result<(), Failure> {
        let mut t = Self::keep(app);
        if let Some(n) = notice {
            self.notify(&mut t, n).await?;
        }
        self.save(t).await
    }

    /// A request its worker refused: `request.refused` for the bank's
    /// systems, and the request's notice (`applystatus=2`, the reason in
    /// `remark`). The application stays as it is.
    pub async fn refuse(
        &self,
        app: Application,
        interface: Interface,
        applicationno: &ApplicationNo,
        reason: &str,
        notice: Option<&Notice>,
    ) -> Result<(), Failure> {
        let details =
            gw_contract::details::Details::RequestRefused(gw_contract::details::RequestRefused {
                interface: interface.name().to_owned(),
                applicationno: applicationno.to_string(),
                reason: reason.to_owned(),
            });
        let (applyno, counterpart) = (app.applyno.clone(), app.counterpart.clone());
        self.emit_application(
            EventKey::RequestRefused,
            &applyno,
            &counterpart,
            app.state,
            details,
        )
        .await?;
        tracing::info!(%applyno, %applicationno, interface = interface.name(), reason, "request refused");
        self.answer(app, notice).await
    }

    /// Sends a payment back: moves it from `from` to `to` and publishes
    /// `payment.refund_requested`, only if it was still in `from`. Of two
    /// concurrent callers exactly one gets `true` and one event is published:
    /// one refund per payment (`paynumber`), whatever the concurrency.
    pub async fn refund(
        &self,
        payment: &gw_storage::payments::Payment,
        (from, to): (gw_lifecycle::PaymentStatus, gw_lifecycle::PaymentStatus),
        counterpart: &CounterpartName,
        cause: gw_contract::RefundCause,
        reason: &str,
    ) -> Result<bool, Failure> {
        let moved = gw_storage::payments::change_status(
            &self.txn,
            &payment.paynumber,
            from,
            to,
            Some(reason),
        )
        .await
        .transient()?;
        if !moved {
            return Ok(false);
        }
        let amount = gw_protocol::Amount::from_cents(payment.paymoney_cents).map_err(|_| {
            Failure::permanent(anyhow::anyhow!("a stored payment amount is invalid"))
        })?;
        let event = gw_contract::RefundRequested {
            paynumber: payment.paynumber.clone(),
            applyno: payment.applyno.clone(),
            counterpart: counterpart.clone(),
            amount,
            payname: payment.payname.clone(),
            payaccount: payment.payaccount.clone(),
            paybank: payment.paybank.clone(),
            cause,
            reason: reason.to_owned(),
            at: chrono::Utc::now(),
        };
        self.emit(EventKey::RefundRequested, &event).await?;
        Ok(true)
    }

    /// Writes the transaction's outbox rows (one statement) and commits;
    /// then hands those rows to the relay to publish now (or wakes the
    /// embedded bus's consumers), with the transaction's database slot
    /// already given back.
    pub async fn commit(self) -> Result<(), Failure> {
        let Tx {
            txn,
            outbox,
            staged,
            settled,
            _slot,
            span,
        } = self;
        let staged = staged.into_inner().unwrap_or_else(PoisonError::into_inner);
        let mut done = outbox.write(&txn, &staged).await.transient();
        if done.is_ok() {
            done = txn.commit().await.transient();
        }
        drop(_slot);
        if let Err(e) = done {
            span.record("outcome", "failed");
            return Err(e);
        }
        span.record("outcome", "committed");
        let settled = settled.into_inner().unwrap_or_else(PoisonError::into_inner);
        outbox.committed(settled, staged).await;
        Ok(())
    }
}
