//! Metadata (and, for the database store, the bytes) of stored files.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use crate::entities::files;

pub use files::Model as FileRow;

/// Records a file. Without `RETURNING`: the row, the file's bytes with it,
/// would come back from the database for nothing.
pub async fn insert<C: ConnectionTrait>(conn: &C, row: FileRow) -> Result<(), DbErr> {
    files::Entity::insert(files::ActiveModel {
        token: Set(row.token),
        kind: Set(row.kind),
        applyno: Set(row.applyno),
        counterpart: Set(row.counterpart),
        content_type: Set(row.content_type),
        size_bytes: Set(row.size_bytes),
        sm3: Set(row.sm3),
        storage: Set(row.storage),
        bytes: Set(row.bytes),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(conn: &C, token: &str) -> Result<Option<FileRow>, DbErr> {
    files::Entity::find_by_id(token.to_owned()).one(conn).await
}
