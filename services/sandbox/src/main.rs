//! `sandbox`: the sandbox platform as a process.
//!
//! - `sandbox --listen 0.0.0.0:8090` receives and checks notices and serves
//!   evidence files until stopped (the compose profile `sandbox`, an
//!   integration environment);
//! - `sandbox --gateway URL ...` also drives the demo stories through a
//!   deployed gateway (whose counterpart points its notices at `--listen`)
//!   and, with `--report DIR`, the whole acceptance rehearsal; it exits
//!   non-zero if anything is off.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

/// A stand-in for the Hunan e-guarantee receiving system.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Where the platform receives notices and serves evidence files.
    #[arg(long, env = "SANDBOX_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The appkey the gateway's counterpart uses.
    #[arg(long, env = "SANDBOX_APPKEY")]
    appkey: String,
    /// The 16-character SM4 key the gateway's counterpart uses.
    #[arg(long, env = "SANDBOX_APPSECRET", hide_env_values = true)]
    appsecret: String,
    /// The gateway's inbound base URL: run the demo stories against it.
    #[arg(long)]
    gateway: Option<String>,
    /// Where the cashier pages are reachable from here, if not at the
    /// `premiumurl` the gateway gives.
    #[arg(long)]
    cashier: Option<String>,
    /// Where `/verify/file` is served (default: the gateway URL).
    #[arg(long)]
    verify: Option<String>,
    /// How long one step may wait for its answer or notice.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    patience: Duration,
    /// Run the whole acceptance rehearsal and write its report here.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
    /// Applications in the rehearsal's load phase.
    #[arg(long, default_value_t = 200)]
    load: usize,
    /// How long the platform stays down in the rehearsal's fault phase.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    down_for: Duration,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    tokio::runtime::Runtime::new()?.block_on(run(a))
}

async fn run(a: Args) -> anyhow::Result<()> {
    let creds = sandbox::Credentials::new(&a.appkey, &a.appsecret)?;
    let platform = Arc::new(sandbox::strict_platform(a.listen, creds).await?);
    println!(
        "sandbox platform: notices at {}/v1/gua/tb/<notice>, evidence files at {}/files/<name>",
        platform.base_url, platform.base_url
    );
    platform.serve_file(
        "evidence.pdf",
        "%PDF-1.4 理赔材料：投标人中标后无正当理由放弃中标".as_bytes(),
    );
    let Some(gateway) = a.gateway else {
        println!("waiting for notices; Ctrl-C or SIGTERM stops");
        shutdown().await;
        return Ok(());
    };
    let plan = a.report.as_deref().map(|dir| {
        let mut plan = sandbox::report::plan(a.verify.as_deref().unwrap_or(&gateway), a.patience);
        plan.load = a.load;
        plan.down_for = a.down_for;
        (dir, plan)
    });
    let out = sandbox::run(platform, &gateway, a.cashier, a.patience, plan).await?;
    println!("{}", out.text);
    anyhow::ensure!(out.passed, "the gateway did not pass (see above)");
    Ok(())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
