//! `gateway`: every service in one process; see the library.

use clap::Parser;

/// The e-guarantee gateway in one process (SQLite and an embedded bus by default).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (else $GW_CONFIG; env vars GW__* override it).
    #[arg(long, short)]
    config: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = args.config.or_else(gw_config::Settings::file_from_env);
    let settings = gateway::settings(file.as_deref())?;
    gw_host::cli::block_on(async move {
        let _telemetry = gw_host::init_telemetry(&settings, "gateway")?;
        if settings.counterparts.is_empty() {
            tracing::warn!(
                "no platform configured: set GW__COUNTERPARTS__<NAME>__APPKEY, __APPSECRET and __NOTICE_BASE_URL"
            );
        }
        let g = gateway::Gateway::start(settings, gw_host::shutdown_on_signal()).await?;
        tracing::info!(port = g.port, ports = ?g.ports, "gateway running in one process");
        g.wait().await
    })
}
