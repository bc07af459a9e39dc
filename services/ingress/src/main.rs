//! `ingress`: see the library for what it does.

use clap::{Parser, Subcommand};

/// The e-guarantee gateway's inbound HTTP service.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (else $GW_CONFIG; env vars GW__* override it).
    #[arg(long, short, global = true)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Measure payapply and baohanapply latency against the configured broker and database.
    Bench(ingress::bench::BenchArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = args.config.or_else(gw_config::Settings::file_from_env);
    let settings = gw_config::Settings::load(file.as_deref())?;
    match args.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let _telemetry = gw_service::init_telemetry(&settings, "ingress")?;
            ingress::Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Bench(a) => ingress::bench::run(settings, a).await,
    }
}
