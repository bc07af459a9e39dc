//! PostgreSQL stores `files.bytes` out of line without trying to compress it.
//!
//! A PDF is deflate streams already: PostgreSQL's default for a large
//! `bytea` (`EXTENDED`) ran `pglz` over every one (measured: 6 % of the
//! database's CPU in a restore burst) and then stored it uncompressed anyway,
//! since nothing was gained (the stored size equalled the file's size). With
//! `EXTERNAL` the value is toasted as it is. Rows written before keep their
//! form; only new rows change. SQLite has no such setting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("ALTER TABLE files ALTER COLUMN bytes SET STORAGE EXTERNAL")
                .await?;
        }
        Ok(())
    }
}
