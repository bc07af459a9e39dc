//! Named locks for the length of a transaction: a row per name, locked
//! `FOR UPDATE` (PostgreSQL; SQLite has one writer, so holding the write
//! transaction is the lock).

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QuerySelect};

use crate::entities::locks;

/// Holds the lock `key` until the caller's transaction ends. Transactions
/// that take the same key run one after the other; others never wait.
pub async fn hold<C: ConnectionTrait>(conn: &C, key: &str) -> Result<(), DbErr> {
    locks::Entity::insert(locks::ActiveModel {
        key: Set(key.to_owned()),
    })
    .on_conflict(
        OnConflict::column(locks::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if conn.get_database_backend() == sea_orm::DbBackend::Sqlite {
        // The insert took the database's one write lock, held until the
        // transaction ends: SQLite has no row locks to take as well.
        return Ok(());
    }
    locks::Entity::find_by_id(key.to_owned())
        .lock_exclusive()
        .one(conn)
        .await?;
    Ok(())
}
