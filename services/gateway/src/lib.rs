//! Every service in one process (the embedded default).
//!
//! With no configuration the gateway uses SQLite (`gateway-data/gateway.db`)
//! and the bus in the database (`amqp.url = "embedded"`), so it runs on a
//! bare machine: `cargo run`. Every public route (the inbound API, `/files`,
//! `/cashier`, `/verify`, health) is served on `ingress.listen`; the admin
//! APIs keep their own ports. Point `database.url` at PostgreSQL and
//! `amqp.url` at RabbitMQ to share the work with separately run services.

use anyhow::Context as _;

pub mod cli;
pub mod embedded_sandbox;

use gw_config::Settings;
use gw_host::{Application, Layout, Service};
use tokio_util::sync::CancellationToken;

/// The gateway's own defaults, over the deployment defaults.
pub const DEFAULTS: &str = r#"
public_base_url = "http://127.0.0.1:8080"

[database]
url = "sqlite://gateway-data/gateway.db?mode=rwc"

[amqp]
url = "embedded"

[ingress]
listen = "127.0.0.1:8080"

# Served on ingress.listen in one process; their own listeners stay local.
[egress]
listen = "127.0.0.1:0"

[payment]
listen = "127.0.0.1:0"

[issuance]
listen = "127.0.0.1:0"

# Claims are paid at once in the single process (no bank to confirm them).
[claims]
auto_payout = true

[telemetry]
log_format = "pretty"
"#;

/// Every service the gateway runs.
pub const SERVICES: &[&dyn Service] = &[
    &ingress::Ingress,
    &underwriting::Underwriting,
    &payment::Payment,
    &issuance::Issuance,
    &invoice::Invoice,
    &claims::Claims,
    &egress::Egress,
    &console::Console,
];

/// Loads the gateway's settings: defaults, the gateway's defaults, the file, `GW__*`.
pub fn settings(file: Option<&std::path::Path>) -> anyhow::Result<Settings> {
    Ok(Settings::load_layers(DEFAULTS, file, None)?)
}

/// What `gateway` starts with.
pub enum Start {
    /// A platform is configured: the settings as loaded (and checked for
    /// their environment: production refuses example values).
    Configured(Settings),
    /// No platform is configured: the sandbox platform, started on
    /// loopback, and settings that point at it.
    Sandbox(Settings, std::sync::Arc<sandbox::Platform>),
}

/// Decides how to start from the file and the environment (`None`: the
/// process environment): with the configured platform, or, when none is
/// configured, with the sandbox platform in this process.
pub async fn prepare(
    file: Option<&std::path::Path>,
    env: Option<std::collections::HashMap<String, String>>,
) -> anyhow::Result<Start> {
    if Settings::names_counterparts(&[DEFAULTS], file, env.clone())? {
        return Ok(Start::Configured(Settings::load_layers(
            DEFAULTS, file, env,
        )?));
    }
    let platform = embedded_sandbox::platform().await?;
    let layer = embedded_sandbox::layer(&platform)?;
    let settings = Settings::load_many(&[DEFAULTS, &layer], file, env)?;
    Ok(Start::Sandbox(settings, platform))
}

/// A running gateway.
pub struct Gateway {
    /// The one public port.
    pub port: u16,
    /// Every listener and its port (`<service>.admin` for the admin APIs).
    pub ports: std::collections::BTreeMap<String, u16>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    closer: Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send>,
}

impl Gateway {
    /// Builds every service on one bus and one database and starts them.
    pub async fn start(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let file = data_file(&settings)?;
        let hold = match &file {
            Some(f) if settings.amqp.is_embedded() => Some(hold_database(f)?),
            _ => None,
        };
        let (bus, db) = gw_host::connect(&settings, "gateway").await?;
        if hold.is_some() {
            take_back(&db).await?;
        }
        let settings_backup = settings.backup.clone();
        let layout = Layout::OnePublicPort(settings.ingress.listen, "ingress.listen");
        let app =
            Application::build_with(settings, bus.clone(), db.clone(), SERVICES, layout).await?;
        let port = app.port("public").unwrap_or(0);
        let ports = app.ports().clone();
        if let (Some(f), Some(_)) = (&file, &hold)
            && settings_backup.enabled
        {
            tokio::spawn(backups(
                f.clone(),
                settings_backup.clone(),
                shutdown.clone(),
            ));
        }
        let task = tokio::spawn(app.run_until(shutdown));
        let closer = Box::new(move || {
            tokio::spawn(async move {
                bus.close().await;
                db.close().await;
                drop(hold);
            })
        });
        Ok(Self {
            port,
            ports,
            task,
            closer,
        })
    }

    /// The admin port of a service.
    pub fn admin_port(&self, service: &str) -> u16 {
        self.ports
            .get(&format!("{service}.admin"))
            .copied()
            .unwrap_or(0)
    }

    /// Waits until every service has stopped, then closes the shared connections.
    pub async fn wait(self) -> anyhow::Result<()> {
        let r = match self.task.await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the gateway panicked: {e}")),
        };
        let _ = (self.closer)().await;
        r
    }
}

/// Alone on its database (it holds the lock), the gateway takes back at
/// once what its last run held when it died: the outbox rows it was
/// publishing, the messages it was handling and the notices it was
/// sending, which would otherwise wait for their claims and leases to run
/// out (a minute each, and the notice lease).
async fn take_back(db: &gw_storage::Db) -> anyhow::Result<()> {
    let outbox = gw_bus_sql::outbox::release_claims(db)
        .await
        .context("cannot free the last run's outbox rows")?;
    let messages = gw_bus_sql::EmbeddedTransport::release_leases(db)
        .await
        .context("cannot free the last run's messages")?;
    let notices = gw_storage::notices::release_sending(db.conn())
        .await
        .context("cannot free the last run's notices")?;
    if outbox + messages + notices > 0 {
        tracing::info!(
            outbox,
            messages,
            notices,
            "what the last run was handling when it stopped goes again now"
        );
    }
    Ok(())
}

/// Copies the database file `db` every `backup.every` into `backup.dir`
/// and keeps the last `backup.keep` copies. A copy that fails is logged
/// and tried at the next interval; the gateway goes on.
async fn backups(
    db: std::path::PathBuf,
    b: gw_config::BackupSettings,
    stop: tokio_util::sync::CancellationToken,
) {
    let dir = b.dir_for(&db);
    tracing::info!(dir = %dir.display(), every = ?b.every, keep = b.keep, "scheduled backups of the database");
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(b.every) => {}
        }
        let to = dir.join(gw_storage::backup::scheduled_name(chrono::Utc::now()));
        match gw_storage::backup::copy(&db, &to).await {
            Ok(summary) => {
                tracing::info!(file = %to.display(), %summary, "backup written");
                let copies = gw_storage::backup::scheduled_copies(&dir);
                let extra = copies.len().saturating_sub(b.keep);
                for old in copies.into_iter().take(extra) {
                    if let Err(e) = std::fs::remove_file(&old) {
                        tracing::warn!(file = %old.display(), error = %e, "cannot delete an old backup");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "the scheduled backup failed; will try again"),
        }
    }
}

/// The SQLite database file, when the database is one, with its directory
/// created.
pub(crate) fn data_file(settings: &Settings) -> anyhow::Result<Option<std::path::PathBuf>> {
    let file = sqlite_file(settings);
    if let Some(dir) = file
        .as_deref()
        .and_then(std::path::Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(file)
}

/// The SQLite database file, when the database is one.
pub(crate) fn sqlite_file(settings: &Settings) -> Option<std::path::PathBuf> {
    use gw_config::secrecy::ExposeSecret;
    gw_storage::backup::sqlite_file(settings.database.url.expose_secret())
}

/// Locks `<database>.lock` for as long as the file is kept: one embedded
/// gateway per database, so that it may take back at start what its last
/// run held. The operating system lets go of the lock when the process
/// ends, however it ends.
pub(crate) fn hold_database(db: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another gateway is running on {} (it holds {}): stop it, or give this one \
             another database.url",
            db.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}
