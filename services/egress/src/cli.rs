//! The `egress` command line: serve (the default), operate on notices, bench.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use gw_storage::notices::Filter;

use crate::admin::{Admin, NoticeView};

/// Delivers notices to the platform and serves file downloads.
#[derive(Parser, Debug)]
#[command(name = "egress", version, about)]
pub struct Cli {
    /// TOML configuration file (else $GW_CONFIG; env vars GW__* override it).
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Inspect and re-send notices (works directly on the database).
    Notices {
        #[command(subcommand)]
        command: NoticesCommand,
    },
    /// Measure delivery throughput and latency against a local sink.
    Bench(crate::bench::BenchArgs),
}

#[derive(Subcommand, Debug)]
pub enum NoticesCommand {
    /// List notices, newest first.
    List {
        /// pending, waiting, sending, retrying, delivered, dead, suppressed
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        applyno: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Print JSON (with every attempt) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one notice with its attempts.
    Show { id: String },
    /// Re-send a dead notice (the running egress delivers it).
    Resend { id: String },
}

/// Parses the command line and runs it.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(cli))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.or_else(gw_config::Settings::file_from_env);
    let settings = gw_config::Settings::load(file.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let _telemetry = gw_service::init_telemetry(&settings, "egress")?;
            crate::Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Notices { command } => {
            let db = gw_service::connect_db(&settings).await?;
            let admin = Admin::new(db.clone(), std::sync::Arc::new(tokio::sync::Notify::new()));
            let r = notices(&admin, command).await;
            db.close().await;
            r
        }
        Command::Bench(args) => crate::bench::run(settings, args).await,
    }
}

async fn notices(admin: &Admin, command: NoticesCommand) -> anyhow::Result<()> {
    match command {
        NoticesCommand::List {
            state,
            applyno,
            limit,
            json,
        } => {
            let list = admin
                .list(&Filter {
                    state,
                    applyno,
                    limit,
                })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&list);
            }
        }
        NoticesCommand::Show { id } => match admin.get(&id).await? {
            Some(v) => println!("{}", serde_json::to_string_pretty(&v)?),
            None => anyhow::bail!("no notice {id}"),
        },
        NoticesCommand::Resend { id } => {
            let v = admin.resend(&id).await?;
            println!(
                "re-sent {} ({} for {}); state {}",
                v.id, v.interface, v.applyno, v.state
            );
        }
    }
    Ok(())
}

fn print_table(list: &[NoticeView]) {
    println!(
        "{:<44} {:<20} {:<14} {:<10} {:>8}  last error",
        "id", "applyno", "interface", "state", "attempts"
    );
    for v in list {
        println!(
            "{:<44} {:<20} {:<14} {:<10} {:>8}  {}",
            v.id,
            v.applyno,
            v.interface,
            v.state,
            v.attempts,
            v.last_error.as_deref().unwrap_or("")
        );
    }
    println!("{} notice(s)", list.len());
}
