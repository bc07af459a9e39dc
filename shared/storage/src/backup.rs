//! Backups of the embedded gateway's SQLite database: a consistent copy
//! taken while the gateway runs, a check of a copy, and putting a copy back.
//! (PostgreSQL is backed up with its own tools: `pg_dump`, or the
//! operator's scheduled backups; see deploy/README.md.)
//!
//! A copy is `VACUUM INTO` on a read-only connection of its own: SQLite
//! reads one snapshot (the database is in WAL mode, so the gateway's writer
//! goes on meanwhile) and writes it out compacted, as one file without a
//! WAL beside it.

use std::path::{Path, PathBuf};

use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, Statement,
};

use crate::entities::{guarantees, notices};

/// What a copy holds, to tell a person it is the right one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    pub applications: u64,
    pub guarantees: u64,
    /// Notices not yet delivered (they go when the copy is restored).
    pub open_notices: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bytes: {} applications, {} guarantees, {} notices not yet delivered",
            self.bytes, self.applications, self.guarantees, self.open_notices
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists: a backup never overwrites a file")]
    Exists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("{path} is not a usable gateway database: {why}")]
    Unusable { path: PathBuf, why: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Db { what: String, source: DbErr },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

fn db(what: impl Into<String>) -> impl FnOnce(DbErr) -> BackupError {
    let what = what.into();
    move |source| BackupError::Db { what, source }
}

/// The database file a `sqlite://` URL names (`None` for another database
/// or an in-memory one).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    Some(PathBuf::from(path)).filter(|p| !p.as_os_str().is_empty() && p != Path::new(":memory:"))
}

/// A read-only connection of its own to the SQLite file `file`.
async fn open_read_only(file: &Path) -> Result<DatabaseConnection, BackupError> {
    if !file.exists() {
        return Err(BackupError::Missing(file.to_owned()));
    }
    let mut o = ConnectOptions::new(format!("sqlite://{}?mode=ro", file.display()));
    o.max_connections(1).min_connections(0).sqlx_logging(false);
    let conn = Database::connect(o)
        .await
        .map_err(db(format!("cannot open {}", file.display())))?;
    conn.execute_unprepared("PRAGMA busy_timeout=5000")
        .await
        .map_err(db("cannot set the busy timeout"))?;
    Ok(conn)
}

/// Writes a consistent copy of the database file `from` to `to` (which
/// must not exist), while the gateway may be writing to it; checks the
/// copy and says what it holds.
pub async fn copy(from: &Path, to: &Path) -> Result<Summary, BackupError> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    }
    // Written beside the target, then renamed: a copy cut short by a crash
    // is never mistaken for a backup.
    let partial = with_suffix(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let conn = open_read_only(from).await?;
    let done = conn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [partial.display().to_string().into()],
        ))
        .await
        .map_err(db(format!("cannot copy {}", from.display())));
    let _ = conn.close().await;
    if let Err(e) = done {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let summary = match inspect(&partial).await {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, to).map_err(io(format!("cannot rename to {}", to.display())))?;
    Ok(summary)
}

/// Checks that `file` is a whole gateway database (SQLite's integrity
/// check passes and the migrations are there) and says what it holds.
pub async fn inspect(file: &Path) -> Result<Summary, BackupError> {
    let unusable = |why: String| BackupError::Unusable {
        path: file.to_owned(),
        why,
    };
    let conn = open_read_only(file).await?;
    let result = async {
        let check = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await
            .map_err(|e| unusable(e.to_string()))?
            .and_then(|r| r.try_get_by_index::<String>(0).ok())
            .unwrap_or_default();
        if check != "ok" {
            return Err(unusable(format!("integrity check: {check}")));
        }
        let migrated = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'seaql_migrations'",
            ))
            .await
            .map_err(|e| unusable(e.to_string()))?
            .and_then(|r| r.try_get_by_index::<i64>(0).ok())
            .unwrap_or(0);
        if migrated == 0 {
            return Err(unusable("not a gateway database (no migrations)".into()));
        }
        let applications = crate::entities::applications::Entity::find()
            .count(&conn)
            .await
            .map_err(|e| unusable(e.to_string()))?;
        let guarantees = guarantees::Entity::find()
            .count(&conn)
            .await
            .map_err(|e| unusable(e.to_string()))?;
        let open_notices = notices::Entity::find()
            .filter(notices::Column::State.is_in(gw_lifecycle::NoticeState::OPEN))
            .count(&conn)
            .await
            .map_err(|e| unusable(e.to_string()))?;
        Ok((applications, guarantees, open_notices))
    }
    .await;
    let _ = conn.close().await;
    let (applications, guarantees, open_notices) = result?;
    let bytes = std::fs::metadata(file)
        .map_err(io(format!("cannot read {}", file.display())))?
        .len();
    Ok(Summary {
        bytes,
        applications,
        guarantees,
        open_notices,
    })
}

/// Puts the copy `from` in place of the database file `db_file`; the
/// database it replaces (with its WAL) is kept beside it as
/// `<file>.before-restore-<time>`, whose path is returned. The caller holds
/// the database's lock: no gateway may have it open.
pub async fn restore(
    from: &Path,
    db_file: &Path,
) -> Result<(Summary, Option<PathBuf>), BackupError> {
    let summary = inspect(from).await?;
    if let Some(dir) = db_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    }
    let incoming = with_suffix(db_file, ".restoring");
    std::fs::copy(from, &incoming).map_err(io(format!(
        "cannot copy {} to {}",
        from.display(),
        incoming.display()
    )))?;
    std::fs::File::open(&incoming)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("cannot sync {}", incoming.display())))?;
    let kept = if db_file.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let old = with_suffix(db_file, &format!(".before-restore-{stamp}"));
        // The WAL and shared-memory files belong to the old database: left
        // beside the restored one, SQLite would replay them into it.
        for suffix in ["-wal", "-shm"] {
            let side = with_suffix(db_file, suffix);
            if side.exists() {
                std::fs::rename(&side, with_suffix(&old, suffix))
                    .map_err(io(format!("cannot move {}", side.display())))?;
            }
        }
        std::fs::rename(db_file, &old).map_err(io(format!("cannot move {}", db_file.display())))?;
        Some(old)
    } else {
        None
    };
    std::fs::rename(&incoming, db_file)
        .map_err(io(format!("cannot put the copy at {}", db_file.display())))?;
    Ok((summary, kept))
}

/// The backups in `dir` the schedule wrote, oldest first.
pub fn scheduled_copies(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(".db"))
                })
                .collect()
        })
        .unwrap_or_default();
    // The names carry the UTC time: their order is the order of the copies.
    files.sort();
    files
}

/// The name a scheduled backup gets: `gateway-<UTC time>.db`.
pub fn scheduled_name(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{SCHEDULED_PREFIX}{}.db", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

const SCHEDULED_PREFIX: &str = "gateway-";

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_of_a_sqlite_url() {
        assert_eq!(
            sqlite_file("sqlite://gateway-data/gateway.db?mode=rwc"),
            Some(PathBuf::from("gateway-data/gateway.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }

    #[test]
    fn scheduled_names_sort_as_their_times() {
        let a = scheduled_name(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let b = scheduled_name(chrono::DateTime::from_timestamp(1_800_000_000, 5).unwrap());
        assert!(a < b, "{a} {b}");
        assert!(a.starts_with("gateway-") && a.ends_with(".db"));
    }
}
