//! `underwriting`: see the library for what it does.

use clap::Parser;

/// Underwrites bid guarantee applications.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (else $GW_CONFIG; env vars GW__* override it).
    #[arg(long, short)]
    config: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = args.config.or_else(gw_config::Settings::file_from_env);
    let settings = gw_config::Settings::load(file.as_deref())?;
    let _telemetry = gw_service::init_telemetry(&settings, "underwriting")?;
    underwriting::Application::build(settings)
        .await?
        .run_until_stopped()
        .await
}
