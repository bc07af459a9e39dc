//! Dead letters: recorded once per message and destination, listed for
//! operators, replayed at most once per death.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::dead_letters::{self, Column};

pub use dead_letters::Model as DeadLetter;

/// A message that died, as it is recorded.
#[derive(Debug, Clone)]
pub struct NewDeadLetter {
    pub destination: String,
    pub message_id: String,
    pub kind: String,
    pub schema_version: i32,
    pub correlation_id: Option<String>,
    pub headers: serde_json::Value,
    pub payload: Vec<u8>,
    pub error: String,
    pub source: &'static str,
    pub failed_at: DateTime<Utc>,
}

/// Records a death: a new row, or the message's row again (a replayed
/// message that died again) with the new error, one more death, and open
/// for replay again.
pub async fn record<C: ConnectionTrait>(conn: &C, d: NewDeadLetter) -> Result<(), DbErr> {
    let error: String = d.error.chars().take(4000).collect();
    dead_letters::Entity::insert(dead_letters::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        destination: Set(d.destination),
        message_id: Set(d.message_id),
        kind: Set(d.kind),
        schema_version: Set(d.schema_version),
        correlation_id: Set(d.correlation_id),
        headers: Set(d.headers),
        payload: Set(d.payload),
        error: Set(error),
        source: Set(d.source.to_owned()),
        deaths: Set(1),
        failed_at: Set(d.failed_at),
        replayed_at: Set(None),
        replayed_by: Set(None),
    })
    .on_conflict(
        OnConflict::columns([Column::Destination, Column::MessageId])
            .update_columns([
                Column::Headers,
                Column::Payload,
                Column::Error,
                Column::Source,
                Column::FailedAt,
                Column::ReplayedAt,
                Column::ReplayedBy,
            ])
            .value(
                Column::Deaths,
                Expr::col((dead_letters::Entity, Column::Deaths)).add(1),
            )
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `queue:<logical>` or `event:<key>`; all when `None`.
    pub destination: Option<String>,
    /// Also those already replayed.
    pub include_replayed: bool,
    /// At most this many (0: 100).
    pub limit: u64,
}

/// Dead letters, oldest death first.
pub async fn list<C: ConnectionTrait>(conn: &C, f: &Filter) -> Result<Vec<DeadLetter>, DbErr> {
    let mut q = dead_letters::Entity::find();
    if let Some(d) = &f.destination {
        q = q.filter(Column::Destination.eq(d.clone()));
    }
    if !f.include_replayed {
        q = q.filter(Column::ReplayedAt.is_null());
    }
    q.order_by_asc(Column::FailedAt)
        .limit(if f.limit == 0 {
            100
        } else {
            Ord::min(f.limit, 10_000)
        })
        .all(conn)
        .await
}

pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Option<DeadLetter>, DbErr> {
    dead_letters::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await
}

/// Marks a dead letter replayed if it was not yet: of two concurrent
/// replays exactly one gets `true` (and publishes).
pub async fn mark_replayed<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    by: &str,
) -> Result<bool, DbErr> {
    let r = dead_letters::Entity::update_many()
        .col_expr(Column::ReplayedAt, Expr::value(Utc::now()))
        .col_expr(Column::ReplayedBy, Expr::value(by.to_owned()))
        .filter(Column::Id.eq(id.to_owned()))
        .filter(Column::ReplayedAt.is_null())
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Dead letters not replayed yet.
pub async fn open_count<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    dead_letters::Entity::find()
        .filter(Column::ReplayedAt.is_null())
        .count(conn)
        .await
}
