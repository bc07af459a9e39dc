//! Named locks for the length of a transaction: a row per name, locked by
//! an insert whose conflict updates it (PostgreSQL; SQLite has one writer,
//! so holding the write transaction is the lock).

use sea_orm::sea_query::{IntoIden, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use crate::entities::locks;

/// The conflict clause of an insert of a lock row on `column`, its key,
/// that leaves the row locked until the transaction ends. On PostgreSQL the
/// conflict updates the row to the value it has, which locks it as `SELECT
/// ... FOR UPDATE` would (a second transaction waits for the first to end),
/// in one statement instead of an insert and a select; the value does not
/// change, so the update stays on its page (HOT). On SQLite the insert takes
/// the database's one write lock, held until the transaction ends: there
/// are no row locks to take as well.
pub(crate) fn locking<C: ConnectionTrait>(conn: &C, column: impl IntoIden + Copy) -> OnConflict {
    let mut on_conflict = OnConflict::column(column);
    if conn.get_database_backend() == sea_orm::DbBackend::Sqlite {
        on_conflict.do_nothing();
    } else {
        on_conflict.update_column(column);
    }
    on_conflict
}

/// Holds the lock `key` until the caller's transaction ends. Transactions
/// that take the same key run one after the other; others never wait.
pub async fn hold<C: ConnectionTrait>(conn: &C, key: &str) -> Result<(), DbErr> {
    locks::Entity::insert(locks::ActiveModel {
        key: Set(key.to_owned()),
    })
    .on_conflict(locking(conn, locks::Column::Key))
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
