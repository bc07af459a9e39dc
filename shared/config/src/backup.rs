//! `[backup]`: the embedded gateway's scheduled copies of its SQLite
//! database (PostgreSQL is backed up with its own tools).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// Whether the embedded gateway copies its database on a schedule.
    pub enabled: bool,
    /// How often (the first copy one interval after start).
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// How many scheduled copies are kept; older ones are deleted.
    pub keep: usize,
    /// Where they go; empty: `backups/` beside the database file.
    pub dir: PathBuf,
}

impl BackupSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.enabled && self.every < Duration::from_secs(1) {
            p.push("backup.every", "at least 1 second");
        }
        if self.enabled && self.keep == 0 {
            p.push("backup.keep", "at least 1");
        }
    }

    /// The directory for the copies of the database file `db_file`.
    pub fn dir_for(&self, db_file: &std::path::Path) -> PathBuf {
        if self.dir.as_os_str().is_empty() {
            db_file
                .parent()
                .map(|d| d.join("backups"))
                .unwrap_or_else(|| PathBuf::from("backups"))
        } else {
            self.dir.clone()
        }
    }
}
