//! Dead letters: kept, shown and replayed, the same way on both transports.
//!
//! Every service runs an **archiver** for the queues it consumes: it takes
//! what lands in their dead-letter queues (a handler gave up, a poison
//! message, the broker's delivery limit) and records it in `dead_letters`,
//! with the last error, in one transaction with the service's own reaction
//! ([`OnDeadLetter`]: egress marks the notice dead). The outbox relay records
//! the rows it parks there too. Operators list, show and replay them through
//! any service's admin API (`/admin/dead-letters`) or its CLI
//! (`<service> dlq list|show|replay`). A replay publishes the message again
//! as it was, with its id (consumers that already handled it skip it) and
//! its attempts reset.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Json;
use axum::routing::{get, post};
use gw_bus::{Bus, Destination, Failure, Message, headers};
use gw_storage::dead_letters::{self, DeadLetter, Filter, NewDeadLetter};
use gw_storage::operations::{self, Actor, Operation};
use gw_storage::sea_orm::TransactionTrait;
use gw_web::admin::{self, Operator, Problem};
use gw_workflow::{Tx, Workflow};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// What a service does, in the transaction that records it, when one of
/// its messages dies.
#[async_trait]
pub trait OnDeadLetter: Send + Sync {
    async fn dead(&self, tx: &Tx, message: &Message, reason: &str) -> Result<(), Failure>;
}

/// A queue the archiver empties, and the service's reaction.
pub struct Watched {
    pub queue: String,
    pub on_dead: Option<Arc<dyn OnDeadLetter>>,
}

/// Moves dead letters from the dead-letter queues into `dead_letters`.
pub struct Archiver {
    pub flow: Workflow,
    pub bus: Bus,
    pub queues: Vec<Watched>,
}

fn record_of(queue: &str, m: &Message) -> NewDeadLetter {
    let failed_at = m
        .header(headers::FAILED_AT)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc));
    let mut kept = m.headers.clone();
    for h in headers::DEATH {
        kept.remove(h);
    }
    NewDeadLetter {
        destination: format!("queue:{queue}"),
        message_id: m.id.clone(),
        kind: m.kind.clone(),
        schema_version: i32::try_from(m.schema_version).unwrap_or(1),
        correlation_id: m.correlation_id.clone(),
        headers: serde_json::to_value(&kept).unwrap_or_default(),
        payload: m.payload.clone(),
        error: m
            .header(headers::ERROR)
            .unwrap_or("dead-lettered without a reason")
            .to_owned(),
        source: if m.header(headers::DEAD_LETTERED_BY) == Some("broker") {
            "broker"
        } else {
            "consumer"
        },
        failed_at,
    }
}

impl Archiver {
    /// Runs until `stop`: takes each dead-letter queue's messages one at a
    /// time, records each in one transaction, then acknowledges it.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut idle = Duration::from_millis(500);
        while !stop.is_cancelled() {
            let mut moved = 0;
            for w in &self.queues {
                match self.archive_one(w).await {
                    Ok(true) => moved += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(queue = %w.queue, error = %e, "dead letters: cannot archive now");
                    }
                }
            }
            idle = if moved > 0 {
                Duration::ZERO
            } else {
                (idle * 2).clamp(Duration::from_millis(500), Duration::from_secs(5))
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(idle) => {}
            }
        }
        Ok(())
    }

    /// Archives one message of `w`'s dead-letter queue, if there is one.
    async fn archive_one(&self, w: &Watched) -> anyhow::Result<bool> {
        let dlq = self.bus.topology().dead_letter_queue(&w.queue);
        let Some(delivery) = self.bus.transport().get(&dlq).await? else {
            return Ok(false);
        };
        let m = delivery.message();
        let record = record_of(&w.queue, m);
        let done = async {
            let tx = self.flow.begin().await?;
            if let Some(hook) = &w.on_dead {
                hook.dead(&tx, m, &record.error).await?;
            }
            dead_letters::record(tx.conn(), record.clone())
                .await
                .map_err(gw_workflow::db_failure)?;
            tx.commit().await
        };
        match done.await {
            Ok(()) => {
                tracing::warn!(
                    queue = %w.queue,
                    message_id = %m.id,
                    kind = %m.kind,
                    applyno = m.correlation_id.as_deref().unwrap_or(""),
                    error = %record.error,
                    "dead letter recorded"
                );
                delivery.ack().await?;
                Ok(true)
            }
            Err(e) => {
                delivery.requeue().await?;
                Err(anyhow::anyhow!("{e:?}"))
            }
        }
    }
}

/// A dead letter as operators see it: the payload with personal data masked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetterView {
    pub id: String,
    pub destination: String,
    pub message_id: String,
    pub kind: String,
    pub applyno: Option<String>,
    pub error: String,
    pub source: String,
    pub deaths: i32,
    pub failed_at: chrono::DateTime<chrono::Utc>,
    pub replayed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub replayed_by: Option<String>,
    pub payload: serde_json::Value,
}

impl From<&DeadLetter> for DeadLetterView {
    fn from(d: &DeadLetter) -> Self {
        let payload = serde_json::from_slice(&d.payload)
            .map(|v| gw_protocol::mask::mask_json(&v))
            .unwrap_or_else(|_| serde_json::Value::String("(not JSON)".into()));
        Self {
            id: d.id.clone(),
            destination: d.destination.clone(),
            message_id: d.message_id.clone(),
            kind: d.kind.clone(),
            applyno: d.correlation_id.clone(),
            error: d.error.clone(),
            source: d.source.clone(),
            deaths: d.deaths,
            failed_at: d.failed_at,
            replayed_at: d.replayed_at,
            replayed_by: d.replayed_by.clone(),
            payload,
        }
    }
}

/// Why a replay did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no such dead letter")]
    NotFound,
    #[error("already replayed at {0}")]
    AlreadyReplayed(chrono::DateTime<chrono::Utc>),
    #[error("unknown destination {0}")]
    BadDestination(String),
    #[error("the message broker is unavailable: {0}")]
    Unavailable(gw_bus::BusError),
    #[error("database: {0}")]
    Database(#[from] gw_storage::sea_orm::DbErr),
}

/// What operators do with dead letters (admin API and CLI).
#[derive(Clone)]
pub struct DeadLetters {
    pub db: gw_storage::Db,
    pub bus: Bus,
    /// The service whose admin API or command line replays (recorded).
    pub service: String,
}

impl DeadLetters {
    pub async fn list(&self, f: &Filter) -> Result<Vec<DeadLetterView>, ReplayError> {
        let rows = dead_letters::list(self.db.conn(), f).await?;
        Ok(rows.iter().map(DeadLetterView::from).collect())
    }

    pub async fn show(&self, id: &str) -> Result<Option<DeadLetterView>, ReplayError> {
        Ok(dead_letters::find(self.db.conn(), id)
            .await?
            .as_ref()
            .map(DeadLetterView::from))
    }

    /// Publishes the dead letter again, as it was (same id, attempts reset),
    /// then marks it replayed. Two concurrent replays may both publish; the
    /// consumers' deduplication on the id makes that one effect.
    pub async fn replay(&self, id: &str, by: &Actor) -> Result<DeadLetterView, ReplayError> {
        let d = dead_letters::find(self.db.conn(), id)
            .await?
            .ok_or(ReplayError::NotFound)?;
        if let Some(at) = d.replayed_at {
            return Err(ReplayError::AlreadyReplayed(at));
        }
        let to = Destination::from_stored(&d.destination)
            .ok_or_else(|| ReplayError::BadDestination(d.destination.clone()))?;
        let message = Message {
            id: d.message_id.clone(),
            kind: d.kind.clone(),
            schema_version: u32::try_from(d.schema_version).unwrap_or(1),
            correlation_id: d.correlation_id.clone(),
            attempt: 1,
            timestamp: chrono::Utc::now(),
            headers: serde_json::from_value(d.headers.clone()).unwrap_or_default(),
            payload: d.payload.clone(),
        };
        self.bus
            .publish(&to, &message)
            .await
            .map_err(ReplayError::Unavailable)?;
        // Marked and recorded together.
        let tx = self.db.conn().begin().await?;
        if dead_letters::mark_replayed(&tx, id, &by.name).await? {
            operations::record(
                &tx,
                Operation {
                    actor: by,
                    service: &self.service,
                    action: "dead_letter.replayed",
                    subject: id,
                    before: Some(serde_json::json!({
                        "destination": d.destination, "message_id": d.message_id,
                        "error": d.error, "deaths": d.deaths,
                    })),
                    after: Some(serde_json::json!({"replayed": true})),
                    remark: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(dead_letter = id, message_id = %d.message_id, destination = %d.destination, by = %by.name, "dead letter replayed");
        let now = dead_letters::find(self.db.conn(), id).await?;
        Ok(DeadLetterView::from(now.as_ref().unwrap_or(&d)))
    }

    /// Replays every open dead letter the filter selects, oldest first;
    /// stops at the first failure. Returns how many were replayed.
    pub async fn replay_all(&self, f: &Filter, by: &Actor) -> Result<usize, ReplayError> {
        let open = Filter {
            include_replayed: false,
            ..f.clone()
        };
        let mut n = 0;
        for d in dead_letters::list(self.db.conn(), &open).await? {
            match self.replay(&d.id, by).await {
                Ok(_) => n += 1,
                Err(ReplayError::AlreadyReplayed(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

impl From<ReplayError> for Problem {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::NotFound => Problem::NotFound("no such dead letter"),
            e @ (ReplayError::AlreadyReplayed(_) | ReplayError::BadDestination(_)) => {
                Problem::Conflict(e.to_string())
            }
            ReplayError::Unavailable(e) => {
                tracing::warn!(error = %e, "admin: cannot replay a dead letter now");
                Problem::Unavailable
            }
            ReplayError::Database(e) => Problem::internal("dead letters", e),
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    /// A logical queue name (`payment.confirmations`), or a stored
    /// destination (`event:guarantee.issued`).
    queue: Option<String>,
    /// Also those already replayed.
    #[serde(default)]
    all: bool,
    limit: Option<u64>,
}

impl ListQuery {
    fn filter(&self) -> Filter {
        Filter {
            destination: self.queue.as_deref().map(destination_of),
            include_replayed: self.all,
            limit: self.limit.unwrap_or(100),
        }
    }
}

/// `payment.confirmations` → `queue:payment.confirmations`; a stored
/// destination stays as it is.
pub fn destination_of(queue: &str) -> String {
    if Destination::from_stored(queue).is_some() {
        queue.to_owned()
    } else {
        format!("queue:{queue}")
    }
}

async fn list(
    State(d): State<DeadLetters>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<DeadLetterView>>, Problem> {
    Ok(Json(d.list(&q.filter()).await?))
}

async fn one(
    State(d): State<DeadLetters>,
    Path(id): Path<String>,
) -> Result<Json<DeadLetterView>, Problem> {
    let lookup = d.show(&id).await.map_err(|e| e.to_string());
    admin::found("reading a dead letter", lookup, "no such dead letter").map(Json)
}

async fn replay(
    State(d): State<DeadLetters>,
    Path(id): Path<String>,
    Operator(who): Operator,
) -> Result<Json<DeadLetterView>, Problem> {
    Ok(Json(
        d.replay(&id, &Actor::admin_api(who.as_deref())).await?,
    ))
}

async fn replay_all(
    State(d): State<DeadLetters>,
    Query(q): Query<ListQuery>,
    Operator(who): Operator,
) -> Result<Json<serde_json::Value>, Problem> {
    let n = d
        .replay_all(&q.filter(), &Actor::admin_api(who.as_deref()))
        .await?;
    Ok(Json(serde_json::json!({ "replayed": n })))
}

/// `GET /admin/dead-letters?queue=&all=&limit=`,
/// `GET /admin/dead-letters/{id}`, `POST /admin/dead-letters/{id}/replay`,
/// `POST /admin/dead-letters/replay?queue=` (every open one). The caller
/// puts them behind the admin token.
pub fn routes(d: DeadLetters) -> Router {
    Router::new()
        .route("/admin/dead-letters", get(list))
        .route("/admin/dead-letters/replay", post(replay_all))
        .route("/admin/dead-letters/{id}", get(one))
        .route("/admin/dead-letters/{id}/replay", post(replay))
        .with_state(d)
}
