//! Benchmarks: commands that print figures, never timed tests.
//!
//! ```sh
//! export GW__DATABASE__URL=postgres://postgres@127.0.0.1:5432/test GW__TELEMETRY__LOG_FILTER=warn
//! cargo run --release -p gw-tests --bin bench -- egress --notices 5000 [--rate 1000]
//! cargo run --release -p gw-tests --bin bench -- ingress --requests 5000
//! cargo run --release -p gw-tests --bin bench -- issuance --count 500
//! cargo run --release -p gw-tests --bin bench -- lifecycle --deployment services|embedded [--lifecycles 300] [--concurrency 32]
//! cargo run --release -p gw-tests --bin bench -- lifecycle --deployment embedded --restore-burst 1000
//! ```
//!
//! Each runs the real service in this process against the configured
//! RabbitMQ and database (`GW__*`, as a service reads them), under a fresh
//! queue prefix and schema that it removes afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod egress;
mod ingress;
mod issuance;
mod lifecycle;
mod machine;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmarks of the gateway's services")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Notices per second to a local sink; enqueue-to-delivery latency.
    Egress(egress::Args),
    /// payapply and baohanapply latency over HTTP.
    Ingress(ingress::Args),
    /// PDFs rendered and signed per second (no broker or database).
    Issuance(issuance::Args),
    /// Whole lifecycles against either deployment run as processes:
    /// lifecycles/s, every hop's p50/p99, CPU per lifecycle; or a restore burst.
    Lifecycle(Box<lifecycle::Args>),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        if let Ok(s) = stats::settings(&[]) {
            let _telemetry = gw_host::init_telemetry(&s, "bench");
            run(cli).await
        } else {
            run(cli).await
        }
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Egress(a) => egress::run(a).await,
        Command::Ingress(a) => ingress::run(a).await,
        Command::Issuance(a) => issuance::run(a),
        Command::Lifecycle(a) => lifecycle::run(*a).await,
    }
}
