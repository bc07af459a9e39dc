//! Database and file store errors as consumer failures.

use gw_bus::Failure;
use gw_storage::sea_orm::DbErr;

/// A database error: the database is unavailable (the consumer pauses and
/// the message keeps its attempts), or the statement failed (worth a retry:
/// a conflict, a serialisation failure).
pub fn db_failure(e: DbErr) -> Failure {
    let unavailable = gw_storage::is_unavailable(&e);
    let e = anyhow::Error::new(e).context("database");
    if unavailable {
        Failure::Unavailable(e)
    } else {
        Failure::Transient(e)
    }
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

impl<T> DbResultExt<T> for Result<T, gw_files::FileError> {
    /// A file store error: its database half as [`db_failure`], an object
    /// store or configuration error as transient (the store may come back).
    fn transient(self) -> Result<T, Failure> {
        self.map_err(|e| match e {
            gw_files::FileError::Db(e) => db_failure(e),
            e => Failure::Transient(anyhow::Error::new(e).context("file store")),
        })
    }
}
