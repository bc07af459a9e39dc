//! The `egress` command line: the shared commands (serve, the default;
//! migrate; healthcheck) and the notice commands operators use.

use clap::{Parser, Subcommand};
use gw_lifecycle::NoticeState;
use gw_storage::notices::Filter;

use crate::admin::{Admin, NoticeView};

/// Delivers notices to the platform and serves file downloads.
#[derive(Parser, Debug)]
#[command(name = "egress", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: gw_host::cli::Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    #[command(flatten)]
    Host(gw_host::cli::Command),
    /// Inspect and re-send notices (works directly on the database).
    Notices {
        #[command(subcommand)]
        command: NoticesCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum NoticesCommand {
    /// List notices, newest first.
    List {
        /// pending, waiting, sending, retrying, delivered, dead, suppressed
        #[arg(long)]
        state: Option<NoticeState>,
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
    gw_host::cli::block_on(run(Cli::parse()))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.global.settings()?;
    match cli
        .command
        .unwrap_or(Command::Host(gw_host::cli::Command::Serve))
    {
        Command::Host(c) => gw_host::cli::run(settings, c, &crate::Egress).await,
        Command::Notices { command } => {
            let db = gw_host::connect_db(&settings).await?;
            // No relay runs here: the re-sent notice waits in the outbox for
            // the running egress's relay to publish it.
            let admin = Admin::new(
                gw_workflow::Workflow::deferred(db.clone()),
                settings.egress.stuck_after(),
            );
            let r = notices(&admin, command).await;
            db.close().await;
            r
        }
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
            let v = admin
                .resend(&id, &gw_storage::operations::Actor::cli())
                .await?;
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
            v.state.as_str(),
            v.attempts,
            v.last_error.as_deref().unwrap_or("")
        );
    }
    println!("{} notice(s)", list.len());
}
