//! The `applications` lifecycle table, shared by the workers.
//!
//! Every change goes through [`save`], which checks the version read before
//! (optimistic locking): two workers changing one application at once cannot
//! both win; the loser gets [`SaveError::Conflict`] and retries from a fresh
//! read. The version also orders the application's notices.

use chrono::Utc;
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set,
};

use gw_lifecycle::State;
use gw_protocol::ApplyNo;

use crate::entities::applications;

pub use applications::{ActiveModel as Changes, Model as Application};

/// A versioned write did not apply.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("application {applyno} changed meanwhile (expected version {expected})")]
    Conflict { applyno: ApplyNo, expected: i64 },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The application with this `applyno`, if any.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Option<Application>, DbErr> {
    applications::Entity::find_by_id(applyno.clone())
        .one(conn)
        .await
}

/// The application whose cashier page has this token.
pub async fn find_by_cashier_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
) -> Result<Option<Application>, DbErr> {
    applications::Entity::find()
        .filter(applications::Column::CashierToken.eq(token))
        .one(conn)
        .await
}

/// Inserts a new application at version 1. A concurrent insert of the same
/// `applyno` fails with a unique violation, which the caller retries.
pub async fn create<C: ConnectionTrait>(conn: &C, mut row: Changes) -> Result<(), DbErr> {
    let now = Utc::now();
    row.version = Set(1);
    row.created_at = Set(now);
    row.updated_at = Set(now);
    applications::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Applies `changes` if the application is still at `expected` version, and
/// moves it to the next version.
pub async fn save<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
    expected: i64,
    mut changes: Changes,
) -> Result<(), SaveError> {
    changes.applyno = ActiveValue::NotSet;
    changes.version = Set(expected + 1);
    changes.updated_at = Set(Utc::now());
    let done = applications::Entity::update_many()
        .set(changes)
        .filter(applications::Column::Applyno.eq(applyno.clone()))
        .filter(applications::Column::Version.eq(expected))
        .exec(conn)
        .await?;
    if done.rows_affected == 1 {
        Ok(())
    } else {
        Err(SaveError::Conflict {
            applyno: applyno.clone(),
            expected,
        })
    }
}

/// Sum of the guaranteed amounts of the bidder's applications in `states`,
/// other than `except`, in cents.
pub async fn exposure_cents<C: ConnectionTrait>(
    conn: &C,
    biddercode: &str,
    states: &[State],
    except: &ApplyNo,
) -> Result<i64, DbErr> {
    // A bidder has few open applications: summing here keeps the query
    // portable (SUM(bigint) is NUMERIC on PostgreSQL, INTEGER on SQLite).
    let amounts: Vec<i64> = applications::Entity::find()
        .select_only()
        .column(applications::Column::BzjamountCents)
        .filter(applications::Column::Biddercode.eq(biddercode))
        .filter(applications::Column::State.is_in(states.iter().copied()))
        .filter(applications::Column::Applyno.ne(except.clone()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(amounts.iter().fold(0i64, |a, b| a.saturating_add(*b)))
}
