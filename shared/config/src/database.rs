//! `[database]`: PostgreSQL (scale-out) or SQLite (the embedded gateway).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user:pass@host/db` or `sqlite://path?mode=rwc`. Secret: it may hold a password.
    pub url: SecretString,
    pub max_connections: u32,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// PostgreSQL schema to use (created if missing); tests use a fresh one each.
    #[serde(default)]
    pub schema: Option<String>,
    /// Apply pending migrations at start-up (under an advisory lock). Off
    /// on Kubernetes: a Job runs `migrate` once per release and a service
    /// refuses to start on a database that is behind.
    pub migrate_on_start: bool,
    /// SQLite only: when a commit waits for the disk. `full` (the default):
    /// every commit is on disk before it returns, so nothing acknowledged
    /// is lost even by a power cut. `normal`: in WAL mode a commit survives
    /// the process dying (kill -9, OOM) but the last commits can be lost if
    /// the machine itself crashes; commits no longer wait for the disk.
    #[serde(default)]
    pub sqlite_synchronous: SqliteSynchronous,
    /// SQLite only: the connection's page cache, in KiB (`PRAGMA
    /// cache_size`). Small by default: what it does not hold, the
    /// operating system's file cache serves, outside the process's memory.
    pub sqlite_cache_kib: u32,
}

/// `database.sqlite_synchronous`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSynchronous {
    #[default]
    Full,
    Normal,
}

impl SqliteSynchronous {
    /// Whether every commit waits for the disk.
    pub fn full(self) -> bool {
        self == SqliteSynchronous::Full
    }
}

impl DatabaseSettings {
    /// Whether the URL names PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        let u = self.url.expose_secret();
        u.starts_with("postgres://") || u.starts_with("postgresql://")
    }

    pub(crate) fn check(&self, p: &mut Problems) {
        let db = self.url.expose_secret();
        if !(db.starts_with("postgres://")
            || db.starts_with("postgresql://")
            || db.starts_with("sqlite:"))
        {
            p.push(
                "database.url",
                "must start with postgres://, postgresql:// or sqlite:",
            );
        }
        if self.sqlite_cache_kib < 64 {
            p.push("database.sqlite_cache_kib", "must be at least 64");
        }
        if self.max_connections == 0 {
            p.push("database.max_connections", "must be at least 1");
        }
        if let Some(schema) = &self.schema
            && (schema.is_empty()
                || !schema
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                || schema.as_bytes()[0].is_ascii_digit())
        {
            p.push(
                "database.schema",
                "letters, digits and _ only, not starting with a digit",
            );
        }
    }
}
