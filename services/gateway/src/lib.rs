//! Every service in one process (the embedded default).
//!
//! With no configuration the gateway uses SQLite (`gateway-data/gateway.db`)
//! and the bus in the database (`amqp.url = "embedded"`), so it runs on a
//! bare machine: `cargo run`. Every public route (the inbound API, `/files`,
//! `/cashier`, `/verify`, health) is served on `ingress.listen`; the admin
//! APIs keep their own ports. Point `database.url` at PostgreSQL and
//! `amqp.url` at RabbitMQ to share the work with separately run services.

use gw_config::Settings;
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
sandbox = true

[issuance]
listen = "127.0.0.1:0"

[telemetry]
log_format = "pretty"
"#;

/// Loads the gateway's settings: defaults, the gateway's defaults, the file, `GW__*`.
pub fn settings(file: Option<&std::path::Path>) -> anyhow::Result<Settings> {
    Ok(Settings::load_layers(DEFAULTS, file, None)?)
}

/// A running gateway.
pub struct Gateway {
    pub port: u16,
    pub admin_ports: AdminPorts,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    bus: gw_service::Shutdown,
    closer: Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send>,
}

#[derive(Debug, Clone, Copy)]
pub struct AdminPorts {
    pub egress: u16,
    pub underwriting: u16,
    pub payment: u16,
}

impl Gateway {
    /// Builds every service on one bus and one database and starts them.
    pub async fn start(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        if let Some(dir) = sqlite_dir(&settings) {
            std::fs::create_dir_all(&dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        let (bus, db) = gw_service::connect(&settings, "gateway").await?;
        let underwriting =
            underwriting::Application::build_with(settings.clone(), bus.clone(), db.clone())
                .await?;
        let payment =
            payment::Application::build_with(settings.clone(), bus.clone(), db.clone()).await?;
        let issuance =
            issuance::Application::build_with(settings.clone(), bus.clone(), db.clone()).await?;
        let egress =
            egress::Application::build_with(settings.clone(), bus.clone(), db.clone()).await?;
        let public = egress
            .public_router()
            .merge(payment.public_router())
            .merge(issuance.public_router());
        let ingress = ingress::Application::build_with(settings.clone(), bus.clone(), db.clone())
            .await?
            .merge(public);
        let port = ingress.port();
        let admin_ports = AdminPorts {
            egress: egress.admin_port(),
            underwriting: underwriting.admin_port(),
            payment: payment.admin_port(),
        };
        let tasks = vec![
            tokio::spawn(underwriting.run_until(shutdown.clone())),
            tokio::spawn(payment.run_until(shutdown.clone())),
            tokio::spawn(issuance.run_until(shutdown.clone())),
            tokio::spawn(egress.run_until(shutdown.clone())),
            tokio::spawn(ingress.run_until(shutdown.clone())),
        ];
        let closer = Box::new(move || {
            tokio::spawn(async move {
                bus.close().await;
                db.close().await;
            })
        });
        Ok(Self {
            port,
            admin_ports,
            tasks,
            bus: shutdown,
            closer,
        })
    }

    /// Waits until every service has stopped, then closes the shared connections.
    pub async fn wait(self) -> anyhow::Result<()> {
        let r = gw_service::join_all(self.tasks).await;
        let _ = (self.closer)().await;
        drop(self.bus);
        r
    }
}

fn sqlite_dir(settings: &Settings) -> Option<std::path::PathBuf> {
    use gw_config::secrecy::ExposeSecret;
    let url = settings.database.url.expose_secret();
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| p.to_path_buf())
}
