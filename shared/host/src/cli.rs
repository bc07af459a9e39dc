//! The command line every service binary shares:
//!
//! * `serve` (the default): run the service until SIGTERM;
//! * `migrate`: apply the database migrations and exit;
//! * `healthcheck`: ask the running service's `/healthz` (for container
//!   health checks: the image has no curl) and exit 0 when it answers;
//! * `dlq list|show|replay`: the dead letters (see [`crate::dlq`]).
//!
//! A binary with commands of its own (egress) flattens [`Command`] into
//! its own subcommands and calls [`run`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use gw_config::Settings;

use crate::{Application, Service};

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// TOML configuration file (else $GW_CONFIG; env vars GW__* override it).
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
}

impl Global {
    /// The settings: defaults, then the file, then `GW__*`.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let file = self.config.clone().or_else(Settings::file_from_env);
        Ok(Settings::load(file.as_deref())?)
    }
}

/// The commands every service has.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply the database migrations, then exit.
    Migrate,
    /// Exit 0 if the running service answers /healthz within 3 seconds.
    Healthcheck,
    /// Dead letters: list, show and replay (straight on the database and
    /// the broker; the running service need not be up).
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

/// The dead-letter commands.
#[derive(Subcommand, Debug, Clone)]
pub enum DlqCommand {
    /// Dead letters not yet replayed (with --all, every one), oldest first.
    List {
        /// A queue (`payment.confirmations`) or `event:<key>`.
        #[arg(long)]
        queue: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One dead letter, with its masked payload and last error.
    Show { id: String },
    /// Publish a dead letter again (or, with --all, every open one of
    /// --queue, or of every queue).
    Replay {
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
        #[arg(long)]
        queue: Option<String>,
    },
}

#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

/// `main` of a service binary.
pub fn main(service: &dyn Service) -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.global.settings()?;
    block_on(run(
        settings,
        cli.command.unwrap_or(Command::Serve),
        service,
    ))
}

/// Runs `future` on a new multi-threaded runtime.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    future: F,
) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(future)
}

/// Runs one of the shared commands for `service`.
pub async fn run(
    settings: Settings,
    command: Command,
    service: &dyn Service,
) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let _telemetry = crate::init_telemetry(&settings, service.name())?;
            Application::build(settings, &[service])
                .await?
                .run_until_stopped()
                .await
        }
        Command::Migrate => {
            let db = crate::migrate_db(&settings).await?;
            db.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Dlq { command } => dlq(settings, command, service.name()).await,
        Command::Healthcheck => {
            let addr = service
                .admin_listen(&settings)
                .or_else(|| service.public_listen(&settings))
                .map(|(a, _)| a)
                .ok_or_else(|| anyhow::anyhow!("{} listens nowhere", service.name()))?;
            healthcheck(addr).await
        }
    }
}

/// `GET /healthz` on `addr` (an unspecified address means this host).
pub async fn healthcheck(mut addr: std::net::SocketAddr) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(3), ask)
        .await
        .map_err(|_| anyhow::anyhow!("no answer from {addr} within 3s"))??;
    let status = String::from_utf8_lossy(&reply);
    if status.starts_with("HTTP/1.0 200") || status.starts_with("HTTP/1.1 200") {
        println!("healthy");
        Ok(())
    } else {
        anyhow::bail!(
            "{addr} answered {}",
            status.lines().next().unwrap_or("nothing")
        )
    }
}

async fn dlq(settings: Settings, command: DlqCommand, name: &str) -> anyhow::Result<()> {
    use crate::dlq::{DeadLetters, destination_of};
    use gw_storage::dead_letters::Filter;
    let (bus, db) = crate::connect(&settings, &format!("{name}-dlq")).await?;
    let d = DeadLetters {
        db: db.clone(),
        bus: bus.clone(),
        service: name.to_owned(),
    };
    let by = gw_storage::operations::Actor::cli();
    let done = async {
        match command {
            DlqCommand::List {
                queue,
                all,
                limit,
                json,
            } => {
                let f = Filter {
                    destination: queue.as_deref().map(destination_of),
                    include_replayed: all,
                    limit,
                };
                let rows = d.list(&f).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                } else {
                    println!(
                        "{:<36}  {:<25}  {:<34}  {:>6}  {:<20}  error",
                        "id", "failed at", "destination", "deaths", "applyno"
                    );
                    for r in &rows {
                        println!(
                            "{:<36}  {:<25}  {:<34}  {:>6}  {:<20}  {}{}",
                            r.id,
                            r.failed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                            r.destination,
                            r.deaths,
                            r.applyno.as_deref().unwrap_or("-"),
                            r.error,
                            r.replayed_at
                                .map(|t| format!(" (replayed {t})"))
                                .unwrap_or_default(),
                        );
                    }
                    println!("{} dead letter(s)", rows.len());
                }
            }
            DlqCommand::Show { id } => match d.show(&id).await? {
                Some(v) => println!("{}", serde_json::to_string_pretty(&v)?),
                None => anyhow::bail!("no dead letter {id}"),
            },
            DlqCommand::Replay { id: Some(id), .. } => {
                let v = d.replay(&id, &by).await?;
                println!("replayed {} ({} to {})", v.id, v.message_id, v.destination);
            }
            DlqCommand::Replay {
                id: None, queue, ..
            } => {
                let f = Filter {
                    destination: queue.as_deref().map(destination_of),
                    include_replayed: false,
                    limit: 10_000,
                };
                let n = d.replay_all(&f, &by).await?;
                println!("replayed {n} dead letter(s)");
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    let r = done.await;
    bus.close().await;
    db.close().await;
    r
}
