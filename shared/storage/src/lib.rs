//! Storage on sea-orm 2, on PostgreSQL (scale-out) or SQLite (embedded).
//!
//! * [`Db::connect`] opens the pool, creates and selects the configured
//!   PostgreSQL schema, and runs the migrations.
//! * Handlers call the repository modules ([`inbox`], [`outbox`], ...);
//!   they never build queries themselves.
//! * The [`inbox`] makes consumers idempotent: a handler records the message
//!   id in the same transaction as its effect, so a redelivery changes nothing.
//! * The `outbox` and `bus_messages` tables belong to `gw-bus-sql`, which
//!   turns their rows into messages; this crate knows nothing of messages.

pub mod applications;
pub mod backup;
pub mod cancels;
pub mod console;
pub mod dead_letters;
pub mod entities;
pub mod files;
pub mod guarantees;
pub mod inbox;
pub mod locks;
pub mod migration;
pub mod notices;
pub mod operations;
pub mod payments;
pub mod reports;
pub mod requests;
pub mod retention;
pub mod underwriting;
pub mod verifications;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm_migration::MigratorTrait;

pub use sea_orm;

/// How to open the database.
#[derive(Clone)]
pub struct DbOptions {
    /// `postgres://...` or `sqlite://...`. Never logged: it may hold a password.
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// PostgreSQL schema to create (if missing) and use.
    pub schema: Option<String>,
    /// Apply pending migrations (PostgreSQL; SQLite always does). Off, a
    /// pending migration stops the start with a clear error instead: on
    /// Kubernetes a Job migrates once per release.
    pub migrate: bool,
    /// SQLite: every commit waits for the disk (`PRAGMA synchronous=FULL`);
    /// else `NORMAL` (in WAL mode safe against the process dying, not
    /// against the machine crashing). Ignored on PostgreSQL.
    pub sqlite_full_sync: bool,
    /// SQLite: the connection's page cache in KiB. Ignored on PostgreSQL.
    pub sqlite_cache_kib: u32,
}

impl std::fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOptions")
            .field("max_connections", &self.max_connections)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// A connection pool with the schema migrated.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    schema: Option<String>,
    /// The pool's size (1 for SQLite).
    max_connections: u32,
}

/// The database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("cannot migrate the database: {0}")]
    Migrate(String),
    #[error("invalid schema name {0:?}")]
    Schema(String),
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl Db {
    /// Connects, prepares the schema and applies pending migrations.
    pub async fn connect(options: &DbOptions) -> Result<Self, StorageError> {
        let sqlite = options.url.starts_with("sqlite:");
        if let Some(schema) = &options.schema
            && !valid_schema(schema)
        {
            return Err(StorageError::Schema(schema.clone()));
        }
        if !sqlite && options.migrate {
            migrate_postgres(options).await?;
        }
        let mut o = ConnectOptions::new(options.url.clone());
        o.max_connections(if sqlite { 1 } else { options.max_connections })
            .min_connections(if sqlite { 1 } else { 0 })
            .connect_timeout(options.connect_timeout)
            .acquire_timeout(options.connect_timeout)
            .sqlx_logging(false);
        if let (Some(schema), false) = (&options.schema, sqlite) {
            o.set_schema_search_path(schema.clone());
        }
        if sqlite {
            // On every connection the pool opens (a connection it replaces
            // must not come back without foreign keys): WAL lets readers
            // work beside the single writer; commits wait for the disk
            // unless told otherwise; the page cache is as configured.
            let full = options.sqlite_full_sync;
            let cache = format!("-{}", options.sqlite_cache_kib);
            o.map_sqlx_sqlite_opts(move |s| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                s.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(if full {
                        SqliteSynchronous::Full
                    } else {
                        SqliteSynchronous::Normal
                    })
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
                    .pragma("cache_size", cache.clone())
            });
        }
        let conn = Database::connect(o)
            .await
            .map_err(|e| StorageError::Connect(e.to_string()))?;
        if sqlite {
            // One writer: concurrent starts serialise on the file.
            migration::Migrator::up(&conn, None)
                .await
                .map_err(|e| StorageError::Migrate(e.to_string()))?;
        } else if !options.migrate {
            let pending = migration::Migrator::get_pending_migrations(&conn)
                .await
                .map_err(|e| {
                    StorageError::Migrate(format!(
                        "cannot read the applied migrations ({e}); database.migrate_on_start \
                         is off: run `<service> migrate` (the release's migration Job) first"
                    ))
                })?;
            if let Some(first) = pending.first() {
                return Err(StorageError::Migrate(format!(
                    "{} migration(s) pending, the first {}; database.migrate_on_start is off: \
                     run `<service> migrate` (the release's migration Job) first",
                    pending.len(),
                    first.name()
                )));
            }
        }
        Ok(Self {
            conn,
            schema: options.schema.clone(),
            max_connections: if sqlite {
                1
            } else {
                options.max_connections.max(1)
            },
        })
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// How many connections the pool holds at most.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Whether the database answers now.
    pub async fn check(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// Drops this pool's PostgreSQL schema with everything in it (tests).
    pub async fn drop_schema(&self) -> Result<(), DbErr> {
        if let (Some(schema), DbBackend::Postgres) = (&self.schema, self.backend()) {
            self.conn
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await?;
        }
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// Creates the schema and applies the migrations on PostgreSQL, on one
/// connection that holds an advisory lock (keyed by the schema) meanwhile:
/// replicas starting together on a fresh database migrate one after the
/// other, and each finds the work done by the first.
async fn migrate_postgres(options: &DbOptions) -> Result<(), StorageError> {
    let connect = |e: DbErr| StorageError::Connect(e.to_string());
    let mut o = ConnectOptions::new(options.url.clone());
    o.max_connections(1)
        .min_connections(1)
        .connect_timeout(options.connect_timeout)
        .acquire_timeout(options.connect_timeout)
        .sqlx_logging(false);
    if let Some(schema) = &options.schema {
        o.set_schema_search_path(schema.clone());
    }
    let admin = Database::connect(o).await.map_err(connect)?;
    let key = options.schema.as_deref().unwrap_or("public");
    let run = async {
        admin
            .execute_unprepared(&format!(
                "SELECT pg_advisory_lock(hashtext('gw-migrate:{key}'))"
            ))
            .await
            .map_err(connect)?;
        if let Some(schema) = &options.schema {
            admin
                .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .map_err(connect)?;
        }
        migration::Migrator::up(&admin, None)
            .await
            .map_err(|e| StorageError::Migrate(e.to_string()))
    };
    let result = run.await;
    // Closing the session releases the lock whatever happened.
    let _ = admin.close().await;
    result
}

/// Whether `e` says the database cannot be reached (connection refused or
/// lost, the server shutting down or not accepting connections, no
/// connection to be had), as opposed to a problem with the statement. What
/// the consumers pause on instead of spending a message's attempts.
pub fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception), 57P01..57P03
                // (admin shutdown, crash shutdown, cannot connect now), 53300
                // (too many connections).
                sqlx::Error::Database(d) => d
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300"),
                _ => false,
            }
        }
        _ => false,
    }
}
