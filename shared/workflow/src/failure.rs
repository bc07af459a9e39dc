//! Database errors as consumer failures.

use gw_bus::Failure;
use gw_storage::sea_orm::DbErr;

/// A database error is worth retrying: the database may be back soon.
pub fn db_failure(e: DbErr) -> Failure {
    Failure::Transient(anyhow::Error::new(e).context("database"))
}

/// `?` on a database result inside a handler: a transient failure.
pub trait DbResultExt<T> {
    fn transient(self) -> Result<T, Failure>;
}

impl<T> DbResultExt<T> for Result<T, DbErr> {
    fn transient(self) -> Result<T, Failure> {
        self.map_err(db_failure)
    }
}
