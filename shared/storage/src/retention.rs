//! Retention: what may be forgotten, and when. A sweep deletes, in batches
//! (no statement holds more than a batch of rows), the rows older than
//! their age:
//!
//! * the inbox (messages handled) and published outbox rows: only needed
//!   while a duplicate could still arrive or a relay still look;
//! * settled notices (delivered, suppressed, dead) with their attempts, and
//!   verification lookups: audit records, kept for years;
//! * dead letters already replayed.
//!
//! Open things are never deleted: a notice on its way, an unpublished or
//! parked outbox row, a dead letter not yet replayed.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TryGetableMany,
};

use crate::entities::{dead_letters, inbox, notice_attempts, notices, outbox, verifications};
use gw_lifecycle::NoticeState;

/// How long each kind of row is kept.
#[derive(Debug, Clone, Copy)]
pub struct Ages {
    pub inbox: Duration,
    pub outbox: Duration,
    pub notices: Duration,
    pub verifications: Duration,
    pub dead_letters: Duration,
}

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub inbox: u64,
    pub outbox: u64,
    pub notices: u64,
    pub notice_attempts: u64,
    pub verifications: u64,
    pub dead_letters: u64,
}

impl Swept {
    pub fn total(&self) -> u64 {
        self.inbox
            + self.outbox
            + self.notices
            + self.notice_attempts
            + self.verifications
            + self.dead_letters
    }
}

/// Rows per statement.
const BATCH: u64 = 5_000;
/// Batches per table per sweep: a sweep that falls behind catches up over
/// the next ones instead of running for an hour.
const MAX_BATCHES: u32 = 200;

fn cutoff(age: Duration) -> chrono::DateTime<Utc> {
    Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX)
}

/// Deletes the rows of `E` that `old` selects, a batch at a time, by the
/// column `id` (unique enough to delete by); returns how many went.
async fn delete_old<E, V, C>(conn: &C, id: E::Column, old: Condition) -> Result<u64, DbErr>
where
    E: EntityTrait,
    V: TryGetableMany + Into<sea_orm::Value> + Send,
    C: ConnectionTrait,
{
    let mut deleted = 0;
    for _ in 0..MAX_BATCHES {
        let ids: Vec<V> = E::find()
            .select_only()
            .column(id)
            .filter(old.clone())
            .limit(BATCH)
            .into_tuple()
            .all(conn)
            .await?;
        let n = ids.len() as u64;
        if n == 0 {
            break;
        }
        deleted += E::delete_many()
            .filter(id.is_in(ids))
            .filter(old.clone())
            .exec(conn)
            .await?
            .rows_affected;
        if n < BATCH {
            break;
        }
    }
    Ok(deleted)
}

/// Deletes what is older than its age; returns how many rows went.
pub async fn sweep<C: ConnectionTrait>(conn: &C, ages: &Ages) -> Result<Swept, DbErr> {
    let mut s = Swept {
        inbox: delete_old::<inbox::Entity, String, _>(
            conn,
            inbox::Column::MessageId,
            Condition::all().add(inbox::Column::ProcessedAt.lt(cutoff(ages.inbox))),
        )
        .await?,
        outbox: delete_old::<outbox::Entity, i64, _>(
            conn,
            outbox::Column::Id,
            Condition::all().add(outbox::Column::PublishedAt.lt(cutoff(ages.outbox))),
        )
        .await?,
        verifications: delete_old::<verifications::Entity, i64, _>(
            conn,
            verifications::Column::Id,
            Condition::all().add(verifications::Column::At.lt(cutoff(ages.verifications))),
        )
        .await?,
        dead_letters: delete_old::<dead_letters::Entity, String, _>(
            conn,
            dead_letters::Column::Id,
            Condition::all().add(dead_letters::Column::ReplayedAt.lt(cutoff(ages.dead_letters))),
        )
        .await?,
        ..Swept::default()
    };

    // Settled notices, each with its attempts.
    let settled = Condition::all()
        .add(notices::Column::State.is_in([
            NoticeState::Delivered,
            NoticeState::Suppressed,
            NoticeState::Dead,
        ]))
        .add(notices::Column::UpdatedAt.lt(cutoff(ages.notices)));
    for _ in 0..MAX_BATCHES {
        let ids: Vec<String> = notices::Entity::find()
            .select_only()
            .column(notices::Column::Id)
            .filter(settled.clone())
            .limit(BATCH)
            .into_tuple()
            .all(conn)
            .await?;
        let n = ids.len() as u64;
        if n == 0 {
            break;
        }
        s.notice_attempts += notice_attempts::Entity::delete_many()
            .filter(notice_attempts::Column::NoticeId.is_in(ids.clone()))
            .exec(conn)
            .await?
            .rows_affected;
        s.notices += notices::Entity::delete_many()
            .filter(notices::Column::Id.is_in(ids))
            .exec(conn)
            .await?
            .rows_affected;
        if n < BATCH {
            break;
        }
    }
    Ok(s)
}
